package memstore

import (
	"cmp"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/internal/valid"
)

// Unmatched receipts and the webhook queue (store.Receipts and store.Webhooks), kept in the
// Store's dlrSt. Receipts waiting for their message are in the receipt log (receiptlog.go).
//
// Every queued webhook job is an entry with its own number: the queue does not deduplicate,
// so two entries may carry the same job ID. Each claim gives the entry a new token, "entry.n"
// with n unique to the claim. A claim is held from ClaimWebhooks until its Ack, Retry or Dead,
// or until the entry is claimed again (its lease ran out and another sender took it over):
// Ack, Retry and Dead with a token that is no longer held do nothing. A lease that ran out
// without anyone claiming the job again leaves the claim held.

var (
	_ store.Receipts = (*Store)(nil)
	_ store.Webhooks = (*Store)(nil)
)

type dlrState struct {
	mu        sync.Mutex
	seq       uint64 // last sequence number: unmatched order, entry numbers, claim numbers, heap versions
	unmatched map[string]*unmatchedEntry
	jobs      map[uint64]*jobEntry // queued webhook jobs by entry number
	due       jobHeap
	dead      map[string]*store.WebhookJob // dead letters by job ID
}

type unmatchedEntry struct {
	r       *store.Receipt
	expires int64
	seq     uint64
}

type jobEntry struct {
	job   *store.WebhookJob // the store's copy; Token empty
	due   int64             // due time or lease end
	ver   uint64            // the heap item that is current
	token string            // the latest claim's token; "" until the first claim
}

func (s *Store) dlr() *dlrState { return s.dlrSt }

