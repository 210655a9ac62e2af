package text

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func TestGSM7TablesRoundTrip(t *testing.T) {
	for septet, r := range gsmBasic {
		if septet == septetEscape {
			continue
		}
		got, err := EncodeGSM7(string(r))
		if err != nil || !bytes.Equal(got, []byte{byte(septet)}) {
			t.Errorf("EncodeGSM7(%q) = %x, %v; want %02x", r, got, err, septet)
		}
		dec, err := DecodeGSM7([]byte{byte(septet)})
		if err != nil || dec != string(r) {
			t.Errorf("DecodeGSM7(%02x) = %q, %v; want %q", septet, dec, err, r)
		}
	}
	ext := map[rune]byte{'\f': 0x0A, '^': 0x14, '{': 0x28, '}': 0x29, '\\': 0x2F, '[': 0x3C, '~': 0x3D, ']': 0x3E, '|': 0x40, '€': 0x65}
	for r, code := range ext {
		want := []byte{0x1B, code}
		got, err := EncodeGSM7(string(r))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("EncodeGSM7(%q) = %x, %v; want %x", r, got, err, want)
		}
		dec, err := DecodeGSM7(want)
		if err != nil || dec != string(r) {
			t.Errorf("DecodeGSM7(%x) = %q, %v; want %q", want, dec, err, r)
		}
	}
	n := 0
	for _, r := range gsmExtension {
		if r != 0 {
			n++
		}
	}
	if n != len(ext) {
		t.Errorf("extension table has %d characters, test expects %d", n, len(ext))
	}
}

// allGSM7 is every character of the default alphabet and extension table.
func allGSM7() string {
	var sb strings.Builder
	for septet, r := range gsmBasic {
		if septet != septetEscape {
			sb.WriteRune(r)
		}
	}
	for _, r := range gsmExtension {
		if r != 0 {
			sb.WriteRune(r)
		}
	}
	return sb.String()
}

func TestGSM7RoundTrip(t *testing.T) {
	cases := []string{"", "@", "hello", "@@@@@@@", "ABCDEF@", "Δ€Σ", "{[~]}|^\\\f€", allGSM7()}
	for _, n := range []int{1, 6, 7, 8, 9, 14, 15, 16, 17, 23, 24, 160, 161} {
		cases = append(cases, strings.Repeat("x", n), strings.Repeat("@", n), strings.Repeat("€", n),
			strings.Repeat("a", n-1)+"€", strings.Repeat("a", n-1)+"@")
	}
	for _, s := range cases {
		unpacked, err := EncodeGSM7(s)
		if err != nil {
			t.Fatalf("EncodeGSM7(%q): %v", s, err)
		}
		if got, err := DecodeGSM7(unpacked); err != nil || got != s {
			t.Errorf("unpacked round trip of %q = %q, %v", s, got, err)
		}
		for fill := 0; fill <= 6; fill++ {
			packed, err := AppendGSM7Packed(nil, s, fill)
			if err != nil {
				t.Fatalf("AppendGSM7Packed(%q, %d): %v", s, fill, err)
			}
			want := (fill + 7*len(unpacked) + 7) / 8
			if len(unpacked) == 0 {
				want = 0 // fill bits alone produce no octet
			}
			if len(packed) != want {
				t.Errorf("packed %q (fill %d) is %d octets, want %d", s, fill, len(packed), want)
			}
			if got, err := DecodeGSM7Packed(packed, fill); err != nil || got != s {
				t.Errorf("packed round trip of %q (fill %d) = %q, %v", s, fill, got, err)
			}
		}
	}
}

