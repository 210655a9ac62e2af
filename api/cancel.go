package api

import (
	"context"
	"errors"
	"fmt"

	"github.com/smppd/smppd/smpp/text"
	"github.com/smppd/smppd/store"
)

// Withdrawer takes a scheduled message back out of the queue and marks its record, for
// Cancel; every store.Store implements it.
type Withdrawer interface {
	CancelScheduled(ctx context.Context, carrier, id string) (*store.Message, error)
	UpdateRecord(ctx context.Context, id string, fn func(*store.Record) error) (*store.Record, error)
}

// ErrUnknownMessage is returned by Cancel for an id with no record, or whose message is
// another account's: ids are not secrets, records are.
var ErrUnknownMessage = errors.New("api: unknown message")

// ErrNotCancellable is returned by Cancel for a message that is no longer scheduled: it is
// due, queued, sent or finished, and on its way within milliseconds (SMPP's
// ESME_RCANCELFAIL).
var ErrNotCancellable = errors.New("api: message cannot be cancelled")

// Cancel withdraws a message the account scheduled (SMPP cancel_sm): only while it is still
// in the store's scheduled set. The store's CancelScheduled and its promotion race for the
// message and exactly one wins, so success means the message will never be sent. Its record
// then becomes CANCELLED (no webhook or receipt is sent for it: the client asked) and the
// credits it took are given back. Errors: ErrUnknownMessage, ErrNotCancellable, or others
// (the store is unavailable; nothing was withdrawn).
func (s *Server) Cancel(ctx context.Context, account, id string) error {
	if s.o.Records == nil || s.o.Withdrawer == nil {
		return fmt.Errorf("%w: cancelling is not configured", ErrNotCancellable)
	}
	rec, err := s.o.Records.GetRecord(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && rec.Account != account {
		return ErrUnknownMessage
	}
	if err != nil {
		return fmt.Errorf("api: cancel %s: %w", id, err)
	}
	if rec.Status != store.StatusScheduled {
		return fmt.Errorf("%w: it is %s", ErrNotCancellable, rec.Status)
	}
	m, err := s.o.Withdrawer.CancelScheduled(ctx, rec.Carrier, id)
	if err != nil {
		return fmt.Errorf("api: cancel %s: %w", id, err)
	}
	if m == nil {
		return fmt.Errorf("%w: it is due or on its way", ErrNotCancellable)
	}
	// Withdrawn: from here on the cancel has happened whatever fails, so the rest does not
	// end with ctx.
	ctx = context.WithoutCancel(ctx)
	now := s.o.Now()
	if _, err := s.o.Withdrawer.UpdateRecord(ctx, id, func(r *store.Record) error {
		r.Status, r.StatusAt = store.StatusCancelled, now
		r.Reason = "cancelled by the client (cancel_sm) before it was sent"
		return nil
	}); err != nil {
		s.o.Logger.Error().Err(err).Str("account", account).Str("id", id).Msg("cancel: the message was withdrawn but its record still says SCHEDULED")
	}
	s.refund(ctx, account, m)
	return nil
}

// refund gives back the credits a withdrawn message took (commit takes one per segment of
// its category when the account's balance is limited).
func (s *Server) refund(ctx context.Context, account string, m *store.Message) {
	a := s.byName[account]
	if a == nil || s.o.Credits == nil || m.Text == "" {
		return
	}
	cat := store.CreditsTransactional
	if m.Priority == store.PriorityPromotional {
		cat = store.CreditsPromotional
	}
	if !a.limited(cat) {
		return
	}
	enc, err := text.ChooseEncoding(m.Text)
	if err != nil {
		return
	}
	info, err := text.Count(m.Text, enc, text.Options{MaxParts: MaxParts})
	if err != nil || info.Parts <= 0 {
		return
	}
	if err := s.o.Credits.RefundCredits(ctx, account, cat, int64(info.Parts)); err != nil {
		s.o.Logger.Error().Err(err).Str("account", account).Int("credits", info.Parts).Msg("cancel: refunding credits failed")
	}
}
