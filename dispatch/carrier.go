package dispatch

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/smppd/smppd/dlt"
	"github.com/smppd/smppd/internal/msisdn"
	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/store"
)

// held is a claimed message this instance has not finished.
type held struct {
	claim store.Claim
	// consumer is the name the claim was made under; once Membership says it is no longer
	// valid, the claim may be another instance's and is dropped unsent.
	consumer string
	seq      uint64    // claim order, which sending keeps across throttling and reconnects
	since    time.Time // when claimed
	// unknown marks a resend after an unknown outcome: the carrier may already have it.
	unknown bool
	// duplicate says this send may deliver a second copy; it reaches the record when the
	// message settles.
	duplicate bool
	// parts and done resume a long message whose later part was refused unsent (its bind
	// was unbinding): the encoded parts (their concatenation reference must not change) and
	// the carrier ids of the parts already accepted. Nil for a message not started. A sent
	// message settles with its parts, whose chain TLV the timeline keeps.
	parts []*smpp.SubmitSM
	done  []string
	// binds names the bind each accepted part went out on (for the timeline), beside done
	// and the ids finish gets.
	binds []string
}

// carrier runs one carrier's queue: claim, pace, send, settle.
type carrier struct {
	d    *Dispatcher
	o    *CarrierOptions
	pool *pool
	log  zerolog.Logger

	pace    *pacer  // adaptive, per segment
	maxRate float64 // configured cap (+Inf when none)

	inflight chan struct{} // a token per message being sent
	freed    chan struct{} // signalled when a token is returned
	senders  sync.WaitGroup

	mu           sync.Mutex
	front        []held // to send before anything newer, in seq order (throttled, interrupted)
	buf          []held // claimed, not started, in seq order
	seq          uint64
	pauseUntil   time.Time
	pauseDur     time.Duration
	lastThrottle time.Time
	ref          atomic.Uint32
	leakedUnder  atomic.Pointer[string] // a consumer name under which claims may have leaked
	started      time.Time

	segments atomic.Uint64 // segments sent, for estimating the rate when throttled
	observed atomic.Uint64 // segments per second over the last whole second
	ceiling  atomic.Uint64 // float64 bits: the pace when the carrier last throttled
	tickSeg  atomic.Uint64 // segments at the last pace tick
	tickAt   atomic.Int64  // unix nanos of the last pace tick
	stats    carrierStats
}

type carrierStats struct {
	submitted, failed, unknown, deferred, moved, duplicates, throttlePauses, reclaimed, windowDeferred, fenced atomic.Uint64
}

func newCarrier(d *Dispatcher, o *CarrierOptions) *carrier {
	c := &carrier{d: d, o: o, log: d.o.Logger.With().Str("carrier", o.Name).Logger()}
	c.pool = newPool(o, &d.o)
	c.maxRate = math.Inf(1)
	if o.MPS > 0 {
		c.maxRate = o.MPS
	}
	c.pace = newPacer(c.maxRate)
	c.inflight = make(chan struct{}, max(1, c.pool.capacity))
	c.freed = make(chan struct{}, 1)
	c.started = time.Now()
	c.ref.Store(rand.Uint32())
	return c
}

func (c *carrier) now() time.Time { return c.d.o.Now() }

