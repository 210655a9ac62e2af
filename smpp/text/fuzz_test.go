package text

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzDecode feeds arbitrary octets to every decoder: none may panic, and
// decoders of bijective encodings must round-trip what they accept.
func FuzzDecode(f *testing.F) {
	f.Add([]byte("hello"), byte(0), byte(0))
	f.Add([]byte{0x1B}, byte(0), byte(1))
	f.Add([]byte{0x1B, 0x1B, 0x1B, 0x65}, byte(0xF0), byte(6))
	f.Add([]byte{0xD8, 0x3D, 0xDE, 0x00}, byte(8), byte(0))
	f.Add([]byte{0xD8, 0x3D}, byte(8), byte(0))
	f.Add([]byte{0xDE, 0x00, 0x00}, byte(8), byte(0))
	f.Add([]byte{0x41, 0xE1, 0x90, 0x58, 0x34, 0x1E, 0x1B}, byte(0), byte(0))
	f.Add([]byte{0xFF, 0x80}, byte(3), byte(0))
	f.Fuzz(func(t *testing.T, b []byte, dc, fill byte) {
		_, _ = Decode(DataCoding(dc), b)
		_, _ = DecodePacked(DataCoding(dc), b)
		if s, err := DecodeGSM7(b); err == nil && !utf8.ValidString(s) {
			t.Fatalf("DecodeGSM7 produced invalid UTF-8 %q", s)
		}
		if s, err := DecodeGSM7Packed(b, int(fill%7)); err == nil && !utf8.ValidString(s) {
			t.Fatalf("DecodeGSM7Packed produced invalid UTF-8 %q", s)
		}
		_ = UnpackSeptets(nil, b, int(fill%7))
		if s, err := DecodeUCS2(b); err == nil {
			back, err := EncodeUCS2(s)
			if err != nil || !bytes.Equal(back, b) {
				t.Fatalf("UCS-2 %x decoded to %q, re-encoded to %x, %v", b, s, back, err)
			}
		}
		s := DecodeLatin1(b)
		if back, err := EncodeLatin1(s); err != nil || !bytes.Equal(back, b) {
			t.Fatalf("Latin-1 %x decoded to %q, re-encoded to %x, %v", b, s, back, err)
		}
	})
}

// FuzzEncodeGSM7 checks that GSM7 encoding either round-trips (unpacked and
// packed at every fill) or names exactly the offending character.
func FuzzEncodeGSM7(f *testing.F) {
	for _, s := range []string{"", "hello", "ABCDEFG", "ABCDEFG\r", "€{}[]~^|\\\f", "नमस्ते", "ok 😀", "a\xffb", "ç", "`"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		unpacked, err := EncodeGSM7(s)
		if err != nil {
			var ue *UnencodableError
			var ie *InvalidUTF8Error
			switch {
			case errors.As(err, &ue):
				r, _ := utf8.DecodeRuneInString(s[ue.Offset:])
				if r != ue.Rune || utf8.RuneCountInString(s[:ue.Offset]) != ue.Index || gsmLookup(r) != 0 {
					t.Fatalf("wrong UnencodableError %+v for %q", ue, s)
				}
			case errors.As(err, &ie):
				if r, size := utf8.DecodeRuneInString(s[ie.Offset:]); r != utf8.RuneError || size != 1 {
					t.Fatalf("wrong InvalidUTF8Error %+v for %q", ie, s)
				}
			default:
				t.Fatalf("untyped error %v", err)
			}
			if IsGSM7(s) {
				t.Fatalf("IsGSM7(%q) but encoding failed", s)
			}
			return
		}
		if !IsGSM7(s) {
			t.Fatalf("IsGSM7(%q) false but encoding succeeded", s)
		}
		if got, err := DecodeGSM7(unpacked); err != nil || got != s {
			t.Fatalf("unpacked %q -> %x -> %q, %v", s, unpacked, got, err)
		}
		for fill := 0; fill <= 6; fill++ {
			packed, err := AppendGSM7Packed(nil, s, fill)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeGSM7Packed(packed, fill)
			if err != nil || (got != s && !(strings.HasSuffix(s, "\r") && got == s+"\r")) {
				t.Fatalf("packed (fill %d) %q -> %x -> %q, %v", fill, s, packed, got, err)
			}
		}
	})
}

// FuzzSplit checks the central promise: any valid UTF-8 text, split with
// the automatically chosen encoding and any method, decodes part by part and
// joins back to itself, or fails with a typed error.
func FuzzSplit(f *testing.F) {
	f.Add("hello", byte(0), uint16(1), false)
	f.Add(strings.Repeat("a", 152)+"€"+strings.Repeat("b", 20), byte(0), uint16(300), false)
	f.Add(strings.Repeat("a", 152)+"\r"+strings.Repeat("b", 20), byte(0), uint16(2), true)
	f.Add(strings.Repeat("न", 66)+"😀"+strings.Repeat("म", 10), byte(1), uint16(0xFFFF), false)
	f.Add(strings.Repeat("नमस्ते 😀 ", 40), byte(2), uint16(7), false)
	f.Add(strings.Repeat("{€}", 60), byte(5), uint16(8), true)
	f.Add(strings.Repeat("x", 153*255+1), byte(0), uint16(0), false)
	f.Add("bad \xff utf8", byte(0), uint16(0), false)
	f.Fuzz(func(t *testing.T, s string, method byte, ref uint16, packed bool) {
		enc, err := ChooseEncoding(s)
		if !utf8.ValidString(s) {
			var ie *InvalidUTF8Error
			if !errors.As(err, &ie) {
				t.Fatalf("ChooseEncoding(invalid UTF-8) error = %v", err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		opts := Options{
			Concat:       Concat(method % 4),
			Ref:          ref,
			PackGSM7:     packed,
			SARFullParts: method&4 != 0,
		}
		parts, err := Split(s, enc, opts)
		if err != nil {
			var tm *TooManyPartsError
			if errors.As(err, &tm) && tm.Parts > 255 {
				if info, cerr := Count(s, enc, opts); info.Parts != tm.Parts || !errors.As(cerr, &tm) {
					t.Fatalf("Count = %+v, %v; Split said %d parts", info, cerr, tm.Parts)
				}
				return
			}
			if errors.Is(err, ErrPayloadTooLong) && opts.Concat == ConcatPayload {
				return
			}
			t.Fatalf("Split: %v", err)
		}
		verifySplit(t, s, enc, opts, parts)
	})
}
