package text

import (
	"bytes"
	"testing"
)

func TestParseUDH(t *testing.T) {
	for _, tc := range []struct {
		name       string
		in         []byte
		udhLen     int // -1: no header split off
		concat     *PartOf
		wellFormed bool
	}{
		{"8-bit reference", []byte{5, 0x00, 3, 0x2a, 3, 2, 'h', 'i'}, 6, &PartOf{Ref: 0x2a, Total: 3, Seq: 2}, true},
		{"16-bit reference", []byte{6, 0x08, 4, 0x12, 0x34, 2, 1, 'h'}, 7, &PartOf{Ref: 0x1234, Total: 2, Seq: 1, Ref16: true}, true},
		{"ports element only", []byte{6, 0x05, 4, 0x0b, 0x84, 0x23, 0xf0, 'x'}, 7, nil, true},
		{"ports, then concat", []byte{11, 0x05, 4, 0, 1, 0, 2, 0x00, 3, 7, 2, 2, 'x'}, 12, &PartOf{Ref: 7, Total: 2, Seq: 2}, true},
		{"header longer than the message", []byte{9, 0x00, 3, 1}, -1, nil, false},
		{"empty", nil, -1, nil, false},
		{"element overruns the header", []byte{4, 0x00, 3, 1, 2, 'x'}, 5, nil, false},
		{"concat, then a stray octet", []byte{6, 0x00, 3, 9, 2, 1, 0x05, 'x'}, 7, &PartOf{Ref: 9, Total: 2, Seq: 1}, false},
		{"concat element of the wrong length is not one", []byte{4, 0x00, 2, 1, 2, 'x'}, 5, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			udh, rest, c, ok := ParseUDH(tc.in)
			if ok != tc.wellFormed {
				t.Errorf("wellFormed %v, want %v", ok, tc.wellFormed)
			}
			if tc.udhLen < 0 {
				if udh != nil || !bytes.Equal(rest, tc.in) {
					t.Errorf("udh % x rest % x, want no header and the message whole", udh, rest)
				}
			} else if len(udh) != tc.udhLen || !bytes.Equal(rest, tc.in[tc.udhLen:]) {
				t.Errorf("udh % x rest % x, want a %d-octet header", udh, rest, tc.udhLen)
			}
			if (c == nil) != (tc.concat == nil) || c != nil && *c != *tc.concat {
				t.Errorf("concat %+v, want %+v", c, tc.concat)
			}
		})
	}
}
