package dlt

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzMatch checks two things. Any template against any text: Match never panics, and a
// success returns one value per placeholder, none longer than the limit. A template built
// from the input with "safe" variable values (characters that never occur in the fixed
// text, fixed text between variables): the filled-in text matches and gives back exactly
// the values put in.
func FuzzMatch(f *testing.F) {
	f.Add(otpText, "Your OTP for login is 482913. Do not share it with anyone. - ACME", []byte{3, 1, 7, 2, 9})
	f.Add("Dear {#var#}, your order {#alphanumeric#} ships", "Dear Asha, your order AB12 ships", []byte{0, 0, 0, 0})
	f.Add("{#var#}a{#var#}a{#var#}", "aaaaaaaaab", []byte{255, 254, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Add("प्रिय {#var#} जी {#numeric#}", "प्रिय राम जी 42", []byte{40, 41, 42, 43, 44, 45})
	f.Add("{#url#}.{#email#} {#cbn#}", "https://a.in/x.a@b.in +91", []byte{6, 5, 4, 3, 2, 1})
	f.Fuzz(func(t *testing.T, tmpl, text string, gen []byte) {
		if len(tmpl) > 2000 || len(text) > 2000 || len(gen) > 200 {
			return
		}
		tm := &Template{ID: "1", Text: tmpl}
		if kinds, err := tm.Vars(); err == nil {
			vars, err := tm.Match(text, MatchOptions{})
			if err == nil {
				if len(vars) != len(kinds) {
					t.Fatalf("%d values for %d placeholders", len(vars), len(kinds))
				}
				for _, v := range vars {
					if utf8.RuneCountInString(v) > DefaultMaxVarLen {
						t.Fatalf("value %q longer than %d", v, DefaultMaxVarLen)
					}
				}
			} else if AsViolation(err) == nil {
				t.Fatalf("error is not a *Violation: %v", err)
			}
		}

		gt, text2, want := buildSafe(gen)
		tm = &Template{ID: "2", Text: gt}
		vars, err := tm.Match(text2, MatchOptions{})
		if err != nil {
			t.Fatalf("template %q\ntext     %q\n%v", gt, text2, err)
		}
		if strings.Join(vars, "\x00") != strings.Join(want, "\x00") {
			t.Fatalf("template %q\ntext     %q\nvalues %q, want %q", gt, text2, vars, want)
		}
	})
}

// buildSafe turns bytes into a template and a message filled with known values. Fixed text
// uses upper-case letters, punctuation and whitespace; values use lower-case letters, digits
// and Devanagari, so a value can never be mistaken for fixed text. Variables are separated
// by fixed text containing at least one non-space character, and values are not empty, so
// the split is unique.
func buildSafe(gen []byte) (tmpl, text string, vals []string) {
	const litChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ.,:;-!?()&% \n\t"
	valChars := []rune("abcdefghijklmnopqrstuvwxyz0123456789कखगघअआइ")
	kinds := []VarKind{VarAny, VarNumeric, VarAlphanumeric, VarCBN}
	next := func() int {
		if len(gen) == 0 {
			return 0
		}
		b := int(gen[0])
		gen = gen[1:]
		return b
	}
	var tb, mb strings.Builder
	parts := 1 + next()%5
	for p := 0; p < parts; p++ {
		lit := make([]byte, 0, 8)
		for n := next() % 8; len(lit) < n; {
			lit = append(lit, litChars[next()%len(litChars)])
		}
		if p > 0 || len(lit) > 0 {
			lit = append(lit, "XYZ"[next()%3]) // keep variables apart
		}
		tb.Write(lit)
		mb.Write(lit)
		k := kinds[next()%len(kinds)]
		tb.WriteString(k.String())
		n := 1 + next()%DefaultMaxVarLen
		if k == VarCBN {
			n = 3 + n%13 // 3 to 15 digits
		}
		var v []rune
		for i := 0; i < n; i++ {
			c := valChars[next()%len(valChars)]
			switch k {
			case VarNumeric, VarCBN:
				c = rune('0' + next()%10)
			case VarAlphanumeric:
				if c >= 0x80 {
					c = 'q'
				}
			}
			v = append(v, c)
		}
		vals = append(vals, string(v))
		mb.WriteString(string(v))
	}
	tail := "END"
	tb.WriteString(" " + tail)
	mb.WriteString(" " + tail)
	return tb.String(), mb.String(), vals
}
