package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/smppd/smppd/dispatch"
	"github.com/smppd/smppd/dlr"
	"github.com/smppd/smppd/dlt"
	"github.com/smppd/smppd/internal/msisdn"
	"github.com/smppd/smppd/smpp/text"
	"github.com/smppd/smppd/store"
)

type kind int

const (
	kindOTP kind = iota
	kindTrans
	kindPromo
	// kindAuto: the template's DLT category decides (classify), for a client that names no
	// module, the SMPP front's (Accept).
	kindAuto
)

func (k kind) priority() store.Priority {
	switch k {
	case kindOTP:
		return store.PriorityOTP
	case kindPromo:
		return store.PriorityPromotional
	}
	return store.PriorityTransactional
}

func (k kind) credits() store.CreditCategory {
	if k == kindPromo {
		return store.CreditsPromotional
	}
	return store.CreditsTransactional
}

// spec is one message as a request describes it, before checks.
type spec struct {
	kind     kind
	to       string // normalised
	from     string // "" = the account's default
	text     string // given text, or "" with template
	template string // a template name or CT ID whose text is filled with vars
	vars     []string
	otpCode  string // OTP: the code for the template's slot
	peid     string // run-time PE ID ("" = the account's)
	ctid     string // run-time CT ID
	sendAt   time.Time
	meta     map[string]string
	chain    string      // a client aggregator's chain, raw "PE,TM1,…" ("" = none)
	names    *fieldNames // the fields and modules errors name (nil: R1's)
	links    linkSpec    // dynamic short links (shortenurl=1, campaignname)
	// front: the message came through a protocol front (Accept), whose meta says where its
	// receipt goes (or that none goes); the account's HTTP webhook is not stamped on it.
	front bool
}

// built is a checked message and what it costs.
type built struct {
	msg      *store.Message
	segments int64
	links    []*store.Link // the short links of its text, stored before it is submitted
}

// findTemplate resolves a template name or CT ID among the entity's templates.
func findTemplate(reg *dlt.Registry, entity, name string) *dlt.Template {
	if t, ok := reg.Template(name); ok && t.EntityID == entity {
		return t
	}
	for _, t := range reg.TemplatesFor(entity) {
		if strings.EqualFold(strings.TrimSpace(t.Name), strings.TrimSpace(name)) {
			return t
		}
	}
	return nil
}

// msgErr is a message-level refusal (sender, template, DLT, schedule, length): V1 answers it
// with 400, R1 with 200 and Status Error.
func msgErr(details string) *apiError { return errorf(http.StatusOK, details) }

// build checks one message for the account and returns it ready for Submit. The steps run in
// a fixed order, each refusing with the reply a client sees; the order decides which refusal
// a message with several faults gets, so it is part of the API's behaviour.
func (s *Server) build(a *account, sp spec, now time.Time) (*built, *apiError) {
	d := s.newDraft(a, sp, now)
	return d.run(d.fillText, d.checkText, d.resolveSender, d.shorten, d.checkDLTAsSent, d.checkCategory, d.resolveChain, d.decideWindow)
}

func (s *Server) newDraft(a *account, sp spec, now time.Time) *draft {
	d := &draft{a: a, sp: sp, kind: sp.kind, reg: s.o.Registry(), match: s.o.Match, now: now, short: s.o.Shortlinks,
		peid: sp.peid, ctid: sp.ctid, body: sp.text, sendAt: sp.sendAt}
	if d.peid == "" {
		d.peid = a.DLTEntity
	}
	return d
}

// run runs the steps in order, stopping at the first refusal, and makes the message.
func (d *draft) run(steps ...func() *apiError) (*built, *apiError) {
	for _, step := range steps {
		if e := step(); e != nil {
			return nil, e
		}
	}
	return d.message()
}

// draft is a message while build checks it: what the request said (sp) and what the steps
// have resolved so far.
type draft struct {
	a     *account
	sp    spec
	kind  kind             // sp.kind, or what classify made of kindAuto
	reg   *dlt.Registry    // nil: no DLT registry configured
	match dlt.MatchOptions // content matching (Options.Match)
	now   time.Time

	peid, ctid string        // PE ID (the account's unless given) and CT ID
	tmpl       *dlt.Template // the template the text comes from or matched, once known
	body       string        // the text to send
	from       string        // the sender id
	windowed   bool          // the template's category only goes out inside the window
	sendAt     time.Time     // when to send; zero or past means now
	tms        []string      // the TM-AF ids before smppd in the chain (resolveChain)
	short      ShortlinkOptions
	links      []*store.Link // the short links put in body (shorten)
	linkPrefix string        // <base>/<HEADER>/ of those links
}

