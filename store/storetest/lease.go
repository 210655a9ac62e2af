package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/smppd/smppd/internal/wait"
	"github.com/smppd/smppd/store"
)

// Conformance tests of store.BindLeases, run by Run. Leases lapse by wall time, so the
// tests use short ttls (200ms) and poll for a lapse instead of sleeping a fixed time.

const leaseTTL = 200 * time.Millisecond

func mustAcquire(t *testing.T, bl store.BindLeases, slot, holder string, ttl time.Duration) (store.BindLease, bool) {
	t.Helper()
	l, ok, err := bl.AcquireBind(ctxT(t), slot, holder, ttl)
	if err != nil {
		t.Fatalf("AcquireBind(%s, %s): %v", slot, holder, err)
	}
	return l, ok
}

// acquireWhenFree polls until holder gets slot (it lapses), failing after a few seconds.
func acquireWhenFree(t *testing.T, bl store.BindLeases, slot, holder string, ttl time.Duration) store.BindLease {
	t.Helper()
	var l store.BindLease
	if !wait.Until(5*time.Second, func() bool {
		var ok bool
		l, ok = mustAcquire(t, bl, slot, holder, ttl)
		return ok
	}) {
		t.Fatalf("%s never got %s: still held by %s", holder, slot, l.Holder)
	}
	return l
}

func mustRenew(t *testing.T, bl store.BindLeases, ttl time.Duration, ls ...store.BindLease) []error {
	t.Helper()
	errs, err := bl.RenewBinds(ctxT(t), ttl, ls...)
	if err != nil {
		t.Fatalf("RenewBinds: %v", err)
	}
	if len(errs) != len(ls) {
		t.Fatalf("RenewBinds: %d results for %d leases", len(errs), len(ls))
	}
	return errs
}

func holders(t *testing.T, bl store.BindLeases, prefix string) map[string]string {
	t.Helper()
	ls, err := bl.BindLeases(ctxT(t), prefix)
	if err != nil {
		t.Fatalf("BindLeases(%q): %v", prefix, err)
	}
	out := make(map[string]string, len(ls))
	for _, l := range ls {
		out[l.Slot] = l.Holder
	}
	return out
}

// Many holders racing for one slot: exactly one gets it, and the others are told who.
func testBindLeaseExclusive(t *testing.T, s store.Store) {
	bl := store.BindLeases(s)
	const n = 16
	var wg sync.WaitGroup
	got := make([]store.BindLease, n)
	oks := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], oks[i], errs[i] = bl.AcquireBind(ctxT(t), "jio-trx-0.0", fmt.Sprintf("inst%d~a", i), time.Minute)
		}()
	}
	wg.Wait()
	winner := -1
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("holder %d: %v", i, errs[i])
		}
		if oks[i] {
			if winner >= 0 {
				t.Fatalf("holders %d and %d both hold the slot", winner, i)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatal("nobody got the free slot")
	}
	for i := range n {
		if i != winner && (got[i].Holder != got[winner].Holder || got[i].Token != got[winner].Token) {
			t.Fatalf("loser %d was told the holder is %+v, want %+v", i, got[i], got[winner])
		}
	}
	if h := holders(t, bl, ""); h["jio-trx-0.0"] != got[winner].Holder || len(h) != 1 {
		t.Fatalf("BindLeases: %v, want only %s", h, got[winner].Holder)
	}
}

// Every acquisition gets a larger token than any before, across slots and holders.
func testBindLeaseTokensGrow(t *testing.T, s store.Store) {
	bl := store.BindLeases(s)
	var last int64
	for i := range 6 {
		slot := fmt.Sprintf("jio-tx-0.%d", i%2)
		holder := fmt.Sprintf("inst%d~a", i%3)
		l, ok := mustAcquire(t, bl, slot, holder, time.Minute)
		if !ok {
			t.Fatalf("acquisition %d of a free slot refused: %+v", i, l)
		}
		if l.Token <= last || l.Slot != slot || l.Holder != holder {
			t.Fatalf("acquisition %d: %+v, want slot %s, holder %s, token above %d", i, l, slot, holder, last)
		}
		last = l.Token
		if err := bl.ReleaseBind(ctxT(t), l); err != nil {
			t.Fatal(err)
		}
	}
}

