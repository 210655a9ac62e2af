package dlt

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// kindAllows reports whether r may be the n-th rune (0-based) of a value of kind k. It is a
// necessary condition only (checked as the search extends a value); validValue has the
// final say.
func kindAllows(k VarKind, r rune, n int) bool {
	switch k {
	case VarNumeric:
		return isDigit(r)
	case VarAlphanumeric:
		return isDigit(r) || isASCIILetter(r)
	case VarCBN:
		return isDigit(r) || (r == '+' && n == 0)
	case VarURL, VarURLOTT, VarEmail:
		return !isSpaceRune(r)
	}
	return true
}

// validValue reports whether v is an acceptable value of kind k (length is checked by the
// caller). Only {#var#} may be empty: an empty number, link or address is not a value.
func validValue(k VarKind, v string, wl []string) bool {
	switch k {
	case VarAny:
		return true
	case VarNumeric:
		return v != "" && allASCII(v, isDigit)
	case VarAlphanumeric:
		return v != "" && allASCII(v, func(r rune) bool { return isDigit(r) || isASCIILetter(r) })
	case VarCBN:
		return validCBN(v)
	case VarEmail:
		return validEmail(v)
	case VarURL, VarURLOTT:
		return validURL(v) && (len(wl) == 0 || whitelisted(v, wl))
	}
	return false
}

// valueProblem says what is wrong with v as a value of kind k: the code and a phrase that
// completes "variable N ...". It returns code 0 if nothing is.
func valueProblem(k VarKind, v string, maxLen int, wl []string) (Code, string) {
	if n := utf8.RuneCountInString(v); n > maxLen {
		return CodeTemplateVariableTooLong, fmt.Sprintf("is %d characters, template allows %d", n, maxLen)
	}
	if validValue(k, v, nil) {
		if (k == VarURL || k == VarURLOTT) && len(wl) > 0 && !whitelisted(v, wl) {
			return CodeURLCTANotMatched, fmt.Sprintf("(%s) %q is not on the entity's URL whitelist", k, v)
		}
		return 0, ""
	}
	if v == "" {
		return CodeTemplateNotMatched, fmt.Sprintf("(%s) is empty", k)
	}
	var want string
	switch k {
	case VarNumeric:
		want = "digits 0-9 only"
	case VarAlphanumeric:
		want = "letters A-Z, a-z and digits only"
	case VarCBN:
		want = "a callback number: 3 to 15 digits with an optional leading +"
	case VarEmail:
		want = "an e-mail address like name@example.com"
	case VarURL, VarURLOTT:
		want = "a link starting with http://, https:// or www. followed by a host name"
	}
	return CodeTemplateNotMatched, fmt.Sprintf("(%s) must be %s, got %q", k, want, clip(v, 40))
}

func isDigit(r rune) bool       { return r >= '0' && r <= '9' }
func isASCIILetter(r rune) bool { return (r|0x20) >= 'a' && (r|0x20) <= 'z' }

func isSpaceRune(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\r', '\v', '\f':
		return true
	}
	return r >= utf8.RuneSelf && unicode.IsSpace(r)
}

func allASCII(s string, ok func(rune) bool) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf || !ok(rune(s[i])) {
			return false
		}
	}
	return true
}

func validCBN(v string) bool {
	d := strings.TrimPrefix(v, "+")
	return len(d) >= 3 && len(d) <= 15 && allASCII(d, isDigit)
}

// validEmail is a practical shape check, not RFC 5322: local@domain with an ASCII local part
// of the usual characters and a domain of at least two dot-separated labels.
func validEmail(v string) bool {
	at := strings.IndexByte(v, '@')
	if at <= 0 || at > 64 || strings.IndexByte(v[at+1:], '@') >= 0 {
		return false
	}
	local, domain := v[:at], v[at+1:]
	if local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return false
	}
	if !allASCII(local, func(r rune) bool {
		return isDigit(r) || isASCIILetter(r) || strings.ContainsRune(".!#$%&'*+/=?^_`{|}~-", r)
	}) {
		return false
	}
	return validHost(domain)
}

// validHost accepts a DNS name of at least two labels (letters, digits, hyphens) whose last
// label is alphabetic.
func validHost(h string) bool {
	if len(h) == 0 || len(h) > 253 {
		return false
	}
	labels, start := 0, 0
	for i := 0; i <= len(h); i++ {
		if i < len(h) && h[i] != '.' {
			c := rune(h[i])
			if !isDigit(c) && !isASCIILetter(c) && c != '-' {
				return false
			}
			continue
		}
		l := h[start:i]
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		labels++
		start = i + 1
	}
	tld := h[strings.LastIndexByte(h, '.')+1:]
	return labels >= 2 && len(tld) >= 2 && allASCII(tld, isASCIILetter)
}

// splitURL takes a link or whitelist entry apart into host (with any port dropped) and the
// rest (path, query, fragment), ignoring an http:// or https:// scheme in any case.
func splitURL(u string) (host, rest string) {
	if len(u) >= 8 && strings.EqualFold(u[:8], "https://") {
		u = u[8:]
	} else if len(u) >= 7 && strings.EqualFold(u[:7], "http://") {
		u = u[7:]
	}
	end := strings.IndexAny(u, "/?#")
	if end < 0 {
		end = len(u)
	}
	host, rest = u[:end], u[end:]
	if c := strings.LastIndexByte(host, ':'); c >= 0 {
		host = host[:c]
	}
	return host, rest
}

// validURL accepts http://, https:// and www. links (case-insensitive) with a valid host,
// the forms DLT CTA whitelisting knows (dlt-smpp.md §4).
func validURL(v string) bool {
	lower := len(v) >= 8 && strings.EqualFold(v[:8], "https://") ||
		len(v) >= 7 && strings.EqualFold(v[:7], "http://") ||
		len(v) >= 4 && strings.EqualFold(v[:4], "www.")
	if !lower {
		return false
	}
	host, _ := splitURL(v)
	return validHost(host)
}

// URLWhitelisted reports whether link matches an entry of wl, as {#url#} values are checked
// (see MatchOptions.URLWhitelist): the shortlinks check their domain with it before a text
// with short links goes to the template match.
func URLWhitelisted(link string, wl []string) bool { return whitelisted(link, wl) }

// whitelisted reports whether link v matches an entry of wl (see MatchOptions.URLWhitelist).
// An entry's trailing '*'s (the portal's "https://e.1rp.in/HEADER/**" form) are a prefix
// match, as an entry with a path always is.
func whitelisted(v string, wl []string) bool {
	host, rest := splitURL(v)
	for _, e := range wl {
		eh, er := splitURL(strings.TrimRight(strings.TrimSpace(e), "*"))
		if eh == "" {
			continue
		}
		if er == "" || er == "/" {
			if strings.EqualFold(host, eh) ||
				(len(host) > len(eh) && host[len(host)-len(eh)-1] == '.' && strings.EqualFold(host[len(host)-len(eh):], eh)) {
				return true
			}
			continue
		}
		if strings.EqualFold(host, eh) && strings.HasPrefix(rest, er) {
			return true
		}
	}
	return false
}
