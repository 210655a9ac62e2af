package dlr_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smppd/smppd/dlr"
	"github.com/smppd/smppd/internal/wait"
	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/store"
)

// testStore is everything the tests use: dispatch's store plus dlr's.
type testStore interface {
	store.Store
	dlr.Store
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

// logged is p as the handler appends it to the receipt log.
func logged(t testing.TB, carrier string, p *smpp.DeliverSM) *store.LoggedPDU {
	t.Helper()
	body, err := smpp.EncodePDU(1, smpp.ESME_ROK, p)
	if err != nil {
		t.Fatal(err)
	}
	return &store.LoggedPDU{Carrier: carrier, Bind: "test", Body: body, At: time.Now()}
}

// submitted does to the store what dispatch does for message id once its parts were
// accepted under carrierIDs: the record is accepted (ACCEPTED, no carrier ids), then
// settled as SUBMITTED together with the index entries the correlator names
// (dlr.Correlator.IndexEntries; the raw ids when c is nil), in one Settle.
func submitted(t testing.TB, st testStore, c *dlr.Correlator, carrier, id string, meta map[string]string, carrierIDs ...string) {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	acc := &store.Record{ID: id, Account: "acme", Carrier: carrier, From: "ACMEIN", To: "919812345678",
		Status: store.StatusAccepted, AcceptedAt: now, StatusAt: now, Meta: meta}
	if err := st.Accept(ctx, []*store.Record{acc}, 0); err != nil {
		t.Fatal(err)
	}
	rec := *acc
	rec.Status, rec.Parts, rec.CarrierIDs, rec.SentAt, rec.StatusAt = store.StatusSubmitted, len(carrierIDs), carrierIDs, now, now
	set := store.Settlement{Carrier: carrier, Record: &rec}
	for i, cid := range carrierIDs {
		if c != nil {
			set.Index = append(set.Index, c.IndexEntries(carrier, cid, id, i)...)
		} else {
			set.Index = append(set.Index, store.IndexEntry{IndexKey: store.IndexKey{Carrier: carrier, ID: cid}, MsgID: id, Part: i})
		}
	}
	if err := st.Settle(ctx, set); err != nil {
		t.Fatal(err)
	}
}

func record(t testing.TB, st testStore, id string) *store.Record {
	t.Helper()
	r, err := st.GetRecord(context.Background(), id)
	if err != nil {
		t.Fatalf("record %s: %v", id, err)
	}
	return r
}

// statusIs reports whether message id's record has status s (false while it has no record).
func statusIs(st testStore, id string, s store.Status) bool {
	r, err := st.GetRecord(context.Background(), id)
	return err == nil && r.Status == s
}

func logLen(t testing.TB, st dlr.Store) int64 {
	t.Helper()
	n, err := st.ReceiptLogLen(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// events records a correlator's OnReceipt events: one per receipt applied, reported once
// its effect is stored.
type events struct {
	mu  sync.Mutex
	all []dlr.ReceiptEvent
}

func (e *events) record(ev dlr.ReceiptEvent) {
	e.mu.Lock()
	e.all = append(e.all, ev)
	e.mu.Unlock()
}

func (e *events) len() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.all)
}

func (e *events) count(outcome string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.all {
		if ev.Outcome == outcome {
			n++
		}
	}
	return n
}

func (e *events) list() []dlr.ReceiptEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]dlr.ReceiptEvent(nil), e.all...)
}

// corr is a correlator under test with what the tests drive it by: its events, and one
// SMPP link per carrier over loopback TCP whose carrier side sends deliver_sm to the
// correlator's Handler.
type corr struct {
	*dlr.Correlator
	t     testing.TB
	ev    *events
	mu    sync.Mutex
	links map[string]*link
	// session changes the ESME side's session options of links dialled later.
	session func(*smpp.Options)
}

// newCorr returns a started correlator on o.Store. RetryEvery defaults to 50ms here.
func newCorr(t testing.TB, o dlr.CorrelatorOptions) *corr {
	t.Helper()
	c := newIdleCorr(t, o)
	c.Start()
	return c
}

