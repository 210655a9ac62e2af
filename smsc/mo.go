package smsc

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/smpp/text"
)

// MO is a mobile-originated message to inject: it reaches the account's RX/TRX binds as
// deliver_sm (several, when the text needs concatenation), and waits while none is bound.
type MO struct {
	// SystemID is the account; "" selects the only account.
	SystemID string `json:"system_id"`
	// Source is the handset's number, Dest the ESME's short code or long number.
	Source    string `json:"source"`
	SourceTON uint8  `json:"source_ton"`
	SourceNPI uint8  `json:"source_npi"`
	Dest      string `json:"dest"`
	DestTON   uint8  `json:"dest_ton"`
	DestNPI   uint8  `json:"dest_npi"`
	// Text is the message; Encoding is "gsm7", "ucs2", "latin1" or "" (GSM7 when possible,
	// else UCS2).
	Text     string `json:"text"`
	Encoding string `json:"encoding,omitempty"`
	// Concat is how a long text is split: "udh" (8-bit reference UDH, default), "udh16",
	// "sar" (sar_* TLVs) or "payload" (one deliver_sm with message_payload).
	Concat string `json:"concat,omitempty"`
	// Ref is the concatenation reference; 0 picks a random one.
	Ref uint16 `json:"ref,omitempty"`
	// Order sends the parts in this order (1-based part numbers, e.g. [3,1,2]); "reverse"
	// or "shuffle" in OrderName do the obvious. Default: in order.
	Order     []int  `json:"order,omitempty"`
	OrderName string `json:"order_name,omitempty"`
	// TLVs are extra parameters put on every part.
	TLVs smpp.TLVs `json:"-"`
}

// InjectMO queues an MO message and returns how many deliver_sm parts it became.
func (srv *Server) InjectMO(mo MO) (int, error) {
	acc, err := srv.account(mo.SystemID)
	if err != nil {
		return 0, err
	}
	if mo.Source == "" || mo.Dest == "" {
		return 0, errors.New("smsc: MO needs source and dest")
	}
	var enc text.Encoding
	switch strings.ToLower(mo.Encoding) {
	case "":
		enc, err = text.ChooseEncoding(mo.Text)
		if err != nil {
			return 0, fmt.Errorf("smsc: MO text: %w", err)
		}
	case "gsm7", "gsm":
		enc = text.GSM7
	case "ucs2":
		enc = text.UCS2
	case "latin1":
		enc = text.Latin1
	default:
		return 0, fmt.Errorf("smsc: MO encoding %q: want gsm7, ucs2 or latin1", mo.Encoding)
	}
	opts := text.Options{Ref: mo.Ref}
	if opts.Ref == 0 {
		opts.Ref = uint16(rand.IntN(0xFFFF) + 1)
	}
	switch strings.ToLower(mo.Concat) {
	case "", "udh", "udh8":
		opts.Concat = text.ConcatUDH8
	case "udh16":
		opts.Concat = text.ConcatUDH16
	case "sar":
		opts.Concat = text.ConcatSAR
	case "payload":
		opts.Concat = text.ConcatPayload
	default:
		return 0, fmt.Errorf("smsc: MO concat %q: want udh, udh16, sar or payload", mo.Concat)
	}
	parts, err := text.Split(mo.Text, enc, opts)
	if err != nil {
		return 0, fmt.Errorf("smsc: MO text: %w", err)
	}
	order := make([]int, len(parts))
	for i := range order {
		order[i] = i
	}
	switch {
	case len(mo.Order) > 0:
		if len(mo.Order) != len(parts) {
			return 0, fmt.Errorf("smsc: MO order has %d entries, the text has %d parts", len(mo.Order), len(parts))
		}
		seen := make([]bool, len(parts))
		for i, n := range mo.Order {
			if n < 1 || n > len(parts) || seen[n-1] {
				return 0, fmt.Errorf("smsc: MO order %v is not a permutation of 1..%d", mo.Order, len(parts))
			}
			seen[n-1] = true
			order[i] = n - 1
		}
	case mo.OrderName == "reverse":
		for i := range order {
			order[i] = len(parts) - 1 - i
		}
	case mo.OrderName == "shuffle":
		rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	case mo.OrderName != "":
		return 0, fmt.Errorf("smsc: MO order_name %q: want reverse or shuffle", mo.OrderName)
	}
	src := smpp.Address{TON: mo.SourceTON, NPI: mo.SourceNPI, Addr: mo.Source}
	dst := smpp.Address{TON: mo.DestTON, NPI: mo.DestNPI, Addr: mo.Dest}
	for _, i := range order {
		p := parts[i]
		pdu := &smpp.DeliverSM{Source: src, Dest: dst, DataCoding: uint8(enc.DataCoding()), TLVs: mo.TLVs.Clone()}
		switch {
		case opts.Concat == text.ConcatPayload:
			pdu.TLVs = append(pdu.TLVs, smpp.BytesTLV(smpp.TagMessagePayload, p.Data))
		default:
			pdu.ShortMessage = p.Data
			if p.UDHLen > 0 {
				pdu.ESMClass |= smpp.ESMClassUDHI
			}
			if opts.Concat == text.ConcatSAR && p.Total > 1 {
				pdu.TLVs = append(pdu.TLVs,
					smpp.Uint16TLV(smpp.TagSARMsgRefNum, p.Ref),
					smpp.Uint8TLV(smpp.TagSARTotalSegments, p.Total),
					smpp.Uint8TLV(smpp.TagSARSegmentSeqnum, p.Seq))
			}
		}
		if acc.enqueue(&delivery{acc: acc, pdu: pdu}) {
			acc.c.moQueued.Add(1)
		}
	}
	return len(parts), nil
}
