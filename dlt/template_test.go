package dlt

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		text, want string
	}{
		{"", "template text is empty"},
		{" \n\t ", "template text is empty"},
		{"Your code is {#otp#}", "unknown placeholder {#otp#} at character 14"},
		{"प्रिय {#naam#}", "unknown placeholder {#naam#} at character 7"},
	}
	for _, tt := range tests {
		tm := Template{ID: "1107000000000000001", Text: tt.text}
		err := tm.Compile()
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tm.ID) {
			t.Errorf("Compile(%q) = %v, want error naming the template and %q", tt.text, err, tt.want)
		}
	}
}

func TestCompileSegments(t *testing.T) {
	tm := Template{ID: "1", Text: " Dear {#VAR#},\r\n your  OTP {# numeric #} {#number#}{#url#} {#urlott#}{#cbn#}{#email#}{#alphanumeric#} {#x y#} {#\n"}
	kinds, err := tm.Vars()
	if err != nil {
		t.Fatal(err)
	}
	want := []VarKind{VarAny, VarNumeric, VarNumeric, VarURL, VarURLOTT, VarCBN, VarEmail, VarAlphanumeric}
	if !reflect.DeepEqual(kinds, want) {
		t.Fatalf("Vars = %v, want %v", kinds, want)
	}
	p, _ := compile(tm.Text)
	if p.segs[0].lit != "Dear " || p.segs[2].lit != ", your OTP " {
		t.Errorf("literals not whitespace-collapsed: %q %q", p.segs[0].lit, p.segs[2].lit)
	}
	if last := p.segs[len(p.segs)-1]; last.isVar || last.lit != " {#x y#} {#" {
		t.Errorf("malformed placeholders should stay text, got %+v", last)
	}
}

func TestAnchorWords(t *testing.T) {
	p, err := compile("Rs.{#numeric#} received for order {#var#}. Thank you - ACME")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"received", "for", "order", "Thank", "you", "-", "ACME"}
	if !reflect.DeepEqual(p.anchors, want) {
		t.Errorf("anchors = %q, want %q", p.anchors, want)
	}
}

const otpText = "Your OTP for login is {#numeric#}. Do not share it with anyone. - ACME"