// fillText makes the text from a template when the request names one: an OTP's code goes
// into the account's OTP template, other requests' vars into the named template. A request
// with its own text keeps it.
func (d *draft) fillText() *apiError {
	switch {
	case d.sp.kind == kindOTP:
		return d.fillOTPText()
	case d.sp.template != "":
		if n := d.names(); d.reg == nil {
			if n.ctid == "" {
				return msgErr(msgInvalidTemplate + " - template names need the DLT registry, which is not configured")
			}
			return msgErr(msgInvalidTemplate + " - template names need the DLT registry, which is not configured; send " + n.msg + " with " + n.peid + " and " + n.ctid)
		}
		d.tmpl = findTemplate(d.reg, d.peid, d.sp.template)
		if d.tmpl == nil {
			return msgErr(msgInvalidTemplate + " - no template " + strconv.Quote(d.sp.template) + " is registered for this account")
		}
		d.ctid = d.tmpl.ID
		d.body = dlt.Fill(d.tmpl.Text, d.sp.vars)
	}
	return nil
}

// fillOTPText finds the OTP template (the one the request names, through the account's
// name map, else the account's default CT ID) and puts the code in it. Without a registry the
// account's OTP text stands in, so a deployment with no DLT data can still send OTPs.
func (d *draft) fillOTPText() *apiError {
	a, reg := d.a, d.reg
	name := d.sp.template
	if id := a.OTPTemplates[name]; id != "" {
		name = id
	}
	if reg != nil && name != "" {
		d.tmpl = findTemplate(reg, d.peid, name)
	}
	if d.tmpl == nil {
		d.ctid = a.OTPTemplate
		if reg != nil && d.ctid != "" {
			if t, ok := reg.Template(d.ctid); ok {
				d.tmpl = t
			}
		}
	} else {
		d.ctid = d.tmpl.ID
	}
	switch {
	case d.tmpl != nil:
		d.body = dlt.FillOTP(d.tmpl.Text, d.sp.otpCode)
	case reg != nil || d.ctid == "":
		return msgErr(msgInvalidTemplate + " - no OTP template is configured for this account")
	default:
		d.body = dlt.FillOTP(a.OTPText, d.sp.otpCode) // New gave every account one (DefaultOTPText)
	}
	return nil
}

// checkText refuses an empty text and one longer than MaxTextRunes, before any DLT work.
func (d *draft) checkText() *apiError {
	d.body = strings.TrimSpace(d.body)
	if d.body == "" {
		return msgErr("Message text is empty - send " + d.names().msg + " or " + d.names().template)
	}
	if n := utf8.RuneCountInString(d.body); n > MaxTextRunes {
		return msgErr(fmt.Sprintf("Message text is %d characters - at most %d are allowed", n, MaxTextRunes))
	}
	return nil
}

// resolveSender picks the sender id (the request's, else the account's first one the
// template allows) and refuses one the account is not approved for.
func (d *draft) resolveSender() *apiError {
	d.from = d.sp.from
	if d.from == "" {
		d.from = defaultSender(d.a, d.tmpl)
	}
	if d.from == "" {
		return msgErr("Sender Id (" + d.names().from + ") is required")
	}
	if len(d.a.SenderIDs) > 0 && !slices.Contains(d.a.SenderIDs, d.from) {
		return refuse(RefusedSender, "Access Denied - Sender Id '"+d.from+"' not approved")
	}
	return nil
}

