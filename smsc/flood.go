package smsc

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smppd/smppd/smpp"
)

// FloodOptions describe a receipt storm, as carriers send one when they replay their
// backlog after an outage: receipts at a fixed rate for a while, for messages the ESME
// sent earlier.
type FloodOptions struct {
	// SystemID is the account; "" selects the only account.
	SystemID string `json:"system_id"`
	// Rate is receipts per second, at least 1.
	Rate int `json:"rate"`
	// Duration is how long the storm lasts, more than 0: Rate×Duration receipts in all
	// (rounded).
	Duration time.Duration `json:"duration"`
	// Stat is the receipts' stat: DELIVRD (default), UNDELIV, EXPIRED, REJECTD, DELETED,
	// ACCEPTD or UNKNOWN.
	Stat string `json:"stat,omitempty"`
	// Err is their err: and network_error_code; default 0 for DELIVRD and ACCEPTD,
	// DefaultErr otherwise.
	Err *int `json:"err,omitempty"`
}

// ErrNoMessages is returned by Flood for an account that has had no message accepted (or
// none is still in the store): there is nothing whose receipt could be replayed.
var ErrNoMessages = errors.New("smsc: flood: no accepted messages to replay receipts for")

// floodTick is how often a flood hands its due receipts on: often enough that a storm is
// smooth to the ESME, seldom enough that a tick carries a batch at high rates.
const floodTick = 2 * time.Millisecond

// FloodRun is one running (or finished) flood, from Server.Flood.
type FloodRun struct {
	srv     *Server
	acc     *account
	opts    FloodOptions
	out     outcome
	recs    []*record // the account's accepted messages, newest first
	total   int64
	queued  atomic.Int64
	started time.Time

	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
}

// FloodStatus describes a flood (Server.Floods, FloodRun.Status, the HTTP API).
type FloodStatus struct {
	SystemID string `json:"system_id"`
	Rate     int    `json:"rate"`
	Duration string `json:"duration"`
	Stat     string `json:"stat"`
	// Messages is how many message ids the flood cycles over, Receipts how many receipts
	// it sends in all, Queued how many it has handed to the account's binds so far.
	Messages  int       `json:"messages"`
	Receipts  int64     `json:"receipts"`
	Queued    int64     `json:"queued"`
	StartedAt time.Time `json:"started_at"`
	Running   bool      `json:"running"`
}

// Flood starts a receipt storm on an account and returns at once; the storm runs in the
// background until Duration has passed, FloodRun.Stop, Server.StopFloods, Reset or Close.
//
// Its receipts are for messages the simulator accepted from that account (those still in
// the store, see Options.StoreSize), cycling over their ids most recent first, so that to
// the ESME they look like a carrier replaying receipts it can correlate. They go through
// the account's delivery queue like any receipt: over its RX/TRX binds round-robin, within
// Receipts.Window, retried as Receipts.Retries says, held while no bind can take them (and
// dropped beyond Options.HeldDeliveries, counted in DeliveriesDropped). They count in the
// receipt counters and in FloodQueued and FloodSent; the stored messages' own receipt
// state is left alone.
//
// Errors: ErrUnknownAccount, ErrNoMessages, or one naming the bad field.
func (srv *Server) Flood(o FloodOptions) (*FloodRun, error) {
	acc, err := srv.account(o.SystemID)
	if err != nil {
		return nil, err
	}
	o.SystemID = acc.id
	switch {
	case o.Rate <= 0:
		return nil, fmt.Errorf("smsc: flood rate %d: want receipts per second, at least 1", o.Rate)
	case o.Duration <= 0:
		return nil, fmt.Errorf("smsc: flood duration %s: want more than 0 (such as \"60s\")", o.Duration)
	}
	o.Stat = strings.ToUpper(o.Stat)
	if o.Stat == "" {
		o.Stat = "DELIVRD"
	}
	if _, ok := statState[o.Stat]; !ok || o.Stat == "ENROUTE" {
		return nil, fmt.Errorf("smsc: flood stat %q: want one of %s", o.Stat, statNames)
	}
	f := &FloodRun{
		srv: srv, acc: acc, opts: o, out: mkOutcome(o.Stat, o.Err),
		total: int64(math.Round(float64(o.Rate) * o.Duration.Seconds())),
		stop:  make(chan struct{}), done: make(chan struct{}),
	}
	if f.recs = srv.store.accepted(acc.id); len(f.recs) == 0 {
		return nil, fmt.Errorf("%w: account %q (submit some first)", ErrNoMessages, acc.id)
	}
	f.total = max(f.total, 1)
	f.started = time.Now()
	srv.floodMu.Lock()
	srv.floods[f] = struct{}{}
	srv.floodMu.Unlock()
	srv.log.Info().Str("system_id", acc.id).Int("rate", o.Rate).Dur("duration", o.Duration).
		Int("messages", len(f.recs)).Msg("flood started")
	go f.run()
	return f, nil
}

