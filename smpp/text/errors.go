package text

import (
	"errors"
	"fmt"
)

// Sentinel errors. They are wrapped by the typed errors below, so callers can
// test for a class of failure with errors.Is and still get the position with
// errors.As.
var (
	// ErrOddLength reports UCS-2 data with an odd number of octets; UTF-16
	// code units are two octets, so the data was truncated or is not UCS-2.
	ErrOddLength = errors.New("odd number of octets in UCS-2 data")

	// ErrUnpairedSurrogate reports a UTF-16 high surrogate that is not
	// followed by a low surrogate, or a low surrogate with no high surrogate
	// before it. It typically means a sender cut an emoji in half at a part
	// boundary.
	ErrUnpairedSurrogate = errors.New("unpaired UTF-16 surrogate")

	// ErrInvalidSeptet reports an octet above 0x7F in unpacked GSM 7-bit data,
	// where every octet must hold a single septet.
	ErrInvalidSeptet = errors.New("octet is not a GSM 7-bit septet")

	// ErrTruncatedEscape reports GSM 7-bit data ending with the escape septet
	// 0x1B and no extension code after it. It typically means a sender split
	// an extension character such as '€' across two parts.
	ErrTruncatedEscape = errors.New("GSM 7-bit data ends with a lone escape")

	// ErrNonASCII reports an octet above 0x7F in IA5/ASCII data.
	ErrNonASCII = errors.New("octet is not ASCII")

	// ErrBinaryDataCoding reports an attempt to decode 8-bit binary data
	// (data_coding 0x02, 0x04 or class group 0xF4-0xF7) as text.
	ErrBinaryDataCoding = errors.New("data coding is 8-bit binary, not text")

	// ErrUnsupportedDataCoding reports a data_coding value this package has
	// no decoder for.
	ErrUnsupportedDataCoding = errors.New("unsupported data coding")

	// ErrInvalidEncoding reports an Encoding value that is not one of GSM7,
	// UCS2 or Latin1.
	ErrInvalidEncoding = errors.New("invalid encoding")

	// ErrInvalidOptions reports Options that cannot be honoured, such as an
	// unknown Concat method or MaxParts outside 0..255.
	ErrInvalidOptions = errors.New("invalid split options")

	// ErrPayloadTooLong reports text whose encoding does not fit the 65535
	// octets of a message_payload TLV.
	ErrPayloadTooLong = errors.New("encoded text exceeds message_payload limit of 65535 octets")
)

// UnencodableError reports a character that the target encoding cannot
// represent. It is returned instead of substituting '?' or passing the
// character through, so that the caller can pick another encoding (usually
// UCS2) or reject the message.
type UnencodableError struct {
	Encoding Encoding
	Rune     rune
	Index    int // position of Rune in the input, counted in runes from 0
	Offset   int // position of Rune in the input, counted in bytes from 0
}

func (e *UnencodableError) Error() string {
	return fmt.Sprintf("text: %v cannot encode %q (U+%04X) at character %d", e.Encoding, e.Rune, e.Rune, e.Index)
}

// InvalidUTF8Error reports input that is not valid UTF-8. Such input has no
// defined characters, so it cannot be encoded faithfully in any SMS alphabet.
type InvalidUTF8Error struct {
	Index  int // rune index at which the invalid byte sequence starts
	Offset int // byte offset at which the invalid byte sequence starts
}

func (e *InvalidUTF8Error) Error() string {
	return fmt.Sprintf("text: invalid UTF-8 at byte %d (character %d)", e.Offset, e.Index)
}

// DecodeError reports encoded data that is malformed for its encoding. Err is
// one of the sentinel errors (ErrOddLength, ErrUnpairedSurrogate,
// ErrInvalidSeptet, ErrTruncatedEscape, ErrNonASCII) and is returned by
// Unwrap.
type DecodeError struct {
	Encoding string // "GSM7", "UCS2", "IA5", ...
	Offset   int    // octet offset (for packed GSM7: septet index) of the problem
	Err      error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("text: decoding %s at offset %d: %v", e.Encoding, e.Offset, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// DataCodingError reports a data_coding that Decode cannot turn into text.
// Err is ErrBinaryDataCoding or ErrUnsupportedDataCoding.
type DataCodingError struct {
	DataCoding DataCoding
	Err        error
}

func (e *DataCodingError) Error() string {
	return fmt.Sprintf("text: data_coding %v: %v", e.DataCoding, e.Err)
}

func (e *DataCodingError) Unwrap() error { return e.Err }

// TooManyPartsError reports text that needs more concatenated parts than
// allowed: the protocol limit of 255 or the caller's Options.MaxParts.
type TooManyPartsError struct {
	Parts int // parts the text would need
	Max   int // the limit that was exceeded
}

func (e *TooManyPartsError) Error() string {
	return fmt.Sprintf("text: message needs %d parts, maximum is %d", e.Parts, e.Max)
}
