package liveness

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smppd/smppd/internal/wait"
	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/memstore"
)

// flaky is a store whose heartbeat calls fail while down is set, as when Redis is out of
// reach.
type flaky struct {
	store.Liveness
	down atomic.Bool
}

var errDown = errors.New("store unreachable")

func (f *flaky) Renew(ctx context.Context, m store.Member, ttl time.Duration) error {
	if f.down.Load() {
		return errDown
	}
	return f.Liveness.Renew(ctx, m, ttl)
}

func (f *flaky) Join(ctx context.Context, m store.Member, ttl time.Duration) error {
	if f.down.Load() {
		return errDown
	}
	return f.Liveness.Join(ctx, m, ttl)
}

func TestKeeperLapseAndRejoin(t *testing.T) {
	ms := memstore.New()
	f := &flaky{Liveness: ms}
	// A wide margin leaves room between the keeper's deadline and the store's.
	const ttl = time.Second
	k, err := Start(context.Background(), f, Options{Instance: "alpha", TTL: ttl, Margin: 600 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	first := k.Consumer()
	if !k.Valid(first) || k.Valid("alpha~other") {
		t.Fatalf("Valid(%s)=%v, Valid(other)=%v", first, k.Valid(first), k.Valid("alpha~other"))
	}
	// Several renewals keep the same incarnation.
	time.Sleep(ttl)
	if k.Consumer() != first || !k.Valid(first) {
		t.Fatalf("after renewals: %s valid=%v", k.Consumer(), k.Valid(first))
	}

	// The store goes out of reach: the claims turn invalid before the store's heartbeat
	// lapses (so before anyone can take them over).
	f.down.Store(true)
	var invalidAt time.Time
	wait.For(t, 2*ttl, "claims invalid", func() bool {
		if !k.Valid(first) {
			invalidAt = time.Now()
			return true
		}
		return false
	})
	members, _ := ms.Members(context.Background())
	if len(members) != 1 {
		t.Fatalf("the store's heartbeat lapsed before the keeper gave its claims up (invalid at %v)", invalidAt)
	}

	// Back before the store's heartbeat lapsed: nobody could have taken anything over, so
	// the same incarnation goes on.
	f.down.Store(false)
	wait.For(t, 2*ttl, "valid again", func() bool { return k.Valid(first) })
	if k.Consumer() != first {
		t.Fatalf("rejoined as %s although the heartbeat never lapsed", k.Consumer())
	}

	// Out of reach until the store's heartbeat lapses: back, the keeper joins as a new
	// incarnation, and the old one's claims stay invalid.
	f.down.Store(true)
	wait.For(t, 5*ttl, "the store's heartbeat lapses", func() bool {
		ms, _ := ms.Members(context.Background())
		return len(ms) == 0
	})
	f.down.Store(false)
	wait.For(t, 5*ttl, "rejoined", func() bool { return k.Consumer() != first && k.Valid(k.Consumer()) })
	if k.Valid(first) {
		t.Fatal("the old incarnation's claims are valid again")
	}
	if st := k.Stats(); st.Rejoins != 1 || st.Lapses != 1 || st.RenewErrors == 0 {
		t.Fatalf("stats %+v", st)
	}

	if err := k.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if k.Valid(k.Consumer()) {
		t.Fatal("valid after Stop")
	}
	if members, _ := ms.Members(context.Background()); len(members) != 0 {
		t.Fatalf("members after Stop: %v", members)
	}
}

func TestKeeperCountsMembers(t *testing.T) {
	ms := memstore.New()
	o := Options{Instance: "a", TTL: 300 * time.Millisecond}
	a, err := Start(context.Background(), ms, o)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Stop(context.Background())
	o.Instance = "b"
	b, err := Start(context.Background(), ms, o)
	if err != nil {
		t.Fatal(err)
	}
	wait.For(t, time.Second, "a counts two members", func() bool { return a.LiveMembers() == 2 })
	_ = b.Stop(context.Background())
	wait.For(t, time.Second, "a counts one member", func() bool { return a.LiveMembers() == 1 })
}

func TestOptionsRejectBadInstance(t *testing.T) {
	for _, name := range []string{"", "a~b", "a b", "a|b"} {
		if _, err := Start(context.Background(), memstore.New(), Options{Instance: name}); err == nil {
			t.Errorf("instance %q accepted", name)
		}
	}
}

// Two processes configured with one instance name: the second one's join makes the first one
// lose its heartbeat, and the first must then stay out instead of joining again (which would
// replace the second, and so on, each time handing claims over).
func TestKeeperSharedNameStaysOut(t *testing.T) {
	ms := memstore.New()
	o := Options{Instance: "same", TTL: 300 * time.Millisecond}
	first, err := Start(context.Background(), ms, o)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Stop(context.Background())
	second, err := Start(context.Background(), ms, o)
	if err != nil {
		t.Fatal(err)
	}
	wait.For(t, 2*time.Second, "the first sees the conflict", func() bool { return first.Stats().Conflicts > 0 })
	if first.Valid(first.Consumer()) {
		t.Fatal("the first process still acts on its claims")
	}
	// It keeps out while the second lives.
	time.Sleep(time.Second)
	if !second.Valid(second.Consumer()) || first.Valid(first.Consumer()) || first.Stats().Rejoins != 0 {
		t.Fatalf("second valid %v, first valid %v, first rejoins %d", second.Valid(second.Consumer()), first.Valid(first.Consumer()), first.Stats().Rejoins)
	}
	// Once the second stops, the first joins again.
	_ = second.Stop(context.Background())
	wait.For(t, 2*time.Second, "the first rejoins", func() bool { return first.Valid(first.Consumer()) })
}

// Abandon gives the incarnation up at once: its name is dead in the store (so its claims are
// taken over), a new one is current; a second Abandon of the old name does nothing; when the
// store cannot be reached the keeper keeps trying and never renews the abandoned name.
func TestKeeperAbandon(t *testing.T) {
	ms := memstore.New()
	f := &flaky{Liveness: ms}
	k, err := Start(context.Background(), f, Options{Instance: "alpha", TTL: 600 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Stop(context.Background())
	first := k.Consumer()
	k.Abandon(first)
	second := k.Consumer()
	if second == first || !k.Valid(second) || k.Valid(first) {
		t.Fatalf("after Abandon: %s (valid %v), old valid %v", second, k.Valid(second), k.Valid(first))
	}
	members, _ := ms.Members(context.Background())
	if len(members) != 1 || members[0].Consumer() != second {
		t.Fatalf("members %v, want only %s", members, second)
	}
	k.Abandon(first) // stale: nothing happens
	if k.Consumer() != second || k.Stats().Abandons != 1 {
		t.Fatalf("a stale Abandon changed %s to %s (abandons %d)", second, k.Consumer(), k.Stats().Abandons)
	}

	f.down.Store(true)
	k.Abandon(second)
	if k.Valid(second) || k.Consumer() != second {
		t.Fatalf("abandoned while the store is down: consumer %s valid %v", k.Consumer(), k.Valid(k.Consumer()))
	}
	time.Sleep(400 * time.Millisecond) // two renewal rounds: the abandoned name must not come back
	if k.Valid(second) {
		t.Fatal("the abandoned incarnation was renewed")
	}
	f.down.Store(false)
	wait.For(t, 3*time.Second, "joined anew", func() bool { return k.Consumer() != second && k.Valid(k.Consumer()) })
}
