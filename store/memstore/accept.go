package memstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/internal/valid"
)

// Accept and Settle (store.Accepter and store.Settler): the steps that touch the queues, the
// records and the webhook queue together. They hold the locks of every part they touch, always
// in the order qmu, rmu, dlr's mu (nothing else holds two of them), so no reader sees a step
// half done.

var (
	_ store.Accepter = (*Store)(nil)
	_ store.Settler  = (*Store)(nil)
)

// Accept implements store.Accepter: once every record and message has been checked (a bad one
// refuses the whole call, as in Redis), the records and the queue entries are stored in one
// step.
func (s *Store) Accept(ctx context.Context, recs []*store.Record, ttl time.Duration, msgs ...*store.Message) error {
	if err := begin(ctx, "accept"); err != nil {
		return err
	}
	for _, r := range recs {
		if r == nil || r.ID == "" {
			return errors.New("store: accept: record without id")
		}
	}
	mcopies, err := checkedCopies(msgs)
	if err != nil {
		return fmt.Errorf("store: accept: %w", err)
	}
	rcopies := make([]*store.Record, len(recs))
	for i, r := range recs {
		rcopies[i] = cloneRecord(r)
	}
	now := s.now()
	exp := expiry(now, ttl, store.DefaultRecordTTL)

	s.qmu.Lock()
	defer s.qmu.Unlock()
	if s.closed {
		return fmt.Errorf("store: accept: %w", ErrClosed)
	}
	s.rmu.Lock()
	defer s.rmu.Unlock()
	byID := make(map[string]*store.Message, len(mcopies))
	for _, m := range mcopies {
		byID[m.ID] = m
	}
	for _, r := range rcopies {
		s.putRecordLocked(r, exp)
		s.records[r.ID].events = store.AcceptEvents(r, byID[r.ID], now)
	}
	s.sweepLocked(now.UnixNano(), sweepPerWrite)
	s.enqueueLocked(mcopies, now)
	return nil
}

// settlement is a checked, copied store.Settlement.
type settlement struct {
	carrier string
	claim   store.Claim
	rec     *store.Record
	index   []store.IndexEntry
	job     *store.WebhookJob
	events  []store.Event
}

// Settle implements store.Settler. Every settlement is checked first (a bad one refuses the
// whole call); then each is stored in one step: its claim acked (if it is still pending), its
// record replaced (if it is still stored), its index entries written and its webhook queued.
// The claim is acked whether or not the record is still there.
func (s *Store) Settle(ctx context.Context, ss ...store.Settlement) error {
	if err := begin(ctx, "settle"); err != nil {
		return err
	}
	checked := make([]settlement, len(ss))
	for i, st := range ss {
		if err := valid.Carrier(st.Carrier); err != nil {
			return fmt.Errorf("store: settle: %w", err)
		}
		c := settlement{carrier: st.Carrier, claim: st.Claim}
		if st.Record != nil {
			if st.Record.ID == "" {
				return errors.New("store: settle: record without id")
			}
			c.rec = cloneRecord(st.Record)
		}
		for _, e := range st.Index {
			if err := checkIndex(e); err != nil {
				return fmt.Errorf("store: settle: %w", err)
			}
		}
		c.index = append([]store.IndexEntry(nil), st.Index...)
		c.events = append([]store.Event(nil), st.Events...)
		if st.Webhook != nil {
			if err := checkJob(st.Webhook); err != nil {
				return fmt.Errorf("store: settle: %w", err)
			}
			c.job = cloneJob(st.Webhook)
		}
		checked[i] = c
	}
	now := s.now()
	indexExp := expiry(now, 0, store.DefaultIndexTTL)
	d := s.dlr()

	s.qmu.Lock()
	defer s.qmu.Unlock()
	if s.closed {
		return fmt.Errorf("store: settle: %w", ErrClosed)
	}
	s.rmu.Lock()
	defer s.rmu.Unlock()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, st := range checked {
		s.finishLocked(st.carrier, st.claim)
		if st.rec != nil {
			// Only over a record no receipt changed yet (Rev 0): a settlement of a claim that
			// was taken over from this (slow) consumer must not undo a newer record.
			if e := s.liveRecordLocked(st.rec.ID, now.UnixNano()); e != nil && e.rec.Rev == 0 {
				s.rver++
				e.rec, e.version = st.rec, s.rver
				s.addEventsLocked(st.rec.ID, now.UnixNano(), st.events...)
			}
		}
		for _, e := range st.index {
			s.indexLocked(e.Carrier, e.ID, e.MsgID, e.Part, indexExp)
		}
		if st.job != nil {
			d.enqueueLocked(st.job, now)
		}
	}
	s.sweepLocked(now.UnixNano(), sweepPerWrite)
	return nil
}
