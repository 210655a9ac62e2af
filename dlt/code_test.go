package dlt

import (
	"regexp"
	"strings"
	"testing"
)

func TestCodes(t *testing.T) {
	snake := regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	names := map[string]Code{}
	for c, ci := range codeTable {
		if !snake.MatchString(c.String()) {
			t.Errorf("%d: name %q is not snake_case", int(c), c.String())
		}
		if other, dup := names[ci.name]; dup {
			t.Errorf("codes %d and %d share the name %q", int(c), int(other), ci.name)
		}
		names[ci.name] = c
		if c.Description() == "" {
			t.Errorf("%d has no description", int(c))
		}
		if got, ok := LookupCode(int(c)); !ok || got != c {
			t.Errorf("LookupCode(%d) = %v, %v", int(c), got, ok)
		}
	}
	for n, want := range map[int]string{
		633: "template_not_matched", 651: "invalid_promo_time", 5601: "vi_pe_tm_hash_invalid",
		812: "airtel_invalid_pe_tm_hash", 9026: "airtel_pe_id_tag_absent", 620: "header_not_found",
	} {
		c, ok := LookupCode(n)
		if !ok || c.String() != want {
			t.Errorf("LookupCode(%d) = %v %v, want %s", n, c, ok, want)
		}
	}
	if _, ok := LookupCode(999); ok {
		t.Error("LookupCode(999) found a code")
	}
	if s := Code(999).String(); s != "dlt_999" {
		t.Errorf("Code(999).String() = %q", s)
	}
	if d := Code(999).Description(); !strings.Contains(d, "999") {
		t.Errorf("Code(999).Description() = %q", d)
	}
	v := &Violation{Code: CodeTemplateNotMatched, Reason: "why"}
	if v.Error() != "dlt: 633 template_not_matched: why" {
		t.Errorf("Violation.Error() = %q", v.Error())
	}
}
