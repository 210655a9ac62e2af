package smpp

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smppd/smppd/internal/wait"
)

func TestDialSendsEveryBindField(t *testing.T) {
	for _, mode := range []BindMode{BindTransmitter, BindReceiver, BindTransceiver} {
		t.Run(mode.String(), func(t *testing.T) {
			got := make(chan *Bind, 1)
			ts := startSMSC(t, nil, func(o *ServerOptions) {
				o.Authenticator = AuthenticatorFunc(func(ctx context.Context, s *Session, b *Bind) CommandStatus {
					got <- b
					return ESME_ROK
				})
			})
			want := Bind{Mode: mode, SystemID: "acme", Password: "pw123456", SystemType: "OTP", InterfaceVersion: 0x34, AddrTON: 1, AddrNPI: 1, AddressRange: "^91"}
			s, err := Dial(context.Background(), ts.addr, want, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Abort()
			if b := <-got; *b != want {
				t.Fatalf("server saw %+v, want %+v", *b, want)
			}
			if s.Mode() != mode || s.State() != StateBound || s.PeerSystemID() != "testsmsc" {
				t.Fatalf("mode %v state %v peer %q", s.Mode(), s.State(), s.PeerSystemID())
			}
		})
	}
}

func TestDialRejectedBind(t *testing.T) {
	ts := startSMSC(t, nil, nil)
	_, err := Dial(context.Background(), ts.addr, Bind{SystemID: "esme", Password: "wrong"}, Options{})
	var se *StatusError
	if !errors.As(err, &se) || se.Status != ESME_RINVPASWD || se.Cmd != BindTransceiverRespID {
		t.Fatalf("err = %v, want ESME_RINVPASWD from bind_transceiver_resp", err)
	}
	if Retryable(err) {
		t.Fatal("a wrong password is not retryable")
	}
}

func TestDialRefusesBadBindFieldsBeforeConnecting(t *testing.T) {
	_, err := Dial(context.Background(), "127.0.0.1:1", Bind{SystemID: "a-system-id-that-is-too-long"}, Options{})
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "system_id" {
		t.Fatalf("err = %v, want a FieldError on system_id", err)
	}
}

func TestDialBindTimeout(t *testing.T) {
	addr, _ := rawSMSC(t, false)
	start := time.Now()
	_, err := Dial(context.Background(), addr, Bind{SystemID: "esme", Password: "secret"}, Options{BindTimeout: 100 * time.Millisecond})
	if !errors.Is(err, ErrBindTimeout) {
		t.Fatalf("err = %v, want ErrBindTimeout", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("bind timeout took %s", d)
	}
}

func TestDialTLS(t *testing.T) {
	cert := selfSignedCert(t)
	ts := startSMSC(t, nil, func(o *ServerOptions) {
		o.Session.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	})
	s := dialTest(t, ts.addr, BindTransceiver, Options{TLSConfig: &tls.Config{InsecureSkipVerify: true}})
	if _, err := s.Submit(context.Background(), testSubmit()); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.conn.(*tls.Conn); !ok {
		t.Fatalf("connection is %T, want *tls.Conn", s.conn)
	}
}

func testSubmit() *SubmitSM {
	return &SubmitSM{Source: Address{5, 0, "ACMEIN"}, Dest: Address{1, 1, "919812345678"}, ShortMessage: []byte("hello"),
		TLVs: TLVs{StringTLV(TagDLTPEID, "1101234567890123456"), StringTLV(TagDLTTemplate, "1107161234567890123")}}
}

// heldSMSC is a server whose handler holds every submit until the test releases it.
type heldSMSC struct {
	*testSMSC
	mu   sync.Mutex
	held []*Request
}

func startHeldSMSC(t *testing.T) *heldSMSC {
	h := &heldSMSC{}
	h.testSMSC = startSMSC(t, HandlerFunc(func(ctx context.Context, r *Request) {
		r.Detach()
		h.mu.Lock()
		h.held = append(h.held, r)
		h.mu.Unlock()
	}), nil)
	return h
}

func (h *heldSMSC) count() int { h.mu.Lock(); defer h.mu.Unlock(); return len(h.held) }

func (h *heldSMSC) releaseOne(st CommandStatus, id string) {
	h.mu.Lock()
	r := h.held[0]
	h.held = h.held[1:]
	h.mu.Unlock()
	_ = r.Respond(st, &SubmitSMResp{MessageID: id})
}

func TestWindowBlocksCallerUntilASlotFrees(t *testing.T) {
	h := startHeldSMSC(t)
	s := dialTest(t, h.addr, BindTransmitter, Options{WindowSize: 2})
	errs := make(chan error, 3)
	for range 2 {
		go func() { _, err := s.Submit(context.Background(), testSubmit()); errs <- err }()
	}
	wait.For(t, 5*time.Second, "two submits at the SMSC", func() bool { return h.count() == 2 })
	if s.WindowInUse() != 2 {
		t.Fatalf("window in use %d, want 2", s.WindowInUse())
	}
	// A third caller blocks; its context ends before a slot frees.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	_, err := s.Submit(ctx, testSubmit())
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("third submit err = %v, want the context's deadline", err)
	}
	if h.count() != 2 {
		t.Fatalf("the blocked submit reached the SMSC")
	}
	// Once a response frees a slot, a waiting caller goes through.
	go func() { _, err := s.Submit(context.Background(), testSubmit()); errs <- err }()
	h.releaseOne(ESME_ROK, "a")
	wait.For(t, 5*time.Second, "the waiting submit to reach the SMSC", func() bool { return h.count() == 2 })
	h.releaseOne(ESME_ROK, "b")
	h.releaseOne(ESME_ROK, "c")
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := s.Stats().Responses[ESME_ROK]; got != 4 {
		t.Fatalf("responses OK = %d, want 4 (bind_resp and three submit_sm_resp)", got)
	}
}

func TestResponsesMatchedBySequenceAndCommand(t *testing.T) {
	addr, peers := rawSMSC(t, true)
	s := dialTest(t, addr, BindTransceiver, Options{ResponseTimeout: 2 * time.Second})
	p := <-peers
	type res struct {
		id  string
		err error
	}
	out := make(chan res, 2)
	for range 2 {
		go func() {
			r, err := s.Submit(context.Background(), testSubmit())
			if r != nil {
				out <- res{r.MessageID, err}
				return
			}
			out <- res{"", err}
		}()
	}
	h1, _ := p.read()
	h2, _ := p.read()
	// A response with the right sequence but the wrong command is not an answer.
	p.send(h1.Sequence, ESME_ROK, &DeliverSMResp{})
	// Out of order: the second request is answered first.
	p.send(h2.Sequence, ESME_ROK, &SubmitSMResp{MessageID: "second"})
	p.send(h1.Sequence, ESME_ROK, &SubmitSMResp{MessageID: "first"})
	got := map[string]bool{}
	for range 2 {
		r := <-out
		if r.err != nil {
			t.Fatal(r.err)
		}
		got[r.id] = true
	}
	if !got["first"] || !got["second"] {
		t.Fatalf("got %v", got)
	}
	if n := s.Stats().LateResponses; n != 1 {
		t.Fatalf("late/unknown responses = %d, want 1 (the mismatched command)", n)
	}
}

func TestGenericNackAnswersTheRequest(t *testing.T) {
	addr, peers := rawSMSC(t, true)
	s := dialTest(t, addr, BindTransceiver, Options{})
	p := <-peers
	done := make(chan error, 1)
	go func() { _, err := s.Submit(context.Background(), testSubmit()); done <- err }()
	h, _ := p.read()
	p.send(h.Sequence, ESME_RINVCMDID, &GenericNack{})
	err := <-done
	var se *StatusError
	if !errors.As(err, &se) || se.Cmd != GenericNackID || se.Status != ESME_RINVCMDID {
		t.Fatalf("err = %v", err)
	}
}

func TestResponseTimeoutThenLateResponse(t *testing.T) {
	addr, peers := rawSMSC(t, true)
	s := dialTest(t, addr, BindTransceiver, Options{ResponseTimeout: 50 * time.Millisecond})
	p := <-peers
	_, err := s.Submit(context.Background(), testSubmit())
	if !errors.Is(err, ErrResponseTimeout) || !OutcomeUnknown(err) || !Retryable(err) {
		t.Fatalf("err = %v: want ErrResponseTimeout, outcome unknown, retryable", err)
	}
	h, _ := p.read()
	p.send(h.Sequence, ESME_ROK, &SubmitSMResp{MessageID: "late"})
	wait.For(t, 5*time.Second, "the late response to be counted", func() bool { return s.Stats().LateResponses == 1 })
	if st := s.Stats(); st.Timeouts != 1 || st.WindowInUse != 0 {
		t.Fatalf("stats %+v", st)
	}
	// The session is still usable.
	go func() { h, _ := p.read(); p.send(h.Sequence, ESME_ROK, &SubmitSMResp{MessageID: "ok"}) }()
	if r, err := s.Submit(context.Background(), testSubmit()); err != nil || r.MessageID != "ok" {
		t.Fatalf("after timeout: %v %v", r, err)
	}
}

func TestKeepaliveClosesSilentPeer(t *testing.T) {
	addr, peers := rawSMSC(t, true)
	s := dialTest(t, addr, BindTransceiver, Options{EnquireLinkInterval: 20 * time.Millisecond, MaxEnquireLinkOutstanding: 2})
	p := <-peers
	// The peer reads and ignores everything.
	go func() {
		for {
			if _, err := p.fr.ReadFrame(); err != nil {
				return
			}
		}
	}()
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("session never closed")
	}
	if s.CloseReason() != CloseEnquireLinkTimeout {
		t.Fatalf("reason %v", s.CloseReason())
	}
	if n := s.Stats().EnquireLinks; n != 2 {
		t.Fatalf("sent %d enquire_link, want the budget of 2", n)
	}
}

