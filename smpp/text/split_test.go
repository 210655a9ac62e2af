package text

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// wantCapacity is the expected capacity table, written out independently of
// the implementation's arithmetic: units of a single SMS and of each part of
// a concatenated one.
func wantCapacity(enc Encoding, opts Options) (single, multi int) {
	table := map[Encoding][4]int{ // single, UDH8, UDH16, SAR
		GSM7:   {160, 153, 152, 160},
		UCS2:   {70, 67, 66, 70},
		Latin1: {140, 134, 133, 140},
	}[enc]
	switch opts.Concat {
	case ConcatUDH8:
		return table[0], table[1]
	case ConcatUDH16:
		return table[0], table[2]
	case ConcatSAR:
		if !opts.SARFullParts {
			return table[0], table[1]
		}
		return table[0], table[3]
	}
	return 1 << 30, 1 << 30
}

// unitsOf counts s in the encoding's units by encoding it.
func unitsOf(tb testing.TB, enc Encoding, s string) int {
	b, err := Encode(enc, s)
	if err != nil {
		tb.Fatalf("re-encoding decoded part %q: %v", s, err)
	}
	if enc == UCS2 {
		return len(b) / 2
	}
	return len(b)
}

func decodePart(enc Encoding, opts Options, p Part) (string, error) {
	if opts.PackGSM7 && enc == GSM7 {
		return DecodeGSM7Packed(p.Text(), FillBits(p.UDHLen))
	}
	return Decode(enc.DataCoding(), p.Text())
}

// verifySplit checks everything a receiver relies on: part numbering, UDH
// bytes, capacity, that each part decodes on its own without replacement
// characters, and that the parts join back to s.
func verifySplit(tb testing.TB, s string, enc Encoding, opts Options, parts []Part) {
	tb.Helper()
	n := len(parts)
	if n == 0 || n > 255 {
		tb.Fatalf("%d parts", n)
	}
	if info, err := Count(s, enc, opts); err != nil || info.Parts != n {
		tb.Fatalf("Count = %+v, %v; Split gave %d parts", info, err, n)
	}
	single, multi := wantCapacity(enc, opts)
	capacity := single
	if n > 1 {
		capacity = multi
	}
	var joined strings.Builder
	for i, p := range parts {
		if int(p.Total) != n || int(p.Seq) != i+1 {
			tb.Fatalf("part %d: Total %d Seq %d", i, p.Total, p.Seq)
		}
		var wantUDH []byte
		wantRef := opts.Ref
		if n > 1 {
			switch opts.Concat {
			case ConcatUDH8:
				wantRef &= 0xFF
				wantUDH = []byte{5, 0, 3, byte(wantRef), byte(n), byte(i + 1)}
			case ConcatUDH16:
				wantUDH = []byte{6, 8, 4, byte(wantRef >> 8), byte(wantRef), byte(n), byte(i + 1)}
			}
		}
		if !bytes.Equal(p.UDH(), wantUDH) || p.UDHLen != len(wantUDH) {
			tb.Fatalf("part %d: UDH %x, want %x", i, p.UDH(), wantUDH)
		}
		if p.Ref != wantRef {
			tb.Fatalf("part %d: Ref %#x, want %#x", i, p.Ref, wantRef)
		}
		dec, err := decodePart(enc, opts, p)
		if err != nil {
			tb.Fatalf("part %d of %d does not decode on its own: %v (data %x)", i+1, n, err, p.Data)
		}
		if strings.ContainsRune(dec, utf8.RuneError) && !strings.ContainsRune(s, utf8.RuneError) {
			tb.Fatalf("part %d decodes with replacement characters: %q", i+1, dec)
		}
		if opts.Concat != ConcatPayload {
			// Units the part occupies on the air interface.
			units := unitsOf(tb, enc, dec)
			if opts.PackGSM7 && enc == GSM7 {
				units = (8*len(p.Text()) - FillBits(p.UDHLen)) / 7
				if len(p.Data) > 140 {
					tb.Fatalf("part %d: %d octets > 140", i+1, len(p.Data))
				}
			} else if enc != GSM7 && len(p.Data) > 140 {
				tb.Fatalf("part %d: %d octets > 140", i+1, len(p.Data))
			} else if enc == GSM7 && 8*p.UDHLen+FillBits(p.UDHLen)+7*len(p.Text()) > 1120 {
				tb.Fatalf("part %d: %d septets after %d-octet UDH exceed 140 octets", i+1, len(p.Text()), p.UDHLen)
			}
			if units > capacity {
				tb.Fatalf("part %d: %d units > capacity %d", i+1, units, capacity)
			}
		}
		joined.WriteString(dec)
	}
	got := joined.String()
	if got == s {
		return
	}
	// TS 23.038: packed text ending in <CR> on an octet boundary gets a
	// second <CR>, shown as <CR><CR>.
	if opts.PackGSM7 && enc == GSM7 && strings.HasSuffix(s, "\r") && got == s+"\r" {
		return
	}
	tb.Fatalf("joined parts differ from input\n got %q\nwant %q", got, s)
}