// Acquiring a slot one already holds renews it and keeps the token, past the first ttl.
//
// The renewal must come before the first ttl lapses, which no sleep can promise on a loaded
// machine; an attempt whose re-acquire came too late proves nothing either way, so it is
// repeated on fresh slots with a ttl twice as long. That the first ttl has passed is read
// from the store, not from this process's clock: a control lease, taken with the same ttl
// just after the first, has lapsed.
func testBindLeaseReacquireKeepsToken(t *testing.T, s store.Store) {
	bl := store.BindLeases(s)
	ttl := leaseTTL
	for attempt := 0; ; attempt, ttl = attempt+1, 2*ttl {
		if attempt == 4 {
			t.Fatalf("%d attempts: no re-acquire came within a ttl (up to %v) of the acquire", attempt, ttl/2)
		}
		slot, control := fmt.Sprintf("jio-trx-%d.0", attempt), fmt.Sprintf("jio-trx-%d.1", attempt)
		start := time.Now()
		first, ok := mustAcquire(t, bl, slot, "a~1", ttl)
		if !ok {
			t.Fatal("free slot refused")
		}
		if _, ok := mustAcquire(t, bl, control, "c~1", ttl); !ok {
			t.Fatal("free control slot refused")
		}
		again, ok := mustAcquire(t, bl, slot, "a~1", time.Minute)
		if time.Since(start) >= ttl {
			continue // the first lease may have lapsed before this re-acquire
		}
		if !ok || again.Token != first.Token || again.Holder != "a~1" {
			t.Fatalf("re-acquire: %+v ok=%v, want token %d kept", again, ok, first.Token)
		}
		if _, ok := mustAcquire(t, bl, slot, "b~1", leaseTTL); ok {
			t.Fatal("another holder got a slot renewed by re-acquiring")
		}
		// The control lease lapses no sooner than the first ttl: past it, only the renewal
		// still holds the slot.
		acquireWhenFree(t, bl, control, "b~1", time.Minute)
		again, ok = mustAcquire(t, bl, slot, "a~1", time.Minute)
		if !ok || again.Token != first.Token || again.Holder != "a~1" {
			t.Fatalf("re-acquire past the first ttl: %+v ok=%v, want token %d kept", again, ok, first.Token)
		}
		if _, ok := mustAcquire(t, bl, slot, "b~1", leaseTTL); ok {
			t.Fatal("another holder got a slot renewed by re-acquiring, past the first ttl")
		}
		// Another incarnation of the same instance is another holder.
		if _, ok := mustAcquire(t, bl, slot, "a~2", leaseTTL); ok {
			t.Fatal("a new incarnation got the old incarnation's slot")
		}
		return
	}
}

// A lease nobody renews lapses after its ttl and another holder may take it, with a larger
// token; until then nobody may.
func testBindLeaseLapses(t *testing.T, s store.Store) {
	bl := store.BindLeases(s)
	a, ok := mustAcquire(t, bl, "jio-trx-0.0", "a~1", leaseTTL)
	if !ok {
		t.Fatal("free slot refused")
	}
	start := time.Now()
	b := acquireWhenFree(t, bl, "jio-trx-0.0", "b~1", time.Minute)
	if took := time.Since(start); took < leaseTTL/2 {
		t.Fatalf("taken after %v, before the ttl %v lapsed", took, leaseTTL)
	}
	if b.Token <= a.Token {
		t.Fatalf("token %d after %d: tokens must grow", b.Token, a.Token)
	}
	if h := holders(t, bl, ""); h["jio-trx-0.0"] != "b~1" {
		t.Fatalf("BindLeases: %v, want b~1", h)
	}
}

