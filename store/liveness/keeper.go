// Package liveness keeps one smppd instance's heartbeat in the store, and tells the rest of
// the process under which name it may claim work and whether claims made under a name are
// still its own.
//
// An instance joins as a new incarnation of its configured name (store.Member) and renews
// its heartbeat every TTL/3. Other instances take over what a member holds as soon as its
// heartbeat is gone (store.Queue.TakeOver), so a heartbeat that is not renewed in time must
// stop this instance from acting on its claims before anyone else may act on them: the
// Keeper counts its own deadline from the moment a renewal was sent (never later than the
// store's), minus a margin for clock rate differences, and once it passes, Valid reports
// false for every claim made under that incarnation. When the store answers again, the
// instance joins as a new incarnation and claims afresh; what the old incarnation held is
// taken over like any dead member's. A slow instance whose heartbeat keeps up (a slow
// carrier, a busy CPU) never loses its claims.
package liveness

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/smppd/smppd/store"
)

// DefaultTTL is Options.TTL's default.
const DefaultTTL = 6 * time.Second

// Options configure a Keeper. The zero value of every field but Instance gives the default.
type Options struct {
	// Instance is this instance's name, the same across restarts (config `instance`). It
	// may not contain '~', '|' or white space.
	Instance string
	// TTL is the heartbeat's lifetime: how long after a crash others wait before taking
	// over. Default 6s: takeover within seconds, yet two missed renewals (every TTL/3) are
	// survived.
	TTL time.Duration
	// Margin is subtracted from TTL for the Keeper's own deadline, so that this instance
	// stops acting on its claims before the store lets others take them, whatever the
	// drift between the two clocks. Default TTL/5.
	Margin time.Duration
	// Logger receives joins, lapses and renewal errors.
	Logger zerolog.Logger
	// OnJoin, if set, is called after every join (the first and every rejoin) with the
	// new member.
	OnJoin func(store.Member)
	// Now is the clock; tests replace it. Default time.Now.
	Now func() time.Time
}

func (o *Options) setDefaults() error {
	if o.Instance == "" {
		return errors.New("liveness: Instance is required")
	}
	if strings.ContainsAny(o.Instance, "~| \t\r\n") {
		return fmt.Errorf("liveness: instance name %q may not contain '~', '|' or white space", o.Instance)
	}
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.Margin <= 0 {
		o.Margin = o.TTL / 5
	}
	if o.Margin >= o.TTL {
		return fmt.Errorf("liveness: Margin %v must be below TTL %v", o.Margin, o.TTL)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// Keeper keeps the heartbeat. It is safe for concurrent use.
type Keeper struct {
	s store.Liveness
	o Options

	member   atomic.Pointer[store.Member]
	deadline atomic.Int64 // unix nanos: the current member's claims are valid until then
	live     atomic.Int64 // live members at the last count (at least 1: this one)

	lapses, rejoins, renewErrors, conflicts, abandons atomic.Uint64
	rejoinMu                                          sync.Mutex // one join at a time (renewal, Abandon)
	abandoned                                         bool       // the current member is given up; the next round joins anew (rejoinMu)

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// Start joins s as a new incarnation of o.Instance (trying until ctx ends) and renews the
// heartbeat in the background until Stop.
func Start(ctx context.Context, s store.Liveness, o Options) (*Keeper, error) {
	if err := o.setDefaults(); err != nil {
		return nil, err
	}
	k := &Keeper{s: s, o: o, stop: make(chan struct{}), done: make(chan struct{})}
	k.live.Store(1)
	for {
		err := k.join(ctx)
		if err == nil {
			break
		}
		k.o.Logger.Error().Err(err).Msg("cannot join the store's members yet; retrying")
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("liveness: join: %w", err)
		case <-time.After(time.Second):
		}
	}
	go k.run()
	return k, nil
}

// join registers a new incarnation.
func (k *Keeper) join(ctx context.Context) error {
	m := store.NewMember(k.o.Instance)
	sent := k.o.Now()
	cctx, cancel := context.WithTimeout(ctx, k.o.TTL-k.o.Margin)
	defer cancel()
	if err := k.s.Join(cctx, m, k.o.TTL); err != nil {
		return err
	}
	k.member.Store(&m)
	k.deadline.Store(sent.Add(k.o.TTL - k.o.Margin).UnixNano())
	k.o.Logger.Info().Str("member", m.Consumer()).Dur("ttl", k.o.TTL).Msg("joined")
	if k.o.OnJoin != nil {
		k.o.OnJoin(m)
	}
	k.count(ctx)
	return nil
}

// count refreshes the number of live members.
func (k *Keeper) count(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, k.o.TTL/3)
	defer cancel()
	if ms, err := k.s.Members(cctx); err == nil {
		k.live.Store(int64(max(len(ms), 1)))
	}
}

func (k *Keeper) run() {
	defer close(k.done)
	t := time.NewTicker(k.o.TTL / 3)
	defer t.Stop()
	for {
		select {
		case <-k.stop:
			return
		case <-t.C:
		}
		k.renew()
	}
}

// renew extends the heartbeat once; on a lost one it joins again.
func (k *Keeper) renew() {
	k.rejoinMu.Lock()
	defer k.rejoinMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), k.o.TTL/3)
	defer cancel()
	m := *k.member.Load()
	if k.abandoned {
		k.rejoinAbandoned(ctx)
		return
	}
	sent := k.o.Now()
	err := k.s.Renew(ctx, m, k.o.TTL)
	switch {
	case err == nil:
		k.deadline.Store(sent.Add(k.o.TTL - k.o.Margin).UnixNano())
		k.count(ctx)
	case errors.Is(err, store.ErrLeaseLost):
		if k.deadline.Swap(0) != 0 {
			k.lapses.Add(1)
		}
		if other, ok := k.replacedBy(ctx, m); ok {
			// Another live process runs under this instance name (a copied configuration, two
			// hosts with one name). Joining again would replace it, and it us, back and forth,
			// each time handing over claims: stay out until it is gone.
			k.conflicts.Add(1)
			k.o.Logger.Error().Str("member", m.Consumer()).Str("other", other.Consumer()).
				Msg("another live process uses this instance name; not claiming anything until it stops (give every instance its own `instance`)")
			return
		}
		k.o.Logger.Warn().Str("member", m.Consumer()).
			Msg("heartbeat lapsed: other instances may have taken over this incarnation's claims; joining again")
		if err := k.join(context.Background()); err != nil {
			k.renewErrors.Add(1)
			k.o.Logger.Error().Err(err).Msg("joining again failed; retrying")
			return
		}
		k.rejoins.Add(1)
	default:
		k.renewErrors.Add(1)
		ev := k.o.Logger.Warn()
		if !k.Valid(m.Consumer()) {
			ev = k.o.Logger.Error()
		}
		ev.Err(err).Str("member", m.Consumer()).Bool("claims_valid", k.Valid(m.Consumer())).Msg("heartbeat renewal failed")
	}
}

