package store

import (
	"context"
	"errors"
	"strings"
	"time"
)

// Member is one incarnation of an smppd instance. Instance is the configured name, the same
// across restarts; Incarnation is random, new at every start and at every rejoin after a
// lost heartbeat. Claims are made under a member's Consumer name, so that a claim is tied to
// the incarnation that made it: when that incarnation is dead, its claims can be taken over
// at once, and the old incarnation, should it still be running, can no longer finish them.
type Member struct {
	Instance    string
	Incarnation string
}

// consumerSep joins instance and incarnation in a consumer name. Instance names may not
// contain it (config validates them).
const consumerSep = "~"

// Consumer is the member's name in consumer groups and leases: "instance~incarnation".
func (m Member) Consumer() string { return m.Instance + consumerSep + m.Incarnation }

// ParseConsumer returns the member a consumer name stands for; ok is false for names that
// no member made (an older smppd's, a tool's): their liveness is unknown.
func ParseConsumer(name string) (m Member, ok bool) {
	i := strings.LastIndex(name, consumerSep)
	if i <= 0 || i == len(name)-1 {
		return Member{}, false
	}
	return Member{Instance: name[:i], Incarnation: name[i+1:]}, true
}

// NewMember returns a new incarnation of instance (a fresh random Incarnation).
func NewMember(instance string) Member {
	return Member{Instance: instance, Incarnation: NewID()[:8]}
}

// ErrLeaseLost is returned when a heartbeat or a lease can no longer be renewed because it
// lapsed or someone else holds it now. The holder must stop acting on it at once.
var ErrLeaseLost = errors.New("store: lease lost")

// Liveness keeps the heartbeats of the instances sharing a store. An instance is alive while
// its current incarnation's heartbeat is; claims made by an incarnation that is not alive
// are taken over by the others (Queue.Reclaim, ReceiptLog.ReclaimReceiptLog,
// Webhooks.ClaimWebhooks) within one takeover round, without waiting for an idle timeout.
type Liveness interface {
	// Join registers m as alive for ttl. It replaces any earlier incarnation of
	// m.Instance, which is dead from then on: a restarted instance takes over what its
	// previous incarnation held at once.
	Join(ctx context.Context, m Member, ttl time.Duration) error
	// Renew extends m's heartbeat to ttl from now. It returns ErrLeaseLost when m is no
	// longer the instance's registered incarnation (its heartbeat lapsed, or a newer
	// incarnation joined): the caller must drop what it claimed as m and join anew.
	Renew(ctx context.Context, m Member, ttl time.Duration) error
	// Leave removes m's heartbeat (clean shutdown), so that others take over at once
	// whatever m still holds. Leaving a member that is not registered is not an error.
	Leave(ctx context.Context, m Member) error
	// Members returns the members alive now, in no particular order.
	Members(ctx context.Context) ([]Member, error)
}
