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
	"github.com/smppd/smppd/smsc"
	"github.com/smppd/smppd/smsc/smsctest"
	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/redisstore"
	"github.com/smppd/smppd/store/storetest"
)

const (
	testPE  = "1101234567890123456"
	testCT  = "1107161234567890123"
	testTMD = "1702123456789012345"
)

// carrierFor is a dispatch carrier on simulator s. Its binds serve deliver_sm with the
// handler of dispatch.Options.Receipts (the correlator): how cmd/smppd wires dlr.
func carrierFor(name string, s *smsc.Server, binds, window int) dispatch.CarrierOptions {
	return dispatch.CarrierOptions{
		Name: name,
		Binds: []dispatch.BindGroup{{
			Addrs: []string{s.Addr()}, Count: binds,
			Bind:         smpp.Bind{Mode: smpp.BindTransceiver, SystemID: "smppd", Password: "password"},
			Session:      smpp.Options{WindowSize: window, ResponseTimeout: 2 * time.Second, EnquireLinkInterval: -1},
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
	return smsctest.Start(t, smsc.Options{Accounts: []smsc.Account{a}, EnquireLinkInterval: -1, RetryDelay: 50 * time.Millisecond, MaxAttempts: 1000})
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
				c := newCorr(t, dlr.CorrelatorOptions{Store: st, Carriers: []dlr.CarrierIDs{{Name: carrier, Format: f.format}}})
				newSender(t, dlr.SenderOptions{Store: st})
				d := startDispatch(t, dispatch.Options{Store: st, Receipts: c.Correlator,
					Carriers: []dispatch.CarrierOptions{carrierFor(carrier, s, 2, 10)}})
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
				if s := c.Stats(); s.Unmatched != 0 || s.Matched != n+2 || s.Logged != n+2 || s.StoreErrors != 0 {
					t.Fatalf("stats %+v", s)
				}
				waitFor(t, 5*time.Second, "the receipt log emptied", func() bool { return logLen(t, st) == 0 })
			})
		}
	})
}

