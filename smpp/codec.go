package smpp

import (
	"encoding/binary"
	"fmt"
	"unsafe"
)

// HeaderLen is the size of the PDU header: command_length, command_id, command_status and
// sequence_number, each a big-endian uint32.
const HeaderLen = 16

// DefaultMaxPDUSize bounds command_length when Options say nothing: 64 KiB holds the largest
// message_payload real carriers accept and stops a corrupt length from allocating gigabytes.
const DefaultMaxPDUSize = 64 << 10

// MaxSequence is the largest sequence_number; SMPP 3.4 §5.1.2.4 keeps them in 1..0x7FFFFFFF.
const MaxSequence = 0x7FFFFFFF

// Header is the fixed 16-octet start of every PDU.
type Header struct {
	Length   uint32 // command_length, header included
	ID       CommandID
	Status   CommandStatus
	Sequence uint32
}

// PDU is the typed body of one SMPP operation. Every type in this package that implements it
// is a pointer to a struct named after the operation (*SubmitSM, *DeliverSMResp, …).
type PDU interface {
	CommandID() CommandID
	appendBody(e *encoder)
	decodeBody(d *decoder)
}

// AppendPDU appends the wire form of p, with the given sequence number and command status, to
// dst. It fails with a *FieldError naming the field when a value breaks the spec's limits
// (short_message over 254 octets, an address too long, a NUL inside a C string …); dst is
// then returned unchanged.
func AppendPDU(dst []byte, seq uint32, status CommandStatus, p PDU) ([]byte, error) {
	var e encoder
	return e.appendPDU(dst, seq, status, p)
}

// appendPDU is AppendPDU with an encoder the caller keeps: PDU methods take the encoder by
// pointer through an interface, so a fresh one escapes to the heap, and sessions reuse theirs.
func (e *encoder) appendPDU(dst []byte, seq uint32, status CommandStatus, p PDU) ([]byte, error) {
	start := len(dst)
	*e = encoder{b: dst, cmd: p.CommandID()}
	defer func() { e.b = nil }()                // do not pin the caller's buffer
	e.b = binary.BigEndian.AppendUint32(e.b, 0) // command_length, patched below
	e.b = binary.BigEndian.AppendUint32(e.b, uint32(p.CommandID()))
	e.b = binary.BigEndian.AppendUint32(e.b, uint32(status))
	e.b = binary.BigEndian.AppendUint32(e.b, seq)
	p.appendBody(e)
	if e.err != nil {
		return dst[:start], e.err
	}
	binary.BigEndian.PutUint32(e.b[start:], uint32(len(e.b)-start))
	return e.b, nil
}

// EncodePDU returns the wire form of p in a new slice; see AppendPDU.
func EncodePDU(seq uint32, status CommandStatus, p PDU) ([]byte, error) {
	return AppendPDU(nil, seq, status, p)
}

// DecodeHeader reads the header at the start of b.
func DecodeHeader(b []byte) (Header, error) {
	if len(b) < HeaderLen {
		return Header{}, &FieldError{Field: "header", Reason: fmt.Sprintf("%d octets, need %d", len(b), HeaderLen), Status: ESME_RINVCMDLEN}
	}
	return Header{
		Length:   binary.BigEndian.Uint32(b),
		ID:       CommandID(binary.BigEndian.Uint32(b[4:])),
		Status:   CommandStatus(binary.BigEndian.Uint32(b[8:])),
		Sequence: binary.BigEndian.Uint32(b[12:]),
	}, nil
}

// DecodePDU decodes one whole frame (header and body). The result does not share memory with
// frame, which the caller may reuse.
func DecodePDU(frame []byte) (Header, PDU, error) {
	return decodeOwned(append([]byte(nil), frame...))
}

// decodeOwned decodes a frame that nobody else will ever write to: the PDU's strings and byte
// slices alias it instead of copying, which saves an allocation per field on the hot path.
func decodeOwned(frame []byte) (Header, PDU, error) {
	var d decoder
	return d.decodeOwned(frame)
}

