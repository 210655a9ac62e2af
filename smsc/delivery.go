package smsc

import (
	"context"
	"errors"
	"time"
	"unicode/utf8"

	"github.com/smppd/smppd/dlt"
	"github.com/smppd/smppd/smpp"
)

// delivery is one deliver_sm to hand to the ESME: a receipt (rec set) or an MO part.
type delivery struct {
	acc      *account
	pdu      *smpp.DeliverSM
	rec      *record
	attempts int  // sends answered with an error or not at all
	flood    bool // a Flood replay: rec is an old message whose own receipt state stays
}

// run is the retry job: back into the account's queue.
func (d *delivery) run() { d.acc.enqueue(d) }

// enqueue hands d to whichever bind of the account takes it first; it waits there while
// none is bound. A full queue drops it (counted, and false), so memory stays bounded.
func (acc *account) enqueue(d *delivery) bool {
	select {
	case acc.queue <- d:
		return true
	default:
		acc.c.deliveriesDropped.Add(1)
		if !d.flood {
			acc.srv.markReceipt(d.rec, "dropped")
		}
		return false
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
	return smpp.AppendReceiptText(dst, &r, dlt.IST)
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
// queue while the bind has window left (Receipts.Window, or Options.Window) and sends each
// on a goroutine of its own, so the window is used and, under NoWindow, nothing waits for
// earlier answers. A bind whose window is full stops taking; the others carry on. Binds
// that wait take turns (Go channel receivers are served in order), so deliveries are
// spread round-robin over the account's binds.
func (b *bind) deliverLoop() {
	srv := b.acc.srv
	done := b.sess.Done()
	for {
		if b.sess.State() != smpp.StateBound {
			// Unbinding, ours or the ESME's: the session sends nothing new, so leave the
			// deliveries to the other binds (or to the next one) rather than fail each.
			select {
			case <-done:
			case <-srv.ctx.Done():
			}
			return
		}
		if b.inflight.Load() >= b.acc.cfg.Load().dp.window {
			select {
			case <-b.freed: // a delivery finished, or the window changed
				continue
			case <-done:
				return
			case <-srv.ctx.Done():
				return
			}
		}
		select {
		case d := <-b.acc.queue:
			b.inflight.Add(1)
			go b.deliver(d)
		case <-done:
			return
		case <-srv.ctx.Done():
			return
		}
	}
}

// poke wakes the bind's deliverLoop if it waits for window.
func (b *bind) poke() {
	select {
	case b.freed <- struct{}{}:
	default:
	}
}

// requeue puts back a delivery a bind could not make because it went away.
func (acc *account) requeue(d *delivery) {
	acc.c.deliveriesRetried.Add(1)
	acc.enqueue(d)
}

// deliver sends one deliver_sm and applies the account's delivery policy to the answer:
// counted, retried after the retry delay, or given up.
func (b *bind) deliver(d *delivery) {
	defer func() {
		b.inflight.Add(-1)
		b.poke()
	}()
	acc := b.acc
	srv := acc.srv
	dp := &acc.cfg.Load().dp
	ctx := srv.ctx
	if dp.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, dp.timeout)
		defer cancel()
	}
	_, err := b.sess.Deliver(ctx, d.pdu)
	receipt := d.rec != nil
	if err == nil {
		b.rxOK.Add(1)
		switch {
		case !receipt:
			acc.c.moSent.Add(1)
		case d.pdu.ESMClass&smpp.ESMClassIntermediate == 0:
			if !d.flood {
				srv.markReceipt(d.rec, "sent")
			}
			acc.c.receiptsSent.Add(1)
			if d.flood {
				acc.c.floodSent.Add(1)
			}
		}
		return
	}
	if srv.ctx.Err() != nil {
		return
	}
	if errors.Is(err, smpp.ErrSessionClosed) || errors.Is(err, smpp.ErrNotBound) {
		acc.requeue(d) // another bind takes it, or it waits for the next bind
		return
	}
	d.attempts++
	var se *smpp.StatusError
	isStatus := errors.As(err, &se)
	if receipt {
		switch {
		case isStatus:
			acc.c.receiptsRefused.Add(1)
		case errors.Is(err, smpp.ErrResponseTimeout) || errors.Is(err, context.DeadlineExceeded):
			acc.c.receiptTimeouts.Add(1)
		}
	}
	// ESME_RINVBNDSTS: the ESME got the deliver_sm before it had taken in its own bind_resp
	// (a client race; real SMSCs deliver at once after binding, too): soon again.
	bindRace := isStatus && se.Status == smpp.ESME_RINVBNDSTS
	if d.attempts >= dp.attempts || isStatus && !bindRace && !dp.anyStatus && !se.Status.Temporary() {
		if receipt && !d.flood {
			srv.markReceipt(d.rec, "failed") // before the counters, which tests wait on
		}
		acc.c.deliveriesFailed.Add(1)
		if receipt {
			acc.c.receiptsGivenUp.Add(1)
		}
		srv.log.Debug().Err(err).Str("system_id", acc.id).Int("attempts", d.attempts).Msg("delivery given up")
		return
	}
	delay := dp.retryDelay
	if bindRace {
		delay = min(delay, 20*time.Millisecond)
	}
	acc.c.deliveriesRetried.Add(1)
	if receipt {
		acc.c.receiptRetries.Add(1)
	}
	srv.sched.after(delay, d)
}

// deliveryPolicy is an account's Receipts delivery settings with the simulator-wide
// defaults applied (Account.Receipts, Options).
type deliveryPolicy struct {
	window     int64         // deliver_sm outstanding per bind
	attempts   int           // sends of one deliver_sm in all
	anyStatus  bool          // retry every refusal (Retries set), not only temporary errors
	retryDelay time.Duration // before a refused deliver_sm goes again
	timeout    time.Duration // shorter than the session's response timeout; 0: the session's
}

func (o *Options) deliveryPolicy(r Receipts) deliveryPolicy {
	dp := deliveryPolicy{window: int64(o.Window), attempts: o.MaxAttempts, retryDelay: o.RetryDelay}
	switch {
	case r.Window == NoWindow:
		dp.window = MaxWindow
	case r.Window > 0:
		dp.window = int64(r.Window)
	}
	if r.Retries != nil {
		dp.attempts, dp.anyStatus = 1+*r.Retries, true
	}
	if r.RetryDelay > 0 {
		dp.retryDelay = r.RetryDelay
	}
	if r.ResponseTimeout > 0 && r.ResponseTimeout < o.ResponseTimeout {
		dp.timeout = r.ResponseTimeout
	}
	return dp
}
