// Package dispatch is the sending pipeline: it takes accepted messages from the store,
// routes them to a carrier, paces them to what the carrier allows, sends them over a pool
// of SMPP binds and settles every outcome in the store.
//
// The guarantees, in order of importance:
//   - Nothing accepted is lost. A message leaves the store's queue only once its outcome is
//     recorded; an instance that dies leaves its claims for another to take over.
//   - Nothing is sent twice in normal operation. Only a message whose submit_sm was
//     outstanding when its session or process died may be sent again, under the carrier's
//     no-response policy, and every such resend is counted.
//   - Order is kept per carrier: a throttled or interrupted message goes out again before
//     anything claimed after it.
//   - Priority: OTP before transactional before promotional, by the store's queues.
//
// dispatch knows nothing of HTTP; the api package calls Submit.
package dispatch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/smppd/smppd/dlt"
	"github.com/smppd/smppd/internal/msisdn"
	"github.com/smppd/smppd/store"
)

// Dispatcher runs the carriers' queues.
type Dispatcher struct {
	o        Options
	router   *router
	carriers map[string]*carrier
	order    []*carrier

	mu      sync.Mutex
	cancel  context.CancelFunc // stops the claim loops
	stopSup context.CancelFunc // stops the supervisors (unbinds)
	loops   sync.WaitGroup
	sups    sync.WaitGroup
	running bool
}

// New validates the options and builds a dispatcher; Start runs it.
func New(o Options) (*Dispatcher, error) {
	o.setDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	d := &Dispatcher{o: o, router: newRouter(o.Routes, o.Carriers), carriers: map[string]*carrier{}}
	for i := range d.o.Carriers {
		c := newCarrier(d, &d.o.Carriers[i])
		d.carriers[c.o.Name] = c
		d.order = append(d.order, c)
	}
	return d, nil
}

// Start binds to every carrier and starts sending. It returns at once.
func (d *Dispatcher) Start() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.running {
		return
	}
	d.running = true
	supCtx, stopSup := context.WithCancel(context.Background())
	loopCtx, cancel := context.WithCancel(context.Background())
	d.cancel, d.stopSup = cancel, stopSup
	for _, c := range d.order {
		c.pool.run(supCtx, &d.sups)
		d.loops.Add(1)
		go func() { defer d.loops.Done(); c.run(loopCtx) }()
	}
	d.loops.Add(1)
	go func() { defer d.loops.Done(); d.promote(loopCtx) }()
}

// Shutdown stops gracefully: it stops claiming, waits (until ctx ends) for every message in
// flight to get its response, hands every claimed but unsent message back to the store,
// then unbinds. What it could not send stays in the store for the next start.
func (d *Dispatcher) Shutdown(ctx context.Context) error {
	d.mu.Lock()
	if !d.running {
		d.mu.Unlock()
		return nil
	}
	d.running = false
	d.mu.Unlock()
	d.cancel()
	d.loops.Wait()
	drained := make(chan struct{})
	go func() {
		for _, c := range d.order {
			c.senders.Wait()
		}
		close(drained)
	}()
	var err error
	select {
	case <-drained:
	case <-ctx.Done():
		err = fmt.Errorf("dispatch: shutdown: messages still in flight: %w", ctx.Err())
	}
	for _, c := range d.order {
		c.release(ctx, "shutdown")
	}
	d.stopSup()
	d.sups.Wait()
	return err
}

// promote moves due scheduled messages (future sends, retries) into the ready queues.
func (d *Dispatcher) promote(ctx context.Context) {
	t := time.NewTicker(d.o.PromoteEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for {
			n, err := d.o.Store.PromoteDue(ctx, d.o.Now(), 1000)
			if err != nil {
				if ctx.Err() == nil {
					d.o.Logger.Error().Err(err).Msg("promoting scheduled messages failed")
				}
				break
			}
			if n < 1000 {
				break
			}
		}
	}
}

// carrierUp reports whether a carrier has a sending bind up, or is other instances' to run.
func (d *Dispatcher) carrierUp(name string) bool {
	c := d.carriers[name]
	return c != nil && (c.pool.up() || c.pool.othersRun())
}

// SubmitError says why a message was not accepted. Err, when set, is the typed cause
// (ErrNoRoute, or a *msisdn.Error for a malformed number) and Unwrap returns it, so callers
// can tell a destination no route covers from a malformed message with errors.Is/As.
type SubmitError struct {
	Index  int    // position in the Submit call
	Field  string // "to", "text" …
	Reason string
	Err    error
}

func (e *SubmitError) Error() string {
	return fmt.Sprintf("dispatch: message %d: %s: %s", e.Index, e.Field, e.Reason)
}

func (e *SubmitError) Unwrap() error { return e.Err }