// decodeOwned is the package function with a decoder the caller keeps (see appendPDU).
func (d *decoder) decodeOwned(frame []byte) (Header, PDU, error) {
	h, err := DecodeHeader(frame)
	if err != nil {
		return h, nil, err
	}
	if int64(h.Length) != int64(len(frame)) {
		return h, nil, &FieldError{Cmd: h.ID, Field: "command_length", Status: ESME_RINVCMDLEN,
			Reason: fmt.Sprintf("says %d octets, frame has %d", h.Length, len(frame))}
	}
	p := newPDU(h.ID)
	if p == nil {
		return h, nil, &FieldError{Cmd: h.ID, Field: "command_id", Reason: "not an SMPP 3.4 command", Status: ESME_RINVCMDID}
	}
	body := frame[HeaderLen:]
	// A response carrying an error may omit its body (SMPP 3.4 §4: "the message_id is not
	// returned" on failure); real SMSCs do so for bind and submit responses alike.
	if len(body) == 0 && h.ID.IsResponse() && h.Status != ESME_ROK {
		return h, p, nil
	}
	*d = decoder{b: body, cmd: h.ID}
	defer func() { d.b = nil }()
	p.decodeBody(d)
	if d.err == nil && d.off != len(d.b) {
		d.fail("body", fmt.Sprintf("%d unexpected octets after the last field", len(d.b)-d.off), ESME_RINVCMDLEN)
	}
	if d.err != nil {
		return h, nil, d.err
	}
	return h, p, nil
}

// newPDU returns an empty body for a command id, or nil for an unknown one.
func newPDU(id CommandID) PDU {
	switch id {
	case GenericNackID:
		return &GenericNack{}
	case BindReceiverID:
		return &Bind{Mode: BindReceiver}
	case BindTransmitterID:
		return &Bind{Mode: BindTransmitter}
	case BindTransceiverID:
		return &Bind{Mode: BindTransceiver}
	case BindReceiverRespID:
		return &BindResp{Mode: BindReceiver}
	case BindTransmitterRespID:
		return &BindResp{Mode: BindTransmitter}
	case BindTransceiverRespID:
		return &BindResp{Mode: BindTransceiver}
	case OutbindID:
		return &Outbind{}
	case UnbindID:
		return &Unbind{}
	case UnbindRespID:
		return &UnbindResp{}
	case EnquireLinkID:
		return &EnquireLink{}
	case EnquireLinkRespID:
		return &EnquireLinkResp{}
	case SubmitSMID:
		return &SubmitSM{}
	case SubmitSMRespID:
		return &SubmitSMResp{}
	case DeliverSMID:
		return &DeliverSM{}
	case DeliverSMRespID:
		return &DeliverSMResp{}
	case SubmitMultiID:
		return &SubmitMulti{}
	case SubmitMultiRespID:
		return &SubmitMultiResp{}
	case DataSMID:
		return &DataSM{}
	case DataSMRespID:
		return &DataSMResp{}
	case QuerySMID:
		return &QuerySM{}
	case QuerySMRespID:
		return &QuerySMResp{}
	case CancelSMID:
		return &CancelSM{}
	case CancelSMRespID:
		return &CancelSMResp{}
	case ReplaceSMID:
		return &ReplaceSM{}
	case ReplaceSMRespID:
		return &ReplaceSMResp{}
	case AlertNotificationID:
		return &AlertNotification{}
	}
	return nil
}

// encoder appends fields and remembers the first error; later calls are no-ops after one.
type encoder struct {
	b   []byte
	cmd CommandID
	err error
}

func (e *encoder) fail(field, reason string, st CommandStatus) {
	if e.err == nil {
		e.err = &FieldError{Cmd: e.cmd, Field: field, Reason: reason, Status: st}
	}
}

func (e *encoder) u8(v uint8)   { e.b = append(e.b, v) }
func (e *encoder) u32(v uint32) { e.b = binary.BigEndian.AppendUint32(e.b, v) }

