package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/storetest"
)

// TestEveryKeyHasTTLOrOwner drives every part of the store (messages from accept to
// settlement, scheduling, receipts, webhooks through retry and death, unmatched receipts,
// OTP sessions, credits, short links and their clicks, liveness, bind leases, the DLT registry, a quarantined entry) and
// then checks each key under the prefix: it has a TTL, or the package names its owner.
func TestEveryKeyHasTTLOrOwner(t *testing.T) {
	prefix := storetest.UniquePrefix(t)
	s := storetest.OpenRedis(t, prefix)
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()

	must(s.Join(ctx, store.NewMember("alpha"), time.Minute))
	_, _, err := s.AcquireBind(ctx, "jio-trx-0.0", "alpha~1", time.Minute)
	must(err)

	msg := func(id string, sendAt time.Time) *store.Message {
		return &store.Message{ID: id, Account: "acct", Carrier: "jio", Priority: store.PriorityTransactional,
			From: "ACMEIN", To: "919812345678", Text: "hello", AcceptedAt: now, SendAt: sendAt}
	}
	rec := func(id string) *store.Record {
		return &store.Record{ID: id, Account: "acct", From: "ACMEIN", To: "919812345678", Status: store.StatusAccepted, AcceptedAt: now}
	}
	must(s.Accept(ctx, []*store.Record{rec("m1"), rec("m2")}, 0, msg("m1", time.Time{}), msg("m2", now.Add(time.Hour))))
	claims, err := s.Claim(ctx, "jio", "alpha~1", 1, 0)
	must(err)
	if len(claims) != 1 {
		t.Fatalf("claimed %d", len(claims))
	}
	sent := rec("m1")
	sent.Status, sent.CarrierIDs = store.StatusSubmitted, []string{"C1"}
	must(s.Settle(ctx, store.Settlement{Carrier: "jio", Claim: claims[0], Record: sent,
		Index:   []store.IndexEntry{{IndexKey: store.IndexKey{Carrier: "jio", ID: "C1"}, MsgID: "m1", Part: 1}},
		Webhook: &store.WebhookJob{ID: "w1", URL: "http://example.com/h", Body: "{}"}}))
	// A queue entry that is no message is quarantined.
	must(s.Client().XAdd(ctx, &redis.XAddArgs{Stream: s.StreamKey("jio", store.PriorityOTP), Values: []any{"m", "not json"}}).Err())

	must(s.AppendReceipts(ctx, &store.LoggedPDU{Carrier: "jio", Body: []byte("pdu"), At: now}))
	_, err = s.ReadReceiptLog(ctx, "alpha~1", 10, 0)
	must(err)
	must(s.Unmatch(ctx, &store.Receipt{ID: "r1", Carrier: "jio", Key: "C9", ReceivedAt: now}, time.Hour))

	_, err = s.EnqueueWebhooks(ctx, &store.WebhookJob{ID: "w2", URL: "http://example.com/h", Body: "{}"},
		&store.WebhookJob{ID: "w3", URL: "http://example.com/h", Body: "{}"})
	must(err)
	jobs, err := s.ClaimWebhooks(ctx, now, time.Minute, 10)
	must(err)
	if len(jobs) < 2 {
		t.Fatalf("claimed %d webhook jobs", len(jobs))
	}
	must(s.RetryWebhook(ctx, jobs[0], now.Add(time.Hour)))
	must(s.DeadWebhook(ctx, jobs[1]))

	must(s.CreateOTP(ctx, &store.OTPSession{ID: "o1", Account: "acct", Phone: "919812345678", Hash: "h",
		CreatedAt: now, ExpiresAt: now.Add(time.Minute)}, time.Hour, 5, time.Hour))
	must(s.SetCredits(ctx, "acct", store.CreditsTransactional, 100))
	_, err = s.SaveRegistry(ctx, []byte("entities: []"))
	must(err)
	lk := &store.Link{Code: "Kkkkkkkkkk01", URL: "https://example.com/", Phone: "919812345678", Account: "acct", Campaign: "c"}
	must(s.PutLinks(ctx, []*store.Link{lk}, time.Hour))
	_, err = s.RecordClicks(ctx, &store.Click{Link: lk, At: now}, &store.Click{Link: lk, At: now, Preview: true})
	must(err)
	_, err = s.Claim(ctx, "jio", "alpha~1", 10, 0) // reads (and quarantines) the bad entry
	must(err)

	keys, err := s.Client().Keys(ctx, prefix+":*").Result()
	must(err)
	if len(keys) < 15 {
		t.Fatalf("only %d keys: the workload did not reach every part of the store: %q", len(keys), keys)
	}
	for _, k := range keys {
		ttl, err := s.Client().PTTL(ctx, k).Result()
		must(err)
		if ttl > 0 {
			continue
		}
		if _, ok := s.OwnedKey(k); !ok {
			t.Errorf("key %s has no TTL and no owner in ownedKeys", k)
		}
	}
}
