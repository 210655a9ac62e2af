package dispatch_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smppd/smppd/dispatch"
	"github.com/smppd/smppd/dispatch/dispatchtest"
	"github.com/smppd/smppd/dlt"
	"github.com/smppd/smppd/internal/wait"
	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/smsc"
	"github.com/smppd/smppd/smsc/smsctest"
	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/liveness"
	"github.com/smppd/smppd/store/memstore"
	"github.com/smppd/smppd/store/storetest"
)

const (
	testPE  = "1101234567890123456"
	testCT  = "1107161234567890123"
	testTMD = "1702123456789012345"
)

// sim starts a simulator with one account; mod adjusts the account.
func sim(t *testing.T, mod func(*smsc.Account)) *smsc.Server {
	a := smsc.Account{SystemID: "smppd", Password: "password"}
	if mod != nil {
		mod(&a)
	}
	return smsctest.Start(t, smsc.Options{Accounts: []smsc.Account{a}, EnquireLinkInterval: -1})
}

func carrierFor(name string, s *smsc.Server, binds, window int) dispatch.CarrierOptions {
	return dispatchtest.Carrier(name, s.Addr(), binds, window, testTMD)
}

func msg(i int, to string, prio store.Priority) *store.Message {
	return &store.Message{
		Account: "acme", From: "ACMEIN", To: to, Priority: prio,
		Text: fmt.Sprintf("Your OTP for login is %06d. Do not share it with anyone. - ACME", i),
		PEID: testPE, TemplateID: testCT,
	}
}

func tlv(m smsc.Message, tag smpp.Tag) string {
	v, _ := m.RawTLV.String(tag)
	return v
}

func TestTenThousandMessagesExactlyOnceWithTLVsOnTheRightCarrier(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st store.Store) {
		jio, airtel := sim(t, nil), sim(t, nil)
		d := dispatchtest.Start(t, dispatch.Options{
			Store:    st,
			Carriers: []dispatch.CarrierOptions{carrierFor("jio", jio, 2, 50), carrierFor("airtel", airtel, 2, 50)},
			Routes:   []dispatch.Route{{Prefix: "9170", Carriers: []string{"airtel"}}, {Prefix: "91", Carriers: []string{"jio"}}},
		})
		const n = 10000
		want := map[string]string{} // destination → carrier
		var batch []*store.Message
		for i := range n {
			to := fmt.Sprintf("9198%08d", i)
			if i%3 == 0 {
				to = fmt.Sprintf("9170%08d", i)
			}
			want[to] = map[bool]string{true: "airtel", false: "jio"}[strings.HasPrefix(to, "9170")]
			batch = append(batch, msg(i, to, store.Priority(i%3)))
			if len(batch) == 500 {
				if err := d.Submit(context.Background(), batch...); err != nil {
					t.Fatal(err)
				}
				batch = nil
			}
		}
		wait.For(t, 60*time.Second, "all messages at the carriers", func() bool { return jio.Received()+airtel.Received() >= n })
		chain := dlt.ChainHash(testPE, testTMD)
		seen := map[string]int{}
		for carrier, s := range map[string]*smsc.Server{"jio": jio, "airtel": airtel} {
			for _, m := range s.Messages(smsc.Filter{}) {
				seen[m.Dest.Addr]++
				if want[m.Dest.Addr] != carrier {
					t.Fatalf("%s went to %s, want %s", m.Dest.Addr, carrier, want[m.Dest.Addr])
				}
				if tlv(m, smpp.TagDLTPEID) != testPE || tlv(m, smpp.TagDLTTemplate) != testCT || tlv(m, smpp.TagDLTChainHash) != chain {
					t.Fatalf("TLVs of %s: %+v", m.Dest.Addr, m.TLVs)
				}
				if m.Status != "ESME_ROK" {
					t.Fatalf("status %s", m.Status)
				}
			}
		}
		if len(seen) != n {
			t.Fatalf("%d distinct destinations, want %d", len(seen), n)
		}
		for to, c := range seen {
			if c != 1 {
				t.Fatalf("%s submitted %d times", to, c)
			}
		}
		wait.For(t, 10*time.Second, "every record SUBMITTED", func() bool {
			var sub uint64
			for _, s := range d.Stats(context.Background()) {
				sub += s.Submitted
			}
			return sub == n
		})
		for _, s := range d.Stats(context.Background()) {
			if s.Duplicates != 0 || s.Failed != 0 || s.Depth.Ready+s.Depth.Pending+s.Depth.Scheduled != 0 {
				t.Fatalf("stats %+v", s)
			}
		}
	})
}

