package dispatch

import (
	"context"
	"errors"
	"hash/fnv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/store"
)

// Bind leases share a carrier's binds between the instances on one store. binds[].count is
// the deployment's total: every bind (link) is a slot, named by its link name, and an
// instance runs a link's supervisor only while it holds that slot's lease
// (store.BindLeases), so that all instances together never hold more binds than
// configured.
//
// One lease loop per carrier, every LeaseTTL/3:
//
//   - renews every lease the instance holds in one RenewBinds call. A lease the store says
//     is lost is stopped at once: the supervisor's context is cancelled and its session
//     aborted, for another instance may be binding the slot already.
//   - Each lease also has a local deadline: the time its last successful renewal (or its
//     acquisition) was sent, plus LeaseTTL, minus a margin of LeaseTTL/5. The store's
//     expiry is never earlier, since the store started its ttl after the request left. When
//     the deadline passes without a renewal (the store is unreachable, a partition) the
//     link stops by itself, by a timer that does not wait for the store: a graceful unbind
//     for half the margin, then the connection is cut, before the lease could lapse and be
//     taken. A bind whose lease cannot be renewed is unbound.
//   - takes free slots up to the instance's fair share, ceil(slots of the carrier / live
//     members), and gives up (gracefully: unbind, drain, then ReleaseBind) slots held above
//     it, so that an instance that comes back gets its share within a round or two.
//
// An instance that dies leaves its leases to lapse: the others take them within LeaseTTL
// plus one round. One that shuts down unbinds, then releases its leases: the others take
// them at their next round.
//
// A link whose slot this instance does not hold has no supervisor running here, so it counts
// as down for this instance (pool.up, pool.pick), and pool.held says how many sending slots
// the instance holds (see carrier.go's failover, which must not act on a carrier none of
// whose binds are this instance's to see).

// DefaultLeaseTTL is Options.LeaseTTL's default. Six seconds: a dead instance's binds are
// taken over within seconds (the lease lapses, then another instance's round, every two
// seconds, takes it), while renewals, every two seconds, leave room for a slow round trip
// or two: a renewal round trip takes a millisecond, and only when two renewals in a row
// fail is the bind given up.
const DefaultLeaseTTL = 6 * time.Second

// MemberCounter is an optional capability of Options.Membership: the number of instances
// alive now (this one included), by which each instance's fair share of a carrier's binds
// is ceil(binds / members). A Membership without it (or reporting less than 1) counts as
// alone, and takes every slot it can get.
type MemberCounter interface {
	LiveMembers() int
}

// slotState is where a link stands with its slot's lease.
type slotState uint8

const (
	slotFree      slotState = iota // not held; no supervisor runs
	slotHeld                       // held; the supervisor runs
	slotReleasing                  // held, above the fair share: the supervisor unbinds, then the lease is released
	slotLost                       // the lease is gone (lost, or past its deadline); the supervisor is being stopped
)

// linkLease is one link's lease, as this instance sees it.
type linkLease struct {
	// Guarded by leaser.mu.
	state    slotState
	lease    store.BindLease
	deadline time.Time          // local: when this instance must stop believing it holds the slot
	timer    *time.Timer        // stops the link at deadline
	cancel   context.CancelFunc // stops the supervisor
	done     chan struct{}      // closed when the supervisor has returned; nil when none runs

	held   atomic.Bool                  // state is slotHeld: the link is this instance's to run
	holder atomic.Pointer[string]       // holder last seen (this instance's name while held)
	sess   atomic.Pointer[smpp.Session] // the supervisor's bound session, from its events
	losses atomic.Uint64                // leases lost, or past their deadline, while held here
}

// observe keeps the link's current session, for a hard stop.
func (ll *linkLease) observe(e smpp.Event) {
	switch e.Kind {
	case smpp.EventBound:
		ll.sess.Store(e.Session)
	case smpp.EventClosed:
		ll.sess.CompareAndSwap(e.Session, nil)
	}
}

// leaser runs the bind leases of one carrier's pool.
type leaser struct {
	p       *pool
	carrier string
	bl      store.BindLeases
	members Membership
	ttl     time.Duration
	margin  time.Duration
	every   time.Duration
	order   []*link // acquisition order: the bind groups interleaved
	log     zerolog.Logger
	wake    chan struct{}

	mu      sync.Mutex
	parent  context.Context // the supervisors' parent context (run's)
	wg      *sync.WaitGroup // counts the supervisors' goroutines
	failing bool            // the last renewal failed (logged once)
}

