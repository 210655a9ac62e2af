// Command smppbench measures smppd end to end: HTTP load (OTP, R1 single or Bulk) at a set
// concurrency or rate, with a live progress line, and what follows each request: the
// submit_sm at the operator, the delivery receipt and the webhook. It prints a table and
// can write JSON.
//
//	smppbench -self                                  # start the simulator and smppd (Redis store) itself
//	smppbench -target http://127.0.0.1:8080 -key KEY -sim http://127.0.0.1:8025
//	smppbench -self -runs 3 -scenario r1             # three runs, a summary line per run
//	smppbench -self -scenario flood -flood-rate 20000 -flood-duration 60s
//	smppbench -self -own-redis -scenario backlog -backlog 1000000 -backlog-rate 2000 -d 30s
//	smppbench -self -own-redis -scenario smpp -c 64 -front-binds 4
//	smppbench -own-redis -scenario clicks -links 10000 -c 64 -d 10s   # short-link redirects
//
// With -self smppd runs as a child process, so its CPU time and peak RSS are reported, and
// its CPU per end-to-end message (a message that got its webhook). The stages of a message
// are matched by destination number: every message of a run has its own.
//
// Redis cost per message: with -self (or an explicit -redis) INFO commandstats and INFO cpu
// are read just before the load and again after it has settled, over one connection whose
// own INFO commands are left out; the table shows commands per message, the top commands
// and Redis's CPU per message. Redis counts every client's commands, so it must be
// otherwise idle (no tests, no other smppd, on any key prefix): the command rate measured
// for a second before the load is shown, and a warning when it would be more than 5% of
// the run's; -own-redis starts a redis-server for each run instead. Commands run by Lua
// scripts count under their own names as well as EVALSHA.
//
// -cpuprofile FILE (with -self) fetches a CPU profile of smppd over the sending time from
// its /debug/pprof/profile on the internal listener (-self gives smppd http.metrics_listen
// and http.pprof: true; smppd never serves profiles on its API port), for
// `go tool pprof -top -cum smppd FILE`.
//
// The flood scenario first sends R1 single messages through smppd (-c, -d), so the
// simulator knows their message ids, then has the simulator replay receipts for them at
// -flood-rate for -flood-duration, and reports the receipts sent, acknowledged, refused
// and given up (lost), with smppd's CPU and RSS during the flood. -receipt-delay,
// -receipt-window and -receipt-retries set how the simulator delivers receipts, as real
// carriers do.
//
// The smpp scenario is an aggregator's SMPP client instead of HTTP: -front-binds transceiver
// binds to smppd's SMPP front (-c outstanding submit_sm spread over them) send the R1 text
// with registered_delivery and the DLT PE_ID/CT_ID TLVs, as the TM-AF of ACME's chain, and
// take the receipts smppd sends back as deliver_sm on the same binds. A message is end to
// end when the receipt for the id of its submit_sm_resp has come back: "receipts to client"
// take the webhooks' place in the table (and the JSON's webhook fields), the submit_sm_resp
// the HTTP reply's.
//
// The backlog scenario (make backlog) queues -backlog messages straight into Redis through
// the store, faster than the simulated carrier takes them (-backlog-rate), and samples
// smppd's memory for -d while they drain.
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
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/smppd/smppd/smsc"
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

