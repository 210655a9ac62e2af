package smpp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Authenticator decides whether a bind is accepted. It returns ESME_ROK to accept, or the
// status to refuse with (ESME_RINVPASWD, ESME_RALYBND, ESME_RBINDFAIL …). It runs on the
// session's read loop before the session is bound, so it may take its time.
type Authenticator interface {
	Authenticate(ctx context.Context, s *Session, b *Bind) CommandStatus
}

// AuthenticatorFunc adapts a function to Authenticator.
type AuthenticatorFunc func(ctx context.Context, s *Session, b *Bind) CommandStatus

func (f AuthenticatorFunc) Authenticate(ctx context.Context, s *Session, b *Bind) CommandStatus {
	return f(ctx, s, b)
}

var _ Authenticator = AuthenticatorFunc(nil)

// ServerOptions configure a Server.
type ServerOptions struct {
	// Session configures every accepted session. Its Handler serves submit_sm and the rest.
	Session Options

	// SystemID is sent in bind responses. Default: "smppd".
	SystemID string

	// Authenticator decides binds. Required: a server without one refuses every bind with
	// ESME_RBINDFAIL, because an open SMSC by accident is worse than a refused bind.
	Authenticator Authenticator

	// OnBound, if set, is called when a session has bound, before any request is served.
	OnBound func(s *Session)

	// Logger receives the server's and its sessions' log lines (Session.Logger is ignored);
	// the zero Logger discards them.
	Logger zerolog.Logger
}

// Server accepts ESME binds: the SMSC side of the protocol, on the same framing, keepalive
// and close handling as the client. The simulator is built on it.
type Server struct {
	opts ServerOptions

	mu       sync.Mutex
	ln       net.Listener
	sessions map[*Session]struct{}
	closed   bool
	serving  sync.WaitGroup
}

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("smpp: server closed")

// NewServer returns a server; start it with Serve or ListenAndServe.
func NewServer(opts ServerOptions) *Server {
	if opts.SystemID == "" {
		opts.SystemID = "smppd"
	}
	opts.Session.Logger = opts.Logger
	opts.Session.setDefaults()
	return &Server{opts: opts, sessions: map[*Session]struct{}{}}
}

// ListenAndServe listens on addr (":0" picks a free port; see Addr) and serves. With
// Session.TLSConfig set it serves TLS.
func (srv *Server) ListenAndServe(addr string) error {
	ln, err := srv.Listen(addr)
	if err != nil {
		return err
	}
	return srv.Serve(ln)
}

// Listen opens the listening socket without serving yet, so a caller can learn Addr first.
func (srv *Server) Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("smpp: listen %s: %w", addr, err)
	}
	if srv.opts.Session.TLSConfig != nil {
		ln = tls.NewListener(ln, srv.opts.Session.TLSConfig)
	}
	srv.mu.Lock()
	srv.ln = ln
	srv.mu.Unlock()
	return ln, nil
}

// Addr returns the listening address, once Listen or Serve has been called.
func (srv *Server) Addr() net.Addr {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.ln == nil {
		return nil
	}
	return srv.ln.Addr()
}

// Serve accepts connections on ln until Shutdown or Close, and returns ErrServerClosed then.
func (srv *Server) Serve(ln net.Listener) error {
	srv.mu.Lock()
	if srv.closed {
		srv.mu.Unlock()
		_ = ln.Close()
		return ErrServerClosed
	}
	srv.ln = ln
	srv.serving.Add(1)
	srv.mu.Unlock()
	defer srv.serving.Done()
	var backoff time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			srv.mu.Lock()
			closed := srv.closed
			srv.mu.Unlock()
			if closed {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, errors.ErrUnsupported) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			if !errors.Is(err, net.ErrClosed) {
				// Out of file descriptors and the like: keep serving after a pause.
				srv.opts.Logger.Error().Err(err).Msg("accept failed")
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		srv.accept(conn)
	}
}

func (srv *Server) accept(conn net.Conn) {
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	srv.mu.Lock()
	if srv.closed {
		srv.mu.Unlock()
		_ = conn.Close()
		return
	}
	s := newSession(conn, roleSMSC, srv.opts.Session)
	s.server = srv
	srv.sessions[s] = struct{}{}
	srv.mu.Unlock()
	s.bindTimer.Store(time.AfterFunc(s.opts.BindTimeout, func() {
		if s.State() == StateOpen {
			s.close(CloseBindTimeout, fmt.Errorf("%w: no bind within %s", ErrBindTimeout, s.opts.BindTimeout))
		}
	}))
	s.start()
}

// bind runs on the session's read loop when an open server session receives a bind.
func (srv *Server) bind(s *Session, h Header, b *Bind) {
	st := ESME_RBINDFAIL
	if srv.opts.Authenticator != nil {
		st = srv.opts.Authenticator.Authenticate(s.ctx, s, b)
	}
	resp := &BindResp{Mode: b.Mode, SystemID: srv.opts.SystemID}
	if st != ESME_ROK {
		_ = s.enqueue(h.Sequence, st, resp)
		s.logger().Info().Str("system_id", b.SystemID).Str("status", st.String()).Msg("bind refused")
		s.close(CloseBindRejected, &StatusError{Cmd: h.ID.Response(), Status: st})
		return
	}
	if t := s.bindTimer.Load(); t != nil {
		t.Stop()
	}
	s.markBound(b.Mode, b.SystemID)
	if srv.opts.OnBound != nil {
		srv.opts.OnBound(s)
	}
	// The response goes out only after OnBound, so the simulator has registered the bind
	// before the ESME can act on it.
	_ = s.enqueue(h.Sequence, ESME_ROK, resp)
	s.logger().Info().Msg("bound")
}

func (srv *Server) forget(s *Session) {
	srv.mu.Lock()
	delete(srv.sessions, s)
	srv.mu.Unlock()
}

// Sessions returns the sessions currently open (bound or not).
func (srv *Server) Sessions() []*Session {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	out := make([]*Session, 0, len(srv.sessions))
	for s := range srv.sessions {
		out = append(out, s)
	}
	return out
}

func (srv *Server) stopAccepting() []*Session {
	srv.mu.Lock()
	srv.closed = true
	if srv.ln != nil {
		_ = srv.ln.Close()
	}
	out := make([]*Session, 0, len(srv.sessions))
	for s := range srv.sessions {
		out = append(out, s)
	}
	srv.mu.Unlock()
	return out
}

// Shutdown stops accepting, then unbinds every session gracefully (each drains its window
// until ctx ends), and returns when all are closed or ctx ends.
func (srv *Server) Shutdown(ctx context.Context) error {
	sessions := srv.stopAccepting()
	var wg sync.WaitGroup
	for _, s := range sessions {
		wg.Add(1)
		go func() { defer wg.Done(); _ = s.Close(ctx) }()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); srv.serving.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		for _, s := range sessions {
			s.close(CloseAborted, nil)
		}
		return ctx.Err()
	}
}

// Close stops accepting and drops every connection at once, without unbinding.
func (srv *Server) Close() error {
	for _, s := range srv.stopAccepting() {
		s.Abort()
	}
	srv.serving.Wait()
	return nil
}