func allMethods(enc Encoding) []Options {
	var out []Options
	for _, o := range []Options{
		{Concat: ConcatUDH8, Ref: 0x1234},
		{Concat: ConcatUDH16, Ref: 0xBEEF},
		{Concat: ConcatSAR, Ref: 0x0102, SARFullParts: true},
		{Concat: ConcatSAR, Ref: 7},
		{Concat: ConcatPayload},
	} {
		out = append(out, o)
		if enc == GSM7 {
			o.PackGSM7 = true
			out = append(out, o)
		}
	}
	return out
}

// TestSplitBoundaries puts a multi-unit character (or one that must stay
// whole) at every position around each cut, for every method.
func TestSplitBoundaries(t *testing.T) {
	gens := []struct {
		name    string
		enc     Encoding
		filler  string // one unit
		special string
	}{
		{"GSM7 euro", GSM7, "a", "€"},
		{"GSM7 brace pair", GSM7, "a", "{}"},
		{"GSM7 CR", GSM7, "a", "\r"},
		{"GSM7 CR after euro", GSM7, "a", "€\r"},
		{"UCS2 emoji", UCS2, "न", "😀"},
		{"UCS2 two emoji", UCS2, "न", "😀👍🏽"},
		{"UCS2 hindi conjunct", UCS2, "a", "स्ते"},
		{"UCS2 euro", UCS2, "न", "€"},
		{"Latin1", Latin1, "a", "é"},
	}
	for _, g := range gens {
		for _, opts := range allMethods(g.enc) {
			single, multi := wantCapacity(g.enc, opts)
			if opts.Concat == ConcatPayload {
				single, multi = 160, 153
			}
			var positions []int
			for _, edge := range []int{single, multi, 2 * multi, 3 * multi} {
				for k := edge - 4; k <= edge+2; k++ {
					positions = append(positions, k)
				}
			}
			name := fmt.Sprintf("%s/%v/packed=%v/reserve=%v", g.name, opts.Concat, opts.PackGSM7, !opts.SARFullParts)
			t.Run(name, func(t *testing.T) {
				for _, k := range positions {
					for _, tail := range []string{"", g.filler, strings.Repeat(g.filler, 7)} {
						s := strings.Repeat(g.filler, k) + g.special + tail
						parts, err := Split(s, g.enc, opts)
						if err != nil {
							t.Fatalf("prefix %d: %v", k, err)
						}
						verifySplit(t, s, g.enc, opts, parts)
					}
				}
			})
		}
	}
}

func TestSplitKeepsCharactersWhole(t *testing.T) {
	// '€' would be septets 153 and 154: it moves to part 2 whole.
	s := strings.Repeat("a", 152) + "€" + strings.Repeat("z", 10)
	parts, err := Split(s, GSM7, Options{Ref: 9})
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 2 || len(parts[0].Text()) != 152 || !bytes.HasPrefix(parts[1].Text(), []byte{0x1B, 0x65}) {
		t.Fatalf("parts = %x", parts)
	}
	// The emoji would be UTF-16 units 67 and 68: part 1 carries 66 units.
	s = strings.Repeat("न", 66) + "😀" + strings.Repeat("न", 5)
	parts, err = Split(s, UCS2, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 2 || len(parts[0].Text()) != 132 || !bytes.HasPrefix(parts[1].Text(), []byte{0xD8, 0x3D, 0xDE, 0x00}) {
		t.Fatalf("parts = %x", parts)
	}
}

func TestSplitPackedCR(t *testing.T) {
	opts := Options{PackGSM7: true}
	cases := []struct {
		name       string
		s          string
		firstLen   int // septets of text in part 1
		parts      int
		decodeWant string
	}{
		// Part 1 would end with <CR> exactly on an octet boundary, where
		// the receiver drops it as padding: it moves to part 2.
		{"CR at cut", strings.Repeat("a", 152) + "\r" + strings.Repeat("b", 10), 152, 2, ""},
		// Final part full and ending in <CR>: no room for the second <CR>,
		// so the <CR> gets a part of its own (and is doubled there).
		{"CR fills last part", strings.Repeat("a", 305) + "\r", 153, 3, strings.Repeat("a", 305) + "\r\r"},
		// 160 septets ending in <CR> need 161 packed: two parts.
		{"CR at 160", strings.Repeat("a", 159) + "\r", 153, 2, ""},
		{"CR single", "1234567\r", 9, 1, "1234567\r\r"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			parts, err := Split(c.s, GSM7, opts)
			if err != nil {
				t.Fatal(err)
			}
			verifySplit(t, c.s, GSM7, opts, parts)
			if len(parts) != c.parts {
				t.Fatalf("%d parts, want %d", len(parts), c.parts)
			}
			fill := FillBits(parts[0].UDHLen)
			if got := (8*len(parts[0].Text()) - fill) / 7; got != c.firstLen && got != c.firstLen+1 {
				t.Fatalf("part 1 holds %d septets, want %d", got, c.firstLen)
			}
			var joined string
			for _, p := range parts {
				d, _ := decodePart(GSM7, opts, p)
				joined += d
			}
			want := c.decodeWant
			if want == "" {
				want = c.s
			}
			if joined != want {
				t.Fatalf("decoded %q, want %q", joined, want)
			}
		})
	}
}

