package smpp

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smppd/smppd/internal/wait"
)

// The drain after an unbind (SMPP 3.4 §4.2): the peer's unbind is answered at once, nothing
// new is sent, and what is in flight still completes.

// submitN starts n submits whose short_message is "m<i>" and returns their results, indexed
// by i, on a channel each.
func submitN(s *Session, n int) []chan submitResult {
	out := make([]chan submitResult, n)
	for i := range n {
		out[i] = make(chan submitResult, 1)
		go func() {
			p := testSubmit()
			p.ShortMessage = []byte(fmt.Sprintf("m%d", i))
			r, err := s.Submit(context.Background(), p)
			out[i] <- submitResult{r, err}
		}()
	}
	return out
}

type submitResult struct {
	resp *SubmitSMResp
	err  error
}

// readSubmits reads n submit_sm from the raw SMSC and returns them by sequence number.
func (p *rawPeer) readSubmits(n int) map[uint32]*SubmitSM {
	p.t.Helper()
	got := map[uint32]*SubmitSM{}
	for len(got) < n {
		h, pdu := p.read()
		if h.ID != SubmitSMID {
			p.t.Fatalf("got %s, want submit_sm", h.ID)
		}
		got[h.Sequence] = pdu.(*SubmitSM)
	}
	return got
}

// unbind sends unbind and expects unbind_resp as the very next frame.
func (p *rawPeer) unbind(seq uint32) {
	p.t.Helper()
	p.send(seq, ESME_ROK, &Unbind{})
	if h, _ := p.read(); h.ID != UnbindRespID || h.Sequence != seq || h.Status != ESME_ROK {
		p.t.Fatalf("got %+v, want unbind_resp seq %d", h, seq)
	}
}

// expectEOF expects the other end to close the connection without sending anything more.
func (p *rawPeer) expectEOF() {
	p.t.Helper()
	_ = p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	f, err := p.fr.ReadFrame()
	if err == nil {
		h, _ := DecodeHeader(f)
		p.t.Fatalf("got %s seq %d, want the connection closed", h.ID, h.Sequence)
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		p.t.Fatalf("read: %v, want EOF", err)
	}
}

func TestPeerUnbindDrainsTheWindow(t *testing.T) {
	for _, tc := range []struct {
		name             string
		inFlight, answer int
	}{
		{"carrier answers all in flight after unbind", 5, 5},
		{"carrier answers some", 5, 2},
		{"carrier answers none", 3, 0},
		{"nothing in flight", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, peers := rawSMSC(t, true)
			drain := time.Minute // answered in full: only the empty window may end the drain
			if tc.answer < tc.inFlight {
				drain = 100 * time.Millisecond
			}
			s := dialTest(t, addr, BindTransceiver, Options{EnquireLinkInterval: -1, ResponseTimeout: time.Minute, DrainTimeout: drain})
			p := <-peers
			results := submitN(s, tc.inFlight)
			subs := p.readSubmits(tc.inFlight)
			p.unbind(1000)
			if st := s.State(); st != StateUnbinding && tc.inFlight > 0 {
				t.Fatalf("state after unbind_resp = %s, want unbinding", st)
			}
			answered := map[string]bool{}
			for seq, sm := range subs {
				if len(answered) == tc.answer {
					break
				}
				answered[string(sm.ShortMessage)] = true
				p.send(seq, ESME_ROK, &SubmitSMResp{MessageID: "id-" + string(sm.ShortMessage)})
			}
			p.expectEOF() // after the last response (or the drain timeout), and nothing else first

			for i, ch := range results {
				r := <-ch
				text := fmt.Sprintf("m%d", i)
				if answered[text] {
					if r.err != nil || r.resp.MessageID != "id-"+text {
						t.Errorf("%s answered during the drain: resp %+v err %v", text, r.resp, r.err)
					}
					continue
				}
				var ce *ClosedError
				if !errors.As(r.err, &ce) || ce.Reason != ClosePeerUnbind || !ce.InFlight || !OutcomeUnknown(r.err) ||
					!errors.Is(r.err, ErrDrainTimeout) {
					t.Errorf("%s unanswered: err %v, want an in-flight ClosedError after the drain", text, r.err)
				}
			}
			<-s.Done()
			st := s.Stats()
			if s.CloseReason() != ClosePeerUnbind || st.CloseReason != ClosePeerUnbind {
				t.Fatalf("close reason %s (stats %s), want peer_unbind", s.CloseReason(), st.CloseReason)
			}
			unanswered := tc.inFlight - tc.answer
			if st.DrainAnswered != uint64(tc.answer) || st.DrainUnanswered != uint64(unanswered) {
				t.Fatalf("stats drain answered %d unanswered %d, want %d and %d", st.DrainAnswered, st.DrainUnanswered, tc.answer, unanswered)
			}
			if (s.Err() == nil) != (unanswered == 0) {
				t.Fatalf("Err() = %v with %d unanswered", s.Err(), unanswered)
			}
		})
	}
}

