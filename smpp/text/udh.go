package text

// PartOf is the concatenation element of a User Data Header (3GPP TS 23.040 §9.2.3.24.1,
// 8-bit reference, and §9.2.3.24.8, 16-bit reference): which part of which long message
// this short message is.
type PartOf struct {
	Ref        uint16
	Total, Seq uint8
	Ref16      bool // the 16-bit reference element (IEI 0x08), not the 8-bit one (0x00)
}

// ParseUDH splits a short message whose esm_class has UDHI set into its User Data Header
// (length octet included) and the octets after it, and reads the concatenation element, if
// any (the last one, should there be several). Other elements (application ports …) are
// skipped. wellFormed is false when the header length overruns b (then udh is nil and rest
// is b) or an element overruns the header; elements before the malformed one still count.
// The one reader of UDH for everyone who receives SMS: the simulator, the SMPP front, MO.
func ParseUDH(b []byte) (udh, rest []byte, c *PartOf, wellFormed bool) {
	if len(b) == 0 || int(b[0])+1 > len(b) {
		return nil, b, nil, false
	}
	n := int(b[0]) + 1
	udh, rest = b[:n], b[n:]
	for ie := udh[1:]; len(ie) > 0; {
		if len(ie) < 2 || int(ie[1])+2 > len(ie) {
			return udh, rest, c, false
		}
		id, v := ie[0], ie[2:2+int(ie[1])]
		switch {
		case id == 0x00 && len(v) == 3:
			c = &PartOf{Ref: uint16(v[0]), Total: v[1], Seq: v[2]}
		case id == 0x08 && len(v) == 4:
			c = &PartOf{Ref: uint16(v[0])<<8 | uint16(v[1]), Total: v[2], Seq: v[3], Ref16: true}
		}
		ie = ie[2+int(ie[1]):]
	}
	return udh, rest, c, true
}
