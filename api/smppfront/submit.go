package smppfront

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/smppd/smppd/api"
	"github.com/smppd/smppd/dlr"
	"github.com/smppd/smppd/dlt"
	"github.com/smppd/smppd/internal/msisdn"
	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/smpp/text"
)

// serveSMPP runs on a session worker: it applies the bind's Window and the account's Rate
// at once, then hands the request to its own goroutine (Detach), so a slow Accept, or parts
// waiting for the rest of their message, never hold a worker.
func (f *Front) serveSMPP(ctx context.Context, r *smpp.Request) {
	start := time.Now()
	b := f.bindOf(r.Session())
	if b == nil {
		_ = r.Respond(smpp.ESME_RINVBNDSTS, nil)
		return
	}
	acc := b.acc
	submit := isSubmit(r.PDU)
	if b.inOpen.Add(1) > int64(acc.cfg.Window) {
		acc.st.throttledWindow.Add(1)
		if f.opts.Hooks.Throttled != nil {
			f.opts.Hooks.Throttled(acc.cfg.Name, "window")
		}
		f.answer(b, r, start, submit, smpp.ESME_RTHROTTLED, nil)
		return
	}
	if n := segments(r.PDU); n > 0 && !acc.limiter.AllowN(time.Now(), n) {
		acc.st.throttledRate.Add(1)
		if f.opts.Hooks.Throttled != nil {
			f.opts.Hooks.Throttled(acc.cfg.Name, "rate")
		}
		f.answer(b, r, start, submit, smpp.ESME_RTHROTTLED, nil)
		return
	}
	r.Detach()
	go f.serve(b, r, start)
}

func isSubmit(p smpp.PDU) bool {
	switch p.(type) {
	case *smpp.SubmitSM, *smpp.DataSM, *smpp.SubmitMulti:
		return true
	}
	return false
}

// segments is what a request costs against the account's Rate: its SMS segments (a part
// is one, a message_payload one per 134 octets), times its destinations. Queries cost
// nothing.
func segments(p smpp.PDU) int {
	perPayload := func(b []byte) int { return max(1, (len(b)+133)/134) }
	switch p := p.(type) {
	case *smpp.SubmitSM:
		return perPayload(p.Payload())
	case *smpp.DataSM:
		v, _ := p.TLVs.Get(smpp.TagMessagePayload)
		return perPayload(v.Value)
	case *smpp.SubmitMulti:
		pl := p.ShortMessage
		if len(pl) == 0 {
			v, _ := p.TLVs.Get(smpp.TagMessagePayload)
			pl = v.Value
		}
		return perPayload(pl) * max(1, len(p.Dests))
	}
	return 0
}

// answer responds to r, frees its place in the bind's window, and counts it. The place is
// freed and the answer counted before the response goes out: a client that sends its next
// request the moment it reads the answer must find the room its own window says it has.
func (f *Front) answer(b *bind, r *smpp.Request, start time.Time, submit bool, st smpp.CommandStatus, resp smpp.PDU) {
	if st != smpp.ESME_ROK {
		resp = nil // an error response carries no body worth reading
	}
	if submit {
		b.acc.st.countSubmit(st)
		if f.opts.Hooks.Submit != nil {
			f.opts.Hooks.Submit(b.acc.cfg.Name, st, time.Since(start))
		}
	}
	f.respond(b, r, st, resp)
}

// respond sends the response and frees the request's place in the window (first).
func (f *Front) respond(b *bind, r *smpp.Request, st smpp.CommandStatus, resp smpp.PDU) {
	b.inOpen.Add(-1)
	if err := r.Respond(st, resp); errors.Is(err, smpp.ErrAlreadyAnswered) {
		b.inOpen.Add(1) // never happens: every request is answered once; keep the count true anyway
		f.log.Error().Str("account", b.acc.cfg.Name).Msg("request answered twice")
	}
}

