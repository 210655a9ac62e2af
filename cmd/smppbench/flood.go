package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/smppd/smppd/smsc"
)

// SimReceipts is what the simulator counted about the receipts it delivered (smsc.Counters):
// sent, acknowledged with ESME_ROK; refused, answered with an error status, each time;
// timeouts, not answered in time, each time; retries, sent again after either; given up,
// dropped for good after the last attempt (lost, for smppd); dropped, found the
// simulator's held queue full (also lost).
type SimReceipts struct {
	Sent     uint64 `json:"receipts_sent"`
	Refused  uint64 `json:"receipts_refused"`
	Timeouts uint64 `json:"receipt_timeouts"`
	Retries  uint64 `json:"receipt_retries"`
	GivenUp  uint64 `json:"receipts_given_up"`
	Dropped  uint64 `json:"deliveries_dropped"`
}

func simReceipts(c smsc.Counters) SimReceipts {
	return SimReceipts{Sent: c.ReceiptsSent, Refused: c.ReceiptsRefused, Timeouts: c.ReceiptTimeouts,
		Retries: c.ReceiptRetries, GivenUp: c.ReceiptsGivenUp, Dropped: c.DeliveriesDropped}
}

// receiptCounters reads the simulator's receipt counters.
func (s *inProcessSim) receiptCounters() (SimReceipts, error) {
	return simReceipts(s.srv.Counters()), nil
}

func (s *httpSim) receiptCounters() (SimReceipts, error) {
	var r SimReceipts
	err := s.get("/api/counters", &r)
	return r, err
}

// receiptWindow turns the -receipt-window flag into smsc.Receipts.Window: N > 0 is a window
// of N deliver_sm per bind, 0 or -1 none (smsc.NoWindow).
func receiptWindow(n int) (int, error) {
	switch {
	case n == 0 || n == smsc.NoWindow:
		return smsc.NoWindow, nil
	case n < 0 || n > smsc.MaxWindow:
		return 0, fmt.Errorf("-receipt-window %d: want 1..%d, or 0 or -1 for no window", n, smsc.MaxWindow)
	}
	return n, nil
}

// applyReceiptFlags sets the simulator's receipt behaviour from the flags: the delay after
// the submit_sm_resp (the simulator answers submits at once, then schedules the receipt),
// the window and the retries.
func applyReceiptFlags(so *selfOptions, c config) (*SimSettings, error) {
	window, err := receiptWindow(c.receiptWindow)
	if err != nil {
		return nil, err
	}
	var retries *int
	if c.receiptRetries >= 0 {
		n := c.receiptRetries
		retries = &n
	}
	delay := c.receiptDelay
	so.account = func(a *smsc.Account) {
		a.Receipts.DelayMin = delay
		a.Receipts.Window = window
		a.Receipts.Retries = retries
	}
	return &SimSettings{ReceiptDelayMS: float64(delay) / float64(time.Millisecond), ReceiptWindow: window, ReceiptRetries: c.receiptRetries}, nil
}

// FloodResult is what the flood phase measured: receipts the simulator replayed at a set
// rate for a set time, and what smppd spent taking them.
type FloodResult struct {
	TargetRate int    `json:"target_rate"`
	Duration   string `json:"duration"`
	// Seconds runs from the flood's start until its receipts were resolved.
	Seconds float64 `json:"seconds"`
	// Messages is how many message ids the flood cycled over.
	Messages int `json:"messages"`
	// Sent counts receipts the flood generated; Acked those smppd answered ESME_ROK;
	// Refused, Timeouts and Retries count attempts; GivenUp receipts dropped after their
	// last retry: Lost, as smppd refused them. Dropped are receipts that found the
	// simulator's held queue full (Options.HeldDeliveries, 100 000: smppd acknowledged
	// slower than the flood came), never sent, so never refused. Unresolved were still held
	// or outstanding when the wait for them ended.
	Sent       uint64  `json:"sent"`
	Acked      uint64  `json:"acknowledged"`
	Refused    uint64  `json:"refused"`
	Timeouts   uint64  `json:"timeouts"`
	Retries    uint64  `json:"retries"`
	GivenUp    uint64  `json:"given_up"`
	Dropped    uint64  `json:"dropped"`
	Lost       uint64  `json:"lost"`
	Unresolved uint64  `json:"unresolved"`
	AckedRate  float64 `json:"acknowledged_per_second"`
	// Webhooks and DupWebhooks are the webhooks the receiver got meanwhile (the flood's
	// receipts are replays for messages that already had theirs).
	Webhooks    int `json:"webhooks"`
	DupWebhooks int `json:"duplicate_webhooks"`
	// SmppdCPUSeconds is smppd's CPU from the flood's start until Redis was quiet again
	// (its work on the logged receipts included), SmppdCPUPerReceipt that in µs per
	// acknowledged receipt; SmppdCPUCores is its CPU while it acknowledged receipts (from
	// the start to the last acknowledgement) over that time. The RSS figures are the
	// largest seen and the process's peak.
	SmppdCPUSeconds    float64     `json:"smppd_cpu_seconds"`
	SmppdCPUCores      float64     `json:"smppd_cpu_cores"`
	SmppdCPUPerReceipt float64     `json:"smppd_cpu_us_per_receipt"`
	SmppdMaxRSSMiB     float64     `json:"smppd_max_rss_mib"`
	SmppdPeakRSSMiB    float64     `json:"smppd_peak_rss_mib"`
	Redis              *RedisStats `json:"redis,omitempty"`
}

