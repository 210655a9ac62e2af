package text

import (
	"strings"
	"unicode/utf8"
)

const (
	surrogateMin  = 0xD800
	lowSurrogate  = 0xDC00
	surrogateMax  = 0xDFFF
	surrogateBase = 0x10000
)

// AppendUCS2 appends s to dst as UTF-16BE, the de facto meaning of SMPP
// data_coding 0x08. Characters above U+FFFF (emoji, some CJK) become
// surrogate pairs, which every current handset displays; pure UCS-2 could not
// represent them at all. Only invalid UTF-8 fails, with *InvalidUTF8Error; on
// error dst is returned unchanged.
func AppendUCS2(dst []byte, s string) ([]byte, error) {
	orig := len(dst)
	n := 0
	for i := 0; i < len(s); n++ {
		c := s[i]
		if c < utf8.RuneSelf {
			dst = append(dst, 0, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return dst[:orig], &InvalidUTF8Error{Index: n, Offset: i}
		}
		if r < surrogateBase {
			dst = append(dst, byte(r>>8), byte(r))
		} else {
			r -= surrogateBase
			hi, lo := surrogateMin+(r>>10), lowSurrogate+(r&0x3FF)
			dst = append(dst, byte(hi>>8), byte(hi), byte(lo>>8), byte(lo))
		}
		i += size
	}
	return dst, nil
}

// EncodeUCS2 returns s as UTF-16BE; see AppendUCS2.
func EncodeUCS2(s string) ([]byte, error) {
	return AppendUCS2(make([]byte, 0, 2*len(s)), s)
}

// DecodeUCS2 decodes UTF-16BE. An odd length or an unpaired surrogate is a
// *DecodeError wrapping ErrOddLength or ErrUnpairedSurrogate rather than a
// U+FFFD, because either means the message was cut or mis-encoded upstream
// and the caller should know.
func DecodeUCS2(b []byte) (string, error) {
	if len(b)%2 != 0 {
		return "", &DecodeError{Encoding: "UCS2", Offset: len(b) - 1, Err: ErrOddLength}
	}
	var sb strings.Builder
	sb.Grow(len(b) + len(b)/2) // exact for BMP text above U+07FF, e.g. Devanagari
	for i := 0; i < len(b); i += 2 {
		u := rune(b[i])<<8 | rune(b[i+1])
		switch {
		case u < utf8.RuneSelf:
			sb.WriteByte(byte(u))
		case u < surrogateMin || u > surrogateMax:
			sb.WriteRune(u)
		case u < lowSurrogate && i+3 < len(b):
			lo := rune(b[i+2])<<8 | rune(b[i+3])
			if lo < lowSurrogate || lo > surrogateMax {
				return "", &DecodeError{Encoding: "UCS2", Offset: i, Err: ErrUnpairedSurrogate}
			}
			sb.WriteRune(surrogateBase + (u-surrogateMin)<<10 + (lo - lowSurrogate))
			i += 2
		default: // lone low surrogate, or high surrogate at the end
			return "", &DecodeError{Encoding: "UCS2", Offset: i, Err: ErrUnpairedSurrogate}
		}
	}
	return sb.String(), nil
}
