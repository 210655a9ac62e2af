package smppfront

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smppd/smppd/smpp"
)

// accountCounters are one account's counters since the start.
type accountCounters struct {
	bindsAccepted, bindsRefused, kicked atomic.Uint64
	throttledRate, throttledWindow      atomic.Uint64
	receiptsSent, receiptsFailed        atomic.Uint64
	moSent, moFailed                    atomic.Uint64
	receiptsInFlight                    atomic.Int64
	partsTimedOut                       atomic.Uint64

	mu      sync.Mutex
	submits map[smpp.CommandStatus]uint64
	// waiting holds the receipts and MO this instance was handed while the account had no
	// receiver bound (job id → when last handed): dlr keeps them in its queue and hands
	// them again every few seconds, so an entry not refreshed within waitingFresh has been
	// delivered or taken by another instance.
	waiting map[string]time.Time
}

// waitingFresh is how long a receipt counts as waiting after it was last handed over while
// no receiver was bound: three times dlr's longest hold (10 s), so a receipt still held is
// never dropped from the count between two hand-overs.
const waitingFresh = 30 * time.Second

func (c *accountCounters) init() {
	c.submits = map[smpp.CommandStatus]uint64{}
	c.waiting = map[string]time.Time{}
}

// noteWaiting records that job could not be delivered for want of a receiver (held), or,
// with held false, that it was delivered.
func (c *accountCounters) noteWaiting(job string, held bool, now time.Time) {
	c.mu.Lock()
	if held {
		c.waiting[job] = now
	} else {
		delete(c.waiting, job)
	}
	c.mu.Unlock()
}

// waitingCount returns how many receipts wait for a receiver bind, forgetting stale ones.
func (c *accountCounters) waitingCount(now time.Time) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, at := range c.waiting {
		if now.Sub(at) > waitingFresh {
			delete(c.waiting, id)
		}
	}
	return len(c.waiting)
}

func (c *accountCounters) countSubmit(st smpp.CommandStatus) {
	c.mu.Lock()
	c.submits[st]++
	c.mu.Unlock()
}

// AccountStats is one account's activity, for metrics and the admin endpoints.
type AccountStats struct {
	Account  string `json:"account"`
	SystemID string `json:"system_id"`
	// Binds counts the bound sessions by mode ("transmitter", "receiver", "transceiver").
	Binds map[string]int `json:"binds"`
	// BindsAccepted and BindsRefused count bind attempts since the start; Kicked the binds
	// dropped through Kick.
	BindsAccepted uint64 `json:"binds_accepted"`
	BindsRefused  uint64 `json:"binds_refused"`
	Kicked        uint64 `json:"kicked"`
	// Submits counts answered submit_sm, data_sm and submit_multi destinations by the
	// command_status answered ("ESME_ROK", "ESME_RTHROTTLED", "status(0x276)" …).
	Submits map[string]uint64 `json:"submits"`
	// ThrottledRate and ThrottledWindow count requests answered ESME_RTHROTTLED by the
	// front for the account's Rate and for a bind's Window.
	ThrottledRate   uint64 `json:"throttled_rate"`
	ThrottledWindow uint64 `json:"throttled_window"`
	// PartsWaiting is the long messages being reassembled now; PartsTimedOut those given up.
	PartsWaiting  int    `json:"parts_waiting"`
	PartsTimedOut uint64 `json:"parts_timed_out"`
	// ReceiptsSent / ReceiptsFailed count receipt deliver_sm answered ESME_ROK / not;
	// MOSent / MOFailed the same for MO messages; ReceiptsInFlight is those awaiting
	// deliver_sm_resp now. ReceiptsWaiting is the receipts and MO held in dlr's queue
	// because the account has no receiver bound, as this instance saw them (with several
	// instances, sum them: each held job is handed to one at a time).
	ReceiptsSent     uint64 `json:"receipts_sent"`
	ReceiptsFailed   uint64 `json:"receipts_failed"`
	MOSent           uint64 `json:"mo_sent"`
	MOFailed         uint64 `json:"mo_failed"`
	ReceiptsInFlight int64  `json:"receipts_in_flight"`
	ReceiptsWaiting  int    `json:"receipts_waiting"`
}

// Stats is the front's activity.
type Stats struct {
	Accounts []AccountStats `json:"accounts"`
	// UnknownBinds counts binds refused for a system_id no account has.
	UnknownBinds uint64 `json:"unknown_binds"`
}

// Stats returns every account's counters, by account name.
func (f *Front) Stats() Stats {
	out := Stats{UnknownBinds: f.unknown.Load()}
	for _, acc := range f.accts {
		c := &acc.st
		s := AccountStats{
			Account: acc.cfg.Name, SystemID: acc.cfg.SystemID, Binds: map[string]int{}, Submits: map[string]uint64{},
			BindsAccepted: c.bindsAccepted.Load(), BindsRefused: c.bindsRefused.Load(), Kicked: c.kicked.Load(),
			ThrottledRate: c.throttledRate.Load(), ThrottledWindow: c.throttledWindow.Load(),
			PartsWaiting: acc.asm.len(), PartsTimedOut: c.partsTimedOut.Load(),
			ReceiptsSent: c.receiptsSent.Load(), ReceiptsFailed: c.receiptsFailed.Load(),
			MOSent: c.moSent.Load(), MOFailed: c.moFailed.Load(), ReceiptsInFlight: c.receiptsInFlight.Load(),
			ReceiptsWaiting: c.waitingCount(f.opts.Now()),
		}
		acc.mu.Lock()
		for b := range acc.binds {
			if b.sess.State() == smpp.StateBound {
				s.Binds[b.mode.String()]++
			}
		}
		acc.mu.Unlock()
		c.mu.Lock()
		for st, n := range c.submits {
			s.Submits[st.String()] = n
		}
		c.mu.Unlock()
		out.Accounts = append(out.Accounts, s)
	}
	sort.Slice(out.Accounts, func(i, j int) bool { return out.Accounts[i].Account < out.Accounts[j].Account })
	return out
}
