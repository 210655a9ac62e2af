package text

import (
	"strings"
	"unicode/utf8"
)

const (
	septetEscape = 0x1B // switches to the extension table for one septet
	septetCR     = 0x0D // carriage return; also the 3GPP padding character
)

// gsmBasic is the GSM 03.38 default alphabet indexed by septet. Entry 0x1B is
// the escape to the extension table, not a character.
var gsmBasic = [128]rune{
	'@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å',
	'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', 0x1B, 'Æ', 'æ', 'ß', 'É',
	' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/',
	'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?',
	'¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O',
	'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§',
	'¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
	'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à',
}

// gsmExtension is the basic extension table: the character for the septet
// that follows an escape. Zero marks an unassigned code.
var gsmExtension = [128]rune{
	0x0A: '\f',
	0x14: '^',
	0x28: '{',
	0x29: '}',
	0x2F: '\\',
	0x3C: '[',
	0x3D: '~',
	0x3E: ']',
	0x40: '|',
	0x65: '€',
}

// Reverse lookup, built from the tables above so that there is a single
// source of truth. An entry is gsmValid|septet, plus gsmExt when the septet
// must be preceded by an escape.
const (
	gsmValid = 1 << 15
	gsmExt   = 1 << 8
)

var (
	gsmFromLatin [256]uint16 // runes U+0000..U+00FF
	gsmFromGreek [32]uint16  // runes U+0390..U+03AF
	gsmFromEuro  uint16      // rune U+20AC
)

func init() {
	set := func(r rune, code uint16) {
		switch {
		case r < 0x100:
			gsmFromLatin[r] = code
		case r >= 0x390 && r < 0x3B0:
			gsmFromGreek[r-0x390] = code
		case r == '€':
			gsmFromEuro = code
		default:
			panic("text: GSM table rune outside lookup ranges")
		}
	}
	for septet, r := range gsmBasic {
		if septet != septetEscape {
			set(r, gsmValid|uint16(septet))
		}
	}
	for septet, r := range gsmExtension {
		if r != 0 {
			set(r, gsmValid|gsmExt|uint16(septet))
		}
	}
}

// gsmLookup returns the table entry for r, or 0 if r is not in the default
// alphabet or the basic extension table.
func gsmLookup(r rune) uint16 {
	switch {
	case uint32(r) < 0x100:
		return gsmFromLatin[r]
	case r >= 0x390 && r < 0x3B0:
		return gsmFromGreek[r-0x390]
	case r == '€':
		return gsmFromEuro
	}
	return 0
}

// IsGSM7 reports whether every character of s is in the GSM 03.38 default
// alphabet or its basic extension table. It is false for invalid UTF-8.
func IsGSM7(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if gsmFromLatin[c] == 0 {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if gsmLookup(r) == 0 { // also catches RuneError from invalid UTF-8
			return false
		}
		i += size
	}
	return true
}

// AppendGSM7 appends s to dst as unpacked GSM 7-bit: one septet per octet,
// extension characters as the escape 0x1B followed by their code. This is the
// form SMSCs expect in short_message for data_coding 0. On error dst is
// returned unchanged and the error is an *UnencodableError or
// *InvalidUTF8Error.
func AppendGSM7(dst []byte, s string) ([]byte, error) {
	orig := len(dst)
	n := 0
	for i := 0; i < len(s); n++ {
		c := s[i]
		if c < utf8.RuneSelf {
			code := gsmFromLatin[c]
			switch {
			case code&gsmExt != 0:
				dst = append(dst, septetEscape, byte(code))
			case code != 0:
				dst = append(dst, byte(code))
			default:
				return dst[:orig], &UnencodableError{Encoding: GSM7, Rune: rune(c), Index: n, Offset: i}
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return dst[:orig], &InvalidUTF8Error{Index: n, Offset: i}
		}
		code := gsmLookup(r)
		switch {
		case code&gsmExt != 0:
			dst = append(dst, septetEscape, byte(code))
		case code != 0:
			dst = append(dst, byte(code))
		default:
			return dst[:orig], &UnencodableError{Encoding: GSM7, Rune: r, Index: n, Offset: i}
		}
		i += size
	}
	return dst, nil
}

// EncodeGSM7 returns s as unpacked GSM 7-bit; see AppendGSM7.
func EncodeGSM7(s string) ([]byte, error) {
	return AppendGSM7(make([]byte, 0, len(s)+len(s)/8), s)
}

// DecodeGSM7 decodes unpacked GSM 7-bit (one septet per octet).
//
// Following TS 23.038, an escape followed by a code that has no extension
// character decodes as the default-alphabet character for that code, and an
// escape followed by another escape (reserved for a future extension table)
// decodes as a space. Octets above 0x7F and a trailing lone escape, which can
// only come from a broken sender, are reported as a *DecodeError wrapping
// ErrInvalidSeptet or ErrTruncatedEscape.
func DecodeGSM7(b []byte) (string, error) {
	var sb strings.Builder
	sb.Grow(len(b))
	if err := decodeSeptets(&sb, b); err != nil {
		return "", err
	}
	return sb.String(), nil
}

func decodeSeptets(sb *strings.Builder, septets []byte) error {
	for i := 0; i < len(septets); i++ {
		c := septets[i]
		if c >= 0x80 {
			return &DecodeError{Encoding: "GSM7", Offset: i, Err: ErrInvalidSeptet}
		}
		if c != septetEscape {
			if r := gsmBasic[c]; r < utf8.RuneSelf {
				sb.WriteByte(byte(r))
			} else {
				sb.WriteRune(r)
			}
			continue
		}
		i++
		if i == len(septets) {
			return &DecodeError{Encoding: "GSM7", Offset: i - 1, Err: ErrTruncatedEscape}
		}
		c = septets[i]
		switch {
		case c >= 0x80:
			return &DecodeError{Encoding: "GSM7", Offset: i, Err: ErrInvalidSeptet}
		case c == septetEscape:
			sb.WriteByte(' ')
		case gsmExtension[c] != 0:
			sb.WriteRune(gsmExtension[c])
		default:
			sb.WriteRune(gsmBasic[c])
		}
	}
	return nil
}