// The old holder of a slot that lapsed and went to another can no longer renew nor release
// it; the new holder can renew.
func testBindLeaseRenewAfterTakeover(t *testing.T, s store.Store) {
	bl := store.BindLeases(s)
	a, _ := mustAcquire(t, bl, "jio-trx-0.0", "a~1", leaseTTL)
	b := acquireWhenFree(t, bl, "jio-trx-0.0", "b~1", time.Minute)
	if errs := mustRenew(t, bl, time.Minute, a); !errors.Is(errs[0], store.ErrLeaseLost) {
		t.Fatalf("old holder's renewal: %v, want ErrLeaseLost", errs[0])
	}
	if err := bl.ReleaseBind(ctxT(t), a); err != nil {
		t.Fatal(err)
	}
	if errs := mustRenew(t, bl, time.Minute, b); errs[0] != nil {
		t.Fatalf("new holder's renewal: %v", errs[0])
	}
	// Same holder, stale token (its own earlier lease of the slot) is lost too.
	b2 := acquireWhenFree(t, bl, "jio-trx-0.1", "b~1", leaseTTL)
	acquireWhenFree(t, bl, "jio-trx-0.1", "c~1", leaseTTL)
	_ = bl.ReleaseBind(ctxT(t), store.BindLease{Slot: "jio-trx-0.1", Holder: "c~1"}) // wrong token: no effect
	b3 := acquireWhenFree(t, bl, "jio-trx-0.1", "b~1", time.Minute)
	if errs := mustRenew(t, bl, time.Minute, b2, b3); !errors.Is(errs[0], store.ErrLeaseLost) || errs[1] != nil {
		t.Fatalf("renewals of stale and current lease: %v, want [ErrLeaseLost <nil>]", errs)
	}
}

// RenewBinds renews many leases in one call, each with its own verdict, and a renewed lease
// outlives its first ttl.
//
// As in testBindLeaseReacquireKeepsToken, a renewal that came after the first ttl proves
// nothing, so the attempt is repeated on fresh slots with a doubled ttl, and the end of the
// first ttl is read from the store (a control lease lapsing), not from sleeps.
func testBindLeaseRenewMany(t *testing.T, s store.Store) {
	bl := store.BindLeases(s)
	if errs := mustRenew(t, bl, time.Minute); len(errs) != 0 {
		t.Fatalf("renewing nothing: %v", errs)
	}
	ttl := leaseTTL
	for attempt := 0; ; attempt, ttl = attempt+1, 2*ttl {
		if attempt == 4 {
			t.Fatalf("%d attempts: no renewal came within a ttl (up to %v) of the acquire", attempt, ttl/2)
		}
		slot := func(i int) string { return fmt.Sprintf("jio-trx-%d.%d", attempt, i) }
		start := time.Now()
		var mine []store.BindLease
		for i := range 3 {
			l, ok := mustAcquire(t, bl, slot(i), "a~1", ttl)
			if !ok {
				t.Fatal("free slot refused")
			}
			mine = append(mine, l)
		}
		if _, ok := mustAcquire(t, bl, slot(5), "c~1", ttl); !ok {
			t.Fatal("free control slot refused")
		}
		other, _ := mustAcquire(t, bl, slot(3), "b~1", time.Minute)
		forged := other
		forged.Holder = "a~1"
		unknown := store.BindLease{Slot: slot(9), Holder: "a~1", Token: mine[0].Token}
		verdicts := func(errs []error, when string) {
			t.Helper()
			for i, err := range errs {
				if want := i >= len(mine); errors.Is(err, store.ErrLeaseLost) != want {
					t.Fatalf("renewal %d%s: %v (lost wanted: %v)", i, when, err, want)
				}
			}
		}
		renew := func() []error {
			return mustRenew(t, bl, time.Minute, append(slices.Clone(mine), forged, unknown)...)
		}
		errs := renew()
		if time.Since(start) >= ttl {
			continue // mine may have lapsed before this renewal
		}
		verdicts(errs, "")
		// The control lease lapses no sooner than mine would have without the renewal.
		acquireWhenFree(t, bl, slot(5), "b~1", time.Minute)
		verdicts(renew(), " past the first ttl")
		for _, l := range mine {
			if _, ok := mustAcquire(t, bl, l.Slot, "b~1", time.Minute); ok {
				t.Fatalf("%s taken though renewed", l.Slot)
			}
		}
		if h := holders(t, bl, ""); h[slot(3)] != "b~1" {
			t.Fatalf("BindLeases after forged renewals: %v", h)
		}
		return
	}
}

