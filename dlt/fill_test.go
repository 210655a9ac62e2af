package dlt

import "testing"

func TestFill(t *testing.T) {
	cases := []struct {
		name, tmpl string
		vals       []string
		want       string
	}{
		{"in order", "Dear {#var#}, Rs.{#numeric#} paid", []string{"Asha", "500"}, "Dear Asha, Rs.500 paid"},
		{"missing values are empty", "Hi {#var#} {#var#}!", []string{"A"}, "Hi A !"},
		{"extra values are dropped", "Hi {#var#}", []string{"A", "B"}, "Hi A"},
		{"no placeholders", "Plain text", []string{"x"}, "Plain text"},
		{"padded and mixed case", "Code {# Numeric #} now", []string{"42"}, "Code 42 now"},
		{"at both ends", "{#var#} and {#url#}", []string{"a", "b"}, "a and b"},
		{"unknown name is still a slot", "x {#foo#} y", []string{"v"}, "x v y"},
		{"not a placeholder", "{#1#} {# #} {#{#var#} #}", []string{"v"}, "{#1#} {# #} {#v #}"},
		{"name too long", "{#abcdefghijklmnopqrstu#}", []string{"v"}, "{#abcdefghijklmnopqrstu#}"},
		{"hindi around", "नमस्ते {#var#} जी", []string{"राम"}, "नमस्ते राम जी"},
		{"empty", "", nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Fill(c.tmpl, c.vals); got != c.want {
				t.Errorf("Fill(%q, %q) = %q, want %q", c.tmpl, c.vals, got, c.want)
			}
		})
	}
}

func TestFillOTP(t *testing.T) {
	cases := []struct {
		name, tmpl, want string
	}{
		{"first numeric", "Hi {#var#}, your OTP is {#numeric#}", "Hi , your OTP is 123456"},
		{"number alias", "{#var#} {#number#} {#numeric#}", " 123456 "},
		{"first slot when none is numeric", "OTP {#var#} for {#alphanumeric#}", "OTP 123456 for "},
		{"no slot", "No code here", "No code here"},
		{"padded", "OTP {# numeric #}.", "OTP 123456."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := FillOTP(c.tmpl, "123456"); got != c.want {
				t.Errorf("FillOTP(%q) = %q, want %q", c.tmpl, got, c.want)
			}
		})
	}
}

// A filled template matches its own template: Fill and the matcher read one grammar.
func TestFillMatches(t *testing.T) {
	tp := &Template{ID: "1", Text: "Dear {#var#}, your order {#alphanumeric#} of Rs.{#numeric#} ships today"}
	got, err := tp.Match(Fill(tp.Text, []string{"Asha", "AB12", "500"}), MatchOptions{})
	if err != nil || len(got) != 3 || got[0] != "Asha" || got[1] != "AB12" || got[2] != "500" {
		t.Fatalf("Match(Fill) = %q, %v", got, err)
	}
}
