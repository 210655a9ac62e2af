package text

import "fmt"

// DataCoding is the SMPP 3.4 data_coding field (section 5.2.19). It tells the
// SMSC, and the handset after it, how to interpret short_message octets.
type DataCoding uint8

// The data_coding values this package encodes or recognises.
const (
	// DataCodingDefault is the SMSC default alphabet. For practically every
	// SMSC, and for this package, that is the GSM 03.38 7-bit alphabet,
	// usually carried unpacked (one septet per octet).
	DataCodingDefault DataCoding = 0x00
	// DataCodingIA5 is IA5 (CCITT T.50), i.e. 7-bit ASCII.
	DataCodingIA5 DataCoding = 0x01
	// DataCodingOctet is "octet unspecified (8-bit binary)".
	DataCodingOctet DataCoding = 0x02
	// DataCodingLatin1 is ISO-8859-1.
	DataCodingLatin1 DataCoding = 0x03
	// DataCodingBinary is also "octet unspecified (8-bit binary)"; unlike
	// 0x02 it maps directly to the GSM 03.38 8-bit data coding, so it is the
	// value to use for binary SMS (WAP push, OTA).
	DataCodingBinary DataCoding = 0x04
	// DataCodingUCS2 is ISO/IEC 10646 UCS-2; in practice UTF-16BE.
	DataCodingUCS2 DataCoding = 0x08
)

// String returns the SMPP name of the data coding, or its hex value.
func (dc DataCoding) String() string {
	switch dc {
	case DataCodingDefault:
		return "SMSC default (0x00)"
	case DataCodingIA5:
		return "IA5/ASCII (0x01)"
	case DataCodingOctet:
		return "octet (0x02)"
	case DataCodingLatin1:
		return "Latin-1 (0x03)"
	case DataCodingBinary:
		return "octet (0x04)"
	case DataCodingUCS2:
		return "UCS-2 (0x08)"
	}
	return fmt.Sprintf("data_coding(0x%02X)", uint8(dc))
}

// Encoding is a text encoding this package can produce. Its zero value is
// invalid, so a forgotten field is caught instead of silently meaning GSM7.
type Encoding uint8

const (
	// GSM7 is the GSM 03.38 default alphabet with the basic extension table.
	// Lengths are counted in septets; extension characters take two.
	GSM7 Encoding = iota + 1
	// UCS2 is UTF-16BE (surrogate pairs allowed, despite the name). Lengths
	// are counted in UTF-16 code units; characters above U+FFFF take two.
	UCS2
	// Latin1 is ISO-8859-1. Lengths are counted in octets.
	Latin1
)

// String returns the encoding's name.
func (e Encoding) String() string {
	switch e {
	case GSM7:
		return "GSM7"
	case UCS2:
		return "UCS2"
	case Latin1:
		return "Latin1"
	}
	return fmt.Sprintf("Encoding(%d)", uint8(e))
}

// DataCoding returns the data_coding value to send with text in this
// encoding, or DataCodingDefault for an invalid Encoding.
func (e Encoding) DataCoding() DataCoding {
	switch e {
	case UCS2:
		return DataCodingUCS2
	case Latin1:
		return DataCodingLatin1
	}
	return DataCodingDefault
}

func (e Encoding) valid() bool { return e >= GSM7 && e <= Latin1 }

// AppendEncode appends s encoded in enc to dst. GSM7 is written unpacked (one
// septet per octet). On error dst is returned unchanged.
func AppendEncode(dst []byte, enc Encoding, s string) ([]byte, error) {
	switch enc {
	case GSM7:
		return AppendGSM7(dst, s)
	case UCS2:
		return AppendUCS2(dst, s)
	case Latin1:
		return AppendLatin1(dst, s)
	}
	return dst, ErrInvalidEncoding
}

// Encode returns s encoded in enc. GSM7 is written unpacked.
func Encode(enc Encoding, s string) ([]byte, error) {
	return AppendEncode(nil, enc, s)
}

// Decode decodes short_message or message_payload octets according to the
// PDU's data_coding. Data coding 0x00 (and the 7-bit message class group
// 0xF0-0xF3) is taken as unpacked GSM 7-bit, which is what SMSCs send in
// SMPP; use DecodePacked for an SMSC that sends packed septets.
//
// The octets must not include a UDH: strip it first when esm_class has UDHI.
// Binary and unknown data codings yield a *DataCodingError.
func Decode(dc DataCoding, b []byte) (string, error) {
	return decode(dc, b, false)
}

// DecodePacked is Decode for SMSCs that carry data coding 0x00 as 7-bit
// packed septets (with no fill bits). Other data codings decode as in Decode.
func DecodePacked(dc DataCoding, b []byte) (string, error) {
	return decode(dc, b, true)
}

func decode(dc DataCoding, b []byte, packed bool) (string, error) {
	switch {
	case dc == DataCodingDefault || dc&0xF4 == 0xF0:
		if packed {
			return DecodeGSM7Packed(b, 0)
		}
		return DecodeGSM7(b)
	case dc == DataCodingIA5:
		return decodeIA5(b)
	case dc == DataCodingLatin1:
		return DecodeLatin1(b), nil
	case dc == DataCodingUCS2:
		return DecodeUCS2(b)
	case dc == DataCodingOctet || dc == DataCodingBinary || dc&0xF4 == 0xF4:
		return "", &DataCodingError{DataCoding: dc, Err: ErrBinaryDataCoding}
	}
	return "", &DataCodingError{DataCoding: dc, Err: ErrUnsupportedDataCoding}
}

// decodeIA5 decodes 7-bit ASCII, rejecting octets above 0x7F rather than
// guessing at an 8-bit code page.
func decodeIA5(b []byte) (string, error) {
	for i, c := range b {
		if c >= 0x80 {
			return "", &DecodeError{Encoding: "IA5", Offset: i, Err: ErrNonASCII}
		}
	}
	return string(b), nil
}
