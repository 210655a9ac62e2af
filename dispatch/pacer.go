package dispatch

import (
	"context"
	"math"
	"sync"
	"time"
)

// pacer spaces segments at a rate, allowing a small burst: a GCRA (virtual scheduling)
// limiter. Its rate changes often (on every throttle, and every second while it climbs
// back), so it keeps only "the earliest time the next segment may go", which a rate change
// cannot corrupt.
type pacer struct {
	mu       sync.Mutex
	interval time.Duration // between segments; 0 means unlimited
	burst    int
	next     time.Time
}

func newPacer(perSecond float64) *pacer {
	p := &pacer{}
	p.setRate(perSecond)
	return p
}

// rate returns segments per second, +Inf when unlimited.
func (p *pacer) rate() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.interval == 0 {
		return math.Inf(1)
	}
	return float64(time.Second) / float64(p.interval)
}

// setRate changes the pace; 0 or +Inf means unlimited. The burst is 20 ms of traffic:
// carriers police with small buckets, and a burst after a pause is what gets a link
// throttled again.
func (p *pacer) setRate(perSecond float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if perSecond <= 0 || math.IsInf(perSecond, 1) {
		p.interval = 0
		return
	}
	p.interval = time.Duration(float64(time.Second) / perSecond)
	p.burst = max(1, int(perSecond/50))
}

// wait blocks until n more segments may go, or ctx ends.
func (p *pacer) wait(ctx context.Context, n int) error {
	p.mu.Lock()
	if p.interval == 0 {
		p.mu.Unlock()
		return nil
	}
	now := time.Now()
	if earliest := now.Add(-time.Duration(p.burst-1) * p.interval); p.next.Before(earliest) {
		p.next = earliest
	}
	at := p.next
	p.next = p.next.Add(time.Duration(n) * p.interval)
	p.mu.Unlock()
	d := at.Sub(now)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