// checkDLT applies TRAI's rules: a PE ID always; with a registry, the template (given, or
// found by matching the text) and the registry's checks (the category the request kind may
// send is checkCategory's); without one, the caller must name the CT ID the carrier will be
// told. The send window is not checked here (SkipSendWindow): decideWindow may defer instead
// of refusing. Refusals carry the DLT code a carrier would answer.
func (d *draft) checkDLT() *apiError {
	match := d.match
	n := d.names()
	if d.peid == "" {
		if n.peid == "" {
			return dltErr(dlt.CodeInvalidEntityID, "DLT PE ID missing - the account has no DLT entity")
		}
		return dltErr(dlt.CodeInvalidEntityID, "DLT PE ID missing - the account has no DLT entity; pass "+n.peid)
	}
	reg := d.reg
	if reg == nil {
		if d.ctid == "" {
			if n.ctid == "" {
				return dltErr(dlt.CodeInvalidTemplateID, "DLT CT ID missing - no DLT registry is configured, and "+n.trans+"/"+n.promo+" cannot pass one (R1 can: ctid)")
			}
			return dltErr(dlt.CodeInvalidTemplateID, "DLT CT ID missing - no DLT registry is configured, so pass "+n.ctid)
		}
		return nil
	}
	if d.tmpl == nil && d.ctid != "" {
		d.tmpl, _ = reg.Template(d.ctid)
	}
	if d.tmpl == nil && d.ctid == "" {
		t, _, err := reg.MatchContent(d.peid, d.body, match)
		if err != nil {
			return dltRefusal(err)
		}
		d.tmpl, d.ctid = t, t.ID
	}
	if v := reg.Check(dlt.Message{PEID: d.peid, TemplateID: d.ctid, Header: d.from, Text: d.body}, d.now,
		dlt.CheckOptions{Match: match, SkipSendWindow: true}); v != nil {
		return dltRefusal(v)
	}
	return nil
}

// checkCategory keeps promotional traffic on PROMO_SMS and only there: the two go out under
// different credits, priorities and headers. Without a template (no registry) there is no
// category to check.
func (d *draft) checkCategory() *apiError {
	if d.tmpl == nil {
		return nil
	}
	cat, id, n := d.tmpl.Category, d.tmpl.ID, d.names()
	switch {
	case d.kind == kindPromo && cat != dlt.Promotional && cat != dlt.ServiceExplicit:
		return dltErr(dlt.CodeSMSTypeTemplateMismatch, fmt.Sprintf("%s - template %s is %s; %s sends promotional and service explicit templates, use %s", msgInvalidTemplate, id, cat, n.promo, n.trans))
	case d.kind != kindPromo && cat == dlt.Promotional:
		return dltErr(dlt.CodeSMSTypeTemplateMismatch, fmt.Sprintf("%s - template %s is promotional; send it with %s", msgInvalidTemplate, id, n.promo))
	}
	return nil
}

// classify gives a kindAuto message the kind its template's category means, for its
// priority and credits: transactional templates (TRAI's category for OTPs) go as OTPs,
// service implicit as transactional, promotional and service explicit (folded into
// promotional in 2025, and windowed like it) as promotional. Without a registry the
// category is unknown: transactional.
func (d *draft) classify() *apiError {
	if d.kind != kindAuto {
		return nil
	}
	d.kind = kindTrans
	if d.tmpl == nil {
		return nil
	}
	switch d.tmpl.Category {
	case dlt.Transactional:
		d.kind = kindOTP
	case dlt.Promotional, dlt.ServiceExplicit:
		d.kind = kindPromo
	}
	return nil
}

// resolveChain settles the TM-AF ids the message passed through before smppd: those of the
// chain a client aggregator sent (which must start with the message's PE), then the
// account's own TM id when it is an aggregator, unless the client's chain already ends
// with it. When the registry has a chain of the entity that starts with those ids (the
// shortest one), its TM-AF ids are the message's: a registered path may go on through
// TM-AFs after the client's (smppd's own, towards an upstream TM-D). Dispatch puts them
// between the PE and the TM-D.
func (d *draft) resolveChain() *apiError {
	var tms []string
	if c := strings.TrimSpace(d.sp.chain); c != "" {
		ids := strings.Split(c, ",")
		for i, id := range ids {
			if ids[i] = strings.TrimSpace(id); !dlt.ValidID(ids[i]) {
				return dltErr(dlt.CodeInvalidTMID, fmt.Sprintf("DLT: chain %q: id %q is not a DLT id (digits only)", c, ids[i]))
			}
		}
		if ids[0] != d.peid {
			return dltErr(dlt.CodePETMHashNotRegistered, fmt.Sprintf("DLT: chain %q starts with PE %s, but the message's PE is %s", c, ids[0], d.peid))
		}
		tms = ids[1:]
	}
	if id := d.a.TMID; id != "" && (len(tms) == 0 || tms[len(tms)-1] != id) {
		tms = append(tms, id)
	}
	if len(tms) > 0 && d.reg != nil {
		var best []string
		for _, c := range d.reg.Chains(d.peid) {
			if len(c.TMAF) >= len(tms) && slices.Equal(c.TMAF[:len(tms)], tms) && (best == nil || len(c.TMAF) < len(best)) {
				best = c.TMAF
			}
		}
		if best != nil {
			tms = best
		}
	}
	d.tms = tms
	return nil
}

