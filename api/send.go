package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/smppd/smppd/dispatch"
	"github.com/smppd/smppd/dlr"
	"github.com/smppd/smppd/dlt"
	"github.com/smppd/smppd/smpp/text"
	"github.com/smppd/smppd/store"
)

type kind int

const (
	kindOTP kind = iota
	kindTrans
	kindPromo
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
}

// built is a checked message and what it costs.
type built struct {
	msg      *store.Message
	segments int64
}

var placeholder = regexp.MustCompile(`\{#\s*([A-Za-z]{1,20})\s*#\}`)

// fill replaces the template's placeholders in order with vals (missing ones with "").
func fill(tmpl string, vals []string) string {
	i := 0
	return placeholder.ReplaceAllStringFunc(tmpl, func(string) string {
		v := ""
		if i < len(vals) {
			v = vals[i]
		}
		i++
		return v
	})
}

// fillOTP puts code in the template's first numeric placeholder, or its first one, and
// leaves the other placeholders empty.
func fillOTP(tmpl, code string) string {
	slots := placeholder.FindAllStringSubmatchIndex(tmpl, -1)
	target := 0
	for i, m := range slots {
		name := strings.ToLower(tmpl[m[2]:m[3]])
		if name == "numeric" || name == "number" {
			target = i
			break
		}
	}
	vals := make([]string, len(slots))
	if len(vals) > 0 {
		vals[target] = code
	}
	return fill(tmpl, vals)
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

// build checks one message for the account: sender, PE and CT ids, template and text, DLT
// rules, category and send window, length; and returns it ready for Submit.
func (s *Server) build(a *account, sp spec, now time.Time) (*built, *apiError) {
	reg := s.o.Registry()
	peid := sp.peid
	if peid == "" {
		peid = a.DLTEntity
	}
	ctid := sp.ctid
	body := sp.text
	var tmpl *dlt.Template

	if sp.kind == kindOTP {
		name := sp.template
		if id := a.OTPTemplates[name]; id != "" {
			name = id
		}
		if reg != nil && name != "" {
			tmpl = findTemplate(reg, peid, name)
		}
		if tmpl == nil {
			ctid = a.OTPTemplate
			if reg != nil && ctid != "" {
				if t, ok := reg.Template(ctid); ok {
					tmpl = t
				}
			}
		} else {
			ctid = tmpl.ID
		}
		switch {
		case tmpl != nil:
			body = fillOTP(tmpl.Text, sp.otpCode)
		case reg != nil || ctid == "":
			return nil, msgErr(msgInvalidTemplate + " - no OTP template is configured for this account")
		default:
			t := a.OTPText
			if t == "" {
				t = "Your OTP is {#numeric#}"
			}
			body = fillOTP(t, sp.otpCode)
		}
	} else if sp.template != "" {
		if reg == nil {
			return nil, msgErr(msgInvalidTemplate + " - template names need the DLT registry, which is not configured; send msg with peid and ctid")
		}
		tmpl = findTemplate(reg, peid, sp.template)
		if tmpl == nil {
			return nil, msgErr(msgInvalidTemplate + " - no template " + strconv.Quote(sp.template) + " is registered for this account")
		}
		ctid = tmpl.ID
		body = fill(tmpl.Text, sp.vars)
	}
	body = strings.TrimSpace(body)
	if body == "" {
		return nil, msgErr("Message text is empty - send msg or a template name")
	}
	if n := utf8.RuneCountInString(body); n > MaxTextRunes {
		return nil, msgErr(fmt.Sprintf("Message text is %d characters - at most %d are allowed", n, MaxTextRunes))
	}

	from := sp.from
	if from == "" {
		from = defaultSender(a, tmpl)
	}
	if from == "" {
		return nil, msgErr("Sender Id (from) is required")
	}
	if len(a.SenderIDs) > 0 && !slices.Contains(a.SenderIDs, from) {
		return nil, msgErr("Access Denied - Sender Id '" + from + "' not approved")
	}
	if peid == "" {
		return nil, msgErr("DLT PE ID missing - the account has no DLT entity; pass peid")
	}

	windowed := false
	if reg != nil {
		if tmpl == nil && ctid != "" {
			tmpl, _ = reg.Template(ctid)
		}
		if tmpl == nil && ctid == "" {
			t, _, err := reg.MatchContent(peid, body, s.o.Match)
			if err != nil {
				return nil, msgErr(violationText(err))
			}
			tmpl, ctid = t, t.ID
		}
		if v := reg.Check(dlt.Message{PEID: peid, TemplateID: ctid, Header: from, Text: body}, now,
			dlt.CheckOptions{Match: s.o.Match, SkipSendWindow: true}); v != nil {
			return nil, msgErr(violationText(v))
		}
		cat := tmpl.Category
		switch {
		case sp.kind == kindPromo && cat != dlt.Promotional && cat != dlt.ServiceExplicit:
			return nil, msgErr(fmt.Sprintf("%s - template %s is %s; PROMO_SMS sends promotional and service explicit templates, use TRANS_SMS", msgInvalidTemplate, tmpl.ID, cat))
		case sp.kind != kindPromo && cat == dlt.Promotional:
			return nil, msgErr(fmt.Sprintf("%s - template %s is promotional; send it with PROMO_SMS", msgInvalidTemplate, tmpl.ID))
		}
		if cat.Windowed() {
			windowed = true
			at := now
			if sp.sendAt.After(now) {
				at = sp.sendAt
			}
			if !dlt.InSendWindow(cat, at) {
				if !a.DeferPromotional {
					return nil, msgErr(fmt.Sprintf("DLT: template %s is %s, which may only be delivered 10:00-21:00 IST; it is %s IST (schedule it inside the window)",
						tmpl.ID, cat, at.In(dlt.IST).Format("15:04")))
				}
				sp.sendAt = dlt.NextSendTime(cat, at)
			}
		}
	} else if ctid == "" {
		return nil, msgErr("DLT CT ID missing - no DLT registry is configured, so pass ctid")
	}

	enc, err := text.ChooseEncoding(body)
	if err != nil {
		return nil, msgErr("Message text is not valid UTF-8")
	}
	info, err := text.Count(body, enc, text.Options{MaxParts: MaxParts})
	if err != nil {
		return nil, msgErr(fmt.Sprintf("Message text is too long - %d SMS parts, at most %d", info.Parts, MaxParts))
	}
	meta := map[string]string{}
	if a.WebhookURL != "" {
		meta[dlr.MetaWebhookURL] = a.WebhookURL
		meta[dlr.MetaWebhookMode] = dlr.ModeJSON
	}
	for k, v := range sp.meta {
		if v != "" {
			meta[k] = v
		}
	}
	if sp.kind == kindOTP {
		meta["otp"] = "1"
	}
	if len(meta) == 0 {
		meta = nil
	}
	m := &store.Message{
		Account: a.Name, Priority: sp.kind.priority(), From: from, To: sp.to, Text: body,
		PEID: peid, TemplateID: ctid, Windowed: windowed, Meta: meta,
	}
	if sp.sendAt.After(now) {
		m.SendAt = sp.sendAt
	}
	return &built{msg: m, segments: int64(info.Parts)}, nil
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
			return time.Time{}, msgErr("Invalid schedule time " + strconv.Quote(v) + " - expected YYYY-MM-DD HH:MM:SS (IST)")
		}
	}
	if !t.After(now) {
		return time.Time{}, nil
	}
	if t.Sub(now) < MinScheduleAhead {
		return time.Time{}, msgErr("Schedule time must be at least 5 minutes greater than the current time")
	}
	return t, nil
}

// commit takes the credits of the messages, submits them and refunds on failure.
func (s *Server) commit(ctx context.Context, a *account, bs []*built) *apiError {
	if len(bs) == 0 {
		return nil
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
					return msgErr(msgLowBalance)
				}
				s.o.Logger.Error().Err(err).Str("account", a.Name).Msg("taking credits failed")
				return errorf(http.StatusInternalServerError, msgInternal)
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
			return msgErr(msgNoRoute)
		}
		s.o.Logger.Error().Err(err).Str("account", a.Name).Str("to", maskPhone(msgs[0].To)).Int("messages", len(msgs)).Msg("submit failed")
		return errorf(http.StatusInternalServerError, msgInternal)
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