// run is the carrier's loop; it returns when ctx ends, leaving unfinished claims held for
// shutdown to hand back.
func (c *carrier) run(ctx context.Context) {
	lastReclaim, lastTakeover := time.Time{}, time.Time{}
	paceTick := time.NewTicker(time.Second)
	defer paceTick.Stop()
	lastSegments := c.segments.Load()
	for ctx.Err() == nil {
		now := c.now()
		select {
		case <-paceTick.C:
			seg := c.segments.Load()
			c.adaptRate(now, float64(seg-lastSegments))
			lastSegments = seg
		default:
		}
		if fa := c.o.FailoverAfter; fa > 0 && c.pool.held() > 0 && c.pool.downFor(now) >= fa { // held: see pool.held
			if !c.failover(ctx) {
				sleepOrWake(ctx, c.pool.wait(), time.Second)
			}
			continue
		}
		if !c.pool.up() {
			switch {
			case c.pool.othersRun():
				c.release(ctx, "this instance holds none of the carrier's binds")
			case c.pool.downFor(now) >= c.d.o.HoldLimit:
				c.release(ctx, "carrier down")
			}
			sleepOrWake(ctx, c.pool.wait(), c.d.o.HoldLimit/4)
			continue
		}
		if wait := c.paused(now); wait > 0 {
			if wait >= c.d.o.HoldLimit {
				c.release(ctx, "carrier paused")
			}
			sleepOrWake(ctx, nil, wait)
			continue
		}
		h, ok := c.next()
		if !ok {
			if now.Sub(lastTakeover) >= c.d.o.TakeoverEvery {
				lastTakeover = now
				c.takeOver(ctx)
			}
			if now.Sub(lastReclaim) >= c.d.o.ReclaimAfter/4 {
				lastReclaim = now
				c.reclaim(ctx)
			}
			c.claim(ctx)
			continue
		}
		if !c.d.o.Membership.Valid(h.consumer) {
			c.drop(h)
			continue
		}
		select {
		case c.inflight <- struct{}{}:
		case <-ctx.Done():
			c.pushFront(h)
			return
		}
		c.start(ctx, h)
	}
}

func sleepOrWake(ctx context.Context, wake <-chan struct{}, d time.Duration) {
	t := time.NewTimer(max(d, time.Millisecond))
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-wake:
	case <-t.C:
	}
}

// next takes the oldest held message: interrupted ones first, then the claimed ones.
func (c *carrier) next() (held, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.front) > 0 {
		h := c.front[0]
		c.front = c.front[1:]
		return h, true
	}
	if len(c.buf) > 0 {
		h := c.buf[0]
		c.buf = c.buf[1:]
		return h, true
	}
	return held{}, false
}

func (c *carrier) frontLen() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.front)
}

// pushFront puts a message back before all newer ones.
func (c *carrier) pushFront(h held) {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := sort.Search(len(c.front), func(i int) bool { return c.front[i].seq > h.seq })
	c.front = append(c.front, held{})
	copy(c.front[i+1:], c.front[i:])
	c.front[i] = h
}

func (c *carrier) hold(claims []store.Claim, consumer string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cl := range claims {
		c.seq++
		c.buf = append(c.buf, held{claim: cl, consumer: consumer, seq: c.seq, since: now})
	}
}

// drop forgets a held claim made under a name that is no longer valid: this instance's
// heartbeat lapsed, so another instance may have taken the message over and may be sending
// it. It is left in the store untouched (finishing it would be refused anyway) for whoever
// holds it now, or for the takeover of this instance's previous incarnation.
func (c *carrier) drop(h held) {
	c.stats.fenced.Add(1)
	c.log.Warn().Str("msg", h.claim.Message.ID).Str("consumer", h.consumer).
		Msg("dropped a claim made before this instance's heartbeat lapsed; another instance sends it")
}

// claim takes as many messages as the carrier can have in flight, no more: a claim held in
// memory is a claim another instance cannot take.
func (c *carrier) claim(ctx context.Context) {
	n := c.room()
	if n <= 0 {
		sleepOrWake(ctx, c.freed, c.d.o.ClaimWait)
		return
	}
	consumer := c.d.o.Membership.Consumer()
	if !c.d.o.Membership.Valid(consumer) {
		// The heartbeat lapsed and has not been renewed: claim nothing until it is.
		sleepOrWake(ctx, nil, c.d.o.ClaimWait)
		return
	}
	claims, err := c.d.o.Store.Claim(ctx, c.o.Name, consumer, n, c.d.o.ClaimWait)
	if err != nil {
		if ctx.Err() == nil {
			// The store may have handed the entries out and lost only its answer: they are
			// pending under this name, and no one holds them.
			c.leaked(consumer)
			c.log.Error().Err(err).Msg("claim failed; retrying")
			sleepOrWake(ctx, nil, time.Second)
		}
		return
	}
	c.hold(claims, consumer, c.now())
	c.abandonLeaked()
}

// leaked notes that claims made under consumer may be pending in the store with nobody
// holding them (a claim whose answer was lost, a settlement that could not be stored).
func (c *carrier) leaked(consumer string) { c.leakedUnder.Store(&consumer) }

