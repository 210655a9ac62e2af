package smpp

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// role is which end of the protocol a session plays; it decides which requests may flow in
// and out.
type role uint8

const (
	roleESME role = iota // we dialled and bind: the daemon's carrier links
	roleSMSC             // we accepted and authenticate binds: the simulator
)

var sessionCounter atomic.Uint64

// Session is one SMPP connection, on either side. It runs exactly one read goroutine and one
// write goroutine; callers never touch the socket. Requests go out behind a window of
// Options.WindowSize outstanding; responses are matched by sequence number and command.
// Requests from the peer are served by Options.Handler on worker goroutines.
//
// All methods are safe for concurrent use.
type Session struct {
	id   uint64
	opts Options
	role role
	conn net.Conn
	log  atomic.Pointer[zerolog.Logger] // replaced (never mutated) when the bind adds fields

	ctx    context.Context // cancelled when the session starts closing; handed to handlers
	cancel context.CancelFunc

	state    atomic.Int32 // State
	mode     atomic.Uint32
	peerID   atomic.Pointer[string] // system_id of the peer: the SMSC's (client) or the ESME's (server)
	boundAt  atomic.Int64
	seq      atomic.Uint32
	rxFrames atomic.Uint64 // inbound frames, for keepalive's "anything since?" test
	elOut    atomic.Int32  // enquire_link sent since the last inbound frame
	unbound  atomic.Bool   // we sent unbind: the peer closing now is the expected end

	window  chan struct{} // counting semaphore: a token per outstanding request
	mu      sync.Mutex
	pending map[uint32]*call
	drained chan struct{} // signalled when pending empties during StateUnbinding

	wmu      sync.Mutex
	wbuf     []byte  // frames waiting to be written
	wspare   []byte  // the buffer of the last flush, reused
	flushing bool    // a goroutine is writing; others only append
	enc      encoder // used under wmu
	wsignal  chan struct{}

	inbound chan *Request

	closeOnce   sync.Once
	closing     chan struct{} // closed when closing starts
	done        chan struct{} // closed when reader and writer have exited and the conn is closed
	closeReason atomic.Int32
	closeErr    error
	loops       sync.WaitGroup

	stats sessionStats

	// bindWait is used by the server side: closed when the session binds.
	bindTimer atomic.Pointer[time.Timer]
	server    *Server
}