func TestRecordsCarryCarrierIDsAndIndex(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st store.Store) {
		s := sim(t, func(a *smsc.Account) { a.MessageID = &smsc.MessageIDFormat{Kind: "hex"} })
		d := dispatchtest.Start(t, dispatch.Options{Store: st, Carriers: []dispatch.CarrierOptions{carrierFor("jio", s, 1, 10)}})
		long := strings.Repeat("Long message part. ", 20) // 380 characters: 3 parts
		m := msg(1, "919812345678", store.PriorityTransactional)
		m.Text = long
		if err := d.Submit(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		var rec *store.Record
		wait.For(t, 10*time.Second, "SUBMITTED", func() bool {
			rec, _ = st.GetRecord(context.Background(), m.ID)
			return rec != nil && rec.Status == store.StatusSubmitted
		})
		if rec.Parts != 3 || len(rec.CarrierIDs) != 3 || rec.Carrier != "jio" || rec.Attempts != 1 {
			t.Fatalf("record %+v", rec)
		}
		for i, id := range rec.CarrierIDs {
			got, part, err := st.LookupCarrierID(context.Background(), "jio", id)
			if err != nil || got != m.ID || part != i {
				t.Fatalf("index %s: %s %d %v", id, got, part, err)
			}
		}
		msgs := s.Messages(smsc.Filter{})
		if len(msgs) != 3 || msgs[0].Concat == nil || msgs[0].Concat.Total != 3 {
			t.Fatalf("parts at the SMSC: %+v", msgs)
		}
		var joined string
		for _, p := range msgs {
			joined += p.Text
		}
		if joined != long {
			t.Fatalf("joined parts %q", joined)
		}
	})
}

func TestDisconnectsMidWindowLoseNothing(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st store.Store) {
		s := sim(t, func(a *smsc.Account) { a.Faults.DisconnectAfter = 97 })
		c := carrierFor("jio", s, 2, 20)
		d := dispatchtest.Start(t, dispatch.Options{Store: st, Carriers: []dispatch.CarrierOptions{c}})
		const n = 2000
		var all []*store.Message
		for i := range n {
			all = append(all, msg(i, fmt.Sprintf("9198%08d", i), store.PriorityTransactional))
		}
		if err := d.Submit(context.Background(), all...); err != nil {
			t.Fatal(err)
		}
		wait.For(t, 60*time.Second, "every message accepted once", func() bool {
			return distinctAccepted(s) == n
		})
		stats := d.Stats(context.Background())[0]
		if s.Counters().Disconnects < 10 {
			t.Fatalf("only %d disconnects: the test did not exercise reconnects", s.Counters().Disconnects)
		}
		// A message the carrier accepted more than once was outstanding at a disconnect, and
		// every such resend is counted.
		extra := acceptedTotal(s) - n
		if uint64(extra) > stats.Duplicates {
			t.Fatalf("%d extra copies at the carrier but only %d counted duplicates", extra, stats.Duplicates)
		}
		wait.For(t, 10*time.Second, "queue empty", func() bool {
			s := d.Stats(context.Background())[0]
			return s.Submitted == n && s.Depth.Ready+s.Depth.Pending+s.Depth.Scheduled == 0
		})
	})
}

func distinctAccepted(s *smsc.Server) int {
	seen := map[string]bool{}
	for _, m := range s.Messages(smsc.Filter{}) {
		if m.Status == "ESME_ROK" {
			seen[m.Dest.Addr] = true
		}
	}
	return len(seen)
}

func acceptedTotal(s *smsc.Server) int {
	n := 0
	for _, m := range s.Messages(smsc.Filter{}) {
		if m.Status == "ESME_ROK" {
			n++
		}
	}
	return n
}

