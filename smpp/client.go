package smpp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"

	"github.com/rs/zerolog"
)

// Dial connects to an SMSC at addr ("host:port"), over TLS when opts.TLSConfig is set, and
// binds with b (b.Mode says transmitter, receiver or transceiver; InterfaceVersion defaults
// to 0x34). It returns a bound session, or an error: ctx's, a dial error, ErrBindTimeout, or a
// *StatusError carrying the SMSC's refusal (ESME_RINVPASWD …).
func Dial(ctx context.Context, addr string, b Bind, opts Options) (*Session, error) {
	opts.setDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if b.Mode == 0 {
		b.Mode = BindTransceiver
	}
	if b.InterfaceVersion == 0 {
		b.InterfaceVersion = 0x34
	}
	// Refuse bad bind fields before touching the network.
	if _, err := AppendPDU(nil, 1, ESME_ROK, &b); err != nil {
		return nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, opts.DialTimeout)
	defer cancel()
	conn, err := dial(dctx, addr, opts)
	if err != nil {
		return nil, fmt.Errorf("smpp: dial %s: %w", addr, err)
	}
	s := newSession(conn, roleESME, opts)
	s.withLogFields(func(c zerolog.Context) zerolog.Context { return c.Str("system_id", b.SystemID) }, *s.logger())
	s.start()

	bctx, bcancel := context.WithTimeout(ctx, opts.BindTimeout)
	defer bcancel()
	r, err := s.do(bctx, &b, false)
	if err != nil {
		reason := CloseBindRejected
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			err = fmt.Errorf("%w: no %s_resp from %s within %s", ErrBindTimeout, b.CommandID(), addr, opts.BindTimeout)
			reason = CloseBindTimeout
		}
		s.close(reason, err)
		<-s.done
		return nil, err
	}
	resp, _ := r.p.(*BindResp)
	if resp == nil { // a generic_nack with status OK: nonsense, but not a bind
		s.close(CloseBindRejected, nil)
		<-s.done
		return nil, &StatusError{Cmd: r.h.ID, Status: ESME_RBINDFAIL}
	}
	s.logger().Info().Msg("bound") // the read loop marked it bound on bind_resp
	return s, nil
}

func dial(ctx context.Context, addr string, opts Options) (net.Conn, error) {
	var conn net.Conn
	var err error
	if opts.Dialer != nil {
		conn, err = opts.Dialer(ctx, "tcp", addr)
	} else {
		var d net.Dialer
		conn, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, err
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	if opts.TLSConfig == nil {
		return conn, nil
	}
	cfg := opts.TLSConfig.Clone()
	if cfg.ServerName == "" {
		if host, _, herr := net.SplitHostPort(addr); herr == nil {
			cfg.ServerName = host
		}
	}
	tconn := tls.Client(conn, cfg)
	if err := tconn.HandshakeContext(ctx); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("tls handshake: %w", err)
	}
	return tconn, nil
}
