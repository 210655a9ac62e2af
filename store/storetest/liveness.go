package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/smppd/smppd/internal/wait"
	"github.com/smppd/smppd/store"
)

// consumers returns the members' consumer names, sorted.
func consumers(ms []store.Member) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Consumer()
	}
	slices.Sort(out)
	return out
}

func wantMembers(t *testing.T, s store.Store, want ...store.Member) {
	t.Helper()
	got, err := s.Members(ctxT(t))
	if err != nil {
		t.Fatalf("Members: %v", err)
	}
	if g, w := consumers(got), consumers(want); !slices.Equal(g, w) {
		t.Fatalf("Members = %q, want %q", g, w)
	}
}

func testLiveness(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a, b := store.NewMember("alpha"), store.NewMember("beta")
	must(t, s.Join(ctx, a, time.Minute))
	must(t, s.Join(ctx, b, time.Minute))
	wantMembers(t, s, a, b)
	must(t, s.Renew(ctx, a, time.Minute))

	// A restart: a new incarnation of alpha replaces the old one at once.
	a2 := store.NewMember("alpha")
	must(t, s.Join(ctx, a2, time.Minute))
	wantMembers(t, s, a2, b)
	if err := s.Renew(ctx, a, time.Minute); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("Renew of a replaced incarnation: %v, want ErrLeaseLost", err)
	}
	wantMembers(t, s, a2, b) // the failed renewal changed nothing

	// Leave: gone at once; leaving twice, or as a replaced incarnation, is fine.
	must(t, s.Leave(ctx, b))
	must(t, s.Leave(ctx, b))
	must(t, s.Leave(ctx, a))
	wantMembers(t, s, a2)

	// A heartbeat that is not renewed lapses, and cannot be renewed afterwards.
	c := store.NewMember("gamma")
	must(t, s.Join(ctx, c, 150*time.Millisecond))
	wantMembers(t, s, a2, c)
	wait.For(t, 5*time.Second, "gamma's heartbeat lapses", func() bool {
		ms, err := s.Members(ctx)
		return err == nil && len(ms) == 1
	})
	if err := s.Renew(ctx, c, time.Minute); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("Renew after the heartbeat lapsed: %v, want ErrLeaseLost", err)
	}
	wantMembers(t, s, a2)

	if err := s.Join(ctx, store.Member{Instance: "x"}, time.Minute); err == nil {
		t.Fatal("Join of a member without incarnation: no error")
	}
}

