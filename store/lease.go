package store

import (
	"context"
	"time"
)

// BindLease is one bind slot of a carrier held by one member. The deployment's binds to a
// carrier (binds[].count in the configuration) are slots; an instance opens a bind only
// while it holds that slot's lease, so that all instances together never hold more binds
// than the carrier allows.
type BindLease struct {
	// Slot names the bind: the link name, e.g. "airtel-trx-0.1".
	Slot string
	// Holder is the consumer name (Member.Consumer) of the holder.
	Holder string
	// Token is the fencing token: it grows with every acquisition in the store, so a newer
	// holder of a slot always has a larger token than any earlier one.
	Token int64
	// Expires is when the lease lapses unless renewed, by the store's clock as seen from
	// the caller (for display; holders keep their own, earlier deadline).
	Expires time.Time
}

// BindLeases shares the carriers' bind slots between instances.
type BindLeases interface {
	// AcquireBind takes slot for holder for ttl when no one holds it, with a new token
	// larger than any the store gave before (or holder already does: then it is renewed
	// and keeps its token). ok is false when another holder has it; l then describes that
	// holder's lease. ttl is at least a millisecond; slot and holder are not empty.
	AcquireBind(ctx context.Context, slot, holder string, ttl time.Duration) (l BindLease, ok bool, err error)
	// RenewBinds extends each lease to ttl from now, one round trip for all. The result
	// has one error per lease, in order: nil, or ErrLeaseLost when the slot is no longer
	// held by l.Holder with l.Token (it lapsed, or another holder took it). A non-nil
	// second result means the call failed as a whole and says nothing about any lease.
	RenewBinds(ctx context.Context, ttl time.Duration, ls ...BindLease) ([]error, error)
	// ReleaseBind gives a slot up, if l (holder and token) still holds it; otherwise it
	// does nothing and returns nil.
	ReleaseBind(ctx context.Context, l BindLease) error
	// BindLeases returns the held leases whose slot starts with prefix ("" for all),
	// sorted by slot.
	BindLeases(ctx context.Context, prefix string) ([]BindLease, error)
}
