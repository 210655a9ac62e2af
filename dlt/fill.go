package dlt

import "strings"

// Fill returns the template text with its placeholders replaced in order by vals; a
// placeholder with no value left becomes empty text. Placeholders are read with the same
// grammar Compile uses ("{#name#}", 1–20 ASCII letters, optionally padded with spaces), so a
// text the API fills is exactly the text the registry will match. A well-formed placeholder
// with an unknown name is filled like any other: Compile, not Fill, reports it.
func Fill(tmpl string, vals []string) string {
	i := 0
	return eachPlaceholder(tmpl, func(string) string {
		v := ""
		if i < len(vals) {
			v = vals[i]
		}
		i++
		return v
	})
}

// FillOTP puts code in the template's first numeric placeholder ({#numeric#} or {#number#}),
// or in its first placeholder when it has no numeric one, and leaves the others empty: an OTP
// template carries the code and nothing the caller could fill in.
func FillOTP(tmpl, code string) string {
	var names []string
	eachPlaceholder(tmpl, func(name string) string {
		names = append(names, name)
		return ""
	})
	target := 0
	for i, name := range names {
		if k, ok := placeholderKinds[strings.ToLower(name)]; ok && k == VarNumeric {
			target = i
			break
		}
	}
	i := 0
	return eachPlaceholder(tmpl, func(string) string {
		v := ""
		if i == target {
			v = code
		}
		i++
		return v
	})
}

// eachPlaceholder returns text with every placeholder replaced by repl(name), in order, and
// everything else kept byte for byte.
func eachPlaceholder(text string, repl func(name string) string) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(text); {
		j := strings.Index(text[i:], "{#")
		if j < 0 {
			break
		}
		i += j
		name, n, ok := placeholderAt(text[i:])
		if !ok {
			i++ // a "{" that starts no placeholder is ordinary text
			continue
		}
		if b.Cap() == 0 {
			b.Grow(len(text))
		}
		b.WriteString(text[last:i])
		b.WriteString(repl(name))
		i += n
		last = i
	}
	if last == 0 {
		return text
	}
	b.WriteString(text[last:])
	return b.String()
}
