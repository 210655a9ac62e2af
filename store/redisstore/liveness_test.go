package redisstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/storetest"
)

// A restarted instance's new incarnation makes its previous one dead at once: the webhook
// jobs the old one leased (for long) and the receipt-log entries it read go to another
// instance at its next claim, without waiting for the lease or any idle time; the dead
// consumers are removed from the groups once they hold nothing.
func TestDeadMemberWebhooksAndReceiptsTakenOver(t *testing.T) {
	prefix := storetest.UniquePrefix(t)
	old, other := storetest.OpenRedis(t, prefix), storetest.OpenRedis(t, prefix)
	ctx := context.Background()
	alpha, beta := store.NewMember("alpha"), store.NewMember("beta")
	if err := old.Join(ctx, alpha, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := other.Join(ctx, beta, time.Minute); err != nil {
		t.Fatal(err)
	}

	const n = 5
	var jobs []*store.WebhookJob
	var pdus []*store.LoggedPDU
	for i := range n {
		jobs = append(jobs, &store.WebhookJob{ID: fmt.Sprint("job-", i), URL: "http://example.com/hook", Body: "b"})
		pdus = append(pdus, &store.LoggedPDU{Carrier: "jio", Body: []byte(fmt.Sprint("pdu-", i)), At: time.Now()})
	}
	if _, err := old.EnqueueWebhooks(ctx, jobs...); err != nil {
		t.Fatal(err)
	}
	if err := old.AppendReceipts(ctx, pdus...); err != nil {
		t.Fatal(err)
	}
	leased, err := old.ClaimWebhooks(ctx, time.Now(), time.Hour, n)
	if err != nil || len(leased) != n {
		t.Fatalf("old incarnation leased %d jobs: %v", len(leased), err)
	}
	read, err := old.ReadReceiptLog(ctx, alpha.Consumer(), n, 0)
	if err != nil || len(read) != n {
		t.Fatalf("old incarnation read %d receipts: %v", len(read), err)
	}

	// While alpha lives, nothing moves.
	if got, err := other.ClaimWebhooks(ctx, time.Now(), time.Minute, n); err != nil || len(got) != 0 {
		t.Fatalf("jobs of a live member taken: %d, %v", len(got), err)
	}
	if got, err := other.ReclaimReceiptLog(ctx, beta.Consumer(), time.Hour, n); err != nil || len(got) != 0 {
		t.Fatalf("receipts of a live member taken: %d, %v", len(got), err)
	}

	// alpha restarts.
	restarted := storetest.OpenRedis(t, prefix)
	if err := restarted.Join(ctx, store.NewMember("alpha"), time.Minute); err != nil {
		t.Fatal(err)
	}
	var got []*store.WebhookJob
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < n && time.Now().Before(deadline) {
		more, err := other.ClaimWebhooks(ctx, time.Now(), time.Minute, n)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, more...)
		time.Sleep(50 * time.Millisecond) // the takeover round runs at most every 100ms–1s
	}
	if len(got) != n {
		t.Fatalf("%d of %d leased jobs taken over after the restart", len(got), n)
	}
	for _, j := range got {
		if j.Token == "" {
			t.Fatalf("job %s without token", j.ID)
		}
	}
	re, err := other.ReclaimReceiptLog(ctx, beta.Consumer(), time.Hour, n)
	if err != nil || len(re) != n {
		t.Fatalf("receipts taken over after the restart: %d, %v", len(re), err)
	}
	for _, p := range re {
		if p.Deliveries != 2 {
			t.Fatalf("taken-over receipt %s: deliveries %d, want 2", p.Body, p.Deliveries)
		}
	}
	// The dead consumer left the groups (of every webhook shard: one more takeover round
	// visits the shards that the first rounds, having found enough, did not).
	if _, err := other.ClaimWebhooks(ctx, time.Now().Add(2*time.Second), time.Minute, n); err != nil {
		t.Fatal(err)
	}
	groups := []struct{ stream, group string }{{prefix + ":rlog", "dlr"}}
	for _, k := range other.WebhookStreams() {
		groups = append(groups, struct{ stream, group string }{k, "webhooks"})
	}
	for _, k := range groups {
		if _, err := other.TakeOver(ctx, "jio", beta.Consumer(), 1); err != nil {
			t.Fatal(err)
		}
		cons, err := other.Client().XInfoConsumers(ctx, k.stream, k.group).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cons {
			if c.Name == alpha.Consumer() {
				t.Fatalf("%s: dead consumer %s still in group %s (pending %d)", k.stream, c.Name, k.group, c.Pending)
			}
		}
	}
}
