package text

import (
	"fmt"
	"unicode/utf8"
)

// Concat selects how text too long for one SMS is delivered.
type Concat uint8

const (
	// ConcatUDH8 splits into parts that each start with a concatenation UDH
	// with an 8-bit reference (05 00 03 ref total seq). The caller must set
	// UDHI (0x40) in esm_class. It is the zero value because it is what
	// SMSCs and handsets support most widely.
	ConcatUDH8 Concat = iota
	// ConcatUDH16 is ConcatUDH8 with a 16-bit reference
	// (06 08 04 refHi refLo total seq), which makes reference collisions
	// rarer at the cost of one octet per part.
	ConcatUDH16
	// ConcatSAR splits into parts without a UDH; the caller ties them
	// together with the sar_msg_ref_num, sar_total_segments and
	// sar_segment_seqnum TLVs (0x020C, 0x020E, 0x020F) from each Part. The
	// SMSC builds the UDH, so each part may carry a full single SMS.
	ConcatSAR
	// ConcatPayload does not split: the whole text becomes one Part for the
	// message_payload TLV (0x0424), and the SMSC segments it.
	ConcatPayload
)

// String returns the method's name.
func (c Concat) String() string {
	switch c {
	case ConcatUDH8:
		return "UDH8"
	case ConcatUDH16:
		return "UDH16"
	case ConcatSAR:
		return "SAR"
	case ConcatPayload:
		return "payload"
	}
	return fmt.Sprintf("Concat(%d)", uint8(c))
}

// MaxParts is the most parts a concatenated message can have: the total and
// sequence number fields are one octet.
const MaxParts = 255

// Options control Split and Count. The zero value means: 8-bit reference
// UDH, reference 0, up to 255 parts, unpacked GSM7.
type Options struct {
	// Concat is the concatenation method.
	Concat Concat
	// Ref is the concatenation reference shared by all parts of one message.
	// It must differ between messages in flight to the same destination, so
	// the caller allocates it (e.g. from a per-destination counter); this
	// package keeps no state. With ConcatUDH8 only the low 8 bits are sent,
	// and Part.Ref reports the value actually used.
	Ref uint16
	// MaxParts, when non-zero, lowers the part limit below 255, e.g. to cap
	// what one submit can cost. Values outside 0..255 are an error.
	MaxParts int
	// PackGSM7 makes GSM7 parts 7-bit packed (with fill bits after the UDH
	// and the TS 23.038 <CR> padding rules) instead of one septet per octet.
	// Only enable it for SMSCs that expect packed data_coding 0. It is
	// ignored for other encodings.
	PackGSM7 bool
	// SARFullParts makes ConcatSAR parts as large as a single SMS (160
	// septets, 70 UTF-16 units, 140 octets). By default SAR parts are no
	// larger than ConcatUDH8 parts (153, 67, 134): a GSM SMSC has to turn the
	// SAR TLVs into a concatenation UDH inside the 140-octet TPDU, so
	// full-size parts only work with SMSCs that re-segment or use another
	// bearer. Set it only for an SMSC known to accept them.
	SARFullParts bool
}

// Part is one short message of a split text.
type Part struct {
	// Data is the octets for short_message (or message_payload with
	// ConcatPayload): the UDH, if any, followed by the encoded text.
	Data []byte
	// UDHLen is the number of leading octets of Data that are the User Data
	// Header, including its length octet; 0 when there is none. When it is
	// non-zero the caller must set UDHI (0x40) in esm_class.
	UDHLen int
	// Ref, Total and Seq (1-based) identify the part. With ConcatSAR they
	// are the values of sar_msg_ref_num, sar_total_segments and
	// sar_segment_seqnum. When Total is 1 the text was not split and no
	// UDH or SAR TLVs must be sent.
	Ref   uint16
	Total uint8
	Seq   uint8
}

// UDH returns the User Data Header of the part, or nil.
func (p Part) UDH() []byte {
	if p.UDHLen == 0 {
		return nil
	}
	return p.Data[:p.UDHLen]
}

// Text returns the encoded text of the part, without the UDH. Packed GSM7
// text starts after FillBits(p.UDHLen) fill bits.
func (p Part) Text() []byte { return p.Data[p.UDHLen:] }

// Info describes how a text would be sent, like an SMS length calculator.
// Lengths are in the encoding's units: septets for GSM7 (extension
// characters count two), UTF-16 code units for UCS2 (characters above U+FFFF
// count two) and octets for Latin1.
type Info struct {
	Encoding Encoding
	Runes    int // characters (Unicode code points) in the text
	Units    int // encoded length of the text in units
	Parts    int // number of SMS parts
	// PerPart is the capacity of each part in units: the single-message
	// capacity when Parts is 1, otherwise the capacity of a concatenated
	// part (e.g. 160 or 153 for GSM7 with ConcatUDH8).
	PerPart int
	// Remaining is how many more units fit in the last part before another
	// part is needed (before a single message becomes concatenated).
	// Parts can hold fewer units than PerPart because an extension
	// character or surrogate pair is never split, so this is exact only for
	// characters of width one.
	Remaining int
}

