package smsc

import (
	"time"

	"github.com/smppd/smppd/smpp"
)

// submit answers one submit_sm, data_sm or submit_multi, taking it through the checks in the
// order an operator applies them: capacity first (nothing else is looked at for a message
// the SMSC has no room for), then injected faults, then the account's outcome rules, then
// DLT scrubbing, and only then accepts the message and schedules its receipts. Each step
// that answers the request itself ends the submit.
func (srv *Server) submit(b *bind, cfg *acctConfig, r *smpp.Request, m *msgIn) {
	s := srv.newSubmission(b, cfg, r, m)
	if s.throttled() {
		return
	}
	s.delay = between(cfg.a.Latency.Min, cfg.a.Latency.Max)
	if s.faulted() {
		return
	}
	if m.dest.Addr == "" {
		s.reject(smpp.ESME_RINVDSTADR, s.delay)
		return
	}
	out, answered := s.applyRules()
	if answered {
		return
	}
	if out, answered = s.scrubDLT(out); answered {
		return
	}
	outs, dests, unsuccess := s.perDestination(out)
	s.accept(outs, unsuccess)
	s.scheduleReceipts(outs, dests)
}

// submission is one submit on its way through Server.submit. The steps share it so that
// each reads as one concern, and so that every way out stores the message with the status
// it was answered with: tests and the HTTP API see refused and unanswered submits too.
type submission struct {
	srv   *Server
	b     *bind
	acc   *account
	cfg   *acctConfig // the account's settings as they were when the submit arrived
	r     *smpp.Request
	m     msgIn // a copy: a pointer here would move every caller's msgIn to the heap
	rec   *record
	now   time.Time
	delay time.Duration // response latency: the account's, raised by a slow fault or a rule

	// one and oneDest back perDestination's answer for a single destination, so the
	// common case allocates no slices.
	one     [1]outcome
	oneDest [1]smpp.Address
}

// newSubmission counts the submit as received and as holding a place in the bind's
// server-side window (respond frees it), and starts the record every outcome stores.
func (srv *Server) newSubmission(b *bind, cfg *acctConfig, r *smpp.Request, m *msgIn) submission {
	acc := b.acc
	acc.c.received.Add(1)
	b.outstanding.Add(1)
	now := srv.opts.Now()
	return submission{
		srv: srv, b: b, acc: acc, cfg: cfg, r: r, m: *m, now: now,
		rec: &record{
			account: acc.id, bind: b.sess.ID(), cmd: m.cmd, serviceType: m.serviceType, src: m.src, dest: m.dest,
			more: m.more, esm: m.esm, regDel: m.regDel, dc: m.dc, sm: m.sm, tlvs: m.tlvs, received: now,
		},
	}
}

// reject answers with an error status after delay; the message is stored without a receipt.
func (s *submission) reject(st smpp.CommandStatus, delay time.Duration) {
	s.rec.status = st
	s.rec.receipt = "none"
	s.srv.store.add(s.rec)
	s.acc.c.rejected.Add(1)
	s.acc.c.status(uint32(st))
	s.srv.respond(s.b, s.r, delay, st, submitResp(s.m.cmd, "", nil))
}

// noResponse never answers, as a lost or stuck operator does, so the ESME's response
// timeout is what gets tested. The window place is freed at once: an unanswered request
// must not hold the server-side window forever.
func (s *submission) noResponse() {
	s.r.Detach()
	s.b.outstanding.Add(-1)
	s.rec.status = smpp.ESME_ROK
	s.rec.stat = "NO_RESPONSE"
	s.rec.receipt = "none"
	s.srv.store.add(s.rec)
	s.acc.c.noResponse.Add(1)
}

// throttled refuses the submit with ESME_RTHROTTLED when the bind has more than
// MaxOutstanding submits unanswered, or the per-bind or per-account rate is spent. The
// window is checked first so a submit refused for it does not use up rate tokens.
func (s *submission) throttled() bool {
	if limit := s.srv.opts.MaxOutstanding; (limit > 0 && s.b.outstanding.Load() > int64(limit)) ||
		!s.b.limiter.Allow() || !s.acc.limiter.Allow() {
		s.acc.c.throttled.Add(1)
		s.reject(smpp.ESME_RTHROTTLED, 0)
		return true
	}
	return false
}

// faulted applies the first injected fault that fires, in a fixed order so the every-Nth
// counters of the later kinds only advance when the earlier ones did not fire. A slow
// fault only lengthens the delay and lets the submit go on; the others answer it.
func (s *submission) faulted() bool {
	f := &s.cfg.a.Faults
	switch {
	case s.acc.fires(faultNoResponse, f.NoResponse):
		s.acc.c.faults.Add(1)
		s.noResponse()
	case s.acc.fires(faultGenericNack, f.GenericNack):
		s.acc.c.faults.Add(1)
		s.genericNack()
	case s.acc.fires(faultMsgQFull, f.MsgQFull):
		s.acc.c.faults.Add(1)
		s.reject(smpp.ESME_RMSGQFUL, s.delay)
	case s.acc.fires(faultSysErr, f.SysErr):
		s.acc.c.faults.Add(1)
		s.reject(smpp.ESME_RSYSERR, s.delay)
	case s.acc.fires(faultThrottled, f.Throttled):
		s.acc.c.faults.Add(1)
		s.reject(smpp.ESME_RTHROTTLED, s.delay)
	case s.acc.fires(faultSlow, f.Slow):
		s.acc.c.faults.Add(1)
		s.delay = max(s.delay, f.SlowDelay)
		return false
	default:
		return false
	}
	return true
}

