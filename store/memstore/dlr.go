package memstore

import (
	"cmp"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/internal/valid"
)

// Receipt parking, unmatched receipts and the webhook queue (store.Receipts and
// store.Webhooks), kept in the Store's dlrSt.

var (
	_ store.Receipts = (*Store)(nil)
	_ store.Webhooks = (*Store)(nil)
)

type dlrState struct {
	mu        sync.Mutex
	seq       uint64
	parked    map[parkKey]map[string]*parkedEntry
	unmatched map[string]*unmatchedEntry
	jobs      map[string]*jobEntry
	due       jobHeap
	dead      map[string]*store.WebhookJob
	done      map[string]int64 // job id → unix nanos when it may be forgotten
}

type parkKey struct{ carrier, key string }

type parkedEntry struct {
	r     *store.Receipt
	until int64
	seq   uint64
}

type unmatchedEntry struct {
	r       *store.Receipt
	expires int64
	seq     uint64
}

type jobEntry struct {
	job *store.WebhookJob
	due int64
	ver uint64
}

func (s *Store) dlr() *dlrState { return s.dlrSt }

func newDLRState() *dlrState {
	return &dlrState{
		parked:    make(map[parkKey]map[string]*parkedEntry),
		unmatched: make(map[string]*unmatchedEntry),
		jobs:      make(map[string]*jobEntry),
		dead:      make(map[string]*store.WebhookJob),
		done:      make(map[string]int64),
	}
}

// open checks ctx and that the store is not closed.
func (s *Store) open(ctx context.Context, op string) error {
	if err := begin(ctx, op); err != nil {
		return err
	}
	s.qmu.Lock()
	closed := s.closed
	s.qmu.Unlock()
	if closed {
		return fmt.Errorf("store: %s: %w", op, ErrClosed)
	}
	return nil
}

func cloneReceipt(r *store.Receipt) *store.Receipt { c := *r; return &c }

func cloneJob(j *store.WebhookJob) *store.WebhookJob { c := *j; return &c }

func checkReceipt(r *store.Receipt) error {
	if r == nil || r.ID == "" {
		return errors.New("receipt without id")
	}
	return valid.Carrier(r.Carrier)
}

// Park implements store.Receipts.
func (s *Store) Park(ctx context.Context, r *store.Receipt, until time.Time) error {
	if err := s.open(ctx, "park receipt"); err != nil {
		return err
	}
	if err := checkReceipt(r); err != nil {
		return fmt.Errorf("store: park receipt: %w", err)
	}
	d := s.dlr()
	d.mu.Lock()
	defer d.mu.Unlock()
	k := parkKey{r.Carrier, r.Key}
	m := d.parked[k]
	if m == nil {
		m = make(map[string]*parkedEntry)
		d.parked[k] = m
	}
	if e, ok := m[r.ID]; ok {
		e.until = until.UnixNano()
		return nil
	}
	d.seq++
	m[r.ID] = &parkedEntry{r: cloneReceipt(r), until: until.UnixNano(), seq: d.seq}
	return nil
}

// ParkedReceipts implements store.Receipts.
func (s *Store) ParkedReceipts(ctx context.Context, carrier, key string) ([]*store.Receipt, error) {
	if err := s.open(ctx, "parked receipts"); err != nil {
		return nil, err
	}
	d := s.dlr()
	d.mu.Lock()
	defer d.mu.Unlock()
	m := d.parked[parkKey{carrier, key}]
	es := make([]*parkedEntry, 0, len(m))
	for _, e := range m {
		es = append(es, e)
	}
	slices.SortFunc(es, func(a, b *parkedEntry) int { return cmp.Compare(a.seq, b.seq) })
	out := make([]*store.Receipt, len(es))
	for i, e := range es {
		out[i] = cloneReceipt(e.r)
	}
	return out, nil
}

