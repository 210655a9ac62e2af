package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smppd/smppd/smpp"
)

// What the smpp scenario's client sends: the R1 text (template "payment received" of
// bench_registry.yaml) with the DLT parameters a real aggregator puts on each submit_sm, as
// the TM-AF benchTMID that ACME's chains name.
const (
	benchPEID       = "1101557290000055412"
	benchTemplateID = "1107161234567890004"
	benchTMID       = "1102000000000000001"
)

// smppLoad drives the smpp scenario: an aggregator's SMPP client on transceiver binds to
// smppd's SMPP front, sending submit_sm with registered_delivery and DLT TLVs, and taking
// the receipts (deliver_sm) smppd sends back on the same binds. A message is end to end
// when the receipt for the id its submit_sm_resp carried has come back; the tracker counts
// that receipt where the HTTP scenarios count the webhook.
type smppLoad struct {
	*load // counters, errors, destinations; reply holds submit_sm → submit_sm_resp
	sess  []*smpp.Session
	ids   *receiptMatcher
	// base is the run's context, without the sending deadline: what submits wait with.
	base context.Context
	// receipts counts every receipt deliver_sm, unreadable ones included; badReceipts those
	// whose id could not be read.
	receipts, badReceipts atomic.Uint64
}

// dialSMPPLoad binds `binds` transceivers as fa to addr, each with a window of perBind
// outstanding submits.
func dialSMPPLoad(ctx context.Context, addr string, fa *frontAccount, binds, perBind int, tr *tracker) (*smppLoad, error) {
	s := &smppLoad{load: &load{scenario: "smpp", track: tr}, ids: newReceiptMatcher(tr)}
	opts := smpp.Options{
		WindowSize: perBind,
		// Receipts are answered at once (a map insert), so the default workers keep up; the
		// inbound window matches the front's receipt window so it never waits on us.
		InboundWindow:   max(256, perBind),
		ResponseTimeout: 30 * time.Second,
		Handler:         smpp.DeliverHandlerFunc(s.deliver),
	}
	for range binds {
		sess, err := smpp.Dial(ctx, addr, smpp.Bind{Mode: smpp.BindTransceiver, SystemID: fa.systemID, Password: fa.password}, opts)
		if err != nil {
			s.close()
			return nil, fmt.Errorf("bind to smppd's SMPP front %s: %w", addr, err)
		}
		s.sess = append(s.sess, sess)
	}
	return s, nil
}

// deliver takes a deliver_sm: a receipt is matched by its id to the message it is for.
func (s *smppLoad) deliver(_ context.Context, _ *smpp.Session, p *smpp.DeliverSM) smpp.CommandStatus {
	now := time.Now()
	if !smpp.IsReceipt(p) {
		return smpp.ESME_ROK // MO: none is expected in this scenario
	}
	s.receipts.Add(1)
	id, ok := receiptID(p)
	if !ok {
		s.badReceipts.Add(1)
		s.noteErr(fmt.Sprintf("receipt without a readable id: %q", p.ShortMessage))
		return smpp.ESME_ROK
	}
	s.ids.receipt(id, now)
	return smpp.ESME_ROK
}

// receiptID is the id a receipt is about: receipted_message_id, else the Appendix B
// text's id:.
func receiptID(p *smpp.DeliverSM) (string, bool) {
	r, err := smpp.ParseReceipt(p, nil)
	if err != nil || r.MessageID == "" {
		return "", false
	}
	return r.MessageID, true
}

// one sends one submit_sm on worker's bind and records its outcome.
func (s *smppLoad) one(ctx context.Context, worker int) {
	sess := s.sess[worker%len(s.sess)]
	d := s.dest()
	p := &smpp.SubmitSM{
		Source:             smpp.Address{TON: 5, NPI: 0, Addr: benchSender},
		Dest:               smpp.Address{TON: 1, NPI: 1, Addr: d},
		RegisteredDelivery: smpp.RegisteredDeliveryAll,
		ShortMessage:       []byte(fmt.Sprintf(benchText, 100+len(d), s.next.Load())),
		TLVs: smpp.TLVs{
			smpp.StringTLV(smpp.TagDLTPEID, benchPEID),
			smpp.StringTLV(smpp.TagDLTTemplate, benchTemplateID),
		},
	}
	s.sent.Add(1)
	start := time.Now()
	// Not ctx: its deadline ends the sending, and a submit_sm already sent must still get
	// its id, or its receipt could not be matched.
	resp, err := sess.Submit(s.base, p)
	if err != nil {
		if s.base.Err() == nil {
			s.failed.Add(1)
			s.noteErr(err.Error())
		}
		return
	}
	now := time.Now()
	s.reply.add(now.Sub(start))
	if resp == nil || resp.MessageID == "" {
		s.failed.Add(1)
		s.noteErr("submit_sm_resp without a message id")
		return
	}
	s.ok.Add(1)
	s.messages.Add(1)
	dest := normalise(d)
	s.track.accept([]string{dest}, now)
	s.ids.submitted(resp.MessageID, dest)
}

// run drives the load for d with concurrency workers spread over the binds.
func (s *smppLoad) run(ctx context.Context, concurrency int, rate float64, d time.Duration) time.Duration {
	s.base = ctx
	return drive(ctx, concurrency, rate, d, s.one)
}

// close unbinds every session (receipts still in flight are answered first).
func (s *smppLoad) close() {
	var wg sync.WaitGroup
	for _, sess := range s.sess {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := sess.Unbind(ctx); err != nil {
				sess.Abort()
			}
		}()
	}
	wg.Wait()
}

// receiptMatcher maps smppd's message ids (from submit_sm_resp) to the destinations the
// tracker knows messages by, and reports each receipt to the tracker as the message's last
// stage. A receipt may come before its submit_sm_resp has been read (the response and the
// receipt travel on different goroutines): it waits until the id is known.
type receiptMatcher struct {
	tr    *tracker
	mu    sync.Mutex
	dests map[string]string       // message id → destination (normalised)
	early map[string]earlyReceipt // receipts for ids not yet known
}

// earlyReceipt is when the first receipt for an id not yet known came, and how many came.
type earlyReceipt struct {
	at time.Time
	n  int
}

func newReceiptMatcher(tr *tracker) *receiptMatcher {
	return &receiptMatcher{tr: tr, dests: map[string]string{}, early: map[string]earlyReceipt{}}
}

// submitted records the id smppd gave the message to dest.
func (m *receiptMatcher) submitted(id, dest string) {
	m.mu.Lock()
	m.dests[id] = dest
	e := m.early[id]
	delete(m.early, id)
	m.mu.Unlock()
	for range e.n {
		m.tr.webhook(dest, "receipt|"+id, e.at)
	}
}

// receipt records a receipt for id, received at at. A second receipt for the same id is a
// duplicate (tracker.duplicateHooks).
func (m *receiptMatcher) receipt(id string, at time.Time) {
	m.mu.Lock()
	dest, ok := m.dests[id]
	if !ok {
		e := m.early[id]
		if e.n == 0 {
			e.at = at
		}
		e.n++
		m.early[id] = e
	}
	m.mu.Unlock()
	if ok {
		m.tr.webhook(dest, "receipt|"+id, at)
	}
}

// unknown counts receipts whose id no submit_sm_resp gave (so far).
func (m *receiptMatcher) unknown() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.early)
}