// Result is what a run measured; -json writes it (an array of them with -runs above 1).
type Result struct {
	Scenario     string  `json:"scenario"`
	Run          int     `json:"run"`
	Concurrency  int     `json:"concurrency"`
	TargetRate   float64 `json:"target_rate"`
	Duration     float64 `json:"duration_seconds"`
	Requests     uint64  `json:"requests"`
	Failed       uint64  `json:"failed"`
	Accepted     uint64  `json:"accepted_messages"`
	AcceptedRate float64 `json:"accepted_per_second"`
	Submitted    int     `json:"submit_sm"`
	SubmitRate   float64 `json:"submit_sm_per_second"`
	Receipts     uint64  `json:"receipts"`
	ReceiptRate  float64 `json:"receipts_per_second"`
	Webhooks     int     `json:"webhooks"`
	WebhookRate  float64 `json:"webhooks_per_second"`
	DupWebhooks  int     `json:"duplicate_webhooks"`
	// Stage names the last stage when it is not the webhook: "receipt to client" in the
	// smpp scenario, whose webhook fields then count receipts (deliver_sm) back to the
	// client, and whose http_reply is submit_sm → submit_sm_resp.
	Stage string `json:"last_stage,omitempty"`
	// ReceiptsUnmatched (smpp) are receipts back to the client whose id no submit_sm_resp
	// gave; ReceiptsUnreadable those without a readable id.
	ReceiptsUnmatched  int    `json:"receipts_to_client_unmatched,omitempty"`
	ReceiptsUnreadable uint64 `json:"receipts_to_client_unreadable,omitempty"`
	// EndToEnd counts the messages that got their webhook (with those smppd accepted while
	// the load generator had given up on the reply): the divisor of every per-message figure.
	EndToEnd     int         `json:"end_to_end_messages"`
	EndToEndRate float64     `json:"end_to_end_per_second"`
	Reply        Percentiles `json:"http_reply"`
	ToSubmit     Percentiles `json:"accept_to_submit_sm"`
	ToWebhook    Percentiles `json:"submit_sm_to_webhook"`
	Smppd        *procStats  `json:"smppd,omitempty"`
	// SmppdRunCPU is smppd's CPU time from just before the load to the end of settling (its
	// start-up excluded); SmppdCPUPerMsg divides it by EndToEnd, in µs.
	SmppdRunCPU    float64        `json:"smppd_cpu_seconds_run,omitempty"`
	SmppdCPUPerMsg float64        `json:"smppd_cpu_us_per_message,omitempty"`
	Redis          *RedisStats    `json:"redis,omitempty"`
	Simulator      *SimReceipts   `json:"simulator,omitempty"` // the load's (flood: its R1 phase's)
	Flood          *FloodResult   `json:"flood,omitempty"`
	Backlog        *BacklogResult `json:"backlog,omitempty"`
	SimSettings    *SimSettings   `json:"simulator_settings,omitempty"`
	Errors         []string       `json:"first_errors,omitempty"`
	Settle         float64        `json:"settle_seconds"`
	Started        time.Time      `json:"started"`
}

// SimSettings are the receipt behaviour of the simulator -self started: ReceiptWindow -1
// is no window; ReceiptRetries -1 the simulator's default policy.
type SimSettings struct {
	ReceiptDelayMS float64 `json:"receipt_delay_ms"`
	ReceiptWindow  int     `json:"receipt_window"`
	ReceiptRetries int     `json:"receipt_retries"`
}