func TestThrottlingAdaptsKeepsOrderLosesNothing(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st store.Store) {
		// The cap sits well below what one bind with window 1 sends even under the race
		// detector with Redis, so the carrier does throttle.
		s := sim(t, func(a *smsc.Account) { a.Throttle = smsc.Throttle{PerAccount: 40, Burst: 2} })
		c := carrierFor("jio", s, 1, 1) // one bind, window 1: the carrier sees our exact order
		d := dispatchtest.Start(t, dispatch.Options{Store: st, Carriers: []dispatch.CarrierOptions{c}})
		const n = 200
		var all []*store.Message
		for i := range n {
			all = append(all, msg(i, fmt.Sprintf("9198%08d", i), store.PriorityTransactional))
		}
		if err := d.Submit(context.Background(), all...); err != nil {
			t.Fatal(err)
		}
		wait.For(t, 60*time.Second, "every message accepted", func() bool { return distinctAccepted(s) == n })
		var order []string
		for _, m := range s.Messages(smsc.Filter{}) {
			if m.Status == "ESME_ROK" {
				order = append(order, m.Dest.Addr)
			}
		}
		for i, to := range order {
			if want := fmt.Sprintf("9198%08d", i); to != want {
				t.Fatalf("accepted #%d is %s, want %s: order not kept", i, to, want)
			}
		}
		stats := d.Stats(context.Background())[0]
		if s.Counters().Throttled == 0 || stats.ThrottlePauses == 0 {
			t.Fatalf("never throttled: sim %d pauses %d", s.Counters().Throttled, stats.ThrottlePauses)
		}
		if stats.Rate > 80 {
			t.Fatalf("pace %v did not adapt near the carrier's 40/s", stats.Rate)
		}
		if len(order) != n {
			t.Fatalf("%d accepted, want %d (duplicates?)", len(order), n)
		}
	})
}

func TestPriorityOTPFirst(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st store.Store) {
		s := sim(t, nil)
		c := carrierFor("jio", s, 1, 1)
		// Queue everything before the carrier is reachable, so priority alone decides.
		d, err := dispatch.New(dispatch.Options{Store: st, Carriers: []dispatch.CarrierOptions{c}, ClaimWait: 20 * time.Millisecond, ClaimBatch: 1})
		if err != nil {
			t.Fatal(err)
		}
		var all []*store.Message
		for i := range 30 {
			all = append(all, msg(i, fmt.Sprintf("9198%08d", i), store.Priority(2-i/10))) // promo, trans, then OTP
		}
		if err := d.Submit(context.Background(), all...); err != nil {
			t.Fatal(err)
		}
		d.Start()
		defer d.Shutdown(context.Background())
		wait.For(t, 20*time.Second, "all sent", func() bool { return distinctAccepted(s) == 30 })
		msgs := s.Messages(smsc.Filter{})
		// The first claim may race the bind; from the second on, OTP (20..29) leads.
		otpSeen := 0
		for _, m := range msgs[:12] {
			var i int
			fmt.Sscanf(m.Dest.Addr[4:], "%d", &i)
			if i >= 20 {
				otpSeen++
			}
		}
		if otpSeen < 9 {
			t.Fatalf("only %d OTP messages among the first 12 sent", otpSeen)
		}
	})
}

func TestPermanentErrorFailsAndTemporaryRetries(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st store.Store) {
		s := sim(t, func(a *smsc.Account) {
			a.Receipts.Rules = []smsc.Rule{{Dest: "919800000001", SubmitStatus: "ESME_RINVDSTADR"}}
			a.Faults.SysErr = smsc.Fault{Every: 3}
		})
		d := dispatchtest.Start(t, dispatch.Options{Store: st, Carriers: []dispatch.CarrierOptions{carrierFor("jio", s, 1, 5)}})
		bad := msg(1, "919800000001", store.PriorityTransactional)
		var good []*store.Message
		for i := range 20 {
			good = append(good, msg(i, fmt.Sprintf("9198100000%02d", i), store.PriorityTransactional))
		}
		if err := d.Submit(context.Background(), append(good, bad)...); err != nil {
			t.Fatal(err)
		}
		wait.For(t, 20*time.Second, "the bad one failed", func() bool {
			r, _ := st.GetRecord(context.Background(), bad.ID)
			return r != nil && r.Status == store.StatusFailed
		})
		r, _ := st.GetRecord(context.Background(), bad.ID)
		if r.ErrorCode != "0xb" || !strings.Contains(r.Reason, "ESME_RINVDSTADR") {
			t.Fatalf("record %+v", r)
		}
		wait.For(t, 20*time.Second, "the good ones submitted despite ESME_RSYSERR", func() bool {
			for _, m := range good {
				r, _ := st.GetRecord(context.Background(), m.ID)
				if r == nil || r.Status != store.StatusSubmitted {
					return false
				}
			}
			return true
		})
		if d.Stats(context.Background())[0].Deferred == 0 {
			t.Fatal("no message was deferred for retry")
		}
	})
}

