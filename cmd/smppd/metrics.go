package main

import (
	"context"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smppd/smppd/dispatch"
	"github.com/smppd/smppd/dlr"
	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/liveness"
)

// metrics are the counters and histograms fed by dispatch hooks; gauges are read from
// dispatch.Stats at scrape time by dispatchCollector. docs/metrics.md lists them all.
type metrics struct {
	submits       *prometheus.CounterVec
	submitLatency *prometheus.HistogramVec
	linkEvents    *prometheus.CounterVec
	sessionClosed *prometheus.CounterVec

	receipts       *prometheus.CounterVec
	receiptLatency prometheus.Histogram
	webhooks       *prometheus.CounterVec
	webhookLatency prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		submits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "smppd", Name: "submits_total",
			Help: "submit_sm responses by carrier and command status (ESME_ROK, ESME_RTHROTTLED …; \"none\" when no response came).",
		}, []string{"carrier", "status"}),
		submitLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "smppd", Name: "submit_latency_seconds",
			Help:    "Time from writing a submit_sm to its response, by carrier.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"carrier"}),
		linkEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "smppd", Name: "bind_events_total",
			Help: "Bind state changes by carrier and event (connecting, bound, connect_failed, closed).",
		}, []string{"carrier", "event"}),
		sessionClosed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "smppd", Name: "session_closed_total",
			Help: "SMPP sessions closed, by carrier and close reason (the same names as the log field reason).",
		}, []string{"carrier", "reason"}),
	}
	m.receipts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "smppd", Name: "receipts_total",
		Help: "Delivery receipts applied from the receipt log, by carrier, what they said (DELIVERED, UNDELIVERED …) and outcome (matched, duplicate, unmatched, malformed).",
	}, []string{"carrier", "status", "outcome"})
	m.receiptLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "smppd", Name: "receipt_handling_seconds",
		Help:    "Time from a deliver_sm receipt's arrival to its effect (status, webhook job) being stored, through the receipt log; early receipts include their wait for the submit_sm_resp.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5, 30, 120},
	})
	m.webhooks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "smppd", Name: "webhook_attempts_total",
		Help: "Webhook attempts by outcome: delivered, retry, dead (dead-lettered), host_busy (pushed back), held (an SMPP client's receipt or MO waiting for a receiver bind; not an attempt).",
	}, []string{"outcome"})
	m.webhookLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "smppd", Name: "webhook_latency_seconds",
		Help:    "Duration of webhook requests that got an answer.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	})
	reg.MustRegister(m.submits, m.submitLatency, m.linkEvents, m.sessionClosed, m.receipts, m.receiptLatency, m.webhooks, m.webhookLatency)
	return m
}

func (m *metrics) observeReceipt(e dlr.ReceiptEvent) {
	status := string(e.Status)
	if status == "" {
		status = "none"
	}
	m.receipts.WithLabelValues(e.Carrier, status, e.Outcome).Inc()
	m.receiptLatency.Observe(e.Latency.Seconds())
}

func (m *metrics) observeWebhook(e dlr.WebhookEvent) {
	m.webhooks.WithLabelValues(e.Outcome).Inc()
	if e.StatusCode != 0 {
		m.webhookLatency.Observe(e.Latency.Seconds())
	}
}

// dlrCollector reads receipt and webhook counters and the sizes of their stores at scrape
// time.
type dlrCollector struct {
	c  *dlr.Correlator
	s  *dlr.Sender
	st store.Store
}

