package dlr_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smppd/smppd/dispatch"
	"github.com/smppd/smppd/dlr"
	"github.com/smppd/smppd/dlt"
	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/smpp/smsc"
	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/redisstore"
	"github.com/smppd/smppd/store/storetest"
)

const (
	testPE  = "1101234567890123456"
	testCT  = "1107161234567890123"
	testTMD = "1702123456789012345"
)

// carrierFor is a dispatch carrier on simulator s whose binds hand deliver_sm to h: how
// cmd/smppd wires dlr per carrier.
func carrierFor(name string, s *smsc.Server, binds, window int, h smpp.Handler) dispatch.CarrierOptions {
	return dispatch.CarrierOptions{
		Name: name,
		Binds: []dispatch.BindGroup{{
			Addrs: []string{s.Addr()}, Count: binds,
			Bind:         smpp.Bind{Mode: smpp.BindTransceiver, SystemID: "smppd", Password: "password"},
			Session:      smpp.Options{WindowSize: window, ResponseTimeout: 2 * time.Second, EnquireLinkInterval: -1, Handler: h},
			ReconnectMin: 10 * time.Millisecond, ReconnectMax: 100 * time.Millisecond,
		}},
		Text: dispatch.TextOptions{MaxParts: 3},
		DLT:  dlt.CarrierSpec{TMChain: []string{testTMD}},
	}
}

func startDispatch(t testing.TB, o dispatch.Options) *dispatch.Dispatcher {
	t.Helper()
	o.ClaimWait, o.PromoteEvery = 50*time.Millisecond, 20*time.Millisecond
	o.RetryMin, o.RetryMax = 20*time.Millisecond, 200*time.Millisecond
	if o.ReclaimAfter == 0 {
		o.ReclaimAfter = 2 * time.Minute
	}
	d, err := dispatch.New(o)
	if err != nil {
		t.Fatal(err)
	}
	d.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = d.Shutdown(ctx)
	})
	return d
}

func message(i int, hook string) *store.Message {
	return &store.Message{
		Account: "acme", From: "ACMEIN", To: fmt.Sprintf("9198%08d", i), Priority: store.PriorityTransactional,
		Text: fmt.Sprintf("Your OTP for login is %06d. Do not share it with anyone. - ACME", i),
		PEID: testPE, TemplateID: testCT,
		Meta: map[string]string{dlr.MetaWebhookURL: hook, dlr.MetaCallback1: fmt.Sprint("order-", i)},
	}
}

func sim(t testing.TB, mod func(*smsc.Account)) *smsc.Server {
	a := smsc.Account{SystemID: "smppd", Password: "password"}
	if mod != nil {
		mod(&a)
	}
	return smsc.Start(t, smsc.Options{Accounts: []smsc.Account{a}, EnquireLinkInterval: -1, RetryDelay: 50 * time.Millisecond, MaxAttempts: 1000})
}

