package smsc

import (
	"sync"
	"sync/atomic"
)

// Counters is a snapshot of what the simulator has done, for one account or (from
// Server.Counters) all of them.
type Counters struct {
	BindsAccepted uint64 `json:"binds_accepted"`
	BindsRefused  uint64 `json:"binds_refused"`
	BindsActive   int    `json:"binds_active"`

	// Received counts submit_sm, data_sm and submit_multi requests; each ends up in exactly
	// one of Accepted, Rejected (any error status, throttling and faults included) or
	// NoResponse (never answered, or dropped with the connection).
	Received   uint64 `json:"received"`
	Accepted   uint64 `json:"accepted"`
	Rejected   uint64 `json:"rejected"`
	NoResponse uint64 `json:"no_response"`
	// Throttled counts rejections by the messages-per-second caps (a subset of Rejected).
	Throttled uint64 `json:"throttled"`
	// Faults counts injected faults of any kind.
	Faults      uint64 `json:"faults"`
	Disconnects uint64 `json:"disconnects"`
	// Unbinds counts binds the simulator unbound mid-window (Server.Unbind, UnbindAll,
	// Faults.UnbindMidWindow).
	Unbinds     uint64 `json:"unbinds"`
	DLTRejected uint64 `json:"dlt_rejected"`

	Queries  uint64 `json:"queries"`
	Cancels  uint64 `json:"cancels"`
	Replaces uint64 `json:"replaces"`

	ReceiptsScheduled uint64 `json:"receipts_scheduled"`
	ReceiptsSent      uint64 `json:"receipts_sent"` // acknowledged with ESME_ROK
	MOQueued          uint64 `json:"mo_queued"`
	MOSent            uint64 `json:"mo_sent"`
	// DeliveriesRetried counts deliver_sm sent again after an error, a timeout or a lost bind.
	DeliveriesRetried uint64 `json:"deliveries_retried"`
	// DeliveriesFailed counts deliveries given up: a permanent error, or MaxAttempts reached.
	DeliveriesFailed uint64 `json:"deliveries_failed"`
	// DeliveriesDropped counts deliveries that found the held queue full (HeldDeliveries).
	DeliveriesDropped uint64 `json:"deliveries_dropped"`

	// The receipt counters below count receipt deliver_sm only (final and ENROUTE, flood
	// receipts included; MO is not a receipt), each attempt on its own: they show how an
	// ESME treats receipts, which DeliveriesRetried and DeliveriesFailed (receipts and MO,
	// and requeues after a lost bind) do not tell apart.

	// ReceiptsRefused counts receipts answered with a non-zero command_status, each time.
	ReceiptsRefused uint64 `json:"receipts_refused"`
	// ReceiptTimeouts counts receipts not answered within the response timeout, each time.
	ReceiptTimeouts uint64 `json:"receipt_timeouts"`
	// ReceiptRetries counts receipts sent again after a refusal or a timeout.
	ReceiptRetries uint64 `json:"receipt_retries"`
	// ReceiptsGivenUp counts receipts dropped for good: refused after the last retry (or a
	// permanent error under the default policy). A subset of DeliveriesFailed.
	ReceiptsGivenUp uint64 `json:"receipts_given_up"`

	// FloodQueued counts receipts a Flood generated; FloodSent those the ESME acknowledged
	// with ESME_ROK (they count in ReceiptsSent too).
	FloodQueued uint64 `json:"flood_queued"`
	FloodSent   uint64 `json:"flood_sent"`

	// Held is how many deliveries wait for a bind (or for window) right now.
	Held int `json:"held"`

	// ByStatus counts responses to submits by command_status name.
	ByStatus map[string]uint64 `json:"by_status"`
}

type counters struct {
	bindsAccepted, bindsRefused                            atomic.Uint64
	received, accepted, rejected, noResponse, throttled    atomic.Uint64
	faults, disconnects, dltRejected                       atomic.Uint64
	queries, cancels, replaces                             atomic.Uint64
	receiptsScheduled, receiptsSent, moQueued, moSent      atomic.Uint64
	deliveriesRetried, deliveriesFailed, deliveriesDropped atomic.Uint64
	receiptsRefused, receiptTimeouts                       atomic.Uint64
	receiptRetries, receiptsGivenUp                        atomic.Uint64
	floodQueued, floodSent, unbinds                        atomic.Uint64
	byStatus                                               [256]atomic.Uint64
	otherMu                                                sync.Mutex
	other                                                  map[uint32]uint64
}

