package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/smppd/smppd/dlr"
	"github.com/smppd/smppd/dlt"
	"github.com/smppd/smppd/otp"
	"github.com/smppd/smppd/store"
)

// r1 serves /API/R1 and /API/R1/: the module API. Parameters come from the query and the
// body merged; module=ENC in the query selects the encrypted module, whose body is raw.
func (s *Server) r1(w http.ResponseWriter, r *http.Request, _ vars) {
	if strings.EqualFold(r.URL.Query().Get("module"), "ENC") {
		s.enc(w, r)
		return
	}
	p, err := readParams(w, r, s.o.MaxBodyBytes)
	if err != nil {
		writeError(w, bodyError(err))
		return
	}
	module := strings.ToUpper(p.get("module"))
	if module == "" {
		writeError(w, errorf(http.StatusBadRequest, msgMissingModule))
		return
	}
	if module == "ENC" {
		writeError(w, errorf(http.StatusBadRequest, "module=ENC must be given in the query string, with the encrypted payload as the body"))
		return
	}
	a, e := s.authenticate(w, r, p.get("apikey"))
	if e != nil {
		writeError(w, e)
		return
	}
	rep, e := s.r1Module(r, a, module, p)
	if e != nil {
		writeError(w, e)
		return
	}
	writeReply(w, http.StatusOK, rep)
}

// r1Module runs one module for an authenticated account. Message-level refusals come back
// as errors with HTTP 200 (Status Error), request errors with 4xx.
func (s *Server) r1Module(r *http.Request, a *account, module string, p params) (reply, *apiError) {
	switch module {
	case "TRANS_SMS", "PROMO_SMS":
		k := kindTrans
		if module == "PROMO_SMS" {
			k = kindPromo
		}
		id, e := s.sendMany(r, a, k, p, sendFields{to: "to", from: "from", msg: "msg", template: "templatename", sendAt: "scheduletime", r1: true})
		if e != nil {
			return reply{}, e
		}
		return success(id), nil
	case "SMS_OTP":
		phone, e := normalisePhone(p.get("to"))
		if e != nil {
			return reply{}, msgErr(e.details)
		}
		if a.Sandbox {
			return success(store.NewID()), nil
		}
		code := p.get("otpvalue")
		if code != "" && !otp.ValidCode(code) {
			return reply{}, msgErr(msgInvalidOTPValue)
		}
		id, _, e := s.sendOTP(r, a, phone, code, 6, p.get("templatename"))
		if e != nil {
			return reply{}, e
		}
		return success(id), nil
	case "TRANS_SMS_DLR":
		return s.dlrStatus(r, a, p)
	}
	return reply{}, errorf(http.StatusBadRequest, "Invalid module name - use TRANS_SMS, PROMO_SMS, SMS_OTP or TRANS_SMS_DLR")
}

type sendFields struct {
	to, from, msg, template, sendAt string
	r1                              bool        // read the R1 extras (peid, ctid, campaign, shortening)
	names                           *fieldNames // what errors call the fields (nil: R1's)
	links                           bool        // read the short-link parameters (TSMS, PSMS)
}

