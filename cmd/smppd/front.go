package main

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smppd/smppd/api"
	"github.com/smppd/smppd/api/smppfront"
	"github.com/smppd/smppd/dlr"
	"github.com/smppd/smppd/store"
)

// clientDeliverer is the webhook sender's Deliverer for smpp:// jobs (receipts and MO for
// SMPP front accounts). The sender starts before the front exists (the front needs the api,
// which needs the dispatcher, which needs the correlator), so until the front is set every
// such job is held as not bound: it waits in the store, it is not lost.
type clientDeliverer struct {
	front atomic.Pointer[smppfront.Front]
}

func (c *clientDeliverer) Deliver(ctx context.Context, job *store.WebhookJob) error {
	if f := c.front.Load(); f != nil {
		return f.Deliver(ctx, job)
	}
	return fmt.Errorf("smpp front not started on this instance: %w", dlr.ErrNotBound)
}

// startFront builds the SMPP front over the api's Accept and listens on smpp_front's
// addresses; it returns the listen addresses.
func (d *daemon) startFront(srv *api.Server) ([]string, error) {
	opts, err := d.cfg.SMPPFrontOptions()
	if err != nil {
		return nil, err
	}
	opts.Acceptor, opts.Records, opts.Canceller = srv, d.store, srv
	opts.Logger = d.log.With().Str("component", "smppfront").Logger()
	f, err := smppfront.New(opts)
	if err != nil {
		return nil, err
	}
	var addrs []string
	listen := func(addr string, tls bool) error {
		open := f.Listen
		if tls {
			open = f.ListenTLS
		}
		ln, err := open(addr)
		if err != nil {
			return err
		}
		addrs = append(addrs, ln.Addr().String())
		go func() { _ = f.Serve(ln) }()
		return nil
	}
	if a := d.cfg.SMPPFront.Listen; a != "" {
		if err := listen(a, false); err != nil {
			return nil, fmt.Errorf("smpp_front.listen: %w", err)
		}
	}
	if a := d.cfg.SMPPFront.TLSListen; a != "" {
		if err := listen(a, true); err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("smpp_front.tls_listen: %w", err)
		}
	}
	d.front = f
	d.clients.front.Store(f)
	d.reg.MustRegister(&frontCollector{f: f})
	return addrs, nil
}

// stopFront unbinds the clients (their in-flight submits are answered first) before the
// dispatcher drains.
func (d *daemon) stopFront(ctx context.Context) {
	if d.front == nil {
		return
	}
	if err := d.front.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
		d.log.Warn().Err(err).Msg("SMPP front shutdown incomplete")
	}
}

// frontCollector reports the SMPP front per client account, from smppfront.Stats.
type frontCollector struct{ f *smppfront.Front }

var (
	descFrontBinds         = prometheus.NewDesc("smppd_front_binds", "Client binds open on the SMPP front, by account and mode.", []string{"account", "mode"}, nil)
	descFrontBindAttempts  = prometheus.NewDesc("smppd_front_bind_attempts_total", "Client bind attempts on the SMPP front by account and result (accepted, refused); unknown system_ids count under account \"\".", []string{"account", "result"}, nil)
	descFrontSubmits       = prometheus.NewDesc("smppd_front_submits_total", "submit_sm, data_sm and submit_multi destinations answered by the SMPP front, by account and command_status.", []string{"account", "status"}, nil)
	descFrontThrottled     = prometheus.NewDesc("smppd_front_throttled_total", "Requests the SMPP front answered ESME_RTHROTTLED itself, by account and why (rate: the account's rate; window: a bind's window).", []string{"account", "why"}, nil)
	descFrontDelivered     = prometheus.NewDesc("smppd_front_deliver_total", "deliver_sm sent to clients by account, kind (receipt, mo) and result (ok, failed).", []string{"account", "kind", "result"}, nil)
	descFrontInFlight      = prometheus.NewDesc("smppd_front_receipts_in_flight", "Receipt and MO deliver_sm awaiting the client's deliver_sm_resp, by account.", []string{"account"}, nil)
	descFrontWaiting       = prometheus.NewDesc("smppd_front_receipts_waiting", "Receipts and MO held in the queue because the account has no receiver bound, as this instance saw them (sum over instances), by account.", []string{"account"}, nil)
	descFrontPartsWaiting  = prometheus.NewDesc("smppd_front_parts_waiting", "Long messages whose parts are being reassembled, by account.", []string{"account"}, nil)
	descFrontPartsTimedOut = prometheus.NewDesc("smppd_front_parts_timed_out_total", "Long messages given up because a part did not come within part_timeout, by account.", []string{"account"}, nil)
)

func (c *frontCollector) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(c, ch) }

func (c *frontCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.f.Stats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter(descFrontBindAttempts, st.UnknownBinds, "", "refused")
	for _, a := range st.Accounts {
		for _, mode := range []string{"transmitter", "receiver", "transceiver"} {
			gauge(descFrontBinds, float64(a.Binds[mode]), a.Account, mode)
		}
		counter(descFrontBindAttempts, a.BindsAccepted, a.Account, "accepted")
		counter(descFrontBindAttempts, a.BindsRefused, a.Account, "refused")
		for status, n := range a.Submits {
			counter(descFrontSubmits, n, a.Account, status)
		}
		counter(descFrontThrottled, a.ThrottledRate, a.Account, "rate")
		counter(descFrontThrottled, a.ThrottledWindow, a.Account, "window")
		counter(descFrontDelivered, a.ReceiptsSent, a.Account, "receipt", "ok")
		counter(descFrontDelivered, a.ReceiptsFailed, a.Account, "receipt", "failed")
		counter(descFrontDelivered, a.MOSent, a.Account, "mo", "ok")
		counter(descFrontDelivered, a.MOFailed, a.Account, "mo", "failed")
		gauge(descFrontInFlight, float64(a.ReceiptsInFlight), a.Account)
		gauge(descFrontWaiting, float64(a.ReceiptsWaiting), a.Account)
		gauge(descFrontPartsWaiting, float64(a.PartsWaiting), a.Account)
		counter(descFrontPartsTimedOut, a.PartsTimedOut, a.Account)
	}
}
