package smpp

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
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

	// The drain after an unbind, either way (see Options.DrainTimeout).
	stopped     atomic.Bool   // unbind sent or received: no new request of ours is written (set under wmu)
	drainReason atomic.Int32  // the CloseReason the drain ends with: ClosePeerUnbind or CloseLocalUnbind
	stopOnce    sync.Once     // closes stopping
	stopping    chan struct{} // closed once stopped is set: wakes callers waiting for window
	drainSig    chan struct{} // capacity 1: something outstanding finished while stopped
	inOpen      atomic.Int64  // the peer's requests handed to the Handler and not yet answered

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

		stopping: make(chan struct{}),
		drainSig: make(chan struct{}, 1),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.withLogFields(func(c zerolog.Context) zerolog.Context {
		return c.Uint64("session", s.id).Str("remote", conn.RemoteAddr().String())
	}, opts.Logger)
	// The read and write loops are counted from here, not from start: the server lists the
	// session (where Close can reach it) before starting it, and a close in between must
	// wait for loops that are about to run, not race their Add with its Wait.
	s.loops.Add(2)
	return s
}

// start runs the read and write loops newSession counted; every session is started.
func (s *Session) start() {
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
	if s.stopped.Load() && !p.CommandID().IsResponse() {
		// Unbind went one way or the other: a request now would follow it on the wire.
		return s.notSentErr()
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
	if s.stopped.Load() {
		// The peer closed the connection during the drain after an unbind (after its own,
		// a carrier's usual end once it has answered). What we still await has an unknown
		// outcome; that is worth a warning, a clean end is not.
		var cause error
		if ours, _ := s.outstanding(); ours > 0 {
			cause = fmt.Errorf("smpp: connection closed during the drain after unbind, %d requests unanswered: %w", ours, err)
		}
		s.close(CloseReason(s.drainReason.Load()), cause)
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
		if s.stopped.Load() {
			s.stats.drainAnswered.Add(1)
		}
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
		s.peerUnbind(h)
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
	if s.role == roleSMSC && s.stopped.Load() {
		// The ESME unbound (or we did): it may start nothing new, and what it sent before
		// is still answered. A client session, by contrast, still serves deliver_sm while it
		// drains: a carrier that unbinds often flushes receipts first, and refusing one
		// only makes it come again on the next bind.
		s.stats.drainRefused.Add(1)
		if h.ID.hasResponse() {
			_ = s.enqueue(h.Sequence, ESME_RINVBNDSTS, emptyResponse(h.ID))
		}
		return
	}
	r := &Request{Header: h, PDU: p, session: s}
	s.inOpen.Add(1) // before the hand-off: a worker may answer it at once
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
			s.answered()
		}
		s.stats.inboundPausedNanos.Add(uint64(time.Since(start)))
		return
	}
	s.answered()
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
		if s.stopped.Load() {
			continue // unbound: nothing new goes out, and the drain is bounded anyway
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
//
// If an unbind already went one way or the other (Unbind, or the peer's), Close waits for
// that drain to end, until ctx ends.
func (s *Session) Close(ctx context.Context) error {
	if !s.state.CompareAndSwap(int32(StateBound), int32(StateUnbinding)) {
		if s.stopped.Load() {
			return s.awaitDrain(ctx)
		}
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
	if s.stopped.Load() {
		return s.awaitDrain(ctx) // the peer unbound meanwhile
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
	s.pokeDrain()
}

// ---- the drain after an unbind ----

// peerUnbind answers the peer's unbind at once (SMPP 3.4 §4.2) and starts the drain: no new
// request of ours goes out, those in flight are still matched, the session closes once
// nothing is outstanding either way or Options.DrainTimeout passes. Requests queued but not
// yet written are withdrawn and fail as never sent: on the wire they would follow the unbind.
// Runs on the read loop.
func (s *Session) peerUnbind(h Header) {
	if s.State() == StateOpen || s.opts.DrainTimeout < 0 {
		_ = s.enqueue(h.Sequence, ESME_ROK, emptyUnbindResp)
		s.logger().Info().Msg("peer unbound")
		s.close(ClosePeerUnbind, nil)
		return
	}
	s.state.CompareAndSwap(int32(StateBound), int32(StateUnbinding))
	s.wmu.Lock()
	select {
	case <-s.closing:
		s.wmu.Unlock()
		return
	default:
	}
	first := !s.stopped.Load() // false: we sent unbind first; that drain goes on
	var withdrawn []uint32
	if first {
		s.drainReason.Store(int32(ClosePeerUnbind))
		s.stopped.Store(true)
		withdrawn = s.withdrawQueuedLocked()
		s.loops.Add(1) // for drain
	}
	var err error
	s.wbuf, err = s.enc.appendPDU(s.wbuf, h.Sequence, ESME_ROK, emptyUnbindResp)
	s.wmu.Unlock()
	s.wakeWriter()
	if !first {
		return
	}
	if err != nil { // cannot happen: an empty unbind_resp always encodes
		s.loops.Done()
		s.close(ClosePeerUnbind, err)
		return
	}
	for _, seq := range withdrawn {
		s.failUnsent(seq)
	}
	ours, theirs := s.outstanding()
	s.logger().Info().Int("awaiting", ours).Int("serving", theirs).Int("withdrawn", len(withdrawn)).
		Msg("peer unbound; draining")
	s.startDrain()
}

// Unbind sends unbind now, without first waiting for the window to drain (Close waits), as a
// carrier does when it moves a bind elsewhere: from then on no new request of ours goes out
// (new ones fail at once with a *ClosedError that is not InFlight), responses to those in
// flight are still matched, and the peer's requests already accepted are still answered,
// Detached ones included. New requests from an ESME are refused with ESME_RINVBNDSTS; a
// client session still serves deliver_sm. Unbind returns once unbind_resp has come (or
// Options.UnbindTimeout or ctx ran out); the session then closes by itself as soon as nothing
// is outstanding either way, the peer closes the connection, or Options.DrainTimeout passes
// (Done says when).
func (s *Session) Unbind(ctx context.Context) error {
	if !s.state.CompareAndSwap(int32(StateBound), int32(StateUnbinding)) {
		switch st := s.State(); {
		case st == StateClosed:
			return s.closedErr(false)
		case s.stopped.Load():
			return nil // an unbind already went one way or the other
		default:
			return fmt.Errorf("%w: session is %s", ErrNotBound, st)
		}
	}
	c := callPool.Get().(*call)
	c.cmd = UnbindID
	seq := s.nextSeq()
	s.mu.Lock()
	s.pending[seq] = c
	s.mu.Unlock()

	s.wmu.Lock()
	var err error
	select {
	case <-s.closing:
		err = s.closedErr(false)
	default:
		if s.stopped.Load() {
			err = errAlreadyUnbound // the peer's unbind came in between: its drain goes on
			break
		}
		s.wbuf, err = s.enc.appendPDU(s.wbuf, seq, ESME_ROK, &Unbind{})
		if err == nil {
			s.unbound.Store(true)
			s.drainReason.Store(int32(CloseLocalUnbind))
			s.stopped.Store(true)
			if s.opts.DrainTimeout >= 0 {
				// Not closing yet, so the read loop has not exited: Add cannot race Wait.
				s.loops.Add(1) // for drain
			}
		}
	}
	s.wmu.Unlock()
	if err != nil {
		if s.forget(seq) {
			callPool.Put(c)
		}
		if errors.Is(err, errAlreadyUnbound) {
			return nil
		}
		return err
	}
	s.wakeWriter()
	s.stats.sent.Add(1)
	s.logger().Info().Int("awaiting", len(s.window)).Int("serving", int(s.inOpen.Load())).Msg("unbinding; draining")
	if s.opts.DrainTimeout >= 0 {
		s.startDrain()
	} else {
		s.stopOnce.Do(func() { close(s.stopping) })
	}

	uctx, cancel := context.WithTimeout(ctx, s.opts.UnbindTimeout)
	defer cancel()
	var r result
	select {
	case r = <-c.done:
		callPool.Put(c)
	case <-uctx.Done():
		if s.forget(seq) {
			callPool.Put(c)
			r.err = fmt.Errorf("%w: no unbind_resp within %s", ErrResponseTimeout, s.opts.UnbindTimeout)
			if ctx.Err() != nil {
				r.err = ctx.Err()
			}
		} else {
			r = <-c.done
			callPool.Put(c)
		}
	}
	if s.opts.DrainTimeout < 0 {
		s.close(CloseLocalUnbind, nil)
	}
	return r.err
}

// errAlreadyUnbound is internal to Unbind: the peer's unbind overtook ours.
var errAlreadyUnbound = errors.New("smpp: already unbound")

// startDrain wakes callers waiting for window (they fail as never sent) and starts the
// goroutine that closes the session when the drain is over. The caller has done loops.Add
// for it, under wmu while the session was not closing.
func (s *Session) startDrain() {
	s.stopOnce.Do(func() { close(s.stopping) })
	go s.drain()
}

// drain closes the session once nothing is outstanding either way, or when DrainTimeout
// passes; the close fails what is still unanswered with an unknown outcome.
func (s *Session) drain() {
	defer s.loops.Done()
	reason := CloseReason(s.drainReason.Load())
	t := time.NewTimer(s.opts.DrainTimeout)
	defer t.Stop()
	start := time.Now()
	for {
		if ours, theirs := s.outstanding(); ours == 0 && theirs <= 0 {
			s.logger().Info().Dur("took", time.Since(start)).Uint64("answered", s.stats.drainAnswered.Load()).
				Msg("drained after unbind")
			s.close(reason, nil)
			return
		}
		select {
		case <-s.drainSig:
		case <-t.C:
			ours, theirs := s.outstanding()
			s.stats.drainUnanswered.Add(uint64(ours))
			s.close(reason, fmt.Errorf("%w: %d of our requests and %d of the peer's still open after %s",
				ErrDrainTimeout, ours, theirs, s.opts.DrainTimeout))
			return
		case <-s.closing:
			return
		}
	}
}

// outstanding returns how many of our requests await a response, and how many of the peer's
// await our answer.
func (s *Session) outstanding() (ours, theirs int) {
	s.mu.Lock()
	ours = len(s.pending)
	s.mu.Unlock()
	return ours, int(s.inOpen.Load())
}

// pokeDrain wakes the drain goroutine to look again.
func (s *Session) pokeDrain() {
	if s.stopped.Load() {
		select {
		case s.drainSig <- struct{}{}:
		default:
		}
	}
}

// answered records that one of the peer's requests handed to the Handler was answered (or
// dropped).
func (s *Session) answered() {
	s.inOpen.Add(-1)
	s.pokeDrain()
}

// notSentErr is the error of a request refused because an unbind went one way or the other:
// the peer never saw it.
func (s *Session) notSentErr() error {
	if r := CloseReason(s.drainReason.Load()); r != CloseNone {
		return &ClosedError{Reason: r}
	}
	return s.closedErr(false)
}

// withdrawQueuedLocked removes the requests not yet handed to the socket from the write
// buffer, keeping the responses (and their order), and returns the sequence numbers of the
// requests removed. Frames being written at this moment are not in wbuf: they count as sent.
// Callers hold wmu.
func (s *Session) withdrawQueuedLocked() []uint32 {
	var seqs []uint32
	b, kept := s.wbuf, s.wbuf[:0]
	for off := 0; off+HeaderLen <= len(b); {
		n := int(binary.BigEndian.Uint32(b[off:]))
		if n < HeaderLen || off+n > len(b) {
			break // cannot happen: the encoder writes whole frames
		}
		if CommandID(binary.BigEndian.Uint32(b[off+4:])).IsResponse() {
			kept = append(kept, b[off:off+n]...) // kept never overtakes off: a safe in-place copy
		} else {
			seqs = append(seqs, binary.BigEndian.Uint32(b[off+12:]))
		}
		off += n
	}
	s.wbuf = kept
	return seqs
}

// failUnsent fails the caller of a withdrawn request as never sent.
func (s *Session) failUnsent(seq uint32) {
	s.mu.Lock()
	c := s.pending[seq]
	if c != nil {
		delete(s.pending, seq)
		s.signalDrainedLocked()
	}
	s.mu.Unlock()
	if c == nil {
		return // keepalive's enquire_link: nobody waits for it
	}
	s.stats.withdrawn.Add(1)
	c.done <- result{err: s.notSentErr()}
}

// awaitDrain waits for the drain under way to close the session, or for ctx to end (then it
// closes it at once, failing what is still unanswered).
func (s *Session) awaitDrain(ctx context.Context) error {
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
	}
	s.close(CloseReason(s.drainReason.Load()), nil)
	<-s.done
	return nil
}
