// Package dlt is smppd's compliance engine for India's DLT rules (TRAI TCCCPR 2018): the
// registry of principal entities, headers, content templates and PE→TM chains; matching of
// message text against templates; the checks an operator's scrubber applies to each SMS;
// the PE-TM chain hash; and the DLT error codes.
//
// The daemon uses it to refuse a message before accepting it, and the SMSC simulator
// (smsc) uses the same code to scrub traffic the way Indian operators do, so the two
// cannot drift apart. The package imports no other smppd package. The research behind the
// rules is in reference/dlt-smpp.md; sections are cited as "dlt-smpp.md §n".
//
// # Registry
//
// A Registry is filled with AddEntity, AddHeader, AddTemplate and AddChain, from a YAML file
// (LoadYAML) or from a portal's CSV export (LoadTemplatesCSV). Adding validates and compiles,
// so a registry never holds a template it cannot match; every error names the item. Reads
// are safe from many goroutines.
//
// # Template matching
//
// A template's text is compiled into fixed-text segments and variable slots. Matching a
// message scans left to right with a memoised backtracking search, which is needed because
// a variable's value may contain the fixed text that follows it ("Order {#var#} is ready"
// against "Order is ready is ready"). Each (segment, position) state is explored once and a
// step budget caps the work, so no template can make matching slow. The rules, chosen to
// follow what operators' template regexes accept (dlt-smpp.md §4) while tolerating what
// senders' software does to whitespace:
//
//   - Fixed text is matched exactly and case-sensitively. "your otp" does not match
//     "Your OTP"; operators compile templates into regexes with the static text literal.
//   - Whitespace is lenient. Every run of whitespace in the template matches any run of one
//     or more whitespace characters in the message: spaces, tabs, CR, LF, NBSP and the other
//     Unicode spaces, so "\r\n" in a portal export matches a single space and vice versa.
//     Whitespace at the start and end of the template and of the message is ignored. Where
//     the template has no whitespace the message must have none either.
//   - A variable's value is the message text at its place, whitespace included, counted in
//     runes (Unicode code points; a Devanagari vowel sign is one) against
//     MatchOptions.MaxVarLen, 30 by default ("30 characters per variable, English or
//     Unicode", dlt-smpp.md §4).
//   - {#var#} may be empty (DLT allows 0 to 30 characters). A whitespace run of the template
//     may then match nothing where the message already has whitespace just before it, or at
//     the start or end of the message, so "Dear  , hi" and "Dear , hi" both match
//     "Dear {#var#} , hi". Typed variables may not be empty.
//   - Typed variables ({#numeric#} and so on, TRAI's Nov 2025 pre-tagging) are validated:
//     numeric is ASCII digits; alphanumeric ASCII letters and digits; cbn 3–15 digits with
//     an optional leading +; email a name@domain.tld shape; url and urlott an http://,
//     https:// or www. link with a valid host, and, if a whitelist applies (the entity's, or
//     MatchOptions.URLWhitelist), a link on it. A wrong value makes the whole template not
//     match (633), except a link off the whitelist (701) and an over-long value (635).
//   - When several splits of the text fit, earlier variables take the shortest values.
//
// Registry.MatchContent identifies the template of a message sent without a CT ID. Each
// entity's templates are indexed by the rarest whole words of their fixed text, so the time
// to identify a template does not grow with the number of templates: with 10,000 templates
// for one entity it is a few microseconds (BenchmarkMatchContent10k). The index is rebuilt
// on the first match after templates are added.
//
// Fill and FillOTP go the other way, from a template and values to the text to send, reading
// placeholders with the same grammar as the matcher, so a filled text matches its template.
//
// # Checks
//
// Registry.Check runs the operator's scrub on one Message and returns a *Violation carrying
// the DLT code and a reason a person can act on. InSendWindow holds the promotional window
// (10:00–21:00 IST) and NextSendTime is the one rule for when a windowed message may go out,
// asked at accept (api), at Submit (dispatch) and just before sending (the carrier). IST is
// India's zone for every caller that needs it, smpp receipt dates included. ChainHash computes the PE-TM chain hash of TRAI's 20 Aug 2024 direction.
//
// Later layers add storage, per-carrier TLV tags and code tables, and the daemon-side
// policies on top of this package.
package dlt
