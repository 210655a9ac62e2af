package smsc

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/smppd/smppd/smpp"
)

// fault kinds, indexing account.faultN (the every-Nth counters).
const (
	faultMsgQFull = iota
	faultSysErr
	faultThrottled
	faultGenericNack
	faultNoResponse
	faultSlow
	nFaultKinds
)

func (acc *account) fires(kind int, f Fault) bool {
	if !f.active() {
		return false
	}
	if f.Every > 0 && acc.faultN[kind].Add(1)%uint64(f.Every) == 0 {
		return true
	}
	return f.Probability > 0 && rand.Float64() < f.Probability
}

// msgIn is what submit_sm, data_sm and submit_multi have in common.
type msgIn struct {
	cmd         smpp.CommandID
	serviceType string
	src         smpp.Address
	dest        smpp.Address
	more        []smpp.Address
	esm         uint8
	regDel      uint8
	dc          uint8
	sm          []byte
	tlvs        smpp.TLVs
}

func (srv *Server) serveSMPP(ctx context.Context, r *smpp.Request) {
	b := srv.bindOf(r.Session())
	if b == nil {
		_ = r.Respond(smpp.ESME_RINVBNDSTS, nil)
		return
	}
	acc := b.acc
	cfg := acc.cfg.Load()
	n := b.reqs.Add(1)
	if da := cfg.a.Faults.DisconnectAfter; da > 0 && n >= uint64(da) {
		r.Detach()
		acc.c.faults.Add(1)
		acc.c.disconnects.Add(1)
		switch r.PDU.(type) {
		case *smpp.SubmitSM, *smpp.DataSM, *smpp.SubmitMulti:
			acc.c.received.Add(1)
			acc.c.noResponse.Add(1)
		}
		go r.Session().Abort() // Abort waits for this worker; never call it inline
		return
	}
	switch p := r.PDU.(type) {
	case *smpp.SubmitSM:
		m := msgIn{cmd: smpp.SubmitSMID, serviceType: p.ServiceType, src: p.Source, dest: p.Dest, esm: p.ESMClass,
			regDel: p.RegisteredDelivery, dc: p.DataCoding, sm: p.Payload(), tlvs: p.TLVs}
		srv.submit(b, cfg, r, &m)
	case *smpp.DataSM:
		payload, _ := p.TLVs.Get(smpp.TagMessagePayload)
		m := msgIn{cmd: smpp.DataSMID, serviceType: p.ServiceType, src: p.Source, dest: p.Dest, esm: p.ESMClass,
			regDel: p.RegisteredDelivery, dc: p.DataCoding, sm: payload.Value, tlvs: p.TLVs}
		srv.submit(b, cfg, r, &m)
	case *smpp.SubmitMulti:
		m := msgIn{cmd: smpp.SubmitMultiID, serviceType: p.ServiceType, src: p.Source, esm: p.ESMClass,
			regDel: p.RegisteredDelivery, dc: p.DataCoding, sm: p.ShortMessage, tlvs: p.TLVs}
		if len(p.ShortMessage) == 0 {
			if v, ok := p.TLVs.Get(smpp.TagMessagePayload); ok {
				m.sm = v.Value
			}
		}
		for i, d := range p.Dests {
			a := d.Address
			if d.DLName != "" {
				a = smpp.Address{Addr: d.DLName}
			}
			if i == 0 {
				m.dest = a
			} else {
				m.more = append(m.more, a)
			}
		}
		srv.submit(b, cfg, r, &m)
	case *smpp.QuerySM:
		srv.query(b, r, p)
	case *smpp.CancelSM:
		srv.cancelSM(b, r, p)
	case *smpp.ReplaceSM:
		srv.replace(b, r, p)
	default:
		_ = r.Respond(smpp.ESME_RINVCMDID, nil)
	}
}

// respJob answers a detached request later (latency, slow-response fault).
type respJob struct {
	b      *bind
	r      *smpp.Request
	status smpp.CommandStatus
	resp   smpp.PDU
}

func (j *respJob) run() {
	if j.b.hold(j) {
		return
	}
	j.answer()
}

