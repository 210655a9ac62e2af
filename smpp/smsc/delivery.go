package smsc

import (
	"errors"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/smppd/smppd/smpp"
)

// delivery is one deliver_sm to hand to the ESME: a receipt (rec set) or an MO part.
type delivery struct {
	acc      *account
	pdu      *smpp.DeliverSM
	rec      *record
	attempts int
}

// run is the retry job: back into the account's queue.
func (d *delivery) run() { d.acc.enqueue(d) }

// enqueue hands d to whichever bind of the account takes it first; it waits there while
// none is bound. A full queue drops it (counted), so memory stays bounded.
func (acc *account) enqueue(d *delivery) {
	select {
	case acc.queue <- d:
		if d.rec == nil && d.attempts == 0 {
			acc.c.moQueued.Add(1)
		}
	default:
		acc.c.deliveriesDropped.Add(1)
		acc.srv.markReceipt(d.rec, "dropped")
	}
}

func (srv *Server) markReceipt(rec *record, state string) {
	if rec == nil {
		return
	}
	srv.store.mu.Lock()
	if !rec.cancelled {
		rec.receipt = state
	}
	srv.store.mu.Unlock()
}

// completion applies a message's outcome when it is due and queues its receipt.
type completion struct {
	srv  *Server
	acc  *account
	rec  *record
	out  outcome
	dest smpp.Address
	send bool
}

func (c *completion) run() {
	st := c.srv.store
	now := c.srv.opts.Now()
	st.mu.Lock()
	if c.rec.cancelled {
		st.mu.Unlock()
		return
	}
	c.rec.stat, c.rec.state, c.rec.errCode, c.rec.done = c.out.stat, c.out.state, c.out.err, now
	if c.send {
		c.rec.receipt = "queued"
	}
	var pdu *smpp.DeliverSM
	if c.send {
		pdu = c.srv.receiptPDU(c.rec, c.dest, c.out, now)
	}
	st.mu.Unlock()
	if c.send {
		c.acc.enqueue(&delivery{acc: c.acc, rec: c.rec, pdu: pdu})
	}
}

// receiptPDU builds the deliver_sm receipt: the standard text (SMPP 3.4 Appendix B) plus
// the receipted_message_id, message_state and network_error_code TLVs. Callers hold
// store.mu (it reads rec.sm, which replace_sm may change).
func (srv *Server) receiptPDU(rec *record, handset smpp.Address, o outcome, done time.Time) *smpp.DeliverSM {
	dlvrd := 0
	if o.state == smpp.StateDelivered {
		dlvrd = 1
	}
	body := rec.sm
	if rec.esm&smpp.ESMClassUDHI != 0 {
		_, body, _ = splitUDH(body)
	}
	txt := formatReceipt(nil, rec.id, 1, dlvrd, rec.received, done, o.stat, o.err, snippet(rec.dc, body))
	esm := smpp.ESMClassDeliveryRcpt
	if o.state == smpp.StateEnroute {
		esm = smpp.ESMClassIntermediate
	}
	return &smpp.DeliverSM{
		Source:       handset,
		Dest:         rec.src,
		ESMClass:     esm,
		ShortMessage: txt,
		TLVs: smpp.TLVs{
			smpp.CStringTLV(smpp.TagReceiptedMessageID, rec.id),
			smpp.Uint8TLV(smpp.TagMessageState, uint8(o.state)),
			{Tag: smpp.TagNetworkErrorCode, Value: []byte{3, byte(o.err >> 8), byte(o.err)}}, // 3: GSM
		},
	}
}

// formatReceipt appends the standard receipt text (SMPP 3.4 Appendix B), dates in IST:
//
//	id:IIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD err:E text:...
func formatReceipt(dst []byte, id string, sub, dlvrd int, submit, done time.Time, stat string, errCode int, text string) []byte {
	r := smpp.Receipt{MessageID: id, Submitted: sub, Delivered: dlvrd, SubmitDate: submit, DoneDate: done,
		Stat: stat, ErrCode: errCode, Text: text}
	return smpp.AppendReceiptText(dst, &r, nil)
}

// snippet is the receipt's text: field: the first 20 characters of the message, as ASCII
// (anything else becomes '?', so the receipt itself stays plain GSM/ASCII).
func snippet(dc uint8, b []byte) string {
	var s string
	switch dc {
	case 0x00, 0x01, 0x03:
		if len(b) > 20 {
			b = b[:20]
		}
		s = string(b)
	default:
		s, _ = decodeText(dc, b)
	}
	out := make([]byte, 0, 20)
	for _, r := range s {
		if len(out) == 20 {
			break
		}
		if r < 0x20 || r > 0x7e || r == utf8.RuneError {
			r = '?'
		}
		out = append(out, byte(r))
	}
	return string(out)
}

// deliverLoop runs while an RX/TRX bind is up: it takes due deliveries from the account
// queue and hands each to one of Options.Window sender goroutines, so the ESME's window is
// used. A bind whose senders are all busy stops taking; the others carry on. Binds that
// wait take turns (Go channel receivers are served in order), so receipts are spread
// round-robin over the account's binds.
func (b *bind) deliverLoop() {
	srv := b.acc.srv
	work := make(chan *delivery)
	var wg sync.WaitGroup
	for range srv.opts.Window {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range work {
				b.deliver(d)
			}
		}()
	}
	defer func() {
		close(work)
		wg.Wait()
	}()
	done := b.sess.Done()
	for {
		select {
		case d := <-b.acc.queue:
			select {
			case work <- d:
			case <-done:
				b.acc.requeue(d)
				return
			}
		case <-done:
			return
		case <-srv.ctx.Done():
			return
		}
	}
}

// requeue puts back a delivery a bind could not make because it went away.
func (acc *account) requeue(d *delivery) {
	acc.c.deliveriesRetried.Add(1)
	acc.enqueue(d)
}

func (b *bind) deliver(d *delivery) {
	srv := b.acc.srv
	_, err := b.sess.Deliver(srv.ctx, d.pdu)
	if err == nil {
		b.rxOK.Add(1)
		if d.rec != nil {
			if d.pdu.ESMClass&smpp.ESMClassIntermediate == 0 {
				b.acc.c.receiptsSent.Add(1)
				srv.markReceipt(d.rec, "sent")
			}
		} else {
			b.acc.c.moSent.Add(1)
		}
		return
	}
	if srv.ctx.Err() != nil {
		return
	}
	if errors.Is(err, smpp.ErrSessionClosed) || errors.Is(err, smpp.ErrNotBound) {
		b.acc.requeue(d) // another bind takes it, or it waits for the next bind
		return
	}
	d.attempts++
	var se *smpp.StatusError
	isStatus := errors.As(err, &se)
	if isStatus && se.Status == smpp.ESME_RINVBNDSTS && d.attempts < srv.opts.MaxAttempts {
		// The ESME got the deliver_sm before it had taken in its own bind_resp (a client
		// race; real SMSCs deliver at once after binding, too): soon again.
		b.acc.c.deliveriesRetried.Add(1)
		srv.sched.after(min(srv.opts.RetryDelay, 20*time.Millisecond), d)
		return
	}
	if isStatus && !se.Status.Temporary() || d.attempts >= srv.opts.MaxAttempts {
		b.acc.c.deliveriesFailed.Add(1)
		srv.markReceipt(d.rec, "failed")
		srv.log.Debug().Err(err).Str("system_id", b.acc.id).Msg("delivery given up")
		return
	}
	b.acc.c.deliveriesRetried.Add(1)
	srv.sched.after(srv.opts.RetryDelay, d)
}