const (
	smsOctets        = 140   // user data octets of one SMS TPDU
	payloadMaxOctets = 65535 // message_payload TLV length is 16 bits
)

// layout is the capacity arithmetic for one encoding and set of options.
type layout struct {
	enc      Encoding
	concat   Concat
	packed   bool // GSM7 sent 7-bit packed
	single   int  // units when sent whole (one SMS, or message_payload)
	perPart  int  // units in each part of a concatenated message
	udhLen   int  // octets of UDH in each concatenated part
	fill     int  // fill bits before packed septets in a concatenated part
	maxParts int
}

func newLayout(enc Encoding, opts Options) (layout, error) {
	if !enc.valid() {
		return layout{}, ErrInvalidEncoding
	}
	if opts.MaxParts < 0 || opts.MaxParts > MaxParts {
		return layout{}, fmt.Errorf("%w: MaxParts %d outside 0..%d", ErrInvalidOptions, opts.MaxParts, MaxParts)
	}
	l := layout{
		enc:      enc,
		concat:   opts.Concat,
		packed:   opts.PackGSM7 && enc == GSM7,
		maxParts: opts.MaxParts,
	}
	if l.maxParts == 0 {
		l.maxParts = MaxParts
	}
	switch opts.Concat {
	case ConcatUDH8:
		l.udhLen = 6
	case ConcatUDH16:
		l.udhLen = 7
	case ConcatSAR:
	case ConcatPayload:
		l.single = l.payloadUnits()
		l.perPart = l.single
		return l, nil
	default:
		return layout{}, fmt.Errorf("%w: unknown concatenation method %v", ErrInvalidOptions, opts.Concat)
	}
	l.single = l.smsUnits(0)
	l.perPart = l.smsUnits(l.udhLen)
	if opts.Concat == ConcatSAR && !opts.SARFullParts {
		l.perPart = l.smsUnits(6) // room for the UDH the SMSC will add
	}
	if l.packed {
		l.fill = FillBits(l.udhLen)
	}
	return l, nil
}

// smsUnits is how many units fit in one SMS after a UDH of udhLen octets.
// GSM7 is counted in septets of the TPDU even when SMPP carries it
// unpacked, because the SMSC packs it: 160 alone, 153 after the 6-octet UDH
// (48 bits + 1 fill bit = 7 septets), 152 after the 7-octet one.
func (l layout) smsUnits(udhLen int) int {
	switch l.enc {
	case GSM7:
		return (smsOctets - udhLen) * 8 / 7
	case UCS2:
		return (smsOctets - udhLen) / 2
	}
	return smsOctets - udhLen
}

// payloadUnits is how many units fit in the message_payload TLV.
func (l layout) payloadUnits() int {
	switch {
	case l.packed:
		return payloadMaxOctets * 8 / 7
	case l.enc == UCS2:
		return payloadMaxOctets / 2
	}
	return payloadMaxOctets
}

// maxOctets is an upper bound on the encoded octets of n units.
func (l layout) maxOctets(n int) int {
	switch {
	case l.packed:
		return (7*n+6)/8 + 1
	case l.enc == UCS2:
		return 2 * n
	}
	return n
}

// width is the units taken by r, which must be encodable.
func (l layout) width(r rune) int {
	switch l.enc {
	case GSM7:
		if gsmLookup(r)&gsmExt != 0 {
			return 2
		}
	case UCS2:
		if r >= surrogateBase {
			return 2
		}
	}
	return 1
}

// measure validates s for the encoding and returns its length in units and
// runes, and whether it ends with <CR>.
func (l layout) measure(s string) (units, runes int, lastCR bool, err error) {
	for i := 0; i < len(s); runes++ {
		r, size := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				return 0, 0, false, &InvalidUTF8Error{Index: runes, Offset: i}
			}
		}
		switch l.enc {
		case GSM7:
			code := gsmLookup(r)
			if code == 0 {
				return 0, 0, false, &UnencodableError{Encoding: GSM7, Rune: r, Index: runes, Offset: i}
			}
			units++
			if code&gsmExt != 0 {
				units++
			}
		case UCS2:
			units++
			if r >= surrogateBase {
				units++
			}
		case Latin1:
			if r > 0xFF {
				return 0, 0, false, &UnencodableError{Encoding: Latin1, Rune: r, Index: runes, Offset: i}
			}
			units++
		}
		i += size
	}
	return units, runes, len(s) > 0 && s[len(s)-1] == '\r', nil
}

// partEmitter receives each part as the byte range s[start:end] and its
// length in units, including an extra <CR> septet when packing needs one.
type partEmitter func(start, end, units int)