// config is the parsed command line.
type config struct {
	self                bool
	target, key, simURL string
	scenario            string
	backlog             int
	backlogRate         int
	concurrency         int
	rate                float64
	duration, settle    time.Duration
	bulkSize            int
	jsonOut, smppdBin   string
	redisURL            string
	redisStats          bool // read INFO of redisURL around each run
	ownRedis            bool
	noSearchIndex       bool
	noTimeline          bool
	binds, window       int
	runs                int
	receiptDelay        time.Duration
	receiptWindow       int
	receiptRetries      int
	floodRate           int
	floodDuration       time.Duration
	frontBinds          int
	cpuProfile          string
	links               int  // clicks: links stored and requested
	clickDurable        bool // clicks: answer each redirect once its click is stored
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("smppbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	fs.BoolVar(&c.self, "self", false, "start the simulator and smppd (Redis store) and measure them")
	fs.StringVar(&c.target, "target", "http://127.0.0.1:8080", "smppd's HTTP address (without -self)")
	fs.StringVar(&c.key, "key", "", "API key (without -self)")
	fs.StringVar(&c.simURL, "sim", "", "smscsim HTTP API, to measure submit_sm and receipts (without -self)")
	fs.StringVar(&c.scenario, "scenario", "otp", "otp (V1 AUTOGEN), r1 (TRANS_SMS single), bulk (R1 Bulk), smpp (R1's text as submit_sm over smppd's SMPP front, receipts back as deliver_sm; -self only), flood (R1 single, then receipts replayed at -flood-rate; -self only), backlog (-self only) or clicks (the short-link redirector on Redis, in-process: -links, -c, -d, -own-redis or -redis)")
	fs.IntVar(&c.concurrency, "c", 50, "concurrent requests (smpp: submit_sm outstanding over all binds)")
	fs.Float64Var(&c.rate, "rate", 0, "requests per second (0: as fast as -c allows)")
	fs.DurationVar(&c.duration, "d", 10*time.Second, "how long to send (flood: how long to send R1 before the flood)")
	fs.DurationVar(&c.settle, "settle", 30*time.Second, "how long to wait after sending for submit_sm, receipts and webhooks to catch up (flood: also after the flood, for its receipts)")
	fs.IntVar(&c.bulkSize, "bulk", 100, "messages per Bulk request")
	fs.IntVar(&c.backlog, "backlog", 1_000_000, "backlog: messages queued straight into Redis before smppd's memory is sampled")
	fs.IntVar(&c.backlogRate, "backlog-rate", 1000, "backlog: messages per second the simulated carrier takes while smppd's memory is sampled (for -d)")
	fs.StringVar(&c.jsonOut, "json", "", "write the result as JSON to this file (an array of results with -runs above 1)")
	fs.StringVar(&c.smppdBin, "smppd", "", "smppd binary for -self (default: next to smppbench, on PATH, or go build)")
	fs.StringVar(&c.redisURL, "redis", envOr("REDIS_URL", "redis://127.0.0.1:6379/0"), "Redis for -self; without -self, giving it reports Redis commands and CPU per message of the Redis smppd uses. It must be otherwise idle")
	fs.BoolVar(&c.noSearchIndex, "no-search-index", false, "with -self: run smppd with store.search_index: false, to measure what the message search indexes cost per message")
	fs.BoolVar(&c.noTimeline, "no-timeline", false, "with -self: run smppd with store.timeline: false, to measure what message timelines cost per message")
	fs.BoolVar(&c.ownRedis, "own-redis", false, "with -self: start a redis-server of each run's own (from PATH; append-only, fsync always, as deploy/redis-smppd.conf) instead of -redis, so no other client's commands are counted")
	fs.IntVar(&c.binds, "binds", 4, "binds to the simulator (-self)")
	fs.IntVar(&c.window, "window", 100, "window per bind (-self)")
	fs.IntVar(&c.runs, "runs", 1, "run the scenario this many times (each with a fresh smppd and simulator with -self) and print a summary line per run")
	fs.DurationVar(&c.receiptDelay, "receipt-delay", 100*time.Millisecond, "simulator (-self): delay of each receipt after the submit_sm_resp")
	fs.IntVar(&c.receiptWindow, "receipt-window", 256, "simulator (-self): receipts (deliver_sm) outstanding per bind awaiting deliver_sm_resp; 0 or -1: no window, every due receipt is sent at once")
	fs.IntVar(&c.receiptRetries, "receipt-retries", -1, "simulator (-self): times a refused receipt (any error status, or no answer in time) is sent again, 1s apart, before it is given up; 0: never; -1: the simulator's default (10 attempts, temporary errors only)")
	fs.IntVar(&c.floodRate, "flood-rate", 20000, "flood: receipts per second the simulator replays")
	fs.DurationVar(&c.floodDuration, "flood-duration", 60*time.Second, "flood: how long the simulator replays receipts")
	fs.IntVar(&c.frontBinds, "front-binds", 4, "smpp: transceiver binds to smppd's SMPP front, over which -c is spread")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "with -self: write a CPU profile of smppd during the sending (-d) to this file (-run<n> before the extension with -runs above 1); read it with go tool pprof. Profiling costs smppd some CPU, counted in its CPU per message")
	fs.IntVar(&c.links, "links", 10000, "clicks: links stored, then requested at random")
	fs.BoolVar(&c.clickDurable, "click-durable", false, "clicks: answer each redirect only once its click is stored (shortlinks.durable_clicks)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.scenario == "clicks" { // in-process: the redirector on the Redis store, no smppd child
		return runClicks(ctx, c, stdout, stderr)
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "redis" {
			c.redisStats = true
		}
	})
	if c.self {
		c.redisStats = true
	} else if c.ownRedis {
		return errors.New("-own-redis needs -self")
	}
	switch c.scenario {
	case "otp", "r1", "bulk":
	case "smpp":
		if !c.self || c.frontBinds < 1 || c.concurrency < 1 {
			return errors.New("-scenario smpp needs -self, -front-binds and -c of at least 1")
		}
	case "flood":
		if !c.self {
			return errors.New("-scenario flood needs -self (it drives the simulator's Flood API)")
		}
	case "backlog":
		if !c.self || c.backlog < 1 || c.backlogRate < 1 {
			return errors.New("-scenario backlog needs -self, -backlog and -backlog-rate above 0")
		}
	default:
		return fmt.Errorf("-scenario %q: want otp, r1, bulk, smpp, flood or backlog", c.scenario)
	}
	if c.scenario == "flood" && (c.floodRate < 1 || c.floodDuration <= 0) {
		return fmt.Errorf("-flood-rate %d, -flood-duration %s: want at least 1/s and more than 0", c.floodRate, c.floodDuration)
	}
	if _, err := receiptWindow(c.receiptWindow); err != nil {
		return err
	}
	if c.runs < 1 {
		return fmt.Errorf("-runs %d: want at least 1", c.runs)
	}
	if c.self && c.smppdBin == "" {
		bin, err := findSmppd("", stderr)
		if err != nil {
			return err
		}
		c.smppdBin = bin
	}

	var results []Result
	for i := range c.runs {
		res, err := runOnce(ctx, c, i, stderr)
		if err != nil {
			return err
		}
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		printTable(stdout, res)
		results = append(results, res)
		if ctx.Err() != nil {
			break
		}
	}
	fmt.Fprintln(stdout)
	for _, r := range results {
		fmt.Fprintln(stdout, summaryLine(r, c.runs))
	}
	if c.jsonOut != "" {
		var v any = results
		if c.runs == 1 {
			v = results[0]
		}
		b, _ := json.MarshalIndent(v, "", "  ")
		if err := os.WriteFile(c.jsonOut, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// runOnce runs the scenario once: with -self, on a simulator and smppd of its own.
func runOnce(ctx context.Context, c config, runIndex int, stderr io.Writer) (Result, error) {
	tr := newTracker()
	hookURL, stopHooks, err := webhookReceiver(tr, nil)
	if err != nil {
		return Result{}, err
	}
	defer stopHooks()

	var sim simSource
	var sr *selfRun
	var sl *smppLoad // the smpp scenario's client
	target, key := c.target, c.key
	res := Result{Scenario: c.scenario, Run: runIndex + 1, Concurrency: c.concurrency, TargetRate: c.rate}
	if c.self && c.ownRedis {
		own, err := startOwnRedis(ctx)
		if err != nil {
			return res, err
		}
		defer own.stop()
		c.redisURL = own.url
	}
	if c.self {
		so := selfOptions{smppdBin: c.smppdBin, redisURL: c.redisURL, binds: c.binds, window: c.window, hookURL: hookURL, logOut: stderr}
		if c.noSearchIndex {
			so.store += "  search_index: false\n"
		}
		if c.noTimeline {
			so.store += "  timeline: false\n"
		}
		if res.SimSettings, err = applyReceiptFlags(&so, c); err != nil {
			return res, err
		}
		if c.scenario == "backlog" {
			prev := so.account
			so.account = func(a *smsc.Account) {
				if prev != nil {
					prev(a)
				}
				a.Throttle = smsc.Throttle{PerAccount: float64(c.backlogRate)} // far below the queueing rate
			}
		}
		if c.scenario == "smpp" {
			if so.front, err = newFrontAccount(max(256, perBind(c.concurrency, c.frontBinds)), c.frontBinds); err != nil {
				return res, err
			}
		}
		if sr, err = startSelf(ctx, so); err != nil {
			return res, err
		}
		defer sr.stop()
		if c.scenario == "backlog" {
			bl, err := runBacklog(ctx, c, sr, stderr)
			res.Backlog, res.Smppd = &bl, &sr.lastPS
			return res, err
		}
		target, key = sr.target, sr.key
		sim = &inProcessSim{srv: sr.sim}
		if c.scenario == "smpp" {
			// Bound before the load and its measurements: each bind's password check is
			// meant to cost smppd CPU.
			if sl, err = dialSMPPLoad(ctx, sr.frontAddr, so.front, c.frontBinds, perBind(c.concurrency, c.frontBinds), tr); err != nil {
				return res, err
			}
			defer sl.close()
		}
	} else {
		if key == "" {
			return res, errors.New("-key is required without -self")
		}
		if c.simURL != "" {
			sim = &httpSim{base: c.simURL, c: &http.Client{Timeout: 10 * time.Second}}
		}
	}

	// Redis: connect, then one idle second before the load to see what else runs on it.
	var probe *redisProbe
	var before redisSnapshot
	idle := 0.0
	if c.redisStats {
		if probe, err = newRedisProbe(ctx, c.redisURL); err != nil {
			return res, err
		}
		defer probe.close()
		a, err := probe.snapshot(ctx)
		if err != nil {
			return res, fmt.Errorf("redis INFO: %w", err)
		}
		time.Sleep(time.Second)
		if before, err = probe.snapshot(ctx); err != nil {
			return res, fmt.Errorf("redis INFO: %w", err)
		}
		idle = float64(sumCalls(commandDelta(a, before))) / before.at.Sub(a.at).Seconds()
	}
	var cpu0 procStats
	if sr != nil {
		cpu0 = sr.sample()
	}

	scenario := c.scenario
	if scenario == "flood" {
		scenario = "r1"
	}
	l := &load{
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: c.concurrency * 2, MaxConnsPerHost: c.concurrency * 2}},
		target: target, key: key, scenario: scenario, bulkSize: c.bulkSize, track: tr,
	}
	if sl != nil {
		l = sl.load
	}
	// Destinations of each run are distinct from the runs before it.
	l.next.Store(uint64(runIndex) * 100_000_000)
	res.Started = time.Now()
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
			fmt.Fprintf(stderr, "\r%5.0fs  requests %d  ok %d  failed %d  accepted %d  submit_sm %d  receipts %d  %s %d   ",
				time.Since(start).Seconds(), l.sent.Load(), l.ok.Load(), l.failed.Load(), l.messages.Load(), tr.sentCount(), receipts,
				stagesOf(c.scenario).progress, tr.webhookCount())
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

	var profiled <-chan error
	if c.cpuProfile != "" && sr != nil {
		profiled = cpuProfile(ctx, sr.ops, profileSeconds(c.duration), profilePath(c.cpuProfile, runIndex+1, c.runs))
	}
	var elapsed time.Duration
	if sl != nil {
		elapsed = sl.run(ctx, c.concurrency, c.rate, c.duration)
	} else {
		elapsed = l.run(ctx, c.concurrency, c.rate, c.duration)
	}
	// Let the pipeline catch up: until every accepted message has its webhook (when the
	// receiver sees them) or the settle time runs out.
	settleStart := time.Now()
	for time.Since(settleStart) < c.settle && ctx.Err() == nil {
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
	res.Settle = time.Since(settleStart).Seconds()
	if profiled != nil {
		if err := <-profiled; err != nil {
			fmt.Fprintln(stderr, "smppbench: -cpuprofile:", err)
		}
	}
	res.EndToEnd = tr.hookedCount()
	if probe != nil {
		after, err := quiesce(ctx, probe, idle, 3*time.Second)
		if err != nil {
			return res, fmt.Errorf("redis INFO: %w", err)
		}
		rs := redisStats(before, after, res.EndToEnd, idle)
		res.Redis = &rs
	}
	if sr != nil {
		ps := sr.sample()
		res.Smppd = &ps
		res.SmppdRunCPU = ps.CPUSeconds - cpu0.CPUSeconds
		res.SmppdCPUPerMsg = perMessage(res.SmppdRunCPU*1e6, res.EndToEnd)
	}

	secs := elapsed.Seconds()
	res.Duration = secs
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
	res.EndToEndRate = float64(res.EndToEnd) / total
	res.Reply = l.reply.percentiles()
	res.ToSubmit = tr.acceptToSubmit.percentiles()
	tr.finish()
	res.ToWebhook = tr.submitToHook.percentiles()
	res.Errors = l.firstErrors
	if sl != nil {
		res.Stage = stagesOf(c.scenario).last
		res.ReceiptsUnmatched = sl.ids.unknown()
		res.ReceiptsUnreadable = sl.badReceipts.Load()
	}
	if sim != nil {
		if sc, err := sim.receiptCounters(); err == nil {
			res.Simulator = &sc
		}
	}
	if c.scenario == "flood" && sr != nil && ctx.Err() == nil {
		fr, err := runFlood(ctx, c, sr, tr, probe, stderr)
		if err != nil {
			return res, err
		}
		res.Flood = &fr // res.Simulator stays the R1 phase's; the flood's are in fr
	}
	return res, nil
}

// quiesce waits (at most maxWait) until Redis's command rate is back near the idle rate
// measured before the load, so the last messages' trailing writes (webhook
// acknowledgements) are counted, and returns the snapshot it ends on.
func quiesce(ctx context.Context, p *redisProbe, idle float64, maxWait time.Duration) (redisSnapshot, error) {
	prev, err := p.snapshot(ctx)
	if err != nil {
		return prev, err
	}
	deadline := time.Now().Add(maxWait)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(250 * time.Millisecond)
		cur, err := p.snapshot(ctx)
		if err != nil {
			return prev, err
		}
		rate := float64(sumCalls(commandDelta(prev, cur))) / cur.at.Sub(prev.at).Seconds()
		prev = cur
		if rate <= 2*idle+50 {
			break
		}
	}
	return prev, nil
}

