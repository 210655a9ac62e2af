package text

import (
	"encoding/hex"
	"errors"
	"testing"
)

func TestUCS2(t *testing.T) {
	cases := []struct{ s, hex string }{
		{"", ""},
		{"A", "0041"},
		{"नमस्ते", "0928092e0938094d09240947"},
		{"😀", "d83dde00"},
		{"Hi 😀 नमस्ते €", "004800690020d83dde000020" + "0928092e0938094d09240947" + "002020ac"},
		{"\U0010FFFF\uFFFD\u0000", "dbffdfff" + "fffd" + "0000"},
	}
	for _, c := range cases {
		got, err := EncodeUCS2(c.s)
		if err != nil || hex.EncodeToString(got) != c.hex {
			t.Errorf("EncodeUCS2(%q) = %x, %v; want %s", c.s, got, err, c.hex)
		}
		dec, err := DecodeUCS2(got)
		if err != nil || dec != c.s {
			t.Errorf("DecodeUCS2(%x) = %q, %v; want %q", got, dec, err, c.s)
		}
	}
}

func TestUCS2InvalidUTF8(t *testing.T) {
	dst := []byte{1}
	got, err := AppendUCS2(dst, "न\xed\xa0\x80") // encoded surrogate: invalid UTF-8
	var ie *InvalidUTF8Error
	if !errors.As(err, &ie) || ie.Index != 1 || ie.Offset != 3 || len(got) != 1 {
		t.Fatalf("AppendUCS2 = %x, %v; want dst unchanged and *InvalidUTF8Error at 1/3", got, err)
	}
}

func TestDecodeUCS2Errors(t *testing.T) {
	cases := []struct {
		hex    string
		err    error
		offset int
	}{
		{"00", ErrOddLength, 0},
		{"004100", ErrOddLength, 2},
		{"d83d", ErrUnpairedSurrogate, 0},             // high surrogate at end
		{"0041d83d0041", ErrUnpairedSurrogate, 2},     // high followed by BMP
		{"d83dd83dde00", ErrUnpairedSurrogate, 0},     // high followed by high
		{"de00", ErrUnpairedSurrogate, 0},             // lone low
		{"0041d83dde00de00", ErrUnpairedSurrogate, 6}, // pair then lone low
	}
	for _, c := range cases {
		b, _ := hex.DecodeString(c.hex)
		got, err := DecodeUCS2(b)
		var de *DecodeError
		if !errors.Is(err, c.err) || !errors.As(err, &de) || de.Offset != c.offset || got != "" {
			t.Errorf("DecodeUCS2(%s) = %q, %v; want %v at %d", c.hex, got, err, c.err, c.offset)
		}
	}
}

func TestLatin1(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	s := DecodeLatin1(all)
	back, err := EncodeLatin1(s)
	if err != nil || string(back) != string(all) {
		t.Fatalf("Latin-1 round trip of all octets failed: %v", err)
	}
	if got, _ := EncodeLatin1("café ÿ"); hex.EncodeToString(got) != "636166e920ff" {
		t.Errorf("EncodeLatin1(café ÿ) = %x", got)
	}
	for _, c := range []struct {
		s     string
		r     rune
		index int
	}{{"price €5", '€', 6}, {"ok ā", 'ā', 3}, {"नमस्ते", 'न', 0}} {
		_, err := EncodeLatin1(c.s)
		var ue *UnencodableError
		if !errors.As(err, &ue) || ue.Rune != c.r || ue.Index != c.index || ue.Encoding != Latin1 {
			t.Errorf("EncodeLatin1(%q) error = %v, want %q at %d", c.s, err, c.r, c.index)
		}
	}
	var ie *InvalidUTF8Error
	if _, err := EncodeLatin1("a\xc3"); !errors.As(err, &ie) {
		t.Errorf("EncodeLatin1(truncated UTF-8) error = %v", err)
	}
}