var (
	descParked     = prometheus.NewDesc("smppd_receipts_parked", "Receipt log entries not applied yet: new ones, and receipts waiting for their submit_sm_resp to be stored.", nil, nil)
	descLogged     = prometheus.NewDesc("smppd_receipts_logged_total", "deliver_sm appended to the receipt log and acknowledged.", nil, nil)
	descPauses     = prometheus.NewDesc("smppd_receipt_read_pauses_total", "Times a receipt waited (and its session stopped reading) because too many appends were in flight (reason=pending) or the receipt log backlog was past receipts.max_lag (reason=lag).", []string{"reason"}, nil)
	descLogErrors  = prometheus.NewDesc("smppd_receipt_store_errors_total", "Receipts refused with ESME_RX_T_APPN because the store failed, and failed applier round trips (retried).", nil, nil)
	descUnmatched  = prometheus.NewDesc("smppd_receipts_unmatched", "Receipts that matched no message, kept for inspection.", nil, nil)
	descHookQueue  = prometheus.NewDesc("smppd_webhooks_queued", "Webhook jobs waiting (due, retrying or in flight).", nil, nil)
	descHookDead   = prometheus.NewDesc("smppd_webhooks_dead", "Webhook jobs in the dead-letter list.", nil, nil)
	descEarly      = prometheus.NewDesc("smppd_receipts_early_total", "Receipts that arrived before their submit_sm_resp was stored and waited in the log.", nil, nil)
	descMisses     = prometheus.NewDesc("smppd_receipt_correlation_misses_total", "Receipts that matched no message after the early window.", nil, nil)
	descHookInFlgt = prometheus.NewDesc("smppd_webhooks_in_flight", "Webhook jobs held by this instance's sender.", nil, nil)
	descMO         = prometheus.NewDesc("smppd_mo_total", "Mobile-originated deliver_sm from carriers by outcome: routed (queued to the SMPP client account whose smpp.mo_numbers hold the destination), unrouted (no account owns it: counted only).", []string{"outcome"}, nil)
)

func (c *dlrCollector) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(c, ch) }

func (c *dlrCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	cs, ss := c.c.Stats(), c.s.Stats()
	ch <- prometheus.MustNewConstMetric(descEarly, prometheus.CounterValue, float64(cs.Early))
	ch <- prometheus.MustNewConstMetric(descLogged, prometheus.CounterValue, float64(cs.Logged))
	ch <- prometheus.MustNewConstMetric(descPauses, prometheus.CounterValue, float64(cs.PendingPauses), "pending")
	ch <- prometheus.MustNewConstMetric(descPauses, prometheus.CounterValue, float64(cs.LagPauses), "lag")
	ch <- prometheus.MustNewConstMetric(descLogErrors, prometheus.CounterValue, float64(cs.StoreErrors))
	ch <- prometheus.MustNewConstMetric(descMisses, prometheus.CounterValue, float64(cs.Unmatched))
	ch <- prometheus.MustNewConstMetric(descMO, prometheus.CounterValue, float64(cs.MORouted), "routed")
	ch <- prometheus.MustNewConstMetric(descMO, prometheus.CounterValue, float64(cs.MOUnrouted), "unrouted")
	ch <- prometheus.MustNewConstMetric(descHookInFlgt, prometheus.GaugeValue, float64(ss.InFlight))
	if n, err := c.st.ReceiptCounts(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(descParked, prometheus.GaugeValue, float64(n.Parked))
		ch <- prometheus.MustNewConstMetric(descUnmatched, prometheus.GaugeValue, float64(n.Unmatched))
	}
	if n, err := c.st.WebhookCounts(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(descHookQueue, prometheus.GaugeValue, float64(n.Queued))
		ch <- prometheus.MustNewConstMetric(descHookDead, prometheus.GaugeValue, float64(n.Dead))
	}
}

func (m *metrics) observeSubmit(e dispatch.SubmitEvent) {
	status := e.Status.String()
	switch {
	case e.Err != nil && e.Status == smpp.ESME_ROK && !smpp.OutcomeUnknown(e.Err):
		status = "not_sent" // refused before it was written (the bind was closing): sent again elsewhere
	case e.Err != nil && e.Status == smpp.ESME_ROK:
		status = "none" // written, and the session failed or the response timed out
	}
	m.submits.WithLabelValues(e.Carrier, status).Inc()
	if e.Err == nil || e.Status != smpp.ESME_ROK {
		m.submitLatency.WithLabelValues(e.Carrier).Observe(e.Latency.Seconds())
	}
}

func (m *metrics) observeLink(carrier string, e smpp.Event) {
	m.linkEvents.WithLabelValues(carrier, e.Kind.String()).Inc()
	if e.Kind == smpp.EventClosed {
		m.sessionClosed.WithLabelValues(carrier, e.Reason.String()).Inc()
	}
}

// dispatchCollector turns dispatch.Stats into gauges and counters at scrape time.
type dispatchCollector struct{ d *dispatch.Dispatcher }

