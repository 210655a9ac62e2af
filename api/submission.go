package api

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/smppd/smppd/dlr"
	"github.com/smppd/smppd/dlt"
	"github.com/smppd/smppd/store"
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
	// RefusedValidity: the validity period ends before the message could be sent.
	RefusedValidity
)

func (e *Refusal) Error() string { return fmt.Sprintf("refused: %s", e.Detail) }

// ErrUnknownAccount is returned by Accept for an account name the server does not have, and
// wrapped for a disabled or expired account (errors.Is finds it): none may send.
var ErrUnknownAccount = errors.New("api: unknown account")

// Accept takes one message from a protocol front (the SMPP front) through the checks and the
// durable path of an HTTP send: the account (by name: ErrUnknownAccount, also for a disabled
// or expired one), the destination, the text, the account's sender ids, the DLT rules with
// the client's PE_ID/CT_ID or the account's entity and the template its text matches (a
// refusal carries the DLT code a carrier would answer), the chain (the client's TM-AF ids,
// then the account's TM id), the send window, credits per segment (refunded if Submit
// fails), then the dispatcher's Submit. It returns the message's id only once Submit
// returned, that is once the message is durable.
//
// The message's priority and credits follow its template's category (classify): as an OTP
// for a transactional template, transactional for service implicit, promotional for
// promotional and service explicit. A sandbox account's message gets an id and is not sent,
// as over HTTP.
//
// Receipts go where sub.Meta says (the front's dlr.MetaWebhookURL and mode), never to the
// account's HTTP webhook; with sub.Receipt false the message carries no webhook, so no
// receipt goes back.
//
// sub.SendAt schedules the message (a past time means now; HTTP's five-minute minimum is
// 2Factor's rule and is not applied). sub.ValidUntil is checked here and not carried:
// store.Message has no expiry and dispatch sends a queued message whenever its carrier
// takes it, so a message whose validity ends before it could go out (its schedule, or the
// opening of the send window it is deferred to) is refused (RefusedInvalid), and one
// accepted is sent even if its carrier is down past its validity.
func (s *Server) Accept(ctx context.Context, sub Submission) ([]string, error) {
	a := s.byName[sub.Account]
	if a == nil {
		return nil, ErrUnknownAccount
	}
	now := s.o.Now()
	if a.Disabled || !a.ExpiresAt.IsZero() && !now.Before(a.ExpiresAt) {
		return nil, fmt.Errorf("%w: %s is disabled or expired", ErrUnknownAccount, a.Name)
	}
	to, e := normalisePhone(sub.To)
	if e != nil {
		return nil, refuse(RefusedDestination, e.details).refusal()
	}
	d := s.newDraft(a, spec{kind: kindAuto, to: to, from: strings.TrimSpace(sub.From), text: sub.Text,
		peid: strings.TrimSpace(sub.PEID), ctid: strings.TrimSpace(sub.TemplateID), sendAt: sub.SendAt,
		chain: sub.Chain, meta: frontMeta(sub), front: true}, now)
	b, e := d.run(d.checkText, d.resolveSender, d.checkDLT, d.classify, d.resolveChain, d.decideWindow,
		d.checkValidity(sub.ValidUntil))
	if e != nil {
		return nil, e.refusal()
	}
	b.msg.ID = store.NewID()
	if a.Sandbox {
		return []string{b.msg.ID}, nil
	}
	if e := s.commit(ctx, a, []*built{b}); e != nil {
		return nil, e.refusal()
	}
	return []string{b.msg.ID}, nil
}

// frontMeta is the front's Meta for the message, without where the receipt goes when the
// client asked for none.
func frontMeta(sub Submission) map[string]string {
	meta := maps.Clone(sub.Meta)
	if !sub.Receipt {
		delete(meta, dlr.MetaWebhookURL)
		delete(meta, dlr.MetaWebhookMode)
	}
	return meta
}

// checkValidity refuses a message whose validity (until; zero: none) ends before it can go
// out: now, at its schedule, or at the window opening decideWindow deferred it to.
func (d *draft) checkValidity(until time.Time) func() *apiError {
	return func() *apiError {
		at := d.now
		if d.sendAt.After(at) {
			at = d.sendAt
		}
		if !until.IsZero() && !until.After(at) {
			return refuse(RefusedValidity, fmt.Sprintf("Validity period ends %s IST, before the message can be sent (%s IST)",
				until.In(dlt.IST).Format("2006-01-02 15:04:05"), at.In(dlt.IST).Format("2006-01-02 15:04:05")))
		}
		return nil
	}
}
