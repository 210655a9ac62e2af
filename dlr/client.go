package dlr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/store"
)

// Receipts and MO for clients that are not reached over HTTP (the SMPP front's accounts) go
// through the same durable webhook queue as webhooks — queued in the same store write as the
// record change, claimed, retried, dead-lettered — but to a Deliverer instead of an HTTP POST.
// The target of such a job is ClientTarget(account) and its mode ModeSMPP; its body is a
// ClientReceipt in JSON.
const (
	// ModeSMPP is the webhook mode of messages whose receipt goes back over SMPP.
	ModeSMPP = "smpp"
	// ClientScheme is the URL scheme of a Deliverer-delivered target: "smpp://<account>".
	ClientScheme = "smpp"
)

// ClientTarget is the webhook URL the front puts in a message's Meta (MetaWebhookURL) so
// that its receipt is delivered back to the account's receiver binds.
func ClientTarget(account string) string { return ClientScheme + "://" + account }

// ClientReceipt is the body of a ModeSMPP job: what the front needs to write the deliver_sm
// (Appendix B text and the receipted_message_id / message_state TLVs), or an MO message.
type ClientReceipt struct {
	// MO is true for a mobile-originated message routed to the account (then Text is the
	// message and Stat/Err are empty).
	MO bool `json:"mo,omitempty"`
	// MessageID is smppd's id, the one submit_sm_resp gave the client; for an MO, an id of
	// its own ("mo-" and 32 hex digits: the same when its log entry is applied again).
	MessageID string `json:"id"`
	// Account is the client account the job goes to (the account of its ClientTarget).
	Account string `json:"account"`
	// From and To are the original message's (a receipt's deliver_sm goes from To to From).
	From string `json:"from"`
	To   string `json:"to"`
	// Submitted and Done are the receipt's submit date (when the message was sent to the
	// carrier; accepted, for one that never was) and done date (its status time; for a
	// per-part receipt when the part's receipt arrived; for an MO when it arrived).
	Submitted time.Time `json:"submitted"`
	Done      time.Time `json:"done"`
	// Stat is the Appendix B stat (DELIVRD, UNDELIV, EXPIRED, REJECTD, …), Err its err
	// field (3 characters), Parts / Delivered the sub and dlvrd counts.
	Stat      string `json:"stat,omitempty"`
	Err       string `json:"err,omitempty"`
	Parts     int    `json:"parts,omitempty"`
	Delivered int    `json:"delivered,omitempty"`
	// Text is the first characters of the message (a receipt's text field), or the MO text.
	Text string `json:"text,omitempty"`
	// Part is, for a per-part receipt, the part's number from 1; 0 for a message's combined
	// receipt.
	Part int `json:"part,omitempty"`
}

// Deliverer delivers the jobs of one URL scheme (ClientScheme) instead of an HTTP POST
// (SenderOptions.Deliverers). The sender acknowledges the job when Deliver returns nil, so
// Deliver returns only once the client acknowledged it (deliver_sm_resp ESME_ROK). ctx ends
// after SenderOptions.Timeout. The job's Body is a ClientReceipt (ParseClientReceipt); its ID
// is stable across attempts (a job may be handed over twice: a sender that died before its
// ack), and its Attempts counts the attempts, this one included, holds (ErrNotBound) not.
// Deliver is called concurrently, up to SenderOptions.ClientConcurrency per account.
type Deliverer interface {
	Deliver(ctx context.Context, job *store.WebhookJob) error
}

// ErrNotBound is returned (wrapped) by a Deliverer when the client has no bind that can take
// the job now (no receiver bound): the job is held and tried again soon, without counting as
// a failed attempt, so receipts wait for the client's next bind instead of dying.
var ErrNotBound = errors.New("dlr: client not bound")

// Record.Meta keys of ModeSMPP messages (the front sets them at accept).
const (
	// MetaReceiptParts is "1" when the client asked for one receipt per part of a long
	// message (the account's receipt mode) instead of one combined receipt: each part's
	// receipt is queued as that part becomes final, with ClientReceipt.Part its number from
	// 1. A message of one part, and a message dispatch made final itself (FAILED, REJECTED
	// at submit: no part reached a carrier), get their one combined receipt either way.
	MetaReceiptParts = "receipt_parts"
	// MetaReceiptText is the start of the message's text (the record keeps no text): the
	// first 20 characters of it become the receipt's text field. None: the field is empty.
	MetaReceiptText = "receipt_text"
	// MetaReceiptFailureOnly is "1" when the client asked for a receipt only if the message
	// fails (registered_delivery 2, SMPP 3.4 §5.2.17): a delivered message (or part) gets
	// none; every other final status gets its receipt as usual.
	MetaReceiptFailureOnly = "receipt_failure_only"
)

// wantsReceipt reports whether a ModeSMPP message whose outcome is delivered (or not) gets
// a receipt: always, unless it asked for failures only.
func wantsReceipt(meta map[string]string, delivered bool) bool {
	return !delivered || meta[MetaReceiptFailureOnly] != "1"
}

// ReceiptTextLen is how many characters of a message's text its receipt carries (Appendix
// B's text field).
const ReceiptTextLen = 20

// ClientAccount returns the account of a ClientTarget URL, and whether target is one.
func ClientAccount(target string) (string, bool) {
	acc, ok := strings.CutPrefix(target, ClientScheme+"://")
	return acc, ok && acc != ""
}