func newLeaser(p *pool, c *CarrierOptions, o *Options) *leaser {
	ls := &leaser{
		p: p, carrier: c.Name, bl: o.Leases, members: o.Membership,
		ttl: o.LeaseTTL, margin: o.LeaseTTL / 5, every: o.LeaseTTL / 3,
		log:  o.Logger.With().Str("carrier", c.Name).Logger(),
		wake: make(chan struct{}, 1),
	}
	for _, l := range p.links {
		l.lease = &linkLease{}
		l.lease.timer = time.AfterFunc(time.Hour, func() { ls.expired(l) })
		l.lease.timer.Stop()
	}
	// Interleave the groups (tx.0, rx.0, tx.1, rx.1 …) so that a share smaller than the
	// carrier's binds gets some of each kind.
	byGroup := map[int][]*link{}
	groups := 0
	for _, l := range p.links {
		byGroup[l.group] = append(byGroup[l.group], l)
		groups = max(groups, l.group+1)
	}
	for i := 0; len(ls.order) < len(p.links); i++ {
		for g := range groups {
			if i < len(byGroup[g]) {
				ls.order = append(ls.order, byGroup[g][i])
			}
		}
	}
	return ls
}

func (ls *leaser) poke() {
	select {
	case ls.wake <- struct{}{}:
	default:
	}
}

// run is the lease loop; it returns when ctx has ended, every supervisor has unbound and
// every lease is released.
func (ls *leaser) run(ctx context.Context, wg *sync.WaitGroup) {
	ls.mu.Lock()
	ls.parent, ls.wg = ctx, wg
	ls.mu.Unlock()
	bg := context.WithoutCancel(ctx)
	t := time.NewTicker(ls.every)
	defer t.Stop()
	for ctx.Err() == nil {
		if ls.renew(bg) {
			ls.balance(ctx)
		}
		select {
		case <-ctx.Done():
		case <-t.C:
		case <-ls.wake:
		}
	}
	ls.shutdown(bg, t)
}

// shutdown waits for the supervisors (their contexts ended with run's) to unbind, renewing
// meanwhile, for the binds are up until then; then it releases the leases so that other
// instances take the slots at once.
func (ls *leaser) shutdown(ctx context.Context, t *time.Ticker) {
	ls.mu.Lock()
	var dones []chan struct{}
	for _, l := range ls.p.links {
		if l.lease.done != nil {
			dones = append(dones, l.lease.done)
		}
	}
	ls.mu.Unlock()
	for _, done := range dones {
	wait:
		for {
			select {
			case <-done:
				break wait
			case <-t.C:
				ls.renew(ctx)
			}
		}
	}
	ls.mu.Lock()
	var leases []store.BindLease
	for _, l := range ls.p.links {
		ll := l.lease
		if ll.state == slotHeld || ll.state == slotReleasing {
			leases = append(leases, ll.lease)
		}
		ll.state = slotFree
		ll.held.Store(false)
		ll.holder.Store(nil)
		ll.timer.Stop()
	}
	ls.mu.Unlock()
	rctx, cancel := context.WithTimeout(ctx, ls.every) // one bound for all: the store may be gone
	defer cancel()
	for _, l := range leases {
		if err := ls.bl.ReleaseBind(rctx, l); err != nil {
			ls.log.Warn().Err(err).Str("link", l.Slot).Msg("could not release a bind slot at shutdown; it lapses by itself")
		}
	}
	if len(leases) > 0 {
		ls.log.Info().Int("slots", len(leases)).Msg("released bind slots")
	}
	ls.p.linkChanged(time.Now())
}

// renew renews every lease held (or being released) in one call, stops the links whose
// lease is lost and moves the deadlines of the others. It reports whether the store
// answered (or there was nothing to renew).
func (ls *leaser) renew(ctx context.Context) bool {
	ls.mu.Lock()
	var links []*link
	var leases []store.BindLease
	for _, l := range ls.p.links {
		if st := l.lease.state; st == slotHeld || st == slotReleasing {
			links = append(links, l)
			leases = append(leases, l.lease.lease)
		}
	}
	ls.mu.Unlock()
	if len(leases) == 0 {
		return true
	}
	rctx, cancel := context.WithTimeout(ctx, ls.every)
	sent := time.Now()
	errs, err := ls.bl.RenewBinds(rctx, ls.ttl, leases...)
	cancel()
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if err == nil && len(errs) != len(leases) {
		err = errors.New("store answered for a different number of leases")
	}
	if err != nil {
		if !ls.failing {
			ls.failing = true
			ls.log.Warn().Err(err).Int("slots", len(leases)).
				Msg("cannot renew bind slot leases; the binds stop at their deadline unless a renewal gets through")
		}
		return false
	}
	if ls.failing {
		ls.failing = false
		ls.log.Info().Msg("bind slot leases reachable again")
	}
	deadline := sent.Add(ls.ttl - ls.margin)
	for i, l := range links {
		ll := l.lease
		if (ll.state != slotHeld && ll.state != slotReleasing) || ll.lease.Token != leases[i].Token {
			continue // changed while the call was out
		}
		if errs[i] != nil {
			ls.loseLocked(l, true, "the store says another instance holds it, or it lapsed")
			continue
		}
		if deadline.After(ll.deadline) {
			ll.deadline = deadline
			ll.timer.Reset(time.Until(deadline))
		}
	}
	return true
}