// floodDelta fills the receipt figures from the simulator's counters before and after.
func floodDelta(f *FloodResult, before, after smsc.Counters) {
	f.Sent = after.FloodQueued - before.FloodQueued
	f.Acked = after.FloodSent - before.FloodSent
	f.Refused = after.ReceiptsRefused - before.ReceiptsRefused
	f.Timeouts = after.ReceiptTimeouts - before.ReceiptTimeouts
	f.Retries = after.ReceiptRetries - before.ReceiptRetries
	f.GivenUp = after.ReceiptsGivenUp - before.ReceiptsGivenUp
	f.Dropped = after.DeliveriesDropped - before.DeliveriesDropped
	f.Lost = f.GivenUp
	f.Unresolved = 0
	if done := f.Acked + f.GivenUp + f.Dropped; f.Sent > done {
		f.Unresolved = f.Sent - done
	}
}

// runFlood has the simulator replay receipts for the messages of the run (which has
// settled) at -flood-rate for -flood-duration, waits until every receipt is acknowledged
// or lost (at most -settle after the flood) and smppd's Redis traffic is quiet again, and
// measures smppd and Redis meanwhile. The R1 phase's counters are left out: the figures
// are the differences from just before the flood.
func runFlood(ctx context.Context, c config, sr *selfRun, tr *tracker, probe *redisProbe, stderr io.Writer) (FloodResult, error) {
	f := FloodResult{TargetRate: c.floodRate, Duration: c.floodDuration.String()}
	// Redis: the idle rate again (smppd has settled after the R1 phase), over a second.
	var r0 redisSnapshot
	idle := 0.0
	if probe != nil {
		a, err := probe.snapshot(ctx)
		if err != nil {
			return f, fmt.Errorf("redis INFO: %w", err)
		}
		time.Sleep(time.Second)
		if r0, err = probe.snapshot(ctx); err != nil {
			return f, fmt.Errorf("redis INFO: %w", err)
		}
		idle = float64(sumCalls(commandDelta(a, r0))) / r0.at.Sub(a.at).Seconds()
	}
	c0 := sr.sim.Counters()
	ps0 := sr.sample()
	tr.mu.Lock()
	hooks0, dups0 := tr.webhooks, tr.duplicateHooks
	tr.mu.Unlock()
	start := time.Now()
	run, err := sr.sim.Flood(smsc.FloodOptions{SystemID: "smppd", Rate: c.floodRate, Duration: c.floodDuration})
	if err != nil {
		return f, err
	}
	defer run.Stop()
	f.Messages = run.Status().Messages

	// Until every receipt is acknowledged or lost, or -settle after the flood's end.
	var lastAck time.Time
	var lastAcked uint64
	var cpuAtLastAck float64
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	var deadline time.Time
	tick := 0
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		tick++
		now := time.Now()
		floodDelta(&f, c0, sr.sim.Counters())
		ps, _ := readProc(sr.cmd.Process.Pid)
		f.SmppdMaxRSSMiB = max(f.SmppdMaxRSSMiB, ps.RSSMiB)
		if f.Acked != lastAcked {
			lastAcked, lastAck, cpuAtLastAck = f.Acked, now, ps.CPUSeconds
		}
		if tick%10 == 0 {
			fmt.Fprintf(stderr, "\r%5.0fs  flood queued %d  acknowledged %d  refused %d  retried %d  lost %d  smppd CPU %.1fs RSS %.0f MiB   ",
				now.Sub(start).Seconds(), f.Sent, f.Acked, f.Refused, f.Retries, f.Lost, ps.CPUSeconds-ps0.CPUSeconds, ps.RSSMiB)
		}
		select {
		case <-run.Done():
			if deadline.IsZero() {
				deadline = now.Add(c.settle)
			}
		default:
		}
		if !deadline.IsZero() && (f.Unresolved == 0 && sr.sim.Counters().Held == 0 || now.After(deadline)) {
			break
		}
	}
	fmt.Fprintln(stderr)
	f.Seconds = time.Since(start).Seconds()
	if !lastAck.IsZero() {
		f.AckedRate = float64(f.Acked) / lastAck.Sub(start).Seconds()
		f.SmppdCPUCores = (cpuAtLastAck - ps0.CPUSeconds) / lastAck.Sub(start).Seconds()
	}
	if probe != nil {
		// smppd goes on correlating the logged receipts after acknowledging them: wait
		// (at most -settle) until Redis is quiet, so its work is counted.
		r1, err := quiesce(ctx, probe, idle, c.settle)
		if err != nil {
			return f, fmt.Errorf("redis INFO: %w", err)
		}
		rs := redisStats(r0, r1, int(f.Acked), idle)
		f.Redis = &rs
	}
	floodDelta(&f, c0, sr.sim.Counters())
	ps := sr.sample()
	f.SmppdCPUSeconds = ps.CPUSeconds - ps0.CPUSeconds
	f.SmppdCPUPerReceipt = perMessage(f.SmppdCPUSeconds*1e6, int(f.Acked))
	f.SmppdPeakRSSMiB = ps.PeakRSSMiB
	f.SmppdMaxRSSMiB = max(f.SmppdMaxRSSMiB, ps.RSSMiB)
	tr.mu.Lock()
	f.Webhooks, f.DupWebhooks = tr.webhooks-hooks0, tr.duplicateHooks-dups0
	tr.mu.Unlock()
	return f, nil
}