func TestSubmitAfterPeerUnbindFailsAsNotSent(t *testing.T) {
	addr, peers := rawSMSC(t, true)
	s := dialTest(t, addr, BindTransmitter, Options{EnquireLinkInterval: -1, WindowSize: 1, DrainTimeout: time.Minute})
	p := <-peers
	first := submitN(s, 1)[0]
	subs := p.readSubmits(1)
	// A second caller waits for the full window.
	waiting := submitN(s, 1)[0]
	wait.For(t, 5*time.Second, "the window full", func() bool { return s.WindowInUse() == 1 })
	p.unbind(7)

	notSent := func(what string, err error) {
		t.Helper()
		var ce *ClosedError
		if !errors.As(err, &ce) || ce.Reason != ClosePeerUnbind || ce.InFlight || OutcomeUnknown(err) ||
			!Retryable(err) || !errors.Is(err, ErrSessionClosed) {
			t.Fatalf("%s: err %v, want a not-sent ClosedError (peer_unbind)", what, err)
		}
	}
	select {
	case r := <-waiting:
		notSent("the caller waiting for window", r.err)
	case <-time.After(5 * time.Second):
		t.Fatal("the caller waiting for window still waits after the unbind")
	}
	start := time.Now()
	_, err := s.Submit(context.Background(), testSubmit())
	notSent("a submit after the unbind", err)
	_, err = s.Send(context.Background(), &EnquireLink{})
	notSent("an enquire_link after the unbind", err)
	if d := time.Since(start); d > time.Second {
		t.Fatalf("refusing took %s", d)
	}

	// The one in flight still completes, and nothing was written after the unbind_resp.
	for seq := range subs {
		p.send(seq, ESME_ROK, &SubmitSMResp{MessageID: "x"})
	}
	p.expectEOF()
	if r := <-first; r.err != nil || r.resp.MessageID != "x" {
		t.Fatalf("in-flight submit: %+v %v", r.resp, r.err)
	}
	<-s.Done()
	if s.CloseReason() != ClosePeerUnbind || s.Err() != nil {
		t.Fatalf("closed %s %v", s.CloseReason(), s.Err())
	}
}

func TestDeliverAndEnquireLinkServedDuringTheDrain(t *testing.T) {
	addr, peers := rawSMSC(t, true)
	got := make(chan string, 1)
	s := dialTest(t, addr, BindTransceiver, Options{EnquireLinkInterval: -1, DrainTimeout: time.Minute,
		Handler: DeliverHandlerFunc(func(ctx context.Context, s *Session, p *DeliverSM) CommandStatus {
			got <- string(p.ShortMessage)
			return ESME_ROK
		})})
	p := <-peers
	first := submitN(s, 1)[0]
	subs := p.readSubmits(1)
	p.unbind(20)

	// The carrier flushes a receipt and tests the link before answering the submit.
	p.send(21, ESME_ROK, &DeliverSM{Source: Address{1, 1, "919812345678"}, Dest: Address{5, 0, "ACMEIN"},
		ESMClass: ESMClassDeliveryRcpt, ShortMessage: []byte("id:1 stat:DELIVRD")})
	if h, _ := p.read(); h.ID != DeliverSMRespID || h.Sequence != 21 || h.Status != ESME_ROK {
		t.Fatalf("deliver_sm during the drain answered %+v", h)
	}
	if text := <-got; text != "id:1 stat:DELIVRD" {
		t.Fatalf("handler got %q", text)
	}
	p.send(22, ESME_ROK, &EnquireLink{})
	if h, _ := p.read(); h.ID != EnquireLinkRespID || h.Sequence != 22 {
		t.Fatalf("enquire_link during the drain answered %+v", h)
	}
	for seq := range subs {
		p.send(seq, ESME_ROK, &SubmitSMResp{MessageID: "y"})
	}
	p.expectEOF()
	if r := <-first; r.err != nil {
		t.Fatal(r.err)
	}
	<-s.Done()
	if s.CloseReason() != ClosePeerUnbind {
		t.Fatalf("closed %s", s.CloseReason())
	}
}

