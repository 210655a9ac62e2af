package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// samples collects durations; percentiles are computed once at the end.
type samples struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *samples) add(d time.Duration) {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
}

func (s *samples) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.d)
}

// Percentiles summarises a latency distribution in milliseconds.
type Percentiles struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

func (s *samples) percentiles() Percentiles {
	s.mu.Lock()
	d := slices.Clone(s.d)
	s.mu.Unlock()
	if len(d) == 0 {
		return Percentiles{}
	}
	slices.Sort(d)
	at := func(q float64) float64 {
		i := int(q * float64(len(d)-1))
		return float64(d[i]) / float64(time.Millisecond)
	}
	return Percentiles{Count: len(d), P50: at(.50), P90: at(.90), P99: at(.99), Max: float64(d[len(d)-1]) / float64(time.Millisecond)}
}

// tracker remembers when each destination's message was accepted and sent, to measure the
// pipeline's stages: every request of a run uses destinations of its own.
type tracker struct {
	mu       sync.Mutex
	accepted map[string]time.Time // destination → HTTP reply
	sent     map[string]time.Time // destination → submit_sm at the simulator

	acceptToSubmit samples
	submitToHook   samples
	webhooks       int
	duplicateHooks int
	seenHooks      map[string]bool
	hookAt         map[string]time.Time // destination → first webhook
	hookLast       map[string]time.Time // destination → last webhook, duplicates included
}

func newTracker() *tracker {
	return &tracker{accepted: map[string]time.Time{}, sent: map[string]time.Time{}, seenHooks: map[string]bool{}, hookAt: map[string]time.Time{},
		hookLast: map[string]time.Time{}}
}

func (t *tracker) accept(dests []string, at time.Time) {
	t.mu.Lock()
	for _, d := range dests {
		t.accepted[d] = at
	}
	t.mu.Unlock()
}

func (t *tracker) submitted(dest string, at time.Time) {
	t.mu.Lock()
	acc, ok := t.accepted[dest]
	if _, dup := t.sent[dest]; !dup {
		t.sent[dest] = at
		if ok {
			t.acceptToSubmit.add(at.Sub(acc))
		}
	}
	t.mu.Unlock()
}

func (t *tracker) webhook(dest, key string, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if at.After(t.hookLast[dest]) {
		t.hookLast[dest] = at
	}
	if key != "" && t.seenHooks[key] {
		t.duplicateHooks++
		return
	}
	t.seenHooks[key] = true
	t.webhooks++
	if _, ok := t.hookAt[dest]; !ok {
		t.hookAt[dest] = at
	}
}

// finish computes submit_sm → webhook once every submit has been seen: a webhook often
// arrives before the simulator is polled for its submit_sm.
func (t *tracker) finish() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for dest, at := range t.hookAt {
		if sent, ok := t.sent[dest]; ok {
			t.submitToHook.add(at.Sub(sent))
		}
	}
}

// unhooked counts accepted messages without a webhook yet.
func (t *tracker) unhooked() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for d := range t.accepted {
		if _, ok := t.hookAt[d]; !ok {
			n++
		}
	}
	return n
}

// hookedCount counts destinations with a webhook: messages that made it end to end.
func (t *tracker) hookedCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.hookAt)
}

func (t *tracker) sentCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.sent)
}

func (t *tracker) webhookCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.webhooks
}

// Webhook receiver modes: healthy, failing every request with 503, or dropping every
// connection (as if down). The reliability suite switches them during a run.
const (
	hookUp int32 = iota
	hookFailing
	hookDown
)

// webhookReceiver accepts delivery webhooks (JSON or the legacy form) and records them. mode,
// when set, decides how it answers.
func webhookReceiver(t *tracker, mode *atomic.Int32) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if mode != nil {
			switch mode.Load() {
			case hookFailing:
				http.Error(w, "receiver failing", http.StatusServiceUnavailable)
				return
			case hookDown:
				if hj, ok := w.(http.Hijacker); ok {
					if c, _, err := hj.Hijack(); err == nil {
						_ = c.Close()
						return
					}
				}
			}
		}
		now := time.Now()
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		var to string
		// Delivery reports carry SmsTo; OTP delivery callbacks (mode=SMS_OTP) carry To.
		var p struct {
			SmsTo     string `json:"SmsTo"`
			To        string `json:"To"`
			SessionID string `json:"SessionId"`
		}
		if json.Unmarshal(body, &p) == nil && (p.SmsTo != "" || p.To != "") {
			to = p.SmsTo + p.To
		} else {
			r.Body = io.NopCloser(bytes.NewReader(body))
			if r.ParseForm() == nil {
				to = r.Form.Get("SmsTo") + r.Form.Get("To")
			}
		}
		key := r.Header.Get("Idempotency-Key")
		if key == "" {
			key = p.SessionID + "|" + to
		}
		t.webhook(normalise(to), key, now)
		w.WriteHeader(http.StatusOK)
	})}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String() + "/hook", func() { _ = srv.Close() }, nil
}

// normalise reduces a phone number to its last ten digits, the part every form shares.
func normalise(p string) string {
	if len(p) > 10 {
		return p[len(p)-10:]
	}
	return p
}

// procStats reads a process's CPU time and resident memory (now and at its peak) from
// /proc (Linux).
type procStats struct {
	CPUSeconds float64 `json:"cpu_seconds"`
	PeakRSSMiB float64 `json:"peak_rss_mib"`
	RSSMiB     float64 `json:"rss_mib"`
}

func readProc(pid int) (procStats, bool) {
	var ps procStats
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ps, false
	}
	// Fields after the command name (which may hold spaces) start after the last ')'.
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	if len(f) > 13 {
		ut, _ := strconv.ParseFloat(f[11], 64)
		st, _ := strconv.ParseFloat(f[12], 64)
		ps.CPUSeconds = (ut + st) / 100 // USER_HZ is 100 on Linux
	}
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err == nil {
		for _, line := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(line, "VmHWM:") {
				kb, _ := strconv.ParseFloat(strings.Fields(line)[1], 64)
				ps.PeakRSSMiB = kb / 1024
			}
			if strings.HasPrefix(line, "VmRSS:") {
				kb, _ := strconv.ParseFloat(strings.Fields(line)[1], 64)
				ps.RSSMiB = kb / 1024
			}
		}
	}
	return ps, true
}
