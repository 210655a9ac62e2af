package main

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smppd/smppd/api/shortlink"
)

// startShortlinks builds the short-link redirector when the configuration has a shortlinks
// section (nil, nil otherwise) and registers its metrics; the caller serves it on
// shortlinks.listen.
func (d *daemon) startShortlinks() (*shortlink.Server, error) {
	o, ok, err := d.cfg.ShortlinkOptions()
	if err != nil || !ok {
		return nil, err
	}
	redirects := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "smppd", Name: "shortlink_redirects_total",
		Help: "Requests to the short-link listener by result: click (a person; 302, webhook queued), preview (a link-preview fetcher or prefetch; 302, counted apart), unknown (no such code, or expired; 404), invalid (another path or method), error (the store failed; 503).",
	}, []string{"result"})
	for _, r := range []shortlink.Result{shortlink.ResultClick, shortlink.ResultPreview, shortlink.ResultUnknown, shortlink.ResultInvalid, shortlink.ResultError} {
		redirects.WithLabelValues(string(r))
	}
	o.Store = d.store
	o.Logger = d.log.With().Str("component", "shortlink").Logger()
	o.OnRedirect = func(r shortlink.Result) { redirects.WithLabelValues(string(r)).Inc() }
	s, err := shortlink.New(o)
	if err != nil {
		return nil, err
	}
	d.reg.MustRegister(redirects, &shortlinkCollector{s: s})
	return s, nil
}

// stopShortlinks writes the clicks still queued (call it after the listener's Shutdown).
func (d *daemon) stopShortlinks(ctx context.Context, s *shortlink.Server) {
	if s == nil {
		return
	}
	if err := s.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
		d.log.Warn().Err(err).Int("clicks", s.Stats().Waiting).Msg("shutdown: clicks still queued were not stored")
	}
}

type shortlinkCollector struct{ s *shortlink.Server }

var (
	descClicksWritten = prometheus.NewDesc("smppd_shortlink_clicks_stored_total", "Clicks and previews stored (counted, webhook queued), in batches.", nil, nil)
	descClickBatches  = prometheus.NewDesc("smppd_shortlink_click_batches_total", "Batches of clicks written (one store round trip each).", nil, nil)
	descClicksFailed  = prometheus.NewDesc("smppd_shortlink_clicks_failed_total", "Clicks lost because the store failed when their batch was written (the redirect was answered).", nil, nil)
	descClicksWaiting = prometheus.NewDesc("smppd_shortlink_clicks_waiting", "Clicks queued for the next batch.", nil, nil)
)

func (c *shortlinkCollector) Describe(ch chan<- *prometheus.Desc) {
	prometheus.DescribeByCollect(c, ch)
}

func (c *shortlinkCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Stats()
	ch <- prometheus.MustNewConstMetric(descClicksWritten, prometheus.CounterValue, float64(st.Written))
	ch <- prometheus.MustNewConstMetric(descClickBatches, prometheus.CounterValue, float64(st.Batches))
	ch <- prometheus.MustNewConstMetric(descClicksFailed, prometheus.CounterValue, float64(st.Failed))
	ch <- prometheus.MustNewConstMetric(descClicksWaiting, prometheus.GaugeValue, float64(st.Waiting))
}
