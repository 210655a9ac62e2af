package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/redisstore"
)

// BacklogResult is what -scenario backlog measured: smppd's memory while a large backlog
// waits in Redis and drains at -backlog-rate.
type BacklogResult struct {
	Queued        int     `json:"queued"`
	QueueSeconds  float64 `json:"queue_seconds"`
	QueueRate     float64 `json:"queued_per_second"`
	Sent          uint64  `json:"sent"`
	CarrierRate   float64 `json:"carrier_rate"`
	RSSMiB        float64 `json:"rss_mib"`
	PeakRSSMiB    float64 `json:"peak_rss_mib"`
	ReadyAtEnd    int64   `json:"ready_at_end"`
	SampleSeconds float64 `json:"sample_seconds"`
}

// runBacklog queues c.backlog messages straight into the store smppd uses (through the
// store's Accept, as the API does, in batches of 1,000 from 8 goroutines: no HTTP), far
// faster than the simulated carrier takes them (c.backlogRate per second, throttling the
// rest), then samples smppd's RSS for c.duration while the backlog drains. Queues live in Redis, so smppd's memory
// should not depend on the backlog.
func runBacklog(ctx context.Context, c config, sr *selfRun, stderr io.Writer) (BacklogResult, error) {
	var r BacklogResult
	st, err := redisstore.Open(ctx, sr.redis, redisstore.Options{Prefix: sr.prefix})
	if err != nil {
		return r, err
	}
	defer st.Close()
	const batch, workers = 1000, 8
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := g; b*batch < c.backlog; b += workers {
				now := time.Now()
				var msgs []*store.Message
				var recs []*store.Record
				for i := b * batch; i < min((b+1)*batch, c.backlog); i++ {
					m := &store.Message{ID: store.NewID(), Account: "bench", Carrier: "sim", Priority: store.PriorityTransactional,
						From: "ACMEIN", To: fmt.Sprintf("9198%08d", i), AcceptedAt: now,
						Text: "Rs.500 received for order A123. Thank you for shopping with ACME."}
					msgs = append(msgs, m)
					recs = append(recs, &store.Record{ID: m.ID, Account: m.Account, Carrier: m.Carrier, From: m.From, To: m.To,
						Status: store.StatusAccepted, AcceptedAt: now, StatusAt: now, PEID: m.PEID, TemplateID: m.TemplateID, TMIDs: m.TMIDs})
				}
				if err := st.Accept(ctx, recs, 0, msgs...); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return r, fmt.Errorf("queueing the backlog: %w", err)
	}
	r.Queued, r.QueueSeconds = c.backlog, time.Since(start).Seconds()
	r.QueueRate = float64(r.Queued) / r.QueueSeconds
	fmt.Fprintf(stderr, "backlog: %d messages queued in %.1fs; the carrier takes %d/s\n", r.Queued, r.QueueSeconds, c.backlogRate)
	r.CarrierRate = float64(c.backlogRate)
	sent0 := sr.sim.Counters().Accepted
	end := time.Now().Add(c.duration)
	for time.Now().Before(end) && ctx.Err() == nil {
		time.Sleep(time.Second)
		ps := sr.sample()
		r.RSSMiB = max(r.RSSMiB, ps.RSSMiB)
		r.PeakRSSMiB = ps.PeakRSSMiB
	}
	r.SampleSeconds = c.duration.Seconds()
	r.Sent = sr.sim.Counters().Accepted - sent0
	if d, err := st.Depth(ctx, "sim"); err == nil {
		r.ReadyAtEnd = d.Ready
	}
	return r, nil
}
