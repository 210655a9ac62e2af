package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Texts that match templates of bench_registry.yaml (entity ACME, header ACMEIN).
const (
	benchSender = "ACMEIN"
	benchText   = "Rs.%d received for order A%d. Thank you for shopping with ACME."
)

// load drives one scenario against the HTTP API.
type load struct {
	client   *http.Client
	target   string
	key      string
	scenario string // otp, r1, bulk
	bulkSize int
	next     atomic.Uint64 // destination counter
	track    *tracker
	// redirect, when set, replaces target (the reliability suite sends a dead instance's
	// share of the load to a live one, as a load balancer would).
	redirect atomic.Pointer[string]

	sent, ok, failed atomic.Uint64
	messages         atomic.Uint64 // accepted messages (a bulk request carries many)
	reply            samples
	errMu            sync.Mutex
	firstErrors      []string
}

// dest returns a fresh Indian mobile number: every message of a run has its own, which is
// how the stages of one message are matched up.
func (l *load) dest() string {
	n := l.next.Add(1)
	return fmt.Sprintf("917%09d", n)
}

func (l *load) noteErr(s string) {
	l.errMu.Lock()
	if len(l.firstErrors) < 5 {
		l.firstErrors = append(l.firstErrors, s)
	}
	l.errMu.Unlock()
}

// base returns the smppd the requests go to.
func (l *load) base() string {
	if p := l.redirect.Load(); p != nil {
		return *p
	}
	return l.target
}

// one sends one request and records its outcome.
func (l *load) one(ctx context.Context) {
	var req *http.Request
	target := l.base()
	var dests []string
	switch l.scenario {
	case "otp":
		d := l.dest()
		dests = []string{d}
		req, _ = http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/API/V1/%s/SMS/%s/AUTOGEN", target, l.key, d), nil)
	case "r1":
		d := l.dest()
		dests = []string{d}
		form := url.Values{"module": {"TRANS_SMS"}, "apikey": {l.key}, "to": {d}, "from": {benchSender},
			"msg": {fmt.Sprintf(benchText, 100+len(d), l.next.Load())}}
		req, _ = http.NewRequestWithContext(ctx, http.MethodPost, target+"/API/R1/", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	case "bulk":
		type m struct {
			From string `json:"smsFrom"`
			To   string `json:"smsTo"`
			Text string `json:"smsText"`
			CB1  string `json:"callback_value1"`
		}
		body := struct {
			Module   string `json:"module"`
			APIKey   string `json:"apikey"`
			Messages []m    `json:"messages"`
		}{Module: "TRANS_SMS", APIKey: l.key}
		for i := range l.bulkSize {
			d := l.dest()
			dests = append(dests, d)
			body.Messages = append(body.Messages, m{benchSender, "+" + d, fmt.Sprintf(benchText, 100+i, l.next.Load()), d})
		}
		b, _ := json.Marshal(body)
		req, _ = http.NewRequestWithContext(ctx, http.MethodPost, target+"/API/R1/Bulk/", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
	}
	l.sent.Add(1)
	start := time.Now()
	resp, err := l.client.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			l.failed.Add(1)
			l.noteErr(err.Error())
		}
		return
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	now := time.Now()
	l.reply.add(now.Sub(start))
	if resp.StatusCode != http.StatusOK || !accepted(l.scenario, body) {
		l.failed.Add(1)
		l.noteErr(fmt.Sprintf("HTTP %d: %.200s", resp.StatusCode, body))
		return
	}
	l.ok.Add(1)
	l.messages.Add(uint64(len(dests)))
	for i, d := range dests {
		dests[i] = normalise(d)
	}
	l.track.accept(dests, now)
}

// accepted reads the reply shapes of the 2Factor API.
func accepted(scenario string, body []byte) bool {
	if scenario == "bulk" {
		var r struct {
			Success bool `json:"success"`
		}
		return json.Unmarshal(body, &r) == nil && r.Success
	}
	var r struct{ Status string }
	return json.Unmarshal(body, &r) == nil && r.Status == "Success"
}

// run drives the load for d: closed loop with `concurrency` workers, or, when rate > 0,
// at most `rate` requests per second spread evenly.
func (l *load) run(ctx context.Context, concurrency int, rate float64, d time.Duration) time.Duration {
	return drive(ctx, concurrency, rate, d, func(ctx context.Context, _ int) { l.one(ctx) })
}

// drive calls one in a loop for d: closed loop with `concurrency` workers, or, when rate >
// 0, at most `rate` calls per second spread evenly. one gets its worker's index (0 to
// concurrency-1), so that a worker may keep to one connection.
func drive(ctx context.Context, concurrency int, rate float64, d time.Duration, one func(ctx context.Context, worker int)) time.Duration {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var tokens chan struct{}
	if rate > 0 {
		tokens = make(chan struct{}, concurrency)
		go func() {
			interval := time.Duration(float64(time.Second) / rate)
			next := time.Now()
			for ctx.Err() == nil {
				next = next.Add(interval)
				if wait := time.Until(next); wait > 0 {
					time.Sleep(wait)
				}
				select {
				case tokens <- struct{}{}:
				case <-ctx.Done():
				}
			}
		}()
	}
	start := time.Now()
	var wg sync.WaitGroup
	for w := range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if tokens != nil {
					select {
					case <-tokens:
					case <-ctx.Done():
						return
					}
				}
				one(ctx, w)
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}
