package redisstore_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/redisstore"
	"github.com/smppd/smppd/store/storetest"
)

// Keys written in the layout before hash tags are renamed by MigrateKeys and read through
// the store as before: records (keeping their TTL), queues with their consumer group,
// scheduled messages, webhook jobs queued, retrying and dead, OTP sessions, the DLT
// registry; a second run moves nothing.
func TestMigrateKeysFromTheLayoutBeforeHashTags(t *testing.T) {
	prefix := storetest.UniquePrefix(t)
	s := storetest.OpenRedis(t, prefix)
	c := s.Client()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	p := prefix + ":"
	now := time.Now().Truncate(time.Millisecond)
	js := func(v any) string { b, _ := json.Marshal(v); return string(b) }

	rec := &store.Record{ID: "m1", Account: "acct", From: "ACMEIN", To: "919812345678", Status: store.StatusSubmitted, AcceptedAt: now}
	must(c.Set(ctx, p+"rec:m1", js(rec), time.Hour).Err())
	msg := &store.Message{ID: "m2", Account: "acct", Carrier: "jio", Priority: store.PriorityTransactional,
		From: "ACMEIN", To: "919812345678", Text: "hello", AcceptedAt: now}
	must(c.XGroupCreateMkStream(ctx, p+"q:jio:1", "dispatch", "0").Err())
	must(c.XAdd(ctx, &redis.XAddArgs{Stream: p + "q:jio:1", Values: []any{"m", js(msg)}}).Err())
	later := *msg
	later.ID, later.SendAt = "m3", now.Add(time.Hour)
	must(c.ZAdd(ctx, p+"sched:jio", redis.Z{Score: float64(later.SendAt.UnixMilli()), Member: js(&later)}).Err())
	must(c.SAdd(ctx, p+"sched", "jio").Err())
	must(c.XAdd(ctx, &redis.XAddArgs{Stream: p + "wh:q", Values: []any{"j", js(&store.WebhookJob{ID: "w1", MessageID: "m1", URL: "http://example.com/h", Body: "{}"})}}).Err())
	must(c.ZAdd(ctx, p+"wh:retry", redis.Z{Score: float64(now.UnixMilli()), Member: js(&store.WebhookJob{ID: "w2", URL: "http://example.com/h", Body: "{}"})}).Err())
	must(c.HSet(ctx, p+"wh:dead", "w3", js(&store.WebhookJob{ID: "w3", URL: "http://example.com/h", Body: "{}"})).Err())
	must(c.ZAdd(ctx, p+"wh:deadidx", redis.Z{Score: float64(now.UnixMilli()), Member: "w3"}).Err())
	must(c.HSet(ctx, p+"otp:s:acct:o1", "account", "acct", "phone", "919812345678", "hash", "h", "attempts", 0, "max", 3,
		"created", now.UnixMilli(), "expires", now.Add(time.Minute).UnixMilli(), "used", 0).Err())
	must(c.Set(ctx, p+"dlt:registry", "entities: []", 0).Err())
	must(c.Set(ctx, p+"dlt:version", "7", 0).Err())

	r, err := s.MigrateKeys(ctx)
	must(err)
	if r.Renamed != 6 || r.Jobs != 3 || r.Skipped != 0 || r.Leftover != 0 {
		t.Fatalf("report %+v, want 6 renamed (record, queue, scheduled set, OTP session, registry ×2) and 3 jobs", r)
	}

	if got, err := s.GetRecord(ctx, "m1"); err != nil || got.Status != store.StatusSubmitted {
		t.Fatalf("record after migration: %+v, %v", got, err)
	}
	if ttl := c.PTTL(ctx, s.RecordKey("m1")).Val(); ttl <= 0 || ttl > time.Hour {
		t.Fatalf("record TTL after migration: %v", ttl)
	}
	claims, err := s.Claim(ctx, "jio", "alpha~1", 10, 0)
	if err != nil || len(claims) != 1 || claims[0].Message.ID != "m2" {
		t.Fatalf("claims after migration: %v, %v", claims, err)
	}
	if d, err := s.Depth(ctx, "jio"); err != nil || d.Scheduled != 1 || d.Pending != 1 {
		t.Fatalf("depth after migration: %+v, %v", d, err)
	}
	jobs, err := s.ClaimWebhooks(ctx, now.Add(time.Second), time.Minute, 10)
	if err != nil || len(jobs) != 2 {
		t.Fatalf("webhook jobs after migration: %d, %v (want the queued and the due retry)", len(jobs), err)
	}
	if dead, err := s.DeadWebhooks(ctx, 10); err != nil || len(dead) != 1 || dead[0].ID != "w3" {
		t.Fatalf("dead letters after migration: %v, %v", dead, err)
	}
	if o, err := s.GetOTP(ctx, "acct", "o1"); err != nil || o.Phone != "919812345678" {
		t.Fatalf("OTP session after migration: %+v, %v", o, err)
	}
	if doc, v, err := s.LoadRegistry(ctx); err != nil || v != 7 || string(doc) != "entities: []" {
		t.Fatalf("registry after migration: %q %d %v", doc, v, err)
	}
	if n := c.Exists(ctx, p+"rec:m1", p+"q:jio:1", p+"sched:jio", p+"wh:q", p+"wh:retry", p+"wh:dead", p+"otp:s:acct:o1", p+"dlt:registry").Val(); n != 0 {
		t.Fatalf("%d old keys left", n)
	}
	again, err := s.MigrateKeys(ctx)
	if err != nil || again != (redisstore.MigrationReport{}) {
		t.Fatalf("second run: %+v, %v", again, err)
	}
}