// replacedBy returns the live incarnation of m's instance other than m, if there is one.
func (k *Keeper) replacedBy(ctx context.Context, m store.Member) (store.Member, bool) {
	ms, err := k.s.Members(ctx)
	if err != nil {
		return store.Member{}, false
	}
	for _, o := range ms {
		if o.Instance == m.Instance && o.Incarnation != m.Incarnation {
			return o, true
		}
	}
	return store.Member{}, false
}

// Abandon gives up the incarnation named consumer, if it is the current one, and joins as a
// new one. Callers use it when claims made under it may have leaked: a claim whose reply was
// lost (Redis restarted between doing it and answering) or a settlement that could not be
// stored leaves entries pending under a live name, which nothing would take over before an
// idle timeout of minutes. Once the name is dead, they are taken over at once like a crashed
// instance's (what was on the wire may be sent twice, and is counted). Claims held under the
// old name are dropped unsent by their holders (Valid is false from now on). Joining needs
// the store: when it fails the keeper retries at its next round, claiming nothing meanwhile.
func (k *Keeper) Abandon(consumer string) {
	k.rejoinMu.Lock()
	defer k.rejoinMu.Unlock()
	m := k.Member()
	if consumer != m.Consumer() {
		return // abandoned already
	}
	k.abandons.Add(1)
	k.deadline.Store(0)
	k.abandoned = true
	k.o.Logger.Warn().Str("member", consumer).Msg("abandoning this incarnation: some of its claims may have leaked; joining again so that they are taken over now")
	ctx, cancel := context.WithTimeout(context.Background(), k.o.TTL)
	defer cancel()
	k.rejoinAbandoned(ctx)
}

// rejoinAbandoned joins as a new incarnation after Abandon; on failure the next renewal
// round tries again (never renewing the abandoned one). Callers hold rejoinMu.
func (k *Keeper) rejoinAbandoned(ctx context.Context) {
	if err := k.join(ctx); err != nil {
		k.renewErrors.Add(1)
		k.o.Logger.Error().Err(err).Msg("joining again failed; retrying")
		return
	}
	k.abandoned = false
	k.rejoins.Add(1)
}

// Member returns the current incarnation.
func (k *Keeper) Member() store.Member { return *k.member.Load() }

// Consumer returns the name to claim under now.
func (k *Keeper) Consumer() string { return k.Member().Consumer() }

// Valid reports whether claims made under consumer may still be acted on: it is the current
// incarnation's name and its heartbeat is surely alive in the store.
func (k *Keeper) Valid(consumer string) bool {
	return consumer == k.Consumer() && k.o.Now().UnixNano() < k.deadline.Load()
}

// LiveMembers returns how many members were alive at the last renewal (at least 1).
func (k *Keeper) LiveMembers() int { return int(k.live.Load()) }

// Stats are the Keeper's counters, for metrics.
type Stats struct {
	Member      string
	Valid       bool
	LiveMembers int
	Lapses      uint64 // heartbeats found lapsed at renewal
	Rejoins     uint64 // joins after a lapse
	RenewErrors uint64 // renewals (or rejoins) that failed
	// Conflicts counts renewals that found another live process under this instance name.
	Conflicts uint64
	// Abandons counts incarnations given up because claims made under them may have leaked.
	Abandons uint64
}

// Stats returns the Keeper's counters.
func (k *Keeper) Stats() Stats {
	c := k.Consumer()
	return Stats{Member: c, Valid: k.Valid(c), LiveMembers: k.LiveMembers(),
		Lapses: k.lapses.Load(), Rejoins: k.rejoins.Load(), RenewErrors: k.renewErrors.Load(), Conflicts: k.conflicts.Load(), Abandons: k.abandons.Load()}
}

// Stop stops renewing and removes the heartbeat, so that others take over at once whatever
// this instance still holds (hand claims back before, for an orderly drain).
func (k *Keeper) Stop(ctx context.Context) error {
	k.once.Do(func() { close(k.stop) })
	<-k.done
	k.deadline.Store(0)
	return k.s.Leave(ctx, k.Member())
}