// newSession builds a session around conn; the caller starts its loops with start once it
// has finished wiring it (the server sets its back-pointer and bind timer first).
func newSession(conn net.Conn, r role, opts Options) *Session {
	opts.setDefaults()
	s := &Session{
		id:      sessionCounter.Add(1),
		opts:    opts,
		role:    r,
		conn:    conn,
		window:  make(chan struct{}, opts.WindowSize),
		pending: make(map[uint32]*call, opts.WindowSize),
		drained: make(chan struct{}, 1),
		wsignal: make(chan struct{}, 1),
		inbound: make(chan *Request, opts.InboundWindow),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.withLogFields(func(c zerolog.Context) zerolog.Context {
		return c.Uint64("session", s.id).Str("remote", conn.RemoteAddr().String())
	}, opts.Logger)
	return s
}

func (s *Session) start() {
	s.loops.Add(2)
	go s.readLoop()
	go s.writeLoop()
}

func (s *Session) logger() *zerolog.Logger { return s.log.Load() }

// withLogFields replaces the session's logger by base with more fields. Loggers are swapped
// whole, never mutated, because the loops read them concurrently.
func (s *Session) withLogFields(add func(zerolog.Context) zerolog.Context, base zerolog.Logger) {
	l := add(base.With()).Logger()
	s.log.Store(&l)
}

// ID is a process-unique number for logs.
func (s *Session) ID() uint64 { return s.id }

// State returns the session's current state.
func (s *Session) State() State { return State(s.state.Load()) }

// Mode returns how the session is bound (zero before the bind).
func (s *Session) Mode() BindMode { return BindMode(s.mode.Load()) }

// PeerSystemID returns the peer's system_id: the SMSC's from bind_resp on a client session,
// the ESME's from its bind on a server session.
func (s *Session) PeerSystemID() string {
	if p := s.peerID.Load(); p != nil {
		return *p
	}
	return ""
}

// LocalAddr and RemoteAddr return the connection's addresses.
func (s *Session) LocalAddr() net.Addr  { return s.conn.LocalAddr() }
func (s *Session) RemoteAddr() net.Addr { return s.conn.RemoteAddr() }

// Done is closed when the session has fully closed.
func (s *Session) Done() <-chan struct{} { return s.done }

// CloseReason returns why the session closed, or CloseNone while it is open.
func (s *Session) CloseReason() CloseReason { return CloseReason(s.closeReason.Load()) }

// Err returns the error that closed the session: nil while open and after a graceful close.
func (s *Session) Err() error {
	select {
	case <-s.done:
		return s.closeErr
	default:
		return nil
	}
}

func (s *Session) nextSeq() uint32 {
	n := s.seq.Add(1)
	return (n-1)%MaxSequence + 1
}

// markBound moves an open session to bound.
func (s *Session) markBound(mode BindMode, peer string) {
	s.mode.Store(uint32(mode))
	s.peerID.Store(&peer)
	s.boundAt.Store(time.Now().UnixNano())
	s.state.CompareAndSwap(int32(StateOpen), int32(StateBound))
	s.withLogFields(func(c zerolog.Context) zerolog.Context {
		return c.Str("peer_system_id", peer).Str("mode", mode.String())
	}, *s.logger())
	for range s.opts.InboundWorkers {
		s.loops.Add(1)
		go s.worker()
	}
	if s.opts.EnquireLinkInterval > 0 {
		s.loops.Add(1)
		go s.keepalive()
	}
}

// ---- sending ----

// enqueue encodes p into the write buffer and wakes the writer goroutine. Encoding straight
// into the shared buffer saves a copy and an allocation per PDU. The read loop always uses
// enqueue: it must never block on the socket, or two peers whose buffers are full would each
// wait for the other to read.
func (s *Session) enqueue(seq uint32, status CommandStatus, p PDU) error {
	if err := s.appendFrame(seq, status, p); err != nil {
		return err
	}
	s.wakeWriter()
	return nil
}

// send is enqueue for goroutines that may block on the socket (callers of Send, handler
// workers). When the link is quiet (light says so) and no flush is under way, it writes the
// buffer itself: the hand-off to the writer goroutine is most of a round trip's latency at
// low concurrency. Under load it leaves the writing to the writer goroutine, whose single
// write then carries the frames of many producers.
func (s *Session) send(seq uint32, status CommandStatus, p PDU, light bool) error {
	if err := s.appendFrame(seq, status, p); err != nil {
		return err
	}
	if light {
		s.flushOnce(s.opts.WriteTimeout)
	} else {
		s.wakeWriter()
	}
	return nil
}

// lightLoad reports whether so few requests are in flight that writing inline beats batching.
func (s *Session) lightLoad() bool { return len(s.window) <= 2 && len(s.inbound) == 0 }

func (s *Session) appendFrame(seq uint32, status CommandStatus, p PDU) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	select {
	case <-s.closing:
		return s.closedErr(false)
	default:
	}
	var err error
	s.wbuf, err = s.enc.appendPDU(s.wbuf, seq, status, p)
	return err
}

func (s *Session) wakeWriter() {
	select {
	case s.wsignal <- struct{}{}:
	default:
	}
}

func (s *Session) writeLoop() {
	defer s.loops.Done()
	for {
		select {
		case <-s.wsignal:
			s.flushOnce(s.opts.WriteTimeout)
		case <-s.closing:
			// Last flush so a final unbind_resp or generic_nack reaches the peer. A flush by
			// another goroutine may still be under way: wait for it, briefly.
			deadline := time.Now().Add(min(s.opts.WriteTimeout, time.Second))
			for s.flushOnce(time.Until(deadline)) && time.Now().Before(deadline) {
			}
			_ = s.conn.Close()
			return
		}
	}
}