// cstring appends s and its NUL; max counts the NUL, as the spec's size column does.
func (e *encoder) cstring(field string, s string, max int, st CommandStatus) {
	if len(s) >= max {
		e.fail(field, fmt.Sprintf("%d octets, at most %d allowed", len(s), max-1), st)
		return
	}
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			e.fail(field, fmt.Sprintf("NUL octet at offset %d inside a C string", i), st)
			return
		}
	}
	e.b = append(e.b, s...)
	e.b = append(e.b, 0)
}

// time appends an absolute or relative SMPP time: empty, or exactly 16 characters
// "YYMMDDhhmmsstnnp" (§7.1.1).
func (e *encoder) time(field, s string, st CommandStatus) {
	if s != "" && len(s) != 16 {
		e.fail(field, fmt.Sprintf("%q is %d characters; an SMPP time is empty or 16 (YYMMDDhhmmsstnnp)", s, len(s)), st)
		return
	}
	e.cstring(field, s, 17, st)
}

// addrNames are the spec names of an address triple's fields, precomputed so that naming a
// field in an error costs nothing on the path where there is no error.
type addrNames struct{ ton, npi, addr string }

var (
	sourceNames      = addrNames{"source_addr_ton", "source_addr_npi", "source_addr"}
	destinationNames = addrNames{"dest_addr_ton", "dest_addr_npi", "destination_addr"}
	esmeNames        = addrNames{"esme_addr_ton", "esme_addr_npi", "esme_addr"}
)

func (e *encoder) address(n *addrNames, a Address, max int, st CommandStatus) {
	e.u8(a.TON)
	e.u8(a.NPI)
	e.cstring(n.addr, a.Addr, max, st)
}

// shortMessage appends sm_length and short_message.
func (e *encoder) shortMessage(sm []byte) {
	if len(sm) > MaxShortMessage {
		e.fail("short_message", fmt.Sprintf("%d octets, at most %d allowed; send longer text in parts or in message_payload", len(sm), MaxShortMessage), ESME_RINVMSGLEN)
		return
	}
	e.u8(uint8(len(sm)))
	e.b = append(e.b, sm...)
}

func (e *encoder) tlvs(t TLVs) {
	for _, v := range t {
		if len(v.Value) > 0xFFFF {
			e.fail(fmt.Sprintf("tlv %#04x", uint16(v.Tag)), fmt.Sprintf("value is %d octets, at most 65535 allowed", len(v.Value)), ESME_RINVPARLEN)
			return
		}
		e.b = binary.BigEndian.AppendUint16(e.b, uint16(v.Tag))
		e.b = binary.BigEndian.AppendUint16(e.b, uint16(len(v.Value)))
		e.b = append(e.b, v.Value...)
	}
}

// decoder reads fields from a body it owns (see decodeOwned) and remembers the first error;
// after one, every read returns a zero value, so PDU code needs no error plumbing.
type decoder struct {
	b   []byte
	off int
	cmd CommandID
	err error
}

func (d *decoder) fail(field, reason string, st CommandStatus) {
	if d.err == nil {
		d.err = &FieldError{Cmd: d.cmd, Field: field, Reason: reason, Status: st}
	}
	d.off = len(d.b)
}

func (d *decoder) u8(field string) uint8 {
	if d.err != nil {
		return 0
	}
	if d.off >= len(d.b) {
		d.fail(field, "missing: body ends before it", ESME_RINVCMDLEN)
		return 0
	}
	v := d.b[d.off]
	d.off++
	return v
}

func (d *decoder) u32(field string) uint32 {
	if d.err != nil {
		return 0
	}
	if len(d.b)-d.off < 4 {
		d.fail(field, "missing: body ends before it", ESME_RINVCMDLEN)
		return 0
	}
	v := binary.BigEndian.Uint32(d.b[d.off:])
	d.off += 4
	return v
}