// abandonLeaked, once the store answers again, gives up the incarnation that may have
// leaked claims (Membership's Abandon, when it has one), so that they are taken over now
// rather than after ReclaimAfter.
func (c *carrier) abandonLeaked() {
	p := c.leakedUnder.Swap(nil)
	if p == nil {
		return
	}
	if a, ok := c.d.o.Membership.(Abandoner); ok {
		a.Abandon(*p)
	}
}

// room is how many messages a claim may take now: the free part of the windows of the binds
// this instance runs (with bind leases, only the slots it holds), at most ClaimBatch.
func (c *carrier) room() int {
	return min(c.d.o.ClaimBatch, min(cap(c.inflight), c.pool.heldWindow())-len(c.inflight))
}

// takeOver takes the messages that dead instances (their heartbeat gone, or an earlier
// incarnation of a restarted one) had claimed and never finished, as far as the windows
// have room.
func (c *carrier) takeOver(ctx context.Context) {
	n := c.room()
	consumer := c.d.o.Membership.Consumer()
	if n <= 0 || !c.d.o.Membership.Valid(consumer) {
		return
	}
	claims, err := c.d.o.Store.TakeOver(ctx, c.o.Name, consumer, n)
	c.took(ctx, claims, consumer, err, "took over messages a dead instance had claimed")
}

// reclaim takes over messages claimed long ago by consumers whose liveness is unknown.
func (c *carrier) reclaim(ctx context.Context) {
	consumer := c.d.o.Membership.Consumer()
	if !c.d.o.Membership.Valid(consumer) {
		return
	}
	claims, err := c.d.o.Store.Reclaim(ctx, c.o.Name, consumer, c.d.o.ReclaimAfter, c.d.o.ClaimBatch)
	c.took(ctx, claims, consumer, err, "took over messages another consumer left unfinished")
}

// took holds what takeOver or reclaim returned.
func (c *carrier) took(ctx context.Context, claims []store.Claim, consumer string, err error, what string) {
	if err != nil && ctx.Err() == nil {
		c.log.Error().Err(err).Msg("taking over unfinished messages failed")
	}
	if len(claims) > 0 {
		c.stats.reclaimed.Add(uint64(len(claims)))
		c.log.Warn().Int("messages", len(claims)).Msg(what)
		c.hold(claims, consumer, c.now())
	}
}

// release hands every held message that is not being sent back to the store, in order, so
// that another instance (or this one, later) sends it.
func (c *carrier) release(ctx context.Context, why string) {
	c.mu.Lock()
	hs := append(append([]held(nil), c.front...), c.buf...)
	c.front, c.buf = nil, nil
	c.mu.Unlock()
	if len(hs) == 0 {
		return
	}
	now := c.now()
	for i, h := range hs {
		if len(h.done) > 0 {
			// Some parts are with the carrier already; the message goes out whole again.
			h.claim.Message.Duplicates++
		}
		// Distinct times keep the order through the scheduled set.
		if err := c.d.o.Store.Defer(context.WithoutCancel(ctx), c.o.Name, h.claim, now.Add(time.Duration(i)*time.Microsecond)); err != nil {
			c.log.Error().Err(err).Str("msg", h.claim.Message.ID).Msg("could not hand a message back; it will be reclaimed")
		}
	}
	c.log.Info().Int("messages", len(hs)).Str("why", why).Msg("handed held messages back to the store")
}

// failover moves held and queued messages to the next carrier of their routes that is up.
// It reports whether it moved anything.
func (c *carrier) failover(ctx context.Context) bool {
	moved := 0
	move := func(h held) bool {
		to := c.d.router.next(h.claim.Message.To, c.o.Name, c.d.carrierUp)
		if to == "" {
			return false
		}
		m := *h.claim.Message
		m.Carrier = to
		cl := h.claim
		cl.Message = &m
		if err := c.d.o.Store.Move(context.WithoutCancel(ctx), c.o.Name, cl, to); err != nil {
			c.log.Error().Err(err).Msg("failover move failed")
			return false
		}
		moved++
		c.stats.moved.Add(1)
		return true
	}
	// moveHeld moves held messages until one has nowhere to go.
	moveHeld := func() {
		for {
			h, ok := c.next()
			if !ok {
				return
			}
			if !move(h) {
				c.pushFront(h)
				return
			}
		}
	}
	moveHeld()
	if moved == 0 && c.frontLen() == 0 {
		consumer := c.d.o.Membership.Consumer()
		if claims, err := c.d.o.Store.Claim(ctx, c.o.Name, consumer, c.d.o.ClaimBatch, 0); err == nil {
			c.hold(claims, consumer, c.now())
			moveHeld()
		}
	}
	if moved > 0 {
		c.log.Warn().Int("messages", moved).Dur("down_for", c.pool.downFor(c.now())).Msg("failed over to the next carrier")
	}
	return moved > 0
}

