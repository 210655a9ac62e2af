package memstore

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/internal/valid"
)

type recEntry struct {
	rec     *store.Record
	expires int64 // unix nanoseconds
	version uint64
	events  []store.Event // the message's timeline (search.go)
}

type cidKey struct{ carrier, carrierMsgID string }

type cidEntry struct {
	msgID   string
	part    int
	expires int64
}

// expItem says that a record (cid nil) or an index entry (cid set) may expire at `at`. Entries
// replaced since have a later expiry and are left alone when the item comes up.
type expItem struct {
	at  int64
	rec string
	cid *cidKey
}

type expHeap []expItem

func (h expHeap) Len() int           { return len(h) }
func (h expHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h expHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expHeap) Push(x any)        { *h = append(*h, x.(expItem)) }
func (h *expHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = expItem{}
	*h = old[:len(old)-1]
	return it
}

// sweepPerWrite bounds the expired entries one write removes, so a write never stalls on a
// large backlog; writes outnumber expiries in steady state, so the backlog drains.
const sweepPerWrite = 32

// sweepLocked removes up to max entries that have expired by now.
func (s *Store) sweepLocked(now int64, max int) {
	for i := 0; i < max && len(s.exp) > 0 && s.exp[0].at <= now; i++ {
		it := heap.Pop(&s.exp).(expItem)
		if it.cid != nil {
			if e := s.cids[*it.cid]; e != nil && e.expires <= now {
				delete(s.cids, *it.cid)
			}
		} else if e := s.records[it.rec]; e != nil && e.expires <= now {
			delete(s.records, it.rec)
		}
	}
}

func expiry(now time.Time, ttl, def time.Duration) int64 {
	if ttl <= 0 {
		ttl = def
	}
	return now.Add(ttl).UnixNano()
}

// liveRecordLocked returns the record entry unless it is missing or expired.
func (s *Store) liveRecordLocked(id string, now int64) *recEntry {
	e := s.records[id]
	if e == nil {
		return nil
	}
	if e.expires <= now {
		delete(s.records, id)
		return nil
	}
	return e
}

// PutRecord implements store.Records.
func (s *Store) PutRecord(ctx context.Context, r *store.Record, ttl time.Duration) error {
	if err := begin(ctx, "put record"); err != nil {
		return err
	}
	if r == nil || r.ID == "" {
		return errors.New("store: put record: record without id")
	}
	c := cloneRecord(r)
	now := s.now()
	exp := expiry(now, ttl, store.DefaultRecordTTL)
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if s.records == nil {
		return fmt.Errorf("store: put record %s: %w", r.ID, ErrClosed)
	}
	s.putRecordLocked(c, exp)
	s.sweepLocked(now.UnixNano(), sweepPerWrite)
	return nil
}

// putRecordLocked stores c (the store's own copy), replacing any record with its id.
func (s *Store) putRecordLocked(c *store.Record, exp int64) {
	s.rver++
	s.records[c.ID] = &recEntry{rec: c, expires: exp, version: s.rver}
	heap.Push(&s.exp, expItem{at: exp, rec: c.ID})
}

// GetRecord implements store.Records.
func (s *Store) GetRecord(ctx context.Context, id string) (*store.Record, error) {
	if err := begin(ctx, "get record"); err != nil {
		return nil, err
	}
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if s.records == nil {
		return nil, fmt.Errorf("store: get record %s: %w", id, ErrClosed)
	}
	e := s.liveRecordLocked(id, s.now().UnixNano())
	if e == nil {
		return nil, fmt.Errorf("store: get record %s: %w", id, store.ErrNotFound)
	}
	return cloneRecord(e.rec), nil
}

// UpdateRecord implements store.Records. fn runs without any lock held; if another writer
// changed the record meanwhile, fn runs again on the new value. The stored Rev is the one fn
// was given plus one, whatever fn did to it.
func (s *Store) UpdateRecord(ctx context.Context, id string, fn func(*store.Record) error) (*store.Record, error) {
	for {
		if err := begin(ctx, "update record"); err != nil {
			return nil, err
		}
		s.rmu.Lock()
		if s.records == nil {
			s.rmu.Unlock()
			return nil, fmt.Errorf("store: update record %s: %w", id, ErrClosed)
		}
		e := s.liveRecordLocked(id, s.now().UnixNano())
		if e == nil {
			s.rmu.Unlock()
			return nil, fmt.Errorf("store: update record %s: %w", id, store.ErrNotFound)
		}
		version := e.version
		c := cloneRecord(e.rec)
		s.rmu.Unlock()

		if err := fn(c); err != nil {
			return nil, err
		}
		c.ID = id

		s.rmu.Lock()
		if s.records == nil {
			s.rmu.Unlock()
			return nil, fmt.Errorf("store: update record %s: %w", id, ErrClosed)
		}
		e = s.liveRecordLocked(id, s.now().UnixNano())
		if e == nil {
			s.rmu.Unlock()
			return nil, fmt.Errorf("store: update record %s: %w", id, store.ErrNotFound)
		}
		if e.version != version {
			s.rmu.Unlock()
			continue
		}
		c.Rev = e.rec.Rev + 1
		s.rver++
		e.rec, e.version = c, s.rver
		out := cloneRecord(c)
		s.rmu.Unlock()
		return out, nil
	}
}