func TestCount(t *testing.T) {
	a := func(n int) string { return strings.Repeat("a", n) }
	hi := func(n int) string { return strings.Repeat("न", n) }
	cases := []struct {
		s     string
		enc   Encoding
		opts  Options
		parts int
	}{
		{"", GSM7, Options{}, 1},
		{a(160), GSM7, Options{}, 1},
		{a(161), GSM7, Options{}, 2},
		{a(306), GSM7, Options{}, 2},
		{a(307), GSM7, Options{}, 3},
		{strings.Repeat("€", 80), GSM7, Options{}, 1}, // 160 septets
		{strings.Repeat("€", 81), GSM7, Options{}, 2}, // 162 septets
		{a(159) + "€", GSM7, Options{}, 2},
		{a(152) + "€" + a(152), GSM7, Options{}, 3}, // 306 septets, but € is not split
		{a(304), GSM7, Options{Concat: ConcatUDH16}, 2},
		{a(305), GSM7, Options{Concat: ConcatUDH16}, 3},
		{a(320), GSM7, Options{Concat: ConcatSAR, SARFullParts: true}, 2},
		{a(321), GSM7, Options{Concat: ConcatSAR, SARFullParts: true}, 3},
		{a(306), GSM7, Options{Concat: ConcatSAR}, 2},
		{a(307), GSM7, Options{Concat: ConcatSAR}, 3},
		{a(5000), GSM7, Options{Concat: ConcatPayload}, 1},
		{a(306), GSM7, Options{PackGSM7: true}, 2},
		{a(307), GSM7, Options{PackGSM7: true}, 3},
		{hi(70), UCS2, Options{}, 1},
		{hi(71), UCS2, Options{}, 2},
		{hi(134), UCS2, Options{}, 2},
		{hi(135), UCS2, Options{}, 3},
		{strings.Repeat("😀", 35), UCS2, Options{}, 1}, // 70 units
		{strings.Repeat("😀", 36), UCS2, Options{}, 2}, // 72 units: 33 + 3 emoji
		{strings.Repeat("😀", 67), UCS2, Options{}, 3}, // 134 units, but 66 per part
		{hi(132), UCS2, Options{Concat: ConcatUDH16}, 2},
		{hi(133), UCS2, Options{Concat: ConcatUDH16}, 3},
		{hi(140), UCS2, Options{Concat: ConcatSAR, SARFullParts: true}, 2},
		{hi(141), UCS2, Options{Concat: ConcatSAR, SARFullParts: true}, 3},
		{a(140), Latin1, Options{}, 1},
		{a(141), Latin1, Options{}, 2},
		{a(268), Latin1, Options{}, 2},
		{a(269), Latin1, Options{}, 3},
		{a(266), Latin1, Options{Concat: ConcatUDH16}, 2},
		{a(267), Latin1, Options{Concat: ConcatUDH16}, 3},
	}
	for _, c := range cases {
		info, err := Count(c.s, c.enc, c.opts)
		if err != nil || info.Parts != c.parts {
			t.Errorf("Count(%d runes, %v, %+v) = %d parts, %v; want %d", utf8.RuneCountInString(c.s), c.enc, c.opts, info.Parts, err, c.parts)
		}
		parts, err := Split(c.s, c.enc, c.opts)
		if err != nil || len(parts) != c.parts {
			t.Errorf("Split(%d runes, %v, %+v) = %d parts, %v; want %d", utf8.RuneCountInString(c.s), c.enc, c.opts, len(parts), err, c.parts)
		}
	}
}

