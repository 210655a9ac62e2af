package dlr

import (
	"encoding/json"
	"net/url"
	"strings"
	"time"

	"github.com/smppd/smppd/dlt"
	"github.com/smppd/smppd/internal/msisdn"
	"github.com/smppd/smppd/store"
)

// Record.Meta keys dlr reads (the api sets them from the request) or writes.
const (
	// MetaWebhookURL is where the message's webhook goes (the api copies the account's URL
	// into every message it accepts); none, no webhook.
	MetaWebhookURL = "webhook_url"
	// MetaWebhookMode is "json" (default: the 2Factor R1 payload) or "form" (the legacy
	// form-encoded transactional DLR). The api maps 2Factor's callback_format onto it.
	MetaWebhookMode = "webhook_mode"
	// MetaCallback1 and MetaCallback2 are echoed back as callback_value1 and callback_value2.
	MetaCallback1 = "callback_value1"
	MetaCallback2 = "callback_value2"
	// MetaOTP is "1" on OTP messages: their webhook is the legacy OTP delivery callback
	// (mode=SMS_OTP, SessionId, To, Status), form-encoded.
	MetaOTP = "otp"
	// MetaParts is written by dlr: the per-part receipt states of the message (JSON).
	MetaParts = "dlr_parts"
)

// Webhook modes.
const (
	ModeJSON = "json"
	ModeForm = "form"
	ModeOTP  = "otp"
)

// TimeLayout is the layout of SentAt and StatusAt in payloads ("2025-11-24 19:43:06", IST).
const TimeLayout = "2006-01-02 15:04:05"

// FormatTime writes t as payloads do; the zero time is "".
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(dlt.IST).Format(TimeLayout) // payload times are IST, as 2Factor sends them
}

// Payload is the JSON delivery report of the 2Factor R1 API, field for field.
type Payload struct {
	SessionId      string `json:"SessionId"`
	SmsFrom        string `json:"SmsFrom"`
	SmsTo          string `json:"SmsTo"`
	SmsStatus      string `json:"SmsStatus"`
	SentAt         string `json:"SentAt"`
	StatusAt       string `json:"StatusAt"`
	CallbackValue1 string `json:"callback_value1"`
	CallbackValue2 string `json:"callback_value2"`
}

// PayloadOf returns the JSON payload for a record.
func PayloadOf(r *store.Record) Payload {
	return Payload{
		SessionId: r.ID, SmsFrom: r.From, SmsTo: msisdn.National(r.To), SmsStatus: string(r.Status),
		SentAt: FormatTime(r.SentAt), StatusAt: FormatTime(r.StatusAt),
		CallbackValue1: r.Meta[MetaCallback1], CallbackValue2: r.Meta[MetaCallback2],
	}
}

// formOf returns the legacy form-encoded transactional DLR (2Factor KB art. 14 field names).
func formOf(r *store.Record) url.Values {
	v := url.Values{}
	v.Set("SessionId", r.ID)
	v.Set("SmsFrom", r.From)
	v.Set("SmsTo", strings.TrimPrefix(r.To, "+"))
	v.Set("SmsStatus", string(r.Status))
	v.Set("StatusGroupName", string(r.Status))
	v.Set("StatusDescription", statusDescription(r.Status))
	if r.ErrorCode != "" {
		v.Set("ErrorId", r.ErrorCode)
	} else {
		v.Set("ErrorId", "0")
	}
	name, desc := "NO_ERROR", "No Error"
	if r.Status != store.StatusDelivered {
		name, desc = "ERROR", r.Reason
		if n, d, ok := DLTReason(r.ErrorCode); ok {
			name, desc = n, d
		}
	}
	v.Set("ErrorName", name)
	v.Set("ErrorDescription", desc)
	v.Set("SentAt", FormatTime(r.SentAt))
	v.Set("StatusAt", FormatTime(r.StatusAt))
	v.Set("callback_value1", r.Meta[MetaCallback1])
	v.Set("callback_value2", r.Meta[MetaCallback2])
	return v
}

// otpFormOf returns the legacy OTP delivery callback (2Factor KB art. 5).
func otpFormOf(r *store.Record) url.Values {
	st := "FAILED"
	switch r.Status {
	case store.StatusDelivered, store.StatusRejected:
		st = string(r.Status)
	}
	v := url.Values{}
	v.Set("mode", "SMS_OTP")
	v.Set("SessionId", r.ID)
	v.Set("To", msisdn.National(r.To))
	v.Set("Status", st)
	return v
}

// StatusDescriptions says what each status means, for payloads and documentation.
var StatusDescriptions = map[store.Status]string{
	store.StatusAccepted:    "accepted by smppd, waiting to be sent",
	store.StatusScheduled:   "accepted, to be sent later",
	store.StatusSubmitted:   "accepted by the carrier; no final receipt yet",
	store.StatusDelivered:   "delivered to the handset",
	store.StatusUndelivered: "the carrier could not deliver it",
	store.StatusExpired:     "validity ran out before it could be delivered",
	store.StatusRejected:    "refused by the carrier or by DLT scrubbing",
	store.StatusFailed:      "smppd could not send it (permanent error)",
	store.StatusUnknown:     "the carrier reported no usable outcome",
	store.StatusCancelled:   "withdrawn by the client (cancel_sm) while scheduled; never sent",
}

func statusDescription(s store.Status) string {
	if d, ok := StatusDescriptions[s]; ok {
		return d
	}
	return string(s)
}

// JobID is the webhook job id (and Idempotency-Key) of a message's report of a status: the
// same message and status always give the same id.
func JobID(msgID string, st store.Status) string { return msgID + ":" + string(st) }

// BuildJob returns the webhook job reporting r's current status to url in mode (ModeJSON,
// ModeForm, ModeOTP, or ModeSMPP: a combined ClientReceipt in JSON), due at now.
func BuildJob(r *store.Record, target, mode string, now time.Time) *store.WebhookJob {
	j := &store.WebhookJob{ID: JobID(r.ID, r.Status), MessageID: r.ID, Account: r.Account, URL: target,
		Kind: mode, CreatedAt: now, Since: now, NextAt: now}
	switch mode {
	case ModeSMPP:
		return clientJob(j.ID, clientReceiptOf(r, target), target, now)
	case ModeOTP:
		j.ContentType, j.Body = "application/x-www-form-urlencoded", otpFormOf(r).Encode()
	case ModeForm:
		j.ContentType, j.Body = "application/x-www-form-urlencoded", formOf(r).Encode()
	default:
		j.Kind = ModeJSON
		b, _ := json.Marshal(PayloadOf(r))
		j.ContentType, j.Body = "application/json", string(b)
	}
	return j
}