// cstring reads a NUL-terminated string of at most max octets, NUL included.
func (d *decoder) cstring(field string, max int, st CommandStatus) string {
	if d.err != nil {
		return ""
	}
	rest := d.b[d.off:]
	if len(rest) == 0 {
		d.fail(field, "missing: body ends before it", ESME_RINVCMDLEN)
		return ""
	}
	limit := min(len(rest), max)
	for i := 0; i < limit; i++ {
		if rest[i] == 0 {
			d.off += i + 1
			if i == 0 {
				return ""
			}
			return unsafe.String(&rest[0], i)
		}
	}
	if limit == max {
		d.fail(field, fmt.Sprintf("no NUL within %d octets: longer than the %d the spec allows", max, max-1), st)
	} else {
		d.fail(field, "C string runs past the end of the body without a NUL", ESME_RINVCMDLEN)
	}
	return ""
}

// time reads an SMPP time with the rule encoder.time enforces: empty, or exactly 16
// characters (§7.1.1, "Fixed 1 or 17" octets with the NUL). A decoder more lenient than the
// encoder would hand callers PDUs that cannot be sent on (a proxied submit_sm) or re-encoded.
func (d *decoder) time(field string, st CommandStatus) string {
	s := d.cstring(field, 17, st)
	if d.err == nil && s != "" && len(s) != 16 {
		d.fail(field, fmt.Sprintf("%q is %d characters; an SMPP time is empty or 16 (YYMMDDhhmmsstnnp)", s, len(s)), st)
		return ""
	}
	return s
}

func (d *decoder) address(n *addrNames, max int, st CommandStatus) Address {
	return Address{TON: d.u8(n.ton), NPI: d.u8(n.npi), Addr: d.cstring(n.addr, max, st)}
}

// octets returns the next n octets without copying.
func (d *decoder) octets(field string, n int) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.b)-d.off < n {
		d.fail(field, fmt.Sprintf("length says %d octets, %d remain in the body", n, len(d.b)-d.off), ESME_RINVMSGLEN)
		return nil
	}
	if n == 0 {
		return nil
	}
	v := d.b[d.off : d.off+n : d.off+n]
	d.off += n
	return v
}

func (d *decoder) shortMessage() []byte {
	n := d.u8("sm_length")
	if d.err == nil && int(n) > MaxShortMessage {
		d.fail("sm_length", fmt.Sprintf("%d, at most %d allowed", n, MaxShortMessage), ESME_RINVMSGLEN)
		return nil
	}
	return d.octets("short_message", int(n))
}

// tlvs reads optional parameters to the end of the body.
func (d *decoder) tlvs() TLVs {
	if d.err != nil || d.off == len(d.b) {
		return nil
	}
	// Count first so the slice is allocated once at its final size.
	n := 0
	for off := d.off; off < len(d.b); n++ {
		if len(d.b)-off < 4 {
			d.fail("tlv", fmt.Sprintf("%d stray octets where a tag and length (4 octets) should start", len(d.b)-off), ESME_RINVOPTPARSTREAM)
			return nil
		}
		l := int(binary.BigEndian.Uint16(d.b[off+2:]))
		if len(d.b)-off-4 < l {
			tag := binary.BigEndian.Uint16(d.b[off:])
			d.fail(fmt.Sprintf("tlv %#04x", tag), fmt.Sprintf("length says %d octets, %d remain in the body", l, len(d.b)-off-4), ESME_RINVPARLEN)
			return nil
		}
		off += 4 + l
	}
	out := make(TLVs, 0, n)
	for d.off < len(d.b) {
		tag := Tag(binary.BigEndian.Uint16(d.b[d.off:]))
		l := int(binary.BigEndian.Uint16(d.b[d.off+2:]))
		var v []byte
		if l > 0 {
			v = d.b[d.off+4 : d.off+4+l : d.off+4+l]
		}
		out = append(out, TLV{tag, v})
		d.off += 4 + l
	}
	return out
}
