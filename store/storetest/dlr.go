package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/smppd/smppd/store"
)

// DLRStore is what package dlr needs of a store beyond store.Records.
type DLRStore interface {
	store.Receipts
	store.Webhooks
}

// RunDLR runs the conformance tests of store.Receipts and store.Webhooks against stores made
// by newStore (same contract as Run's).
func RunDLR(t *testing.T, newStore func(t *testing.T) DLRStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s DLRStore)
	}{
		{"ParkAndTake", testParkAndTake},
		{"ParkDedup", testParkDedup},
		{"DueParked", testDueParked},
		{"Unmatch", testUnmatch},
		{"WebhookEnqueueClaimAck", testWebhookEnqueueClaimAck},
		{"WebhookDedup", testWebhookDedup},
		{"WebhookLease", testWebhookLease},
		{"WebhookRetryAndDue", testWebhookRetryAndDue},
		{"WebhookDeadAndReplay", testWebhookDeadAndReplay},
		{"WebhookFinishedIsNotResurrected", testWebhookFinishedIsNotResurrected},
		{"WebhookConcurrentClaims", testWebhookConcurrentClaims},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t))
		})
	}
}

func rcpt(id, carrier, key string, at time.Time) *store.Receipt {
	return &store.Receipt{ID: id, Carrier: carrier, Key: key, MessageID: key, Stat: "DELIVRD", ReceivedAt: at,
		Text: "id:" + key + " stat:DELIVRD"}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func testParkAndTake(t *testing.T, s DLRStore) {
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond)
	must(t, s.Park(ctx, rcpt("r1", "jio", "1a2b", now), now.Add(time.Minute)))
	must(t, s.Park(ctx, rcpt("r2", "jio", "1a2b", now.Add(time.Millisecond)), now.Add(time.Minute)))
	must(t, s.Park(ctx, rcpt("r3", "airtel", "1a2b", now), now.Add(time.Minute)))
	got, err := s.ParkedReceipts(ctx, "jio", "1a2b")
	must(t, err)
	if len(got) != 2 || got[0].ID != "r1" || got[1].ID != "r2" || got[0].Text != "id:1a2b stat:DELIVRD" {
		t.Fatalf("parked: %+v", got)
	}
	if !got[0].ReceivedAt.Equal(now) {
		t.Fatalf("ReceivedAt %v, want %v", got[0].ReceivedAt, now)
	}
	// Reading does not remove.
	if again, _ := s.ParkedReceipts(ctx, "jio", "1a2b"); len(again) != 2 {
		t.Fatalf("second read: %d", len(again))
	}
	must(t, s.Unpark(ctx, "jio", "1a2b", "r1", "r2", "unknown"))
	if left, _ := s.ParkedReceipts(ctx, "jio", "1a2b"); len(left) != 0 {
		t.Fatalf("after unpark: %+v", left)
	}
	if none, err := s.ParkedReceipts(ctx, "jio", "nothing"); err != nil || len(none) != 0 {
		t.Fatalf("nothing parked: %v %v", none, err)
	}
	c, err := s.ReceiptCounts(ctx)
	must(t, err)
	if c.Parked != 1 {
		t.Fatalf("counts %+v", c)
	}
}

func testParkDedup(t *testing.T, s DLRStore) {
	ctx := context.Background()
	now := time.Now()
	for range 3 {
		must(t, s.Park(ctx, rcpt("same", "jio", "42", now), now.Add(time.Minute)))
	}
	got, err := s.ParkedReceipts(ctx, "jio", "42")
	must(t, err)
	if len(got) != 1 {
		t.Fatalf("%d copies parked", len(got))
	}
	if due, _ := s.DueParked(ctx, now.Add(30*time.Second), 10); len(due) != 0 {
		t.Fatalf("due before its time: %+v", due)
	}
	other := rcpt("same", "jio", "42", now)
	other.Note = "second copy"
	must(t, s.Park(ctx, other, now.Add(-time.Second))) // same id: keeps the copy, moves the time
	due, err := s.DueParked(ctx, now, 10)
	must(t, err)
	if len(due) != 1 || due[0].Note != "" {
		t.Fatalf("after re-park: %+v", due)
	}
	if err := s.Park(ctx, &store.Receipt{Carrier: "jio", Key: "x"}, now); err == nil {
		t.Fatal("receipt without id parked")
	}
	if err := s.Park(ctx, &store.Receipt{ID: "x", Carrier: "a:b", Key: "x"}, now); err == nil {
		t.Fatal("bad carrier accepted")
	}
}

