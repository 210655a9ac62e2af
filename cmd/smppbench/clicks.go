package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/smppd/smppd/api/shortlink"
	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/redisstore"
)

// The clicks scenario measures the short-link redirector (package api/shortlink) on the
// Redis store: it stores -links links through PutLinks, serves them on a loopback listener
// of its own, and has -c workers GET them (random links, browser User-Agent, keep-alive
// connections) for -d, then reports the redirect rate and the latency percentiles. The
// redirector and the load share this process (and the machine's cores), so the rate is a
// lower bound of what the redirector alone serves. Clicks are written as in production
// (batched after the 302, or before it with -click-durable); the report says how many
// batches they took.
//
//	smppbench -own-redis -scenario clicks -links 10000 -c 64 -d 10s

// ClicksResult is what the clicks scenario measured.
type ClicksResult struct {
	Scenario      string  `json:"scenario"`
	Links         int     `json:"links"`
	Concurrency   int     `json:"concurrency"`
	Durable       bool    `json:"durable_clicks"`
	Seconds       float64 `json:"seconds"`
	Redirects     int64   `json:"redirects"`
	Errors        int64   `json:"errors"`
	Rate          float64 `json:"redirects_per_second"`
	P50MS         float64 `json:"p50_ms"`
	P90MS         float64 `json:"p90_ms"`
	P99MS         float64 `json:"p99_ms"`
	P999MS        float64 `json:"p999_ms"`
	MaxMS         float64 `json:"max_ms"`
	ClicksStored  int64   `json:"clicks_stored"`
	ClickBatches  int64   `json:"click_batches"`
	ClicksFailed  int64   `json:"clicks_failed"`
	PutLinksMS    float64 `json:"put_links_ms"`
	CPUSecondsAll float64 `json:"process_cpu_seconds"`
}

func runClicks(ctx context.Context, c config, stdout, stderr io.Writer) error {
	if c.links < 1 || c.concurrency < 1 || c.duration <= 0 {
		return fmt.Errorf("-scenario clicks needs -links, -c and -d above 0")
	}
	url := c.redisURL
	if c.ownRedis {
		r, err := startOwnRedis(ctx)
		if err != nil {
			return err
		}
		defer r.stop()
		url = r.url
	}
	prefix := "smppbench-clicks-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	st, err := redisstore.Open(ctx, url, redisstore.Options{Prefix: prefix})
	if err != nil {
		return err
	}
	defer st.Close()

	// The links: a campaign of -links recipients, kept 10 minutes (the keys expire on
	// their own on a shared Redis).
	links := make([]*store.Link, c.links)
	paths := make([]string, c.links)
	for i := range links {
		links[i] = &store.Link{Code: shortlink.NewCode(), URL: "https://shop.example.com/offer?id=" + strconv.Itoa(i),
			Header: "ACMEIN", Phone: "9198" + fmt.Sprintf("%08d", i), Account: "bench", Campaign: "clicks", MessageID: store.NewID()}
		paths[i] = "/ACMEIN/" + links[i].Code
	}
	start := time.Now()
	for i := 0; i < len(links); i += 1000 {
		if err := st.PutLinks(ctx, links[i:min(i+1000, len(links))], 10*time.Minute); err != nil {
			return err
		}
	}
	putMS := float64(time.Since(start).Microseconds()) / 1000 / float64((len(links)+999)/1000)

	sl, err := shortlink.New(shortlink.Options{BaseURL: "https://e.1rp.in", Store: st, Durable: c.clickDurable})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: sl, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute}
	go func() { _ = srv.Serve(ln) }()
	base := "http://" + ln.Addr().String()

	tr := &http.Transport{MaxIdleConnsPerHost: c.concurrency, MaxConnsPerHost: c.concurrency, DisableCompression: true}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	fmt.Fprintf(stderr, "clicks: %d links stored (%.2f ms per PutLinks of 1000); %d workers for %s on %s\n", len(links), putMS, c.concurrency, c.duration, base)

	if c.cpuProfile != "" {
		f, err := os.Create(c.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	cpu0 := processCPU()
	var redirects, errs atomic.Int64
	lat := make([][]time.Duration, c.concurrency)
	deadline := time.Now().Add(c.duration)
	start = time.Now()
	var wg sync.WaitGroup
	for w := range c.concurrency {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			mine := make([]time.Duration, 0, 1<<16)
			for time.Now().Before(deadline) && ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+paths[rng.IntN(len(paths))], nil)
				req.Header.Set("User-Agent", "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/131.0 Mobile Safari/537.36")
				t0 := time.Now()
				resp, err := client.Do(req)
				d := time.Since(t0)
				if err != nil {
					errs.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusFound {
					errs.Add(1)
					continue
				}
				redirects.Add(1)
				mine = append(mine, d)
			}
			lat[w] = mine
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := processCPU() - cpu0
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	_ = sl.Shutdown(sctx)

	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[min(len(all)-1, int(p*float64(len(all))))].Microseconds()) / 1000
	}
	ss := sl.Stats()
	res := ClicksResult{Scenario: "clicks", Links: len(links), Concurrency: c.concurrency, Durable: c.clickDurable,
		Seconds: elapsed.Seconds(), Redirects: redirects.Load(), Errors: errs.Load(),
		Rate: float64(redirects.Load()) / elapsed.Seconds(), P50MS: pct(.50), P90MS: pct(.90), P99MS: pct(.99), P999MS: pct(.999),
		ClicksStored: ss.Written, ClickBatches: ss.Batches, ClicksFailed: ss.Failed, PutLinksMS: putMS, CPUSecondsAll: cpu.Seconds()}
	if len(all) > 0 {
		res.MaxMS = float64(all[len(all)-1].Microseconds()) / 1000
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "redirects\t%d in %.1fs (%d errors)\n", res.Redirects, res.Seconds, res.Errors)
	fmt.Fprintf(tw, "rate\t%.0f redirects/s\n", res.Rate)
	fmt.Fprintf(tw, "latency\tp50 %.2f ms, p90 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms\n", res.P50MS, res.P90MS, res.P99MS, res.P999MS, res.MaxMS)
	fmt.Fprintf(tw, "clicks stored\t%d in %d batches (%.1f per batch), %d failed; durable_clicks=%v\n", res.ClicksStored, res.ClickBatches,
		float64(res.ClicksStored)/max(1, float64(res.ClickBatches)), res.ClicksFailed, res.Durable)
	fmt.Fprintf(tw, "CPU (this process: load and redirector)\t%.2f s, %.1f µs per redirect\n", res.CPUSecondsAll, res.CPUSecondsAll*1e6/max(1, float64(res.Redirects)))
	_ = tw.Flush()
	if c.jsonOut != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(c.jsonOut, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// processCPU is this process's user and system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