// summaryLine is one compact line per run: end-to-end rate and the costs per message.
func summaryLine(r Result, runs int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "run %d/%d  %-5s  %6.0f msg/s end to end (%d messages)", r.Run, runs, r.Scenario, r.EndToEndRate, r.EndToEnd)
	if r.Redis != nil {
		fmt.Fprintf(&b, "  Redis %.1f commands/msg, %.0f µs CPU/msg", r.Redis.CommandsPerMessage, r.Redis.CPUMicrosPerMsg)
	}
	if r.Smppd != nil {
		fmt.Fprintf(&b, "  smppd %.0f µs CPU/msg", r.SmppdCPUPerMsg)
	}
	if bl := r.Backlog; bl != nil {
		return fmt.Sprintf("run %d/%d  backlog  %d queued (%.0f/s), smppd RSS max %.0f MiB (peak %.0f MiB) over %.0fs draining at %.0f/s",
			r.Run, runs, bl.Queued, bl.QueueRate, bl.RSSMiB, bl.PeakRSSMiB, bl.SampleSeconds, float64(bl.Sent)/bl.SampleSeconds)
	}
	if f := r.Flood; f != nil {
		fmt.Fprintf(&b, "  flood %.0f/s acknowledged, %d lost, %d dropped, smppd %.0f µs CPU/receipt", f.AckedRate, f.Lost, f.Dropped, f.SmppdCPUPerReceipt)
	}
	return b.String()
}