// testTakeOver: the claims of a dead member move to a live one at once, in priority order,
// counted as redeliveries; the claims of live members and of consumers that are no members
// stay where they are.
func testTakeOver(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a, b := store.NewMember("alpha"), store.NewMember("beta")
	must(t, s.Join(ctx, a, time.Minute))
	must(t, s.Join(ctx, b, time.Minute))
	msgs := []*store.Message{msg("jio", 2), msg("jio", 0), msg("jio", 1), msg("jio", 1)}
	mustEnqueue(t, s, msgs...)
	held := mustClaim(t, s, "jio", a.Consumer(), 3, 0)
	other := mustClaim(t, s, "jio", "legacy-consumer", 1, 0)
	if len(held) != 3 || len(other) != 1 {
		t.Fatalf("claimed %d and %d", len(held), len(other))
	}
	if got, err := s.TakeOver(ctx, "jio", b.Consumer(), 10); err != nil || len(got) != 0 {
		t.Fatalf("TakeOver while alpha lives: %v, %v", ids(got), err)
	}

	// alpha restarts: its previous incarnation's claims are beta's at once.
	must(t, s.Join(ctx, store.NewMember("alpha"), time.Minute))
	got, err := s.TakeOver(ctx, "jio", b.Consumer(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if want := ids(held); !slices.Equal(ids(got), want) {
		t.Fatalf("TakeOver = %v, want %v (priority order)", ids(got), want)
	}
	for _, c := range got {
		if c.Deliveries != 2 {
			t.Fatalf("taken-over claim %s: Deliveries %d, want 2", c.Message.ID, c.Deliveries)
		}
	}
	if again, err := s.TakeOver(ctx, "jio", b.Consumer(), 10); err != nil || len(again) != 0 {
		t.Fatalf("second TakeOver: %v, %v", ids(again), err)
	}
	wantDepth(t, s, "jio", store.Depth{Pending: 4})

	// The old holder is fenced: nothing it does with its claims changes the queue.
	must(t, s.Ack(ctx, "jio", held[0]))
	must(t, s.Defer(ctx, "jio", held[1], time.Now()))
	must(t, s.Move(ctx, "jio", held[2], "airtel"))
	wantDepth(t, s, "jio", store.Depth{Pending: 4})
	wantDepth(t, s, "airtel", store.Depth{})

	// The new holder finishes them.
	must(t, s.Ack(ctx, "jio", got...))
	wantDepth(t, s, "jio", store.Depth{Pending: 1})

	// A heartbeat that lapses hands its claims over too.
	c := store.NewMember("gamma")
	must(t, s.Join(ctx, c, 150*time.Millisecond))
	m := msg("jio", 0)
	mustEnqueue(t, s, m)
	if cl := mustClaim(t, s, "jio", c.Consumer(), 1, 0); len(cl) != 1 {
		t.Fatalf("gamma claimed %d", len(cl))
	}
	var moved []store.Claim
	wait.For(t, 5*time.Second, "gamma's claim taken over", func() bool {
		moved, err = s.TakeOver(ctx, "jio", b.Consumer(), 10)
		return err != nil || len(moved) > 0
	})
	if err != nil || len(moved) != 1 || moved[0].Message.ID != m.ID {
		t.Fatalf("TakeOver after gamma lapsed: %v, %v", ids(moved), err)
	}
	must(t, s.Ack(ctx, "jio", moved...))
	// The legacy consumer's claim was never taken over.
	wantDepth(t, s, "jio", store.Depth{Pending: 1})
}

// testFencedSettle: a settlement by a holder whose claim was taken over leaves the queue
// entry to the new holder, which settles it.
func testFencedSettle(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a, b := store.NewMember("alpha"), store.NewMember("beta")
	must(t, s.Join(ctx, a, time.Minute))
	must(t, s.Join(ctx, b, time.Minute))
	r := record("fenced-" + msg("jio", 0).ID)
	m := msg("jio", store.PriorityOTP)
	m.ID = r.ID
	must(t, s.Accept(ctx, []*store.Record{r}, 0, m))
	old := mustClaim(t, s, "jio", a.Consumer(), 1, 0)
	if len(old) != 1 {
		t.Fatalf("claimed %d", len(old))
	}
	must(t, s.Leave(ctx, a))
	taken, err := s.TakeOver(ctx, "jio", b.Consumer(), 1)
	if err != nil || len(taken) != 1 {
		t.Fatalf("TakeOver: %v, %v", ids(taken), err)
	}
	must(t, s.Settle(ctx, store.Settlement{Carrier: "jio", Claim: old[0]}))
	wantDepth(t, s, "jio", store.Depth{Pending: 1})
	must(t, s.Settle(ctx, store.Settlement{Carrier: "jio", Claim: taken[0]}))
	wantDepth(t, s, "jio", store.Depth{})
}

// testReclaimFences: an idle claim reclaimed by another consumer is no longer its first
// holder's to finish.
func testReclaimFences(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	mustEnqueue(t, s, msg("jio", 1))
	old := mustClaim(t, s, "jio", "c1", 1, 0)
	re, err := s.Reclaim(ctx, "jio", "c2", 0, 1)
	if err != nil || len(re) != 1 || len(old) != 1 {
		t.Fatalf("Reclaim: %v, %v", ids(re), err)
	}
	must(t, s.Ack(ctx, "jio", old...))
	wantDepth(t, s, "jio", store.Depth{Pending: 1})
	must(t, s.Ack(ctx, "jio", re...))
	wantDepth(t, s, "jio", store.Depth{})
}
