package smsc_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/smsc"
	"github.com/smppd/smppd/smsc/smsctest"
)

// holder is an ESME that answers no deliver_sm until the test releases them: the slowest
// ESME there is, so what the simulator sends while waiting shows its window exactly.
type holder struct {
	mu   sync.Mutex
	held []*smpp.Request
}

func (h *holder) handler() smpp.Handler {
	return smpp.HandlerFunc(func(ctx context.Context, r *smpp.Request) {
		r.Detach()
		h.mu.Lock()
		h.held = append(h.held, r)
		h.mu.Unlock()
	})
}

func (h *holder) outstanding() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.held)
}

// release answers every held deliver_sm with ESME_ROK.
func (h *holder) release() {
	h.mu.Lock()
	held := h.held
	h.held = nil
	h.mu.Unlock()
	for _, r := range held {
		_ = r.Respond(smpp.ESME_ROK, nil)
	}
}

// submitN submits n messages asking for a receipt (or not) and returns their ids in order.
func submitN(t testing.TB, s *smpp.Session, n int, receipt bool) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range n {
		p := sm(fmt.Sprint(919800100000+i), fmt.Sprintf("message %d", i))
		if !receipt {
			p.RegisteredDelivery = 0
		}
		ids[i] = submit(t, s, p)
	}
	return ids
}

func receiptsOpts(r smsc.Receipts) smsc.Options {
	return acct(func(a *smsc.Account) { a.Receipts = r })
}

func TestReceiptWindow(t *testing.T) {
	const n = 150
	for _, tc := range []struct {
		name   string
		window int
		want   int // outstanding at once
	}{
		{name: "default (Options.Window)", window: 0, want: 64},
		{name: "small", window: 5, want: 5},
		{name: "no window", window: smsc.NoWindow, want: n},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := smsctest.Start(t, receiptsOpts(smsc.Receipts{Window: tc.window}))
			esme := &holder{}
			bind(t, srv, nil, withMode(smpp.BindReceiver), withOpts(func(o *smpp.Options) {
				o.Handler, o.InboundWindow = esme.handler(), 1000
			}))
			tx := bind(t, srv, nil, withMode(smpp.BindTransmitter))
			submitN(t, tx, n, true)
			// Every receipt is due at once; the window decides how many go out unanswered,
			// and the rest wait in the account's queue.
			waitFor(t, fmt.Sprintf("%d outstanding, %d held", tc.want, n-tc.want), func() bool {
				return esme.outstanding() == tc.want && srv.Counters().Held == n-tc.want
			})
			for _, b := range srv.Binds() {
				if b.Mode == smpp.BindReceiver.String() && b.WindowUsed != tc.want {
					t.Errorf("bind window_used %d, want %d", b.WindowUsed, tc.want)
				}
			}
			waitFor(t, "every receipt answered", func() bool {
				esme.release()
				return srv.Counters().ReceiptsSent == n
			})
			if c := srv.Counters(); c.ReceiptRetries != 0 || c.ReceiptsRefused != 0 || c.Held != 0 {
				t.Errorf("counters %+v", c)
			}
		})
	}
}

func TestReceiptWindowChangedAtRunTime(t *testing.T) {
	const n = 40
	srv := smsctest.Start(t, receiptsOpts(smsc.Receipts{Window: 3}))
	esme := &holder{}
	bind(t, srv, nil, withMode(smpp.BindReceiver), withOpts(func(o *smpp.Options) { o.Handler = esme.handler() }))
	submitN(t, bind(t, srv, nil, withMode(smpp.BindTransmitter)), n, true)
	waitFor(t, "window of 3 full", func() bool { return esme.outstanding() == 3 && srv.Counters().Held == n-3 })
	// Lifting the window lets the waiting bind send the rest without any answer coming.
	if err := srv.SetOutcomes("", smsc.Receipts{Window: smsc.NoWindow}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "all outstanding", func() bool { return esme.outstanding() == n && srv.Counters().Held == 0 })
	esme.release()
}

