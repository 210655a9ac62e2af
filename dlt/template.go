package dlt

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Template is a registered content template (CT). Text is the text as registered on the DLT
// portal, with a placeholder for every variable part: {#var#} for free text, or one of the
// typed tags {#numeric#} (alias {#number#}), {#alphanumeric#}, {#url#}, {#urlott#},
// {#cbn#} and {#email#} introduced by TRAI's variable pre-tagging direction (Nov 2025).
//
// A *Template obtained from a Registry is compiled and shared between goroutines: treat it as
// read-only. A Template built by hand can be matched directly (it is compiled on each call) or
// compiled once with Compile.
type Template struct {
	ID       string   // CT ID, digits (usually 19)
	EntityID string   // PE ID of the principal entity that registered it
	Name     string   // the portal's template name; informational
	Category Category // decides the header type and the send window
	Headers  []string // headers the template is registered with; empty means any header of the entity
	Text     string

	prog *program
}

// VarKind is the type of one template variable.
type VarKind uint8

// Variable kinds, one per placeholder tag.
const (
	VarAny          VarKind = iota // {#var#}: any text, may be empty
	VarNumeric                     // {#numeric#} or {#number#}: ASCII digits
	VarAlphanumeric                // {#alphanumeric#}: ASCII letters and digits
	VarURL                         // {#url#}: http(s):// or www. link, whitelisted if the entity has a whitelist
	VarURLOTT                      // {#urlott#}: OTT/app link, same rules as VarURL
	VarCBN                         // {#cbn#}: callback number, digits with an optional leading +
	VarEmail                       // {#email#}: an e-mail address
)

var varKindTags = [...]string{"var", "numeric", "alphanumeric", "url", "urlott", "cbn", "email"}

// String returns the placeholder as written in template text, e.g. "{#numeric#}".
func (k VarKind) String() string {
	if int(k) < len(varKindTags) {
		return "{#" + varKindTags[k] + "#}"
	}
	return fmt.Sprintf("VarKind(%d)", int(k))
}

var placeholderKinds = map[string]VarKind{
	"var":          VarAny,
	"numeric":      VarNumeric,
	"number":       VarNumeric,
	"alphanumeric": VarAlphanumeric,
	"url":          VarURL,
	"urlott":       VarURLOTT,
	"cbn":          VarCBN,
	"email":        VarEmail,
}

// segment is one piece of a compiled template: fixed text, or a variable slot.
type segment struct {
	lit   string  // fixed text with every whitespace run collapsed to one ASCII space
	isVar bool    // a variable slot (lit is empty)
	kind  VarKind // the slot's kind
}

// program is a compiled template: alternating literal segments and variable slots, plus
// what the content index needs.
type program struct {
	segs     []segment
	kinds    []VarKind // kind of each variable, in order
	litRunes int       // runes of fixed text, a measure of how specific the template is
	anchors  []string  // words of fixed text that must appear as whole words in any match
}

// Compile parses t.Text and keeps the compiled form in t, so that later Match calls do not
// compile again. It reports unknown placeholders and empty templates.
func (t *Template) Compile() error {
	p, err := compile(t.Text)
	if err != nil {
		return fmt.Errorf("dlt: template %s: %w", t.ID, err)
	}
	t.prog = p
	return nil
}

// Vars returns the kind of each variable in the template, in order.
func (t *Template) Vars() ([]VarKind, error) {
	p, err := t.program()
	if err != nil {
		return nil, err
	}
	return append([]VarKind(nil), p.kinds...), nil
}

func (t *Template) program() (*program, error) {
	if t.prog != nil {
		return t.prog, nil
	}
	p, err := compile(t.Text)
	if err != nil {
		return nil, fmt.Errorf("dlt: template %s: %w", t.ID, err)
	}
	return p, nil
}

