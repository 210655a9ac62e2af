package memstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/smppd/smppd/store"
)

// Message search and timelines (store.MessageSearch). The in-process store keeps no search
// index: a search scans the live records (it is the demo and test store; the Redis store
// keeps the indexes that bound a query's cost). A message's timeline lives in its record's
// entry and expires with it.

var _ store.MessageSearch = (*Store)(nil)

// SearchMessages implements store.MessageSearch.
func (s *Store) SearchMessages(ctx context.Context, q store.MessageQuery) (store.MessagePage, error) {
	if err := begin(ctx, "search messages"); err != nil {
		return store.MessagePage{}, err
	}
	now := s.now()
	p, err := store.PlanSearch(q, now, store.DefaultRecordTTL)
	if err != nil {
		return store.MessagePage{}, err
	}
	var found []*store.Record
	s.rmu.Lock()
	if s.records == nil {
		s.rmu.Unlock()
		return store.MessagePage{}, fmt.Errorf("store: search messages: %w", ErrClosed)
	}
	for _, e := range s.records {
		if e.expires > now.UnixNano() && p.Keep(e.rec) {
			found = append(found, cloneRecord(e.rec))
		}
	}
	s.rmu.Unlock()
	slices.SortFunc(found, func(a, b *store.Record) int {
		return cmp.Or(cmp.Compare(b.AcceptedAt.UnixMilli(), a.AcceptedAt.UnixMilli()), cmp.Compare(b.ID, a.ID))
	})
	var page store.MessagePage
	if len(found) > p.Limit {
		found = found[:p.Limit]
		last := found[len(found)-1]
		page.Next = store.Cursor(last.AcceptedAt.UnixMilli(), last.ID)
	}
	page.Records = found
	return page, nil
}

// MessageTimeline implements store.MessageSearch.
func (s *Store) MessageTimeline(ctx context.Context, id string) ([]store.Event, error) {
	if err := begin(ctx, "message timeline"); err != nil {
		return nil, err
	}
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if s.records == nil {
		return nil, fmt.Errorf("store: message timeline: %w", ErrClosed)
	}
	e := s.liveRecordLocked(id, s.now().UnixNano())
	if e == nil {
		return nil, fmt.Errorf("store: message timeline %s: %w", id, store.ErrNotFound)
	}
	return store.CompleteTimeline(slices.Clone(e.events), e.rec), nil
}

// addEventsLocked appends evs to the timeline of record id, if it is live, keeping the
// accepting events and the newest ones up to store.MaxTimelineEvents.
func (s *Store) addEventsLocked(id string, now int64, evs ...store.Event) {
	if len(evs) == 0 {
		return
	}
	e := s.liveRecordLocked(id, now)
	if e == nil {
		return
	}
	e.events = append(e.events, evs...)
	if n := len(e.events); n > store.MaxTimelineEvents {
		const head = 2 // accepted, queued
		e.events = append(e.events[:head], e.events[n-(store.MaxTimelineEvents-head):]...)
	}
}

// addJobEvents appends the webhook jobs' attempt events to their messages' timelines.
func (s *Store) addJobEvents(jobs ...*store.WebhookJob) {
	now := s.now().UnixNano()
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if s.records == nil {
		return
	}
	for _, j := range jobs {
		if j != nil && j.Event != nil && j.MessageID != "" {
			s.addEventsLocked(j.MessageID, now, *j.Event)
		}
	}
}
