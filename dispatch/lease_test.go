package dispatch_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smppd/smppd/dispatch"
	"github.com/smppd/smppd/dispatch/dispatchtest"
	"github.com/smppd/smppd/internal/wait"
	"github.com/smppd/smppd/smsc"
	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/memstore"
	"github.com/smppd/smppd/store/storetest"
)

// members is a Membership with a live count shared by the test's instances. Its names are
// not member-shaped ("instance~incarnation"), so the store's takeover of dead members'
// claims leaves them alone: these tests keep no heartbeats.
type members struct {
	name string
	live *atomic.Int32
}

func (m members) Consumer() string    { return m.name }
func (m members) Valid(c string) bool { return c == m.name }
func (m members) LiveMembers() int    { return int(m.live.Load()) }

var _ dispatch.MemberCounter = members{}

// twoStores returns two handles on one store, as two instances have: the same memstore,
// or two Redis stores on one prefix.
func twoStores(t *testing.T, kind string) (store.Store, store.Store) {
	if kind == "memory" {
		s := memstore.New()
		t.Cleanup(func() { s.Close() })
		return s, s
	}
	p := storetest.UniquePrefix(t)
	return storetest.OpenRedis(t, p), storetest.OpenRedis(t, p)
}

// watchBinds polls the simulator's bound sessions until the test ends and returns a
// function giving the most ever seen.
func watchBinds(t *testing.T, s *smsc.Server) func() int {
	var most atomic.Int32
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if n := int32(len(s.Binds())); n > most.Load() {
				most.Store(n)
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	return func() int { return int(most.Load()) }
}

// leasedBound counts the binds of the dispatcher's first carrier that it holds and has up.
func leasedBound(d *dispatch.Dispatcher) int {
	n := 0
	for _, b := range d.Stats(context.Background())[0].Binds {
		if b.Leased && b.Bound {
			n++
		}
	}
	return n
}

func leaseOptions(st store.Store, s *smsc.Server, binds int, m members) dispatch.Options {
	return dispatch.Options{Store: st, Leases: st.(store.BindLeases), LeaseTTL: 900 * time.Millisecond,
		Membership: m, Consumer: m.name, Carriers: []dispatch.CarrierOptions{carrierFor("jio", s, binds, 20)}}
}

// Two instances share a carrier's four binds: alone, one holds all four; when the second
// joins they hold two each; when one shuts down the other takes all four back within a
// few seconds. The carrier never sees more than four binds, and messages flow meanwhile.
func TestLeasesShareBindsBetweenInstances(t *testing.T) {
	for _, kind := range []string{"memory", "redis"} {
		t.Run(kind, func(t *testing.T) {
			s := sim(t, nil)
			most := watchBinds(t, s)
			st1, st2 := twoStores(t, kind)
			live := &atomic.Int32{}
			live.Store(1)
			d1 := dispatchtest.Start(t, leaseOptions(st1, s, 4, members{"inst-a", live}))
			wait.For(t, 5*time.Second, "the only instance holding all four binds", func() bool { return leasedBound(d1) == 4 })

			live.Store(2)
			d2 := dispatchtest.Start(t, leaseOptions(st2, s, 4, members{"inst-b", live}))
			wait.For(t, 10*time.Second, "two binds each", func() bool {
				return leasedBound(d1) == 2 && leasedBound(d2) == 2 && len(s.Binds()) == 4
			})
			slots, err := d1.BindSlots(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			holders := map[string]int{}
			local := 0
			for _, sl := range slots {
				holders[sl.Holder]++
				if sl.Local {
					local++
					if sl.Holder != "inst-a" || !sl.Bound || sl.Token == 0 || !sl.Expires.After(time.Now()) {
						t.Errorf("local slot %+v", sl)
					}
				}
			}
			if len(slots) != 4 || holders["inst-a"] != 2 || holders["inst-b"] != 2 || local != 2 {
				t.Fatalf("BindSlots: %+v", slots)
			}
			for _, b := range d2.Stats(context.Background())[0].Binds {
				if b.Leased && b.Holder != "inst-b" {
					t.Fatalf("bind stats %+v: holder should be b~1", b)
				}
			}

			// Both instances send from the one queue over their own binds.
			const n = 200
			var all []*store.Message
			for i := range n {
				all = append(all, msg(i, fmt.Sprintf("9198%08d", i), store.PriorityTransactional))
			}
			if err := d1.Submit(context.Background(), all...); err != nil {
				t.Fatal(err)
			}
			wait.For(t, 20*time.Second, "every message at the carrier", func() bool { return distinctAccepted(s) == n })
			if got := acceptedTotal(s); got != n {
				t.Fatalf("%d submits accepted for %d messages", got, n)
			}

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := d2.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			live.Store(1)
			stopped := time.Now()
			wait.For(t, 5*time.Second, "the remaining instance holding all four", func() bool { return leasedBound(d1) == 4 })
			t.Logf("took the stopped instance's binds over in %v", time.Since(stopped).Round(time.Millisecond))
			if m := most(); m != 4 {
				t.Fatalf("the carrier saw at most %d binds at once; 4 are configured", m)
			}
		})
	}
}

// flakyLeases is a store whose lease calls hang until their context ends (an unreachable
// Redis) while down is set. It records when the last renewal that got through was sent.
type flakyLeases struct {
	store.Store
	down     atomic.Bool
	mu       sync.Mutex
	lastSent time.Time
}

var errUnreachable = errors.New("store unreachable (test)")

func (f *flakyLeases) hang(ctx context.Context) error {
	<-ctx.Done()
	return errUnreachable
}

func (f *flakyLeases) AcquireBind(ctx context.Context, slot, holder string, ttl time.Duration) (store.BindLease, bool, error) {
	if f.down.Load() {
		return store.BindLease{}, false, f.hang(ctx)
	}
	return f.Store.(store.BindLeases).AcquireBind(ctx, slot, holder, ttl)
}

func (f *flakyLeases) RenewBinds(ctx context.Context, ttl time.Duration, ls ...store.BindLease) ([]error, error) {
	if f.down.Load() {
		return nil, f.hang(ctx)
	}
	sent := time.Now()
	errs, err := f.Store.(store.BindLeases).RenewBinds(ctx, ttl, ls...)
	if err == nil {
		f.mu.Lock()
		f.lastSent = sent
		f.mu.Unlock()
	}
	return errs, err
}

func (f *flakyLeases) ReleaseBind(ctx context.Context, l store.BindLease) error {
	if f.down.Load() {
		return f.hang(ctx)
	}
	return f.Store.(store.BindLeases).ReleaseBind(ctx, l)
}

func (f *flakyLeases) BindLeases(ctx context.Context, prefix string) ([]store.BindLease, error) {
	return f.Store.(store.BindLeases).BindLeases(ctx, prefix)
}

// An instance that can no longer reach the store unbinds its binds before their leases
// could lapse, and another instance takes the slots once they have: the carrier never
// sees more binds than configured, even during the partition.
func TestLeaseUnbindsBeforeLapseWhenStoreUnreachable(t *testing.T) {
	for _, kind := range []string{"memory", "redis"} {
		t.Run(kind, func(t *testing.T) {
			const ttl = 1500 * time.Millisecond
			s := sim(t, nil)
			most := watchBinds(t, s)
			st1, st2 := twoStores(t, kind)
			flaky := &flakyLeases{Store: st1}
			live := &atomic.Int32{}
			live.Store(1)
			o1 := leaseOptions(st1, s, 2, members{"inst-a", live})
			o1.Leases, o1.LeaseTTL = flaky, ttl
			d1 := dispatchtest.Start(t, o1)
			wait.For(t, 5*time.Second, "both binds up", func() bool { return leasedBound(d1) == 2 })
			wait.For(t, 5*time.Second, "a renewal", func() bool {
				flaky.mu.Lock()
				defer flaky.mu.Unlock()
				return !flaky.lastSent.IsZero()
			})

			flaky.down.Store(true)
			flaky.mu.Lock()
			lapse := flaky.lastSent.Add(ttl) // the store's leases live at least until then
			flaky.mu.Unlock()
			wait.For(t, 2*ttl, "the binds down", func() bool { return len(s.Binds()) == 0 })
			down := time.Now()
			if !down.Before(lapse) {
				t.Fatalf("binds still up %v after the leases could lapse", down.Sub(lapse))
			}
			t.Logf("binds down %v before the leases could lapse", lapse.Sub(down).Round(time.Millisecond))
			for _, b := range d1.Stats(context.Background())[0].Binds {
				if b.Leased || b.Bound || b.LeaseLosses != 1 {
					t.Fatalf("bind %+v: want not leased, not bound, one lease lost", b)
				}
			}

			// Another instance, which reaches the store, takes the slots once they lapse.
			o2 := leaseOptions(st2, s, 2, members{"inst-b", live})
			o2.LeaseTTL = ttl
			d2 := dispatchtest.Start(t, o2)
			wait.For(t, 3*ttl, "the other instance holding both", func() bool { return leasedBound(d2) == 2 })
			if m := most(); m != 2 {
				t.Fatalf("the carrier saw at most %d binds at once; 2 are configured", m)
			}
			if n := leasedBound(d1); n != 0 {
				t.Fatalf("the partitioned instance has %d binds", n)
			}
		})
	}
}

func TestLeaseTTLValidated(t *testing.T) {
	st := memstore.New()
	defer st.Close()
	o := dispatch.Options{Store: st, Leases: st, LeaseTTL: 10 * time.Millisecond, Carriers: []dispatch.CarrierOptions{carrierFor("jio", sim(t, nil), 1, 10)}}
	if _, err := dispatch.New(o); err == nil {
		t.Fatal("LeaseTTL of 10ms accepted")
	}
}

// An instance that holds none of a carrier's binds does not fail it over, however long it
// has had no bind of it up: another instance holds them (here a lease taken directly in
// the store), and it is that one's to see the carrier down. Once the slot is free the
// instance takes it and sends.
func TestLeaseNoFailoverWithoutSlots(t *testing.T) {
	jioSim, airtelSim := sim(t, nil), sim(t, nil)
	st := memstore.New()
	t.Cleanup(func() { st.Close() })
	other, ok, err := st.AcquireBind(context.Background(), "jio-trx-0.0", "inst-other", time.Minute)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	live := &atomic.Int32{}
	live.Store(2)
	jio := carrierFor("jio", jioSim, 1, 20)
	jio.FailoverAfter = 100 * time.Millisecond
	d := dispatchtest.Start(t, dispatch.Options{Store: st, Leases: st, LeaseTTL: 900 * time.Millisecond, Membership: members{"inst-a", live}, Consumer: "inst-a",
		HoldLimit: 400 * time.Millisecond, // a carrier down here is looked at again every 100ms
		Carriers:  []dispatch.CarrierOptions{jio, carrierFor("airtel", airtelSim, 2, 20)},
		Routes:    []dispatch.Route{{Prefix: "91", Carriers: []string{"jio", "airtel"}}}})
	wait.For(t, 5*time.Second, "airtel's bind up", func() bool { return d.PoolUp("airtel") })
	var all []*store.Message
	for i := range 100 {
		m := msg(i, fmt.Sprintf("9198%08d", i), store.PriorityTransactional)
		m.Carrier = "jio"
		all = append(all, m)
	}
	if err := d.Submit(context.Background(), all...); err != nil {
		t.Fatal(err)
	}
	// A failover would come within FailoverAfter plus its one-second retry; wait past both.
	wait.For(t, 5*time.Second, "jio down here for 1.5s", func() bool { return d.PoolDownFor("jio", time.Now()) > 1500*time.Millisecond })
	if n, moved := airtelSim.Received(), d.Stats(context.Background())[0].Moved; n != 0 || moved != 0 || d.PoolHeld("jio") != 0 {
		t.Fatalf("%d messages failed over to airtel (%d moved) by an instance holding %d of jio's binds", n, moved, d.PoolHeld("jio"))
	}
	if err := st.ReleaseBind(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	wait.For(t, 10*time.Second, "every message sent over jio once its slot is free", func() bool { return distinctAccepted(jioSim) == 100 })
	if n := airtelSim.Received(); n != 0 {
		t.Fatalf("%d messages failed over to airtel", n)
	}
}