// expired runs when a link's deadline timer fires.
func (ls *leaser) expired(l *link) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	ll := l.lease
	if (ll.state == slotHeld || ll.state == slotReleasing) && !time.Now().Before(ll.deadline) {
		ls.loseLocked(l, false, "no renewal got through before its deadline")
	}
}

// loseLocked stops a link whose lease is lost (gone: its slot may be bound by another
// instance right now) or past its deadline (it may lapse soon): the supervisor's context is
// cancelled, and the session is cut at once when gone, after half the margin otherwise.
func (ls *leaser) loseLocked(l *link, gone bool, why string) {
	ll := l.lease
	ll.timer.Stop()
	ll.held.Store(false)
	ll.holder.Store(nil)
	ll.losses.Add(1)
	ls.log.Warn().Str("link", l.name).Int64("token", ll.lease.Token).Str("why", why).Msg("bind slot lease lost; unbinding")
	done := ll.done
	if done == nil {
		ll.state = slotFree
		ls.p.linkChanged(time.Now())
		return
	}
	ll.state = slotLost
	ll.cancel()
	after := ls.margin / 2
	if gone {
		after = 0
	}
	go hardStop(ll, done, after)
	ls.p.linkChanged(time.Now())
}

// hardStop aborts the link's session unless its supervisor has returned after `after`, and
// keeps aborting whatever session it has until it returns.
func hardStop(ll *linkLease, done <-chan struct{}, after time.Duration) {
	if after > 0 {
		t := time.NewTimer(after)
		select {
		case <-done:
			t.Stop()
			return
		case <-t.C:
		}
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if s := ll.sess.Load(); s != nil {
			s.Abort()
		}
		select {
		case <-done:
			return
		case <-tick.C:
		}
	}
}

// share is this instance's fair share of the carrier's slots.
func (ls *leaser) share() int {
	live := 1
	if mc, ok := ls.members.(MemberCounter); ok {
		live = max(1, mc.LiveMembers())
	}
	n := len(ls.p.links)
	return (n + live - 1) / live
}

// balance takes free slots up to the fair share, or gives up the ones above it.
func (ls *leaser) balance(ctx context.Context) {
	share := ls.share()
	ls.mu.Lock()
	active := 0
	for _, l := range ls.order {
		if l.lease.state == slotHeld {
			active++
		}
	}
	if active > share {
		for i := len(ls.order) - 1; i >= 0 && active > share; i-- {
			if l := ls.order[i]; l.lease.state == slotHeld {
				ls.releaseLocked(l)
				active--
			}
		}
		ls.mu.Unlock()
		return
	}
	holder := ls.members.Consumer()
	var free []*link
	if active < share {
		// Start at a place of this instance's own, so that instances starting together do
		// not all ask for the same slot first.
		h := fnv.New32a()
		_, _ = h.Write([]byte(holder))
		off := int(h.Sum32() % uint32(len(ls.order)))
		for i := range ls.order {
			if l := ls.order[(off+i)%len(ls.order)]; l.lease.state == slotFree && l.lease.done == nil {
				free = append(free, l)
			}
		}
	}
	ls.mu.Unlock()
	// A member whose heartbeat lapsed takes nothing new until it has joined again; the
	// leases it holds stay valid (each is fenced by its own token) and keep being renewed.
	if len(free) == 0 || !ls.members.Valid(holder) {
		return
	}
	for _, l := range free {
		if active >= share || ctx.Err() != nil {
			return
		}
		actx, cancel := context.WithTimeout(ctx, ls.every)
		sent := time.Now()
		lease, ok, err := ls.bl.AcquireBind(actx, l.name, holder, ls.ttl)
		cancel()
		if err != nil {
			ls.mu.Lock()
			if !ls.failing && ctx.Err() == nil {
				ls.failing = true
				ls.log.Warn().Err(err).Str("link", l.name).Msg("cannot acquire a bind slot lease")
			}
			ls.mu.Unlock()
			return
		}
		ls.mu.Lock()
		if ls.failing {
			ls.failing = false
			ls.log.Info().Msg("bind slot leases reachable again")
		}
		ls.mu.Unlock()
		if !ok {
			l.lease.holder.Store(&lease.Holder)
			continue
		}
		ls.mu.Lock()
		if ctx.Err() != nil || l.lease.state != slotFree || l.lease.done != nil || !time.Now().Before(sent.Add(ls.ttl-ls.margin)) {
			ls.mu.Unlock()
			ls.giveBack(ctx, lease)
			continue
		}
		ls.startLocked(l, lease, sent)
		ls.mu.Unlock()
		active++
	}
}