func TestKeepaliveAnsweredKeepsSessionUp(t *testing.T) {
	addr, peers := rawSMSC(t, true)
	s := dialTest(t, addr, BindTransceiver, Options{EnquireLinkInterval: 10 * time.Millisecond, MaxEnquireLinkOutstanding: 1})
	p := <-peers
	for range 10 {
		h, pdu := p.read()
		if _, ok := pdu.(*EnquireLink); !ok {
			t.Fatalf("got %v", h.ID)
		}
		p.send(h.Sequence, ESME_ROK, &EnquireLinkResp{})
	}
	if s.State() != StateBound {
		t.Fatalf("state %v", s.State())
	}
}

func TestPeerEnquireLinkAnswered(t *testing.T) {
	addr, peers := rawSMSC(t, true)
	dialTest(t, addr, BindTransceiver, Options{EnquireLinkInterval: -1})
	p := <-peers
	p.send(77, ESME_ROK, &EnquireLink{})
	h, _ := p.read()
	if h.ID != EnquireLinkRespID || h.Sequence != 77 || h.Status != ESME_ROK {
		t.Fatalf("got %+v", h)
	}
}

func TestPeerUnbindAnsweredAndFailsWaitersAfterTheDrain(t *testing.T) {
	addr, peers := rawSMSC(t, true)
	s := dialTest(t, addr, BindTransceiver, Options{EnquireLinkInterval: -1, DrainTimeout: 50 * time.Millisecond})
	p := <-peers
	done := make(chan error, 1)
	go func() { _, err := s.Submit(context.Background(), testSubmit()); done <- err }()
	p.read() // the submit, never answered
	p.send(9, ESME_ROK, &Unbind{})
	h, _ := p.read()
	if h.ID != UnbindRespID || h.Sequence != 9 {
		t.Fatalf("got %+v, want unbind_resp seq 9", h)
	}
	err := <-done
	var ce *ClosedError
	if !errors.As(err, &ce) || ce.Reason != ClosePeerUnbind || !ce.InFlight || !OutcomeUnknown(err) ||
		!errors.Is(err, ErrSessionClosed) || !errors.Is(err, ErrDrainTimeout) {
		t.Fatalf("err = %#v", err)
	}
	<-s.Done()
	if _, err := s.Submit(context.Background(), testSubmit()); !errors.Is(err, ErrSessionClosed) || OutcomeUnknown(err) {
		t.Fatalf("submit after close: %v", err)
	}
}