// TestEarlyReceiptsEndToEnd: the simulator sends each receipt at once but holds the
// submit_sm_resp, so every receipt arrives before the id it names is known: each is
// acknowledged at once, waits in the log, and is applied once dispatch settles its message.
func TestEarlyReceiptsEndToEnd(t *testing.T) {
	forEachStore(t, func(t *testing.T, st testStore) {
		rv := newReceiver(t, nil)
		s := sim(t, func(a *smsc.Account) {
			a.Latency = smsc.Latency{Min: 300 * time.Millisecond}
			a.MessageID = &smsc.MessageIDFormat{Kind: "HEX", Length: 12}
		})
		c := newCorr(t, dlr.CorrelatorOptions{Store: st, Carriers: []dlr.CarrierIDs{{Name: "jio", Format: dlr.FormatHex}}})
		newSender(t, dlr.SenderOptions{Store: st})
		d := startDispatch(t, dispatch.Options{Store: st, Receipts: c.Correlator,
			Carriers: []dispatch.CarrierOptions{carrierFor("jio", s, 1, 20)}})
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
		if s2.Early == 0 || s2.EarlyMatched != s2.Early || s2.Unmatched != 0 || s2.Matched != n {
			t.Fatalf("stats %+v: receipts did not arrive early, or were lost", s2)
		}
		// Early receipts were acknowledged at once, never refused: the simulator sent each once.
		waitFor(t, 5*time.Second, "the simulator to count every receipt acknowledged", func() bool { return s.Counters().ReceiptsSent == n })
		if cnt := s.Counters(); cnt.ReceiptsRefused != 0 || cnt.ReceiptRetries != 0 {
			t.Fatalf("simulator counters %+v", cnt)
		}
		waitFor(t, 5*time.Second, "the receipt log emptied", func() bool {
			cnt, _ := st.ReceiptCounts(context.Background())
			return cnt.Parked == 0 && cnt.Unmatched == 0
		})
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
	c := newCorr(t, dlr.CorrelatorOptions{Store: st, Carriers: []dlr.CarrierIDs{{Name: "jio", Format: dlr.FormatHex}}})
	snd := newSender(t, dlr.SenderOptions{Store: st, PerHostConcurrency: 32, MaxInFlight: 512, Timeout: 2 * time.Second,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second, HostBusyDelay: 100 * time.Millisecond, RetryFor: 10 * time.Minute})
	d := startDispatch(t, dispatch.Options{Store: st, Receipts: c.Correlator,
		Carriers: []dispatch.CarrierOptions{carrierFor("jio", s, 4, 100)}})
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
	if cs.Unmatched != 0 || cs.StoreErrors != 0 || cs.Matched != n || distinct != n || ss.Dead != 0 {
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

// instance is one smppd over a shared Redis prefix: its own store handle, correlator,
// webhook sender and dispatcher, bound to the simulator.
type instance struct {
	st  *redisstore.Store
	c   *dlr.Correlator
	ev  *events
	snd *dlr.Sender
	d   *dispatch.Dispatcher

	once sync.Once // stop or kill, whichever comes first
}

// bootInstance starts an instance named name (its consumer name in every stream) over
// prefix, with two binds to s.
func bootInstance(t *testing.T, name, prefix string, s *smsc.Server) *instance {
	t.Helper()
	st, err := redisstore.Open(context.Background(), storetest.RedisURL(), redisstore.Options{Prefix: prefix, MaxBlock: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ev := &events{}
	c, err := dlr.NewCorrelator(dlr.CorrelatorOptions{Store: st, Carriers: []dlr.CarrierIDs{{Name: "jio", Format: dlr.FormatDecimal}},
		EarlyWindow: 5 * time.Second, RetryEvery: 100 * time.Millisecond, Consumer: name, OnReceipt: ev.record})
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
	co := carrierFor("jio", s, 2, 50)
	co.Text.MaxParts = 1
	d, err := dispatch.New(dispatch.Options{Store: st, Receipts: c, Consumer: name,
		Carriers: []dispatch.CarrierOptions{co}, ReclaimAfter: 4 * time.Second, HoldLimit: time.Second,
		ClaimWait: 50 * time.Millisecond, PromoteEvery: 20 * time.Millisecond, RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	d.Start()
	return &instance{st: st, c: c, ev: ev, snd: snd, d: d}
}

// stop shuts the instance down gracefully.
func (in *instance) stop() {
	in.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = in.d.Shutdown(ctx)
		_ = in.snd.Shutdown(ctx)
		_ = in.c.Shutdown(ctx)
		_ = in.st.Close()
	})
}

// kill stops the instance as a crash would: the store goes away under everything at once,
// then the binds drop.
func (in *instance) kill() {
	in.once.Do(func() {
		_ = in.st.Close()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = in.d.Shutdown(ctx)
		_ = in.snd.Shutdown(ctx)
		_ = in.c.Shutdown(ctx)
	})
}

// TestRestartLosesNoReceipt runs one smppd (correlator, sender, dispatcher) over Redis,
// kills it mid-flow by closing its store and binds, starts another over the same prefix,
// and checks every message gets its receipt and its webhook: the new instance takes over
// the receipt log entries the dead one had read and not finished, and its claims. A key seen
// twice is a webhook that was in flight at the kill.
func TestRestartLosesNoReceipt(t *testing.T) {
	prefix := storetest.UniquePrefix(t)
	_ = storetest.OpenRedis(t, prefix) // deletes the prefix's keys at the end
	rv := newReceiver(t, nil)
	s := sim(t, func(a *smsc.Account) {
		a.MessageID = &smsc.MessageIDFormat{Kind: "decimal", Length: 14}
		a.Receipts.DelayMin, a.Receipts.DelayMax = 10*time.Millisecond, 400*time.Millisecond
	})
	const n = 2000
	a := boot(t, "a", prefix, s)
	var msgs []*store.Message
	for i := range n {
		msgs = append(msgs, message(i, rv.srv.URL))
	}
	if err := a.d.Submit(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "a quarter of the webhooks", func() bool { return rv.delivered() >= n/4 })
	a.kill()
	delivered := rv.delivered()
	if delivered >= n {
		t.Fatal("everything was done before the kill: the test tested nothing")
	}
	b := boot(t, "b", prefix, s)
	waitFor(t, 60*time.Second, "every webhook after the restart", func() bool { return rv.delivered() == n })
	resent := 0
	for _, m := range msgs {
		r, err := b.st.GetRecord(context.Background(), m.ID)
		if err != nil || r.Status != store.StatusDelivered {
			t.Fatalf("record %s: %+v %v", m.ID, r, err)
		}
		resent += r.Duplicates
	}
	rv.mu.Lock()
	dups := 0
	for _, c := range rv.byKey {
		if c > 1 {
			dups++
		}
	}
	rv.mu.Unlock()
	cnt, err := b.st.ReceiptCounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("killed after %d of %d webhooks; after restart all %d delivered, %d keys delivered twice (in flight at the kill); "+
		"%d messages sent twice (taken over from the dead instance), %d receipts unmatched", delivered, n, n, dups, resent, cnt.Unmatched)
	// A receipt may only go unmatched when its send was never settled: the dead instance
	// had sent it and died before storing the carrier's id, and the message was sent again
	// (counted in the record's Duplicates).
	if cnt.Unmatched > int64(resent) {
		t.Fatalf("%d unmatched receipts, but only %d messages were sent twice", cnt.Unmatched, resent)
	}
	waitFor(t, 10*time.Second, "the receipt log emptied", func() bool {
		c, _ := b.st.ReceiptCounts(context.Background())
		return c.Parked == 0
	})
}

// boot is bootInstance with the instance shut down at the end of the test (killed ones too:
// a second shutdown does nothing).
func boot(t *testing.T, name, prefix string, s *smsc.Server) *instance {
	t.Helper()
	in := bootInstance(t, name, prefix, s)
	t.Cleanup(in.stop)
	return in
}

// TestTwoInstancesShareOneRedis runs two smppd instances at once over one Redis prefix and
// one carrier: each submits half the messages, the carrier sends each receipt on any of
// the four binds, and either instance's applier may take any log entry. Every receipt is
// applied exactly once and every message gets its webhook.
func TestTwoInstancesShareOneRedis(t *testing.T) {
	prefix := storetest.UniquePrefix(t)
	_ = storetest.OpenRedis(t, prefix)
	rv := newReceiver(t, nil)
	s := sim(t, func(a *smsc.Account) {
		a.MessageID = &smsc.MessageIDFormat{Kind: "decimal", Length: 14}
		a.Receipts.DelayMin, a.Receipts.DelayMax = 0, 200*time.Millisecond
	})
	a, b := boot(t, "a", prefix, s), boot(t, "b", prefix, s)
	const n = 1000
	var msgs []*store.Message
	for i := range n {
		m := message(i, rv.srv.URL)
		msgs = append(msgs, m)
		in := a
		if i%2 == 1 {
			in = b
		}
		if err := in.d.Submit(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 60*time.Second, "every webhook", func() bool { return rv.delivered() == n })
	for _, m := range msgs {
		if r, err := a.st.GetRecord(context.Background(), m.ID); err != nil || r.Status != store.StatusDelivered {
			t.Fatalf("record %s: %+v %v", m.ID, r, err)
		}
	}
	sa, sb := a.c.Stats(), b.c.Stats()
	ma, mb := a.ev.count(dlr.OutcomeMatched), b.ev.count(dlr.OutcomeMatched)
	t.Logf("instance a logged %d receipts and applied %d; b logged %d and applied %d; duplicates %d+%d",
		sa.Logged, ma, sb.Logged, mb, a.ev.count(dlr.OutcomeDuplicate), b.ev.count(dlr.OutcomeDuplicate))
	if sa.Logged == 0 || sb.Logged == 0 {
		t.Fatalf("receipts reached one instance only: a %+v b %+v", sa, sb)
	}
	if ma+mb != n {
		t.Fatalf("%d receipts applied for %d messages", ma+mb, n)
	}
	// One webhook job per message, whichever instance applied its receipt. (A job may still
	// be sent twice if its request outlasts the sender's lease: receivers dedupe by key.)
	if sa.Unmatched+sb.Unmatched != 0 || sa.WebhooksQueued+sb.WebhooksQueued != n {
		t.Fatalf("a %+v b %+v", sa, sb)
	}
	waitFor(t, 10*time.Second, "the queues emptied", func() bool {
		c, _ := a.st.WebhookCounts(context.Background())
		r, _ := a.st.ReceiptCounts(context.Background())
		return c.Queued == 0 && c.Dead == 0 && r.Parked == 0 && r.Unmatched == 0
	})
}

// TestSubmitFailureWebhookEndToEnd: a message the carrier refuses at submit is made final by
// dispatch itself, and its webhook (dlr.Correlator.FinalWebhook, queued in the settlement)
// reaches the client; its neighbours are delivered through receipts as usual.
func TestSubmitFailureWebhookEndToEnd(t *testing.T) {
	forEachStore(t, func(t *testing.T, st testStore) {
		rv := newReceiver(t, nil)
		s := sim(t, func(a *smsc.Account) {
			a.Receipts.Rules = []smsc.Rule{{Dest: "919800000001", SubmitStatus: "ESME_RINVDSTADR"}}
		})
		c := newCorr(t, dlr.CorrelatorOptions{Store: st, Carriers: []dlr.CarrierIDs{{Name: "jio", Format: dlr.FormatDecimal}}})
		newSender(t, dlr.SenderOptions{Store: st})
		d := startDispatch(t, dispatch.Options{Store: st, Receipts: c.Correlator, Carriers: []dispatch.CarrierOptions{carrierFor("jio", s, 1, 10)}})
		var msgs []*store.Message
		for i := range 3 {
			msgs = append(msgs, message(i, rv.srv.URL))
		}
		if err := d.Submit(context.Background(), msgs...); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 20*time.Second, "three webhooks", func() bool { return rv.delivered() == 3 })
		bad := msgs[1]
		r := record(t, st, bad.ID)
		if r.Status != store.StatusFailed || r.ErrorCode != "0xb" {
			t.Fatalf("refused message %+v", r)
		}
		var p dlr.Payload
		if err := json.Unmarshal([]byte(rv.body(dlr.JobID(bad.ID, store.StatusFailed))), &p); err != nil || p.SmsStatus != "FAILED" || p.SessionId != bad.ID {
			t.Fatalf("payload %+v %v", p, err)
		}
		for _, m := range []*store.Message{msgs[0], msgs[2]} {
			if rv.body(dlr.JobID(m.ID, store.StatusDelivered)) == "" {
				t.Fatalf("no DELIVERED webhook for %s", m.ID)
			}
		}
		if s := c.Stats(); s.Matched != 2 || s.Unmatched != 0 || s.WebhooksQueued != 3 {
			t.Fatalf("stats %+v", s)
		}
	})
}