// attempts is an ESME that refuses (or ignores) every receipt and records when each
// receipted message id was sent to it.
type attempts struct {
	mu     sync.Mutex
	at     map[string][]time.Time
	status smpp.CommandStatus // 0: never answer
}

func (a *attempts) handler() smpp.Handler {
	return smpp.HandlerFunc(func(ctx context.Context, r *smpp.Request) {
		p, ok := r.PDU.(*smpp.DeliverSM)
		if !ok {
			_ = r.Respond(smpp.ESME_RINVCMDID, nil)
			return
		}
		id, _ := p.TLVs.CStringLenient(smpp.TagReceiptedMessageID)
		a.mu.Lock()
		a.at[id] = append(a.at[id], time.Now())
		a.mu.Unlock()
		if a.status == smpp.ESME_ROK {
			r.Detach() // and never answer
			return
		}
		_ = r.Respond(a.status, nil)
	})
}

func TestRefusedReceiptRetries(t *testing.T) {
	const n = 5
	const delay = 30 * time.Millisecond
	two, zero := 2, 0
	for _, tc := range []struct {
		name        string
		retries     *int
		maxAttempts int                // Options.MaxAttempts; 0: default
		status      smpp.CommandStatus // the ESME's answer; 0: none (times out)
		want        int                // attempts per receipt
	}{
		{name: "retries=2, permanent error", retries: &two, status: smpp.ESME_RX_P_APPN, want: 3},
		{name: "retries=2, temporary error", retries: &two, status: smpp.ESME_RX_T_APPN, want: 3},
		{name: "retries=2, throttled", retries: &two, status: smpp.ESME_RTHROTTLED, want: 3},
		{name: "retries=0 drops at once", retries: &zero, status: smpp.ESME_RX_T_APPN, want: 1},
		{name: "retries=2, no answer", retries: &two, want: 3},
		{name: "default policy, permanent error", status: smpp.ESME_RX_P_APPN, want: 1},
		{name: "default policy, temporary error", maxAttempts: 4, status: smpp.ESME_RX_T_APPN, want: 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := receiptsOpts(smsc.Receipts{Retries: tc.retries, RetryDelay: delay, ResponseTimeout: 100 * time.Millisecond})
			opts.MaxAttempts = tc.maxAttempts
			srv := smsctest.Start(t, opts)
			esme := &attempts{at: map[string][]time.Time{}, status: tc.status}
			bind(t, srv, nil, withMode(smpp.BindReceiver), withOpts(func(o *smpp.Options) { o.Handler = esme.handler() }))
			ids := submitN(t, bind(t, srv, nil, withMode(smpp.BindTransmitter)), n, true)
			waitFor(t, "every receipt given up", func() bool { return srv.Counters().ReceiptsGivenUp == n })

			c := srv.Counters()
			refused, timeouts := uint64(n*tc.want), uint64(0)
			if tc.status == smpp.ESME_ROK {
				refused, timeouts = 0, refused
			}
			if c.ReceiptsRefused != refused || c.ReceiptTimeouts != timeouts || c.ReceiptRetries != uint64(n*(tc.want-1)) ||
				c.DeliveriesFailed != n || c.ReceiptsSent != 0 {
				t.Errorf("counters refused %d timeouts %d retries %d failed %d sent %d; want %d, %d, %d, %d, 0",
					c.ReceiptsRefused, c.ReceiptTimeouts, c.ReceiptRetries, c.DeliveriesFailed, c.ReceiptsSent,
					refused, timeouts, n*(tc.want-1), n)
			}
			esme.mu.Lock()
			defer esme.mu.Unlock()
			if len(esme.at) != n {
				t.Errorf("receipts for %d messages, want %d", len(esme.at), n)
			}
			for _, id := range ids {
				at := esme.at[id]
				if len(at) != tc.want {
					t.Errorf("message %s: %d attempts, want %d", id, len(at), tc.want)
				}
				// Arrival times at the ESME: the first of two may be delayed on its way
				// more than the second, so the gap seen here can be a little short of the
				// delay the simulator waited after the refusal.
				for i := 1; i < len(at); i++ {
					if gap := at[i].Sub(at[i-1]); gap < delay*9/10 {
						t.Errorf("message %s: attempt %d came %s after the last, want at least the retry delay %s", id, i+1, gap, delay)
					}
				}
				if m, _ := srv.Message(id); m.Receipt != "failed" {
					t.Errorf("message %s receipt state %q, want failed", id, m.Receipt)
				}
			}
		})
	}
}

