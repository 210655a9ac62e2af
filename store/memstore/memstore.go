// Package memstore is the in-process implementation of store.Store.
//
// ┌──────────────────────────────────────────────────────────────────────────────────────┐
// │ IT KEEPS NOTHING ACROSS RESTARTS. Every queued message, status record and carrier id │
// │ index entry lives in this process's memory and is gone when the process exits or     │
// │ crashes. Use it for the demo, for unit tests and for benchmarks; run production with │
// │ the Redis store (store/redisstore). The daemon must say so loudly at start-up: this  │
// │ package logs nothing itself.                                                         │
// └──────────────────────────────────────────────────────────────────────────────────────┘
//
// Layout: per carrier, one FIFO per priority of ready entries and a map of pending
// (claimed, unfinished) entries by token; one min-heap of scheduled messages ordered by due
// time; records and carrier id index entries in maps with a min-heap of expiry times; the
// receipt log as a FIFO of unread entries and a map of read ones (receiptlog.go); webhook jobs
// in a map of entries with a min-heap of due times (dlr.go). TTLs are honoured lazily: an
// expired entry is never returned, and every write also removes a few expired entries, so
// nothing runs in the background and New starts no goroutine.
//
// Message texts stay in plaintext here: they live only in this process's memory and nothing
// rests on disk or in another process, so there is nothing to seal (the Redis store seals
// them; docs/security.md, "Data at rest").
//
// Messages, records, receipts and webhook jobs are copied on the way in and on the way out,
// so callers may change what they pass or get without touching the stored state. All methods
// are safe for concurrent use.
package memstore

import (
	"container/heap"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/internal/valid"
)

// ErrClosed is store.ErrClosed: every method returns it after Close.
var ErrClosed = store.ErrClosed

// Store is the in-process store. The zero value is not usable; call New.
type Store struct {
	qmu      sync.Mutex
	seq      uint64 // last entry sequence number (tokens, FIFO order)
	carriers map[string]*carrierQ
	sched    schedHeap
	closed   bool
	done     chan struct{} // closed by Close

	rmu     sync.Mutex
	rver    uint64 // last record version
	records map[string]*recEntry
	cids    map[cidKey]*cidEntry
	exp     expHeap

	dlrSt   *dlrState   // unmatched receipts and webhook jobs (dlr.go)
	logSt   *logState   // the receipt log (receiptlog.go)
	otpSt   *otpState   // OTP sessions and credits (otp.go)
	leaseSt *leaseState // bind leases (lease.go)
	liveSt  liveState   // heartbeats (liveness.go)
	linkSt  linkState   // short links and their counts (links.go)

	now func() time.Time
}

var _ store.Store = (*Store)(nil)

// New returns an empty store. It starts no goroutine; Close only makes later calls fail.
func New() *Store {
	return &Store{
		carriers: make(map[string]*carrierQ),
		done:     make(chan struct{}),
		records:  make(map[string]*recEntry),
		cids:     make(map[cidKey]*cidEntry),
		dlrSt:    newDLRState(),
		logSt:    newLogState(),
		otpSt:    newOTPState(),
		leaseSt:  newLeaseState(),
		now:      time.Now,
	}
}

// entry is one queued message in a ready FIFO or pending.
type entry struct {
	msg        *store.Message // the store's own copy
	prio       store.Priority
	seq        uint64
	token      string
	consumer   string
	claimedAt  time.Time
	deliveries int64
}

type carrierQ struct {
	ready     [3]fifo[*entry]
	pending   map[string]*entry
	scheduled int64
	wake      chan struct{} // non-nil while a Claim waits; closed when entries arrive
}

func (s *Store) carrierLocked(name string) *carrierQ {
	cq := s.carriers[name]
	if cq == nil {
		cq = &carrierQ{pending: make(map[string]*entry)}
		s.carriers[name] = cq
	}
	return cq
}