// newIdleCorr is newCorr without its applier: receipts are logged and acknowledged, not
// applied, until Start.
func newIdleCorr(t testing.TB, o dlr.CorrelatorOptions) *corr {
	t.Helper()
	ev := &events{}
	if o.OnReceipt == nil {
		o.OnReceipt = ev.record
	}
	if o.RetryEvery == 0 {
		o.RetryEvery = 50 * time.Millisecond
	}
	dc, err := dlr.NewCorrelator(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := dc.Shutdown(ctx); err != nil {
			t.Errorf("correlator shutdown: %v", err)
		}
	})
	return &corr{Correlator: dc, t: t, ev: ev, links: map[string]*link{}}
}

// link returns the correlator's link for carrier, dialling it the first time.
func (c *corr) link(carrier string) *link {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.links[carrier]
	if l == nil {
		l = dialLink(c.t, c.Handler(carrier), c.session)
		c.links[carrier] = l
	}
	return l
}

// send delivers p on carrier's link and returns the correlator's answer.
func (c *corr) send(carrier string, p *smpp.DeliverSM) smpp.CommandStatus {
	c.t.Helper()
	l := c.link(carrier)
	st, err := l.deliver(p)
	if err != nil {
		c.t.Fatalf("deliver_sm on %s: %v", carrier, err)
	}
	return st
}

// mustSend delivers p and fails unless it was acknowledged.
func (c *corr) mustSend(carrier string, p *smpp.DeliverSM) {
	c.t.Helper()
	if st := c.send(carrier, p); st != smpp.ESME_ROK {
		c.t.Fatalf("deliver_sm on %s answered %v", carrier, st)
	}
}

// waitApplied waits until n receipts have been applied (their effect stored).
func (c *corr) waitApplied(n int) {
	c.t.Helper()
	wait.For(c.t, 20*time.Second, fmt.Sprintf("%d receipts applied", n), func() bool { return c.ev.len() >= n })
	if got := c.ev.len(); got != n {
		c.t.Fatalf("%d receipts applied, want %d: %+v", got, n, c.ev.list())
	}
}

// link is one bind between a carrier and smppd, over loopback TCP: the carrier's side is
// an smpp.Server session that sends deliver_sm; ours serves them with a handler.
type link struct {
	smsc *smpp.Session
	esme *smpp.Session
}

// dialLink starts a one-bind SMSC and binds to it as a transceiver whose deliver_sm go to h.
func dialLink(t testing.TB, h smpp.Handler, mod func(*smpp.Options)) *link {
	t.Helper()
	bound := make(chan *smpp.Session, 1)
	srv := smpp.NewServer(smpp.ServerOptions{
		Session: smpp.Options{WindowSize: 1000, ResponseTimeout: 30 * time.Second, EnquireLinkInterval: -1},
		Authenticator: smpp.AuthenticatorFunc(func(context.Context, *smpp.Session, *smpp.Bind) smpp.CommandStatus {
			return smpp.ESME_ROK
		}),
		OnBound: func(s *smpp.Session) {
			select {
			case bound <- s:
			default:
			}
		},
	})
	ln, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	o := smpp.Options{EnquireLinkInterval: -1, Handler: h}
	if mod != nil {
		mod(&o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	esme, err := smpp.Dial(ctx, ln.Addr().String(), smpp.Bind{Mode: smpp.BindTransceiver, SystemID: "smppd", Password: "password"}, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = esme.Close(ctx)
	})
	select {
	case s := <-bound:
		return &link{smsc: s, esme: esme}
	case <-ctx.Done():
		t.Fatal("the SMSC side never saw the bind")
	}
	return nil
}

// deliver sends p from the carrier's side and returns smppd's answer; the error is a
// transport failure (no answer at all).
func (l *link) deliver(p *smpp.DeliverSM) (smpp.CommandStatus, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := l.smsc.Deliver(ctx, p)
	var se *smpp.StatusError
	switch {
	case err == nil:
		return smpp.ESME_ROK, nil
	case errors.As(err, &se):
		return se.Status, nil
	}
	return 0, err
}

// faultyStore wraps a store to fail or hold the receipt log's appends.
type faultyStore struct {
	testStore
	failAppend atomic.Bool
	gate       chan struct{} // non-nil: appends wait until it is closed
	appends    atomic.Int64  // appends attempted
}

var errInjected = errors.New("injected store failure")

func (f *faultyStore) AppendReceipts(ctx context.Context, ps ...*store.LoggedPDU) error {
	f.appends.Add(1)
	if f.failAppend.Load() {
		return errInjected
	}
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return f.testStore.AppendReceipts(ctx, ps...)
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

func (rv *receiver) requestCount() int {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return rv.requests
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
