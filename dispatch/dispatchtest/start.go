package dispatchtest

import (
	"context"
	"testing"
	"time"

	"github.com/smppd/smppd/dispatch"
)

// Defaults fills the zero fields of o with the timings of a test: claims, promotions,
// throttle pauses and retries come within tens of milliseconds instead of the production
// seconds, so tests wait on events, not on timers. Claims are reclaimed after two minutes (no
// test waits for that by accident), and receipts are acknowledged (AckReceipts) unless o
// says who handles them. Fields that o sets are kept.
func Defaults(o dispatch.Options) dispatch.Options {
	if o.ClaimWait == 0 {
		o.ClaimWait = 50 * time.Millisecond
	}
	if o.PromoteEvery == 0 {
		o.PromoteEvery = 20 * time.Millisecond
	}
	if o.PauseMin == 0 {
		o.PauseMin, o.PauseMax = 20*time.Millisecond, 200*time.Millisecond
	}
	if o.RetryMin == 0 {
		o.RetryMin, o.RetryMax = 20*time.Millisecond, 200*time.Millisecond
	}
	if o.ReclaimAfter == 0 {
		o.ReclaimAfter = 2 * time.Minute
	}
	if o.Receipts == nil {
		o.Receipts = AckReceipts{}
	}
	return o
}

// Start builds a dispatcher from Defaults(o), starts it, and shuts it down (waiting up to
// ten seconds) when the test ends.
func Start(tb testing.TB, o dispatch.Options) *dispatch.Dispatcher {
	tb.Helper()
	d, err := dispatch.New(Defaults(o))
	if err != nil {
		tb.Fatal(err)
	}
	d.Start()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = d.Shutdown(ctx)
	})
	return d
}