// flushOnce writes what is buffered, unless another goroutine is writing already (it will
// see the new frames when it finishes). It reports whether frames remained for someone else
// to write, and hands them to the writer goroutine. A failed write closes the session.
func (s *Session) flushOnce(timeout time.Duration) (busy bool) {
	s.wmu.Lock()
	if s.flushing {
		s.wmu.Unlock()
		return true
	}
	if len(s.wbuf) == 0 {
		s.wmu.Unlock()
		return false
	}
	s.flushing = true
	buf := s.wbuf
	s.wbuf, s.wspare = s.wspare[:0], nil
	s.wmu.Unlock()

	_ = s.conn.SetWriteDeadline(time.Now().Add(timeout))
	_, err := s.conn.Write(buf)

	s.wmu.Lock()
	s.flushing = false
	// Keep the spare small enough that one burst does not pin memory for the session's life.
	if cap(buf) <= 1<<20 {
		s.wspare = buf[:0]
	}
	more := len(s.wbuf) > 0
	s.wmu.Unlock()
	if err != nil {
		reason := CloseWriteError
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			reason = CloseWriteTimeout
		}
		s.close(reason, err)
		return false
	}
	if more {
		s.wakeWriter()
	}
	return false
}

// ---- reading ----

func (s *Session) readLoop() {
	defer s.loops.Done()
	fr := NewFrameReader(bufio.NewReaderSize(s.conn, 32<<10), s.opts.MaxPDUSize)
	var dec decoder
	for {
		frame, err := fr.ReadFrame()
		if err != nil {
			s.readFailed(fr, err)
			return
		}
		s.rxFrames.Add(1)
		s.stats.rxFrames.Add(1)
		h, p, err := dec.decodeOwned(frame)
		if err != nil {
			s.badPDU(h, err)
			continue
		}
		if h.ID.IsResponse() {
			s.routeResponse(h, p, nil)
			continue
		}
		s.handleRequest(h, p)
	}
}

func (s *Session) readFailed(fr *FrameReader, err error) {
	select {
	case <-s.closing: // we closed the connection ourselves
		s.close(CloseAborted, nil)
		return
	default:
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		// The length cannot be trusted, so neither can anything after it: say why, then go.
		s.stats.protocolErrors.Add(1)
		s.logger().Warn().Err(err).Msg("framing error; closing")
		_ = s.enqueue(fr.LastHeader().Sequence, ESME_RINVCMDLEN, emptyGenericNack)
		s.close(CloseProtocolError, err)
		return
	}
	if s.unbound.Load() {
		s.close(CloseLocalUnbind, nil)
		return
	}
	if errors.Is(err, io.EOF) {
		s.close(ClosePeerClosed, err)
		return
	}
	s.close(CloseReadError, err)
}

// badPDU answers a frame whose header was sound but whose body was not.
func (s *Session) badPDU(h Header, err error) {
	s.stats.protocolErrors.Add(1)
	s.logger().Warn().Err(err).Str("command", h.ID.String()).Uint32("seq", h.Sequence).Msg("undecodable PDU")
	switch {
	case h.ID.IsResponse():
		// The peer answered one of our requests, but we cannot read how: the caller gets the
		// decode error (its outcome is unknown: the peer may well have accepted it).
		s.routeResponse(h, nil, err)
	case !h.ID.Known():
		_ = s.enqueue(h.Sequence, ESME_RINVCMDID, emptyGenericNack)
	case h.ID.hasResponse():
		_ = s.enqueue(h.Sequence, statusFor(err), emptyResponse(h.ID))
	}
}

func (s *Session) routeResponse(h Header, p PDU, decodeErr error) {
	s.mu.Lock()
	c := s.pending[h.Sequence]
	if c != nil && (h.ID == c.cmd.Response() || h.ID == GenericNackID) {
		delete(s.pending, h.Sequence)
		s.signalDrainedLocked()
		s.mu.Unlock()
		s.stats.countStatus(h.Status)
		if br, ok := p.(*BindResp); ok && h.Status == ESME_ROK && s.role == roleESME && s.State() == StateOpen {
			// Bound from this frame on: an SMSC may deliver in the very next frame, which
			// must not find the session still open (and be refused ESME_RINVBNDSTS).
			s.markBound(br.Mode, br.SystemID)
		}
		var err error
		switch {
		case decodeErr != nil:
			err = decodeErr
		case h.Status != ESME_ROK:
			err = &StatusError{Cmd: h.ID, Status: h.Status}
		}
		c.done <- result{h: h, p: p, err: err}
		return
	}
	s.mu.Unlock()
	if h.ID == EnquireLinkRespID {
		return // an answer to keepalive; the frame itself already reset the budget
	}
	s.stats.lateResponses.Add(1)
	s.logger().Debug().Str("command", h.ID.String()).Uint32("seq", h.Sequence).Msg("late or unknown response dropped")
}

