package dlt

import "testing"

func TestCarrierParams(t *testing.T) {
	const pe, ct, tmd = "1101234567890123456", "1107161234567890123", "1702123456789012345"
	cases := []struct {
		name  string
		spec  CarrierSpec
		chain []string
		want  []Param
	}{
		{"defaults", CarrierSpec{TMChain: []string{tmd}}, nil,
			[]Param{{0x1400, pe}, {0x1401, ct}, {0x1402, ChainHash(pe, tmd)}}},
		{"registry chain wins", CarrierSpec{TMChain: []string{tmd}}, []string{"1102000000000000001", tmd},
			[]Param{{0x1400, pe}, {0x1401, ct}, {0x1402, ChainHash(pe, "1102000000000000001", tmd)}}},
		{"custom tags raw", CarrierSpec{PETag: 0x3000, TemplateTag: 0x3001, ChainTag: 0x3002, ChainMode: "raw", TMChain: []string{tmd}}, nil,
			[]Param{{0x3000, pe}, {0x3001, ct}, {0x3002, pe + "," + tmd}}},
		{"off", CarrierSpec{ChainMode: "off", TMChain: []string{tmd}}, nil, []Param{{0x1400, pe}, {0x1401, ct}}},
		{"no chain known", CarrierSpec{}, nil, []Param{{0x1400, pe}, {0x1401, ct}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.spec.Params(pe, ct, tc.chain)
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("param %d: got %v, want %v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestCarrierStatusCodes(t *testing.T) {
	dec := CarrierSpec{}
	if c, ok := dec.StatusCode(630); !ok || c != CodeTemplateNotFound {
		t.Fatalf("decimal 630: %v %v", c, ok)
	}
	if _, ok := dec.StatusCode(0x58); ok {
		t.Fatal("ESME_RTHROTTLED taken for a DLT code")
	}
	hex := CarrierSpec{StatusCodes: "hex"}
	if c, ok := hex.StatusCode(0x633); !ok || c != CodeTemplateNotMatched {
		t.Fatalf("hex 0x633: %v %v", c, ok)
	}
	custom := CarrierSpec{Codes: map[int]string{613: "tm_not_in_chain"}}
	if c, ok := custom.StatusCode(613); !ok || custom.Name(c) != "tm_not_in_chain" || custom.Reason(c) != "DLT 613 tm_not_in_chain" {
		t.Fatalf("override: %v %v %q", c, ok, custom.Reason(c))
	}
	// Status writes what StatusCode reads, in either form.
	for _, spec := range []CarrierSpec{dec, hex} {
		for _, code := range []Code{CodeTemplateNotFound, CodeTemplateNotMatched, CodeEntityNotFound} {
			st, ok := spec.Status(code)
			if back, ok2 := spec.StatusCode(st); !ok || !ok2 || back != code {
				t.Fatalf("%q: code %d written %#x, read back %d (%v %v)", spec.StatusCodes, code, st, back, ok, ok2)
			}
		}
	}
	if st, _ := hex.Status(CodeTemplateNotFound); st != 0x630 {
		t.Fatalf("hex 630 written %#x, want 0x630", st)
	}
	if _, ok := dec.Status(0); ok {
		t.Fatal("no code written as a status")
	}
	if r := dec.Reason(CodeTemplateNotFound); r != "DLT 630 template_not_found: "+CodeTemplateNotFound.Description() {
		t.Fatalf("reason %q", r)
	}
}
