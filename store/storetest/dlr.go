package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/smppd/smppd/internal/wait"
	"github.com/smppd/smppd/store"
)

// DLRStore is what package dlr needs of a store beyond store.Records.
type DLRStore interface {
	store.Receipts
	store.ReceiptLog
	store.Webhooks
}

// RunDLR runs the conformance tests of store.Receipts, store.ReceiptLog and store.Webhooks
// against stores made by newStore (same contract as Run's).
func RunDLR(t *testing.T, newStore func(t *testing.T) DLRStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s DLRStore)
	}{
		{"Unmatch", testUnmatch},
		{"ReceiptLogAppendRead", testReceiptLogAppendRead},
		{"ReceiptLogAck", testReceiptLogAck},
		{"ReceiptLogWait", testReceiptLogWait},
		{"ReceiptLogContextCancel", testReceiptLogContextCancel},
		{"ReceiptLogReclaim", testReceiptLogReclaim},
		{"ReceiptLogConcurrent", testReceiptLogConcurrent},
		{"WebhookEnqueueClaimAck", testWebhookEnqueueClaimAck},
		{"WebhookNoDedup", testWebhookNoDedup},
		{"WebhookLeaseToken", testWebhookLeaseToken},
		{"WebhookLeaseNotShortened", testWebhookLeaseNotShortened},
		{"WebhookRetryAndDue", testWebhookRetryAndDue},
		{"WebhookDeadAndReplay", testWebhookDeadAndReplay},
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

func testUnmatch(t *testing.T, s DLRStore) {
	ctx := ctxT(t)
	now := time.Now().Truncate(time.Millisecond)
	r := rcpt("u1", "jio", "77", now)
	r.Note = "no message"
	must(t, s.Unmatch(ctx, r, time.Hour))
	r.Note = "changed by the caller" // the store has its own copy
	must(t, s.Unmatch(ctx, rcpt("u2", "jio", "78", now), time.Hour))
	must(t, s.Unmatch(ctx, rcpt("u2", "jio", "78", now), time.Hour)) // same id: replaced
	must(t, s.Unmatch(ctx, rcpt("gone", "jio", "79", now), 50*time.Millisecond))
	var list []*store.Receipt
	wait.For(t, 10*time.Second, "short-lived unmatched receipt expires", func() bool {
		var err error
		list, err = s.Unmatched(ctx, 10)
		must(t, err)
		return len(list) == 2
	})
	if list[0].ID != "u2" || list[1].ID != "u1" || list[1].Note != "no message" || list[1].Text != "id:77 stat:DELIVRD" {
		t.Fatalf("unmatched (newest first): %+v", list)
	}
	if !list[1].ReceivedAt.Equal(now) {
		t.Fatalf("ReceivedAt %v, want %v", list[1].ReceivedAt, now)
	}
	if one, _ := s.Unmatched(ctx, 1); len(one) != 1 || one[0].ID != "u2" {
		t.Fatalf("Unmatched(1): %+v", one)
	}
	c, err := s.ReceiptCounts(ctx)
	must(t, err)
	if c.Unmatched != 2 || c.Parked != 0 {
		t.Fatalf("counts %+v, want 2 unmatched and an empty log", c)
	}
	if err := s.Unmatch(ctx, &store.Receipt{Carrier: "jio", Key: "x"}, time.Hour); err == nil {
		t.Fatal("receipt without id accepted")
	}
	if err := s.Unmatch(ctx, &store.Receipt{ID: "x", Carrier: "a:b", Key: "x"}, time.Hour); err == nil {
		t.Fatal("bad carrier accepted")
	}
}

func job(id string, next time.Time) *store.WebhookJob {
	return &store.WebhookJob{ID: id, MessageID: "m-" + id, URL: "https://example.com/hook", ContentType: "application/json",
		Body: `{"SessionId":"` + id + `"}`, Kind: "json", CreatedAt: next, Since: next, NextAt: next}
}

func wantWebhookCounts(t *testing.T, s store.Webhooks, want store.WebhookCounts) {
	t.Helper()
	got, err := s.WebhookCounts(ctxT(t))
	if err != nil {
		t.Fatalf("WebhookCounts: %v", err)
	}
	if got != want {
		t.Fatalf("WebhookCounts = %+v, want %+v", got, want)
	}
}

func jobIDs(jobs []*store.WebhookJob) []string {
	out := make([]string, len(jobs))
	for i, j := range jobs {
		out[i] = j.ID
	}
	return out
}

func testWebhookEnqueueClaimAck(t *testing.T, s DLRStore) {
	ctx := ctxT(t)
	now := time.Now()
	n, err := s.EnqueueWebhooks(ctx, job("a", now.Add(-2*time.Second)), job("b", now.Add(-time.Second)), job("later", now.Add(time.Hour)))
	must(t, err)
	if n != 3 {
		t.Fatalf("stored %d, want 3", n)
	}
	if none, err := s.ClaimWebhooks(ctx, now, time.Minute, 0); err != nil || len(none) != 0 {
		t.Fatalf("ClaimWebhooks(n=0): %v, %v", jobIDs(none), err)
	}
	got, err := s.ClaimWebhooks(ctx, now, time.Minute, 10)
	must(t, err)
	if len(got) != 2 || got[0].ID != "a" || got[1].ID != "b" || got[0].Body != `{"SessionId":"a"}` || got[0].MessageID != "m-a" {
		t.Fatalf("claimed %+v, want a then b (earliest first)", got)
	}
	if got[0].Token == "" || got[1].Token == "" || got[0].Token == got[1].Token {
		t.Fatalf("tokens %q and %q: empty or equal", got[0].Token, got[1].Token)
	}
	if again, _ := s.ClaimWebhooks(ctx, now, time.Minute, 10); len(again) != 0 {
		t.Fatalf("leased jobs claimed again: %v", jobIDs(again))
	}
	must(t, s.AckWebhooks(ctx, got[0]))
	wantWebhookCounts(t, s, store.WebhookCounts{Queued: 2})
	must(t, s.AckWebhooks(ctx, got[0])) // twice: nothing more happens
	// Acks without the claim's token finish nothing.
	must(t, s.AckWebhooks(ctx, &store.WebhookJob{ID: "b"}, &store.WebhookJob{ID: "b", Token: "garbage"}))
	must(t, s.AckWebhooks(ctx))
	wantWebhookCounts(t, s, store.WebhookCounts{Queued: 2})
	must(t, s.AckWebhooks(ctx, got[1]))
	wantWebhookCounts(t, s, store.WebhookCounts{Queued: 1})
	later, err := s.ClaimWebhooks(ctx, now.Add(2*time.Hour), time.Minute, 10)
	must(t, err)
	if len(later) != 1 || later[0].ID != "later" || later[0].Token == "" {
		t.Fatalf("claimed %+v, want the later job", later)
	}
	must(t, s.AckWebhooks(ctx, later...))
	wantWebhookCounts(t, s, store.WebhookCounts{})
	if _, err := s.EnqueueWebhooks(ctx, &store.WebhookJob{ID: "x"}); err == nil {
		t.Fatal("job without url accepted")
	}
	if _, err := s.EnqueueWebhooks(ctx, &store.WebhookJob{URL: "https://example.com/hook"}); err == nil {
		t.Fatal("job without id accepted")
	}
}

func testWebhookNoDedup(t *testing.T, s DLRStore) {
	ctx := ctxT(t)
	now := time.Now()
	n, err := s.EnqueueWebhooks(ctx, job("d", now), job("d", now))
	must(t, err)
	if n != 2 {
		t.Fatalf("same id twice in one call: stored %d, want 2", n)
	}
	if n, err := s.EnqueueWebhooks(ctx, job("d", now)); err != nil || n != 1 {
		t.Fatalf("queued id enqueued again: stored %d, %v; want 1", n, err)
	}
	wantWebhookCounts(t, s, store.WebhookCounts{Queued: 3})
	got, err := s.ClaimWebhooks(ctx, now, time.Minute, 10)
	must(t, err)
	if len(got) != 3 {
		t.Fatalf("claimed %d, want 3", len(got))
	}
	tokens := map[string]bool{}
	for _, j := range got {
		if j.ID != "d" || j.Token == "" || tokens[j.Token] {
			t.Fatalf("claimed %+v: want id d with its own token", j)
		}
		tokens[j.Token] = true
	}
	must(t, s.AckWebhooks(ctx, got[1]))
	wantWebhookCounts(t, s, store.WebhookCounts{Queued: 2})
	must(t, s.AckWebhooks(ctx, got[0], got[2]))
	wantWebhookCounts(t, s, store.WebhookCounts{})
	// Nothing remembers delivered ids.
	if n, err := s.EnqueueWebhooks(ctx, job("d", now)); err != nil || n != 1 {
		t.Fatalf("delivered id enqueued again: stored %d, %v; want 1", n, err)
	}
	wantWebhookCounts(t, s, store.WebhookCounts{Queued: 1})
}

// testWebhookLeaseToken: a lease that runs out makes the job claimable again, under a new
// token; the first claim's late Retry and Dead then change nothing. Leases run in real
// time (Redis measures idle time by its own clock), so the test passes time.Now(), polls, and
// gives every claim the same lease (as senders do).
func testWebhookLeaseToken(t *testing.T, s DLRStore) {
	ctx := ctxT(t)
	const lease = 500 * time.Millisecond
	_, err := s.EnqueueWebhooks(ctx, job("l", time.Now()))
	must(t, err)
	claimed := time.Now()
	first, err := s.ClaimWebhooks(ctx, time.Now(), lease, 1)
	must(t, err)
	if len(first) != 1 {
		t.Fatal("not claimed")
	}
	second, err := s.ClaimWebhooks(ctx, time.Now(), lease, 1)
	must(t, err)
	if len(second) != 0 && time.Since(claimed) < lease*2/3 {
		t.Fatal("claimed again during its lease")
	}
	if len(second) == 0 {
		wait.For(t, 10*time.Second, "job claimable again after its lease ran out", func() bool {
			second, err = s.ClaimWebhooks(ctx, time.Now(), lease, 1)
			must(t, err)
			return len(second) > 0
		})
	}
	if d := time.Since(claimed); d < lease-50*time.Millisecond {
		t.Fatalf("claimed again %v after a claim with a %v lease", d, lease)
	}
	if len(second) != 1 || second[0].ID != "l" || second[0].Body != first[0].Body {
		t.Fatalf("second claim: %+v", second)
	}
	if second[0].Token == "" || second[0].Token == first[0].Token {
		t.Fatalf("second claim's token %q, first's %q: want a new one", second[0].Token, first[0].Token)
	}

	// The first sender gives up late: its Retry and Dead change nothing. (No claim runs until
	// the second sender's Retry below, so the second claim is still held whatever the time.)
	stale := first[0]
	stale.Attempts, stale.LastError = 1, "stale"
	must(t, s.RetryWebhook(ctx, stale, time.Now()))
	must(t, s.DeadWebhook(ctx, stale))
	wantWebhookCounts(t, s, store.WebhookCounts{Queued: 1})

	// The second claim still holds: its Retry is what is stored.
	j := second[0]
	j.Attempts, j.LastError = 2, "HTTP 503"
	at := time.Now().Add(5 * time.Minute)
	must(t, s.RetryWebhook(ctx, j, at))
	wantWebhookCounts(t, s, store.WebhookCounts{Queued: 1})
	third, err := s.ClaimWebhooks(ctx, at, lease, 10)
	must(t, err)
	if len(third) != 1 || third[0].Attempts != 2 || third[0].LastError != "HTTP 503" {
		t.Fatalf("after the holder's Retry: %+v, want the holder's copy (Attempts 2, HTTP 503)", third)
	}
	if third[0].Token == "" || third[0].Token == second[0].Token {
		t.Fatalf("claim after Retry has token %q, the retried claim had %q: want a new one", third[0].Token, second[0].Token)
	}
	must(t, s.AckWebhooks(ctx, second[0])) // its claim ended with its Retry
	wantWebhookCounts(t, s, store.WebhookCounts{Queued: 1})
	// A late Ack finishes the job: it was delivered (the other holder's attempt is a
	// duplicate the receiver drops by the job's ID).
	third[0].Attempts = 3
	must(t, s.RetryWebhook(ctx, third[0], time.Now()))
	var fourth []*store.WebhookJob
	wait.For(t, 10*time.Second, "the retried job claimable", func() bool {
		fourth, err = s.ClaimWebhooks(ctx, time.Now(), lease, 10)
		must(t, err)
		return len(fourth) == 1
	})
	var fifth []*store.WebhookJob
	wait.For(t, 10*time.Second, "the job claimable again after its lease", func() bool {
		fifth, err = s.ClaimWebhooks(ctx, time.Now(), time.Hour, 10)
		must(t, err)
		return len(fifth) == 1
	})
	must(t, s.AckWebhooks(ctx, fourth[0])) // late, but delivered
	wantWebhookCounts(t, s, store.WebhookCounts{})
	must(t, s.AckWebhooks(ctx, fifth[0])) // nothing left to do
	wantWebhookCounts(t, s, store.WebhookCounts{})
}

// testWebhookLeaseNotShortened: a job leased for an hour is not handed out to a claim that
// asks for a shorter lease ("none of them is handed out again before now+lease": the lease
// is the one the job was claimed with).
func testWebhookLeaseNotShortened(t *testing.T, s DLRStore) {
	ctx := ctxT(t)
	_, err := s.EnqueueWebhooks(ctx, job("long", time.Now()))
	must(t, err)
	got, err := s.ClaimWebhooks(ctx, time.Now(), time.Hour, 1)
	must(t, err)
	if len(got) != 1 {
		t.Fatal("not claimed")
	}
	for end := time.Now().Add(700 * time.Millisecond); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		again, err := s.ClaimWebhooks(ctx, time.Now(), 100*time.Millisecond, 10)
		must(t, err)
		if len(again) != 0 {
			t.Fatalf("job claimed with a 1h lease handed out again to a claim with a 100ms lease: %+v", again)
		}
	}
	must(t, s.AckWebhooks(ctx, got[0]))
	wantWebhookCounts(t, s, store.WebhookCounts{})
}