func (f *Front) serve(b *bind, r *smpp.Request, start time.Time) {
	switch p := r.PDU.(type) {
	case *smpp.SubmitSM:
		f.submit(b, r, start, incoming{
			src: p.Source, dst: p.Dest, esm: p.ESMClass, dc: p.DataCoding, rd: p.RegisteredDelivery,
			sched: p.ScheduleDeliveryTime, valid: p.ValidityPeriod, payload: p.Payload(), tlvs: p.TLVs,
		})
	case *smpp.DataSM:
		v, _ := p.TLVs.Get(smpp.TagMessagePayload)
		f.submit(b, r, start, incoming{
			src: p.Source, dst: p.Dest, esm: p.ESMClass, dc: p.DataCoding, rd: p.RegisteredDelivery,
			payload: v.Value, tlvs: p.TLVs,
		})
	case *smpp.SubmitMulti:
		f.submitMulti(b, r, start, p)
	case *smpp.QuerySM:
		st, resp := f.query(b.acc, p)
		f.answer(b, r, start, false, st, resp)
	case *smpp.CancelSM:
		f.answer(b, r, start, false, f.cancel(b.acc, p), nil)
	case *smpp.ReplaceSM:
		// A stored message is never changed: its record, receipts and chain hash are fixed.
		f.answer(b, r, start, false, smpp.ESME_RREPLACEFAIL, nil)
	default:
		f.answer(b, r, start, false, smpp.ESME_RINVCMDID, nil)
	}
}

// incoming is the message part of submit_sm and data_sm.
type incoming struct {
	src, dst     smpp.Address
	esm, dc, rd  uint8
	sched, valid string
	payload      []byte
	tlvs         smpp.TLVs
}

// fields are what a message's parts contribute to its Submission besides the text.
type fields struct {
	from, to              string
	peid, template, chain string
	sendAt, validUntil    time.Time
	receipt               bool // registered_delivery asks for a receipt (1 or 2)
	failureOnly           bool // only if the message fails (registered_delivery 2)
}

// partInfo identifies one part of a concatenated message.
type partInfo struct {
	ref          uint16
	total, seq   int
	concatenated bool
}

// refusal is a status with the reason, for the log.
type refusal struct {
	st     smpp.CommandStatus
	detail string
}

// parse reads the submission fields, the part header and the text octets of a submit.
func (f *Front) parse(in incoming) (fields, partInfo, []byte, *refusal) {
	var fl fields
	var pi partInfo
	now := f.opts.Now()
	fl.from, fl.to = in.src.Addr, in.dst.Addr
	if fl.to == "" {
		return fl, pi, nil, &refusal{smpp.ESME_RINVDSTADR, "empty destination_addr"}
	}
	var err error
	if fl.sendAt, err = parseTime(in.sched, now); err != nil {
		return fl, pi, nil, &refusal{smpp.ESME_RINVSCHED, err.Error()}
	}
	if fl.validUntil, err = parseTime(in.valid, now); err != nil {
		return fl, pi, nil, &refusal{smpp.ESME_RINVEXPIRY, err.Error()}
	}
	fl.receipt = in.rd&0x03 != 0
	fl.failureOnly = in.rd&0x03 == 2
	fl.peid = tlvText(in.tlvs, f.opts.PETag)
	fl.template = tlvText(in.tlvs, f.opts.TemplateTag)
	fl.chain = tlvText(in.tlvs, f.opts.ChainTag)

	data := in.payload
	if in.esm&smpp.ESMClassUDHI != 0 {
		var ok bool
		if pi, data, ok = parseUDH(data); !ok {
			return fl, pi, nil, &refusal{smpp.ESME_RINVMSGLEN, "esm_class has UDHI but short_message holds no valid user data header"}
		}
	}
	if !pi.concatenated && in.tlvs.Has(smpp.TagSARMsgRefNum) {
		ref, _, e1 := in.tlvs.Uint16(smpp.TagSARMsgRefNum)
		total, _, e2 := in.tlvs.Uint8(smpp.TagSARTotalSegments)
		seq, _, e3 := in.tlvs.Uint8(smpp.TagSARSegmentSeqnum)
		if e := errors.Join(e1, e2, e3); e != nil || total == 0 || seq == 0 || seq > total {
			return fl, pi, nil, &refusal{smpp.ESME_RINVOPTPARAMVAL, fmt.Sprintf("SAR parameters: ref %d, part %d of %d %v", ref, seq, total, e)}
		}
		pi = partInfo{ref: ref, total: int(total), seq: int(seq), concatenated: true}
	}
	if pi.concatenated && pi.total == 1 {
		pi = partInfo{}
	}
	return fl, pi, data, nil
}

// tlvText reads a DLT TLV as text: octets as sent, any trailing NULs (C-string habit) and
// surrounding spaces removed.
func tlvText(t smpp.TLVs, tag uint16) string {
	s, _ := t.CStringLenient(smpp.Tag(tag))
	return strings.TrimSpace(s)
}