func printTable(w io.Writer, r Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if bl := r.Backlog; bl != nil {
		fmt.Fprintf(tw, "scenario\tbacklog (%d messages queued straight into Redis)\n", bl.Queued)
		fmt.Fprintf(tw, "queued\t%d in %.1fs\t%.0f/s (store Accept, group commit, 8 writers × 1,000)\n", bl.Queued, bl.QueueSeconds, bl.QueueRate)
		fmt.Fprintf(tw, "draining\t%d sent in %.0fs\tcarrier takes %.0f/s; %d still ready at the end\n", bl.Sent, bl.SampleSeconds, bl.CarrierRate, bl.ReadyAtEnd)
		fmt.Fprintf(tw, "smppd memory\tRSS max %.0f MiB\tpeak (VmHWM) %.0f MiB\n", bl.RSSMiB, bl.PeakRSSMiB)
		_ = tw.Flush()
		return
	}
	fmt.Fprintf(tw, "scenario\t%s (concurrency %d", r.Scenario, r.Concurrency)
	if r.TargetRate > 0 {
		fmt.Fprintf(tw, ", rate %.0f/s", r.TargetRate)
	}
	fmt.Fprintf(tw, ", %.1fs sending + %.1fs settling)\n", r.Duration, r.Settle)
	st := stagesOf(r.Scenario)
	fmt.Fprintf(tw, "%s\t%d (%d failed)\n", st.requests, r.Requests, r.Failed)
	fmt.Fprintf(tw, "accepted\t%d messages\t%.0f/s\n", r.Accepted, r.AcceptedRate)
	fmt.Fprintf(tw, "submit_sm at operator\t%d\t%.0f/s\n", r.Submitted, r.SubmitRate)
	fmt.Fprintf(tw, "%s\t%d\t%.0f/s\n", st.receipts, r.Receipts, r.ReceiptRate)
	fmt.Fprintf(tw, "%s\t%d (%d duplicate)\t%.0f/s\n", st.progress, r.Webhooks, r.DupWebhooks, r.WebhookRate)
	if r.ReceiptsUnmatched > 0 || r.ReceiptsUnreadable > 0 {
		fmt.Fprintf(tw, "  not matched\t%d with an id no submit_sm_resp gave, %d without a readable id\n", r.ReceiptsUnmatched, r.ReceiptsUnreadable)
	}
	fmt.Fprintf(tw, "end to end\t%d messages with their %s\t%.0f/s\n", r.EndToEnd, st.last, r.EndToEndRate)
	if n := int(r.Accepted) - r.EndToEnd; n > 0 {
		fmt.Fprintf(tw, "note\t%d accepted messages had no %s when settling ended: the per-message figures below include their work so far\n", n, st.last)
	}
	if s := r.Simulator; s != nil {
		fmt.Fprintf(tw, "receipts refused\t%d refused, %d timed out, %d retried\t%d given up (lost), %d dropped\n", s.Refused, s.Timeouts, s.Retries, s.GivenUp, s.Dropped)
	}
	fmt.Fprintf(tw, "latency (ms)\tp50\tp90\tp99\tmax\n")
	for _, row := range []struct {
		name string
		p    Percentiles
	}{{st.reply, r.Reply}, {st.toSubmit, r.ToSubmit}, {"submit_sm → " + st.last, r.ToWebhook}} {
		fmt.Fprintf(tw, "  %s\t%.1f\t%.1f\t%.1f\t%.1f\n", row.name, row.p.P50, row.p.P90, row.p.P99, row.p.Max)
	}
	if r.Smppd != nil {
		fmt.Fprintf(tw, "smppd\tCPU %.1fs (%.0f%% of one core)\tpeak RSS %.0f MiB\n", r.Smppd.CPUSeconds,
			100*r.Smppd.CPUSeconds/(r.Duration+r.Settle), r.Smppd.PeakRSSMiB)
		fmt.Fprintf(tw, "smppd per message\t%s CPU\t(%.2fs during the run)\n", perMsg(r.SmppdCPUPerMsg, " µs", r.EndToEnd), r.SmppdRunCPU)
	}
	if x := r.Redis; x != nil {
		printRedis(tw, "Redis", "msg", x, true)
	}
	if f := r.Flood; f != nil {
		fmt.Fprintf(tw, "flood\t%d receipts/s for %s over %d message ids\t%.1fs until settled\n", f.TargetRate, f.Duration, f.Messages, f.Seconds)
		fmt.Fprintf(tw, "  receipts\t%d sent, %d acknowledged\t%.0f/s achieved\n", f.Sent, f.Acked, f.AckedRate)
		fmt.Fprintf(tw, "  refused\t%d refused, %d timed out, %d retried\t%d given up (lost)\n", f.Refused, f.Timeouts, f.Retries, f.Lost)
		if f.Dropped > 0 || f.Unresolved > 0 {
			fmt.Fprintf(tw, "  not delivered\t%d dropped (simulator's held queue full: acknowledged slower than sent)\t%d unresolved when the wait ended\n", f.Dropped, f.Unresolved)
		}
		fmt.Fprintf(tw, "  webhooks\t%d (%d duplicate)\n", f.Webhooks, f.DupWebhooks)
		fmt.Fprintf(tw, "  smppd\tCPU %.1fs, %s per receipt (%.0f%% of one core while acknowledging)\tRSS max %.0f MiB, peak %.0f MiB\n",
			f.SmppdCPUSeconds, perMsg(f.SmppdCPUPerReceipt, " µs", int(f.Acked)), 100*f.SmppdCPUCores, f.SmppdMaxRSSMiB, f.SmppdPeakRSSMiB)
		if f.Redis != nil {
			printRedis(tw, "  Redis", "receipt", f.Redis, true)
		}
	}
	for _, e := range r.Errors {
		fmt.Fprintf(tw, "error\t%s\n", e)
	}
	tw.Flush()
}

