package redisstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/redisstore"
)

// TestSearchCost measures what message search costs Redis per accepted message: the
// commands Accept's group commit sends with the search index on and off (the timeline is
// kept either way), and the memory of a record's index entries and timeline (MEMORY USAGE).
// docs/operations.md quotes its output; it fails if the index costs more commands than
// documented.
func TestSearchCost(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	const n = 640
	perMsg := map[bool]float64{}
	for _, off := range []bool{true, false} {
		prefix := uniquePrefix()
		deleteKeys(t, c, prefix)
		s, err := redisstore.New(c, redisstore.Options{Prefix: prefix, NoSearchIndex: off})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		now := time.Now()
		before := s.CommitStats()
		for i := range n {
			id := fmt.Sprintf("cost-%06d", i)
			to := fmt.Sprintf("9198%04d5678", i) // every number its own index key, one suffix bucket
			r := &store.Record{ID: id, Account: "acme", Carrier: "jio", From: "ACMEIN", To: to, Status: store.StatusAccepted, AcceptedAt: now}
			m := &store.Message{ID: id, Account: "acme", Carrier: "jio", Priority: store.PriorityOTP, From: "ACMEIN", To: to,
				Text: "Your OTP is 123456", AcceptedAt: now, Meta: map[string]string{"webhook": "https://example.com/hook"}}
			r.Meta = m.Meta
			if err := s.Accept(ctx, []*store.Record{r}, 0, m); err != nil {
				t.Fatal(err)
			}
		}
		st := s.CommitStats()
		cmds := float64(st.Commands-before.Commands) / n
		perMsg[off] = cmds
		t.Logf("search index off=%v: Accept sends %.2f commands per message ", off, cmds)
		if off {
			continue
		}
		id := "cost-000001"
		// A full life's timeline: accepted and queued (Accept), then submitted, receipt, final
		// and webhook.
		rec, err := s.GetRecord(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		rec.Rev = 1
		at := time.Now()
		res, err := s.SwapRecords(ctx, store.RecordChange{Record: rec, Events: []store.Event{
			{At: at, Kind: store.EventSubmitted, Carrier: "jio", Bind: "jio-tx-0-0", CarrierID: "1a2b3c4d5e6f", Status: store.StatusSubmitted},
			{At: at, Kind: store.EventReceipt, Carrier: "jio", CarrierID: "1a2b3c4d5e6f", Status: store.StatusDelivered, Stat: "DELIVRD", Err: "000"},
			{At: at, Kind: store.EventFinal, Status: store.StatusDelivered},
			{At: at, Kind: store.EventWebhook, URL: "https://example.com/hook", HTTPStatus: 200, Attempt: 1},
		}})
		if err != nil || !res[0].Stored {
			t.Fatalf("swap: %v %+v", err, res)
		}
		usage := func(key string) int64 {
			v, err := c.MemoryUsage(ctx, key).Result()
			if err != nil {
				t.Fatalf("MEMORY USAGE %s: %v", key, err)
			}
			return v
		}
		recB := usage(s.RecordKey(id))
		evB := usage(s.TimelineKey(id))
		toB := usage(s.NumberIndexKey("919800015678"))
		sfxB := float64(usage(s.SuffixIndexKey("5678"))) / n
		t.Logf("bytes per message: record %d, timeline of 6 events %d, number index key (one message) %d, suffix index %.0f (of %d members)", recB, evB, toB, sfxB, n)
	}
	if d := perMsg[false] - perMsg[true]; d < 4 || d > 4.5 {
		t.Fatalf("the search index costs %.2f commands per message; documented: 4, and 2 in 32 messages trim", d)
	}
}
