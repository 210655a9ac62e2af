package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smppd/smppd/internal/wait"
)

// BenchmarkOTPSendRate drives AUTOGEN at a fixed rate (default 2,000 requests/s, 2Factor's
// high-availability tier; $SMPPD_BENCH_RATE) for $SMPPD_BENCH_SECONDS (default 5) against
// the API over loopback HTTP, a real dispatcher, the simulator and Redis, and reports the
// achieved rate and reply latency percentiles. One run is one measurement:
//
//	go test -run '^$' -bench OTPSendRate -benchtime 1x ./api/
func BenchmarkOTPSendRate(b *testing.B) {
	rate, secs := 2000.0, 5.0
	if v := os.Getenv("SMPPD_BENCH_RATE"); v != "" {
		fmt.Sscan(v, &rate)
	}
	if v := os.Getenv("SMPPD_BENCH_SECONDS"); v != "" {
		fmt.Sscan(v, &secs)
	}
	p := newPipeline(b, false, func(o *Options) { o.Accounts[0].RateLimit = -1; o.Accounts[0].TransactionalCredits = nil })
	// warm up connections and scripts
	for i := range 50 {
		p.call(b, "GET", fmt.Sprintf("/API/V1/%s/SMS/96%08d/AUTOGEN", key1, i), "", "")
	}
	for b.Loop() {
		total := int(rate * secs)
		lat := make([]time.Duration, total)
		var failed atomic.Int64
		var wg sync.WaitGroup
		interval := time.Duration(float64(time.Second) / rate)
		start := time.Now()
		for i := range total {
			if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
				time.Sleep(d)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				t0 := time.Now()
				req, _ := http.NewRequestWithContext(context.Background(), "GET", fmt.Sprintf("%s/API/V1/%s/SMS/97%08d/AUTOGEN", p.api.URL, key1, i), nil)
				resp, err := p.client.Do(req)
				if err != nil {
					failed.Add(1)
					lat[i] = time.Since(t0)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat[i] = time.Since(t0)
				if resp.StatusCode != 200 {
					failed.Add(1)
				}
			}()
		}
		wg.Wait()
		elapsed := time.Since(start)
		slices.Sort(lat)
		pct := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000 }
		b.ReportMetric(float64(total)/elapsed.Seconds(), "req/s")
		b.ReportMetric(pct(0.50), "p50-ms")
		b.ReportMetric(pct(0.99), "p99-ms")
		b.ReportMetric(pct(1), "max-ms")
		b.ReportMetric(float64(failed.Load()), "failed")
		wait.Until(30*time.Second, func() bool { return p.sim.Received() >= total+50 })
		b.ReportMetric(float64(p.sim.Received()-50), "at-carrier")
	}
}
