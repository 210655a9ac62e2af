package smpp

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"github.com/rs/zerolog"
)

// Options configure one session, on either side. The zero value is usable: every field has a
// documented default, applied to a copy by Dial and NewServer.
type Options struct {
	// WindowSize is how many of our requests may await a response at once. A caller of
	// Submit blocks, with its context, while the window is full. Default: 10.
	WindowSize int

	// ResponseTimeout bounds the wait for each response. When it passes the caller gets
	// ErrResponseTimeout, whose outcome is unknown. Default: 10 seconds.
	ResponseTimeout time.Duration

	// EnquireLinkInterval is how often the link is tested when no PDU has arrived in the
	// meantime; inbound traffic proves the link alive and postpones the test. Negative
	// disables keepalive. Default: 30 seconds.
	EnquireLinkInterval time.Duration

	// MaxEnquireLinkOutstanding is the budget of enquire_link sent without any PDU arriving
	// since; one more interval without traffic closes the session with
	// CloseEnquireLinkTimeout. Default: 3.
	MaxEnquireLinkOutstanding int

	// WriteTimeout bounds each write to the socket; a peer that stops reading for this long
	// closes the session with CloseWriteTimeout. Default: 10 seconds.
	WriteTimeout time.Duration

	// DialTimeout bounds the TCP (and TLS) connect. Default: 10 seconds.
	DialTimeout time.Duration

	// BindTimeout bounds the wait for bind_resp (client) or for the peer's bind (server).
	// Default: 10 seconds.
	BindTimeout time.Duration

	// UnbindTimeout bounds the wait for unbind_resp in a graceful close. Default: 2 seconds.
	UnbindTimeout time.Duration

	// DrainTimeout bounds the drain after an unbind: the peer's, which is answered at once,
	// or ours sent by Session.Unbind. While it drains, a session sends no new request (new
	// ones fail at once with a *ClosedError that is not InFlight: never sent), still matches
	// responses to the requests in flight, still answers enquire_link, and still serves the
	// peer's requests already accepted (and, on a client session, deliver_sm: carriers
	// often flush receipts before they close). It closes as soon as nothing is outstanding
	// either way, or when the peer closes the connection, or when DrainTimeout passes; our
	// requests still unanswered then fail with an unknown outcome (ErrDrainTimeout).
	// Negative closes at once on the peer's unbind, failing the requests in flight.
	// Default: ResponseTimeout.
	DrainTimeout time.Duration

	// MaxPDUSize bounds command_length of inbound frames. Default: DefaultMaxPDUSize (64 KiB).
	MaxPDUSize int

	// InboundWindow is how many requests from the peer may wait for a handler; what happens
	// to one beyond it is InboundFull's choice. Default: 256.
	InboundWindow int

	// InboundFull says what a session does with a request from the peer while InboundWindow
	// requests already wait for the Handler. Default (InboundFullDefault): a client session
	// (an ESME bound to a carrier) waits — it stops reading, so the carrier's window and
	// TCP fill and nothing is refused: carriers often retry a refused receipt a few times
	// or never, so refusing one loses it. A server session answers ESME_RTHROTTLED at once:
	// for clients submitting to us, throttling is the expected answer, and a flooding client
	// must not stall the routing of our own responses.
	InboundFull InboundFull

	// InboundWorkers is how many goroutines run the Handler. Default: 8.
	InboundWorkers int

	// Handler serves requests from the peer: deliver_sm and data_sm on an ESME, submit_sm and
	// the rest on an SMSC. Nil answers them with a temporary error (ESME_RX_T_APPN for
	// deliveries) so that nothing is acknowledged that nobody stored.
	Handler Handler

	// TLSConfig, when set, makes Dial speak TLS (and Server expect it, if the listener is
	// not already TLS).
	TLSConfig *tls.Config

	// Dialer dials the TCP connection; nil uses a net.Dialer with DialTimeout.
	Dialer func(ctx context.Context, network, addr string) (net.Conn, error)

	// OnClose, if set, is called once when the session has closed, after every waiter was
	// answered, with the reason and the error that caused it (nil for a graceful close).
	OnClose func(s *Session, reason CloseReason, err error)

	// Logger receives the session's log lines; the zero Logger discards them.
	Logger zerolog.Logger
}

// InboundFull is a session's answer to a request that finds the inbound window full.
type InboundFull int

const (
	// InboundFullDefault is InboundFullWait on client sessions, InboundFullThrottle on
	// server sessions.
	InboundFullDefault InboundFull = iota
	// InboundFullWait stops reading until a worker takes a request (counted in
	// Stats.InboundPauses).
	InboundFullWait
	// InboundFullThrottle answers ESME_RTHROTTLED at once (counted in Stats.InboundThrottled).
	InboundFullThrottle
)

// WithDefaults returns o with every zero field that has a documented default set to it.
func (o Options) WithDefaults() Options {
	o.setDefaults()
	return o
}

func (o *Options) setDefaults() {
	if o.WindowSize <= 0 {
		o.WindowSize = 10
	}
	if o.ResponseTimeout <= 0 {
		o.ResponseTimeout = 10 * time.Second
	}
	if o.EnquireLinkInterval == 0 {
		o.EnquireLinkInterval = 30 * time.Second
	}
	if o.MaxEnquireLinkOutstanding <= 0 {
		o.MaxEnquireLinkOutstanding = 3
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 10 * time.Second
	}
	if o.BindTimeout <= 0 {
		o.BindTimeout = 10 * time.Second
	}
	if o.UnbindTimeout <= 0 {
		o.UnbindTimeout = 2 * time.Second
	}
	if o.DrainTimeout == 0 {
		o.DrainTimeout = o.ResponseTimeout
	}
	if o.MaxPDUSize <= 0 {
		o.MaxPDUSize = DefaultMaxPDUSize
	}
	if o.InboundWindow <= 0 {
		o.InboundWindow = 256
	}
	if o.InboundWorkers <= 0 {
		o.InboundWorkers = 8
	}
}

// Validate checks the options after defaults, naming the offending field.
func (o *Options) Validate() error {
	c := *o
	c.setDefaults()
	switch {
	case c.WindowSize > 100000:
		return fmt.Errorf("smpp: WindowSize %d is unreasonably large (at most 100000)", c.WindowSize)
	case c.MaxPDUSize < HeaderLen+256:
		return fmt.Errorf("smpp: MaxPDUSize %d cannot hold a full submit_sm; at least %d", c.MaxPDUSize, HeaderLen+256)
	case c.EnquireLinkInterval > 0 && c.EnquireLinkInterval < 10*time.Millisecond:
		return fmt.Errorf("smpp: EnquireLinkInterval %s is below 10ms", c.EnquireLinkInterval)
	}
	return nil
}