// TestEverySimulatorIDFormatEndToEnd sends over real TCP to the simulator with each of its
// message id formats and checks every receipt lands on its message and its webhook is sent.
func TestEverySimulatorIDFormatEndToEnd(t *testing.T) {
	formats := []struct {
		name   string
		sim    smsc.MessageIDFormat
		format dlr.Format
	}{
		{"decimal", smsc.MessageIDFormat{Kind: "decimal"}, dlr.FormatDecimal},
		{"hex", smsc.MessageIDFormat{Kind: "hex"}, dlr.FormatHex},
		{"HEX", smsc.MessageIDFormat{Kind: "HEX"}, dlr.FormatHexUpper},
		{"uuid", smsc.MessageIDFormat{Kind: "uuid"}, dlr.FormatAsIs},
		{"fixed-length-decimal", smsc.MessageIDFormat{Kind: "decimal", Length: 20}, dlr.FormatDecimal},
		{"fixed-length-hex", smsc.MessageIDFormat{Kind: "HEX", Length: 16}, dlr.FormatHex},
		{"prefix", smsc.MessageIDFormat{Kind: "hex", Prefix: "SIM-"}, dlr.FormatAsIs},
	}
	forEachStore(t, func(t *testing.T, st testStore) {
		for i, f := range formats {
			t.Run(f.name, func(t *testing.T) {
				// One carrier name per simulator: simulators started in the same second count
				// ids from the same seed, and one carrier's ids must be unique.
				carrier := fmt.Sprint("carrier", i)
				rv := newReceiver(t, nil)
				s := sim(t, func(a *smsc.Account) { a.MessageID = &f.sim })
				c := newCorrelator(t, dlr.CorrelatorOptions{Store: st, Carriers: []dlr.CarrierIDs{{Name: carrier, Format: f.format}}})
				newSender(t, dlr.SenderOptions{Store: st})
				d := startDispatch(t, dispatch.Options{Store: st, OnSubmitted: c.OnSubmitted,
					Carriers: []dispatch.CarrierOptions{carrierFor(carrier, s, 2, 10, c.Handler(carrier))}})
				const n = 20
				var msgs []*store.Message
				for i := range n {
					msgs = append(msgs, message(i, rv.srv.URL))
				}
				msgs[0].Text = strings.Repeat("Long message part. ", 20) // 3 parts: 3 receipts
				if err := d.Submit(context.Background(), msgs...); err != nil {
					t.Fatal(err)
				}
				waitFor(t, 20*time.Second, "every webhook", func() bool { return rv.delivered() == n })
				for _, m := range msgs {
					r := record(t, st, m.ID)
					if r.Status != store.StatusDelivered || r.SentAt.IsZero() || r.StatusAt.Before(r.SentAt) {
						t.Fatalf("record %+v", r)
					}
					var p dlr.Payload
					if err := json.Unmarshal([]byte(rv.body(dlr.JobID(m.ID, store.StatusDelivered))), &p); err != nil || p.SessionId != m.ID || p.SmsStatus != "DELIVERED" {
						t.Fatalf("payload for %s: %+v %v", m.ID, p, err)
					}
				}
				if r := record(t, st, msgs[0].ID); r.Parts != 3 {
					t.Fatalf("multipart record %+v", r)
				}
				if s := c.Stats(); s.Unmatched != 0 || s.Matched != n+2 {
					t.Fatalf("stats %+v", s)
				}
			})
		}
	})
}

// TestEarlyReceiptsEndToEnd: the simulator sends each receipt at once but holds the
// submit_sm_resp, so every receipt arrives before the id it names is known.
func TestEarlyReceiptsEndToEnd(t *testing.T) {
	forEachStore(t, func(t *testing.T, st testStore) {
		rv := newReceiver(t, nil)
		s := sim(t, func(a *smsc.Account) {
			a.Latency = smsc.Latency{Min: 300 * time.Millisecond}
			a.MessageID = &smsc.MessageIDFormat{Kind: "HEX", Length: 12}
		})
		c := newCorrelator(t, dlr.CorrelatorOptions{Store: st, Carriers: []dlr.CarrierIDs{{Name: "jio", Format: dlr.FormatHex}}})
		newSender(t, dlr.SenderOptions{Store: st})
		d := startDispatch(t, dispatch.Options{Store: st, OnSubmitted: c.OnSubmitted,
			Carriers: []dispatch.CarrierOptions{carrierFor("jio", s, 1, 20, c.Handler("jio"))}})
		const n = 30
		var msgs []*store.Message
		for i := range n {
			msgs = append(msgs, message(i, rv.srv.URL))
		}
		if err := d.Submit(context.Background(), msgs...); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 20*time.Second, "every webhook", func() bool { return rv.delivered() == n })
		s2 := c.Stats()
		if s2.Early == 0 || s2.EarlyMatched != s2.Early || s2.Unmatched != 0 {
			t.Fatalf("stats %+v: receipts did not arrive early, or were lost", s2)
		}
		if cnt, _ := st.ReceiptCounts(context.Background()); cnt.Parked != 0 {
			t.Fatalf("counts %+v", cnt)
		}
	})
}

