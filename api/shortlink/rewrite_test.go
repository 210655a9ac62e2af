package shortlink

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestFindURLs(t *testing.T) {
	tests := []struct {
		text string
		want []string
	}{
		{"Pay at https://pay.example.com/i/123. Thanks", []string{"https://pay.example.com/i/123"}},
		{"see http://a.in/x?y=1&z=2, or www.example.org!", []string{"http://a.in/x?y=1&z=2", "www.example.org"}},
		{"(https://example.com/p) and HTTPS://EXAMPLE.COM/Q;", []string{"https://example.com/p", "HTTPS://EXAMPLE.COM/Q"}},
		{"wiki https://en.wikipedia.org/wiki/Go_(language) ok", []string{"https://en.wikipedia.org/wiki/Go_(language)"}},
		{"no links here: http:// nor www. nor https://.x", nil},
		{"email me at joe@www.example.com or visit xwww.example.com", nil},
		{"two\nhttps://a.in/1\thttps://b.in/2", []string{"https://a.in/1", "https://b.in/2"}},
		{"quoted \"https://a.in/q\" and ‘https://b.in/r’?", []string{"https://a.in/q", "https://b.in/r"}},
		{"local http://127.0.0.1:8080/x and http://localhost:9/y", []string{"http://127.0.0.1:8080/x", "http://localhost:9/y"}},
		{"हिंदी https://a.in/हि।", []string{"https://a.in/हि।"}},
		{"https://a.in/x...", []string{"https://a.in/x"}},
	}
	for _, tc := range tests {
		var got []string
		for _, sp := range FindURLs(tc.text) {
			got = append(got, tc.text[sp.Start:sp.End])
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("FindURLs(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
}

func TestRewrite(t *testing.T) {
	n := 0
	out, k := Rewrite("Hi, pay https://pay.example.com/i/1. Or www.x.in/a, skip https://e.1rp.in/T/abc.", func(u string) string {
		if strings.HasPrefix(u, "https://e.1rp.in/") {
			return ""
		}
		n++
		return "https://e.1rp.in/ACMEIN/code" + string(rune('0'+n))
	})
	want := "Hi, pay https://e.1rp.in/ACMEIN/code1. Or https://e.1rp.in/ACMEIN/code2, skip https://e.1rp.in/T/abc."
	if out != want || k != 2 {
		t.Fatalf("Rewrite = %q (%d), want %q (2)", out, k, want)
	}
}

func TestNewCode(t *testing.T) {
	seen := map[string]bool{}
	counts := map[byte]int{}
	for range 2000 {
		c := NewCode()
		if len(c) != CodeLength || !ValidCode(c) || seen[c] {
			t.Fatalf("code %q: bad or repeated", c)
		}
		seen[c] = true
		for i := 0; i < len(c); i++ {
			counts[c[i]]++
		}
	}
	if len(counts) != 62 {
		t.Fatalf("2000 codes used %d of the 62 characters", len(counts))
	}
	for _, bad := range []string{"", "abc", "abc-defghij", strings.Repeat("a", 33), "héllowörld"} {
		if ValidCode(bad) {
			t.Errorf("ValidCode(%q) = true", bad)
		}
	}
}

// FuzzRewrite checks the finder's invariants on any text: spans are in order, inside the
// text, on rune boundaries, start with a link prefix, hold no whitespace, do not end in
// trailing punctuation (but a balanced ')'); and rewriting every link then finding again
// finds exactly the replacements.
func FuzzRewrite(f *testing.F) {
	for _, s := range []string{"Pay at https://pay.example.com/i/123. Thanks", "www.a.in, http://b.in/(x))", "https://", "wwww.a.in", "x https://a.in/\u00a0y", "(https://a.in/b_(c))."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if !utf8.ValidString(text) || strings.Contains(strings.ToLower(text), "s.in/h/") {
			return
		}
		spans := FindURLs(text)
		last := 0
		for _, sp := range spans {
			if sp.Start < last || sp.End <= sp.Start || sp.End > len(text) {
				t.Fatalf("span %v out of order or range (last end %d, len %d)", sp, last, len(text))
			}
			u := text[sp.Start:sp.End]
			if !utf8.ValidString(u) || !validLink(u) {
				t.Fatalf("span %q is not a valid link", u)
			}
			if !hasPrefixFold(u, "http://") && !hasPrefixFold(u, "https://") && !hasPrefixFold(u, "www.") {
				t.Fatalf("span %q has no link prefix", u)
			}
			if strings.IndexFunc(u, isSpace) >= 0 {
				t.Fatalf("span %q holds whitespace", u)
			}
			if trimTrailing(u) != len(u) {
				t.Fatalf("span %q ends in punctuation", u)
			}
			last = sp.End
		}
		out, n := Rewrite(text, func(string) string { return " https://s.in/H/" + NewCode() + " " })
		if n != len(spans) {
			t.Fatalf("rewrote %d of %d links", n, len(spans))
		}
		again := 0
		for _, sp := range FindURLs(out) {
			if strings.HasPrefix(out[sp.Start:sp.End], "https://s.in/H/") {
				again++
			}
		}
		if again != n {
			t.Fatalf("found %d short links in %q, want %d", again, out, n)
		}
	})
}