func TestNoResponsePolicyUnknown(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st store.Store) {
		s := sim(t, func(a *smsc.Account) { a.Receipts.Rules = []smsc.Rule{{Dest: "919800000002", NoResponse: true}} })
		c := carrierFor("jio", s, 1, 5)
		c.NoResponse = dispatch.PolicyUnknown
		c.Binds[0].Session.ResponseTimeout = 100 * time.Millisecond
		d := dispatchtest.Start(t, dispatch.Options{Store: st, Carriers: []dispatch.CarrierOptions{c}})
		m := msg(1, "919800000002", store.PriorityOTP)
		if err := d.Submit(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		wait.For(t, 10*time.Second, "UNKNOWN", func() bool {
			r, _ := st.GetRecord(context.Background(), m.ID)
			return r != nil && r.Status == store.StatusUnknown
		})
		if s.Received() != 1 {
			t.Fatalf("sent %d times under the unknown policy", s.Received())
		}
	})
}

func TestScheduledSendWaits(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st store.Store) {
		s := sim(t, nil)
		d := dispatchtest.Start(t, dispatch.Options{Store: st, Carriers: []dispatch.CarrierOptions{carrierFor("jio", s, 1, 5)}})
		m := msg(1, "919812345678", store.PriorityTransactional)
		m.SendAt = time.Now().Add(300 * time.Millisecond)
		if err := d.Submit(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		r, _ := st.GetRecord(context.Background(), m.ID)
		if r.Status != store.StatusScheduled {
			t.Fatalf("status %s", r.Status)
		}
		wait.For(t, 10*time.Second, "sent", func() bool { return s.Received() == 1 })
		if got := s.Messages(smsc.Filter{})[0].ReceivedAt; got.Before(m.SendAt) {
			t.Fatalf("sent at %s, before %s", got, m.SendAt)
		}
	})
}

func TestFailoverWhenCarrierDown(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st store.Store) {
		backup := sim(t, nil)
		dead := carrierFor("jio", backup, 1, 5)
		dead.Binds[0].Addrs = []string{"127.0.0.1:1"} // nothing listens there
		dead.FailoverAfter = 100 * time.Millisecond
		d := dispatchtest.Start(t, dispatch.Options{Store: st, Carriers: []dispatch.CarrierOptions{dead, carrierFor("airtel", backup, 1, 5)},
			Routes: []dispatch.Route{{Prefix: "91", Carriers: []string{"jio", "airtel"}}}})
		var all []*store.Message
		for i := range 50 {
			m := msg(i, fmt.Sprintf("9198%08d", i), store.PriorityTransactional)
			m.Carrier = "jio" // queued for the dead carrier on purpose
			all = append(all, m)
		}
		if err := d.Submit(context.Background(), all...); err != nil {
			t.Fatal(err)
		}
		wait.For(t, 20*time.Second, "all sent through the backup", func() bool { return distinctAccepted(backup) == 50 })
		if d.Stats(context.Background())[0].Moved != 50 {
			t.Fatalf("moved %d", d.Stats(context.Background())[0].Moved)
		}
	})
}

func TestShutdownLeavesUnsentInStore(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st store.Store) {
		s := sim(t, func(a *smsc.Account) { a.Throttle = smsc.Throttle{PerAccount: 50, Burst: 5} })
		d, err := dispatch.New(dispatch.Options{Store: st, Carriers: []dispatch.CarrierOptions{carrierFor("jio", s, 1, 5)}, ClaimWait: 20 * time.Millisecond,
			PauseMin: 10 * time.Millisecond, PauseMax: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		d.Start()
		var all []*store.Message
		for i := range 500 {
			all = append(all, msg(i, fmt.Sprintf("9198%08d", i), store.PriorityTransactional))
		}
		if err := d.Submit(context.Background(), all...); err != nil {
			t.Fatal(err)
		}
		wait.For(t, 10*time.Second, "some sent", func() bool { return distinctAccepted(s) > 20 })
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := d.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		sent := distinctAccepted(s)
		dep, _ := st.Depth(context.Background(), "jio")
		if dep.Pending != 0 {
			t.Fatalf("claims left pending after shutdown: %+v", dep)
		}
		if int64(sent)+dep.Ready+dep.Scheduled != 500 {
			t.Fatalf("sent %d + ready %d + scheduled %d != 500", sent, dep.Ready, dep.Scheduled)
		}
		// A new dispatcher on the same store finishes the job.
		s.SetThrottle("smppd", smsc.Throttle{})
		dispatchtest.Start(t, dispatch.Options{Store: st, Carriers: []dispatch.CarrierOptions{carrierFor("jio", s, 1, 5)}})
		wait.For(t, 20*time.Second, "the rest sent", func() bool { return distinctAccepted(s) == 500 })
		if acceptedTotal(s) != 500 {
			t.Fatalf("%d accepted in all: something was sent twice", acceptedTotal(s))
		}
	})
}