// giveBack releases a lease that was acquired but will not be used.
func (ls *leaser) giveBack(ctx context.Context, l store.BindLease) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ls.every)
	defer cancel()
	_ = ls.bl.ReleaseBind(rctx, l)
}

// startLocked runs the link's supervisor under lease, acquired by a request sent at sent.
func (ls *leaser) startLocked(l *link, lease store.BindLease, sent time.Time) {
	ll := l.lease
	if !ls.p.up() && ls.p.held() == 0 {
		// The carrier was not this instance's to see: it counts as down from now, not from
		// before it held any slot (see pool.downFor).
		ls.p.downSince.Store(time.Now().UnixNano())
	}
	ll.state, ll.lease = slotHeld, lease
	ll.deadline = sent.Add(ls.ttl - ls.margin)
	ll.timer.Reset(time.Until(ll.deadline))
	ll.holder.Store(&lease.Holder)
	ll.held.Store(true)
	sctx, cancel := context.WithCancel(ls.parent)
	done := make(chan struct{})
	ll.cancel, ll.done = cancel, done
	ls.log.Info().Str("link", l.name).Int64("token", lease.Token).Msg("bind slot acquired")
	ls.wg.Add(1)
	go func() {
		defer ls.wg.Done()
		_ = l.sv.Run(sctx)
		cancel()
		ls.mu.Lock()
		ll.done = nil
		if ll.state == slotLost {
			ll.state = slotFree
		}
		ls.mu.Unlock()
		close(done)
		ls.poke()
		ls.p.linkChanged(time.Now())
	}()
}

// releaseLocked gives a slot up gracefully: the supervisor unbinds (waiting for the window
// to drain) while the lease is still renewed, then the lease is released.
func (ls *leaser) releaseLocked(l *link) {
	ll := l.lease
	ll.state = slotReleasing
	ll.held.Store(false)
	ll.cancel()
	done, lease := ll.done, ll.lease
	ls.log.Info().Str("link", l.name).Msg("giving up a bind slot above this instance's share")
	ls.p.linkChanged(time.Now())
	go func() {
		if done != nil {
			<-done
		}
		rctx, cancel := context.WithTimeout(context.Background(), ls.every)
		err := ls.bl.ReleaseBind(rctx, lease)
		cancel()
		if err != nil {
			ls.log.Warn().Err(err).Str("link", l.name).Msg("could not release a bind slot; it lapses by itself")
		}
		ls.mu.Lock()
		if ll.state == slotReleasing && ll.lease.Token == lease.Token {
			ll.state = slotFree
			ll.holder.Store(nil)
			ll.timer.Stop()
		}
		ls.mu.Unlock()
		ls.poke()
	}()
}

// BindSlot is one bind slot of a carrier and who holds it, for /readyz.
type BindSlot struct {
	Carrier string
	Slot    string // the link name
	// Holder is the consumer name (store.Member.Consumer) of the instance holding the
	// slot, "" when nobody does.
	Holder  string
	Token   int64     // the lease's fencing token (0 without leases)
	Expires time.Time // when the lease lapses unless renewed (zero without leases)
	Local   bool      // held by this instance
	Bound   bool      // bound by this instance now
}

// BindSlots lists every bind slot of every carrier, in configuration order, with its
// holder as the store has it (one BindLeases call). Without Options.Leases every slot is
// this instance's.
func (d *Dispatcher) BindSlots(ctx context.Context) ([]BindSlot, error) {
	var byslot map[string]store.BindLease
	if d.o.Leases != nil {
		ls, err := d.o.Leases.BindLeases(ctx, "")
		if err != nil {
			return nil, err
		}
		byslot = make(map[string]store.BindLease, len(ls))
		for _, l := range ls {
			byslot[l.Slot] = l
		}
	}
	var out []BindSlot
	for _, c := range d.order {
		for _, l := range c.pool.links {
			s := BindSlot{Carrier: c.o.Name, Slot: l.name, Bound: l.sv.Session() != nil}
			if l.lease == nil {
				s.Holder, s.Local = d.o.Membership.Consumer(), true
			} else if sl, ok := byslot[l.name]; ok {
				s.Holder, s.Token, s.Expires = sl.Holder, sl.Token, sl.Expires
				if c.pool.leases != nil {
					c.pool.leases.mu.Lock()
					s.Local = l.lease.state != slotFree && l.lease.lease.Token == sl.Token && l.lease.lease.Holder == sl.Holder
					c.pool.leases.mu.Unlock()
				}
			}
			out = append(out, s)
		}
	}
	return out, nil
}