// pushReadyLocked appends a copy-owned message to its carrier's FIFO and wakes waiters.
func (s *Store) pushReadyLocked(m *store.Message) {
	cq := s.carrierLocked(m.Carrier)
	s.seq++
	cq.ready[m.Priority].push(&entry{msg: m, prio: m.Priority, seq: s.seq})
	if cq.wake != nil {
		close(cq.wake)
		cq.wake = nil
	}
}

// scheduleLocked adds m to the scheduled heap; a client's future send (from Enqueue, not a
// Defer) may be withdrawn by CancelScheduled.
func (s *Store) scheduleLocked(m *store.Message, at time.Time, cancellable bool) {
	s.seq++
	heap.Push(&s.sched, &schedItem{at: at.UnixNano(), seq: s.seq, msg: m, cancellable: cancellable})
	s.carrierLocked(m.Carrier).scheduled++
}

func begin(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	return nil
}

// Enqueue implements store.Queue.
func (s *Store) Enqueue(ctx context.Context, msgs ...*store.Message) error {
	if err := begin(ctx, "enqueue"); err != nil {
		return err
	}
	copies, err := checkedCopies(msgs)
	if err != nil {
		return fmt.Errorf("store: enqueue: %w", err)
	}
	now := s.now()
	s.qmu.Lock()
	defer s.qmu.Unlock()
	if s.closed {
		return fmt.Errorf("store: enqueue: %w", ErrClosed)
	}
	s.enqueueLocked(copies, now)
	return nil
}

// checkedCopies checks messages for the queue and returns the store's own copies of them.
func checkedCopies(msgs []*store.Message) ([]*store.Message, error) {
	for _, m := range msgs {
		if err := valid.Message(m); err != nil {
			return nil, err
		}
	}
	copies := make([]*store.Message, len(msgs))
	for i, m := range msgs {
		copies[i] = cloneMsg(m)
	}
	return copies, nil
}

// enqueueLocked queues the store's copies: in the ready FIFO, or scheduled when SendAt is
// later than now. The caller holds qmu.
func (s *Store) enqueueLocked(copies []*store.Message, now time.Time) {
	for _, m := range copies {
		if m.SendAt.After(now) {
			s.scheduleLocked(m, m.SendAt, true)
		} else {
			s.pushReadyLocked(m)
		}
	}
}

// Claim implements store.Queue.
func (s *Store) Claim(ctx context.Context, carrier, consumer string, n int, wait time.Duration) ([]store.Claim, error) {
	if err := begin(ctx, "claim "+carrier); err != nil {
		return nil, err
	}
	if err := valid.Carrier(carrier); err != nil {
		return nil, fmt.Errorf("store: claim: %w", err)
	}
	if n <= 0 {
		return nil, nil
	}
	return waitTake(ctx, s, "claim "+carrier, wait, &s.qmu, func() ([]store.Claim, *chan struct{}, bool) {
		if s.closed {
			return nil, nil, false
		}
		cq := s.carrierLocked(carrier)
		return s.takeLocked(cq, consumer, n), &cq.wake, true
	})
}

// waitTake is the waiting loop of Claim and ReadReceiptLog: take runs under mu and returns
// what it took, the wake channel to sleep on (created here when nil; whoever adds closes and
// clears it) and false when the store is closed. It returns what take found, or nothing when
// wait has passed; ctx's error if ctx ends first, ErrClosed if the store closes.
func waitTake[T any](ctx context.Context, s *Store, op string, wait time.Duration, mu sync.Locker,
	take func() ([]T, *chan struct{}, bool)) ([]T, error) {
	var deadline time.Time
	if wait > 0 {
		deadline = s.now().Add(wait)
	}
	var timer *time.Timer
	for {
		mu.Lock()
		got, wakeP, open := take()
		if !open {
			mu.Unlock()
			return nil, fmt.Errorf("store: %s: %w", op, ErrClosed)
		}
		remaining := time.Duration(0)
		if wait > 0 {
			remaining = deadline.Sub(s.now())
		}
		if len(got) > 0 || remaining <= 0 {
			mu.Unlock()
			return got, nil
		}
		if *wakeP == nil {
			*wakeP = make(chan struct{})
		}
		wake := *wakeP
		mu.Unlock()

		if timer == nil {
			timer = time.NewTimer(remaining)
			defer timer.Stop()
		}
		select {
		case <-wake:
		case <-timer.C:
			wait = 0 // one last look, then return
		case <-ctx.Done():
			return nil, fmt.Errorf("store: %s: %w", op, ctx.Err())
		case <-s.done:
			return nil, fmt.Errorf("store: %s: %w", op, ErrClosed)
		}
	}
}