var (
	descUp         = prometheus.NewDesc("smppd_carrier_up", "1 when at least one sending bind of the carrier is bound.", []string{"carrier"}, nil)
	descBindUp     = prometheus.NewDesc("smppd_bind_up", "1 when the bind is bound.", []string{"carrier", "bind"}, nil)
	descWindowUse  = prometheus.NewDesc("smppd_window_in_use", "submit_sm awaiting a response on the bind.", []string{"carrier", "bind"}, nil)
	descWindowSize = prometheus.NewDesc("smppd_window_size", "Most submit_sm that may await a response on the bind.", []string{"carrier", "bind"}, nil)
	descBindLeased = prometheus.NewDesc("smppd_bind_leased", "1 while this instance holds the bind's slot lease and so runs the bind (always 1 without bind leases); the instance label shows which instance holds which bind.", []string{"carrier", "bind"}, nil)
	descLeaseLoss  = prometheus.NewDesc("smppd_bind_lease_losses_total", "Times this instance stopped the bind because its slot lease was lost or could not be renewed in time (Redis unreachable).", []string{"carrier", "bind"}, nil)
	descReconnects = prometheus.NewDesc("smppd_reconnects_total", "Binds re-established after a loss.", []string{"carrier", "bind"}, nil)
	descReadPaused = prometheus.NewDesc("smppd_bind_read_paused_seconds_total", "Time the bind's current session stopped reading because deliver_sm were waiting for the receipt handler (resets with the session).", []string{"carrier", "bind"}, nil)
	descQueue      = prometheus.NewDesc("smppd_queue_depth", "Messages in the carrier's queue by state (ready, pending = claimed and not finished, scheduled = later or retry).", []string{"carrier", "state"}, nil)
	// A gauge of its own rather than a priority label on smppd_queue_depth: the existing
	// series (and the alert on state="ready" per carrier) keep their meaning.
	descQueuePrio  = prometheus.NewDesc("smppd_queue_depth_priority", "Messages in the carrier's queue of one priority (otp, transactional, promotional) by state (ready, pending); they sum to smppd_queue_depth's.", []string{"carrier", "priority", "state"}, nil)
	descPace       = prometheus.NewDesc("smppd_pace_segments_per_second", "The carrier's current pace; +Inf when unpaced.", []string{"carrier"}, nil)
	descThrottle   = prometheus.NewDesc("smppd_throttle_pauses_total", "Pauses of the whole carrier after ESME_RTHROTTLED or ESME_RMSGQFUL.", []string{"carrier"}, nil)
	descMessages   = prometheus.NewDesc("smppd_messages_total", "Messages by carrier and outcome: submitted, failed, unknown (no response, policy unknown), deferred (retry later), moved (failover), reclaimed (taken over from a dead instance), fenced (claims dropped unsent because this instance's heartbeat had lapsed).", []string{"carrier", "outcome"}, nil)
	descDuplicates = prometheus.NewDesc("smppd_duplicates_total", "Resends of messages whose earlier submit_sm may have reached the carrier.", []string{"carrier"}, nil)
)

func (c *dispatchCollector) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(c, ch) }