// sendMany sends one text (or template) to a comma-separated list of numbers: TRANS_SMS,
// PROMO_SMS, TSMS and PSMS. Every number and the text are checked before anything is
// sent; one bad number refuses the request. It returns the batch id; message i (from 1) of
// the batch has the id "<batch>-i".
func (s *Server) sendMany(r *http.Request, a *account, k kind, p params, f sendFields) (string, *apiError) {
	n := &r1Names
	if f.names != nil {
		n = f.names
	}
	nums := numberList(p.get(f.to))
	switch {
	case len(nums) == 0:
		return "", msgErr("Phone number (" + n.to + ") is required")
	case len(nums) > MaxRecipients:
		return "", msgErr("Too many phone numbers - at most " + strconv.Itoa(MaxRecipients) + " per request")
	}
	now := s.o.Now()
	field := "schedule time" // R1: 2Factor's own wording
	if f.names != nil {
		field = n.sendAt
	}
	sendAt, e := parseScheduleOf(field, p.get(f.sendAt), now)
	if e != nil {
		return "", e
	}
	var vars []string
	for i := 1; i <= 30; i++ {
		v, ok := p["var"+strconv.Itoa(i)]
		if !ok {
			break
		}
		vars = append(vars, strings.TrimSpace(v))
	}
	sp := spec{kind: k, from: p.get(f.from), text: p.get(f.msg), template: p.get(f.template), vars: vars, sendAt: sendAt, names: f.names}
	if f.r1 || f.links {
		sp.links = linkParams(p.get)
	}
	if f.r1 {
		sp.peid, sp.ctid = p.get("peid"), p.get("ctid")
		// The short-link parameters as given, also kept on the messages.
		sp.meta = map[string]string{
			"campaign": sp.links.campaign, "campaign_webhook": p.get("campaignwebhook"),
			"shorten_url_webhook": p.get("shortenurlwebhook"), "shorten_url_callback": sp.links.callback,
		}
		if sp.links.asked {
			sp.meta["shorten_url"] = "1"
		}
		// As on Bulk: echoed in the message's delivery webhook (dlr), in its format.
		sp.meta[dlr.MetaCallback1], sp.meta[dlr.MetaCallback2] = p.get("callback_value1"), p.get("callback_value2")
		if cf := strings.ToLower(p.get("callback_format")); (cf == "form" || cf == "urlencoded") && a.WebhookURL != "" {
			sp.meta[dlr.MetaWebhookMode] = dlr.ModeForm
		}
	}
	tos := make([]string, len(nums))
	for i, n := range nums {
		to, e := normalisePhone(n)
		if e != nil {
			if len(nums) > 1 {
				e = errorf(e.code, e.details+" - "+strconv.Quote(n))
			}
			return "", msgErr(e.details)
		}
		tos[i] = to
	}
	batch := store.NewID()
	bs := make([]*built, 0, len(nums))
	for i, to := range tos {
		sp.to = to
		b, e := s.build(a, sp, now)
		if e != nil {
			return "", e
		}
		b.msg.ID = batch + "-" + strconv.Itoa(i+1)
		bs = append(bs, b)
	}
	if a.Sandbox {
		return batch, nil
	}
	if e := s.commit(r.Context(), a, bs); e != nil {
		return "", e
	}
	return batch, nil
}

// dlrStatus answers TRANS_SMS_DLR: the status of the account's message sessionid (a batch
// id finds its first message), optionally only if it was accepted on smsdate (YYYY-MM-DD,
// IST).
func (s *Server) dlrStatus(r *http.Request, a *account, p params) (reply, *apiError) {
	id := p.get("sessionid")
	if id == "" {
		return reply{}, msgErr("sessionid is required")
	}
	date := p.get("smsdate")
	if date != "" {
		if _, err := parseDate(date); err != nil {
			return reply{}, msgErr("Invalid smsdate " + strconv.Quote(date) + " - expected YYYY-MM-DD")
		}
	}
	none := success(msgNoRecords)
	if s.o.Records == nil {
		return none, nil
	}
	rec, err := s.o.Records.GetRecord(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		rec, err = s.o.Records.GetRecord(r.Context(), id+"-1")
	}
	if errors.Is(err, store.ErrNotFound) {
		return none, nil
	}
	if err != nil {
		s.o.Logger.Error().Err(err).Str("account", a.Name).Msg("reading a status record failed")
		return reply{}, errorf(http.StatusInternalServerError, msgInternal)
	}
	if rec.Account != a.Name || date != "" && rec.AcceptedAt.In(dlt.IST).Format("2006-01-02") != date {
		return none, nil
	}
	rep := success(msgOneRecord)
	rep.DeliveryStatus = string(rec.Status)
	if !rec.SentAt.IsZero() {
		rep.SentAt = rec.SentAt.In(dlt.IST).Format("2006-01-02 15:04:05")
	}
	if rec.Status == store.StatusDelivered && !rec.StatusAt.IsZero() {
		rep.DeliveredAt = rec.StatusAt.In(dlt.IST).Format("2006-01-02 15:04:05")
	}
	return rep, nil
}
