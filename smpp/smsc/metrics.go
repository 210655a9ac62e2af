package smsc

import (
	"github.com/prometheus/client_golang/prometheus"
)

// collector turns the simulator's counters into Prometheus metrics at scrape time, so the
// hot path only touches atomics.
type collector struct{ srv *Server }

var (
	mReceived  = prometheus.NewDesc("smscsim_submits_received_total", "submit_sm, data_sm and submit_multi received.", []string{"system_id"}, nil)
	mResponses = prometheus.NewDesc("smscsim_submit_responses_total", "Responses to submits by command_status.", []string{"system_id", "status"}, nil)
	mNoResp    = prometheus.NewDesc("smscsim_submits_unanswered_total", "Submits never answered (fault or rule).", []string{"system_id"}, nil)
	mThrottled = prometheus.NewDesc("smscsim_throttled_total", "Submits refused by the messages-per-second caps.", []string{"system_id"}, nil)
	mFaults    = prometheus.NewDesc("smscsim_faults_total", "Injected faults.", []string{"system_id"}, nil)
	mDLT       = prometheus.NewDesc("smscsim_dlt_rejected_total", "Messages failing DLT scrubbing.", []string{"system_id"}, nil)
	mReceipts  = prometheus.NewDesc("smscsim_receipts_sent_total", "Delivery receipts acknowledged by the ESME.", []string{"system_id"}, nil)
	mMO        = prometheus.NewDesc("smscsim_mo_sent_total", "MO deliver_sm acknowledged by the ESME.", []string{"system_id"}, nil)
	mRetried   = prometheus.NewDesc("smscsim_deliveries_retried_total", "deliver_sm sent again.", []string{"system_id"}, nil)
	mFailed    = prometheus.NewDesc("smscsim_deliveries_failed_total", "deliver_sm given up.", []string{"system_id"}, nil)
	mDropped   = prometheus.NewDesc("smscsim_deliveries_dropped_total", "deliver_sm dropped because the held queue was full.", []string{"system_id"}, nil)
	mRefused   = prometheus.NewDesc("smscsim_receipts_refused_total", "Receipts answered with a non-zero command_status.", []string{"system_id"}, nil)
	mRTimeouts = prometheus.NewDesc("smscsim_receipt_timeouts_total", "Receipts not answered within the response timeout.", []string{"system_id"}, nil)
	mRRetries  = prometheus.NewDesc("smscsim_receipt_retries_total", "Receipts sent again after a refusal or a timeout.", []string{"system_id"}, nil)
	mGivenUp   = prometheus.NewDesc("smscsim_receipts_given_up_total", "Receipts dropped after the last retry.", []string{"system_id"}, nil)
	mHeld      = prometheus.NewDesc("smscsim_deliveries_held", "Deliveries waiting for a bind or for window.", []string{"system_id"}, nil)
	mBinds     = prometheus.NewDesc("smscsim_binds", "Bound sessions.", []string{"system_id"}, nil)
	mBindsOK   = prometheus.NewDesc("smscsim_binds_accepted_total", "Binds accepted.", []string{"system_id"}, nil)
	mBindsNo   = prometheus.NewDesc("smscsim_binds_refused_total", "Binds refused.", []string{"system_id"}, nil)
	mScheduled = prometheus.NewDesc("smscsim_scheduled", "Receipts and delayed responses waiting for their time.", nil, nil)
	mStored    = prometheus.NewDesc("smscsim_messages_received", "Messages received since start or reset (the store keeps the newest).", nil, nil)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(c, ch) }

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, acc := range c.srv.allAccounts() {
		var k Counters
		acc.addCounters(&k)
		id := acc.id
		counter(mReceived, k.Received, id)
		for st, n := range k.ByStatus {
			counter(mResponses, n, id, st)
		}
		counter(mNoResp, k.NoResponse, id)
		counter(mThrottled, k.Throttled, id)
		counter(mFaults, k.Faults, id)
		counter(mDLT, k.DLTRejected, id)
		counter(mReceipts, k.ReceiptsSent, id)
		counter(mMO, k.MOSent, id)
		counter(mRetried, k.DeliveriesRetried, id)
		counter(mFailed, k.DeliveriesFailed, id)
		counter(mDropped, k.DeliveriesDropped, id)
		counter(mRefused, k.ReceiptsRefused, id)
		counter(mRTimeouts, k.ReceiptTimeouts, id)
		counter(mRRetries, k.ReceiptRetries, id)
		counter(mGivenUp, k.ReceiptsGivenUp, id)
		gauge(mHeld, float64(k.Held), id)
		gauge(mBinds, float64(k.BindsActive), id)
		counter(mBindsOK, k.BindsAccepted, id)
		counter(mBindsNo, k.BindsRefused, id)
	}
	gauge(mScheduled, float64(c.srv.sched.len()))
	gauge(mStored, float64(c.srv.store.count()))
}