func TestUnsupportedAndMalformedPDUsDoNotKillTheSession(t *testing.T) {
	addr, peers := rawSMSC(t, true)
	s := dialTest(t, addr, BindTransceiver, Options{EnquireLinkInterval: -1})
	p := <-peers

	// An SMSC sending submit_sm to an ESME: not ours to serve.
	p.send(10, ESME_ROK, testSubmit())
	if h, _ := p.read(); h.ID != GenericNackID || h.Status != ESME_RINVCMDID || h.Sequence != 10 {
		t.Fatalf("submit_sm to ESME answered %+v", h)
	}
	// An unknown command id.
	raw := make([]byte, 16)
	putUint32(raw[0:], 16)
	putUint32(raw[4:], 0x00000099)
	putUint32(raw[12:], 11)
	p.conn.Write(raw)
	if h, _ := p.read(); h.ID != GenericNackID || h.Status != ESME_RINVCMDID || h.Sequence != 11 {
		t.Fatalf("unknown command answered %+v", h)
	}
	// A deliver_sm whose source_addr has no NUL: answered with an error status, not a hang-up.
	bad, _ := EncodePDU(12, ESME_ROK, &DeliverSM{Source: Address{1, 1, "919812345678"}})
	bad = bad[:16+1+1+1+5] // service_type NUL, ton, npi, five address digits, then the frame ends
	putUint32(bad, uint32(len(bad)))
	p.conn.Write(bad)
	if h, _ := p.read(); h.ID != DeliverSMRespID || h.Status == ESME_ROK || h.Sequence != 12 {
		t.Fatalf("malformed deliver_sm answered %+v", h)
	}
	go func() { h, _ := p.read(); p.send(h.Sequence, ESME_ROK, &EnquireLinkResp{}) }()
	if err := s.EnquireLink(context.Background()); err != nil {
		t.Fatalf("session unusable after bad PDUs: %v", err)
	}
	if n := s.Stats().ProtocolErrors; n != 2 {
		t.Fatalf("protocol errors = %d, want 2", n)
	}
}

