// Package text converts between Go strings and the octets carried in the
// short_message and message_payload fields of SMPP 3.4 PDUs, and splits long
// texts into concatenated SMS parts.
//
// The package exists because silent text corruption is the worst failure an
// SMS gateway can have: the subscriber receives garbage, the operator bills
// for it, and nobody notices. Every function here therefore either produces
// octets that decode back to exactly the input or returns a typed error; there
// is no fallback character, no "best effort" transliteration and no pass-through
// of UTF-8 bytes under a 7-bit data_coding. (The one exception is mandated by
// TS 23.038: packed GSM7 text ending in <CR> on an octet boundary decodes with
// that <CR> doubled; see AppendGSM7Packed.)
//
// Supported encodings:
//
//   - GSM 03.38 (3GPP TS 23.038) default alphabet plus the basic extension
//     table, both unpacked (one septet per octet, what SMSCs usually expect
//     for data_coding 0) and 7-bit packed, including the <CR> padding rule and
//     fill bits after a User Data Header.
//   - UCS-2, which on the wire is really UTF-16BE: characters outside the Basic
//     Multilingual Plane (emoji) are sent as surrogate pairs.
//   - ISO-8859-1 (Latin-1, data_coding 3).
//
// Long messages are split by [Split] using one of the concatenation methods of
// [Concat]. Parts never end in the middle of a character, a UTF-16 surrogate
// pair or a GSM escape sequence, so every part decodes on its own. [Count]
// reports the same part layout without encoding, for length calculators and
// pricing.
//
// Lengths are counted in the unit each encoding is billed in: septets for GSM7
// (an extension character such as '€' costs two), UTF-16 code units for UCS-2
// (an emoji costs two) and octets for Latin-1.
//
// National language shift tables (e.g. the Hindi locking shift table of
// TS 23.038 Annex A) are not supported: Devanagari is sent as UCS-2.
package text