func (j *respJob) answer() {
	_ = j.r.Respond(j.status, j.resp)
	j.b.outstanding.Add(-1)
}

// respond answers a submit after delay, and frees its place in the server-side window.
// While the bind unbinds mid-window the answer is held back (see bind.hold).
func (srv *Server) respond(b *bind, r *smpp.Request, delay time.Duration, st smpp.CommandStatus, resp smpp.PDU) {
	if delay <= 0 {
		if b.mayHold() {
			r.Detach()
			if b.hold(&respJob{b: b, r: r, status: st, resp: resp}) {
				return
			}
		}
		_ = r.Respond(st, resp)
		b.outstanding.Add(-1)
		return
	}
	r.Detach()
	srv.sched.after(delay, &respJob{b: b, r: r, status: st, resp: resp})
}

func submitResp(cmd smpp.CommandID, id string, unsuccess []smpp.UnsuccessSME) smpp.PDU {
	switch cmd {
	case smpp.DataSMID:
		return &smpp.DataSMResp{MessageID: id}
	case smpp.SubmitMultiID:
		return &smpp.SubmitMultiResp{MessageID: id, Unsuccess: unsuccess}
	}
	return &smpp.SubmitSMResp{MessageID: id}
}

// wantsReceipt reads registered_delivery's SMSC delivery receipt bits.
func wantsReceipt(regDel uint8, o outcome) bool {
	switch regDel & 0x03 {
	case 0x01, 0x03:
		return true
	case 0x02:
		return o.failed()
	}
	return false
}

func (srv *Server) ownRecord(b *bind, id string) *record {
	rec := srv.store.get(id)
	if rec == nil || rec.account != b.acc.id {
		return nil
	}
	return rec
}

// smppTime formats t as an SMPP absolute time (YYMMDDhhmmsstnnp) in UTC.
func smppTime(t time.Time) string {
	return t.UTC().Format("060102150405") + "000+"
}

func (srv *Server) query(b *bind, r *smpp.Request, p *smpp.QuerySM) {
	b.acc.c.queries.Add(1)
	rec := srv.ownRecord(b, p.MessageID)
	if rec == nil {
		_ = r.Respond(smpp.ESME_RQUERYFAIL, nil)
		return
	}
	srv.store.mu.RLock()
	resp := &smpp.QuerySMResp{MessageID: rec.id, MessageState: smpp.StateEnroute}
	if rec.state != 0 {
		resp.MessageState = rec.state
		resp.ErrorCode = uint8(min(rec.errCode, 255))
	}
	if !rec.done.IsZero() {
		resp.FinalDate = smppTime(rec.done)
	}
	srv.store.mu.RUnlock()
	_ = r.Respond(smpp.ESME_ROK, resp)
}

func (srv *Server) cancelSM(b *bind, r *smpp.Request, p *smpp.CancelSM) {
	b.acc.c.cancels.Add(1)
	rec := srv.ownRecord(b, p.MessageID)
	st := smpp.ESME_RCANCELFAIL
	if rec != nil {
		srv.store.mu.Lock()
		if rec.state == 0 && !rec.cancelled && rec.status == smpp.ESME_ROK {
			rec.cancelled = true
			rec.stat, rec.state, rec.done = "DELETED", smpp.StateDeleted, srv.opts.Now()
			rec.receipt = "none"
			st = smpp.ESME_ROK
		}
		srv.store.mu.Unlock()
	}
	_ = r.Respond(st, nil)
}

func (srv *Server) replace(b *bind, r *smpp.Request, p *smpp.ReplaceSM) {
	b.acc.c.replaces.Add(1)
	rec := srv.ownRecord(b, p.MessageID)
	st := smpp.ESME_RREPLACEFAIL
	if rec != nil {
		srv.store.mu.Lock()
		if rec.state == 0 && !rec.cancelled && rec.status == smpp.ESME_ROK {
			rec.sm = p.ShortMessage
			rec.replaced = true
			if p.RegisteredDelivery != 0 {
				rec.regDel = p.RegisteredDelivery
			}
			st = smpp.ESME_ROK
		}
		srv.store.mu.Unlock()
	}
	_ = r.Respond(st, nil)
}
