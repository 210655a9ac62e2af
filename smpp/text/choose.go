package text

import "unicode/utf8"

// ChooseEncoding returns GSM7 when every character of s is in the GSM 03.38
// default alphabet or basic extension table, and UCS2 otherwise. GSM7 is
// preferred because it carries 160 characters per SMS instead of 70. Latin-1
// is never chosen: handsets decode data_coding 0x03 inconsistently, and every
// Latin-1 text that is not GSM7 is safely sent as UCS2. The only error is
// *InvalidUTF8Error.
func ChooseEncoding(s string) (Encoding, error) {
	if IsGSM7(s) {
		return GSM7, nil
	}
	if i := invalidUTF8At(s); i >= 0 {
		return 0, &InvalidUTF8Error{Index: utf8.RuneCountInString(s[:i]), Offset: i}
	}
	return UCS2, nil
}

// Choose picks the encoding as ChooseEncoding does and returns s encoded in
// it (GSM7 unpacked, one septet per octet). Send the octets with
// enc.DataCoding().
func Choose(s string) (enc Encoding, encoded []byte, err error) {
	enc, err = ChooseEncoding(s)
	if err != nil {
		return 0, nil, err
	}
	encoded, err = Encode(enc, s)
	return enc, encoded, err
}

// invalidUTF8At returns the byte offset of the first invalid UTF-8 sequence
// in s, or -1.
func invalidUTF8At(s string) int {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return -1
}
