package memstore

import (
	"context"
	"fmt"

	"github.com/smppd/smppd/store"
)

// GetRecords implements store.Records: the records of ids under one lock, nil where none.
func (s *Store) GetRecords(ctx context.Context, ids ...string) ([]*store.Record, error) {
	if err := begin(ctx, "get records"); err != nil {
		return nil, err
	}
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if s.records == nil {
		return nil, fmt.Errorf("store: get records: %w", ErrClosed)
	}
	now := s.now().UnixNano()
	out := make([]*store.Record, len(ids))
	for i, id := range ids {
		if e := s.liveRecordLocked(id, now); e != nil {
			out[i] = cloneRecord(e.rec)
		}
	}
	return out, nil
}