// plan cuts s, already measured, into parts, greedily filling each part but
// cutting only between characters, so surrogate pairs and escape sequences
// stay whole. It calls emit, if not nil, for each part and returns the number
// of parts and the units in the last one.
func (l layout) plan(s string, units int, lastCR bool, emit partEmitter) (parts, lastUnits int, err error) {
	if l.packed && needsExtraCR(units, 0, lastCR) {
		units++
	}
	if units <= l.single {
		if emit != nil {
			emit(0, len(s), units)
		}
		return 1, units, nil
	}
	if l.concat == ConcatPayload {
		return 0, 0, fmt.Errorf("%w: %d units", ErrPayloadTooLong, units)
	}

	capacity, fill := l.perPart, l.fill
	start, n := 0, 0
	prevCR := false
	for i := 0; i < len(s); {
		r, size := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		w := l.width(r)
		if n+w > capacity {
			end := i
			if l.packed && needsExtraCR(n, fill, prevCR) {
				// The receiver would drop a <CR> ending on an octet
				// boundary as padding; start the next part with it.
				end--
				n--
			}
			if emit != nil {
				emit(start, end, n)
			}
			parts++
			start, n = end, i-end
		}
		n += w
		prevCR = r == '\r'
		i += size
	}
	if l.packed && needsExtraCR(n, fill, prevCR) {
		if n+1 <= capacity {
			n++ // room for the doubled <CR>
		} else {
			// No room: move the <CR> to a part of its own.
			if emit != nil {
				emit(start, len(s)-1, n-1)
			}
			parts++
			start, n = len(s)-1, 1
			if needsExtraCR(n, fill, true) {
				n++
			}
		}
	}
	if emit != nil {
		emit(start, len(s), n)
	}
	return parts + 1, n, nil
}

// Count reports how s would be sent in encoding enc with opts, without
// encoding it. Its part count always equals len(Split(s, enc, opts)). When
// the text needs more parts than allowed it returns the filled-in Info
// together with a *TooManyPartsError, so calculators can show the count.
func Count(s string, enc Encoding, opts Options) (Info, error) {
	l, err := newLayout(enc, opts)
	if err != nil {
		return Info{}, err
	}
	units, runes, lastCR, err := l.measure(s)
	if err != nil {
		return Info{}, err
	}
	parts, last, err := l.plan(s, units, lastCR, nil)
	if err != nil {
		return Info{}, err
	}
	info := Info{Encoding: enc, Runes: runes, Units: units, Parts: parts, PerPart: l.single}
	if parts > 1 {
		info.PerPart = l.perPart
	}
	info.Remaining = info.PerPart - last
	if parts > l.maxParts {
		return info, &TooManyPartsError{Parts: parts, Max: l.maxParts}
	}
	return info, nil
}

// Split encodes s in enc and cuts it into SMS parts according to opts. A
// text that fits one SMS (or any text with ConcatPayload) gives a single Part
// with Total 1 and no UDH. No part ever ends inside a character, a UTF-16
// surrogate pair or a GSM escape sequence, so each part decodes on its own
// and the decoded parts concatenate to s. (With PackGSM7 a text ending in
// <CR> may decode with that <CR> doubled; see AppendGSM7Packed.)
//
// All parts share one backing array, each capped so appending to one cannot
// overwrite another. Errors: *UnencodableError, *InvalidUTF8Error,
// *TooManyPartsError, ErrPayloadTooLong, ErrInvalidEncoding and
// ErrInvalidOptions.
func Split(s string, enc Encoding, opts Options) ([]Part, error) {
	l, err := newLayout(enc, opts)
	if err != nil {
		return nil, err
	}
	units, _, lastCR, err := l.measure(s)
	if err != nil {
		return nil, err
	}
	total, _, err := l.plan(s, units, lastCR, nil)
	if err != nil {
		return nil, err
	}
	if total > l.maxParts {
		return nil, &TooManyPartsError{Parts: total, Max: l.maxParts}
	}

	ref := opts.Ref
	udhLen := 0
	size := l.maxOctets(units + 1)
	if total > 1 {
		udhLen = l.udhLen
		size = total * (udhLen + l.maxOctets(l.perPart))
		if l.concat == ConcatUDH8 {
			ref &= 0xFF
		}
	}
	buf := make([]byte, 0, size)
	parts := make([]Part, 0, total)
	l.plan(s, units, lastCR, func(start, end, _ int) {
		if err != nil {
			return
		}
		off := len(buf)
		seq := uint8(len(parts) + 1)
		switch {
		case udhLen == 6:
			buf = append(buf, 5, 0x00, 3, byte(ref), uint8(total), seq)
		case udhLen == 7:
			buf = append(buf, 6, 0x08, 4, byte(ref>>8), byte(ref), uint8(total), seq)
		}
		text := s[start:end]
		switch {
		case l.packed:
			buf, err = AppendGSM7Packed(buf, text, FillBits(udhLen))
		case enc == GSM7:
			buf, err = AppendGSM7(buf, text)
		case enc == UCS2:
			buf, err = AppendUCS2(buf, text)
		default:
			buf, err = AppendLatin1(buf, text)
		}
		parts = append(parts, Part{
			Data:   buf[off:len(buf):len(buf)],
			UDHLen: udhLen,
			Ref:    ref,
			Total:  uint8(total),
			Seq:    seq,
		})
	})
	if err != nil { // cannot happen: s was validated by measure
		return nil, err
	}
	return parts, nil
}