// paused returns how long the carrier must still wait after throttling.
func (c *carrier) paused(now time.Time) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pauseUntil.Sub(now)
}

// throttled pauses the whole carrier and lowers its pace: the carrier said it is receiving
// faster than it can take, and every bind shares that capacity. Responses to the other
// requests already in flight usually say the same; they extend nothing and lower the pace
// only once per pause.
func (c *carrier) throttled(now time.Time) {
	c.mu.Lock()
	if now.Before(c.pauseUntil) {
		c.mu.Unlock()
		return
	}
	if now.Sub(c.lastThrottle) < 2*c.pauseDur+time.Second {
		c.pauseDur = min(2*c.pauseDur, c.d.o.PauseMax)
	} else {
		c.pauseDur = c.d.o.PauseMin
	}
	c.pauseUntil = now.Add(c.pauseDur)
	c.lastThrottle = now
	c.stats.throttlePauses.Add(1)
	c.mu.Unlock()
	cur := c.pace.rate()
	observed := max(c.observedRate(now), 10)
	if math.IsInf(cur, 1) {
		cur = observed // unpaced so far: start from what actually went out
	} else if observed < cur {
		// The pace was not binding; what went out is the better measure, but one slow
		// second must not collapse the pace.
		cur = max(observed, cur/2)
	}
	c.ceiling.Store(math.Float64bits(cur))
	c.pace.setRate(max(cur*0.7, 1))
}

// observedRate is the segments per second actually sent lately: since the last pace tick
// when that is long enough to mean something, else over the last whole second.
func (c *carrier) observedRate(now time.Time) float64 {
	if at := c.tickAt.Load(); at != 0 {
		if el := now.Sub(time.Unix(0, at)); el >= 200*time.Millisecond {
			return float64(c.segments.Load()-c.tickSeg.Load()) / el.Seconds()
		}
	}
	if o := c.observed.Load(); o > 0 {
		return float64(o)
	}
	return float64(c.segments.Load()) / max(time.Since(c.started).Seconds(), 0.05)
}

// adaptRate raises the pace once the carrier has been quiet for a second: quickly back to
// the rate it last complained at (a tenth of it per second), then slowly above it (5% per
// second) to find out whether the carrier can take more now, up to the configured cap.
func (c *carrier) adaptRate(now time.Time, lastSecondSegments float64) {
	c.observed.Store(uint64(lastSecondSegments))
	c.tickSeg.Store(c.segments.Load())
	c.tickAt.Store(now.UnixNano())
	c.mu.Lock()
	quietFor := now.Sub(c.lastThrottle)
	c.mu.Unlock()
	cur := c.pace.rate()
	if quietFor < time.Second || cur == c.maxRate {
		return
	}
	ceiling := math.Float64frombits(c.ceiling.Load())
	next := cur * 1.05
	if cur < ceiling {
		next = min(cur+ceiling/10, ceiling)
	}
	next = max(next, cur+1)
	next = min(next, c.maxRate)
	if math.IsInf(c.maxRate, 1) && quietFor > time.Minute && lastSecondSegments < cur/2 {
		next = c.maxRate // no cap configured, long quiet and far below the pace: drop it
	}
	c.pace.setRate(next)
}