func TestCountInfo(t *testing.T) {
	info, err := Count("Hi € "+strings.Repeat("x", 160), GSM7, Options{})
	want := Info{Encoding: GSM7, Runes: 165, Units: 166, Parts: 2, PerPart: 153, Remaining: 153 - 13}
	if err != nil || info != want {
		t.Errorf("Count = %+v, %v; want %+v", info, err, want)
	}
	info, err = Count("नमस्ते 😀", UCS2, Options{})
	want = Info{Encoding: UCS2, Runes: 8, Units: 9, Parts: 1, PerPart: 70, Remaining: 61}
	if err != nil || info != want {
		t.Errorf("Count = %+v, %v; want %+v", info, err, want)
	}
}

func TestTooManyParts(t *testing.T) {
	max := strings.Repeat("a", 153*255)
	if parts, err := Split(max, GSM7, Options{}); err != nil || len(parts) != 255 {
		t.Fatalf("255 parts: %d, %v", len(parts), err)
	}
	var tm *TooManyPartsError
	if _, err := Split(max+"a", GSM7, Options{}); !errors.As(err, &tm) || tm.Parts != 256 || tm.Max != 255 {
		t.Fatalf("256 parts: error %v", err)
	}
	info, err := Count(strings.Repeat("a", 307), GSM7, Options{MaxParts: 2})
	if !errors.As(err, &tm) || tm.Parts != 3 || tm.Max != 2 || info.Parts != 3 {
		t.Fatalf("Count with MaxParts 2: %+v, %v", info, err)
	}
	if _, err := Split(strings.Repeat("a", 307), GSM7, Options{MaxParts: 2}); !errors.As(err, &tm) {
		t.Fatalf("Split with MaxParts 2: %v", err)
	}
}

func TestSplitErrors(t *testing.T) {
	cases := []struct {
		s    string
		enc  Encoding
		opts Options
		want error
	}{
		{"x", GSM7, Options{MaxParts: 256}, ErrInvalidOptions},
		{"x", GSM7, Options{MaxParts: -1}, ErrInvalidOptions},
		{"x", GSM7, Options{Concat: Concat(9)}, ErrInvalidOptions},
		{"x", Encoding(0), Options{}, ErrInvalidEncoding},
		{strings.Repeat("a", 65536), GSM7, Options{Concat: ConcatPayload}, ErrPayloadTooLong},
		{strings.Repeat("न", 32768), UCS2, Options{Concat: ConcatPayload}, ErrPayloadTooLong},
	}
	for _, c := range cases {
		if _, err := Split(c.s, c.enc, c.opts); !errors.Is(err, c.want) {
			t.Errorf("Split(%d runes, %v, %+v) error = %v, want %v", len(c.s), c.enc, c.opts, err, c.want)
		}
		if _, err := Count(c.s, c.enc, c.opts); !errors.Is(err, c.want) {
			t.Errorf("Count(%d runes, %v, %+v) error = %v, want %v", len(c.s), c.enc, c.opts, err, c.want)
		}
	}
	if p, err := Split(strings.Repeat("न", 32767), UCS2, Options{Concat: ConcatPayload}); err != nil || len(p) != 1 || len(p[0].Data) != 65534 {
		t.Errorf("largest UCS-2 payload: %v", err)
	}
	var ue *UnencodableError
	if _, err := Split(strings.Repeat("a", 200)+"ā", GSM7, Options{}); !errors.As(err, &ue) || ue.Index != 200 || ue.Rune != 'ā' {
		t.Errorf("Split(unencodable) error = %v", err)
	}
	var ie *InvalidUTF8Error
	if _, err := Split("a\xff", UCS2, Options{}); !errors.As(err, &ie) || ie.Offset != 1 {
		t.Errorf("Split(invalid UTF-8) error = %v", err)
	}
}

func TestSplitPartsAreIndependent(t *testing.T) {
	parts, err := Split(strings.Repeat("a", 400), GSM7, Options{})
	if err != nil {
		t.Fatal(err)
	}
	next := parts[1].Data[0]
	_ = append(parts[0].Data, 0xEE)
	if parts[1].Data[0] != next {
		t.Fatal("appending to part 1 overwrote part 2")
	}
}

func TestSplitSingleAndPayload(t *testing.T) {
	parts, err := Split("short", GSM7, Options{Concat: ConcatUDH16, Ref: 42})
	if err != nil || len(parts) != 1 || parts[0].UDHLen != 0 || parts[0].Total != 1 || string(parts[0].Data) != "short" {
		t.Fatalf("single = %+v, %v", parts, err)
	}
	long := strings.Repeat("नमस्ते 😀 ", 100)
	parts, err = Split(long, UCS2, Options{Concat: ConcatPayload})
	if err != nil || len(parts) != 1 || parts[0].UDHLen != 0 {
		t.Fatalf("payload = %d parts, %v", len(parts), err)
	}
	if got, err := DecodeUCS2(parts[0].Data); err != nil || got != long {
		t.Fatalf("payload decodes to %q, %v", got, err)
	}
}
