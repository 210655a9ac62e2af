package dispatch

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smppd/smppd/smpp"
)

// link is one supervised bind of a carrier.
type link struct {
	name   string
	sv     *smpp.Supervisor
	pace   *pacer     // the bind's own cap (unlimited when it has none)
	sends  bool       // transmitter or transceiver
	window int        // its session's window
	group  int        // index of its bind group
	lease  *linkLease // its slot's lease; nil without Options.Leases (lease.go)
}

// pool holds a carrier's binds and picks the least loaded bound one for each submit.
type pool struct {
	links     []*link
	capacity  int           // sum of the sending binds' windows: the carrier's most requests in flight
	downSince atomic.Int64  // unix nanos since no sending bind is bound; 0 while one is
	changed   chan struct{} // closed and replaced whenever a bind comes up, to wake waiters
	mu        sync.Mutex
	leases    *leaser // nil without Options.Leases: every bind runs here (lease.go)
}

func newPool(c *CarrierOptions, o *Options) *pool {
	p := &pool{changed: make(chan struct{})}
	p.downSince.Store(o.Now().UnixNano())
	for gi, g := range c.Binds {
		sess := g.Session
		if o.Receipts != nil { // the one way in for deliver_sm (validate refuses a Session.Handler)
			sess.Handler = o.Receipts.Handler(c.Name)
		}
		window := sess.WindowSize
		if window <= 0 {
			window = 10
		}
		for i := range g.Count {
			l := &link{name: linkName(c.Name, g.Bind.Mode, gi, i), sends: g.Bind.Mode == 0 || g.Bind.Mode.CanSend(), pace: newPacer(g.MPS), group: gi, window: window}
			if l.sends {
				p.capacity += window
			}
			carrier := c.Name
			log := o.Logger.With().Str("carrier", carrier).Str("link", l.name).Logger()
			sess.Logger = log
			l.sv = smpp.NewSupervisor(smpp.SupervisorOptions{
				Name: l.name, Addrs: g.Addrs, Bind: g.Bind, Session: sess, Logger: log,
				MinBackoff: g.ReconnectMin, MaxBackoff: g.ReconnectMax, PermanentBackoff: g.PermanentBackoff,
				OnEvent: func(e smpp.Event) {
					if l.lease != nil {
						l.lease.observe(e)
					}
					p.linkChanged(o.Now())
					if o.OnLinkEvent != nil {
						o.OnLinkEvent(carrier, e)
					}
				},
			})
			p.links = append(p.links, l)
		}
	}
	if o.Leases != nil {
		p.leases = newLeaser(p, c, o)
	}
	return p
}