func TestTwoInstancesShareOneRedisQueue(t *testing.T) {
	prefix := storetest.UniquePrefix(t)
	s := sim(t, nil)
	var ds []*dispatch.Dispatcher
	for i := range 2 {
		st := storetest.OpenRedis(t, prefix)
		ds = append(ds, dispatchtest.Start(t, dispatch.Options{Store: st, Consumer: fmt.Sprintf("instance-%d", i),
			Carriers: []dispatch.CarrierOptions{carrierFor("jio", s, 2, 20)}}))
	}
	const n = 4000
	var wg sync.WaitGroup
	for i, d := range ds { // both instances accept half the traffic
		wg.Add(1)
		go func() {
			defer wg.Done()
			var batch []*store.Message
			for j := i; j < n; j += 2 {
				batch = append(batch, msg(j, fmt.Sprintf("9198%08d", j), store.PriorityTransactional))
			}
			if err := d.Submit(context.Background(), batch...); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	wait.For(t, 60*time.Second, "every message at the carrier", func() bool { return distinctAccepted(s) == n })
	if total := acceptedTotal(s); total != n {
		t.Fatalf("%d submits accepted for %d messages: something was sent twice", total, n)
	}
	var byInstance []uint64
	wait.For(t, 10*time.Second, "every message settled", func() bool {
		byInstance = byInstance[:0]
		for _, d := range ds {
			byInstance = append(byInstance, d.Stats(context.Background())[0].Submitted)
		}
		return byInstance[0]+byInstance[1] == n
	})
	if byInstance[0] == 0 || byInstance[1] == 0 {
		t.Fatalf("submitted per instance %v: both should share the queue", byInstance)
	}
}

// A destination no route covers is refused with a typed error the API can tell from a
// failure of its own (it answers the client's error, not HTTP 500), and nothing is stored.
func TestSubmitWithoutRouteIsTyped(t *testing.T) {
	st := memstore.New()
	d := dispatchtest.Start(t, dispatch.Options{Store: st, Carriers: []dispatch.CarrierOptions{carrierFor("jio", sim(t, nil), 1, 10)},
		Routes: []dispatch.Route{{Prefix: "91", Carriers: []string{"jio"}}}})
	err := d.Submit(context.Background(), &store.Message{Account: "acme", From: "ACMEIN", To: "447700900123", Text: "hello"})
	var se *dispatch.SubmitError
	if !errors.Is(err, dispatch.ErrNoRoute) || !errors.As(err, &se) || se.Field != "to" {
		t.Fatalf("Submit: %v, want a dispatch.SubmitError on \"to\" wrapping dispatch.ErrNoRoute", err)
	}
	if dp, _ := st.Depth(context.Background(), "jio"); dp != (store.Depth{}) {
		t.Fatalf("depth %+v after a refused message", dp)
	}
}

// A carrier that sends unbind with submits in flight and then still answers them (as real
// SMSCs do before maintenance) gets every part exactly once: answered submits are not
// resent, and the rest of a long message goes out on another bind instead of the whole
// message again.
func TestCarrierUnbindMidWindowNoDuplicates(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st store.Store) {
		s := sim(t, func(a *smsc.Account) { a.Faults.UnbindMidWindow = 4 })
		c := carrierFor("jio", s, 3, 8)
		d := dispatchtest.Start(t, dispatch.Options{Store: st, Carriers: []dispatch.CarrierOptions{c}})
		const n = 300
		long := strings.Repeat("Your statement for the month is ready. ", 6) // two parts
		var all []*store.Message
		wantParts := 0
		for i := range n {
			m := msg(i, fmt.Sprintf("9198%08d", i), store.PriorityTransactional)
			wantParts++
			if i%3 == 0 {
				m.Text = long
				wantParts++
			}
			all = append(all, m)
		}
		if err := d.Submit(context.Background(), all...); err != nil {
			t.Fatal(err)
		}
		if !wait.Until(60*time.Second, func() bool { return d.Stats(context.Background())[0].Submitted == n }) {
			t.Fatalf("not every message submitted: %+v; simulator %+v", d.Stats(context.Background())[0], s.Counters())
		}
		if u := s.Counters().Unbinds; u < 5 {
			t.Fatalf("only %d unbinds: the test did not exercise them", u)
		}
		// A submit written in the instant the carrier's unbind is on its way may be taken by
		// the carrier and its answer lost with the link: no ESME can avoid that resend, and
		// smppd counts it. What must never happen is an uncounted resend (an answered submit
		// sent again, or a long message sent whole again), or more resends than unbinds.
		stats := d.Stats(context.Background())[0]
		if got := acceptedTotal(s); got != wantParts+int(stats.Duplicates) || stats.Duplicates > s.Counters().Unbinds {
			st := d.Stats(context.Background())[0]
			t.Logf("duplicates %d unknown %d", st.Duplicates, st.Unknown)
			per := map[string][]string{}
			for _, m := range s.Messages(smsc.Filter{}) {
				if m.Status == "ESME_ROK" {
					per[m.Dest.Addr] = append(per[m.Dest.Addr], fmt.Sprintf("%d@%d/%s", len(m.ShortMessage), m.Bind, m.ReceivedAt.Format("05.000")))
				}
			}
			for _, m := range all {
				want := 1
				if m.Text == long {
					want = 2
				}
				if ps := per[m.To]; len(ps) != want {
					t.Logf("%s (%d parts): %v", m.To, want, ps)
				}
			}
			t.Fatalf("the carrier accepted %d parts, want %d plus the %d duplicates counted (at most one per unbind, %d): uncounted resends after its unbind",
				got, wantParts, stats.Duplicates, s.Counters().Unbinds)
		}
	})
}

