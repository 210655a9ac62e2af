package dlr_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smppd/smppd/dlr"
	"github.com/smppd/smppd/internal/wait"
	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/storetest"
)

// fakeDeliverer stands for the SMPP front at the Deliverer seam: answer says what each call
// returns (n counts the job's calls from 1); it records what it was handed.
type fakeDeliverer struct {
	answer func(j *store.WebhookJob, n int) error

	mu       sync.Mutex
	calls    map[string][]int // job id → the Attempts it was handed with, per call
	accepted map[string]int
	inflight atomic.Int32
	maxIn    atomic.Int32
}

func newFakeDeliverer(answer func(j *store.WebhookJob, n int) error) *fakeDeliverer {
	return &fakeDeliverer{answer: answer, calls: map[string][]int{}, accepted: map[string]int{}}
}

func (d *fakeDeliverer) Deliver(ctx context.Context, j *store.WebhookJob) error {
	in := d.inflight.Add(1)
	defer d.inflight.Add(-1)
	for old := d.maxIn.Load(); in > old && !d.maxIn.CompareAndSwap(old, in); old = d.maxIn.Load() {
	}
	d.mu.Lock()
	d.calls[j.ID] = append(d.calls[j.ID], j.Attempts)
	n := len(d.calls[j.ID])
	d.mu.Unlock()
	err := d.answer(j, n)
	if err == nil {
		d.mu.Lock()
		d.accepted[j.ID]++
		d.mu.Unlock()
	}
	return err
}

func (d *fakeDeliverer) acceptedCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.accepted)
}

func queueEmpty(st store.Webhooks) func() bool {
	return func() bool {
		c, err := st.WebhookCounts(context.Background())
		return err == nil && c.Queued == 0
	}
}

// TestClientJobsHeldWhileNotBound: a job of ClientScheme goes to the Deliverer, never to
// HTTP; ErrNotBound holds it without counting an attempt, other errors count and retry; each
// job is accepted once.
func TestClientJobsHeldWhileNotBound(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st testStore) {
		d := newFakeDeliverer(func(j *store.WebhookJob, n int) error {
			switch {
			case n <= 2:
				return fmt.Errorf("front: account agg: %w", dlr.ErrNotBound)
			case n == 3 && j.ID == "b":
				return errors.New("front: deliver_sm_resp ESME_RX_T_APPN")
			}
			return nil
		})
		var held atomic.Int32
		s := newSender(t, dlr.SenderOptions{Store: st, Secret: "s3cret", HoldMin: 10 * time.Millisecond, HoldMax: 50 * time.Millisecond,
			Deliverers: map[string]dlr.Deliverer{dlr.ClientScheme: d},
			OnWebhook: func(e dlr.WebhookEvent) {
				if e.Outcome == dlr.WebhookHeld {
					held.Add(1)
				}
			}})
		enqueue(t, st, dlr.ClientTarget("agg"), "a", "b")
		wait.For(t, 10*time.Second, "both jobs accepted", func() bool { return d.acceptedCount() == 2 })
		wait.For(t, 10*time.Second, "the queue emptied", queueEmpty(st))
		d.mu.Lock()
		defer d.mu.Unlock()
		if got := fmt.Sprint(d.calls["a"], d.calls["b"]); got != "[1 1 1] [1 1 1 2]" {
			t.Fatalf("attempts handed per call: %s", got)
		}
		if d.accepted["a"] != 1 || d.accepted["b"] != 1 {
			t.Fatalf("accepted %v", d.accepted)
		}
		if s := s.Stats(); s.Attempts != 3 || s.Held != 4 || s.Failed != 1 || s.Retried != 1 || s.Delivered != 2 || s.Dead != 0 || s.Refused != 0 {
			t.Fatalf("stats %+v", s)
		}
		if held.Load() != 4 {
			t.Fatalf("%d held events", held.Load())
		}
	})
}