func linkName(carrier string, mode smpp.BindMode, group, i int) string {
	m := "trx"
	switch mode {
	case smpp.BindTransmitter:
		m = "tx"
	case smpp.BindReceiver:
		m = "rx"
	}
	return carrier + "-" + m + "-" + itoa(group) + "." + itoa(i)
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

// run starts every supervisor; they stop when ctx ends, unbinding their sessions. With
// leases it starts the lease loop instead, which runs each supervisor while it holds the
// link's slot and, when ctx ends, releases the slots once the supervisors have unbound.
func (p *pool) run(ctx context.Context, wg *sync.WaitGroup) {
	if p.leases != nil {
		wg.Add(1)
		go func() { defer wg.Done(); p.leases.run(ctx, wg) }()
		return
	}
	for _, l := range p.links {
		wg.Add(1)
		go func() { defer wg.Done(); _ = l.sv.Run(ctx) }()
	}
}

// linkChanged recomputes whether any sending bind is up and wakes waiters.
func (p *pool) linkChanged(now time.Time) {
	up := p.up()
	if up {
		p.downSince.Store(0)
	} else {
		p.downSince.CompareAndSwap(0, now.UnixNano())
	}
	p.mu.Lock()
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

// wait returns a channel closed at the next bind state change.
func (p *pool) wait() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.changed
}

func (p *pool) up() bool {
	for _, l := range p.links {
		if l.sends && l.sv.Session() != nil {
			return true
		}
	}
	return false
}

// held returns how many sending binds (transmitter, transceiver) are this instance's to
// run: with leases, the sending slots it holds now; without, all of them. A carrier with
// none held here is not this instance's to send on nor to judge down: up is false (it claims
// nothing, and hands back what it holds after HoldLimit), but it must not fail the
// carrier over, however long downFor says: other instances run its binds, and fail it over
// when they see them down.
// heldWindow is the sum of the windows of the sending binds this instance runs: the most
// messages it can have in flight on the carrier, and so the most it claims.
func (p *pool) heldWindow() int {
	n := 0
	for _, l := range p.links {
		if l.sends && (l.lease == nil || l.lease.held.Load()) {
			n += l.window
		}
	}
	return n
}

// othersRun reports whether the carrier's binds are other instances' to run: leases are on
// and this instance holds none of its sending slots (more instances than slots). Then the
// carrier is not down for routing, readiness or failover, and this instance claims nothing.
func (p *pool) othersRun() bool { return p.leases != nil && p.held() == 0 }

func (p *pool) held() int {
	n := 0
	for _, l := range p.links {
		if l.sends && (l.lease == nil || l.lease.held.Load()) {
			n++
		}
	}
	return n
}

// downFor says how long no sending bind has been up here (0 when one is). With leases it
// restarts when the instance takes a sending slot while holding none, so that the time
// it held no slot does not count towards failover.
func (p *pool) downFor(now time.Time) time.Duration {
	ns := p.downSince.Load()
	if ns == 0 {
		return 0
	}
	return now.Sub(time.Unix(0, ns))
}

// pick returns the bound sending session with the most free window, preferring among equals
// the one after the last picked so load spreads.
// linkName is the name of the bind whose session s is ("" when none is: it went away).
func (p *pool) linkName(s *smpp.Session) string {
	for _, l := range p.links {
		if l.sv.Session() == s {
			return l.name
		}
	}
	return ""
}

func (p *pool) pick() (*smpp.Session, *link) {
	var best *smpp.Session
	var bestLink *link
	bestFree := -1 << 30
	for _, l := range p.links {
		if !l.sends {
			continue
		}
		s := l.sv.Session()
		if s == nil {
			continue
		}
		st := s.WindowInUse()
		free := s.WindowSize() - st
		if free > bestFree {
			best, bestLink, bestFree = s, l, free
		}
	}
	return best, bestLink
}

// BindStats describes one bind for metrics.
type BindStats struct {
	Name  string
	Bound bool
	// Leased says the bind is this instance's to run: it holds the bind slot's lease, or
	// leases are off (Options.Leases nil: every bind is). A bind not leased here is down
	// here.
	Leased bool
	// Holder is the consumer name of the slot's holder as this instance last saw it: its
	// own name while Leased, another instance's when it last tried to take the slot and
	// could not, "" when unknown, free, or without leases. Dispatcher.BindSlots reads the
	// store for the current holders.
	Holder string
	// LeaseLosses counts the times this instance had to stop the bind because its lease
	// was lost or could not be renewed in time (the store unreachable).
	LeaseLosses uint64
	WindowInUse int
	WindowSize  int
	Reconnects  uint64
	Session     *smpp.Stats
}

func (p *pool) stats() []BindStats {
	out := make([]BindStats, 0, len(p.links))
	for _, l := range p.links {
		st := l.sv.Stats()
		b := BindStats{Name: l.name, Bound: st.Bound, Reconnects: st.Reconnects, Leased: true}
		if l.lease != nil {
			b.Leased, b.LeaseLosses = l.lease.held.Load(), l.lease.losses.Load()
			if h := l.lease.holder.Load(); h != nil {
				b.Holder = *h
			}
		}
		if s := l.sv.Session(); s != nil {
			ss := s.Stats()
			b.WindowInUse, b.WindowSize, b.Session = ss.WindowInUse, ss.WindowSize, &ss
		}
		out = append(out, b)
	}
	return out
}
