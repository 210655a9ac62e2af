package shortlink

import (
	"crypto/rand"
	"strings"
	"unicode/utf8"
)

// CodeLength is the length of a link's code: 10 base62 characters from crypto/rand,
// 62^10 ≈ 8.4·10^17 (59.5 bits). A code names one recipient of one message, so guessing one
// would both read where a message pointed and forge a click in someone's name. With a
// hundred million live links (90 days of a large sender) a guess hits one in 8.4·10^9
// tries: 97 days of an attacker's 1,000 requests a second, each miss a 404 counted in
// smppd_shortlink_redirects_total{result="unknown"} (alert on it). Longer codes would not
// fit: DLT caps a template variable at 30 characters, and the whole short link is one
// {#url#} value (2Factor's https://e.1rp.in/TFACTR/h6fgsf is exactly 30).
const CodeLength = 10

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// NewCode returns a random code of CodeLength base62 characters. Bytes ≥ 248 are drawn
// again, so each character is uniform (248 = 4·62).
func NewCode() string {
	var out [CodeLength]byte
	var buf [32]byte
	n := 0
	for n < CodeLength {
		_, _ = rand.Read(buf[:])
		for _, b := range buf {
			if b >= 248 {
				continue
			}
			out[n] = base62[b%62]
			n++
			if n == CodeLength {
				break
			}
		}
	}
	return string(out[:])
}

// ValidCode reports whether s could be a code: base62, 6 to 32 characters (codes of other
// lengths are accepted so that CodeLength may change without breaking live links).
func ValidCode(s string) bool {
	if len(s) < 6 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(base62, s[i]) < 0 {
			return false
		}
	}
	return true
}

// Span is one URL in a text: text[Start:End].
type Span struct{ Start, End int }

// trailing is the punctuation that ends a sentence or encloses a link, never the end of the
// link itself: "Pay at https://x.in/p." keeps its full stop outside.
const trailing = ".,;:!?)]}'\"”’>"

// FindURLs returns the URLs of text, in order: runs starting with http://, https:// or www.
// (case-insensitive) at the start of the text or after a character that is not a letter,
// digit or one of . - _ / @, and ending at whitespace; trailing punctuation (see trailing)
// is left out, except a ')' closing a '(' inside the link. A run whose host is empty is not
// a URL.
func FindURLs(text string) []Span {
	var out []Span
	for i := 0; i < len(text); {
		j := indexStart(text, i)
		if j < 0 {
			break
		}
		end := j
		for end < len(text) {
			r, size := utf8.DecodeRuneInString(text[end:])
			if isSpace(r) {
				break
			}
			end += size
		}
		end = trimTrailing(text[j:end]) + j
		if validLink(text[j:end]) {
			out = append(out, Span{j, end})
			i = end
			continue
		}
		i = j + 1
	}
	return out
}

// indexStart finds the next link start at or after i.
func indexStart(text string, i int) int {
	for k := i; k < len(text); k++ {
		c := text[k] | 0x20
		if c != 'h' && c != 'w' {
			continue
		}
		rest := text[k:]
		if !hasPrefixFold(rest, "http://") && !hasPrefixFold(rest, "https://") && !hasPrefixFold(rest, "www.") {
			continue
		}
		if k > 0 {
			p, _ := utf8.DecodeLastRuneInString(text[:k])
			if isWordRune(p) {
				continue
			}
		}
		return k
	}
	return -1
}

func isWordRune(r rune) bool {
	return r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '.' || r == '-' || r == '_' || r == '/' || r == '@' ||
		r >= utf8.RuneSelf && !isSpace(r) && !strings.ContainsRune(trailing+"(“‘«", r)
}

func isSpace(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\r', '\v', '\f', 0x85, 0xA0, 0x2028, 0x2029, 0x3000:
		return true
	}
	return r >= 0x2000 && r <= 0x200A
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// trimTrailing returns the length of u without its trailing punctuation.
func trimTrailing(u string) int {
	for len(u) > 0 {
		r, size := utf8.DecodeLastRuneInString(u)
		if !strings.ContainsRune(trailing, r) {
			break
		}
		if r == ')' && strings.Count(u, "(") >= strings.Count(u, ")") {
			break
		}
		u = u[:len(u)-size]
	}
	return len(u)
}

// validLink reports whether u has a host: after the scheme (or at the www.), a non-empty
// run up to / ? # that contains a dot or is a bracketed address, or a www. link with
// something after the "www.".
func validLink(u string) bool {
	rest := u
	switch {
	case hasPrefixFold(rest, "https://"):
		rest = rest[8:]
	case hasPrefixFold(rest, "http://"):
		rest = rest[7:]
	case hasPrefixFold(rest, "www."):
		if len(rest) == 4 {
			return false
		}
	}
	host := rest
	if k := strings.IndexAny(rest, "/?#"); k >= 0 {
		host = rest[:k]
	}
	if at := strings.LastIndexByte(host, '@'); at >= 0 {
		host = host[at+1:]
	}
	if host == "" || host[0] == '.' || host[0] == '-' || host[0] == ':' {
		return false
	}
	return strings.Contains(host, ".") || strings.HasPrefix(host, "[") || strings.EqualFold(strings.SplitN(host, ":", 2)[0], "localhost")
}

// Target is where a link found in a text redirects: the link itself, with http:// in front
// of a www. link (a browser would add it too).
func Target(u string) string {
	if hasPrefixFold(u, "www.") {
		return "http://" + u
	}
	return u
}

// Rewrite replaces every URL of text (FindURLs) that short does not decline by what short
// returns for it, and returns the new text and how many it replaced. short gets each URL
// as written; it declines one by returning "" (a link already on the short domain, say).
func Rewrite(text string, short func(u string) string) (string, int) {
	spans := FindURLs(text)
	if len(spans) == 0 {
		return text, 0
	}
	var b strings.Builder
	b.Grow(len(text))
	last, n := 0, 0
	for _, sp := range spans {
		s := short(text[sp.Start:sp.End])
		if s == "" {
			continue
		}
		b.WriteString(text[last:sp.Start])
		b.WriteString(s)
		last = sp.End
		n++
	}
	b.WriteString(text[last:])
	return b.String(), n
}