// decideWindow settles the send window once, at accept: whether the message is windowed
// (carried in store.Message.Windowed for the dispatcher and carrier, which ask
// dlt.NextSendTime again when they hold it) and, for one due outside the window, either a
// refusal or, for accounts that defer promotional traffic, a send time at the next opening.
// Without a registry the category is unknown and the message is not windowed.
func (d *draft) decideWindow() *apiError {
	if d.tmpl == nil {
		return nil
	}
	d.windowed = d.tmpl.Category.Windowed()
	at := d.now
	if d.sendAt.After(d.now) {
		at = d.sendAt
	}
	next := dlt.NextSendTime(d.windowed, at)
	if !next.After(at) {
		return nil
	}
	if !d.a.DeferPromotional {
		return dltErr(dlt.CodeInvalidPromoTime, fmt.Sprintf("DLT: template %s is %s, which may only be delivered 10:00-21:00 IST; it is %s IST (schedule it inside the window)",
			d.tmpl.ID, d.tmpl.Category, at.In(dlt.IST).Format("15:04")))
	}
	d.sendAt = next
	return nil
}

// message counts the SMS parts (the credits it costs) and makes the store message, with the
// account's webhook and the request's metadata.
func (d *draft) message() (*built, *apiError) {
	enc, err := text.ChooseEncoding(d.body)
	if err != nil {
		return nil, msgErr("Message text is not valid UTF-8")
	}
	info, err := text.Count(d.body, enc, text.Options{MaxParts: MaxParts})
	if err != nil {
		return nil, msgErr(fmt.Sprintf("Message text is too long - %d SMS parts, at most %d", info.Parts, MaxParts))
	}
	m := &store.Message{
		Account: d.a.Name, Priority: d.kind.priority(), From: d.from, To: d.sp.to, Text: d.body,
		PEID: d.peid, TemplateID: d.ctid, Windowed: d.windowed, Meta: d.meta(), TMIDs: d.tms,
	}
	if d.sendAt.After(d.now) {
		m.SendAt = d.sendAt
	}
	return &built{msg: m, segments: int64(info.Parts), links: d.links}, nil
}

// meta is the message's metadata: the account's webhook (not for a front's message, whose
// meta says where its receipt goes), the request's non-empty values and the OTP mark dlr
// uses; nil when there is none.
func (d *draft) meta() map[string]string {
	meta := map[string]string{}
	if d.a.WebhookURL != "" && !d.sp.front {
		meta[dlr.MetaWebhookURL] = d.a.WebhookURL
		meta[dlr.MetaWebhookMode] = dlr.ModeJSON
	}
	for k, v := range d.sp.meta {
		if v != "" {
			meta[k] = v
		}
	}
	if d.sp.kind == kindOTP {
		meta["otp"] = "1"
	}
	if len(meta) == 0 {
		return nil
	}
	return meta
}

func defaultSender(a *account, t *dlt.Template) string {
	if t != nil {
		for _, h := range a.SenderIDs {
			if t.AllowsHeader(h) {
				return h
			}
		}
	}
	if len(a.SenderIDs) > 0 {
		return a.SenderIDs[0]
	}
	return ""
}

// dltRefusal is the refusal of a DLT check's error: its text (violationText) and the
// violation's code (CodeErrorIdentifyingTemplate for an error that is not a Violation).
func dltRefusal(err error) *apiError {
	code := dlt.CodeErrorIdentifyingTemplate
	if v := dlt.AsViolation(err); v != nil {
		code = v.Code
	}
	return dltErr(code, violationText(err))
}

