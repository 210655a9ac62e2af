package dlr_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/smppd/smppd/dlr"
	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/smpp/smsc"
	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/memstore"
	"github.com/smppd/smppd/store/storetest"
)

// testStore is everything the tests use: dispatch's store plus dlr's.
type testStore interface {
	store.Store
	dlr.Store
}

var newStores = map[string]func(t testing.TB) testStore{
	"memory": func(t testing.TB) testStore {
		s := memstore.New()
		t.Cleanup(func() { s.Close() })
		return s
	},
	"redis": func(t testing.TB) testStore { return storetest.OpenRedis(t, storetest.UniquePrefix(t)) },
}

func forEachStore(t *testing.T, f func(t *testing.T, st testStore)) {
	names := make([]string, 0, len(newStores))
	for n := range newStores {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t.Run(n, func(t *testing.T) { f(t, newStores[n](t)) })
	}
}

func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	if !smsc.WaitFor(d, cond) {
		t.Fatalf("timed out after %s waiting for %s", d, what)
	}
}

// receipt builds a deliver_sm receipt for carrier message id `id` with stat and err, the
// text and the TLVs agreeing (as the simulator sends them).
func receipt(id, stat, errCode string) *smpp.DeliverSM {
	state, _ := smpp.ParseStat(stat)
	text := "id:" + id + " sub:001 dlvrd:001 submit date:2503011030 done date:2503011031 stat:" + stat + " err:" + errCode + " text:Your OTP"
	return &smpp.DeliverSM{
		Source: smpp.Address{TON: 1, NPI: 1, Addr: "919812345678"}, Dest: smpp.Address{Addr: "ACMEIN"},
		ESMClass: smpp.ESMClassDeliveryRcpt, ShortMessage: []byte(text),
		TLVs: smpp.TLVs{smpp.CStringTLV(smpp.TagReceiptedMessageID, id), smpp.Uint8TLV(smpp.TagMessageState, uint8(state))},
	}
}

// textReceipt is a receipt with the id in the text only.
func textReceipt(id, stat, errCode string) *smpp.DeliverSM {
	p := receipt(id, stat, errCode)
	p.TLVs = nil
	return p
}

// submitted stores a record for message id as dispatch leaves it after submit_sm_resp:
// SUBMITTED, its carrier ids indexed; then it runs the OnSubmitted hook.
func submitted(t testing.TB, st testStore, c *dlr.Correlator, carrier, id string, meta map[string]string, carrierIDs ...string) {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	r := &store.Record{ID: id, Account: "acme", Carrier: carrier, From: "ACMEIN", To: "919812345678",
		Status: store.StatusSubmitted, Parts: len(carrierIDs), CarrierIDs: carrierIDs, AcceptedAt: now, SentAt: now, StatusAt: now, Meta: meta}
	if err := st.PutRecord(ctx, r, 0); err != nil {
		t.Fatal(err)
	}
	for i, cid := range carrierIDs {
		if err := st.IndexCarrierID(ctx, carrier, cid, id, i, 0); err != nil {
			t.Fatal(err)
		}
	}
	if c != nil {
		if err := c.OnSubmitted(ctx, carrier, &store.Message{ID: id, Carrier: carrier}, carrierIDs); err != nil {
			t.Fatal(err)
		}
	}
}

func record(t testing.TB, st testStore, id string) *store.Record {
	t.Helper()
	r, err := st.GetRecord(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// receiver is a webhook endpoint that records every request by idempotency key.
type receiver struct {
	mu       sync.Mutex
	byKey    map[string]int
	bodies   map[string]string
	requests int
	handler  func(w http.ResponseWriter, r *http.Request, n int, body []byte) bool // false: fail it
	srv      *httptest.Server
}

func newReceiver(t testing.TB, handler func(w http.ResponseWriter, r *http.Request, n int, body []byte) bool) *receiver {
	rv := &receiver{byKey: map[string]int{}, bodies: map[string]string{}, handler: handler}
	rv.srv = httptest.NewServer(http.HandlerFunc(rv.serve))
	t.Cleanup(rv.srv.Close)
	return rv
}

func (rv *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rv.mu.Lock()
	rv.requests++
	count := rv.requests
	rv.mu.Unlock()
	if rv.handler != nil && !rv.handler(w, r, count, body) {
		return
	}
	key := r.Header.Get(dlr.IdempotencyHeader)
	rv.mu.Lock()
	rv.byKey[key]++
	rv.bodies[key] = string(body)
	rv.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (rv *receiver) delivered() int {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return len(rv.byKey)
}

func (rv *receiver) body(key string) string {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return rv.bodies[key]
}

// freePort returns a TCP port nothing listens on (for a receiver that is down).
func freePort(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func newCorrelator(t testing.TB, o dlr.CorrelatorOptions) *dlr.Correlator {
	t.Helper()
	c, err := dlr.NewCorrelator(o)
	if err != nil {
		t.Fatal(err)
	}
	c.Start()
	t.Cleanup(func() { _ = c.Shutdown(context.Background()) })
	return c
}

func newSender(t testing.TB, o dlr.SenderOptions) *dlr.Sender {
	t.Helper()
	if o.MinBackoff == 0 {
		o.MinBackoff, o.MaxBackoff = 20*time.Millisecond, 200*time.Millisecond
	}
	if o.PollEvery == 0 {
		o.PollEvery = 20 * time.Millisecond
	}
	o.AllowPrivate = true
	s, err := dlr.NewSender(o)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return s
}