// takeLocked moves up to n ready entries, highest priority first, to pending.
func (s *Store) takeLocked(cq *carrierQ, consumer string, n int) []store.Claim {
	var claims []store.Claim
	now := s.now()
	for p := range cq.ready {
		q := &cq.ready[p]
		for len(claims) < n && q.len() > 0 {
			e := q.pop()
			e.consumer = consumer
			e.claimedAt = now
			e.deliveries = 1
			e.token = claimToken(e)
			cq.pending[strconv.FormatUint(e.seq, 10)] = e
			if claims == nil {
				claims = make([]store.Claim, 0, min(n, q.len()+1))
			}
			claims = append(claims, store.Claim{Message: cloneMsg(e.msg), Token: e.token, Deliveries: 1})
		}
	}
	return claims
}

// claimToken is a claim's token: the entry's sequence number and its delivery count. A
// takeover hands the entry out again with a higher count, so the earlier holder's token no
// longer matches: it is fenced.
func claimToken(e *entry) string {
	return strconv.FormatUint(e.seq, 10) + "." + strconv.FormatInt(e.deliveries, 10)
}

// finishLocked removes the claim's pending entry; nil if it is not pending, or no longer
// this claim's (taken over).
func (s *Store) finishLocked(carrier string, c store.Claim) *entry {
	cq := s.carriers[carrier]
	if cq == nil {
		return nil
	}
	key, _, _ := strings.Cut(c.Token, ".")
	e := cq.pending[key]
	if e == nil || e.token != c.Token {
		return nil
	}
	delete(cq.pending, key)
	return e
}

// Ack implements store.Queue.
func (s *Store) Ack(ctx context.Context, carrier string, claims ...store.Claim) error {
	if err := begin(ctx, "ack "+carrier); err != nil {
		return err
	}
	s.qmu.Lock()
	defer s.qmu.Unlock()
	if s.closed {
		return fmt.Errorf("store: ack %s: %w", carrier, ErrClosed)
	}
	for _, c := range claims {
		s.finishLocked(carrier, c)
	}
	return nil
}

// Defer implements store.Queue.
func (s *Store) Defer(ctx context.Context, carrier string, c store.Claim, at time.Time) error {
	if err := begin(ctx, "defer "+carrier); err != nil {
		return err
	}
	if c.Message == nil {
		return fmt.Errorf("store: defer %s: claim without message", carrier)
	}
	m := cloneMsg(c.Message)
	if m.Carrier == "" {
		m.Carrier = carrier
	}
	if err := valid.Message(m); err != nil {
		return fmt.Errorf("store: defer %s: %w", carrier, err)
	}
	s.qmu.Lock()
	defer s.qmu.Unlock()
	if s.closed {
		return fmt.Errorf("store: defer %s: %w", carrier, ErrClosed)
	}
	if s.finishLocked(carrier, c) == nil {
		return nil
	}
	s.scheduleLocked(m, at, false)
	if c.Event != nil {
		s.rmu.Lock()
		if s.records != nil {
			s.addEventsLocked(m.ID, s.now().UnixNano(), *c.Event)
		}
		s.rmu.Unlock()
	}
	return nil
}