func testDueParked(t *testing.T, s DLRStore) {
	ctx := context.Background()
	now := time.Now()
	must(t, s.Park(ctx, rcpt("late", "jio", "2", now), now.Add(time.Hour)))
	must(t, s.Park(ctx, rcpt("b", "jio", "1", now), now.Add(-time.Second)))
	must(t, s.Park(ctx, rcpt("a", "jio", "0", now), now.Add(-2*time.Second)))
	got, err := s.DueParked(ctx, now, 10)
	must(t, err)
	if len(got) != 2 || got[0].ID != "a" || got[1].ID != "b" {
		t.Fatalf("due: %+v", got)
	}
	if one, _ := s.DueParked(ctx, now, 1); len(one) != 1 || one[0].ID != "a" {
		t.Fatalf("due n=1: %+v", one)
	}
	if again, _ := s.DueParked(ctx, now, 10); len(again) != 2 {
		t.Fatal("DueParked removed receipts")
	}
}

func testUnmatch(t *testing.T, s DLRStore) {
	ctx := context.Background()
	now := time.Now()
	r := rcpt("u1", "jio", "77", now)
	must(t, s.Park(ctx, r, now.Add(-time.Second)))
	r.Note = "no message"
	must(t, s.Unmatch(ctx, r, time.Hour))
	if p, _ := s.ParkedReceipts(ctx, "jio", "77"); len(p) != 0 {
		t.Fatal("unmatched receipt still parked")
	}
	if due, _ := s.DueParked(ctx, now, 10); len(due) != 0 {
		t.Fatalf("still due: %+v", due)
	}
	must(t, s.Unmatch(ctx, rcpt("u2", "jio", "78", now), time.Hour))
	must(t, s.Unmatch(ctx, rcpt("u2", "jio", "78", now), time.Hour)) // same id: replaced
	must(t, s.Unmatch(ctx, rcpt("gone", "jio", "79", now), time.Millisecond))
	time.Sleep(5 * time.Millisecond)
	list, err := s.Unmatched(ctx, 10)
	must(t, err)
	if len(list) != 2 || list[0].ID != "u2" || list[1].ID != "u1" || list[1].Note != "no message" {
		t.Fatalf("unmatched: %+v", list)
	}
	c, err := s.ReceiptCounts(ctx)
	must(t, err)
	if c.Unmatched != 2 || c.Parked != 0 {
		t.Fatalf("counts %+v", c)
	}
}

func job(id string, next time.Time) *store.WebhookJob {
	return &store.WebhookJob{ID: id, MessageID: "m-" + id, URL: "https://example.com/hook", ContentType: "application/json",
		Body: `{"SessionId":"` + id + `"}`, Kind: "json", CreatedAt: next, Since: next, NextAt: next}
}

func testWebhookEnqueueClaimAck(t *testing.T, s DLRStore) {
	ctx := context.Background()
	now := time.Now()
	n, err := s.EnqueueWebhooks(ctx, job("a", now.Add(-2*time.Second)), job("b", now.Add(-time.Second)), job("later", now.Add(time.Hour)))
	must(t, err)
	if n != 3 {
		t.Fatalf("new %d", n)
	}
	got, err := s.ClaimWebhooks(ctx, now, time.Minute, 10)
	must(t, err)
	if len(got) != 2 || got[0].ID != "a" || got[1].ID != "b" || got[0].Body != `{"SessionId":"a"}` {
		t.Fatalf("claimed %+v", got)
	}
	if again, _ := s.ClaimWebhooks(ctx, now, time.Minute, 10); len(again) != 0 {
		t.Fatalf("leased jobs claimed again: %+v", again)
	}
	must(t, s.AckWebhook(ctx, "a", time.Hour))
	c, err := s.WebhookCounts(ctx)
	must(t, err)
	if c.Queued != 2 || c.Dead != 0 {
		t.Fatalf("counts %+v", c)
	}
	if _, err := s.EnqueueWebhooks(ctx, &store.WebhookJob{ID: "x"}); err == nil {
		t.Fatal("job without url accepted")
	}
}

func testWebhookDedup(t *testing.T, s DLRStore) {
	ctx := context.Background()
	now := time.Now()
	n, err := s.EnqueueWebhooks(ctx, job("d", now), job("d", now))
	must(t, err)
	if n != 1 {
		t.Fatalf("duplicate in one call: %d new", n)
	}
	if n, _ := s.EnqueueWebhooks(ctx, job("d", now)); n != 0 {
		t.Fatal("queued job enqueued again")
	}
	must(t, s.AckWebhook(ctx, "d", time.Hour))
	if n, _ := s.EnqueueWebhooks(ctx, job("d", now)); n != 0 {
		t.Fatal("delivered job enqueued again")
	}
	must(t, s.AckWebhook(ctx, "short", 10*time.Millisecond))
	time.Sleep(30 * time.Millisecond)
	if n, _ := s.EnqueueWebhooks(ctx, job("short", now)); n != 1 {
		t.Fatal("job id remembered beyond its keep time")
	}
}