func TestMatch(t *testing.T) {
	hindi30 := strings.Repeat("नमस्ते", 5) // 6 runes each: 30
	wl := []string{"acme.in", "https://l.ex.in/acme?"}
	tests := []struct {
		name string
		tmpl string
		text string
		opt  MatchOptions
		vars []string // nil: expect failure
		code Code
		why  string // substring of the reason
		v    int    // Violation.Var
	}{
		{name: "otp", tmpl: otpText, text: "Your OTP for login is 482913. Do not share it with anyone. - ACME", vars: []string{"482913"}},
		{name: "otp letters", tmpl: otpText, text: "Your OTP for login is 48a913. Do not share it with anyone. - ACME",
			code: CodeTemplateNotMatched, why: `variable 1 ({#numeric#}) must be digits 0-9 only, got "48a913"`, v: 1},
		{name: "otp empty", tmpl: otpText, text: "Your OTP for login is . Do not share it with anyone. - ACME",
			code: CodeTemplateNotMatched, why: "variable 1 ({#numeric#}) is empty", v: 1},
		{name: "case sensitive", tmpl: otpText, text: "your OTP for login is 1234. Do not share it with anyone. - ACME",
			code: CodeTemplateNotMatched, why: `expected "Your OTP for login is " at character 1, found "your OTP`},
		{name: "wrong word", tmpl: otpText, text: "Your PIN for login is 1234. Do not share it with anyone. - ACME",
			code: CodeTemplateNotMatched, why: `expected "OTP for login is " at character 6, found "PIN for`},
		{name: "extra text", tmpl: otpText, text: "Your OTP for login is 1234. Do not share it with anyone. - ACME Ltd",
			code: CodeTemplateNotMatched, why: `unexpected " Ltd" at character 64, after the end of the template`},
		{name: "truncated", tmpl: otpText, text: "Your OTP for login is 1234. Do not share",
			code: CodeTemplateNotMatched, why: `expected "it with anyone. - ACME" at character 41, found end of text`},
		{name: "whitespace runs", tmpl: otpText, text: "  Your OTP\tfor login is 1234.\r\nDo not  share it with anyone.\n- ACME \n", vars: []string{"1234"}},
		{name: "nbsp is whitespace", tmpl: otpText, text: "Your OTP for login is 1234. Do not share it with anyone.\u00a0- ACME", vars: []string{"1234"}},
		{name: "template newlines", tmpl: "Dear {#var#},\nyour order\r\n\r\nis ready.", text: "Dear Asha, your order is ready.", vars: []string{"Asha"}},
		{name: "missing space", tmpl: otpText, text: "Your OTP for login is 1234.Do not share it with anyone. - ACME",
			code: CodeTemplateNotMatched, why: `expected " Do not share it with anyone. - ACME" at character 28, found "Do not share`},
		{name: "space where none", tmpl: "Rs.{#numeric#} paid", text: "Rs. 500 paid",
			code: CodeTemplateNotMatched, why: `variable 1 ({#numeric#}) must be digits 0-9 only, got " 500"`, v: 1},
		{name: "empty var", tmpl: "Dear {#var#}, hi", text: "Dear , hi", vars: []string{""}},
		{name: "empty var between spaces", tmpl: "Dear {#var#} welcome", text: "Dear welcome", vars: []string{""}},
		{name: "empty var double space", tmpl: "Dear {#var#} welcome", text: "Dear  welcome", vars: []string{""}},
		{name: "empty var at end", tmpl: "Welcome {#var#}", text: "Welcome", vars: []string{""}},
		{name: "empty var at start", tmpl: "{#var#} welcome", text: "welcome", vars: []string{""}},
		{name: "var with spaces", tmpl: "Dear {#var#}, hi", text: "Dear Asha  Rao , hi", vars: []string{"Asha  Rao "}},
		{name: "literal inside var", tmpl: "Order {#var#} is ready. Pick up {#var#}", text: "Order is ready is ready. Pick up today",
			vars: []string{"is ready", "today"}},
		{name: "literal inside var twice", tmpl: "{#var#} and {#var#} and end", text: "a and b and c and end",
			vars: []string{"a", "b and c"}},
		{name: "backtrack typed", tmpl: "Code {#numeric#}{#alphanumeric#} ok", text: "Code 12ab ok", vars: []string{"1", "2ab"}},
		{name: "backtrack past invalid split", tmpl: "A {#var#}. B {#numeric#}.", text: "A x. B y. B 42.", vars: []string{"x. B y", "42"}},
		{name: "adjacent vars shortest first", tmpl: "X {#var#}{#var#} Y", text: "X abc Y", vars: []string{"", "abc"}},
		{name: "hindi 30", tmpl: "नमस्ते {#var#} जी", text: "नमस्ते " + hindi30 + " जी", vars: []string{hindi30}},
		{name: "hindi 31", tmpl: "नमस्ते {#var#} जी", text: "नमस्ते " + hindi30 + "क जी",
			code: CodeTemplateVariableTooLong, why: "variable 1 is 31 characters, template allows 30", v: 1},
		{name: "english 31", tmpl: "Hi {#var#}, bye {#var#}", text: "Hi Asha, bye " + strings.Repeat("x", 31),
			code: CodeTemplateVariableTooLong, why: "variable 2 is 31 characters, template allows 30", v: 2},
		{name: "max len option", tmpl: "Hi {#var#}!", text: "Hi Asha!", opt: MatchOptions{MaxVarLen: 3},
			code: CodeTemplateVariableTooLong, why: "variable 1 is 4 characters, template allows 3", v: 1},
		{name: "no limit", tmpl: "Hi {#var#}!", text: "Hi " + strings.Repeat("x", 500) + "!", opt: MatchOptions{MaxVarLen: -1},
			vars: []string{strings.Repeat("x", 500)}},
		{name: "hindi var in hindi template", tmpl: "प्रिय ग्राहक, आपके खाते {#var#} से रु {#numeric#} की निकासी हुई है।",
			text: "प्रिय ग्राहक, आपके खाते XX1234 से रु 5000 की निकासी हुई है।", vars: []string{"XX1234", "5000"}},
		{name: "alphanumeric", tmpl: "Order {#alphanumeric#} shipped", text: "Order AB12cd shipped", vars: []string{"AB12cd"}},
		{name: "alphanumeric bad", tmpl: "Order {#alphanumeric#} shipped", text: "Order AB-12 shipped",
			code: CodeTemplateNotMatched, why: "letters A-Z, a-z and digits only", v: 1},
		{name: "cbn", tmpl: "Call {#cbn#} now", text: "Call +919876543210 now", vars: []string{"+919876543210"}},
		{name: "cbn tollfree", tmpl: "Call {#cbn#} now", text: "Call 18001234567 now", vars: []string{"18001234567"}},
		{name: "cbn bad", tmpl: "Call {#cbn#} now", text: "Call 98765-43210 now", code: CodeTemplateNotMatched, why: "callback number", v: 1},
		{name: "cbn plus inside", tmpl: "Call {#cbn#} now", text: "Call 98+765 now", code: CodeTemplateNotMatched, why: "callback number", v: 1},
		{name: "email", tmpl: "Mail {#email#} now", text: "Mail care.team+in@acme.co.in now", vars: []string{"care.team+in@acme.co.in"}},
		{name: "email bad", tmpl: "Mail {#email#} now", text: "Mail care@acme now", code: CodeTemplateNotMatched, why: "e-mail address", v: 1},
		{name: "email two at", tmpl: "Mail {#email#} now", text: "Mail a@b@acme.in now", code: CodeTemplateNotMatched, why: "e-mail address", v: 1},
		{name: "url", tmpl: "Track at {#url#} - ACME", text: "Track at https://acme.in/t/123 - ACME", vars: []string{"https://acme.in/t/123"}},
		{name: "url then dot", tmpl: "Visit {#url#}.", text: "Visit https://acme.in/a.b.", vars: []string{"https://acme.in/a.b"}},
		{name: "url www", tmpl: "Visit {#url#}", text: "Visit www.acme.in/x", vars: []string{"www.acme.in/x"}},
		{name: "url no scheme", tmpl: "Visit {#url#}", text: "Visit acme.in/x", code: CodeTemplateNotMatched, why: "http://, https:// or www.", v: 1},
		{name: "url ftp", tmpl: "Visit {#url#}", text: "Visit ftp://acme.in/x", code: CodeTemplateNotMatched, why: "http://", v: 1},
		{name: "url whitelisted", tmpl: "Visit {#url#}", text: "Visit HTTPS://shop.ACME.in/x?y=1", opt: MatchOptions{URLWhitelist: wl},
			vars: []string{"HTTPS://shop.ACME.in/x?y=1"}},
		{name: "url dynamic prefix", tmpl: "Visit {#url#}", text: "Visit https://l.ex.in/acme?id=9", opt: MatchOptions{URLWhitelist: wl},
			vars: []string{"https://l.ex.in/acme?id=9"}},
		{name: "url not whitelisted", tmpl: "Visit {#url#}", text: "Visit https://evil.in/acme.in", opt: MatchOptions{URLWhitelist: wl},
			code: CodeURLCTANotMatched, why: `variable 1 ({#url#}) "https://evil.in/acme.in" is not on the entity's URL whitelist`, v: 1},
		{name: "url lookalike domain", tmpl: "Visit {#url#}", text: "Visit https://notacme.in/", opt: MatchOptions{URLWhitelist: wl},
			code: CodeURLCTANotMatched, v: 1},
		{name: "url other path", tmpl: "Visit {#url#}", text: "Visit https://l.ex.in/other?id=9", opt: MatchOptions{URLWhitelist: wl},
			code: CodeURLCTANotMatched, v: 1},
		{name: "urlott", tmpl: "Open {#urlott#}", text: "Open https://play.acme.in/app.apk", opt: MatchOptions{URLWhitelist: wl},
			vars: []string{"https://play.acme.in/app.apk"}},
		{name: "typed var blocks search", tmpl: "{#numeric#} OK", text: "abc def",
			code: CodeTemplateNotMatched, why: `expected "OK" at character 1, found "abc def"`},
		{name: "fixed template", tmpl: "Your card is blocked. - ACME", text: "Your card is blocked. - ACME", vars: []string{}},
		{name: "fixed template differs", tmpl: "Your card is blocked. - ACME", text: "Your card is blocked - ACME",
			code: CodeTemplateNotMatched, why: `expected ". - ACME" at character 21, found " - ACME"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tm := &Template{ID: "1107000000000000042", Text: tt.tmpl}
			vars, err := tm.Match(tt.text, tt.opt)
			if tt.vars != nil {
				if err != nil {
					t.Fatalf("Match: %v", err)
				}
				if !reflect.DeepEqual(vars, tt.vars) {
					t.Fatalf("vars = %q, want %q", vars, tt.vars)
				}
				return
			}
			var v *Violation
			if !errors.As(err, &v) {
				t.Fatalf("Match = %q, %v; want a *Violation", vars, err)
			}
			if v.Code != tt.code || !strings.Contains(v.Reason, tt.why) || v.Var != tt.v || v.Template != tm.ID {
				t.Fatalf("violation = %+v\nwant code %d, var %d, reason containing %q", v, tt.code, tt.v, tt.why)
			}
			if v.Var == 0 && !strings.Contains(v.Reason, tm.ID) {
				t.Errorf("reason %q does not name the template", v.Reason)
			}
		})
	}
}

// TestMatchCompiledOnce checks that a hand-built template matches the same compiled or not.
func TestMatchCompiledOnce(t *testing.T) {
	tm := Template{ID: "1", Text: otpText}
	text := "Your OTP for login is 1234. Do not share it with anyone. - ACME"
	a, err1 := tm.Match(text, MatchOptions{})
	if err := tm.Compile(); err != nil {
		t.Fatal(err)
	}
	b, err2 := tm.Match(text, MatchOptions{})
	if err1 != nil || err2 != nil || !reflect.DeepEqual(a, b) {
		t.Fatalf("%q %v / %q %v", a, err1, b, err2)
	}
	bad := Template{ID: "2", Text: "{#nope#}"}
	if _, err := bad.Match("x", MatchOptions{}); err == nil || !strings.Contains(err.Error(), "unknown placeholder") {
		t.Fatalf("Match on a bad template: %v", err)
	}
}

// TestMatchPathological checks that the search stays bounded on templates built to make a
// naive backtracking matcher exponential, and still gives the right answer.
func TestMatchPathological(t *testing.T) {
	tmpl := strings.Repeat("{#var#}a", 20) + "{#var#}"
	tm := &Template{ID: "9", Text: tmpl}
	text := strings.Repeat("a", 60) + "b"
	vars, err := tm.Match(text, MatchOptions{})
	if err != nil {
		t.Fatalf("Match: %v", err)
	}
	if strings.Join(vars, "a") != text {
		t.Fatalf("vars %q do not rebuild the text", vars)
	}
	// No split: too few a's for 20 literals.
	_, err = tm.Match(strings.Repeat("a", 19)+"b", MatchOptions{})
	if v := AsViolation(err); v == nil || v.Code != CodeTemplateNotMatched {
		t.Fatalf("want 633, got %v", err)
	}
	// Many splits exist; the search must find one with every variable within 30 runes.
	text = strings.Repeat("a", 400) + "b"
	if vars, err = tm.Match(text, MatchOptions{}); err != nil || strings.Join(vars, "a") != text {
		t.Fatalf("Match(400 a's) = %q, %v", vars, err)
	}
	// A budget too small to decide reports that it gave up instead of spinning.
	_, err = tm.Match(strings.Repeat("a", 400)+"b", MatchOptions{budget: 100})
	if v := AsViolation(err); v == nil || !strings.Contains(v.Reason, "within 100 steps") {
		t.Fatalf("want a budget violation, got %v", err)
	}
}

func TestWhitelisted(t *testing.T) {
	wl := []string{"acme.in", "https://l.ex.in/acme?", "http://Shop.Example.org/deals/", "https://e.1rp.in/ACMEIN/**"}
	tests := []struct {
		url string
		ok  bool
	}{
		{"https://acme.in", true},
		{"https://acme.in:8443/x", true},
		{"http://m.acme.in/x", true},
		{"www.acme.in", true},
		{"https://acme.in.evil.com/", false},
		{"https://xacme.in/", false},
		{"https://l.ex.in/acme?u=1", true},
		{"https://l.ex.in/acme", false},
		{"https://shop.example.org/deals/diwali", true},
		{"https://shop.example.org/Deals/diwali", false},
		{"https://e.1rp.in/ACMEIN/h6fgsf5K2pQx", true},
		{"https://e.1rp.in/OTHERH/h6fgsf5K2pQx", false},
	}
	for _, tt := range tests {
		if got := whitelisted(tt.url, wl); got != tt.ok {
			t.Errorf("whitelisted(%q) = %v, want %v", tt.url, got, tt.ok)
		}
	}
}