// compile splits text into literal segments and variable slots. Leading and trailing
// whitespace is dropped and every inner whitespace run becomes one space (see the package
// documentation for why). A "{#" that is not followed by a tag name and "#}" is ordinary text;
// a well-formed placeholder with an unknown name is an error, since the operator would not
// accept such a template either.
func compile(text string) (*program, error) {
	text = strings.TrimFunc(text, unicode.IsSpace)
	if text == "" {
		return nil, fmt.Errorf("template text is empty")
	}
	p := &program{}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			p.segs = append(p.segs, segment{lit: lit.String()})
			lit.Reset()
		}
	}
	inSpace := false
	for i := 0; i < len(text); {
		if strings.HasPrefix(text[i:], "{#") {
			if name, n, ok := placeholderAt(text[i:]); ok {
				kind, known := placeholderKinds[strings.ToLower(name)]
				if !known {
					return nil, fmt.Errorf("unknown placeholder %s at character %d (want {#var#}, {#numeric#}, {#alphanumeric#}, {#url#}, {#urlott#}, {#cbn#} or {#email#})",
						text[i:i+n], utf8.RuneCountInString(text[:i])+1)
				}
				if inSpace {
					lit.WriteByte(' ')
					p.litRunes++
					inSpace = false
				}
				flush()
				p.segs = append(p.segs, segment{isVar: true, kind: kind})
				p.kinds = append(p.kinds, kind)
				i += n
				continue
			}
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		i += size
		if unicode.IsSpace(r) {
			inSpace = true
			continue
		}
		if inSpace {
			lit.WriteByte(' ')
			p.litRunes++
			inSpace = false
		}
		lit.WriteRune(r)
		p.litRunes++
	}
	flush()
	p.anchors = anchorWords(p.segs)
	return p, nil
}

// placeholderAt reports whether s starts with "{#name#}" where name is 1–20 ASCII letters,
// optionally padded with spaces, and returns the name and the placeholder's length in bytes.
func placeholderAt(s string) (name string, n int, ok bool) {
	end := strings.Index(s, "#}")
	if end < 2 || end > 26 {
		return "", 0, false
	}
	name = strings.TrimSpace(s[2:end])
	if name == "" || len(name) > 20 {
		return "", 0, false
	}
	for i := 0; i < len(name); i++ {
		c := name[i] | 0x20
		if c < 'a' || c > 'z' {
			return "", 0, false
		}
	}
	return name, end + 2, true
}

// anchorWords returns the words of fixed text that any matching message contains as whole,
// whitespace-delimited words: words inside a literal segment with whitespace (or the start
// or end of the template) on both sides. A word glued to a variable ("Rs.{#numeric#}") is not
// one, because in the message it runs into the variable's value.
func anchorWords(segs []segment) []string {
	var out []string
	for i, sg := range segs {
		if sg.isVar {
			continue
		}
		words := strings.Split(sg.lit, " ")
		for j, w := range words {
			if w == "" {
				continue
			}
			if j == 0 && i != 0 {
				continue // glued to the variable before it
			}
			if j == len(words)-1 && i != len(segs)-1 {
				continue // glued to the variable after it
			}
			out = append(out, w)
		}
	}
	return out
}

// DefaultMaxVarLen is the longest value a variable may take, in characters (Unicode code
// points, so Hindi and English count alike): 30 per msg91's and localmail's DLT FAQs
// (dlt-smpp.md §4).
const DefaultMaxVarLen = 30

// MatchOptions tune template matching. The zero value applies the DLT defaults.
type MatchOptions struct {
	// MaxVarLen is the longest value a variable may take, counted in runes.
	// 0 means DefaultMaxVarLen (30); a negative value removes the limit.
	MaxVarLen int

	// URLWhitelist, if not empty, lists the links {#url#} and {#urlott#} values must match:
	// a bare domain ("acme.in") admits that host and its subdomains; an entry with a path or
	// query ("https://acme.in/track?") admits links on exactly that host whose path starts
	// with the entry's (trailing '*'s, as in the portal's "https://e.1rp.in/HEADER/**", are
	// dropped). Scheme and host compare case-insensitively, the path exactly.
	// Registry methods use the entity's whitelist when this is nil.
	URLWhitelist []string

	// budget caps matching work; 0 means defaultBudget. Unexported: tests lower it.
	budget int
}

func (o MatchOptions) maxLen() int {
	switch {
	case o.MaxVarLen == 0:
		return DefaultMaxVarLen
	case o.MaxVarLen < 0:
		return int(^uint(0) >> 1)
	}
	return o.MaxVarLen
}

// Match checks text against the template and returns the variable values, one per
// placeholder in order. On failure the error is a *Violation: TEMPLATE_NOT_MATCHED (633)
// naming where the fixed text differs, TEMPLATE_VARIABLE_EXCEEDED_MAX_LENGTH (635), or
// URL_CTA_NOT_MATCHED (701) for a link outside the whitelist. The rules (case, whitespace,
// empty variables, ambiguous splits) are in the package documentation.
func (t *Template) Match(text string, opt MatchOptions) ([]string, error) {
	p, err := t.program()
	if err != nil {
		return nil, err
	}
	vars, v := p.match(t.ID, text, opt)
	if v != nil {
		return nil, v
	}
	return vars, nil
}