func (c *counters) status(st uint32) {
	if st < 256 {
		c.byStatus[st].Add(1)
		return
	}
	c.otherMu.Lock()
	if c.other == nil {
		c.other = map[uint32]uint64{}
	}
	c.other[st]++
	c.otherMu.Unlock()
}

func (c *counters) reset() {
	for _, a := range []*atomic.Uint64{&c.bindsAccepted, &c.bindsRefused, &c.received, &c.accepted, &c.rejected,
		&c.noResponse, &c.throttled, &c.faults, &c.disconnects, &c.dltRejected, &c.queries, &c.cancels, &c.replaces,
		&c.receiptsScheduled, &c.receiptsSent, &c.moQueued, &c.moSent, &c.deliveriesRetried, &c.deliveriesFailed,
		&c.deliveriesDropped, &c.receiptsRefused, &c.receiptTimeouts, &c.receiptRetries, &c.receiptsGivenUp,
		&c.floodQueued, &c.floodSent, &c.unbinds} {
		a.Store(0)
	}
	for i := range c.byStatus {
		c.byStatus[i].Store(0)
	}
	c.otherMu.Lock()
	c.other = nil
	c.otherMu.Unlock()
}

// addTo adds c's values to out.
func (c *counters) addTo(out *Counters) {
	out.BindsAccepted += c.bindsAccepted.Load()
	out.BindsRefused += c.bindsRefused.Load()
	out.Received += c.received.Load()
	out.Accepted += c.accepted.Load()
	out.Rejected += c.rejected.Load()
	out.NoResponse += c.noResponse.Load()
	out.Throttled += c.throttled.Load()
	out.Faults += c.faults.Load()
	out.Disconnects += c.disconnects.Load()
	out.Unbinds += c.unbinds.Load()
	out.DLTRejected += c.dltRejected.Load()
	out.Queries += c.queries.Load()
	out.Cancels += c.cancels.Load()
	out.Replaces += c.replaces.Load()
	out.ReceiptsScheduled += c.receiptsScheduled.Load()
	out.ReceiptsSent += c.receiptsSent.Load()
	out.MOQueued += c.moQueued.Load()
	out.MOSent += c.moSent.Load()
	out.DeliveriesRetried += c.deliveriesRetried.Load()
	out.DeliveriesFailed += c.deliveriesFailed.Load()
	out.DeliveriesDropped += c.deliveriesDropped.Load()
	out.ReceiptsRefused += c.receiptsRefused.Load()
	out.ReceiptTimeouts += c.receiptTimeouts.Load()
	out.ReceiptRetries += c.receiptRetries.Load()
	out.ReceiptsGivenUp += c.receiptsGivenUp.Load()
	out.FloodQueued += c.floodQueued.Load()
	out.FloodSent += c.floodSent.Load()
	if out.ByStatus == nil {
		out.ByStatus = map[string]uint64{}
	}
	for i := range c.byStatus {
		if n := c.byStatus[i].Load(); n > 0 {
			out.ByStatus[statusName(uint32(i))] += n
		}
	}
	c.otherMu.Lock()
	for k, v := range c.other {
		out.ByStatus[statusName(k)] += v
	}
	c.otherMu.Unlock()
}

// Stats is a snapshot of everything the simulator counts, per account, for an exporter:
// cmd/smscsim turns it into Prometheus metrics at scrape time. The simulator keeps only
// atomics on its hot path and imports no metrics library, so tests and the daemon's demo
// that link package smsc do not pull one in.
type Stats struct {
	// Accounts holds each account's counters, in configuration order (accounts added at
	// run time last).
	Accounts []AccountStats
	// Scheduled is how many receipts and delayed responses wait for their time.
	Scheduled int
	// Stored is how many messages were received since the start or the last Reset (the
	// store keeps only the newest StoreSize of them).
	Stored uint64
}

// AccountStats is one account's counters under its system_id.
type AccountStats struct {
	SystemID string
	Counters
}

// Stats returns a snapshot of the counters of every account, the scheduler and the store.
func (srv *Server) Stats() Stats {
	accs := srv.allAccounts()
	out := Stats{Accounts: make([]AccountStats, 0, len(accs)), Scheduled: srv.sched.len(), Stored: srv.store.count()}
	for _, acc := range accs {
		a := AccountStats{SystemID: acc.id}
		acc.addCounters(&a.Counters)
		out.Accounts = append(out.Accounts, a)
	}
	return out
}