func TestBadCommandLengthClosesWithGenericNack(t *testing.T) {
	addr, peers := rawSMSC(t, true)
	s := dialTest(t, addr, BindTransceiver, Options{EnquireLinkInterval: -1, MaxPDUSize: 4096})
	p := <-peers
	raw := make([]byte, 16)
	putUint32(raw[0:], 1<<20)
	putUint32(raw[4:], uint32(DeliverSMID))
	putUint32(raw[12:], 5)
	p.conn.Write(raw)
	h, _ := p.read()
	if h.ID != GenericNackID || h.Status != ESME_RINVCMDLEN || h.Sequence != 5 {
		t.Fatalf("got %+v", h)
	}
	<-s.Done()
	if s.CloseReason() != CloseProtocolError || !errors.Is(s.Err(), ErrPDUTooLarge) {
		t.Fatalf("reason %v err %v", s.CloseReason(), s.Err())
	}
}

func TestDeliverHandledOffTheReadLoop(t *testing.T) {
	addr, peers := rawSMSC(t, true)
	release := make(chan CommandStatus)
	entered := make(chan *DeliverSM, 1)
	s := dialTest(t, addr, BindTransceiver, Options{EnquireLinkInterval: -1,
		Handler: DeliverHandlerFunc(func(ctx context.Context, s *Session, p *DeliverSM) CommandStatus {
			entered <- p
			return <-release
		})})
	p := <-peers
	p.send(100, ESME_ROK, &DeliverSM{Source: Address{1, 1, "919812345678"}, ESMClass: ESMClassDeliveryRcpt, ShortMessage: []byte("id:1 stat:DELIVRD")})
	if got := <-entered; string(got.ShortMessage) != "id:1 stat:DELIVRD" {
		t.Fatalf("handler got %q", got.ShortMessage)
	}
	// While the handler is busy, our own submit's response still gets through.
	done := make(chan error, 1)
	go func() { _, err := s.Submit(context.Background(), testSubmit()); done <- err }()
	h, _ := p.read()
	if h.ID != SubmitSMID {
		t.Fatalf("expected the submit first, got %v (the deliver_sm_resp went out before the handler returned?)", h.ID)
	}
	p.send(h.Sequence, ESME_ROK, &SubmitSMResp{MessageID: "x"})
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The handler chooses the status; the response follows its return.
	release <- ESME_RX_T_APPN
	h, _ = p.read()
	if h.ID != DeliverSMRespID || h.Sequence != 100 || h.Status != ESME_RX_T_APPN {
		t.Fatalf("got %+v", h)
	}
}

func TestHandlerThatDoesNotAnswerGetsTemporaryError(t *testing.T) {
	addr, peers := rawSMSC(t, true)
	dialTest(t, addr, BindReceiver, Options{EnquireLinkInterval: -1, Handler: HandlerFunc(func(context.Context, *Request) {})})
	p := <-peers
	p.send(3, ESME_ROK, &DeliverSM{})
	if h, _ := p.read(); h.Status != ESME_RX_T_APPN || h.Sequence != 3 {
		t.Fatalf("got %+v", h)
	}
}

