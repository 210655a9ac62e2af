package smpp

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// SupervisorOptions configure a Supervisor.
type SupervisorOptions struct {
	// Name identifies the link in logs and events (the carrier and bind, say "jio-tx-1").
	Name string

	// Addrs are the SMSC addresses, tried in turn: a failed dial or bind moves to the next.
	Addrs []string

	// Bind is sent on every connect.
	Bind Bind

	// Session configures each session the supervisor opens.
	Session Options

	// MinBackoff is the first wait after a failure, and the wait before reconnecting after a
	// session that was up closes. Default: 500 ms.
	MinBackoff time.Duration

	// MaxBackoff caps the exponential backoff. Default: 30 seconds.
	MaxBackoff time.Duration

	// PermanentBackoff is the floor of the wait after a bind refused for a reason that
	// retrying will not fix (ESME_RINVPASWD, ESME_RINVSYSID, ESME_RINVSYSTYP): hammering a
	// carrier with a wrong password gets the account locked. Default: 5 minutes.
	PermanentBackoff time.Duration

	// OnEvent, if set, is called for every state change, in order, from the supervisor's
	// goroutine; none is ever dropped. It must not block for long: the supervisor waits.
	OnEvent func(Event)

	// Logger receives the supervisor's log lines; the zero Logger discards them.
	Logger zerolog.Logger
}

// WithDefaults returns o with every zero field that has a documented default set to it.
func (o SupervisorOptions) WithDefaults() SupervisorOptions {
	o.setDefaults()
	return o
}

func (o *SupervisorOptions) setDefaults() {
	if o.MinBackoff <= 0 {
		o.MinBackoff = 500 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = o.MinBackoff
	}
	if o.PermanentBackoff <= 0 {
		o.PermanentBackoff = 5 * time.Minute
	}
}

// EventKind says what happened to a supervised link.
type EventKind int

const (
	EventConnecting    EventKind = iota + 1 // dialling Addr
	EventBound                              // bound; Session is set
	EventConnectFailed                      // dial or bind failed; Err says why, Backoff how long until the next try
	EventClosed                             // the bound session closed; Reason and Err say why
	EventStopped                            // the supervisor returned
)

func (k EventKind) String() string {
	switch k {
	case EventConnecting:
		return "connecting"
	case EventBound:
		return "bound"
	case EventConnectFailed:
		return "connect_failed"
	case EventClosed:
		return "closed"
	case EventStopped:
		return "stopped"
	}
	return fmt.Sprintf("event(%d)", int(k))
}

// Event is one state change of a supervised link.
type Event struct {
	Kind      EventKind
	Link      string // SupervisorOptions.Name
	Addr      string
	Attempt   int // consecutive failures so far, 0 once bound
	Session   *Session
	Reason    CloseReason
	Err       error
	Permanent bool          // the bind was refused for a reason retrying will not fix
	Backoff   time.Duration // wait before the next attempt
	Time      time.Time
}

// Supervisor keeps one bind up: dial → bind → serve → wait for close → back off → again,
// with capped exponential backoff and jitter, until its context ends.
type Supervisor struct {
	opts       SupervisorOptions
	current    atomic.Pointer[Session]
	reconnects atomic.Uint64
	failures   atomic.Uint64
	log        zerolog.Logger
}

// NewSupervisor returns a supervisor; start it with Run.
func NewSupervisor(opts SupervisorOptions) *Supervisor {
	opts.setDefaults()
	return &Supervisor{opts: opts, log: opts.Logger.With().Str("link", opts.Name).Logger()}
}

// Session returns the bound session, or nil while there is none.
func (sv *Supervisor) Session() *Session {
	if s := sv.current.Load(); s != nil && s.State() == StateBound {
		return s
	}
	return nil
}

// SupervisorStats counts a link's history.
type SupervisorStats struct {
	Reconnects      uint64 // binds after the first
	ConnectFailures uint64
	Bound           bool
}

// Stats returns the link's counters.
func (sv *Supervisor) Stats() SupervisorStats {
	return SupervisorStats{Reconnects: sv.reconnects.Load(), ConnectFailures: sv.failures.Load(), Bound: sv.Session() != nil}
}

func (sv *Supervisor) emit(e Event) {
	e.Link = sv.opts.Name
	e.Time = time.Now()
	if sv.opts.OnEvent != nil {
		sv.opts.OnEvent(e)
	}
}

// Run keeps the link up until ctx ends. On the way out it unbinds the current session
// gracefully, bounded by Session.UnbindTimeout plus the time the window needs to drain, and
// returns ctx.Err(). Every wait selects on ctx, so Run returns at once on shutdown.
func (sv *Supervisor) Run(ctx context.Context) error {
	defer sv.emit(Event{Kind: EventStopped})
	if len(sv.opts.Addrs) == 0 {
		return errors.New("smpp: supervisor " + sv.opts.Name + ": no SMSC address")
	}
	attempt, next, everBound := 0, 0, false
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		addr := sv.opts.Addrs[next%len(sv.opts.Addrs)]
		sv.emit(Event{Kind: EventConnecting, Addr: addr, Attempt: attempt})
		s, err := Dial(ctx, addr, sv.opts.Bind, sv.opts.Session)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			attempt++
			next++
			sv.failures.Add(1)
			delay := sv.backoff(attempt)
			var se *StatusError
			permanent := errors.As(err, &se) && se.Status.permanentBindFailure()
			if permanent {
				delay = max(delay, sv.opts.PermanentBackoff)
				sv.log.Warn().Err(err).Str("addr", addr).Dur("backoff", delay).Msg("bind refused; credentials or system type need fixing")
			} else {
				sv.log.Info().Err(err).Str("addr", addr).Int("attempt", attempt).Dur("backoff", delay).Msg("connect failed")
			}
			sv.emit(Event{Kind: EventConnectFailed, Addr: addr, Attempt: attempt, Err: err, Permanent: permanent, Backoff: delay})
			if !sleepCtx(ctx, delay) {
				return ctx.Err()
			}
			continue
		}
		if everBound {
			sv.reconnects.Add(1)
		}
		everBound, attempt = true, 0
		sv.current.Store(s)
		sv.emit(Event{Kind: EventBound, Addr: addr, Session: s})
		select {
		case <-s.Done():
		case <-ctx.Done():
			cctx, cancel := context.WithTimeout(context.Background(), s.opts.UnbindTimeout+s.opts.ResponseTimeout)
			_ = s.Close(cctx)
			cancel()
		}
		sv.current.CompareAndSwap(s, nil)
		sv.emit(Event{Kind: EventClosed, Addr: addr, Session: s, Reason: s.CloseReason(), Err: s.Err()})
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// The link was up: come back quickly, but jittered, so that a carrier restart is not
		// met by every bind of every instance in the same millisecond.
		if !sleepCtx(ctx, jitter(sv.opts.MinBackoff)) {
			return ctx.Err()
		}
	}
}

// backoff returns the capped exponential delay for the n-th consecutive failure, jittered.
func (sv *Supervisor) backoff(n int) time.Duration {
	d := sv.opts.MinBackoff
	for i := 1; i < n && d < sv.opts.MaxBackoff; i++ {
		d *= 2
	}
	return jitter(min(d, sv.opts.MaxBackoff))
}

// jitter returns a duration in [d/2, d).
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	half := d / 2
	return half + rand.N(d-half)
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