// lostReply is a store whose first Claim that hands out messages loses its answer, as when
// Redis restarts between doing the claim and replying: the messages are pending under the
// consumer, and nobody holds them.
type lostReply struct {
	store.Store
	lost atomic.Bool
}

func (s *lostReply) Claim(ctx context.Context, carrier, consumer string, n int, wait time.Duration) ([]store.Claim, error) {
	claims, err := s.Store.Claim(ctx, carrier, consumer, n, wait)
	if len(claims) > 0 && !s.lost.Swap(true) {
		return nil, io.ErrUnexpectedEOF
	}
	return claims, err
}

// A claim whose answer was lost does not strand its messages until ReclaimAfter: the
// instance abandons the incarnation they were claimed under, and takes them over at once.
func TestLostClaimReplyTakenOverAtOnce(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st store.Store) {
		s := sim(t, nil)
		k, err := liveness.Start(context.Background(), st, liveness.Options{Instance: "alpha", TTL: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer k.Stop(context.Background())
		ls := &lostReply{Store: st}
		d := dispatchtest.Start(t, dispatch.Options{Store: ls, Membership: k, Carriers: []dispatch.CarrierOptions{carrierFor("jio", s, 1, 10)},
			ReclaimAfter: time.Hour, TakeoverEvery: 50 * time.Millisecond})
		const n = 20
		var all []*store.Message
		for i := range n {
			all = append(all, msg(i, fmt.Sprintf("9198%08d", i), store.PriorityTransactional))
		}
		if err := d.Submit(context.Background(), all...); err != nil {
			t.Fatal(err)
		}
		wait.For(t, 15*time.Second, "every message sent", func() bool { return distinctAccepted(s) == n })
		if !ls.lost.Load() || k.Stats().Abandons == 0 {
			t.Fatalf("lost %v, abandons %d: the test did not lose a reply", ls.lost.Load(), k.Stats().Abandons)
		}
		if got := acceptedTotal(s); got != n {
			t.Fatalf("the carrier accepted %d, want %d (nothing was on the wire)", got, n)
		}
	})
}

// TestReceiptsAreTheOneHandler: deliver_sm on carrier binds reach Options.Receipts only; a
// bind's own Session.Handler, a second way in, is refused with the field named.
func TestReceiptsAreTheOneHandler(t *testing.T) {
	c := dispatch.CarrierOptions{Name: "jio", Binds: []dispatch.BindGroup{{
		Addrs:   []string{"127.0.0.1:1"},
		Session: smpp.Options{Handler: smpp.HandlerFunc(func(context.Context, *smpp.Request) {})},
	}}}
	_, err := dispatch.New(dispatch.Options{Store: memstore.New(), Carriers: []dispatch.CarrierOptions{c}})
	if err == nil || !strings.Contains(err.Error(), "Session.Handler") {
		t.Fatalf("New with a bind's own handler: %v", err)
	}
}
