package text

import "strings"

// 7-bit packing (TS 23.038 section 6.1.2.1.1): septets are laid out
// least-significant bit first, so eight septets fill seven octets.
//
// The <CR> rules (TS 23.038 section 6.1.2.3.1) exist because SMPP, like Cell
// Broadcast, gives the length of packed data in octets, so the receiver infers
// the septet count as floor(bits/7):
//
//   - When the last octet has 7 spare bits, a receiver would read them as an
//     extra '@' (septet 0x00). The sender pads with <CR> instead, and the
//     receiver drops a final <CR> that ends exactly on an octet boundary.
//   - When the text itself ends with <CR> exactly on an octet boundary, the
//     receiver would drop it as padding, so the sender appends a second <CR>
//     (one more septet). The receiver then shows <CR><CR>, which TS 23.038
//     defines as equivalent to a single <CR>. This is the only case in which
//     packed GSM7 does not round-trip byte for byte, and it costs one septet.
//
// The fill bits used after a User Data Header are counted as part of the
// first octet: with fillBits f, the first septet starts at bit f of the first
// output octet, which is exactly where it lies in the TPDU when the UDH
// (including its length octet) is followed by f fill bits.

// checkFillBits panics on a fill bit count that no UDH can produce: it is a
// programming error, and guessing would silently corrupt every character.
func checkFillBits(fillBits int) {
	if fillBits < 0 || fillBits > 6 {
		panic("text: fillBits out of range 0..6")
	}
}

// FillBits returns the number of fill bits that must follow a User Data
// Header of udhLen octets (including the UDHL octet) so that packed GSM 7-bit
// text starts on a septet boundary: 1 for the 6-octet 8-bit reference
// concatenation header, 0 for the 7-octet 16-bit reference one.
func FillBits(udhLen int) int {
	return (7 - (udhLen*8)%7) % 7
}

// PackSeptets appends septets to dst in 7-bit packed form, starting after
// fillBits zero bits. It is the raw packing primitive: it applies no <CR>
// padding (see AppendGSM7Packed). Only the low 7 bits of each input octet are
// used; callers must pass septets, such as the output of AppendGSM7.
//
// Here and in the other packing functions fillBits must be 0..6; other values
// cannot come from any UDH, are a programming error and panic.
func PackSeptets(dst, septets []byte, fillBits int) []byte {
	checkFillBits(fillBits)
	p := packer{dst: dst, nbits: uint(fillBits)}
	for _, s := range septets {
		p.add(s)
	}
	return p.flush()
}

// UnpackSeptets appends to dst every whole septet in packed after skipping
// fillBits (0..6) bits: floor((8*len(packed)-fillBits)/7) septets. It is the
// raw unpacking primitive and does not remove <CR> padding; when the septet
// count is known from elsewhere (e.g. a TPDU's TP-UDL), truncate the result.
func UnpackSeptets(dst, packed []byte, fillBits int) []byte {
	checkFillBits(fillBits)
	bits := 8*len(packed) - fillBits
	if bits < 7 {
		return dst
	}
	n := bits / 7
	for i := range n {
		pos := fillBits + 7*i
		idx, shift := pos/8, uint(pos%8)
		v := packed[idx] >> shift
		if shift > 1 {
			v |= packed[idx+1] << (8 - shift)
		}
		dst = append(dst, v&0x7F)
	}
	return dst
}

// packer streams septets into octets.
type packer struct {
	dst   []byte
	acc   uint // pending bits, least significant first
	nbits uint // number of pending bits, always < 8 between calls
	n     int  // septets added
	last  byte // last septet added
}

func (p *packer) add(septet byte) {
	p.acc |= uint(septet&0x7F) << p.nbits
	p.nbits += 7
	if p.nbits >= 8 {
		p.dst = append(p.dst, byte(p.acc))
		p.acc >>= 8
		p.nbits -= 8
	}
	p.n++
	p.last = septet
}

// flush writes the final partial octet, if any. Fill bits alone (no septets)
// produce no output.
func (p *packer) flush() []byte {
	if p.n > 0 && p.nbits > 0 {
		p.dst = append(p.dst, byte(p.acc))
	}
	return p.dst
}

// finishCR applies the TS 23.038 <CR> rules, then flushes.
func (p *packer) finishCR() []byte {
	switch {
	case p.n == 0:
	case p.nbits == 1: // 7 spare bits: pad with <CR> instead of leaving '@'
		p.add(septetCR)
	case p.nbits == 0 && p.last == septetCR: // real <CR> on octet boundary
		p.add(septetCR)
	}
	return p.flush()
}

// needsExtraCR reports whether text of n septets whose last septet is <CR>
// (lastCR) gets the extra <CR> septet of the TS 23.038 rule when packed after
// fillBits bits, i.e. whether it ends exactly on an octet boundary.
func needsExtraCR(n, fillBits int, lastCR bool) bool {
	return lastCR && n > 0 && (fillBits+7*n)%8 == 0
}

// AppendGSM7Packed appends s to dst as 7-bit packed GSM, starting after
// fillBits (0..6) zero bits; use FillBits to compute them after a UDH, and 0
// otherwise. The <CR> padding rules of TS 23.038 are applied, so the output
// decodes correctly with DecodeGSM7Packed even though only its octet length
// is known. One consequence: text ending in <CR> exactly on an octet
// boundary gets a second <CR> (one more septet, possibly one more octet) and
// decodes with both, which TS 23.038 defines as equivalent. On error dst is
// returned unchanged.
func AppendGSM7Packed(dst []byte, s string, fillBits int) ([]byte, error) {
	checkFillBits(fillBits)
	var stack [320]byte
	septets, err := AppendGSM7(stack[:0], s)
	if err != nil {
		return dst, err
	}
	p := packer{dst: dst, nbits: uint(fillBits)}
	for _, c := range septets {
		p.add(c)
	}
	return p.finishCR(), nil
}

// EncodeGSM7Packed returns s as 7-bit packed GSM with no fill bits; see
// AppendGSM7Packed.
func EncodeGSM7Packed(s string) ([]byte, error) {
	return AppendGSM7Packed(nil, s, 0)
}

// DecodeGSM7Packed decodes 7-bit packed GSM that starts after fillBits (0..6)
// bits, inferring the septet count from the octet length as an SMPP receiver
// must. A final <CR> that ends exactly on an octet boundary is padding and is
// removed (TS 23.038 section 6.1.2.3.1). Character decoding is as in
// DecodeGSM7.
func DecodeGSM7Packed(b []byte, fillBits int) (string, error) {
	var stack [320]byte
	septets := UnpackSeptets(stack[:0], b, fillBits)
	if n := len(septets); n > 0 && (fillBits+7*n)%8 == 0 && septets[n-1] == septetCR {
		septets = septets[:n-1]
	}
	var sb strings.Builder
	sb.Grow(len(septets))
	if err := decodeSeptets(&sb, septets); err != nil {
		return "", err
	}
	return sb.String(), nil
}