// TestClientJobsWithoutDelivererAreHeld: a sender with no Deliverer for ClientScheme (no
// front on this instance) holds the jobs, uncounted, instead of posting or dead-lettering
// them.
func TestClientJobsWithoutDelivererAreHeld(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st testStore) {
		s, err := dlr.NewSender(dlr.SenderOptions{Store: st, HoldMin: 10 * time.Millisecond, HoldMax: 20 * time.Millisecond, PollEvery: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		s.Start()
		enqueue(t, st, dlr.ClientTarget("agg"), "x")
		wait.For(t, 10*time.Second, "the job held twice", func() bool { return s.Stats().Held >= 2 })
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		if s := s.Stats(); s.Attempts != 0 || s.Failed != 0 || s.Dead != 0 || s.Refused != 0 {
			t.Fatalf("stats %+v", s)
		}
		var jobs []*store.WebhookJob
		wait.For(t, 5*time.Second, "the held job due again", func() bool {
			jobs, err = st.ClaimWebhooks(context.Background(), time.Now(), time.Minute, 10)
			return err == nil && len(jobs) == 1
		})
		if j := jobs[0]; j.ID != "x" || j.Attempts != 0 || !strings.Contains(j.LastError, "not bound") {
			t.Fatalf("held job %+v", j)
		}
	})
}

// TestClientJobHeldPastHoldForIsDead: holding is bounded: a client that never binds within
// HoldFor of the job's queueing gets it dead-lettered (Replay can queue it again).
func TestClientJobHeldPastHoldForIsDead(t *testing.T) {
	st := storetest.OpenMemory(t)
	d := newFakeDeliverer(func(*store.WebhookJob, int) error { return dlr.ErrNotBound })
	s := newSender(t, dlr.SenderOptions{Store: st, RetryFor: 100 * time.Millisecond, HoldFor: 100 * time.Millisecond,
		HoldMin: 10 * time.Millisecond, HoldMax: 20 * time.Millisecond, Deliverers: map[string]dlr.Deliverer{dlr.ClientScheme: d}})
	enqueue(t, st, dlr.ClientTarget("agg"), "gone")
	wait.For(t, 10*time.Second, "the job dead", func() bool { return s.Stats().Dead == 1 })
	dead, err := s.DeadLetters(context.Background(), 10)
	if err != nil || len(dead) != 1 || dead[0].ID != "gone" || dead[0].Attempts != 0 {
		t.Fatalf("dead letters %+v (%v)", dead, err)
	}
	if s := s.Stats(); s.Attempts != 0 || s.Held == 0 {
		t.Fatalf("stats %+v", s)
	}
}

// TestClientConcurrency: one client target gets ClientConcurrency deliveries at once (an
// SMPP window), not PerHostConcurrency's 4, and no more.
func TestClientConcurrency(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st testStore) {
		release := make(chan struct{})
		d := newFakeDeliverer(func(*store.WebhookJob, int) error {
			<-release
			return nil
		})
		newSender(t, dlr.SenderOptions{Store: st, ClientConcurrency: 16, Timeout: 30 * time.Second,
			Deliverers: map[string]dlr.Deliverer{dlr.ClientScheme: d}})
		var ids []string
		for i := range 50 {
			ids = append(ids, fmt.Sprint("c", i))
		}
		enqueue(t, st, dlr.ClientTarget("agg"), ids...)
		ok := wait.Until(10*time.Second, func() bool { return d.inflight.Load() == 16 })
		close(release)
		if !ok {
			t.Fatalf("%d deliveries in flight, want 16", d.inflight.Load())
		}
		wait.For(t, 10*time.Second, "every job accepted", func() bool { return d.acceptedCount() == 50 })
		wait.For(t, 10*time.Second, "the queue emptied", queueEmpty(st))
		if m := d.maxIn.Load(); m != 16 {
			t.Fatalf("at most %d in flight, want 16", m)
		}
	})
}

func TestDeliverersSchemeChecked(t *testing.T) {
	st := storetest.OpenMemory(t)
	d := newFakeDeliverer(func(*store.WebhookJob, int) error { return nil })
	for _, scheme := range []string{"https", "http", "SMPP", ""} {
		if _, err := dlr.NewSender(dlr.SenderOptions{Store: st, Deliverers: map[string]dlr.Deliverer{scheme: d}}); err == nil {
			t.Errorf("scheme %q accepted", scheme)
		}
	}
}