// Only the holder, with its token, releases a slot; after that anyone may take it at once.
func testBindLeaseReleaseOnlyByHolder(t *testing.T, s store.Store) {
	bl := store.BindLeases(s)
	a, _ := mustAcquire(t, bl, "jio-trx-0.0", "a~1", time.Minute)
	for _, wrong := range []store.BindLease{
		{Slot: a.Slot, Holder: "b~1", Token: a.Token},
		{Slot: a.Slot, Holder: a.Holder, Token: a.Token + 1},
		{Slot: a.Slot, Holder: a.Holder, Token: a.Token - 1},
	} {
		if err := bl.ReleaseBind(ctxT(t), wrong); err != nil {
			t.Fatalf("ReleaseBind(%+v): %v", wrong, err)
		}
		if _, ok := mustAcquire(t, bl, a.Slot, "b~1", time.Minute); ok {
			t.Fatalf("ReleaseBind(%+v) freed a slot it did not hold", wrong)
		}
	}
	if err := bl.ReleaseBind(ctxT(t), a); err != nil {
		t.Fatal(err)
	}
	if b, ok := mustAcquire(t, bl, a.Slot, "b~1", time.Minute); !ok || b.Token <= a.Token {
		t.Fatalf("after release: %+v ok=%v", b, ok)
	}
	if err := bl.ReleaseBind(ctxT(t), a); err != nil { // twice: nothing, no error
		t.Fatal(err)
	}
	if h := holders(t, bl, ""); h[a.Slot] != "b~1" {
		t.Fatalf("a second release by the old holder changed the slot: %v", h)
	}
}

// BindLeases lists the live leases under a prefix, sorted by slot, with holder, token and
// an expiry in the future; released and lapsed ones are gone.
func testBindLeasesList(t *testing.T, s store.Store) {
	bl := store.BindLeases(s)
	if ls, err := bl.BindLeases(ctxT(t), ""); err != nil || len(ls) != 0 {
		t.Fatalf("empty store: %v, %v", ls, err)
	}
	want := map[string]string{"jio-trx-0.1": "b~1", "jio-trx-0.0": "a~1", "jio-rx-1.0": "a~1", "airtel-tx-0.0": "b~1"}
	tokens := map[string]int64{}
	for slot, h := range want {
		l, ok := mustAcquire(t, bl, slot, h, time.Minute)
		if !ok {
			t.Fatal("free slot refused")
		}
		tokens[slot] = l.Token
	}
	short, _ := mustAcquire(t, bl, "jio-tx-2.0", "c~1", leaseTTL)
	gone, _ := mustAcquire(t, bl, "jio-tx-2.1", "c~1", time.Minute)
	if err := bl.ReleaseBind(ctxT(t), gone); err != nil {
		t.Fatal(err)
	}
	var h map[string]string
	if !wait.Until(5*time.Second, func() bool { h = holders(t, bl, ""); _, still := h[short.Slot]; return !still }) {
		t.Fatalf("lapsed lease still listed: %v", h)
	}
	ls, err := bl.BindLeases(ctxT(t), "jio-")
	if err != nil {
		t.Fatal(err)
	}
	var slots []string
	for _, l := range ls {
		slots = append(slots, l.Slot)
		if l.Holder != want[l.Slot] || l.Token != tokens[l.Slot] {
			t.Fatalf("listed %+v, want holder %s token %d", l, want[l.Slot], tokens[l.Slot])
		}
		if !l.Expires.After(time.Now()) || l.Expires.After(time.Now().Add(time.Minute+time.Second)) {
			t.Fatalf("%s expires %v, want within a minute from now", l.Slot, l.Expires)
		}
	}
	if w := []string{"jio-rx-1.0", "jio-trx-0.0", "jio-trx-0.1"}; !slices.Equal(slots, w) {
		t.Fatalf("BindLeases(\"jio-\") slots %v, want %v", slots, w)
	}
	if h := holders(t, bl, ""); len(h) != len(want) {
		t.Fatalf("BindLeases(\"\"): %v, want %v", h, want)
	}
}

func testBindLeaseInvalid(t *testing.T, s store.Store) {
	bl := store.BindLeases(s)
	if _, _, err := bl.AcquireBind(ctxT(t), "", "a~1", time.Minute); err == nil {
		t.Fatal("AcquireBind with no slot: no error")
	}
	if _, _, err := bl.AcquireBind(ctxT(t), "jio-trx-0.0", "", time.Minute); err == nil {
		t.Fatal("AcquireBind with no holder: no error")
	}
	if _, _, err := bl.AcquireBind(ctxT(t), "jio-trx-0.0", "a~1", 0); err == nil {
		t.Fatal("AcquireBind with ttl 0: no error")
	}
	l, _ := mustAcquire(t, bl, "jio-trx-0.0", "a~1", time.Minute)
	if _, err := bl.RenewBinds(ctxT(t), 0, l); err == nil {
		t.Fatal("RenewBinds with ttl 0: no error")
	}
}