func TestNoHandlerNeverAcknowledges(t *testing.T) {
	addr, peers := rawSMSC(t, true)
	dialTest(t, addr, BindReceiver, Options{EnquireLinkInterval: -1})
	p := <-peers
	p.send(3, ESME_ROK, &DeliverSM{})
	if h, _ := p.read(); h.Status != ESME_RX_T_APPN {
		t.Fatalf("got %+v", h)
	}
}

func TestInboundWindowOverflowThrottles(t *testing.T) {
	addr, peers := rawSMSC(t, true)
	block := make(chan struct{})
	defer close(block)
	s := dialTest(t, addr, BindReceiver, Options{EnquireLinkInterval: -1, InboundWindow: 1, InboundWorkers: 1,
		InboundFull: InboundFullThrottle,
		Handler: HandlerFunc(func(ctx context.Context, r *Request) {
			<-block
			_ = r.Respond(ESME_ROK, nil)
		})})
	p := <-peers
	// The first is taken by the worker (and blocks), the second waits in the queue; the
	// third finds the queue full.
	p.send(1, ESME_ROK, &DeliverSM{})
	wait.For(t, 5*time.Second, "the worker to take the first", func() bool { return s.Stats().Inbound == 1 && len(s.inbound) == 0 })
	p.send(2, ESME_ROK, &DeliverSM{})
	p.send(3, ESME_ROK, &DeliverSM{})
	h, _ := p.read()
	if h.Sequence != 3 || h.Status != ESME_RTHROTTLED {
		t.Fatalf("got %+v", h)
	}
}

// A client session's default is to stop reading, not to refuse: carriers retry a refused
// receipt a few times or never.
func TestInboundWindowOverflowPausesReadingByDefault(t *testing.T) {
	addr, peers := rawSMSC(t, true)
	block := make(chan struct{})
	s := dialTest(t, addr, BindReceiver, Options{EnquireLinkInterval: -1, InboundWindow: 1, InboundWorkers: 1,
		Handler: HandlerFunc(func(ctx context.Context, r *Request) {
			<-block
			_ = r.Respond(ESME_ROK, nil)
		})})
	p := <-peers
	p.send(1, ESME_ROK, &DeliverSM{})
	wait.For(t, 5*time.Second, "the worker to take the first", func() bool { return s.Stats().Inbound == 1 && len(s.inbound) == 0 })
	p.send(2, ESME_ROK, &DeliverSM{})
	p.send(3, ESME_ROK, &DeliverSM{})
	p.send(4, ESME_ROK, &DeliverSM{})
	wait.For(t, 5*time.Second, "reading to pause", func() bool { return s.Stats().InboundPauses >= 1 })
	close(block)
	got := map[uint32]CommandStatus{}
	for len(got) < 4 {
		h, _ := p.read()
		got[h.Sequence] = h.Status
	}
	for seq, st := range got {
		if st != ESME_ROK {
			t.Errorf("deliver_sm %d answered %v, want ESME_ROK", seq, st)
		}
	}
	if st := s.Stats(); st.InboundThrottled != 0 || st.Inbound != 4 {
		t.Fatalf("stats %+v: want 4 handled and none throttled", st)
	}
}

func TestCloseDrainsTheWindowThenUnbinds(t *testing.T) {
	h := startHeldSMSC(t)
	s := dialTest(t, h.addr, BindTransceiver, Options{})
	done := make(chan error, 1)
	go func() { _, err := s.Submit(context.Background(), testSubmit()); done <- err }()
	wait.For(t, 5*time.Second, "the submit at the SMSC", func() bool { return h.count() == 1 })
	closed := make(chan struct{})
	go func() { s.Close(context.Background()); close(closed) }()
	wait.For(t, 5*time.Second, "unbinding", func() bool { return s.State() == StateUnbinding })
	// New work is refused while unbinding, and is not in flight.
	if _, err := s.Submit(context.Background(), testSubmit()); !errors.Is(err, ErrNotBound) || OutcomeUnknown(err) {
		t.Fatalf("submit while unbinding: %v", err)
	}
	select {
	case <-closed:
		t.Fatal("Close returned before the window drained")
	default:
	}
	h.releaseOne(ESME_ROK, "drained")
	if err := <-done; err != nil {
		t.Fatalf("the outstanding submit failed: %v", err)
	}
	<-closed
	if s.CloseReason() != CloseLocalUnbind {
		t.Fatalf("reason %v", s.CloseReason())
	}
}