// Submit accepts messages for sending. It fills in each message's ID (a UUID v4) when
// empty, AcceptedAt, and Carrier by routing, then stores a record and queues the message.
// It returns only once every message is durable; an error means none of those after the
// failing one was queued (the earlier ones may have been).
func (d *Dispatcher) Submit(ctx context.Context, msgs ...*store.Message) error {
	now := d.o.Now()
	for i, m := range msgs {
		if err := d.prepare(i, m, now); err != nil {
			return err
		}
	}
	recs := make([]*store.Record, len(msgs))
	for i, m := range msgs {
		st := store.StatusAccepted
		if at := dlt.NextSendTime(m.Windowed, now); m.SendAt.Before(now) && at.After(now) {
			m.SendAt = at // a windowed message due now, outside the window: hold it until it opens
		}
		if m.SendAt.After(now) {
			st = store.StatusScheduled
		}
		recs[i] = &store.Record{ID: m.ID, Account: m.Account, Carrier: m.Carrier, From: m.From, To: m.To,
			Status: st, AcceptedAt: m.AcceptedAt, StatusAt: now, Meta: m.Meta, PEID: m.PEID, TemplateID: m.TemplateID, TMIDs: m.TMIDs}
	}
	// Records and queue entries in one step (never one without the other), in the store's
	// group commit with every other request's.
	if err := d.o.Store.Accept(ctx, recs, d.o.RecordTTL, msgs...); err != nil {
		return fmt.Errorf("dispatch: accept: %w", err)
	}
	return nil
}

func (d *Dispatcher) prepare(i int, m *store.Message, now time.Time) error {
	to, err := msisdn.International(m.To)
	if err != nil {
		return &SubmitError{Index: i, Field: "to", Reason: err.Error(), Err: err}
	}
	m.To = to
	if m.Text == "" {
		return &SubmitError{Index: i, Field: "text", Reason: "empty"}
	}
	if m.From == "" {
		return &SubmitError{Index: i, Field: "from", Reason: "empty sender id"}
	}
	if m.ID == "" {
		m.ID = store.NewID()
	}
	if m.AcceptedAt.IsZero() {
		m.AcceptedAt = now
	}
	if m.Carrier == "" {
		cs, err := d.router.carriers(m.To)
		if err != nil {
			return &SubmitError{Index: i, Field: "to", Reason: err.Error(), Err: err}
		}
		m.Carrier = cs[0]
		for _, c := range cs {
			if d.carrierUp(c) {
				m.Carrier = c
				break
			}
		}
	} else if d.carriers[m.Carrier] == nil {
		return &SubmitError{Index: i, Field: "carrier", Reason: fmt.Sprintf("unknown carrier %q", m.Carrier)}
	}
	return nil
}

// Stats is a snapshot of one carrier for metrics and readiness.
type Stats struct {
	Carrier        string
	Up             bool
	Binds          []BindStats
	Depth          store.Depth
	DepthErr       error
	Rate           float64 // current pace in segments per second; +Inf when unpaced
	Submitted      uint64  // messages accepted by the carrier
	Failed         uint64
	Unknown        uint64
	Deferred       uint64
	Moved          uint64 // failed over to another carrier
	Duplicates     uint64 // resends that may have delivered a second copy
	ThrottlePauses uint64
	Reclaimed      uint64 // claims taken over from dead instances (or idle ones)
	Fenced         uint64 // claims dropped unsent because this instance's heartbeat had lapsed
	WindowDeferred uint64 // promotional messages held for the next 10:00–21:00 IST window
}

// Stats returns every carrier's stats, in configuration order.
func (d *Dispatcher) Stats(ctx context.Context) []Stats {
	out := make([]Stats, 0, len(d.order))
	for _, c := range d.order {
		s := Stats{
			Carrier: c.o.Name, Up: c.pool.up(), Binds: c.pool.stats(), Rate: c.pace.rate(),
			Submitted: c.stats.submitted.Load(), Failed: c.stats.failed.Load(), Unknown: c.stats.unknown.Load(),
			Deferred: c.stats.deferred.Load(), Moved: c.stats.moved.Load(), Duplicates: c.stats.duplicates.Load(),
			ThrottlePauses: c.stats.throttlePauses.Load(), Reclaimed: c.stats.reclaimed.Load(),
			WindowDeferred: c.stats.windowDeferred.Load(), Fenced: c.stats.fenced.Load(),
		}
		s.Depth, s.DepthErr = d.o.Store.Depth(ctx, c.o.Name)
		out = append(out, s)
	}
	return out
}

// Ready reports whether every carrier has at least one sending bind up and the store
// answers; the error says which is not.
func (d *Dispatcher) Ready(ctx context.Context) error {
	if err := d.o.Store.Ping(ctx); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	var down []string
	for _, c := range d.order {
		if !d.carrierUp(c.o.Name) {
			down = append(down, c.o.Name)
		}
	}
	if len(down) > 0 {
		return errors.New("no bind up for carrier " + strings.Join(down, ", "))
	}
	return nil
}

// Carriers returns the configured carrier names.
func (d *Dispatcher) Carriers() []string {
	out := make([]string, len(d.order))
	for i, c := range d.order {
		out[i] = c.o.Name
	}
	return out
}
