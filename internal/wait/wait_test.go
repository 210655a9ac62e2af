package wait

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestUntilReportsWhetherTheConditionHeld(t *testing.T) {
	var n atomic.Int32
	if !Until(time.Second, func() bool { return n.Add(1) >= 3 }) {
		t.Fatal("Until gave up on a condition that held on the third poll")
	}
	if got := n.Load(); got != 3 {
		t.Fatalf("condition polled %d times, want 3 (it must stop once it holds)", got)
	}
	start := time.Now()
	if Until(20*time.Millisecond, func() bool { return false }) {
		t.Fatal("Until reported a condition that never held as held")
	}
	if waited := time.Since(start); waited < 20*time.Millisecond {
		t.Fatalf("Until gave up after %s, before its deadline", waited)
	}
}

// recorder stands in for testing.T to see what For and ForNoError report on a timeout.
type recorder struct {
	testing.TB
	failed string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
}

func TestForAndForNoErrorFailWithWhatTheyWaitedFor(t *testing.T) {
	r := &recorder{}
	For(r, 5*time.Millisecond, "the moon", func() bool { return false })
	if !strings.Contains(r.failed, "the moon") {
		t.Fatalf("For's failure %q does not name what it waited for", r.failed)
	}
	r = &recorder{}
	ForNoError(r, 5*time.Millisecond, "a reply", func() error { return errors.New("connection refused") })
	if !strings.Contains(r.failed, "a reply") || !strings.Contains(r.failed, "connection refused") {
		t.Fatalf("ForNoError's failure %q does not carry the last error", r.failed)
	}
	r = &recorder{}
	For(r, time.Second, "something true", func() bool { return true })
	if r.failed != "" {
		t.Fatalf("For failed on a condition that held: %q", r.failed)
	}
}
