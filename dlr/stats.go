package dlr

import (
	"sync"
	"sync/atomic"

	"github.com/smppd/smppd/store"
)

// CorrelatorStats are the correlator's counters since it was made.
type CorrelatorStats struct {
	// Receipts counts readable receipts by carrier and by what they said (DELIVERED, …;
	// SUBMITTED for intermediate ones).
	Receipts map[string]map[store.Status]uint64
	// Matched receipts changed a message; Duplicates matched one they had already changed
	// (carrier retransmissions); Early waited in the receipt log for their submit_sm_resp to
	// be stored, and EarlyMatched of those found it; Unmatched matched nothing (correlation misses) and
	// were kept for inspection; Malformed could not be read.
	Matched, Duplicates, Early, EarlyMatched, Unmatched, Malformed uint64
	// MO counts deliver_sm that were not receipts; MORouted those queued to the client
	// account owning their destination (RouteMO), MOUnrouted the others (handed to
	// CorrelatorOptions.MO, or only counted).
	MO, MORouted, MOUnrouted uint64
	// Logged counts deliver_sm appended to the receipt log (and so acknowledged).
	Logged uint64
	// PendingPauses counts receipts that waited for room among the appends in flight
	// (MaxPending); LagPauses counts waits because the log's backlog was past MaxLag. While a
	// receipt waits, its session reads nothing more.
	PendingPauses, LagPauses uint64
	// StoreErrors counts receipts refused with ESME_RX_T_APPN because the store failed, and
	// failed reads and writes of the applier (retried).
	StoreErrors uint64
	// WebhooksQueued counts new webhook jobs; NoWebhook final messages with no URL to call.
	WebhooksQueued, NoWebhook uint64
}

type corrStats struct {
	matched, duplicates, early, earlyMatched, unmatched, malformed atomic.Uint64
	mo, storeErrors, webhooksQueued, noWebhook                     atomic.Uint64
	logged, pendingPauses, lagPauses                               atomic.Uint64
	moRouted, moUnrouted                                           atomic.Uint64

	mu       sync.Mutex
	receipts map[string]map[store.Status]uint64
}

func (s *corrStats) count(carrier string, st store.Status) {
	s.mu.Lock()
	if s.receipts == nil {
		s.receipts = map[string]map[store.Status]uint64{}
	}
	m := s.receipts[carrier]
	if m == nil {
		m = map[store.Status]uint64{}
		s.receipts[carrier] = m
	}
	m[st]++
	s.mu.Unlock()
}

// Stats returns a snapshot of the counters.
func (c *Correlator) Stats() CorrelatorStats {
	s := &c.stats
	out := CorrelatorStats{
		Matched: s.matched.Load(), Duplicates: s.duplicates.Load(), Early: s.early.Load(),
		EarlyMatched: s.earlyMatched.Load(), Unmatched: s.unmatched.Load(), Malformed: s.malformed.Load(),
		MO: s.mo.Load(), MORouted: s.moRouted.Load(), MOUnrouted: s.moUnrouted.Load(), StoreErrors: s.storeErrors.Load(), WebhooksQueued: s.webhooksQueued.Load(),
		NoWebhook: s.noWebhook.Load(), Receipts: map[string]map[store.Status]uint64{},
		Logged: s.logged.Load(), PendingPauses: s.pendingPauses.Load(), LagPauses: s.lagPauses.Load(),
	}
	s.mu.Lock()
	for c, m := range s.receipts {
		cm := make(map[store.Status]uint64, len(m))
		for k, v := range m {
			cm[k] = v
		}
		out.Receipts[c] = cm
	}
	s.mu.Unlock()
	return out
}
