// Command smppbench measures smppd end to end: HTTP load (OTP, R1 single or Bulk) at a set
// concurrency or rate, with a live progress line, and what follows each request: the
// submit_sm at the operator, the delivery receipt and the webhook. It prints a table and
// can write JSON.
//
//	smppbench -self                                  # start the simulator and smppd (Redis store) itself
//	smppbench -target http://127.0.0.1:8080 -key KEY -sim http://127.0.0.1:8025
//
// With -self smppd runs as a child process, so its CPU time and peak RSS are reported. The
// stages of a message are matched by destination number: every message of a run has its own.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "smppbench:", err)
		os.Exit(1)
	}
}

// Result is what a run measured; -json writes it.
type Result struct {
	Scenario     string      `json:"scenario"`
	Concurrency  int         `json:"concurrency"`
	TargetRate   float64     `json:"target_rate"`
	Duration     float64     `json:"duration_seconds"`
	Requests     uint64      `json:"requests"`
	Failed       uint64      `json:"failed"`
	Accepted     uint64      `json:"accepted_messages"`
	AcceptedRate float64     `json:"accepted_per_second"`
	Submitted    int         `json:"submit_sm"`
	SubmitRate   float64     `json:"submit_sm_per_second"`
	Receipts     uint64      `json:"receipts"`
	ReceiptRate  float64     `json:"receipts_per_second"`
	Webhooks     int         `json:"webhooks"`
	WebhookRate  float64     `json:"webhooks_per_second"`
	DupWebhooks  int         `json:"duplicate_webhooks"`
	Reply        Percentiles `json:"http_reply"`
	ToSubmit     Percentiles `json:"accept_to_submit_sm"`
	ToWebhook    Percentiles `json:"submit_sm_to_webhook"`
	Smppd        *procStats  `json:"smppd,omitempty"`
	Errors       []string    `json:"first_errors,omitempty"`
	Settle       float64     `json:"settle_seconds"`
	Started      time.Time   `json:"started"`
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("smppbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	self := fs.Bool("self", false, "start the simulator and smppd (Redis store) and measure them")
	target := fs.String("target", "http://127.0.0.1:8080", "smppd's HTTP address (without -self)")
	key := fs.String("key", "", "API key (without -self)")
	simURL := fs.String("sim", "", "smscsim HTTP API, to measure submit_sm and receipts (without -self)")
	scenario := fs.String("scenario", "otp", "otp (V1 AUTOGEN), r1 (TRANS_SMS single) or bulk (R1 Bulk)")
	concurrency := fs.Int("c", 50, "concurrent requests")
	rate := fs.Float64("rate", 0, "requests per second (0: as fast as -c allows)")
	duration := fs.Duration("d", 10*time.Second, "how long to send")
	settle := fs.Duration("settle", 30*time.Second, "how long to wait after sending for submit_sm, receipts and webhooks to catch up")
	bulkSize := fs.Int("bulk", 100, "messages per Bulk request")
	jsonOut := fs.String("json", "", "write the result as JSON to this file")
	smppdBin := fs.String("smppd", "", "smppd binary for -self (default: next to smppbench, on PATH, or go build)")
	redisURL := fs.String("redis", envOr("REDIS_URL", "redis://127.0.0.1:6379/0"), "Redis for -self")
	binds := fs.Int("binds", 4, "binds to the simulator (-self)")
	window := fs.Int("window", 100, "window per bind (-self)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch *scenario {
	case "otp", "r1", "bulk":
	default:
		return fmt.Errorf("-scenario %q: want otp, r1 or bulk", *scenario)
	}

	tr := newTracker()
	hookURL, stopHooks, err := webhookReceiver(tr, nil)
	if err != nil {
		return err
	}
	defer stopHooks()

	var sim simSource
	var sr *selfRun
	if *self {
		bin, err := findSmppd(*smppdBin, stderr)
		if err != nil {
			return err
		}
		if sr, err = startSelf(ctx, selfOptions{smppdBin: bin, redisURL: *redisURL, binds: *binds, window: *window, hookURL: hookURL, logOut: stderr}); err != nil {
			return err
		}
		defer sr.stop()
		*target, *key = sr.target, sr.key
		sim = &inProcessSim{srv: sr.sim}
	} else {
		if *key == "" {
			return errors.New("-key is required without -self")
		}
		if *simURL != "" {
			sim = &httpSim{base: *simURL, c: &http.Client{Timeout: 10 * time.Second}}
		}
	}

	l := &load{
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: *concurrency * 2, MaxConnsPerHost: *concurrency * 2}},
		target: *target, key: *key, scenario: *scenario, bulkSize: *bulkSize, track: tr,
	}
	res := Result{Scenario: *scenario, Concurrency: *concurrency, TargetRate: *rate, Started: time.Now()}
	var receipts uint64
	submitted := 0
	pollSim := func() {
		if sim == nil {
			return
		}
		msgs, rc, err := sim.poll()
		if err != nil {
			return
		}
		for _, m := range msgs {
			tr.submitted(normalise(m.dest), m.at)
		}
		submitted += len(msgs)
		receipts = rc
	}

	// Progress, once a second.
	progressDone := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		start := time.Now()
		for {
			select {
			case <-progressDone:
				return
			case <-t.C:
			}
			fmt.Fprintf(stderr, "\r%5.0fs  requests %d  ok %d  failed %d  accepted %d  submit_sm %d  receipts %d  webhooks %d   ",
				time.Since(start).Seconds(), l.sent.Load(), l.ok.Load(), l.failed.Load(), l.messages.Load(), tr.sentCount(), receipts, tr.webhookCount())
		}
	}()
	pollCtx, stopPoll := context.WithCancel(ctx)
	pollDone := make(chan struct{})
	go func() {
		defer close(pollDone)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-pollCtx.Done():
				return
			case <-t.C:
				pollSim()
			}
		}
	}()

	elapsed := l.run(ctx, *concurrency, *rate, *duration)
	// Let the pipeline catch up: until every accepted message has its webhook (when the
	// receiver sees them) or the settle time runs out.
	settleStart := time.Now()
	for time.Since(settleStart) < *settle && ctx.Err() == nil {
		if tr.unhooked() == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	stopPoll()
	<-pollDone
	pollSim()
	close(progressDone)
	fmt.Fprintln(stderr)
	if sr != nil {
		ps := sr.sample()
		res.Smppd = &ps
	}

	secs := elapsed.Seconds()
	res.Duration = secs
	res.Settle = time.Since(settleStart).Seconds()
	res.Requests, res.Failed, res.Accepted = l.sent.Load(), l.failed.Load(), l.messages.Load()
	res.AcceptedRate = float64(res.Accepted) / secs
	res.Submitted, res.Receipts = submitted, receipts
	total := secs + res.Settle
	res.SubmitRate = float64(submitted) / total
	res.ReceiptRate = float64(receipts) / total
	tr.mu.Lock()
	res.Webhooks, res.DupWebhooks = tr.webhooks, tr.duplicateHooks
	tr.mu.Unlock()
	res.WebhookRate = float64(res.Webhooks) / total
	res.Reply = l.reply.percentiles()
	res.ToSubmit = tr.acceptToSubmit.percentiles()
	tr.finish()
	res.ToWebhook = tr.submitToHook.percentiles()
	res.Errors = l.firstErrors

	printTable(stdout, res)
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(*jsonOut, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func printTable(w io.Writer, r Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "scenario\t%s (concurrency %d", r.Scenario, r.Concurrency)
	if r.TargetRate > 0 {
		fmt.Fprintf(tw, ", rate %.0f/s", r.TargetRate)
	}
	fmt.Fprintf(tw, ", %.1fs sending + %.1fs settling)\n", r.Duration, r.Settle)
	fmt.Fprintf(tw, "requests\t%d (%d failed)\n", r.Requests, r.Failed)
	fmt.Fprintf(tw, "accepted\t%d messages\t%.0f/s\n", r.Accepted, r.AcceptedRate)
	fmt.Fprintf(tw, "submit_sm at operator\t%d\t%.0f/s\n", r.Submitted, r.SubmitRate)
	fmt.Fprintf(tw, "receipts\t%d\t%.0f/s\n", r.Receipts, r.ReceiptRate)
	fmt.Fprintf(tw, "webhooks\t%d (%d duplicate)\t%.0f/s\n", r.Webhooks, r.DupWebhooks, r.WebhookRate)
	fmt.Fprintf(tw, "latency (ms)\tp50\tp90\tp99\tmax\n")
	for _, row := range []struct {
		name string
		p    Percentiles
	}{{"HTTP reply", r.Reply}, {"accept → submit_sm", r.ToSubmit}, {"submit_sm → webhook", r.ToWebhook}} {
		fmt.Fprintf(tw, "  %s\t%.1f\t%.1f\t%.1f\t%.1f\n", row.name, row.p.P50, row.p.P90, row.p.P99, row.p.Max)
	}
	if r.Smppd != nil {
		fmt.Fprintf(tw, "smppd\tCPU %.1fs (%.0f%% of one core)\tpeak RSS %.0f MiB\n", r.Smppd.CPUSeconds,
			100*r.Smppd.CPUSeconds/(r.Duration+r.Settle), r.Smppd.PeakRSSMiB)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(tw, "error\t%s\n", e)
	}
	tw.Flush()
}

func envOr(k, d string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return d
}