// DueParked implements store.Receipts.
func (s *Store) DueParked(ctx context.Context, now time.Time, n int) ([]*store.Receipt, error) {
	if err := s.open(ctx, "due parked receipts"); err != nil {
		return nil, err
	}
	if n <= 0 {
		return nil, nil
	}
	d := s.dlr()
	d.mu.Lock()
	defer d.mu.Unlock()
	lim := now.UnixNano()
	var es []*parkedEntry
	for _, m := range d.parked {
		for _, e := range m {
			if e.until <= lim {
				es = append(es, e)
			}
		}
	}
	slices.SortFunc(es, func(a, b *parkedEntry) int {
		if c := cmp.Compare(a.until, b.until); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	if len(es) > n {
		es = es[:n]
	}
	out := make([]*store.Receipt, len(es))
	for i, e := range es {
		out[i] = cloneReceipt(e.r)
	}
	return out, nil
}

// Unpark implements store.Receipts.
func (s *Store) Unpark(ctx context.Context, carrier, key string, ids ...string) error {
	if err := s.open(ctx, "unpark receipts"); err != nil {
		return err
	}
	d := s.dlr()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.unparkLocked(parkKey{carrier, key}, ids...)
	return nil
}

func (d *dlrState) unparkLocked(k parkKey, ids ...string) {
	m := d.parked[k]
	if m == nil {
		return
	}
	for _, id := range ids {
		delete(m, id)
	}
	if len(m) == 0 {
		delete(d.parked, k)
	}
}

// Unmatch implements store.Receipts.
func (s *Store) Unmatch(ctx context.Context, r *store.Receipt, ttl time.Duration) error {
	if err := s.open(ctx, "unmatch receipt"); err != nil {
		return err
	}
	if err := checkReceipt(r); err != nil {
		return fmt.Errorf("store: unmatch receipt: %w", err)
	}
	if ttl <= 0 {
		ttl = store.DefaultUnmatchedTTL
	}
	now := s.now()
	d := s.dlr()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.unparkLocked(parkKey{r.Carrier, r.Key}, r.ID)
	d.seq++
	d.unmatched[r.ID] = &unmatchedEntry{r: cloneReceipt(r), expires: now.Add(ttl).UnixNano(), seq: d.seq}
	// Sweep expired entries now and then: the list is for inspection, never large.
	if d.seq%64 == 0 {
		for id, e := range d.unmatched {
			if e.expires <= now.UnixNano() {
				delete(d.unmatched, id)
			}
		}
	}
	return nil
}

// Unmatched implements store.Receipts.
func (s *Store) Unmatched(ctx context.Context, n int) ([]*store.Receipt, error) {
	if err := s.open(ctx, "unmatched receipts"); err != nil {
		return nil, err
	}
	now := s.now().UnixNano()
	d := s.dlr()
	d.mu.Lock()
	defer d.mu.Unlock()
	var es []*unmatchedEntry
	for _, e := range d.unmatched {
		if e.expires > now {
			es = append(es, e)
		}
	}
	slices.SortFunc(es, func(a, b *unmatchedEntry) int { return cmp.Compare(b.seq, a.seq) })
	if len(es) > n {
		es = es[:max(n, 0)]
	}
	out := make([]*store.Receipt, len(es))
	for i, e := range es {
		out[i] = cloneReceipt(e.r)
	}
	return out, nil
}

// ReceiptCounts implements store.Receipts.
func (s *Store) ReceiptCounts(ctx context.Context) (store.ReceiptCounts, error) {
	if err := s.open(ctx, "receipt counts"); err != nil {
		return store.ReceiptCounts{}, err
	}
	now := s.now().UnixNano()
	d := s.dlr()
	d.mu.Lock()
	defer d.mu.Unlock()
	var c store.ReceiptCounts
	for _, m := range d.parked {
		c.Parked += int64(len(m))
	}
	for _, e := range d.unmatched {
		if e.expires > now {
			c.Unmatched++
		}
	}
	return c, nil
}

// jobHeap orders queued jobs by due time. Items whose version no longer matches the job's
// are stale (the job was rescheduled or finished) and are skipped when they come up.
type jobItem struct {
	due int64
	ver uint64
	id  string
}

type jobHeap []jobItem

func (h jobHeap) Len() int { return len(h) }
func (h jobHeap) Less(i, j int) bool {
	if h[i].due != h[j].due {
		return h[i].due < h[j].due
	}
	return h[i].ver < h[j].ver
}
func (h jobHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *jobHeap) Push(x any)   { *h = append(*h, x.(jobItem)) }
func (h *jobHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

func (d *dlrState) scheduleLocked(j *store.WebhookJob, due int64) {
	d.seq++
	e := d.jobs[j.ID]
	if e == nil {
		e = &jobEntry{}
		d.jobs[j.ID] = e
	}
	e.job, e.due, e.ver = j, due, d.seq
	heap.Push(&d.due, jobItem{due: due, ver: d.seq, id: j.ID})
}

func (d *dlrState) isDoneLocked(id string, now int64) bool {
	exp, ok := d.done[id]
	if ok && exp <= now {
		delete(d.done, id)
		return false
	}
	return ok
}

// EnqueueWebhooks implements store.Webhooks.
func (s *Store) EnqueueWebhooks(ctx context.Context, jobs ...*store.WebhookJob) (int, error) {
	if err := s.open(ctx, "enqueue webhooks"); err != nil {
		return 0, err
	}
	for _, j := range jobs {
		if j == nil || j.ID == "" || j.URL == "" {
			return 0, errors.New("store: enqueue webhooks: job without id or url")
		}
	}
	now := s.now()
	d := s.dlr()
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, j := range jobs {
		if d.jobs[j.ID] != nil || d.dead[j.ID] != nil || d.isDoneLocked(j.ID, now.UnixNano()) {
			continue
		}
		c := cloneJob(j)
		due := c.NextAt
		if due.IsZero() {
			due = now
		}
		d.scheduleLocked(c, due.UnixNano())
		n++
	}
	return n, nil
}

// ClaimWebhooks implements store.Webhooks.
func (s *Store) ClaimWebhooks(ctx context.Context, now time.Time, lease time.Duration, n int) ([]*store.WebhookJob, error) {
	if err := s.open(ctx, "claim webhooks"); err != nil {
		return nil, err
	}
	d := s.dlr()
	d.mu.Lock()
	defer d.mu.Unlock()
	lim := now.UnixNano()
	var out []*store.WebhookJob
	var leased []*store.WebhookJob
	for len(out) < n && d.due.Len() > 0 && d.due[0].due <= lim {
		it := heap.Pop(&d.due).(jobItem)
		e := d.jobs[it.id]
		if e == nil || e.ver != it.ver {
			continue // stale
		}
		out = append(out, cloneJob(e.job))
		leased = append(leased, e.job)
	}
	for _, j := range leased {
		d.scheduleLocked(j, now.Add(lease).UnixNano())
	}
	return out, nil
}

// AckWebhook implements store.Webhooks.
func (s *Store) AckWebhook(ctx context.Context, id string, keep time.Duration) error {
	if err := s.open(ctx, "ack webhook"); err != nil {
		return err
	}
	if keep <= 0 {
		keep = store.DefaultWebhookDoneTTL
	}
	now := s.now()
	d := s.dlr()
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.jobs, id)
	d.done[id] = now.Add(keep).UnixNano()
	if len(d.done)%256 == 0 {
		for k, exp := range d.done {
			if exp <= now.UnixNano() {
				delete(d.done, k)
			}
		}
	}
	return nil
}

// RetryWebhook implements store.Webhooks.
func (s *Store) RetryWebhook(ctx context.Context, job *store.WebhookJob, at time.Time) error {
	if err := s.open(ctx, "retry webhook"); err != nil {
		return err
	}
	d := s.dlr()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.jobs[job.ID] == nil {
		return nil
	}
	c := cloneJob(job)
	c.NextAt = at
	d.scheduleLocked(c, at.UnixNano())
	return nil
}

// DeadWebhook implements store.Webhooks.
func (s *Store) DeadWebhook(ctx context.Context, job *store.WebhookJob) error {
	if err := s.open(ctx, "dead webhook"); err != nil {
		return err
	}
	now := s.now()
	d := s.dlr()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.jobs[job.ID] == nil {
		return nil
	}
	delete(d.jobs, job.ID)
	c := cloneJob(job)
	if c.DeadAt.IsZero() {
		c.DeadAt = now
	}
	d.dead[c.ID] = c
	return nil
}

// DeadWebhooks implements store.Webhooks.
func (s *Store) DeadWebhooks(ctx context.Context, n int) ([]*store.WebhookJob, error) {
	if err := s.open(ctx, "dead webhooks"); err != nil {
		return nil, err
	}
	d := s.dlr()
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]*store.WebhookJob, 0, len(d.dead))
	for _, j := range d.dead {
		out = append(out, cloneJob(j))
	}
	slices.SortFunc(out, func(a, b *store.WebhookJob) int {
		if c := a.DeadAt.Compare(b.DeadAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	if len(out) > n {
		out = out[:max(n, 0)]
	}
	return out, nil
}

// ReplayWebhooks implements store.Webhooks.
func (s *Store) ReplayWebhooks(ctx context.Context, now time.Time, ids ...string) (int, error) {
	if err := s.open(ctx, "replay webhooks"); err != nil {
		return 0, err
	}
	d := s.dlr()
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(ids) == 0 {
		for id := range d.dead {
			ids = append(ids, id)
		}
	}
	n := 0
	for _, id := range ids {
		j := d.dead[id]
		if j == nil {
			continue
		}
		delete(d.dead, id)
		j.DeadAt, j.Since, j.NextAt = time.Time{}, now, now
		d.scheduleLocked(j, now.UnixNano())
		n++
	}
	return n, nil
}

// WebhookCounts implements store.Webhooks.
func (s *Store) WebhookCounts(ctx context.Context) (store.WebhookCounts, error) {
	if err := s.open(ctx, "webhook counts"); err != nil {
		return store.WebhookCounts{}, err
	}
	d := s.dlr()
	d.mu.Lock()
	defer d.mu.Unlock()
	return store.WebhookCounts{Queued: int64(len(d.jobs)), Dead: int64(len(d.dead))}, nil
}