func testWebhookLease(t *testing.T, s DLRStore) {
	ctx := context.Background()
	now := time.Now()
	_, err := s.EnqueueWebhooks(ctx, job("l", now))
	must(t, err)
	got, err := s.ClaimWebhooks(ctx, now, 50*time.Millisecond, 1)
	must(t, err)
	if len(got) != 1 {
		t.Fatal("not claimed")
	}
	if again, _ := s.ClaimWebhooks(ctx, now.Add(10*time.Millisecond), time.Minute, 1); len(again) != 0 {
		t.Fatal("claimed during its lease")
	}
	again, err := s.ClaimWebhooks(ctx, now.Add(100*time.Millisecond), time.Minute, 1)
	must(t, err)
	if len(again) != 1 || again[0].ID != "l" {
		t.Fatalf("not claimed after its lease ran out: %+v", again)
	}
}

func testWebhookRetryAndDue(t *testing.T, s DLRStore) {
	ctx := context.Background()
	now := time.Now()
	_, err := s.EnqueueWebhooks(ctx, job("r", now))
	must(t, err)
	got, _ := s.ClaimWebhooks(ctx, now, time.Minute, 1)
	j := got[0]
	j.Attempts, j.LastError, j.LastStatus = 1, "HTTP 500", 500
	must(t, s.RetryWebhook(ctx, j, now.Add(2*time.Second)))
	if early, _ := s.ClaimWebhooks(ctx, now.Add(time.Second), time.Minute, 1); len(early) != 0 {
		t.Fatal("claimed before its retry time")
	}
	late, err := s.ClaimWebhooks(ctx, now.Add(3*time.Second), time.Minute, 1)
	must(t, err)
	if len(late) != 1 || late[0].Attempts != 1 || late[0].LastStatus != 500 || late[0].LastError != "HTTP 500" {
		t.Fatalf("after retry: %+v", late)
	}
}

func testWebhookDeadAndReplay(t *testing.T, s DLRStore) {
	ctx := context.Background()
	now := time.Now()
	_, err := s.EnqueueWebhooks(ctx, job("x", now), job("y", now))
	must(t, err)
	got, _ := s.ClaimWebhooks(ctx, now, time.Minute, 2)
	for i, j := range got {
		j.Attempts, j.LastError = 9, "gave up"
		j.DeadAt = now.Add(time.Duration(i) * time.Second)
		must(t, s.DeadWebhook(ctx, j))
	}
	dead, err := s.DeadWebhooks(ctx, 10)
	must(t, err)
	if len(dead) != 2 || dead[0].ID != "x" || dead[0].LastError != "gave up" || dead[0].DeadAt.IsZero() {
		t.Fatalf("dead: %+v", dead)
	}
	if n, _ := s.EnqueueWebhooks(ctx, job("x", now)); n != 0 {
		t.Fatal("dead job enqueued again")
	}
	if c, _ := s.WebhookCounts(ctx); c.Queued != 0 || c.Dead != 2 {
		t.Fatalf("counts %+v", c)
	}
	later := now.Add(time.Hour)
	n, err := s.ReplayWebhooks(ctx, later, "x", "nope")
	must(t, err)
	if n != 1 {
		t.Fatalf("replayed %d", n)
	}
	back, err := s.ClaimWebhooks(ctx, later, time.Minute, 10)
	must(t, err)
	if len(back) != 1 || back[0].ID != "x" || !back[0].Since.Equal(later) || !back[0].DeadAt.IsZero() || back[0].Attempts != 9 {
		t.Fatalf("replayed job: %+v", back)
	}
	if n, _ := s.ReplayWebhooks(ctx, later); n != 1 {
		t.Fatalf("replay all: %d", n)
	}
	if c, _ := s.WebhookCounts(ctx); c.Queued != 2 || c.Dead != 0 {
		t.Fatalf("counts after replay %+v", c)
	}
}

func testWebhookFinishedIsNotResurrected(t *testing.T, s DLRStore) {
	ctx := context.Background()
	now := time.Now()
	_, err := s.EnqueueWebhooks(ctx, job("f", now))
	must(t, err)
	got, _ := s.ClaimWebhooks(ctx, now, time.Minute, 1)
	must(t, s.AckWebhook(ctx, "f", time.Hour))
	must(t, s.RetryWebhook(ctx, got[0], now))
	must(t, s.DeadWebhook(ctx, got[0]))
	if c, _ := s.WebhookCounts(ctx); c.Queued != 0 || c.Dead != 0 {
		t.Fatalf("finished job came back: %+v", c)
	}
}

func testWebhookConcurrentClaims(t *testing.T, s DLRStore) {
	ctx := context.Background()
	now := time.Now()
	const n = 300
	var jobs []*store.WebhookJob
	for i := range n {
		jobs = append(jobs, job(fmt.Sprint("c", i), now))
	}
	_, err := s.EnqueueWebhooks(ctx, jobs...)
	must(t, err)
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				got, err := s.ClaimWebhooks(ctx, now, time.Minute, 7)
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, j := range got {
					seen[j.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("claimed %d distinct, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Fatalf("%s claimed %d times within its lease", id, c)
		}
	}
}