func newDLRState() *dlrState {
	return &dlrState{
		unmatched: make(map[string]*unmatchedEntry),
		jobs:      make(map[uint64]*jobEntry),
		dead:      make(map[string]*store.WebhookJob),
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

// cloneJob copies a job without its Token, which is never stored.
// cloneJob copies a job without what is not stored: its claim's Token and its attempt's
// timeline Event.
func cloneJob(j *store.WebhookJob) *store.WebhookJob {
	c := *j
	c.Token, c.Event = "", nil
	return &c
}

func checkReceipt(r *store.Receipt) error {
	if r == nil || r.ID == "" {
		return errors.New("receipt without id")
	}
	return valid.Carrier(r.Carrier)
}

func checkJob(j *store.WebhookJob) error {
	if j == nil || j.ID == "" || j.URL == "" {
		return errors.New("webhook job without id or url")
	}
	return nil
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

// ReceiptCounts implements store.Receipts: Parked is the receipt log's length.
func (s *Store) ReceiptCounts(ctx context.Context) (store.ReceiptCounts, error) {
	if err := s.open(ctx, "receipt counts"); err != nil {
		return store.ReceiptCounts{}, err
	}
	var c store.ReceiptCounts
	c.Parked = s.logLen()
	now := s.now().UnixNano()
	d := s.dlr()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, e := range d.unmatched {
		if e.expires > now {
			c.Unmatched++
		}
	}
	return c, nil
}

// jobHeap orders queued jobs by due time. Items whose version no longer matches the entry's
// are stale (the job was claimed, rescheduled or finished since) and are skipped when they
// come up.
type jobItem struct {
	due   int64
	ver   uint64
	entry uint64
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

// scheduleLocked makes entry n due at `due`.
func (d *dlrState) scheduleLocked(n uint64, e *jobEntry, due int64) {
	d.seq++
	e.due, e.ver = due, d.seq
	heap.Push(&d.due, jobItem{due: due, ver: d.seq, entry: n})
}

// enqueueLocked queues a job (the store's own copy) as a new entry, due at its NextAt (zero:
// now).
func (d *dlrState) enqueueLocked(j *store.WebhookJob, now time.Time) {
	due := j.NextAt
	if due.IsZero() {
		due = now
	}
	d.seq++
	n := d.seq
	e := &jobEntry{job: j}
	d.jobs[n] = e
	d.scheduleLocked(n, e, due.UnixNano())
}

// entryLocked returns the job entry a token was handed out for, whether or not the token is
// still the current claim.
func (d *dlrState) entryLocked(token string) (uint64, *jobEntry) {
	num, _, ok := strings.Cut(token, ".")
	if !ok {
		return 0, nil
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil {
		return 0, nil
	}
	e := d.jobs[n]
	if e == nil {
		return 0, nil
	}
	return n, e
}

// heldLocked returns the entry the token names if the token is still its latest claim's.
func (d *dlrState) heldLocked(token string) (uint64, *jobEntry) {
	n, e := d.entryLocked(token)
	if e == nil || e.token != token {
		return 0, nil
	}
	return n, e
}

// EnqueueWebhooks implements store.Webhooks. Every job becomes a new entry (no
// deduplication); a job without id or url refuses the whole call.
func (s *Store) EnqueueWebhooks(ctx context.Context, jobs ...*store.WebhookJob) (int, error) {
	if err := s.open(ctx, "enqueue webhooks"); err != nil {
		return 0, err
	}
	for _, j := range jobs {
		if err := checkJob(j); err != nil {
			return 0, fmt.Errorf("store: enqueue webhooks: %w", err)
		}
	}
	copies := make([]*store.WebhookJob, len(jobs))
	for i, j := range jobs {
		copies[i] = cloneJob(j)
	}
	now := s.now()
	d := s.dlr()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, j := range copies {
		d.enqueueLocked(j, now)
	}
	return len(copies), nil
}

// ClaimWebhooks implements store.Webhooks. Each claimed entry gets a new token and is due
// again at now+lease.
func (s *Store) ClaimWebhooks(ctx context.Context, now time.Time, lease time.Duration, n int) ([]*store.WebhookJob, error) {
	if err := s.open(ctx, "claim webhooks"); err != nil {
		return nil, err
	}
	d := s.dlr()
	d.mu.Lock()
	defer d.mu.Unlock()
	lim := now.UnixNano()
	var out []*store.WebhookJob
	var claimed []uint64
	for len(out) < n && d.due.Len() > 0 && d.due[0].due <= lim {
		it := heap.Pop(&d.due).(jobItem)
		e := d.jobs[it.entry]
		if e == nil || e.ver != it.ver {
			continue // stale
		}
		d.seq++
		e.token = strconv.FormatUint(it.entry, 10) + "." + strconv.FormatUint(d.seq, 10)
		j := cloneJob(e.job)
		j.Token = e.token
		out = append(out, j)
		claimed = append(claimed, it.entry)
	}
	// Rescheduled after the loop, so that a lease <= 0 does not hand a job out twice.
	leaseEnd := now.Add(lease).UnixNano()
	for _, num := range claimed {
		d.scheduleLocked(num, d.jobs[num], leaseEnd)
	}
	return out, nil
}

// AckWebhooks implements store.Webhooks.
func (s *Store) AckWebhooks(ctx context.Context, jobs ...*store.WebhookJob) error {
	if err := s.open(ctx, "ack webhooks"); err != nil {
		return err
	}
	d := s.dlr()
	var acked []*store.WebhookJob
	defer func() { s.addJobEvents(acked...) }() // after d.mu: the lock order is rmu, d.mu
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, j := range jobs {
		if j == nil {
			continue
		}
		// A delivered job is finished even if its lease ran out meanwhile (the new holder's
		// attempt is a duplicate the receiver drops by the job's ID): match the entry only.
		if n, e := d.entryLocked(j.Token); e != nil {
			delete(d.jobs, n)
			acked = append(acked, j)
		}
	}
	return nil
}

// RetryWebhook implements store.Webhooks.
func (s *Store) RetryWebhook(ctx context.Context, job *store.WebhookJob, at time.Time) error {
	if err := s.open(ctx, "retry webhook"); err != nil {
		return err
	}
	if job == nil {
		return errors.New("store: retry webhook: nil job")
	}
	c := cloneJob(job)
	c.NextAt = at
	d := s.dlr()
	held := false
	defer func() {
		if held {
			s.addJobEvents(job) // after d.mu: the lock order is rmu, d.mu
		}
	}()
	d.mu.Lock()
	defer d.mu.Unlock()
	n, e := d.heldLocked(job.Token)
	if e == nil {
		return nil
	}
	held = true
	// The claim ends here, and the job becomes a new entry (as in Redis, where it leaves the
	// stream for the retry set): no token of the old entry finishes it.
	delete(d.jobs, n)
	d.seq++
	e = &jobEntry{job: c}
	d.jobs[d.seq] = e
	d.scheduleLocked(d.seq, e, at.UnixNano())
	return nil
}

// DeadWebhook implements store.Webhooks. A dead letter replaces any other with its job ID.
func (s *Store) DeadWebhook(ctx context.Context, job *store.WebhookJob) error {
	if err := s.open(ctx, "dead webhook"); err != nil {
		return err
	}
	if job == nil {
		return errors.New("store: dead webhook: nil job")
	}
	c := cloneJob(job)
	if c.DeadAt.IsZero() {
		c.DeadAt = s.now()
	}
	d := s.dlr()
	held := false
	defer func() {
		if held {
			s.addJobEvents(job) // after d.mu: the lock order is rmu, d.mu
		}
	}()
	d.mu.Lock()
	defer d.mu.Unlock()
	n, e := d.heldLocked(job.Token)
	if e == nil {
		return nil
	}
	held = true
	delete(d.jobs, n)
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

// ReplayWebhooks implements store.Webhooks: each dead letter becomes a new queue entry.
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
		d.enqueueLocked(j, now)
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
