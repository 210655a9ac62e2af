package redisstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/storetest"
)

// Every job of a large claim gets the claim's lease, not only the first: the claim script
// sets the idle time of all the entries it hands out (a regression: Lua's unpack in the
// middle of an argument list passed one id).
func TestWebhookClaimLeasesEveryJob(t *testing.T) {
	s := storetest.OpenRedis(t, storetest.UniquePrefix(t))
	ctx := context.Background()
	const n = 150
	var jobs []*store.WebhookJob
	for i := 0; i < n; i++ {
		jobs = append(jobs, &store.WebhookJob{ID: fmt.Sprint(i), URL: "http://example.com/hook", Body: "b"})
	}
	if _, err := s.EnqueueWebhooks(ctx, jobs...); err != nil {
		t.Fatal(err)
	}
	const lease = 300 * time.Millisecond
	first, err := s.ClaimWebhooks(ctx, time.Now(), lease, n)
	if err != nil || len(first) != n {
		t.Fatalf("first claim: %d jobs, %v", len(first), err)
	}
	claimed := time.Now()
	var again []*store.WebhookJob
	deadline := time.Now().Add(10 * time.Second)
	for len(again) < n && time.Now().Before(deadline) {
		got, err := s.ClaimWebhooks(ctx, time.Now(), lease, n)
		if err != nil {
			t.Fatal(err)
		}
		again = append(again, got...)
		time.Sleep(20 * time.Millisecond) // polling interval
	}
	if len(again) != n {
		t.Fatalf("%d of %d jobs claimable again after their lease", len(again), n)
	}
	if d := time.Since(claimed); d < lease-50*time.Millisecond {
		t.Fatalf("jobs claimed again after %v, lease %v", d, lease)
	}
}

// The webhook queue recovers when its streams (and groups) vanish under it, e.g. after an
// operator's clean-up: the next claims recreate them.
func TestWebhookStreamsDeleted(t *testing.T) {
	s := storetest.OpenRedis(t, storetest.UniquePrefix(t))
	ctx := context.Background()
	job := func(id string) *store.WebhookJob {
		return &store.WebhookJob{ID: id, MessageID: "m" + id, URL: "http://example.com/hook", Body: "b"}
	}
	if _, err := s.EnqueueWebhooks(ctx, job("1")); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ClaimWebhooks(ctx, time.Now(), time.Minute, 10); err != nil || len(got) != 1 {
		t.Fatalf("first claim: %d, %v", len(got), err)
	}
	if err := s.Client().Del(ctx, s.WebhookStreams()...).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.EnqueueWebhooks(ctx, job("2")); err != nil {
		t.Fatal(err)
	}
	var got []*store.WebhookJob
	for try := 0; try < 3 && len(got) == 0; try++ {
		got, _ = s.ClaimWebhooks(ctx, time.Now(), time.Minute, 10)
	}
	if len(got) != 1 || got[0].ID != "2" {
		t.Fatalf("claim after the streams were deleted: %v", got)
	}
}
