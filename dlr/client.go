package dlr

import (
	"context"
	"errors"
	"time"

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
	// MessageID is smppd's id, the one submit_sm_resp gave the client.
	MessageID string `json:"id"`
	Account   string `json:"account"`
	// From and To are the original message's (a receipt's deliver_sm goes from To to From).
	From string `json:"from"`
	To   string `json:"to"`
	// Submitted and Done are the receipt's submit date and done date.
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

// Deliverer delivers the jobs of one URL scheme (ClientScheme) instead of an HTTP POST. The
// sender acknowledges the job when Deliver returns nil, so Deliver returns only once the
// client acknowledged it (deliver_sm_resp ESME_ROK).
type Deliverer interface {
	Deliver(ctx context.Context, job *store.WebhookJob) error
}

// ErrNotBound is returned (wrapped) by a Deliverer when the client has no bind that can take
// the job now (no receiver bound): the job is held and tried again soon, without counting as
// a failed attempt, so receipts wait for the client's next bind instead of dying.
var ErrNotBound = errors.New("dlr: client not bound")