func TestDrainWaitsForDeliverHandlers(t *testing.T) {
	addr, peers := rawSMSC(t, true)
	release := make(chan struct{})
	s := dialTest(t, addr, BindReceiver, Options{EnquireLinkInterval: -1, DrainTimeout: time.Minute,
		Handler: DeliverHandlerFunc(func(ctx context.Context, s *Session, p *DeliverSM) CommandStatus {
			<-release // a slow store
			return ESME_ROK
		})})
	p := <-peers
	p.send(2, ESME_ROK, &DeliverSM{ShortMessage: []byte("mo")})
	wait.For(t, 5*time.Second, "the handler to start", func() bool { return s.Stats().Inbound == 1 })
	p.unbind(3)
	close(release)
	if h, _ := p.read(); h.ID != DeliverSMRespID || h.Sequence != 2 || h.Status != ESME_ROK {
		t.Fatalf("got %+v, want the deliver_sm_resp after the unbind_resp", h)
	}
	p.expectEOF()
	<-s.Done()
	if s.CloseReason() != ClosePeerUnbind || s.Err() != nil {
		t.Fatalf("closed %s %v", s.CloseReason(), s.Err())
	}
}

func TestPeerClosesDuringTheDrain(t *testing.T) {
	addr, peers := rawSMSC(t, true)
	s := dialTest(t, addr, BindTransceiver, Options{EnquireLinkInterval: -1, DrainTimeout: time.Minute})
	p := <-peers
	results := submitN(s, 3)
	p.readSubmits(3)
	p.unbind(9)
	_ = p.conn.Close()
	for i, ch := range results {
		select {
		case r := <-ch:
			var ce *ClosedError
			if !errors.As(r.err, &ce) || !ce.InFlight || !OutcomeUnknown(r.err) || errors.Is(r.err, ErrDrainTimeout) {
				t.Fatalf("submit %d: %v, want an in-flight ClosedError", i, r.err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("submit %d still waits after the peer closed", i)
		}
	}
	<-s.Done()
	if s.CloseReason() != ClosePeerUnbind || s.Err() == nil {
		t.Fatalf("closed %s %v, want peer_unbind with the lost responses as the error", s.CloseReason(), s.Err())
	}
}

func TestNegativeDrainTimeoutClosesAtOnce(t *testing.T) {
	addr, peers := rawSMSC(t, true)
	s := dialTest(t, addr, BindTransceiver, Options{EnquireLinkInterval: -1, DrainTimeout: -1})
	p := <-peers
	r := submitN(s, 1)[0]
	p.readSubmits(1)
	p.unbind(4)
	p.expectEOF()
	if res := <-r; !OutcomeUnknown(res.err) {
		t.Fatalf("err %v", res.err)
	}
}

func TestCloseDuringThePeerUnbindDrainWaitsForIt(t *testing.T) {
	addr, peers := rawSMSC(t, true)
	s := dialTest(t, addr, BindTransceiver, Options{EnquireLinkInterval: -1, DrainTimeout: time.Minute})
	p := <-peers
	r := submitN(s, 1)[0]
	subs := p.readSubmits(1)
	p.unbind(4)
	closed := make(chan struct{})
	go func() { _ = s.Close(context.Background()); close(closed) }()
	for seq := range subs {
		p.send(seq, ESME_ROK, &SubmitSMResp{MessageID: "z"})
	}
	p.expectEOF() // no unbind of ours after the peer's
	<-closed
	if res := <-r; res.err != nil {
		t.Fatal(res.err)
	}
	if s.CloseReason() != ClosePeerUnbind {
		t.Fatalf("closed %s", s.CloseReason())
	}
}

func TestWithdrawQueuedKeepsResponsesInOrder(t *testing.T) {
	s := &Session{}
	var err error
	frames := []struct {
		seq uint32
		p   PDU
	}{
		{1, testSubmit()}, {2, &DeliverSMResp{}}, {3, &EnquireLink{}}, {4, &EnquireLinkResp{}}, {5, testSubmit()}, {6, &UnbindResp{}},
	}
	for _, f := range frames {
		if s.wbuf, err = s.enc.appendPDU(s.wbuf, f.seq, ESME_ROK, f.p); err != nil {
			t.Fatal(err)
		}
	}
	seqs := s.withdrawQueuedLocked()
	if fmt.Sprint(seqs) != "[1 3 5]" {
		t.Fatalf("withdrawn %v, want [1 3 5]", seqs)
	}
	var kept []string
	for b := s.wbuf; len(b) > 0; {
		h, err := DecodeHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		kept = append(kept, fmt.Sprintf("%s/%d", h.ID, h.Sequence))
		b = b[h.Length:]
	}
	if fmt.Sprint(kept) != "[deliver_sm_resp/2 enquire_link_resp/4 unbind_resp/6]" {
		t.Fatalf("kept %v", kept)
	}
}

// heldRequests collects the requests a server's handler detaches, for the test to answer.
type heldRequests struct {
	mu   sync.Mutex
	reqs []*Request
}

func (h *heldRequests) handler() Handler {
	return HandlerFunc(func(ctx context.Context, r *Request) {
		r.Detach()
		h.mu.Lock()
		h.reqs = append(h.reqs, r)
		h.mu.Unlock()
	})
}

func (h *heldRequests) len() int { h.mu.Lock(); defer h.mu.Unlock(); return len(h.reqs) }

func (h *heldRequests) take() []*Request {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.reqs
	h.reqs = nil
	return out
}

func TestServerSessionDrainsAfterTheClientUnbinds(t *testing.T) {
	var held heldRequests
	ts := startSMSC(t, held.handler(), nil)
	p, st := rawESME(t, ts.addr, Bind{Mode: BindTransceiver, SystemID: "esme", Password: "secret"})
	if st != ESME_ROK {
		t.Fatal(st)
	}
	srvSess := <-ts.bound
	p.send(2, ESME_ROK, testSubmit())
	wait.For(t, 5*time.Second, "the submit at the handler", func() bool { return held.len() == 1 })
	p.unbind(3)
	// A request after the unbind is refused; the one accepted before is still answered.
	p.send(4, ESME_ROK, testSubmit())
	if h, _ := p.read(); h.ID != SubmitSMRespID || h.Sequence != 4 || h.Status != ESME_RINVBNDSTS {
		t.Fatalf("submit after unbind answered %+v, want ESME_RINVBNDSTS", h)
	}
	for _, r := range held.take() {
		_ = r.Respond(ESME_ROK, &SubmitSMResp{MessageID: "kept"})
	}
	h, pdu := p.read()
	if h.ID != SubmitSMRespID || h.Sequence != 2 || h.Status != ESME_ROK || pdu.(*SubmitSMResp).MessageID != "kept" {
		t.Fatalf("got %+v %+v, want the held submit's response", h, pdu)
	}
	p.expectEOF()
	<-srvSess.Done()
	if st := srvSess.Stats(); st.CloseReason != ClosePeerUnbind || st.DrainRefused != 1 || srvSess.Err() != nil {
		t.Fatalf("server session closed %s (err %v), refused %d", st.CloseReason, srvSess.Err(), st.DrainRefused)
	}
}

func TestUnbindMidWindowBothSides(t *testing.T) {
	// The server (an SMSC built on this package) unbinds with submits in flight and answers
	// them afterwards; the client drains and gets every answer.
	var held heldRequests
	ts := startSMSC(t, held.handler(), nil)
	const n = 4
	s := dialTest(t, ts.addr, BindTransceiver, Options{EnquireLinkInterval: -1, WindowSize: n, DrainTimeout: time.Minute})
	srvSess := <-ts.bound
	results := submitN(s, n)
	wait.For(t, 5*time.Second, "the submits at the handler", func() bool { return held.len() == n })
	if err := srvSess.Unbind(context.Background()); err != nil {
		t.Fatalf("Unbind: %v", err)
	}
	wait.For(t, 5*time.Second, "the client to drain", func() bool { return s.State() == StateUnbinding })
	if _, err := s.Submit(context.Background(), testSubmit()); OutcomeUnknown(err) || !errors.Is(err, ErrSessionClosed) {
		t.Fatalf("submit after the unbind: %v", err)
	}
	if _, err := srvSess.Deliver(context.Background(), &DeliverSM{}); OutcomeUnknown(err) || !errors.Is(err, ErrSessionClosed) {
		t.Fatalf("deliver after our unbind: %v", err)
	}
	for _, r := range held.take() {
		p := r.PDU.(*SubmitSM)
		_ = r.Respond(ESME_ROK, &SubmitSMResp{MessageID: "id-" + string(p.ShortMessage)})
	}
	for i, ch := range results {
		r := <-ch
		if r.err != nil || r.resp.MessageID != fmt.Sprintf("id-m%d", i) {
			t.Fatalf("submit %d: %+v %v", i, r.resp, r.err)
		}
	}
	<-s.Done()
	<-srvSess.Done()
	if s.CloseReason() != ClosePeerUnbind || s.Err() != nil || s.Stats().DrainAnswered != n {
		t.Fatalf("client closed %s (%v), drain answered %d", s.CloseReason(), s.Err(), s.Stats().DrainAnswered)
	}
	if srvSess.CloseReason() != CloseLocalUnbind || srvSess.Err() != nil {
		t.Fatalf("server closed %s (%v)", srvSess.CloseReason(), srvSess.Err())
	}
}

// gatedConn holds every Write, while held is set, until release is closed: a carrier that
// stopped reading, without waiting for socket buffers to fill.
type gatedConn struct {
	net.Conn
	held    atomic.Bool
	release chan struct{}
}

func (c *gatedConn) Write(b []byte) (int, error) {
	if c.held.Load() {
		<-c.release
	}
	return c.Conn.Write(b)
}

// queuedFrames counts the frames in the write buffer, not yet handed to the socket.
func (s *Session) queuedFrames() int {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	n := 0
	for b := s.wbuf; len(b) >= HeaderLen; n++ {
		b = b[binary.BigEndian.Uint32(b):]
	}
	return n
}

func TestRequestsNotYetWrittenAtThePeerUnbindAreNotSent(t *testing.T) {
	// Our submits pile up unwritten behind a write the carrier does not take; then it
	// unbinds. Those still queued must fail as never sent, and never reach it after its
	// unbind; the one being written is in flight and completes.
	addr, peers := rawSMSC(t, true)
	gate := &gatedConn{release: make(chan struct{})}
	s := dialTest(t, addr, BindTransmitter, Options{EnquireLinkInterval: -1, WindowSize: 20, DrainTimeout: time.Minute,
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			gate.Conn = c
			return gate, err
		}})
	p := <-peers
	gate.held.Store(true) // the carrier stops taking our writes
	first := submitN(s, 1)[0]
	wait.For(t, 5*time.Second, "the first submit being written", func() bool {
		s.wmu.Lock()
		defer s.wmu.Unlock()
		return s.flushing
	})
	const queued = 10
	results := submitN(s, queued)
	wait.For(t, 5*time.Second, "the others queued", func() bool { return s.queuedFrames() == queued })

	p.send(1000, ESME_ROK, &Unbind{})
	for i, ch := range results {
		select {
		case r := <-ch:
			var ce *ClosedError
			if !errors.As(r.err, &ce) || ce.Reason != ClosePeerUnbind || ce.InFlight || OutcomeUnknown(r.err) || !Retryable(r.err) {
				t.Fatalf("queued submit %d: %v, want failed as never sent", i, r.err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("queued submit %d still waits after the unbind", i)
		}
	}
	if st := s.Stats(); st.Withdrawn != queued {
		t.Fatalf("withdrawn %d, want %d", st.Withdrawn, queued)
	}

	close(gate.release) // the carrier reads again: the first submit, then the unbind_resp, nothing else
	subs := p.readSubmits(1)
	if h, _ := p.read(); h.ID != UnbindRespID || h.Sequence != 1000 {
		t.Fatalf("got %+v, want the unbind_resp", h)
	}
	for seq := range subs {
		p.send(seq, ESME_ROK, &SubmitSMResp{MessageID: "first"})
	}
	p.expectEOF()
	if r := <-first; r.err != nil || r.resp.MessageID != "first" {
		t.Fatalf("the submit in flight: %+v %v", r.resp, r.err)
	}
}