func (s *Session) handleRequest(h Header, p PDU) {
	state := s.State()
	switch h.ID {
	case EnquireLinkID:
		_ = s.enqueue(h.Sequence, ESME_ROK, emptyEnquireLinkResp)
		return
	case UnbindID:
		_ = s.enqueue(h.Sequence, ESME_ROK, emptyUnbindResp)
		s.logger().Info().Msg("peer unbound")
		s.close(ClosePeerUnbind, nil)
		return
	case BindTransmitterID, BindReceiverID, BindTransceiverID:
		if s.role == roleSMSC && state == StateOpen && s.server != nil {
			s.server.bind(s, h, p.(*Bind))
			return
		}
		st := ESME_RALYBND
		if s.role == roleESME {
			st = ESME_RINVCMDID
		}
		_ = s.enqueue(h.Sequence, st, &BindResp{Mode: p.(*Bind).Mode})
		return
	case OutbindID:
		s.logger().Info().Msg("outbind received; ignored (this session binds by itself)")
		return
	}
	if !s.accepts(h.ID) {
		_ = s.enqueue(h.Sequence, ESME_RINVCMDID, emptyGenericNack)
		return
	}
	if state != StateBound && state != StateUnbinding {
		_ = s.enqueue(h.Sequence, ESME_RINVBNDSTS, emptyResponse(h.ID))
		return
	}
	if s.role == roleSMSC && !s.Mode().CanSend() && h.ID != AlertNotificationID {
		// A receiver-only ESME may not submit.
		_ = s.enqueue(h.Sequence, ESME_RINVBNDSTS, emptyResponse(h.ID))
		return
	}
	r := &Request{Header: h, PDU: p, session: s}
	select {
	case s.inbound <- r:
		s.stats.inbound.Add(1)
		return
	default:
	}
	if s.inboundWaits() {
		// Pause reading rather than refuse: the peer's window and TCP fill meanwhile.
		s.stats.inboundPauses.Add(1)
		start := time.Now()
		select {
		case s.inbound <- r:
			s.stats.inbound.Add(1)
		case <-s.closing:
		}
		s.stats.inboundPausedNanos.Add(uint64(time.Since(start)))
		return
	}
	s.stats.inboundThrottled.Add(1)
	if h.ID.hasResponse() {
		_ = s.enqueue(h.Sequence, ESME_RTHROTTLED, emptyResponse(h.ID))
	}
}

// inboundWaits reports whether a request finding the inbound window full waits (true) or is
// throttled.
func (s *Session) inboundWaits() bool {
	switch s.opts.InboundFull {
	case InboundFullWait:
		return true
	case InboundFullThrottle:
		return false
	}
	return s.role == roleESME
}

// accepts reports whether a request from the peer makes sense for our role.
func (s *Session) accepts(id CommandID) bool {
	if s.role == roleESME {
		return id == DeliverSMID || id == DataSMID || id == AlertNotificationID
	}
	switch id {
	case SubmitSMID, SubmitMultiID, DataSMID, QuerySMID, CancelSMID, ReplaceSMID:
		return true
	}
	return false
}

func (s *Session) worker() {
	defer s.loops.Done()
	for {
		select {
		case r := <-s.inbound:
			s.serve(r)
		case <-s.closing:
			return
		}
	}
}

func (s *Session) serve(r *Request) {
	if h := s.opts.Handler; h != nil {
		h.ServeSMPP(s.ctx, r)
	}
	if r.state.Load() != reqOpen {
		return
	}
	st := ESME_RSYSERR
	if r.Header.ID == DeliverSMID || r.Header.ID == DataSMID {
		st = ESME_RX_T_APPN
	}
	if s.opts.Handler != nil {
		s.logger().Warn().Str("command", r.Header.ID.String()).Msg("handler returned without answering; answered with a temporary error")
	}
	_ = r.Respond(st, nil)
}