func TestGSM7PackedVectors(t *testing.T) {
	cases := []struct {
		name, text, packed, decoded string
	}{
		// Wikipedia / 23.038 example: 10 septets, 70 bits in 9 octets.
		{"hellohello", "hellohello", "e8329bfd4697d9ec37", "hellohello"},
		// 7 characters leave 7 spare bits: padded with <CR> (0x0D<<1 = 0x1A)
		// in the last octet, 0x01|0x1A = 0x1B, instead of a 0 that would
		// decode as a trailing '@'.
		{"7 chars CR padding", "ABCDEFG", "41e19058341e1b", "ABCDEFG"},
		// 8 characters fill 7 octets exactly: no padding.
		{"8 chars", "ABCDEFGH", "41e19058341e91", "ABCDEFGH"},
		// A real trailing '@' in 8 characters is kept.
		{"8 chars trailing @", "ABCDEFG@", "41e19058341e01", "ABCDEFG@"},
		// A real trailing <CR> in 7 characters, padded with a second <CR>
		// (0x0D<<2 | 'F'>>5 = 0x36, then 0x0D<<1 = 0x1A).
		{"7 chars ending CR", "ABCDEF\r", "41e1905834361a", "ABCDEF\r"},
		// A real <CR> ending on an octet boundary gets a second <CR> (TS
		// 23.038 6.1.2.3.1), which the receiver shows as <CR><CR>.
		// The real <CR> is septet 7 (0x0D<<1 | 'G'>>6 = 0x1B), the added
		// one takes a ninth octet.
		{"8 chars ending CR", "ABCDEFG\r", "41e19058341e1b0d", "ABCDEFG\r\r"},
		// 15 septets = 105 bits: 14 octets with 7 spare bits, <CR> padded
		// ('A'>>6 | 0x0D<<1 = 0x1B).
		{"15 chars", strings.Repeat("A", 15), "c16030180c0683c16030180c061b", strings.Repeat("A", 15)},
		// 16 septets = 112 bits: 14 octets exactly ('A'>>6 | 'A'<<1 = 0x83).
		{"16 chars", strings.Repeat("A", 16), "c16030180c0683c16030180c0683", strings.Repeat("A", 16)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := EncodeGSM7Packed(c.text)
			if err != nil || hex.EncodeToString(got) != c.packed {
				t.Fatalf("EncodeGSM7Packed(%q) = %x, %v; want %s", c.text, got, err, c.packed)
			}
			dec, err := DecodeGSM7Packed(got, 0)
			if err != nil || dec != c.decoded {
				t.Fatalf("DecodeGSM7Packed(%x) = %q, %v; want %q", got, dec, err, c.decoded)
			}
		})
	}
}

// refPack packs septets bit by bit, the slow obvious way, to check the
// shifting arithmetic of PackSeptets and UnpackSeptets.
func refPack(septets []byte, fill int) []byte {
	bits := make([]byte, fill)
	for _, s := range septets {
		for b := range 7 {
			bits = append(bits, s>>b&1)
		}
	}
	out := make([]byte, (len(bits)+7)/8)
	for i, b := range bits {
		out[i/8] |= b << (i % 8)
	}
	if len(septets) == 0 {
		return nil
	}
	return out
}

func TestPackSeptetsAgainstReference(t *testing.T) {
	for n := range 40 {
		septets := make([]byte, n)
		for i := range septets {
			septets[i] = byte((i*37 + n*11 + 5) & 0x7F)
		}
		for fill := 0; fill <= 6; fill++ {
			want := refPack(septets, fill)
			got := PackSeptets(nil, septets, fill)
			if !bytes.Equal(got, want) {
				t.Fatalf("PackSeptets(n=%d, fill=%d) = %x, want %x", n, fill, got, want)
			}
			un := UnpackSeptets(nil, got, fill)
			if len(un) < n || !bytes.Equal(un[:n], septets) {
				t.Fatalf("UnpackSeptets(n=%d, fill=%d) = %x, want prefix %x", n, fill, un, septets)
			}
			if len(un) > n+1 {
				t.Fatalf("UnpackSeptets(n=%d, fill=%d) returned %d septets", n, fill, len(un))
			}
		}
	}
}

func TestFillBits(t *testing.T) {
	for udhLen, want := range map[int]int{0: 0, 6: 1, 7: 0, 5: 2, 12: 2} {
		if got := FillBits(udhLen); got != want {
			t.Errorf("FillBits(%d) = %d, want %d", udhLen, got, want)
		}
	}
}

func TestFillBitsOutOfRangePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for fillBits 7")
		}
	}()
	PackSeptets(nil, []byte{1}, 7)
}

func TestGSM7Unencodable(t *testing.T) {
	cases := []struct {
		s      string
		r      rune
		index  int
		offset int
	}{
		{"ā", 'ā', 0, 0},
		{"abcā", 'ā', 3, 3},
		{"€€x नमस्ते", 'न', 4, 8},
		{"code `x`", '`', 5, 5},   // backtick is not in GSM 03.38
		{"façade", 'ç', 2, 2},     // only capital Ç (0x09) is
		{"tab\there", '\t', 3, 3}, // no tab either
		{"ok 😀", '😀', 3, 3},
	}
	for _, c := range cases {
		_, err := EncodeGSM7(c.s)
		var ue *UnencodableError
		if !errors.As(err, &ue) {
			t.Errorf("EncodeGSM7(%q) error = %v, want *UnencodableError", c.s, err)
			continue
		}
		if ue.Rune != c.r || ue.Index != c.index || ue.Offset != c.offset || ue.Encoding != GSM7 {
			t.Errorf("EncodeGSM7(%q) error = %+v, want rune %q index %d offset %d", c.s, ue, c.r, c.index, c.offset)
		}
		if _, err := EncodeGSM7Packed(c.s); !errors.As(err, &ue) {
			t.Errorf("EncodeGSM7Packed(%q) error = %v, want *UnencodableError", c.s, err)
		}
		if IsGSM7(c.s) {
			t.Errorf("IsGSM7(%q) = true", c.s)
		}
	}
	dst := []byte("keep")
	got, err := AppendGSM7(dst, "abā")
	if err == nil || string(got) != "keep" {
		t.Errorf("AppendGSM7 on error returned %q, want dst unchanged", got)
	}
}

func TestGSM7InvalidUTF8(t *testing.T) {
	_, err := EncodeGSM7("ab\xffc")
	var ie *InvalidUTF8Error
	if !errors.As(err, &ie) || ie.Offset != 2 || ie.Index != 2 {
		t.Fatalf("error = %v, want *InvalidUTF8Error at 2", err)
	}
	if IsGSM7("ab\xff") {
		t.Error("IsGSM7 accepted invalid UTF-8")
	}
	// A genuine U+FFFD is valid UTF-8 but not GSM.
	var ue *UnencodableError
	if _, err := EncodeGSM7("\uFFFD"); !errors.As(err, &ue) {
		t.Errorf("EncodeGSM7(U+FFFD) error = %v, want *UnencodableError", err)
	}
}

func TestDecodeGSM7(t *testing.T) {
	cases := []struct {
		in   []byte
		want string
		err  error
	}{
		{[]byte{0x1B, 0x65, 0x00, 0x02}, "€@$", nil},
		{[]byte{0x1B, 0x41}, "A", nil},        // unknown extension code: default char
		{[]byte{0x1B, 0x1B, 0x41}, " A", nil}, // reserved ESC ESC: space
		{[]byte{0x41, 0x1B}, "", ErrTruncatedEscape},
		{[]byte{0x41, 0x80}, "", ErrInvalidSeptet},
		{[]byte{0x1B, 0xE5}, "", ErrInvalidSeptet},
		{nil, "", nil},
	}
	for _, c := range cases {
		got, err := DecodeGSM7(c.in)
		if !errors.Is(err, c.err) || got != c.want {
			t.Errorf("DecodeGSM7(%x) = %q, %v; want %q, %v", c.in, got, err, c.want, c.err)
		}
		var de *DecodeError
		if c.err != nil && !errors.As(err, &de) {
			t.Errorf("DecodeGSM7(%x) error %T is not *DecodeError", c.in, err)
		}
	}
	// A lone escape cut off at the end of packed data is reported too.
	packed := PackSeptets(nil, []byte{0x41, 0x1B}, 0)
	if _, err := DecodeGSM7Packed(packed, 0); !errors.Is(err, ErrTruncatedEscape) {
		t.Errorf("DecodeGSM7Packed(lone escape) error = %v", err)
	}
}