// run hands the due receipts on every floodTick: as many as Rate says should have gone by
// now, so a late tick catches up instead of slowing the storm.
func (f *FloodRun) run() {
	srv := f.srv
	defer func() {
		srv.floodMu.Lock()
		delete(srv.floods, f)
		srv.floodMu.Unlock()
		close(f.done)
	}()
	t := time.NewTicker(floodTick)
	defer t.Stop()
	var sent int64
	next := 0 // index into recs
	for {
		select {
		case <-t.C:
		case <-f.stop:
			return
		case <-srv.ctx.Done():
			return
		}
		due := min(f.total, int64(float64(f.opts.Rate)*time.Since(f.started).Seconds()))
		if due > sent {
			next = f.send(due-sent, next)
			sent = due
			f.queued.Store(sent)
		}
		if sent >= f.total {
			return
		}
	}
}

// send queues n receipts starting at recs[next] and returns where the next batch starts.
func (f *FloodRun) send(n int64, next int) int {
	srv, acc := f.srv, f.acc
	now := srv.opts.Now()
	batch := make([]*delivery, 0, n)
	srv.store.mu.RLock() // receiptPDU reads rec.sm, which replace_sm may change
	for range n {
		rec := f.recs[next]
		next = (next + 1) % len(f.recs)
		batch = append(batch, &delivery{acc: acc, rec: rec, pdu: srv.receiptPDU(rec, rec.dest, f.out, now), flood: true})
	}
	srv.store.mu.RUnlock()
	acc.c.floodQueued.Add(uint64(n))
	for _, d := range batch {
		acc.enqueue(d)
	}
	return next
}

// Stop ends the flood (receipts already queued are still delivered) and waits until it has
// stopped.
func (f *FloodRun) Stop() {
	f.stopOnce.Do(func() { close(f.stop) })
	<-f.done
}

// Done is closed when the flood has queued its last receipt or was stopped.
func (f *FloodRun) Done() <-chan struct{} { return f.done }

// Status describes the flood now.
func (f *FloodRun) Status() FloodStatus {
	running := true
	select {
	case <-f.done:
		running = false
	default:
	}
	return FloodStatus{
		SystemID: f.opts.SystemID, Rate: f.opts.Rate, Duration: f.opts.Duration.String(), Stat: f.opts.Stat,
		Messages: len(f.recs), Receipts: f.total, Queued: f.queued.Load(), StartedAt: f.started, Running: running,
	}
}

// Floods lists the running floods, oldest first.
func (srv *Server) Floods() []FloodStatus {
	out := []FloodStatus{}
	for _, f := range srv.runningFloods("") {
		out = append(out, f.Status())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].StartedAt.Before(out[j].StartedAt) })
	return out
}

// StopFloods stops the running floods of an account ("" for all) and returns how many.
func (srv *Server) StopFloods(systemID string) int {
	fs := srv.runningFloods(systemID)
	for _, f := range fs {
		f.Stop()
	}
	return len(fs)
}

func (srv *Server) stopFloods() { srv.StopFloods("") }

func (srv *Server) runningFloods(systemID string) []*FloodRun {
	srv.floodMu.Lock()
	defer srv.floodMu.Unlock()
	var out []*FloodRun
	for f := range srv.floods {
		if systemID == "" || f.acc.id == systemID {
			out = append(out, f)
		}
	}
	return out
}

// accepted returns the stored messages of an account that got a message id and may still
// have a receipt replayed (not cancelled), newest first.
func (st *store) accepted(account string) []*record {
	st.mu.RLock()
	defer st.mu.RUnlock()
	var out []*record
	n := uint64(len(st.ring))
	first := uint64(1)
	if st.next > n {
		first = st.next - n + 1
	}
	for seq := st.next; seq >= first; seq-- {
		r := st.ring[seq%n]
		if r == nil || r.seq != seq || r.account != account || r.id == "" || r.status != smpp.ESME_ROK || r.cancelled {
			continue
		}
		out = append(out, r)
	}
	return out
}