func testWebhookRetryAndDue(t *testing.T, s DLRStore) {
	ctx := ctxT(t)
	now := time.Now()
	_, err := s.EnqueueWebhooks(ctx, job("r", now))
	must(t, err)
	got, err := s.ClaimWebhooks(ctx, now, time.Minute, 1)
	must(t, err)
	if len(got) != 1 {
		t.Fatal("not claimed")
	}
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
	if late[0].Token == "" || late[0].Token == j.Token {
		t.Fatalf("claim after retry has token %q, the first had %q: want a new one", late[0].Token, j.Token)
	}
	wantWebhookCounts(t, s, store.WebhookCounts{Queued: 1})
	must(t, s.AckWebhooks(ctx, late[0]))
	wantWebhookCounts(t, s, store.WebhookCounts{})
}

func testWebhookDeadAndReplay(t *testing.T, s DLRStore) {
	ctx := ctxT(t)
	now := time.Now().Truncate(time.Millisecond)
	_, err := s.EnqueueWebhooks(ctx, job("x", now), job("y", now))
	must(t, err)
	got, err := s.ClaimWebhooks(ctx, now, time.Minute, 2)
	must(t, err)
	if len(got) != 2 {
		t.Fatalf("claimed %d", len(got))
	}
	for i, j := range got {
		j.Attempts, j.LastError = 9, "gave up"
		j.DeadAt = now.Add(time.Duration(i) * time.Second)
		must(t, s.DeadWebhook(ctx, j))
	}
	dead, err := s.DeadWebhooks(ctx, 10)
	must(t, err)
	if len(dead) != 2 || dead[0].ID != "x" || dead[1].ID != "y" || dead[0].LastError != "gave up" || !dead[0].DeadAt.Equal(now) {
		t.Fatalf("dead (oldest first): %+v", dead)
	}
	if dead[0].Token != "" {
		t.Fatalf("dead letter has token %q: tokens are not stored", dead[0].Token)
	}
	if one, _ := s.DeadWebhooks(ctx, 1); len(one) != 1 || one[0].ID != "x" {
		t.Fatalf("DeadWebhooks(1): %+v", one)
	}
	wantWebhookCounts(t, s, store.WebhookCounts{Dead: 2})
	// The dead claims' tokens finish nothing any more.
	must(t, s.AckWebhooks(ctx, got...))
	must(t, s.RetryWebhook(ctx, got[0], now))
	wantWebhookCounts(t, s, store.WebhookCounts{Dead: 2})

	later := now.Add(time.Hour)
	n, err := s.ReplayWebhooks(ctx, later, "x", "nope")
	must(t, err)
	if n != 1 {
		t.Fatalf("replayed %d, want 1", n)
	}
	wantWebhookCounts(t, s, store.WebhookCounts{Queued: 1, Dead: 1})
	back, err := s.ClaimWebhooks(ctx, later, time.Minute, 10)
	must(t, err)
	if len(back) != 1 || back[0].ID != "x" || !back[0].Since.Equal(later) || !back[0].DeadAt.IsZero() || back[0].Attempts != 9 || back[0].Token == "" {
		t.Fatalf("replayed job: %+v", back)
	}
	if n, _ := s.ReplayWebhooks(ctx, later); n != 1 {
		t.Fatalf("replay all: %d, want 1", n)
	}
	wantWebhookCounts(t, s, store.WebhookCounts{Queued: 2})
	must(t, s.AckWebhooks(ctx, back...))
	wantWebhookCounts(t, s, store.WebhookCounts{Queued: 1})
}

func testWebhookConcurrentClaims(t *testing.T, s DLRStore) {
	ctx := ctxT(t)
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
				if err := s.AckWebhooks(ctx, got...); err != nil {
					t.Error(err)
					return
				}
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
	wantWebhookCounts(t, s, store.WebhookCounts{})
}
