package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/smppd/smppd/store"
)

// testCancelScheduled: a client-scheduled message is withdrawn once, never promoted after;
// one promoted (or deferred by a consumer) is not withdrawn.
func testCancelScheduled(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	m := msg("jio", store.PriorityTransactional)
	m.SendAt = time.Now().Add(time.Hour).Truncate(time.Millisecond)
	keep := msg("jio", store.PriorityTransactional)
	keep.SendAt = m.SendAt
	mustEnqueue(t, s, m, keep)
	wantDepth(t, s, "jio", store.Depth{Scheduled: 2})

	if got, err := s.CancelScheduled(ctx, "airtel", m.ID); err != nil || got != nil {
		t.Fatalf("CancelScheduled on another carrier: %v, %v; want nil, nil", got, err)
	}
	got, err := s.CancelScheduled(ctx, "jio", m.ID)
	if err != nil || got == nil {
		t.Fatalf("CancelScheduled: %v, %v; want the message", got, err)
	}
	sameMessage(t, got, m)
	wantDepth(t, s, "jio", store.Depth{Scheduled: 1})
	if got, err := s.CancelScheduled(ctx, "jio", m.ID); err != nil || got != nil {
		t.Fatalf("second CancelScheduled: %v, %v; want nil, nil", got, err)
	}
	if n, err := s.PromoteDue(ctx, m.SendAt.Add(time.Hour), 10); err != nil || n != 1 {
		t.Fatalf("PromoteDue: %d, %v; want 1 (only the kept one)", n, err)
	}
	claims := mustClaim(t, s, "jio", "c1", 10, 0)
	if len(claims) != 1 || claims[0].Message.ID != keep.ID {
		t.Fatalf("claimed %v, want only %s", ids(claims), keep.ID)
	}
	// Promoted: on its way, not withdrawn.
	if got, err := s.CancelScheduled(ctx, "jio", keep.ID); err != nil || got != nil {
		t.Fatalf("CancelScheduled after promotion: %v, %v; want nil, nil", got, err)
	}
	// A retry scheduled by Defer is not a client's future send.
	if err := s.Defer(ctx, "jio", claims[0], time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, err := s.CancelScheduled(ctx, "jio", keep.ID); err != nil || got != nil {
		t.Fatalf("CancelScheduled of a deferred retry: %v, %v; want nil, nil", got, err)
	}
	wantDepth(t, s, "jio", store.Depth{Scheduled: 1})
	if got, err := s.CancelScheduled(ctx, "jio", "no-such-id"); err != nil || got != nil {
		t.Fatalf("CancelScheduled of an unknown id: %v, %v; want nil, nil", got, err)
	}

	// Messages scheduled through Accept are withdrawn the same way.
	a := msg("jio", store.PriorityPromotional)
	a.SendAt = time.Now().Add(time.Hour)
	if err := s.Accept(ctx, []*store.Record{record(a.ID)}, 0, a); err != nil {
		t.Fatal(err)
	}
	if got, err := s.CancelScheduled(ctx, "jio", a.ID); err != nil || got == nil || got.ID != a.ID {
		t.Fatalf("CancelScheduled after Accept: %v, %v", got, err)
	}
}

// testCancelRacesPromote: cancel and promotion of the same message, concurrently: exactly
// one of them gets it, every time.
func testCancelRacesPromote(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	cancelled, promoted := 0, 0
	for i := range 50 {
		m := msg("jio", store.PriorityOTP)
		m.SendAt = time.Now().Add(time.Hour)
		mustEnqueue(t, s, m)
		var (
			wg    sync.WaitGroup
			got   *store.Message
			n     int
			c, pe error
		)
		start := make(chan struct{})
		wg.Add(2)
		go func() { defer wg.Done(); <-start; got, c = s.CancelScheduled(ctx, "jio", m.ID) }()
		go func() { defer wg.Done(); <-start; n, pe = s.PromoteDue(ctx, m.SendAt.Add(time.Second), 10) }()
		close(start)
		wg.Wait()
		if c != nil || pe != nil {
			t.Fatalf("round %d: cancel %v, promote %v", i, c, pe)
		}
		claims := mustClaim(t, s, "jio", "c1", 10, 0)
		switch {
		case got != nil && n == 0 && len(claims) == 0:
			cancelled++
		case got == nil && n == 1 && len(claims) == 1 && claims[0].Message.ID == m.ID:
			promoted++
			if err := s.Ack(ctx, "jio", claims...); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("round %d: cancel got %v, promote moved %d, claimed %v: want exactly one winner", i, got != nil, n, ids(claims))
		}
		wantDepth(t, s, "jio", store.Depth{})
	}
	t.Logf("cancel won %d, promotion %d of 50", cancelled, promoted)
}