// parseUDH reads a user data header (text.ParseUDH): its concatenation element, if any, and
// the octets after it. A malformed header, or a part number outside its total, is refused.
func parseUDH(b []byte) (partInfo, []byte, bool) {
	var pi partInfo
	_, rest, c, ok := text.ParseUDH(b)
	if !ok {
		return pi, nil, false
	}
	if c != nil {
		pi = partInfo{ref: c.Ref, total: int(c.Total), seq: int(c.Seq), concatenated: true}
	}
	if pi.concatenated && (pi.total == 0 || pi.seq == 0 || pi.seq > pi.total) {
		return pi, nil, false
	}
	return pi, rest, true
}

// decodeText undoes data_coding. Binary codings are refused: the DLT rules are about text.
// data_coding 0 is the GSM default alphabet, or Latin-1 for an account with Latin1Default.
func (acc *account) decodeText(dc uint8, b []byte) (string, *refusal) {
	if dc == 0 && acc.cfg.Latin1Default {
		dc = uint8(text.DataCodingLatin1)
	}
	s, err := text.Decode(text.DataCoding(dc), b)
	if err != nil {
		return "", &refusal{smpp.ESME_RINVMSGLEN, fmt.Sprintf("text in data_coding %#02x: %v", dc, err)}
	}
	return s, nil
}

// submit serves submit_sm and data_sm: a whole message at once, or a part that waits for
// the rest of its message.
func (f *Front) submit(b *bind, r *smpp.Request, start time.Time, in incoming) {
	fl, pi, data, ref := f.parse(in)
	if ref != nil {
		f.refuse(b, r, start, ref)
		return
	}
	if pi.concatenated {
		b.acc.asm.add(b, r, start, fl, pi, in.dc, data)
		return
	}
	txt, ref := b.acc.decodeText(in.dc, data)
	if ref != nil {
		f.refuse(b, r, start, ref)
		return
	}
	id, st := f.accept(b.acc, fl, txt)
	f.answer(b, r, start, true, st, respWithID(r.PDU, id))
}

func (f *Front) refuse(b *bind, r *smpp.Request, start time.Time, ref *refusal) {
	f.log.Debug().Str("account", b.acc.cfg.Name).Str("status", ref.st.String()).Str("why", ref.detail).Msg("submit refused")
	f.answer(b, r, start, isSubmit(r.PDU), ref.st, nil)
}

// respWithID is the success response of a submit request carrying smppd's id.
func respWithID(req smpp.PDU, id string) smpp.PDU {
	switch req.(type) {
	case *smpp.DataSM:
		return &smpp.DataSMResp{MessageID: id}
	case *smpp.SubmitMulti:
		return &smpp.SubmitMultiResp{MessageID: id}
	}
	return &smpp.SubmitSMResp{MessageID: id}
}

// submission builds what Accept takes.
func (acc *account) submission(fl fields, txt string) api.Submission {
	s := api.Submission{
		Account: acc.cfg.Name, From: fl.from, To: fl.to, Text: txt,
		PEID: fl.peid, TemplateID: fl.template, Chain: fl.chain,
		SendAt: fl.sendAt, ValidUntil: fl.validUntil, Receipt: fl.receipt,
	}
	if fl.receipt {
		s.Meta = map[string]string{
			dlr.MetaWebhookURL:  dlr.ClientTarget(acc.cfg.Name),
			dlr.MetaWebhookMode: dlr.ModeSMPP,
		}
		if acc.cfg.ReceiptParts {
			s.Meta[dlr.MetaReceiptParts] = "1"
		}
		if fl.failureOnly {
			s.Meta[dlr.MetaReceiptFailureOnly] = "1"
		}
	}
	return s
}

// accept hands one message to the Acceptor and returns its id, or the status to answer.
// The context is not the session's: a client that disconnects while its message is being
// stored must not leave the store half-way.
func (f *Front) accept(acc *account, fl fields, txt string) (string, smpp.CommandStatus) {
	ctx, cancel := context.WithTimeout(context.Background(), f.opts.AcceptTimeout)
	defer cancel()
	ids, err := f.opts.Acceptor.Accept(ctx, acc.submission(fl, txt))
	if err == nil && len(ids) == 0 {
		err = errors.New("accept returned no message id")
	}
	if err != nil {
		st := f.statusOf(err)
		ev := f.log.Debug()
		if st == smpp.ESME_RSYSERR {
			ev = f.log.Warn()
		}
		ev.Err(err).Str("account", acc.cfg.Name).Str("to", msisdn.Mask(fl.to)).Str("status", st.String()).Msg("message refused")
		return "", st
	}
	return ids[0], smpp.ESME_ROK
}

