package text

import (
	"strings"
	"testing"
)

// firstRunes returns the first n characters of s repeated as needed.
func firstRunes(s string, n int) string {
	return string([]rune(strings.Repeat(s, n))[:n])
}

var (
	benchGSM  = firstRunes("Your OTP is 123456. Valid 10 min {€} ", 160)   // 160 chars, 166 septets
	benchUCS2 = firstRunes("आपका ओटीपी 123456 है। 😀 ", 160)                // 160 chars with emoji
	benchHi   = firstRunes("नमस्ते दुनिया, यह एक परीक्षण संदेश है। ", 500) // 500 chars of Hindi
)

func BenchmarkAppendGSM7(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 0, 256)
	for b.Loop() {
		buf, _ = AppendGSM7(buf[:0], benchGSM)
	}
}

func BenchmarkAppendGSM7Packed(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 0, 256)
	for b.Loop() {
		buf, _ = AppendGSM7Packed(buf[:0], benchGSM, 0)
	}
}

func BenchmarkDecodeGSM7(b *testing.B) {
	enc, _ := EncodeGSM7(benchGSM)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = DecodeGSM7(enc)
	}
}

func BenchmarkDecodeGSM7Packed(b *testing.B) {
	enc, _ := EncodeGSM7Packed(benchGSM)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = DecodeGSM7Packed(enc, 0)
	}
}

func BenchmarkAppendUCS2(b *testing.B) {
	s := benchUCS2
	b.ReportAllocs()
	buf := make([]byte, 0, 512)
	for b.Loop() {
		buf, _ = AppendUCS2(buf[:0], s)
	}
}

func BenchmarkDecodeUCS2(b *testing.B) {
	enc, _ := EncodeUCS2(benchUCS2)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = DecodeUCS2(enc)
	}
}

func BenchmarkChooseEncoding(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_, _ = ChooseEncoding(benchGSM)
	}
}

func BenchmarkCountHindi500(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_, _ = Count(benchHi, UCS2, Options{})
	}
}

func BenchmarkSplitHindi500(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_, _ = Split(benchHi, UCS2, Options{Ref: 1})
	}
}

func BenchmarkSplitGSM7Packed500(b *testing.B) {
	s := firstRunes(benchGSM, 500)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = Split(s, GSM7, Options{Ref: 1, PackGSM7: true})
	}
}