func (c *dispatchCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, s := range c.d.Stats(ctx) {
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, b2f(s.Up), s.Carrier)
		for _, b := range s.Binds {
			name := strings.TrimPrefix(b.Name, s.Carrier+"-")
			ch <- prometheus.MustNewConstMetric(descBindUp, prometheus.GaugeValue, b2f(b.Bound), s.Carrier, name)
			ch <- prometheus.MustNewConstMetric(descBindLeased, prometheus.GaugeValue, b2f(b.Leased), s.Carrier, name)
			ch <- prometheus.MustNewConstMetric(descLeaseLoss, prometheus.CounterValue, float64(b.LeaseLosses), s.Carrier, name)
			ch <- prometheus.MustNewConstMetric(descWindowUse, prometheus.GaugeValue, float64(b.WindowInUse), s.Carrier, name)
			ch <- prometheus.MustNewConstMetric(descWindowSize, prometheus.GaugeValue, float64(b.WindowSize), s.Carrier, name)
			ch <- prometheus.MustNewConstMetric(descReconnects, prometheus.CounterValue, float64(b.Reconnects), s.Carrier, name)
			if b.Session != nil {
				ch <- prometheus.MustNewConstMetric(descReadPaused, prometheus.CounterValue, b.Session.InboundPaused.Seconds(), s.Carrier, name)
			}
		}
		if s.DepthErr == nil {
			ch <- prometheus.MustNewConstMetric(descQueue, prometheus.GaugeValue, float64(s.Depth.Ready), s.Carrier, "ready")
			ch <- prometheus.MustNewConstMetric(descQueue, prometheus.GaugeValue, float64(s.Depth.Pending), s.Carrier, "pending")
			ch <- prometheus.MustNewConstMetric(descQueue, prometheus.GaugeValue, float64(s.Depth.Scheduled), s.Carrier, "scheduled")
			for i, pd := range s.Depth.ByPriority {
				prio := store.Priority(i).String()
				ch <- prometheus.MustNewConstMetric(descQueuePrio, prometheus.GaugeValue, float64(pd.Ready), s.Carrier, prio, "ready")
				ch <- prometheus.MustNewConstMetric(descQueuePrio, prometheus.GaugeValue, float64(pd.Pending), s.Carrier, prio, "pending")
			}
		}
		ch <- prometheus.MustNewConstMetric(descPace, prometheus.GaugeValue, s.Rate, s.Carrier)
		ch <- prometheus.MustNewConstMetric(descThrottle, prometheus.CounterValue, float64(s.ThrottlePauses), s.Carrier)
		for outcome, v := range map[string]uint64{"submitted": s.Submitted, "failed": s.Failed, "unknown": s.Unknown,
			"deferred": s.Deferred, "moved": s.Moved, "reclaimed": s.Reclaimed, "fenced": s.Fenced} {
			ch <- prometheus.MustNewConstMetric(descMessages, prometheus.CounterValue, float64(v), s.Carrier, outcome)
		}
		ch <- prometheus.MustNewConstMetric(descDuplicates, prometheus.CounterValue, float64(s.Duplicates), s.Carrier)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// The Keeper also gives bind leases the live member count (the fair share of slots).
var (
	_ dispatch.MemberCounter = (*liveness.Keeper)(nil)
	_ dispatch.Abandoner     = (*liveness.Keeper)(nil)
)

// livenessCollector reports the instance's heartbeat.
type livenessCollector struct{ k *liveness.Keeper }

var (
	descMember      = prometheus.NewDesc("smppd_member_valid", "1 while this instance's heartbeat is surely alive in the store and its claims may be acted on; labelled with the current incarnation's name.", []string{"member"}, nil)
	descLiveMembers = prometheus.NewDesc("smppd_live_members", "Instances whose heartbeat was alive at the last renewal, this one included.", nil, nil)
	descLapses      = prometheus.NewDesc("smppd_heartbeat_lapses_total", "Renewals that found this instance's heartbeat lapsed (it joined again as a new incarnation; others took over its claims).", nil, nil)
	descRenewErrors = prometheus.NewDesc("smppd_heartbeat_errors_total", "Heartbeat renewals or rejoins that failed (store unreachable or slow).", nil, nil)
	descAbandons    = prometheus.NewDesc("smppd_heartbeat_abandons_total", "Incarnations given up after a store error left claims possibly pending under them with nobody holding them (they are taken over at once).", nil, nil)
	descConflicts   = prometheus.NewDesc("smppd_heartbeat_conflicts_total", "Renewals that found another live process under this instance name (misconfiguration: this one claims nothing until the other stops).", nil, nil)
)

func (c *livenessCollector) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(c, ch) }

func (c *livenessCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.k.Stats()
	ch <- prometheus.MustNewConstMetric(descMember, prometheus.GaugeValue, b2f(st.Valid), st.Member)
	ch <- prometheus.MustNewConstMetric(descLiveMembers, prometheus.GaugeValue, float64(st.LiveMembers))
	ch <- prometheus.MustNewConstMetric(descLapses, prometheus.CounterValue, float64(st.Lapses))
	ch <- prometheus.MustNewConstMetric(descRenewErrors, prometheus.CounterValue, float64(st.RenewErrors))
	ch <- prometheus.MustNewConstMetric(descConflicts, prometheus.CounterValue, float64(st.Conflicts))
	ch <- prometheus.MustNewConstMetric(descAbandons, prometheus.CounterValue, float64(st.Abandons))
}
