package memstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/smppd/smppd/store"
)

// The receipt log (store.ReceiptLog), kept in the Store's logSt: a FIFO of entries no one has
// read yet and a map of read, unacked entries by token, each with the consumer it was last
// handed to, when, and how many times. Like a Redis stream read through one consumer group.

var _ store.ReceiptLog = (*Store)(nil)

type logState struct {
	mu      sync.Mutex
	seq     uint64 // last entry number: tokens and append order
	unread  fifo[*logEntry]
	pending map[string]*logEntry // read, not acked, by token
	wake    chan struct{}        // non-nil while a ReadReceiptLog waits; closed when entries arrive
}

type logEntry struct {
	p          *store.LoggedPDU // the store's copy, Token set, Deliveries unused
	seq        uint64
	consumer   string
	delivered  time.Time // last handed out
	deliveries int64
}

func newLogState() *logState {
	return &logState{pending: make(map[string]*logEntry)}
}

// drop forgets every entry (Close) and wakes waiting readers.
func (l *logState) drop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.unread = fifo[*logEntry]{}
	l.pending = make(map[string]*logEntry)
	if l.wake != nil {
		close(l.wake)
		l.wake = nil
	}
}

func clonePDU(p *store.LoggedPDU) *store.LoggedPDU {
	c := *p
	if p.Body != nil {
		c.Body = slices.Clone(p.Body)
	}
	return &c
}

// out is the copy of e handed to a reader.
func (e *logEntry) out() *store.LoggedPDU {
	c := clonePDU(e.p)
	c.Deliveries = e.deliveries
	return c
}

// closedNow reports whether Close has been called (without taking qmu).
func (s *Store) closedNow() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// AppendReceipts implements store.ReceiptLog. A nil entry refuses the whole call.
func (s *Store) AppendReceipts(ctx context.Context, ps ...*store.LoggedPDU) error {
	if err := s.open(ctx, "append receipts"); err != nil {
		return err
	}
	copies := make([]*store.LoggedPDU, len(ps))
	for i, p := range ps {
		if p == nil {
			return errors.New("store: append receipts: nil entry")
		}
		copies[i] = clonePDU(p)
		copies[i].Deliveries = 0
	}
	l := s.logSt
	l.mu.Lock()
	defer l.mu.Unlock()
	if s.closedNow() {
		return fmt.Errorf("store: append receipts: %w", ErrClosed)
	}
	for _, c := range copies {
		l.seq++
		c.Token = strconv.FormatUint(l.seq, 10)
		l.unread.push(&logEntry{p: c, seq: l.seq})
	}
	if len(copies) > 0 && l.wake != nil {
		close(l.wake)
		l.wake = nil
	}
	return nil
}

// ReadReceiptLog implements store.ReceiptLog. Like Claim, it returns ctx's error if ctx ends
// while it waits, and ErrClosed if the store is closed meanwhile.
func (s *Store) ReadReceiptLog(ctx context.Context, consumer string, n int, wait time.Duration) ([]*store.LoggedPDU, error) {
	if err := begin(ctx, "read receipt log"); err != nil {
		return nil, err
	}
	if n <= 0 {
		return nil, nil
	}
	l := s.logSt
	return waitTake(ctx, s, "read receipt log", wait, &l.mu, func() ([]*store.LoggedPDU, *chan struct{}, bool) {
		if s.closedNow() {
			return nil, nil, false
		}
		now := s.now()
		var out []*store.LoggedPDU
		for len(out) < n && l.unread.len() > 0 {
			e := l.unread.pop()
			e.consumer, e.delivered, e.deliveries = consumer, now, 1
			l.pending[e.p.Token] = e
			out = append(out, e.out())
		}
		return out, &l.wake, true
	})
}

// ReclaimReceiptLog implements store.ReceiptLog.
func (s *Store) ReclaimReceiptLog(ctx context.Context, consumer string, minIdle time.Duration, n int) ([]*store.LoggedPDU, error) {
	if err := s.open(ctx, "reclaim receipt log"); err != nil {
		return nil, err
	}
	if n <= 0 {
		return nil, nil
	}
	l := s.logSt
	l.mu.Lock()
	defer l.mu.Unlock()
	now := s.now()
	var idle []*logEntry
	for _, e := range l.pending {
		if now.Sub(e.delivered) >= minIdle {
			idle = append(idle, e)
		}
	}
	slices.SortFunc(idle, func(a, b *logEntry) int { return cmp.Compare(a.seq, b.seq) })
	if len(idle) > n {
		idle = idle[:n]
	}
	out := make([]*store.LoggedPDU, len(idle))
	for i, e := range idle {
		e.consumer, e.delivered = consumer, now
		e.deliveries++
		out[i] = e.out()
	}
	return out, nil
}

// AckReceiptLog implements store.ReceiptLog. Only read entries can be acked: their tokens
// are the only ones handed out.
func (s *Store) AckReceiptLog(ctx context.Context, tokens ...string) error {
	if err := s.open(ctx, "ack receipt log"); err != nil {
		return err
	}
	l := s.logSt
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, t := range tokens {
		delete(l.pending, t)
	}
	return nil
}

// ReceiptLogLen implements store.ReceiptLog.
func (s *Store) ReceiptLogLen(ctx context.Context) (int64, error) {
	if err := s.open(ctx, "receipt log length"); err != nil {
		return 0, err
	}
	return s.logLen(), nil
}

// logLen counts the entries not acked, read or not.
func (s *Store) logLen() int64 {
	l := s.logSt
	l.mu.Lock()
	defer l.mu.Unlock()
	return int64(l.unread.len() + len(l.pending))
}
