package main

import (
	"context"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smppd/smppd/dispatch"
	"github.com/smppd/smppd/smpp"
)

// metrics are the counters and histograms fed by dispatch hooks; gauges are read from
// dispatch.Stats at scrape time by dispatchCollector. docs/metrics.md lists them all.
type metrics struct {
	submits       *prometheus.CounterVec
	submitLatency *prometheus.HistogramVec
	linkEvents    *prometheus.CounterVec
	sessionClosed *prometheus.CounterVec
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
	reg.MustRegister(m.submits, m.submitLatency, m.linkEvents, m.sessionClosed)
	return m
}

func (m *metrics) observeSubmit(e dispatch.SubmitEvent) {
	status := e.Status.String()
	if e.Err != nil && e.Status == smpp.ESME_ROK {
		status = "none" // the session failed or the response timed out
	}
	m.submits.WithLabelValues(e.Carrier, status).Inc()
	if status != "none" {
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
	descReconnects = prometheus.NewDesc("smppd_reconnects_total", "Binds re-established after a loss.", []string{"carrier", "bind"}, nil)
	descQueue      = prometheus.NewDesc("smppd_queue_depth", "Messages in the carrier's queue by state (ready, pending = claimed and not finished, scheduled = later or retry).", []string{"carrier", "state"}, nil)
	descPace       = prometheus.NewDesc("smppd_pace_segments_per_second", "The carrier's current pace; +Inf when unpaced.", []string{"carrier"}, nil)
	descThrottle   = prometheus.NewDesc("smppd_throttle_pauses_total", "Pauses of the whole carrier after ESME_RTHROTTLED or ESME_RMSGQFUL.", []string{"carrier"}, nil)
	descMessages   = prometheus.NewDesc("smppd_messages_total", "Messages by carrier and outcome: submitted, failed, unknown (no response, policy unknown), deferred (retry later), moved (failover), reclaimed (taken over from a dead instance).", []string{"carrier", "outcome"}, nil)
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
			ch <- prometheus.MustNewConstMetric(descWindowUse, prometheus.GaugeValue, float64(b.WindowInUse), s.Carrier, name)
			ch <- prometheus.MustNewConstMetric(descWindowSize, prometheus.GaugeValue, float64(b.WindowSize), s.Carrier, name)
			ch <- prometheus.MustNewConstMetric(descReconnects, prometheus.CounterValue, float64(b.Reconnects), s.Carrier, name)
		}
		if s.DepthErr == nil {
			ch <- prometheus.MustNewConstMetric(descQueue, prometheus.GaugeValue, float64(s.Depth.Ready), s.Carrier, "ready")
			ch <- prometheus.MustNewConstMetric(descQueue, prometheus.GaugeValue, float64(s.Depth.Pending), s.Carrier, "pending")
			ch <- prometheus.MustNewConstMetric(descQueue, prometheus.GaugeValue, float64(s.Depth.Scheduled), s.Carrier, "scheduled")
		}
		ch <- prometheus.MustNewConstMetric(descPace, prometheus.GaugeValue, s.Rate, s.Carrier)
		ch <- prometheus.MustNewConstMetric(descThrottle, prometheus.CounterValue, float64(s.ThrottlePauses), s.Carrier)
		for outcome, v := range map[string]uint64{"submitted": s.Submitted, "failed": s.Failed, "unknown": s.Unknown,
			"deferred": s.Deferred, "moved": s.Moved, "reclaimed": s.Reclaimed} {
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