// IndexCarrierID implements store.Records.
func (s *Store) IndexCarrierID(ctx context.Context, carrier, carrierMsgID, msgID string, part int, ttl time.Duration) error {
	if err := begin(ctx, "index "+carrier); err != nil {
		return err
	}
	if err := valid.Carrier(carrier); err != nil {
		return fmt.Errorf("store: index: %w", err)
	}
	if carrierMsgID == "" || msgID == "" {
		return fmt.Errorf("store: index %s: empty message id", carrier)
	}
	now := s.now()
	exp := expiry(now, ttl, store.DefaultIndexTTL)
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if s.cids == nil {
		return fmt.Errorf("store: index %s: %w", carrier, ErrClosed)
	}
	s.indexLocked(carrier, carrierMsgID, msgID, part, exp)
	s.sweepLocked(now.UnixNano(), sweepPerWrite)
	return nil
}

func (s *Store) indexLocked(carrier, carrierMsgID, msgID string, part int, exp int64) {
	k := cidKey{carrier, carrierMsgID}
	s.cids[k] = &cidEntry{msgID: msgID, part: part, expires: exp}
	heap.Push(&s.exp, expItem{at: exp, cid: &k})
}

// checkIndex checks what IndexCarrierID checks of an index entry.
func checkIndex(e store.IndexEntry) error {
	if err := valid.Carrier(e.Carrier); err != nil {
		return err
	}
	if e.ID == "" || e.MsgID == "" {
		return fmt.Errorf("index entry of %s: empty message id", e.Carrier)
	}
	return nil
}

// LookupCarrierID implements store.Records.
func (s *Store) LookupCarrierID(ctx context.Context, carrier, carrierMsgID string) (string, int, error) {
	if err := begin(ctx, "lookup "+carrier); err != nil {
		return "", 0, err
	}
	k := cidKey{carrier, carrierMsgID}
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if s.cids == nil {
		return "", 0, fmt.Errorf("store: lookup %s: %w", carrier, ErrClosed)
	}
	e := s.liveIndexLocked(k, s.now().UnixNano())
	if e == nil {
		return "", 0, fmt.Errorf("store: lookup %s %s: %w", carrier, carrierMsgID, store.ErrNotFound)
	}
	return e.msgID, e.part, nil
}

// liveIndexLocked returns the index entry unless it is missing or expired.
func (s *Store) liveIndexLocked(k cidKey, now int64) *cidEntry {
	e := s.cids[k]
	if e != nil && e.expires <= now {
		delete(s.cids, k)
		e = nil
	}
	return e
}

// LookupCarrierIDs implements store.Records. A key with no live entry gets the zero
// IndexEntry; a found one comes back with its key.
func (s *Store) LookupCarrierIDs(ctx context.Context, keys ...store.IndexKey) ([]store.IndexEntry, error) {
	if err := begin(ctx, "lookup carrier ids"); err != nil {
		return nil, err
	}
	out := make([]store.IndexEntry, len(keys))
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if s.cids == nil {
		return nil, fmt.Errorf("store: lookup carrier ids: %w", ErrClosed)
	}
	now := s.now().UnixNano()
	for i, k := range keys {
		if e := s.liveIndexLocked(cidKey{k.Carrier, k.ID}, now); e != nil {
			out[i] = store.IndexEntry{IndexKey: k, MsgID: e.msgID, Part: e.part}
		}
	}
	return out, nil
}

// SwapRecords implements store.Records: every change is checked first (a record without id,
// or a webhook job without id or url, refuses the whole call), then applied in order, each
// against the record as the changes before it left it.
func (s *Store) SwapRecords(ctx context.Context, changes ...store.RecordChange) ([]store.SwapResult, error) {
	if err := s.open(ctx, "swap records"); err != nil {
		return nil, err
	}
	recs := make([]*store.Record, len(changes))
	jobs := make([][]*store.WebhookJob, len(changes))
	evs := make([][]store.Event, len(changes))
	for i, ch := range changes {
		if ch.Record == nil || ch.Record.ID == "" {
			return nil, errors.New("store: swap records: record without id")
		}
		for _, j := range ch.Jobs() {
			if err := checkJob(j); err != nil {
				return nil, fmt.Errorf("store: swap records: %w", err)
			}
			jobs[i] = append(jobs[i], cloneJob(j))
		}
		recs[i] = cloneRecord(ch.Record)
		evs[i] = append([]store.Event(nil), ch.Events...)
	}
	now := s.now()
	out := make([]store.SwapResult, len(changes))
	d := s.dlr()
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if s.records == nil {
		return nil, fmt.Errorf("store: swap records: %w", ErrClosed)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, r := range recs {
		e := s.liveRecordLocked(r.ID, now.UnixNano())
		switch {
		case e == nil:
			out[i].Err = fmt.Errorf("store: swap record %s: %w", r.ID, store.ErrNotFound)
		case e.rec.Rev != r.Rev-1:
			out[i].Current = cloneRecord(e.rec)
		default:
			s.rver++
			e.rec, e.version = r, s.rver
			out[i].Stored = true
			for _, j := range jobs[i] {
				d.enqueueLocked(j, now)
			}
			s.addEventsLocked(r.ID, now.UnixNano(), evs[i]...)
		}
	}
	return out, nil
}

func cloneRecord(r *store.Record) *store.Record {
	c := *r
	if r.CarrierIDs != nil {
		c.CarrierIDs = append([]string(nil), r.CarrierIDs...)
	}
	if r.TMIDs != nil {
		c.TMIDs = append([]string(nil), r.TMIDs...)
	}
	if r.Meta != nil {
		c.Meta = make(map[string]string, len(r.Meta))
		for k, v := range r.Meta {
			c.Meta[k] = v
		}
	}
	return &c
}

// Counts is how many entries a Store holds, expired ones not yet swept included.
type Counts struct {
	Records, Index int
}

// Counts reports the store's record and index sizes, for metrics and tests.
func (s *Store) Counts() Counts {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	return Counts{Records: len(s.records), Index: len(s.cids)}
}