// Move implements store.Queue.
func (s *Store) Move(ctx context.Context, from string, c store.Claim, to string) error {
	if err := begin(ctx, "move "+from); err != nil {
		return err
	}
	if c.Message == nil {
		return fmt.Errorf("store: move %s: claim without message", from)
	}
	m := cloneMsg(c.Message)
	m.Carrier = to
	if err := valid.Message(m); err != nil {
		return fmt.Errorf("store: move %s to %s: %w", from, to, err)
	}
	s.qmu.Lock()
	defer s.qmu.Unlock()
	if s.closed {
		return fmt.Errorf("store: move %s: %w", from, ErrClosed)
	}
	if s.finishLocked(from, c) == nil {
		return nil
	}
	s.pushReadyLocked(m)
	return nil
}

// Reclaim implements store.Queue.
func (s *Store) Reclaim(ctx context.Context, carrier, consumer string, minIdle time.Duration, n int) ([]store.Claim, error) {
	if err := begin(ctx, "reclaim "+carrier); err != nil {
		return nil, err
	}
	if err := valid.Carrier(carrier); err != nil {
		return nil, fmt.Errorf("store: reclaim: %w", err)
	}
	if n <= 0 {
		return nil, nil
	}
	s.qmu.Lock()
	defer s.qmu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("store: reclaim %s: %w", carrier, ErrClosed)
	}
	cq := s.carriers[carrier]
	if cq == nil {
		return nil, nil
	}
	now := s.now()
	return s.handOverLocked(cq, consumer, n, func(e *entry) bool { return now.Sub(e.claimedAt) >= minIdle }), nil
}

// TakeOver implements store.Queue: pending entries of consumers that no live member owns
// (consumer names no member made are left to Reclaim).
func (s *Store) TakeOver(ctx context.Context, carrier, consumer string, n int) ([]store.Claim, error) {
	if err := begin(ctx, "take over "+carrier); err != nil {
		return nil, err
	}
	if err := valid.Carrier(carrier); err != nil {
		return nil, fmt.Errorf("store: take over: %w", err)
	}
	if n <= 0 {
		return nil, nil
	}
	live := s.liveConsumers()
	s.qmu.Lock()
	defer s.qmu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("store: take over %s: %w", carrier, ErrClosed)
	}
	cq := s.carriers[carrier]
	if cq == nil {
		return nil, nil
	}
	return s.handOverLocked(cq, consumer, n, func(e *entry) bool {
		_, member := store.ParseConsumer(e.consumer)
		return member && e.consumer != consumer && !live[e.consumer]
	}), nil
}

// handOverLocked gives consumer up to n pending entries that take selects, highest priority
// and oldest first, each with its delivery count incremented and a new token.
func (s *Store) handOverLocked(cq *carrierQ, consumer string, n int, take func(*entry) bool) []store.Claim {
	now := s.now()
	var idle []*entry
	for _, e := range cq.pending {
		if take(e) {
			idle = append(idle, e)
		}
	}
	slices.SortFunc(idle, func(a, b *entry) int {
		if a.prio != b.prio {
			return int(a.prio) - int(b.prio)
		}
		return cmpU64(a.seq, b.seq)
	})
	if len(idle) > n {
		idle = idle[:n]
	}
	claims := make([]store.Claim, 0, len(idle))
	for _, e := range idle {
		e.consumer = consumer
		e.claimedAt = now
		e.deliveries++
		e.token = claimToken(e)
		claims = append(claims, store.Claim{Message: cloneMsg(e.msg), Token: e.token, Deliveries: e.deliveries})
	}
	return claims
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// PromoteDue implements store.Queue.
func (s *Store) PromoteDue(ctx context.Context, now time.Time, n int) (int, error) {
	if err := begin(ctx, "promote"); err != nil {
		return 0, err
	}
	s.qmu.Lock()
	defer s.qmu.Unlock()
	if s.closed {
		return 0, fmt.Errorf("store: promote: %w", ErrClosed)
	}
	limit := now.UnixNano()
	moved := 0
	for moved < n && s.sched.Len() > 0 && s.sched[0].at <= limit {
		it := heap.Pop(&s.sched).(*schedItem)
		s.carrierLocked(it.msg.Carrier).scheduled--
		s.pushReadyLocked(it.msg)
		moved++
	}
	return moved, nil
}

// CancelScheduled implements store.Queue. It looks through the scheduled heap (this store
// is for the demo and tests; the Redis store finds the message through an index).
func (s *Store) CancelScheduled(ctx context.Context, carrier, id string) (*store.Message, error) {
	if err := begin(ctx, "cancel "+id); err != nil {
		return nil, err
	}
	s.qmu.Lock()
	defer s.qmu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("store: cancel %s: %w", id, ErrClosed)
	}
	for i, it := range s.sched {
		if it.cancellable && it.msg.ID == id && it.msg.Carrier == carrier {
			heap.Remove(&s.sched, i)
			s.carrierLocked(carrier).scheduled--
			return cloneMsg(it.msg), nil
		}
	}
	return nil, nil
}