// ParseClientReceipt reads the body of a ModeSMPP job (what a Deliverer is handed).
func ParseClientReceipt(body string) (*ClientReceipt, error) {
	var r ClientReceipt
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		return nil, fmt.Errorf("dlr: client receipt: %w", err)
	}
	return &r, nil
}

// PartJobID is the job id of the receipt of part `part` (from 1) of message msgID reporting
// st: like JobID, the same part and status always give the same id.
func PartJobID(msgID string, part int, st store.Status) string {
	return msgID + ":" + strconv.Itoa(part) + ":" + string(st)
}

// clientReceiptOf is the combined receipt of r's current (final) status: Stat from the
// status (or the carrier's own stat when it says the same, so DELETED and ACCEPTD pass
// through), Err from the error code, Delivered the parts whose receipt said delivered.
func clientReceiptOf(r *store.Record, target string) ClientReceipt {
	cr := ClientReceipt{MessageID: r.ID, Account: clientAccountOf(r, target), From: r.From, To: r.To,
		Submitted: submittedAt(r), Done: r.StatusAt, Stat: appendixBStat(r.Status, ""), Err: errField(r.ErrorCode),
		Parts: max(r.Parts, 1), Text: receiptText(r)}
	if r.Meta[MetaParts] != "" {
		for _, p := range decodeParts(r) {
			if p.Final && p.S == store.StatusDelivered {
				cr.Delivered++
			}
		}
		for _, p := range decodeParts(r) {
			if p.Final && p.S == r.Status && errorCode(p) == r.ErrorCode {
				cr.Stat = appendixBStat(r.Status, p.Stat)
				break
			}
		}
	} else if r.Status == store.StatusDelivered {
		cr.Delivered = cr.Parts
	}
	return cr
}

// partReceiptOf is the receipt of part i (from 0) of r, final with state p.
func partReceiptOf(r *store.Record, target string, i int, p partState) ClientReceipt {
	cr := ClientReceipt{MessageID: r.ID, Account: clientAccountOf(r, target), From: r.From, To: r.To,
		Submitted: submittedAt(r), Done: time.UnixMilli(p.At), Stat: appendixBStat(p.S, p.Stat),
		Err: errField(errorCode(p)), Parts: 1, Text: receiptText(r), Part: i + 1}
	if p.S == store.StatusDelivered {
		cr.Delivered = 1
	}
	return cr
}

func clientAccountOf(r *store.Record, target string) string {
	if acc, ok := ClientAccount(target); ok {
		return acc
	}
	return r.Account
}

func submittedAt(r *store.Record) time.Time {
	if r.SentAt.IsZero() {
		return r.AcceptedAt // final before it was sent (FAILED, REJECTED at submit)
	}
	return r.SentAt
}

func receiptText(r *store.Record) string {
	t := r.Meta[MetaReceiptText]
	n := 0
	for i := range t {
		if n == ReceiptTextLen {
			return t[:i]
		}
		n++
	}
	return t
}

// appendixBStat is the Appendix B stat reporting status st: the carrier's own stat when it
// is one that means st (DELETED for UNDELIVERED, ACCEPTD for DELIVERED), else st's.
func appendixBStat(st store.Status, carrierStat string) string {
	if s, ok := smpp.ParseStat(carrierStat); ok {
		if got, final := statusOf(&smpp.Receipt{State: s}); final && got == st {
			return s.ReceiptStat()
		}
	}
	if !st.Final() {
		return smpp.StateUnknown.ReceiptStat()
	}
	return MessageState(st).ReceiptStat()
}

// MessageState is a message status as SMPP's message_state (§5.2.28), the one mapping for
// receipts' stat field and query_sm: not yet final is ENROUTE, FAILED (we could not send it)
// UNDELIVERABLE, CANCELLED (withdrawn by cancel_sm before it was sent) DELETED.
func MessageState(st store.Status) smpp.MessageState {
	switch st {
	case store.StatusDelivered:
		return smpp.StateDelivered
	case store.StatusUndelivered, store.StatusFailed:
		return smpp.StateUndeliverable
	case store.StatusExpired:
		return smpp.StateExpired
	case store.StatusRejected:
		return smpp.StateRejected
	case store.StatusUnknown:
		return smpp.StateUnknown
	case store.StatusCancelled:
		return smpp.StateDeleted
	}
	return smpp.StateEnroute
}

// errField is the receipt's err field for an error code: three digits for a number up to
// 999 (a carrier's err, a DLT code, a command_status written 0x…), "000" for none; a longer
// code is passed as written, so nothing is lost (the front may cut it).
func errField(code string) string {
	code = strings.TrimSpace(code)
	if code == "" {
		return "000"
	}
	base, digits := 10, code
	if h, ok := strings.CutPrefix(strings.ToLower(code), "0x"); ok {
		base, digits = 16, h
	}
	if n, err := strconv.ParseUint(digits, base, 32); err == nil && n <= 999 {
		return fmt.Sprintf("%03d", n)
	}
	return code
}

// clientJob is the job carrying receipt cr to target.
func clientJob(id string, cr ClientReceipt, target string, now time.Time) *store.WebhookJob {
	b, _ := json.Marshal(cr)
	return &store.WebhookJob{ID: id, MessageID: cr.MessageID, Account: cr.Account, URL: target, Kind: ModeSMPP,
		ContentType: "application/json", Body: string(b), CreatedAt: now, Since: now, NextAt: now}
}
