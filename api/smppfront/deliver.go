package smppfront

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/smppd/smppd/dlr"
	"github.com/smppd/smppd/dlt"
	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/smpp/text"
	"github.com/smppd/smppd/store"
)

var _ dlr.Deliverer = (*Front)(nil)

// Deliver sends a receipt or MO job (a dlr.ClientReceipt in JSON) as a deliver_sm to one of
// the account's receiver binds (receiver or transceiver, round robin) and returns nil only
// once the client answered ESME_ROK. With no receiver bound it returns an error wrapping
// dlr.ErrNotBound, so dlr holds the job for the client's next bind. A bind that closes
// before the deliver_sm went out is skipped for the next one; any other failure (an error
// status, no answer in time) is a plain error, and dlr retries the job under its same id.
func (f *Front) Deliver(ctx context.Context, job *store.WebhookJob) error {
	var cr dlr.ClientReceipt
	if err := json.Unmarshal([]byte(job.Body), &cr); err != nil {
		return fmt.Errorf("smppfront: job %s: body is not a client receipt: %w", job.ID, err)
	}
	name := cr.Account
	if name == "" {
		name = strings.TrimPrefix(job.URL, dlr.ClientScheme+"://")
	}
	acc := f.byName[name]
	if acc == nil {
		// Not ErrNotBound: no bind will ever come for it, so the job should run its retries
		// and reach the dead letters, where an operator sees it (and replays it once the
		// account is configured).
		return fmt.Errorf("smppfront: job %s: account %q has no SMPP settings", job.ID, name)
	}
	p, err := deliverPDU(&cr)
	if err != nil {
		return fmt.Errorf("smppfront: job %s: %w", job.ID, err)
	}
	binds := acc.receivers()
	if len(binds) == 0 {
		acc.st.noteWaiting(job.ID, true, f.opts.Now())
		return fmt.Errorf("smppfront: account %s: %w", name, dlr.ErrNotBound)
	}
	acc.st.receiptsInFlight.Add(1)
	defer acc.st.receiptsInFlight.Add(-1)
	for _, b := range binds {
		dctx, cancel := context.WithTimeout(ctx, f.opts.DeliverTimeout)
		b.pending.Add(1)
		_, err = b.sess.Deliver(dctx, p)
		b.pending.Add(-1)
		cancel()
		if err != nil && notSent(err) {
			continue // the bind went away before the deliver_sm was written: try the next
		}
		break
	}
	f.countDeliver(acc, cr.MO, err)
	if err != nil && notSent(err) {
		acc.st.noteWaiting(job.ID, true, f.opts.Now())
		return fmt.Errorf("smppfront: account %s: no receiver took the deliver_sm (%v): %w", name, err, dlr.ErrNotBound)
	}
	if err != nil {
		return fmt.Errorf("smppfront: deliver_sm to %s: %w", name, err)
	}
	acc.st.noteWaiting(job.ID, false, f.opts.Now())
	return nil
}

// notSent reports whether a deliver_sm certainly never reached the client.
func notSent(err error) bool {
	var ce *smpp.ClosedError
	if errors.As(err, &ce) {
		return !ce.InFlight
	}
	return errors.Is(err, smpp.ErrNotBound)
}

func (f *Front) countDeliver(acc *account, mo bool, err error) {
	switch {
	case mo && err == nil:
		acc.st.moSent.Add(1)
	case mo:
		acc.st.moFailed.Add(1)
	case err == nil:
		acc.st.receiptsSent.Add(1)
	default:
		acc.st.receiptsFailed.Add(1)
	}
	if f.opts.Hooks.Deliver != nil {
		f.opts.Hooks.Deliver(acc.cfg.Name, mo, err)
	}
}

// deliverPDU builds the deliver_sm: an Appendix B receipt from the handset (the original
// destination) to the original sender, with receipted_message_id and message_state, or an
// MO message (GSM 7-bit when it fits, UCS-2 otherwise; message_payload when longer than a
// short_message).
func deliverPDU(cr *dlr.ClientReceipt) (*smpp.DeliverSM, error) {
	if cr.MO {
		enc, b, err := text.Choose(cr.Text)
		if err != nil {
			return nil, fmt.Errorf("MO text: %w", err)
		}
		p := &smpp.DeliverSM{
			Source: smpp.Address{TON: 1, NPI: 1, Addr: cr.From}, Dest: smpp.Address{Addr: cr.To},
			DataCoding: uint8(enc.DataCoding()),
		}
		if len(b) > smpp.MaxShortMessage {
			p.TLVs = smpp.TLVs{smpp.BytesTLV(smpp.TagMessagePayload, b)}
		} else {
			p.ShortMessage = b
		}
		return p, nil
	}
	state, _ := smpp.ParseStat(cr.Stat)
	if state == 0 {
		state = smpp.StateUnknown
	}
	r := &smpp.Receipt{
		MessageID: cr.MessageID, Submitted: max(cr.Parts, 1), Delivered: cr.Delivered,
		SubmitDate: cr.Submitted, DoneDate: cr.Done, Stat: cr.Stat, State: state,
		Err: cr.Err, ErrCode: 0, Text: cr.Text,
	}
	if cr.Parts == 0 && state == smpp.StateDelivered {
		r.Delivered = 1
	}
	if r.Stat == "" {
		r.Stat = state.ReceiptStat()
	}
	msg := smpp.AppendReceiptText(nil, r, dlt.IST)
	if len(msg) > smpp.MaxShortMessage {
		msg = msg[:smpp.MaxShortMessage]
	}
	return &smpp.DeliverSM{
		Source:       smpp.Address{TON: 1, NPI: 1, Addr: cr.To},
		Dest:         smpp.Address{Addr: cr.From},
		ESMClass:     smpp.ESMClassDeliveryRcpt,
		ShortMessage: msg,
		TLVs: smpp.TLVs{
			smpp.CStringTLV(smpp.TagReceiptedMessageID, cr.MessageID),
			smpp.Uint8TLV(smpp.TagMessageState, uint8(state)),
		},
	}, nil
}