func TestDecodeByDataCoding(t *testing.T) {
	cases := []struct {
		dc   DataCoding
		in   []byte
		want string
		err  error
	}{
		{DataCodingDefault, []byte{0x1B, 0x65, 0x41}, "€A", nil},
		{0xF0, []byte{0x41}, "A", nil}, // flash SMS, GSM 7-bit
		{DataCodingIA5, []byte("plain"), "plain", nil},
		{DataCodingIA5, []byte{0x41, 0xE9}, "", ErrNonASCII},
		{DataCodingLatin1, []byte{0x63, 0xE9}, "cé", nil},
		{DataCodingUCS2, []byte{0xD8, 0x3D, 0xDE, 0x00}, "😀", nil},
		{DataCodingUCS2, []byte{0xD8, 0x3D}, "", ErrUnpairedSurrogate},
		{DataCodingOctet, []byte{1}, "", ErrBinaryDataCoding},
		{DataCodingBinary, []byte{1}, "", ErrBinaryDataCoding},
		{0xF4, []byte{1}, "", ErrBinaryDataCoding},
		{0x09, []byte{1}, "", ErrUnsupportedDataCoding},
	}
	for _, c := range cases {
		got, err := Decode(c.dc, c.in)
		if got != c.want || !errors.Is(err, c.err) {
			t.Errorf("Decode(%v, %x) = %q, %v; want %q, %v", c.dc, c.in, got, err, c.want, c.err)
		}
	}
	packed, _ := EncodeGSM7Packed("ABCDEFG")
	if got, err := DecodePacked(DataCodingDefault, packed); err != nil || got != "ABCDEFG" {
		t.Errorf("DecodePacked = %q, %v", got, err)
	}
	if got, err := DecodePacked(DataCodingUCS2, []byte{0, 0x41}); err != nil || got != "A" {
		t.Errorf("DecodePacked(UCS2) = %q, %v", got, err)
	}
}

func TestNames(t *testing.T) {
	for v, want := range map[interface{ String() string }]string{
		DataCodingDefault: "SMSC default (0x00)", DataCodingUCS2: "UCS-2 (0x08)", DataCoding(0xF1): "data_coding(0xF1)",
		GSM7: "GSM7", UCS2: "UCS2", Latin1: "Latin1", Encoding(0): "Encoding(0)",
		ConcatUDH8: "UDH8", ConcatSAR: "SAR", Concat(9): "Concat(9)",
	} {
		if got := v.String(); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
	}
	for enc, dc := range map[Encoding]DataCoding{GSM7: 0x00, UCS2: 0x08, Latin1: 0x03} {
		if enc.DataCoding() != dc {
			t.Errorf("%v.DataCoding() = %v", enc, enc.DataCoding())
		}
	}
}

func TestChoose(t *testing.T) {
	cases := []struct {
		s   string
		enc Encoding
	}{
		{"", GSM7},
		{"Hello {world} €5 Ünïcode? no: ï", UCS2}, // ï is not GSM
		{"Hello {world} €5 Ü", GSM7},
		{"नमस्ते", UCS2},
		{"ok 😀", UCS2},
		{"café", GSM7}, // é is 0x05 in the default alphabet
	}
	for _, c := range cases {
		enc, b, err := Choose(c.s)
		if err != nil || enc != c.enc {
			t.Errorf("Choose(%q) = %v, %v; want %v", c.s, enc, err, c.enc)
			continue
		}
		if got, err := Decode(enc.DataCoding(), b); err != nil || got != c.s {
			t.Errorf("Choose(%q) bytes decode to %q, %v", c.s, got, err)
		}
	}
	var ie *InvalidUTF8Error
	if _, _, err := Choose("नम\xff"); !errors.As(err, &ie) || ie.Index != 2 || ie.Offset != 6 {
		t.Errorf("Choose(invalid UTF-8) error = %v", err)
	}
	if _, err := Encode(Encoding(0), "x"); !errors.Is(err, ErrInvalidEncoding) {
		t.Errorf("Encode(0) error = %v", err)
	}
}