// flakyReceiver fails every other request, then is unreachable (its listener closed) for a
// while, then comes back on the same address and answers everything.
type flakyReceiver struct {
	addr    string
	mu      sync.Mutex
	srv     *http.Server
	failing atomic.Bool
	reqs    atomic.Int64
	byKey   sync.Map // key → *atomic.Int64
	bodies  sync.Map
}

func (f *flakyReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := f.reqs.Add(1)
	if f.failing.Load() && n%2 == 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	key := r.Header.Get(dlr.IdempotencyHeader)
	v, _ := f.byKey.LoadOrStore(key, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
	w.WriteHeader(http.StatusOK)
}

func (f *flakyReceiver) start(t testing.TB) {
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	f.addr = ln.Addr().String()
	f.mu.Lock()
	f.srv = &http.Server{Handler: f}
	srv := f.srv
	f.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

func (f *flakyReceiver) stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	_ = f.srv.Close()
}

func (f *flakyReceiver) counts() (distinct, total, dups int) {
	f.byKey.Range(func(_, v any) bool {
		n := int(v.(*atomic.Int64).Load())
		distinct++
		total += n
		if n > 1 {
			dups++
		}
		return true
	})
	return
}

func TestTenThousandReceiptsTenThousandWebhooks(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	st := storetest.OpenRedis(t, storetest.UniquePrefix(t))
	rv := &flakyReceiver{addr: "127.0.0.1:0"}
	rv.failing.Store(true)
	rv.start(t)
	t.Cleanup(rv.stop)
	s := sim(t, func(a *smsc.Account) { a.MessageID = &smsc.MessageIDFormat{Kind: "HEX"} })
	c := newCorrelator(t, dlr.CorrelatorOptions{Store: st, Carriers: []dlr.CarrierIDs{{Name: "jio", Format: dlr.FormatHex}}})
	snd := newSender(t, dlr.SenderOptions{Store: st, PerHostConcurrency: 32, MaxInFlight: 512, Timeout: 2 * time.Second,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second, HostBusyDelay: 100 * time.Millisecond, RetryFor: 10 * time.Minute})
	d := startDispatch(t, dispatch.Options{Store: st, OnSubmitted: c.OnSubmitted,
		Carriers: []dispatch.CarrierOptions{carrierFor("jio", s, 4, 100, c.Handler("jio"))}})
	const n = 10000
	hook := "http://" + rv.addr + "/dlr"
	var batch []*store.Message
	for i := range n {
		batch = append(batch, message(i, hook))
		if len(batch) == 500 {
			if err := d.Submit(context.Background(), batch...); err != nil {
				t.Fatal(err)
			}
			batch = nil
		}
	}
	// Phase 1: half the requests fail. Phase 2: unreachable. Phase 3: back.
	waitFor(t, 60*time.Second, "a third of the webhooks through a flaky receiver", func() bool {
		d, _, _ := rv.counts()
		return d >= n/3
	})
	rv.stop()
	down := time.Now()
	waitFor(t, 30*time.Second, "every receipt while the receiver is down", func() bool {
		return c.Stats().Matched >= n
	})
	for time.Since(down) < 2*time.Second { // keep it down a while: retries pile up
		time.Sleep(50 * time.Millisecond)
	}
	rv.failing.Store(false)
	rv.start(t) // same address
	waitFor(t, 60*time.Second, "every webhook", func() bool {
		d, _, _ := rv.counts()
		return d == n
	})
	distinct, total, dups := rv.counts()
	cs, ss := c.Stats(), snd.Stats()
	t.Logf("receipts matched %d, webhooks: %d distinct keys, %d deliveries (%d keys twice), %d attempts, %d failed, %d host-busy pushes",
		cs.Matched, distinct, total, dups, ss.Attempts, ss.Failed, ss.HostBusy)
	if cs.Unmatched != 0 || cs.StoreErrors != 0 || distinct != n || ss.Dead != 0 {
		t.Fatalf("correlator %+v sender %+v", cs, ss)
	}
	if ss.Failed == 0 {
		t.Fatal("the receiver never failed: the test did not test retries")
	}
	waitFor(t, 10*time.Second, "queue empty", func() bool {
		c, _ := st.WebhookCounts(context.Background())
		return c.Queued == 0 && c.Dead == 0
	})
}

// TestRestartLosesNoReceipt runs one smppd (correlator, sender, dispatcher) over Redis,
// kills it mid-flow by closing its store and binds, starts another over the same prefix,
// and checks every message gets its receipt and its webhook; a key seen twice is a webhook
// that was in flight at the kill.
func TestRestartLosesNoReceipt(t *testing.T) {
	prefix := storetest.UniquePrefix(t)
	cleanup := storetest.OpenRedis(t, prefix) // deletes the prefix's keys at the end
	_ = cleanup
	rv := newReceiver(t, nil)
	s := sim(t, func(a *smsc.Account) {
		a.MessageID = &smsc.MessageIDFormat{Kind: "decimal", Length: 14}
		a.Receipts.DelayMin, a.Receipts.DelayMax = 10*time.Millisecond, 400*time.Millisecond
	})
	const n = 2000
	type instance struct {
		st  *redisstore.Store
		c   *dlr.Correlator
		snd *dlr.Sender
		d   *dispatch.Dispatcher
	}
	boot := func(name string) *instance {
		st, err := redisstore.Open(context.Background(), storetest.RedisURL(), redisstore.Options{Prefix: prefix, MaxBlock: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		c, err := dlr.NewCorrelator(dlr.CorrelatorOptions{Store: st, Carriers: []dlr.CarrierIDs{{Name: "jio", Format: dlr.FormatDecimal}},
			EarlyWindow: 5 * time.Second, SweepEvery: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		c.Start()
		snd, err := dlr.NewSender(dlr.SenderOptions{Store: st, AllowPrivate: true, Lease: 2 * time.Second, PollEvery: 20 * time.Millisecond,
			MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		snd.Start()
		co := carrierFor("jio", s, 2, 50, c.Handler("jio"))
		co.Text.MaxParts = 1
		d, err := dispatch.New(dispatch.Options{Store: st, OnSubmitted: c.OnSubmitted, Consumer: name,
			Carriers: []dispatch.CarrierOptions{co}, ReclaimAfter: 4 * time.Second, HoldLimit: time.Second,
			ClaimWait: 50 * time.Millisecond, PromoteEvery: 20 * time.Millisecond, RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		d.Start()
		return &instance{st, c, snd, d}
	}
	a := boot("a")
	var msgs []*store.Message
	for i := range n {
		msgs = append(msgs, message(i, rv.srv.URL))
	}
	if err := a.d.Submit(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "a quarter of the webhooks", func() bool { return rv.delivered() >= n/4 })
	// Kill: the store goes away under everything at once; then the binds drop.
	_ = a.st.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = a.d.Shutdown(ctx)
	_ = a.snd.Shutdown(ctx)
	_ = a.c.Shutdown(ctx)
	delivered := rv.delivered()
	if delivered >= n {
		t.Fatal("everything was done before the kill: the test tested nothing")
	}
	b := boot("b")
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = b.d.Shutdown(ctx)
		_ = b.snd.Shutdown(ctx)
		_ = b.c.Shutdown(ctx)
		_ = b.st.Close()
	}()
	waitFor(t, 60*time.Second, "every webhook after the restart", func() bool { return rv.delivered() == n })
	for _, m := range msgs {
		r, err := b.st.GetRecord(context.Background(), m.ID)
		if err != nil || r.Status != store.StatusDelivered {
			t.Fatalf("record %s: %+v %v", m.ID, r, err)
		}
	}
	rv.mu.Lock()
	dups := 0
	for _, c := range rv.byKey {
		if c > 1 {
			dups++
		}
	}
	rv.mu.Unlock()
	t.Logf("killed after %d of %d webhooks; after restart all %d delivered, %d keys delivered twice (in flight at the kill); unmatched %d",
		delivered, n, n, dups, b.c.Stats().Unmatched)
	if cnt, _ := b.st.ReceiptCounts(context.Background()); cnt.Unmatched != 0 {
		t.Fatalf("unmatched receipts after restart: %+v", cnt)
	}
}