// start encodes a held message and hands it to a sender goroutine once the pace allows.
// The caller holds an in-flight token.
func (c *carrier) start(ctx context.Context, h held) {
	m := h.claim.Message
	now := c.now()
	if at := dlt.NextSendTime(m.Windowed, now); at.After(now) {
		// TRAI allows promotional traffic only 10:00–21:00 IST: wait for the next window.
		<-c.inflight
		h.claim.Event = &store.Event{At: now, Kind: store.EventQueued, Carrier: c.o.Name,
			Detail: "outside the 10:00–21:00 IST window for promotional messages; waits until " + at.UTC().Format(time.RFC3339)}
		if err := c.d.o.Store.Defer(context.Background(), c.o.Name, h.claim, at); err != nil {
			c.log.Error().Err(err).Str("msg", m.ID).Msg("could not defer to the promotional window; it will be reclaimed")
			return
		}
		c.stats.windowDeferred.Add(1)
		return
	}
	parts := h.parts
	if parts == nil {
		var err error
		if parts, err = buildParts(m, c.o, uint16(c.ref.Add(1)), c.d.o.ChainFor); err != nil {
			<-c.inflight
			c.finish(h, store.StatusFailed, "", fmt.Sprintf("cannot encode the text: %v", err), nil)
			return
		}
	}
	left := len(parts) - len(h.done)
	if err := c.pace.wait(ctx, left); err != nil {
		<-c.inflight
		c.pushFront(h)
		return
	}
	sess, l := c.pool.pick()
	if sess == nil {
		<-c.inflight
		c.pushFront(h)
		return
	}
	if err := l.pace.wait(ctx, left); err != nil {
		<-c.inflight
		c.pushFront(h)
		return
	}
	c.senders.Add(1)
	go func() {
		defer c.senders.Done()
		c.send(h, sess, parts)
		<-c.inflight
		select {
		case c.freed <- struct{}{}:
		default:
		}
	}()
}

// send submits every part of one message and settles the outcome. It runs to completion
// even during shutdown: the session's response timeout bounds it.
func (c *carrier) send(h held, sess *smpp.Session, parts []*smpp.SubmitSM) {
	ctx := context.Background()
	m := *h.claim.Message
	// A claim delivered before was taken over from a consumer that died (or handed back
	// unfinished): that consumer may have written the submit_sm, so this send may deliver a
	// second copy. Claims are never more than the windows can carry, so such possible
	// duplicates are bounded by what was in flight, and each is counted on its record.
	h.duplicate = h.unknown || h.claim.Deliveries > 1
	if !c.d.o.Membership.Valid(h.consumer) {
		// The heartbeat lapsed while this waited for the pace or a window.
		c.drop(h)
		return
	}
	m.Attempts++
	h.claim.Message = &m
	ids := append(make([]string, 0, len(parts)), h.done...)
	binds := append(make([]string, 0, len(parts)), h.binds...)
	bind := c.pool.linkName(sess)
	rebinds := 0
	for i := len(ids); i < len(parts); i++ {
		start := time.Now()
		resp, err := sess.Submit(ctx, parts[i])
		c.event(err, time.Since(start))
		if err != nil {
			// A later part refused before it was written (the bind is closing: the carrier
			// unbound mid-message): the earlier parts are with the carrier, so the rest go
			// out on another bind rather than the whole message again.
			if i > 0 && notSent(err) {
				if rebinds < maxPartRebinds {
					if next := c.otherSession(sess); next != nil {
						sess, rebinds = next, rebinds+1
						bind = c.pool.linkName(sess)
						i--
						continue
					}
				}
				// No other bind now: the rest waits for one, the accepted parts are kept.
				h.parts, h.done, h.binds = parts, ids, binds
			} else {
				h.parts, h.done, h.binds = nil, nil, nil
			}
			c.failed(h, err, i)
			return
		}
		c.segments.Add(1)
		ids = append(ids, resp.MessageID)
		binds = append(binds, bind)
	}
	h.parts, h.binds = parts, binds // the timeline reads the chain TLV sent off the parts
	c.finish(h, store.StatusSubmitted, "", "", ids)
}

// maxPartRebinds bounds how often one message's remaining parts move to another bind.
const maxPartRebinds = 3

// notSent reports whether err says the carrier never took the request: the session refused
// it (closing, not bound) or the carrier answered that the bind was unbinding, so sending it
// elsewhere cannot make a second copy.
func notSent(err error) bool {
	var se *smpp.StatusError
	if errors.As(err, &se) {
		return se.Status == smpp.ESME_RINVBNDSTS // refused because the bind was unbinding
	}
	return smpp.Retryable(err) && !smpp.OutcomeUnknown(err)
}