// printRedis prints the Redis rows: commands and CPU per message (or per receipt: unit),
// the top commands, and (for the run, not the flood) the idle rate before the load.
func printRedis(tw io.Writer, name, unit string, x *RedisStats, showIdle bool) {
	fmt.Fprintf(tw, "%s commands\t%d, %s\tCPU %.2fs, %s\n", name, x.Commands, perMsg(x.CommandsPerMessage, "/"+unit, x.Messages),
		x.CPUSeconds, perMsg(x.CPUMicrosPerMsg, " µs/"+unit, x.Messages))
	if len(x.ByCommand) > 0 && x.Messages > 0 {
		fmt.Fprintf(tw, "%s per %s\t%s\n", name, unit, x.topCommands(8))
	}
	if showIdle {
		fmt.Fprintf(tw, "%s idle before\t%.0f commands/s\n", name, x.IdleCommandsPerSec)
	}
	if x.Warning != "" {
		fmt.Fprintf(tw, "warning\t%s\n", x.Warning)
	}
}

// stages names the rows of a scenario's table: the HTTP scenarios end with the webhook, the
// smpp scenario with the receipt its client gets back as a deliver_sm.
type stages struct {
	requests string // what the load sends
	reply    string // the latency of its answer
	toSubmit string // answer → submit_sm at the operator
	receipts string // receipts from the operator to smppd
	last     string // the last stage of a message, singular
	progress string // the last stage, plural (progress line, table row)
}

func stagesOf(scenario string) stages {
	if scenario == "smpp" {
		return stages{requests: "submit_sm from client", reply: "submit_sm_resp", toSubmit: "submit_sm_resp → submit_sm",
			receipts: "receipts from operator", last: "receipt to client", progress: "receipts to client"}
	}
	return stages{requests: "requests", reply: "HTTP reply", toSubmit: "accept → submit_sm", receipts: "receipts",
		last: "webhook", progress: "webhooks"}
}

// perBind is how many of concurrency outstanding submits one of binds binds carries at most
// (workers are dealt to binds in turn).
func perBind(concurrency, binds int) int {
	return (concurrency + binds - 1) / binds
}

// perMsg formats a per-message figure with its unit, or says there were no messages to
// divide by.
func perMsg(v float64, unit string, n int) string {
	switch {
	case n <= 0:
		return "n/a (no messages)"
	case v < 10:
		return fmt.Sprintf("%.2f%s", v, unit)
	case v < 100:
		return fmt.Sprintf("%.1f%s", v, unit)
	}
	return fmt.Sprintf("%.0f%s", v, unit)
}

func envOr(k, d string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return d
}