// statusOf maps Accept's error to the command_status a client gets (see the package doc).
func (f *Front) statusOf(err error) smpp.CommandStatus {
	var rf *api.Refusal
	if !errors.As(err, &rf) {
		if errors.Is(err, api.ErrUnknownAccount) {
			// The account is disabled or expired in the api (the bind itself was good):
			// permanent until an operator acts, so not a status clients retry at once.
			return smpp.ESME_RSUBMITFAIL
		}
		return smpp.ESME_RSYSERR
	}
	switch rf.Reason {
	case api.RefusedValidity:
		return smpp.ESME_RINVEXPIRY
	case api.RefusedDLT:
		if st, ok := (dlt.CarrierSpec{StatusCodes: f.opts.DLTStatusCodes}).Status(rf.DLTCode); ok {
			return smpp.CommandStatus(st)
		}
		return smpp.ESME_RSUBMITFAIL
	case api.RefusedSender:
		return smpp.ESME_RINVSRCADR
	case api.RefusedDestination:
		return smpp.ESME_RINVDSTADR
	case api.RefusedCredits:
		return smpp.ESME_RSUBMITFAIL
	case api.RefusedThrottled:
		return smpp.ESME_RTHROTTLED
	case api.RefusedInvalid:
		return smpp.ESME_RINVMSGLEN
	}
	return smpp.ESME_RSYSERR
}

// submitMulti accepts the message once per destination, each its own message with its own
// id. submit_multi_resp has room for one id: it carries the first destination's; receipts
// name each destination's own id, so clients that correlate receipts use submit_sm.
// Concatenated parts are refused (their reassembly is per destination); message_payload
// carries long text. Distribution lists are not kept: each is an unsuccess entry
// ESME_RCNTSUBDL. When no destination is accepted, command_status is the first failure's.
func (f *Front) submitMulti(b *bind, r *smpp.Request, start time.Time, p *smpp.SubmitMulti) {
	payload := p.ShortMessage
	if len(payload) == 0 {
		v, _ := p.TLVs.Get(smpp.TagMessagePayload)
		payload = v.Value
	}
	if p.ESMClass&smpp.ESMClassUDHI != 0 || p.TLVs.Has(smpp.TagSARMsgRefNum) {
		f.refuse(b, r, start, &refusal{smpp.ESME_RINVESMCLASS, "concatenated parts in submit_multi; use submit_sm or message_payload"})
		return
	}
	var resp smpp.SubmitMultiResp
	first := smpp.ESME_ROK
	for _, d := range p.Dests {
		st := smpp.ESME_RCNTSUBDL
		addr := smpp.Address{Addr: d.DLName}
		if d.DLName == "" {
			addr = d.Address
			var id string
			id, st = f.multiOne(b.acc, incoming{
				src: p.Source, dst: d.Address, esm: p.ESMClass, dc: p.DataCoding, rd: p.RegisteredDelivery,
				sched: p.ScheduleDeliveryTime, valid: p.ValidityPeriod, payload: payload, tlvs: p.TLVs,
			})
			if st == smpp.ESME_ROK && resp.MessageID == "" {
				resp.MessageID = id
			}
		}
		b.acc.st.countSubmit(st)
		if f.opts.Hooks.Submit != nil {
			f.opts.Hooks.Submit(b.acc.cfg.Name, st, time.Since(start))
		}
		if st != smpp.ESME_ROK {
			if first == smpp.ESME_ROK {
				first = st
			}
			resp.Unsuccess = append(resp.Unsuccess, smpp.UnsuccessSME{Address: addr, Status: st})
		}
	}
	st := smpp.ESME_ROK
	if resp.MessageID == "" {
		st = first
	}
	f.respond(b, r, st, &resp) // counted per destination above
}

func (f *Front) multiOne(acc *account, in incoming) (string, smpp.CommandStatus) {
	fl, _, data, ref := f.parse(in)
	if ref != nil {
		return "", ref.st
	}
	txt, ref := acc.decodeText(in.dc, data)
	if ref != nil {
		return "", ref.st
	}
	return f.accept(acc, fl, txt)
}