// Depth implements store.Queue.
func (s *Store) Depth(ctx context.Context, carrier string) (store.Depth, error) {
	if err := begin(ctx, "depth "+carrier); err != nil {
		return store.Depth{}, err
	}
	s.qmu.Lock()
	defer s.qmu.Unlock()
	if s.closed {
		return store.Depth{}, fmt.Errorf("store: depth %s: %w", carrier, ErrClosed)
	}
	cq := s.carriers[carrier]
	if cq == nil {
		return store.Depth{}, nil
	}
	var d store.Depth
	for p := range cq.ready {
		d.ByPriority[p].Ready = int64(cq.ready[p].len())
		d.Ready += d.ByPriority[p].Ready
	}
	for _, e := range cq.pending {
		d.ByPriority[e.prio].Pending++
	}
	d.Pending = int64(len(cq.pending))
	d.Scheduled = cq.scheduled
	return d, nil
}

// Ping implements store.Store: nil until Close.
func (s *Store) Ping(ctx context.Context) error {
	if err := begin(ctx, "ping"); err != nil {
		return err
	}
	s.qmu.Lock()
	defer s.qmu.Unlock()
	if s.closed {
		return fmt.Errorf("store: ping: %w", ErrClosed)
	}
	return nil
}

// Close makes every later call fail with ErrClosed and wakes waiting Claims. It drops
// everything stored. Closing twice is fine.
func (s *Store) Close() error {
	s.qmu.Lock()
	if !s.closed {
		s.closed = true
		close(s.done)
		s.carriers = nil
		s.sched = nil
	}
	s.qmu.Unlock()
	s.rmu.Lock()
	s.records = nil
	s.cids = nil
	s.exp = nil
	s.rmu.Unlock()
	s.logSt.drop()
	return nil
}

// fifo is a queue: a slice with a moving head, compacted as it drains.
type fifo[T any] struct {
	items []T
	head  int
}

func (f *fifo[T]) len() int { return len(f.items) - f.head }

func (f *fifo[T]) push(e T) { f.items = append(f.items, e) }

func (f *fifo[T]) pop() T {
	var zero T
	e := f.items[f.head]
	f.items[f.head] = zero
	f.head++
	switch {
	case f.head == len(f.items):
		f.items, f.head = f.items[:0], 0
	case f.head >= 1024 && f.head*2 >= len(f.items):
		n := copy(f.items, f.items[f.head:])
		clear(f.items[n:])
		f.items, f.head = f.items[:n], 0
	}
	return e
}

// schedHeap orders scheduled messages by due time, then by when they were scheduled.
type schedItem struct {
	at          int64 // unix nanoseconds
	seq         uint64
	msg         *store.Message
	cancellable bool // a client's future send (Enqueue), not a retry (Defer)
}

type schedHeap []*schedItem

func (h schedHeap) Len() int { return len(h) }
func (h schedHeap) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}
func (h schedHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *schedHeap) Push(x any)   { *h = append(*h, x.(*schedItem)) }
func (h *schedHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return it
}

func cloneMsg(m *store.Message) *store.Message {
	c := *m
	if m.Meta != nil {
		c.Meta = make(map[string]string, len(m.Meta))
		for k, v := range m.Meta {
			c.Meta[k] = v
		}
	}
	c.TMIDs = slices.Clone(m.TMIDs)
	return &c
}