func TestModeRestrictions(t *testing.T) {
	ts := startSMSC(t, nil, nil)
	rx := dialTest(t, ts.addr, BindReceiver, Options{})
	if _, err := rx.Submit(context.Background(), testSubmit()); !errors.Is(err, ErrNotBound) {
		t.Fatalf("submit on a receiver: %v", err)
	}
	// A raw ESME bound as receiver that submits anyway is refused by the server.
	p, st := rawESME(t, ts.addr, Bind{Mode: BindReceiver, SystemID: "esme", Password: "secret"})
	if st != ESME_ROK {
		t.Fatal(st)
	}
	p.send(2, ESME_ROK, testSubmit())
	if h, _ := p.read(); h.ID != SubmitSMRespID || h.Status != ESME_RINVBNDSTS {
		t.Fatalf("got %+v", h)
	}
}

func TestServerRefusesRequestsBeforeBindAndTimesOutSilentClients(t *testing.T) {
	ts := startSMSC(t, nil, func(o *ServerOptions) { o.Session.BindTimeout = 100 * time.Millisecond })
	p := rawConn(t, ts.addr)
	p.send(1, ESME_ROK, testSubmit())
	if h, _ := p.read(); h.Status != ESME_RINVBNDSTS {
		t.Fatalf("got %+v", h)
	}
	_ = p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := p.fr.ReadFrame(); err == nil {
		t.Fatal("connection still open after the bind timeout")
	}
}

func TestServerShutdownUnbindsClients(t *testing.T) {
	ts := startSMSC(t, nil, nil)
	s := dialTest(t, ts.addr, BindTransceiver, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	<-s.Done()
	if s.CloseReason() != ClosePeerUnbind {
		t.Fatalf("client saw %v", s.CloseReason())
	}
	if _, err := Dial(context.Background(), ts.addr, Bind{SystemID: "esme", Password: "secret"}, Options{DialTimeout: time.Second}); err == nil {
		t.Fatal("server still accepting after Shutdown")
	}
}

func TestSequenceNumbersWrap(t *testing.T) {
	s := &Session{}
	s.seq.Store(MaxSequence - 1)
	if a, b := s.nextSeq(), s.nextSeq(); a != MaxSequence || b != 1 {
		t.Fatalf("got %d then %d", a, b)
	}
}

func TestConcurrentSubmitsUnderRace(t *testing.T) {
	ts := startSMSC(t, nil, nil)
	s := dialTest(t, ts.addr, BindTransceiver, Options{WindowSize: 16})
	var wg sync.WaitGroup
	var ok atomic.Int64
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				if _, err := s.Submit(context.Background(), testSubmit()); err == nil {
					ok.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1600 || ts.count.Load() != 1600 {
		t.Fatalf("ok %d, at SMSC %d", ok.Load(), ts.count.Load())
	}
}

func TestDeliverRightAfterBindRespIsServed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer := make(chan *rawPeer, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		p := &rawPeer{t: t, conn: conn, fr: NewFrameReader(conn, 0)}
		f, _ := p.fr.ReadFrame()
		h, _, _ := DecodePDU(f)
		// bind_resp and a receipt in one write, as a busy SMSC sends them.
		b1, _ := EncodePDU(h.Sequence, ESME_ROK, &BindResp{Mode: BindReceiver, SystemID: "raw"})
		b2, _ := EncodePDU(1, ESME_ROK, &DeliverSM{ESMClass: ESMClassDeliveryRcpt, ShortMessage: []byte("id:1 stat:DELIVRD")})
		conn.Write(append(b1, b2...))
		peer <- p
	}()
	got := make(chan struct{}, 1)
	s, err := Dial(context.Background(), ln.Addr().String(), Bind{Mode: BindReceiver, SystemID: "esme", Password: "secret"},
		Options{EnquireLinkInterval: -1, Handler: DeliverHandlerFunc(func(context.Context, *Session, *DeliverSM) CommandStatus {
			got <- struct{}{}
			return ESME_ROK
		})})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Abort()
	p := <-peer
	defer p.conn.Close()
	if h, _ := p.read(); h.ID != DeliverSMRespID || h.Status != ESME_ROK {
		t.Fatalf("receipt right after bind_resp answered %+v", h)
	}
	<-got
}