// otherSession waits (up to a quarter of HoldLimit) for a bound sending session other than
// s; nil if none comes up.
func (c *carrier) otherSession(s *smpp.Session) *smpp.Session {
	deadline := time.Now().Add(c.d.o.HoldLimit / 4)
	for {
		if next, _ := c.pool.pick(); next != nil && next != s && next.State() == smpp.StateBound {
			return next
		}
		if time.Now().After(deadline) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *carrier) event(err error, d time.Duration) {
	if c.d.o.OnSubmit == nil {
		return
	}
	st := smpp.ESME_ROK
	var se *smpp.StatusError
	if errors.As(err, &se) {
		st = se.Status
	}
	c.d.o.OnSubmit(SubmitEvent{Carrier: c.o.Name, Status: st, Err: err, Latency: d})
}

// failed settles a message whose part `part` failed with err.
func (c *carrier) failed(h held, err error, part int) {
	m := h.claim.Message
	now := c.now()
	var se *smpp.StatusError
	isStatus := errors.As(err, &se)
	partNote := ""
	if part > 0 {
		partNote = fmt.Sprintf(" (after %d of its parts were accepted)", part)
	}
	switch {
	case isStatus && se.Status.Throttling():
		c.throttled(now)
		c.pushFront(h)
	case notSent(err):
		// The carrier never took it (the session refused it before writing, or the bind
		// was unbinding: its unbind crossed our submit): another bind sends it.
		c.pushFront(h)
	case smpp.OutcomeUnknown(err):
		if c.o.NoResponse == PolicyUnknown {
			c.stats.unknown.Add(1)
			c.finish(h, store.StatusUnknown, "", "no response from the carrier; it may or may not have the message"+partNote, nil)
			return
		}
		h.unknown = true
		c.pushFront(h)
	case smpp.Retryable(err) && m.Attempts < c.d.o.MaxAttempts:
		c.deferRetry(h, now, err)
	case isStatus:
		if code, ok := c.o.DLT.StatusCode(uint32(se.Status)); ok {
			// DLT scrubbing refused it: the content, header or chain is not registered as
			// sent, and sending again will not help.
			c.finish(h, store.StatusRejected, fmt.Sprint(int(code)), c.o.DLT.Reason(code)+partNote, nil)
			return
		}
		reason := "carrier refused the message: " + se.Status.String() + partNote
		if smpp.Retryable(err) {
			reason = fmt.Sprintf("gave up after %d attempts: %s", m.Attempts, reason)
		}
		c.finish(h, store.StatusFailed, fmt.Sprintf("%#x", uint32(se.Status)), reason, nil)
	default:
		c.finish(h, store.StatusFailed, "", err.Error(), nil)
	}
}

// deferRetry schedules the message again with exponential backoff and jitter.
func (c *carrier) deferRetry(h held, now time.Time, err error) {
	m := h.claim.Message
	d := c.d.o.RetryMin << min(m.Attempts-1, 20)
	d = min(d, c.d.o.RetryMax)
	d = d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
	if h.duplicate {
		m.Duplicates++ // the next attempt's record carries it
	}
	h.claim.Event = &store.Event{At: now, Kind: store.EventRetry, Carrier: c.o.Name, Attempt: m.Attempts,
		Err: statusCode(err), Detail: fmt.Sprintf("%v; next attempt after %s", err, now.Add(d).UTC().Format(time.RFC3339))}
	if e := c.d.o.Store.Defer(context.Background(), c.o.Name, h.claim, now.Add(d)); e != nil {
		c.log.Error().Err(e).Str("msg", m.ID).Msg("could not schedule a retry; it will be reclaimed")
		return
	}
	c.stats.deferred.Add(1)
	c.log.Info().Err(err).Str("msg", m.ID).Int("attempt", m.Attempts).Dur("retry_in", d).Msg("temporary failure; retrying later")
}

// finish stores the outcome, the carrier ids receipts will look the message up by, and (for
// a message final without receipts) its webhook, and acks the claim: one Settle, which the
// store batches with every other sender's. A settlement that cannot be stored is retried:
// once acked the message is never sent again, so its outcome must not be lost; if the store
// stays down the claim is left for reclaim.
func (c *carrier) finish(h held, st store.Status, code, reason string, ids []string) {
	ctx := context.Background()
	m := h.claim.Message
	now := c.now()
	set := store.Settlement{Carrier: c.o.Name, Claim: h.claim, Record: c.record(h, st, code, reason, ids, now),
		Events: c.events(h, st, code, reason, ids, now)}
	for i, id := range ids {
		if c.d.o.Receipts != nil {
			set.Index = append(set.Index, c.d.o.Receipts.IndexEntries(c.o.Name, id, m.ID, i)...)
		} else {
			set.Index = append(set.Index, store.IndexEntry{IndexKey: store.IndexKey{Carrier: c.o.Name, ID: id}, MsgID: m.ID, Part: i})
		}
	}
	if st.Final() && c.d.o.Receipts != nil {
		set.Webhook = c.d.o.Receipts.FinalWebhook(set.Record)
	}
	for attempt := 0; ; attempt++ {
		err := c.d.o.Store.Settle(ctx, set)
		if err == nil {
			break
		}
		if attempt == 5 {
			c.log.Error().Err(err).Str("msg", m.ID).Str("status", string(st)).Msg("could not store the outcome; leaving the claim to be taken over")
			c.leaked(h.consumer)
			return
		}
		time.Sleep(time.Duration(50<<attempt) * time.Millisecond)
	}
	if h.duplicate {
		c.stats.duplicates.Add(1)
	}
	switch st {
	case store.StatusSubmitted:
		c.stats.submitted.Add(1)
	case store.StatusFailed, store.StatusRejected:
		c.stats.failed.Add(1)
		c.log.Warn().Str("msg", m.ID).Str("to", msisdn.Mask(m.To)).Str("code", code).Str("reason", reason).Msg("message failed")
	}
}

// events are the timeline entries of this settlement: each part the carrier accepted (its
// bind and carrier message id), or the outcome in words.
func (c *carrier) events(h held, st store.Status, code, reason string, ids []string, now time.Time) []store.Event {
	var evs []store.Event
	for i, id := range ids {
		e := store.Event{At: now, Kind: store.EventSubmitted, Carrier: c.o.Name, CarrierID: id, Part: i, Status: store.StatusSubmitted}
		if i == 0 {
			e.Chain = chainTLV(h.parts, c.o.DLT)
		}
		if i < len(h.binds) {
			e.Bind = h.binds[i]
		}
		evs = append(evs, e)
	}
	switch {
	case st == store.StatusUnknown:
		evs = append(evs, store.Event{At: now, Kind: store.EventSubmitted, Carrier: c.o.Name, Status: st, Detail: reason})
	case st.Final():
		evs = append(evs, store.Event{At: now, Kind: store.EventFinal, Carrier: c.o.Name, Status: st, Err: code, Detail: reason})
	}
	return evs
}

// statusCode is err's SMPP command_status in hex, or "" when err is not a carrier's answer.
func statusCode(err error) string {
	var se *smpp.StatusError
	if errors.As(err, &se) {
		return fmt.Sprintf("%#x", uint32(se.Status))
	}
	return ""
}

// record is the message's record after this send: everything the record holds comes from
// the claimed message (dispatch is the only writer of a record until it is settled), so the
// settlement replaces the record without reading it.
func (c *carrier) record(h held, st store.Status, code, reason string, ids []string, now time.Time) *store.Record {
	m := h.claim.Message
	r := &store.Record{ID: m.ID, Account: m.Account, Carrier: c.o.Name, From: m.From, To: m.To,
		Status: st, Attempts: m.Attempts, Duplicates: m.Duplicates, ErrorCode: code, Reason: reason,
		AcceptedAt: m.AcceptedAt, StatusAt: now, Meta: m.Meta, PEID: m.PEID, TemplateID: m.TemplateID, TMIDs: m.TMIDs}
	if h.duplicate {
		r.Duplicates++
	}
	if st == store.StatusSubmitted {
		r.CarrierIDs, r.Parts, r.SentAt = ids, len(ids), now
	}
	return r
}