func TestFlood(t *testing.T) {
	srv := smsctest.Start(t, smsc.Options{})
	a, b := newInbox(), newInbox()
	bind(t, srv, a, withMode(smpp.BindReceiver))
	bind(t, srv, b, withMode(smpp.BindReceiver))
	const k = 20
	ids := submitN(t, bind(t, srv, nil, withMode(smpp.BindTransmitter)), k, false) // no receipts of their own
	known := map[string]bool{}
	for _, id := range ids {
		known[id] = true
	}

	start := time.Now()
	run, err := srv.Flood(smsc.FloodOptions{Rate: 2000, Duration: 250 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	const total = 500 // 2000/s × 250ms
	if st := run.Status(); st.Receipts != total || st.Messages != k || st.SystemID != smsc.DefaultSystemID || st.Stat != "DELIVRD" {
		t.Errorf("status %+v", st)
	}
	select {
	case <-run.Done():
	case <-time.After(waitLong):
		t.Fatal("flood never finished")
	}
	if el := time.Since(start); el < 240*time.Millisecond {
		t.Errorf("flood of 250ms done after %s: not paced", el)
	}
	waitFor(t, "every flood receipt acknowledged", func() bool { return srv.Counters().FloodSent == total })
	c := srv.Counters()
	if c.FloodQueued != total || c.ReceiptsSent != total || c.ReceiptsScheduled != 0 {
		t.Errorf("counters %+v", c)
	}
	if st := run.Status(); st.Queued != total || st.Running {
		t.Errorf("status after the flood %+v", st)
	}
	if a.len()+b.len() != total || a.len() < total/4 || b.len() < total/4 {
		t.Errorf("receipts split %d/%d over two receivers, want %d spread over both", a.len(), b.len(), total)
	}
	perID := map[string]int{}
	for _, in := range []*inbox{a, b} {
		for _, p := range in.list() {
			r, err := smpp.ParseReceipt(p, nil)
			if err != nil || !known[r.MessageID] || r.Stat != "DELIVRD" || r.State != smpp.StateDelivered {
				t.Fatalf("flood receipt %+v (%v) for an id the simulator never gave", r, err)
			}
			perID[r.MessageID]++
		}
	}
	for _, id := range ids {
		if perID[id] != total/k {
			t.Errorf("message %s got %d receipts, want %d (the flood cycles over every id)", id, perID[id], total/k)
		}
	}
	if m, _ := srv.Message(ids[0]); m.Receipt != "none" {
		t.Errorf("a replay changed the stored message's receipt state to %q", m.Receipt)
	}

	// Fewer receipts than messages: the most recent ones, with the stat asked for.
	seen := a.len() + b.len()
	run, err = srv.Flood(smsc.FloodOptions{Rate: 40, Duration: 250 * time.Millisecond, Stat: "undeliv"})
	if err != nil {
		t.Fatal(err)
	}
	<-run.Done()
	waitFor(t, "ten more", func() bool { return a.len()+b.len() == seen+10 })
	got := map[string]bool{}
	for _, p := range append(a.list(), b.list()...) {
		if r, _ := smpp.ParseReceipt(p, nil); r.Stat == "UNDELIV" && r.ErrCode == smsc.DefaultErr {
			got[r.MessageID] = true
		}
	}
	for i, id := range ids {
		if recent := i >= k-10; got[id] != recent {
			t.Errorf("message %d (%s): replayed %v, want %v (the 10 most recent)", i, id, got[id], recent)
		}
	}
}

func TestFloodHonoursRetries(t *testing.T) {
	one := 1
	srv := smsctest.Start(t, receiptsOpts(smsc.Receipts{Retries: &one, RetryDelay: 5 * time.Millisecond}))
	in := newInbox()
	in.answer = func(*smpp.DeliverSM, int) smpp.CommandStatus { return smpp.ESME_RX_P_APPN }
	s := bind(t, srv, in)
	submitN(t, s, 3, false)
	if _, err := srv.Flood(smsc.FloodOptions{Rate: 1000, Duration: 20 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "given up", func() bool { return srv.Counters().ReceiptsGivenUp == 20 })
	if c := srv.Counters(); c.ReceiptsRefused != 40 || c.ReceiptRetries != 20 || c.FloodQueued != 20 || c.FloodSent != 0 {
		t.Errorf("counters %+v", c)
	}
}

func TestFloodErrors(t *testing.T) {
	srv := smsctest.Start(t, smsc.Options{Accounts: []smsc.Account{{SystemID: "acme"}, {SystemID: "idle"}}})
	ts := httptest.NewServer(srv.HTTPHandler())
	defer ts.Close()
	a := api{t, ts}
	submitN(t, bind(t, srv, nil, withCreds("acme", "")), 2, false)

	for _, tc := range []struct {
		name string
		o    smsc.FloodOptions
		body string
		code int
		want string // in the error
		is   error
	}{
		{name: "unknown account", o: smsc.FloodOptions{SystemID: "ghost", Rate: 10, Duration: time.Second},
			body: `{"system_id":"ghost","rate":10,"duration":"1s"}`, code: 404, want: `unknown account: "ghost"`, is: smsc.ErrUnknownAccount},
		{name: "no account named, several configured", o: smsc.FloodOptions{Rate: 10, Duration: time.Second},
			body: `{"rate":10,"duration":"1s"}`, code: 404, want: "unknown account", is: smsc.ErrUnknownAccount},
		{name: "rate 0", o: smsc.FloodOptions{SystemID: "acme", Duration: time.Second},
			body: `{"system_id":"acme","duration":"1s"}`, code: 400, want: "flood rate 0"},
		{name: "negative rate", o: smsc.FloodOptions{SystemID: "acme", Rate: -5, Duration: time.Second},
			body: `{"system_id":"acme","rate":-5,"duration":"1s"}`, code: 400, want: "flood rate -5"},
		{name: "no duration", o: smsc.FloodOptions{SystemID: "acme", Rate: 10},
			body: `{"system_id":"acme","rate":10}`, code: 400, want: "flood duration"},
		{name: "bad stat", o: smsc.FloodOptions{SystemID: "acme", Rate: 10, Duration: time.Second, Stat: "LOST"},
			body: `{"system_id":"acme","rate":10,"duration":"1s","stat":"LOST"}`, code: 400, want: `flood stat "LOST"`},
		{name: "nothing accepted yet", o: smsc.FloodOptions{SystemID: "idle", Rate: 10, Duration: time.Second},
			body: `{"system_id":"idle","rate":10,"duration":"1s"}`, code: 409, want: "no accepted messages", is: smsc.ErrNoMessages},
		{name: "bad duration", body: `{"system_id":"acme","rate":10,"duration":"soon"}`, code: 400, want: "duration"},
		{name: "not JSON", body: `rate=10`, code: 400, want: "invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.o != (smsc.FloodOptions{}) {
				_, err := srv.Flood(tc.o)
				if err == nil || !strings.Contains(err.Error(), tc.want) || tc.is != nil && !errors.Is(err, tc.is) {
					t.Errorf("Flood: %v, want an error with %q", err, tc.want)
				}
			}
			resp, err := http.Post(ts.URL+"/api/flood", "application/json", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var e struct {
				Error string `json:"error"`
			}
			if resp.StatusCode != tc.code || json.Unmarshal(body, &e) != nil || !strings.Contains(e.Error, tc.want) ||
				resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("POST /api/flood %s: %d %s, want %d with a JSON error naming %q", tc.body, resp.StatusCode, body, tc.code, tc.want)
			}
		})
	}

	// A good one runs until stopped.
	var st smsc.FloodStatus
	a.do("POST", "/api/flood", `{"system_id":"acme","rate":1,"duration":"1h","stat":"expired"}`, 202, &st)
	if st.SystemID != "acme" || st.Receipts != 3600 || st.Messages != 2 || st.Duration != "1h0m0s" || st.Stat != "EXPIRED" || !st.Running {
		t.Errorf("flood status %+v", st)
	}
	var running []smsc.FloodStatus
	a.do("GET", "/api/flood", "", 200, &running)
	if len(running) != 1 || running[0].SystemID != "acme" {
		t.Errorf("running floods %+v", running)
	}
	a.do("DELETE", "/api/flood?system_id=ghost", "", 404, nil)
	var stopped map[string]int
	a.do("DELETE", "/api/flood?system_id=acme", "", 200, &stopped)
	if stopped["stopped"] != 1 || len(srv.Floods()) != 0 {
		t.Errorf("stopped %v, still running %+v", stopped, srv.Floods())
	}
}

func TestDeliveryPolicySettings(t *testing.T) {
	srv := smsctest.Start(t, smsc.Options{})
	ts := httptest.NewServer(srv.HTTPHandler())
	defer ts.Close()
	a := api{t, ts}
	var acc smsc.Account
	a.do("PUT", "/api/accounts/smppd/outcomes", `{"window":-1,"retries":0,"retry_delay":"250ms","response_timeout":"2s"}`, 200, &acc)
	r := acc.Receipts
	if r.Window != smsc.NoWindow || r.Retries == nil || *r.Retries != 0 || r.RetryDelay != 250*time.Millisecond || r.ResponseTimeout != 2*time.Second {
		t.Errorf("receipts now %+v", r)
	}
	for _, bad := range []struct{ body, want string }{
		{`{"window":-2}`, "receipts.window -2"},
		{`{"window":100001}`, "receipts.window 100001"},
		{`{"retries":-1}`, "receipts.retries -1"},
		{`{"retry_delay":"-1s"}`, "negative retry_delay"},
	} {
		req, _ := http.NewRequest("PUT", ts.URL+"/api/accounts/smppd/outcomes", strings.NewReader(bad.body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(body), bad.want) {
			t.Errorf("PUT outcomes %s: %d %s, want 400 naming %q", bad.body, resp.StatusCode, body, bad.want)
		}
	}
	if _, err := smsc.ParseScenario([]byte("accounts:\n  - system_id: a\n    receipts: {window: -1, retries: 0, retry_delay: 1s}\n")); err != nil {
		t.Errorf("scenario with the delivery policy: %v", err)
	}
	if _, err := smsc.ParseScenario([]byte("accounts:\n  - system_id: a\n    receipts: {retries: -3}\n")); err == nil ||
		!strings.Contains(err.Error(), "accounts[0].receipts.retries") {
		t.Errorf("negative retries in a scenario: %v", err)
	}
	if _, err := smsc.NewServer(smsc.Options{Window: smsc.MaxWindow + 1}); err == nil {
		t.Error("a window beyond MaxWindow was accepted")
	}

	// The counters and metrics carry the new names.
	in := newInbox()
	in.answer = func(*smpp.DeliverSM, int) smpp.CommandStatus { return smpp.ESME_RX_T_APPN }
	s := bind(t, srv, in)
	submit(t, s, sm("919800000001", "x"))
	waitFor(t, "given up", func() bool { return srv.Counters().ReceiptsGivenUp == 1 })
	resp, err := http.Get(ts.URL + "/api/counters")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`"receipts_refused": 1`, `"receipt_retries": 0`, `"receipts_given_up": 1`, `"receipt_timeouts": 0`, `"flood_queued": 0`, `"flood_sent": 0`, `"deliveries_failed": 1`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/api/counters lacks %s: %s", want, body)
		}
	}
	// Stats carries them for the metrics cmd/smscsim exports (its metrics_test checks the
	// series names).
	if st := srv.Stats(); len(st.Accounts) != 1 || st.Accounts[0].SystemID != "smppd" || st.Accounts[0].ReceiptsRefused != 1 ||
		st.Accounts[0].ReceiptsGivenUp != 1 || st.Accounts[0].ReceiptRetries != 0 || st.Accounts[0].FloodSent != 0 {
		t.Errorf("stats %+v", st)
	}
}
