package api

import (
	"errors"
	"fmt"
	"time"

	"github.com/smppd/smppd/dlt"
)

// Submission is one message a client hands over outside HTTP — today the SMPP front
// (api/smppfront) — described protocol-neutrally, so that it passes the very checks and the
// durable path an HTTP send does (Server.Accept): the account's sender ids, the DLT rules,
// credits, the send window, scheduling, then dispatch.Submit.
type Submission struct {
	// Account is the account's name (config accounts[].name), already authenticated.
	Account string
	// From is the sender id (header) the client asked for; "" = the account's default.
	From string
	// To is the destination as the client wrote it (normalised like an HTTP send's number).
	To string
	// Text is the decoded message text (the front has undone data_coding, UDH reassembly and
	// message_payload).
	Text string
	// PEID and TemplateID are the DLT ids the client sent (TLVs 0x1400/0x1401); "" = the
	// account's entity, and the template found by matching the text.
	PEID, TemplateID string
	// Chain is the telemarketer chain the client sent (TLV 0x1402 in raw "PE,TM1,…" form), if
	// any; the account's own TM id (the aggregator) is inserted in the chain either way.
	Chain string
	// SendAt schedules the message (schedule_delivery_time); zero = now.
	SendAt time.Time
	// ValidUntil is when the message is no longer worth sending (validity_period); zero = the
	// dispatcher's default.
	ValidUntil time.Time
	// Receipt asks for a delivery receipt back to the client (registered_delivery).
	Receipt bool
	// Meta is the front's own per-message data carried to receipt handling (where the
	// receipt goes back, as dlr's Meta keys); merged into the message's Meta.
	Meta map[string]string
}

// Refusal is why Accept did not take a message, in terms a protocol front can map to its own
// replies: an SMPP front to a command_status (DLT refusals to the DLT code the carriers use).
type Refusal struct {
	// Reason classifies the refusal.
	Reason RefusalReason
	// DLTCode is set when Reason is RefusedDLT: the DLT error code a carrier would answer.
	DLTCode dlt.Code
	// Detail says what and why, in words (for logs and the client's error text).
	Detail string
}

// RefusalReason classifies a Refusal.
type RefusalReason int

const (
	// RefusedInvalid: a malformed or missing field (number, text, schedule).
	RefusedInvalid RefusalReason = iota + 1
	// RefusedDestination: a number no route covers or that is not a valid mobile number.
	RefusedDestination
	// RefusedSender: a sender id the account may not use.
	RefusedSender
	// RefusedDLT: the DLT checks refused the message (DLTCode says which).
	RefusedDLT
	// RefusedCredits: the account has no credits left for the message's category.
	RefusedCredits
	// RefusedThrottled: the account's rate limit.
	RefusedThrottled
	// RefusedUnavailable: the store or the dispatcher could not take it now (retry later).
	RefusedUnavailable
)

func (e *Refusal) Error() string { return fmt.Sprintf("refused: %s", e.Detail) }

// ErrUnknownAccount is returned by Accept for an account name the server does not have.
var ErrUnknownAccount = errors.New("api: unknown account")
