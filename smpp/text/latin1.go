package text

import (
	"strings"
	"unicode/utf8"
)

// AppendLatin1 appends s to dst as ISO-8859-1 (data_coding 0x03). Characters
// above U+00FF, including '€' (which is in Windows-1252, not Latin-1), fail
// with *UnencodableError; on error dst is returned unchanged.
func AppendLatin1(dst []byte, s string) ([]byte, error) {
	orig := len(dst)
	n := 0
	for i := 0; i < len(s); n++ {
		c := s[i]
		if c < utf8.RuneSelf {
			dst = append(dst, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			return dst[:orig], &InvalidUTF8Error{Index: n, Offset: i}
		case r > 0xFF:
			return dst[:orig], &UnencodableError{Encoding: Latin1, Rune: r, Index: n, Offset: i}
		}
		dst = append(dst, byte(r))
		i += size
	}
	return dst, nil
}

// EncodeLatin1 returns s as ISO-8859-1; see AppendLatin1.
func EncodeLatin1(s string) ([]byte, error) {
	return AppendLatin1(make([]byte, 0, len(s)), s)
}

// DecodeLatin1 decodes ISO-8859-1. Every octet is a character (0x80-0x9F are
// the C1 controls), so decoding cannot fail.
func DecodeLatin1(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b) + len(b)/4)
	for _, c := range b {
		if c < utf8.RuneSelf {
			sb.WriteByte(c)
		} else {
			sb.WriteRune(rune(c))
		}
	}
	return sb.String()
}