func violationText(err error) string {
	if v := dlt.AsViolation(err); v != nil {
		return fmt.Sprintf("DLT: %s (%d %s)", v.Reason, int(v.Code), v.Code)
	}
	return "DLT: " + err.Error()
}

// parseSchedule reads scheduletime / SendAt ("2006-01-02 15:04:05", IST unless the value
// carries a zone; RFC 3339 also accepted). Empty or past means now (zero). A future time
// must be at least MinScheduleAhead away.
func parseSchedule(v string, now time.Time) (time.Time, *apiError) {
	return parseScheduleOf("schedule time", v, now)
}

// parseScheduleOf is parseSchedule with the field's name in its errors.
func parseScheduleOf(field, v string, now time.Time) (time.Time, *apiError) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	var t time.Time
	var err error
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02T15:04:05"} {
		if t, err = time.ParseInLocation(layout, v, dlt.IST); err == nil {
			break
		}
	}
	if err != nil {
		if t, err = time.Parse(time.RFC3339, v); err != nil {
			return time.Time{}, msgErr("Invalid " + field + " " + strconv.Quote(v) + " - expected YYYY-MM-DD HH:MM:SS (IST)")
		}
	}
	if !t.After(now) {
		return time.Time{}, nil
	}
	if t.Sub(now) < MinScheduleAhead {
		return time.Time{}, msgErr(strings.ToUpper(field[:1]) + field[1:] + " must be at least 5 minutes greater than the current time")
	}
	return t, nil
}

// commit takes the credits of the messages, submits them and refunds on failure.
func (s *Server) commit(ctx context.Context, a *account, bs []*built) *apiError {
	if len(bs) == 0 {
		return nil
	}
	if e := s.putLinks(ctx, a, bs); e != nil {
		return e
	}
	need := map[store.CreditCategory]int64{}
	for _, b := range bs {
		cat := store.CreditsTransactional
		if b.msg.Priority == store.PriorityPromotional {
			cat = store.CreditsPromotional
		}
		need[cat] += b.segments
	}
	taken := map[store.CreditCategory]int64{}
	refund := func() {
		for cat, n := range taken {
			if err := s.o.Credits.RefundCredits(context.WithoutCancel(ctx), a.Name, cat, n); err != nil {
				s.o.Logger.Error().Err(err).Str("account", a.Name).Int64("credits", n).Msg("refunding credits failed")
			}
		}
	}
	if s.o.Credits != nil {
		for cat, n := range need {
			if !a.limited(cat) {
				continue // configured unlimited: the store is not consulted
			}
			if _, err := s.o.Credits.TakeCredits(ctx, a.Name, cat, n); err != nil {
				refund()
				if errors.Is(err, store.ErrInsufficientCredits) {
					return refuse(RefusedCredits, msgLowBalance)
				}
				s.o.Logger.Error().Err(err).Str("account", a.Name).Msg("taking credits failed")
				return unavailable()
			}
			taken[cat] = n
		}
	}
	msgs := make([]*store.Message, len(bs))
	for i, b := range bs {
		msgs[i] = b.msg
	}
	if err := s.o.Sender.Submit(ctx, msgs...); err != nil {
		if s.o.Credits != nil {
			refund()
		}
		if errors.Is(err, dispatch.ErrNoRoute) {
			// The operator routes no carrier to this number: the client's error, not ours.
			return refuse(RefusedDestination, msgNoRoute)
		}
		s.o.Logger.Error().Err(err).Str("account", a.Name).Str("to", msisdn.Mask(msgs[0].To)).Int("messages", len(msgs)).Msg("submit failed")
		return unavailable()
	}
	return nil
}

func parseDate(s string) (time.Time, error) { return time.ParseInLocation("2006-01-02", s, dlt.IST) }

// limited reports whether the account has a configured balance of cat. Accounts configured
// unlimited never consult the credit store (one Redis round trip less per message).
func (a *account) limited(cat store.CreditCategory) bool {
	n := a.TransactionalCredits
	if cat == store.CreditsPromotional {
		n = a.PromotionalCredits
	}
	return n != nil && *n >= 0
}