// ---- keepalive ----

func (s *Session) keepalive() {
	defer s.loops.Done()
	t := time.NewTicker(s.opts.EnquireLinkInterval)
	defer t.Stop()
	last := s.rxFrames.Load()
	for {
		select {
		case <-t.C:
		case <-s.closing:
			return
		}
		if now := s.rxFrames.Load(); now != last {
			last = now
			s.elOut.Store(0)
			continue
		}
		if int(s.elOut.Add(1)) > s.opts.MaxEnquireLinkOutstanding {
			s.logger().Warn().Int("unanswered", s.opts.MaxEnquireLinkOutstanding).Msg("enquire_link unanswered; closing")
			s.close(CloseEnquireLinkTimeout, errors.New("smpp: peer silent beyond the enquire_link budget"))
			return
		}
		s.stats.enquireLinks.Add(1)
		_ = s.enqueue(s.nextSeq(), ESME_ROK, &EnquireLink{})
	}
}

// ---- closing ----

// close tears the session down once: it stops new work, fails every waiter with a
// *ClosedError, lets the writer flush what is queued, and closes the connection.
func (s *Session) close(reason CloseReason, err error) {
	s.closeOnce.Do(func() {
		s.closeReason.Store(int32(reason))
		s.closeErr = err
		s.state.Store(int32(StateClosed))
		if t := s.bindTimer.Load(); t != nil {
			t.Stop()
		}
		s.wmu.Lock()
		close(s.closing)
		s.wmu.Unlock()
		s.cancel()
		// A writer stuck on a peer that reads nothing must not hold the close up forever.
		safety := time.AfterFunc(min(s.opts.WriteTimeout, time.Second)+100*time.Millisecond, func() { _ = s.conn.Close() })
		s.mu.Lock()
		calls := s.pending
		s.pending = map[uint32]*call{}
		s.mu.Unlock()
		for _, c := range calls {
			c.done <- result{err: &ClosedError{Reason: reason, InFlight: true, Err: err}}
		}
		ev := s.logger().Info()
		if err != nil && reason != ClosePeerClosed {
			ev = s.logger().Warn().Err(err)
		}
		ev.Str("reason", reason.String()).Msg("session closed")
		go func() {
			s.loops.Wait()
			safety.Stop()
			if s.server != nil {
				s.server.forget(s)
			}
			close(s.done)
			if s.opts.OnClose != nil {
				s.opts.OnClose(s, reason, err)
			}
		}()
	})
}

func (s *Session) closedErr(inFlight bool) error {
	return &ClosedError{Reason: s.CloseReason(), InFlight: inFlight, Err: s.closeErr}
}

// Abort closes the connection at once, without unbinding. Waiters get a *ClosedError.
func (s *Session) Abort() {
	s.close(CloseAborted, nil)
	<-s.done
}

// Close unbinds gracefully: it stops accepting new requests, waits (until ctx ends) for the
// window to drain, sends unbind and waits briefly (Options.UnbindTimeout) for unbind_resp,
// then closes. It returns once the session is closed.
func (s *Session) Close(ctx context.Context) error {
	if !s.state.CompareAndSwap(int32(StateBound), int32(StateUnbinding)) {
		s.close(CloseLocalUnbind, nil)
		<-s.done
		return nil
	}
	s.mu.Lock()
	empty := len(s.pending) == 0
	s.mu.Unlock()
	if !empty {
		select {
		case <-s.drained:
		case <-ctx.Done():
		case <-s.closing:
		}
	}
	s.unbound.Store(true)
	uctx, cancel := context.WithTimeout(ctx, s.opts.UnbindTimeout)
	_, err := s.do(uctx, &Unbind{}, false)
	cancel()
	if err != nil && !errors.Is(err, ErrSessionClosed) {
		s.logger().Debug().Err(err).Msg("no unbind_resp; closing anyway")
	}
	s.close(CloseLocalUnbind, nil)
	<-s.done
	return nil
}

func (s *Session) signalDrainedLocked() {
	if len(s.pending) == 0 && s.State() == StateUnbinding {
		select {
		case s.drained <- struct{}{}:
		default:
		}
	}
}