// genericNack answers with generic_nack instead of the submit's own response, as some
// SMSCs do under load; it is stored and counted as ESME_RSYSERR.
func (s *submission) genericNack() {
	s.rec.status = smpp.ESME_RSYSERR
	s.rec.stat = "GENERIC_NACK"
	s.rec.receipt = "none"
	s.srv.store.add(s.rec)
	s.acc.c.rejected.Add(1)
	s.acc.c.status(uint32(smpp.ESME_RSYSERR))
	s.srv.respond(s.b, s.r, s.delay, smpp.ESME_RSYSERR, &smpp.GenericNack{})
}

// applyRules decides the first destination's outcome from the account's receipt mix and
// rules. A rule may leave the submit unanswered or refuse it (submit_multi instead reports
// refused destinations one by one, in perDestination); it reports whether it answered.
func (s *submission) applyRules() (out outcome, answered bool) {
	out = s.cfg.oc.decide(s.m.dest.Addr)
	if out.noResponse {
		s.noResponse()
		return out, true
	}
	if out.reject && s.m.cmd != smpp.SubmitMultiID {
		s.reject(out.submitStatus, max(s.delay, out.respDelay))
		return out, true
	}
	s.delay = max(s.delay, out.respDelay)
	return out, false
}

// scrubDLT checks the message against the DLT registry when the account asks for it. A
// failure is refused with the DLT code as the submit's command_status, or (DLT.RejectIn
// "receipt") accepted and reported later in a REJECTD receipt, so an ESME can be tested
// against both ways of hearing about it; either way the code is kept on the message.
func (s *submission) scrubDLT(out outcome) (outcome, bool) {
	if !s.cfg.a.DLT.Enabled {
		return out, false
	}
	code, reason := s.srv.dltCheck(s.acc.id, &s.cfg.a.DLT, &s.m, s.now)
	if code == 0 {
		return out, false
	}
	s.acc.c.dltRejected.Add(1)
	s.rec.dltErr, s.rec.dltReason = code, reason
	if s.cfg.a.DLT.RejectIn != "receipt" {
		s.reject(smpp.CommandStatus(code), s.delay)
		return out, true
	}
	return mkOutcome("REJECTD", &code), false
}

// perDestination gives each destination its outcome: one for submit_sm and data_sm, and
// for submit_multi one per address, where destinations a rule rejects are reported as
// unsuccessful instead of failing the whole submit. A DLT failure applies to them all.
func (s *submission) perDestination(out outcome) (outs []outcome, dests []smpp.Address, unsuccess []smpp.UnsuccessSME) {
	if s.m.cmd != smpp.SubmitMultiID {
		s.one, s.oneDest = [1]outcome{out}, [1]smpp.Address{s.m.dest}
		return s.one[:], s.oneDest[:], nil
	}
	for _, d := range append([]smpp.Address{s.m.dest}, s.m.more...) {
		o := s.cfg.oc.decide(d.Addr)
		if s.rec.dltErr != 0 {
			o = out
		}
		if o.reject {
			unsuccess = append(unsuccess, smpp.UnsuccessSME{Address: d, Status: o.submitStatus})
			continue
		}
		outs = append(outs, o)
		dests = append(dests, d)
	}
	return outs, dests, unsuccess
}

// accept gives the message its id, stores it (marked REJECTD when a submit_multi had no
// destination left) and answers ESME_ROK after the delay.
func (s *submission) accept(outs []outcome, unsuccess []smpp.UnsuccessSME) {
	rec := s.rec
	rec.id = s.cfg.ids.next()
	rec.status = smpp.ESME_ROK
	want := false
	for _, o := range outs {
		want = want || wantsReceipt(s.m.regDel, o) && !o.noReceipt
	}
	rec.receipt = "none"
	if want {
		rec.receipt = "scheduled"
	}
	if len(outs) == 0 {
		rec.stat, rec.state = "REJECTD", smpp.StateRejected
	}
	s.srv.store.add(rec)
	s.acc.c.accepted.Add(1)
	s.acc.c.status(0)
	s.srv.respond(s.b, s.r, s.delay, smpp.ESME_ROK, submitResp(s.m.cmd, rec.id, unsuccess))
}

// scheduleReceipts schedules each destination's final state. The completion runs even
// when no receipt is wanted, because it is what moves the stored message to its final
// state for query_sm and the API. An ENROUTE receipt, if the account sends them, is queued
// at once, before the final one.
func (s *submission) scheduleReceipts(outs []outcome, dests []smpp.Address) {
	srv, acc, rec := s.srv, s.acc, s.rec
	rd := between(s.cfg.a.Receipts.DelayMin, s.cfg.a.Receipts.DelayMax)
	for i, o := range outs {
		send := wantsReceipt(s.m.regDel, o) && !o.noReceipt
		if send {
			acc.c.receiptsScheduled.Add(1)
			if s.cfg.a.Receipts.Enroute {
				srv.store.mu.RLock()
				pdu := srv.receiptPDU(rec, dests[i], mkOutcome("ENROUTE", nil), s.now)
				srv.store.mu.RUnlock()
				acc.enqueue(&delivery{acc: acc, rec: rec, pdu: pdu})
			}
		}
		d := rd
		if o.receiptDelay >= 0 {
			d = o.receiptDelay
		}
		srv.sched.after(d, &completion{srv: srv, acc: acc, rec: rec, out: o, dest: dests[i], send: send})
	}
}
