package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smppd/smppd/internal/wait"
	"github.com/smppd/smppd/store"
)

// Tests of the batched record reads and writes (part of Run): GetRecords, LookupCarrierIDs,
// Settle and SwapRecords.

// copyRecord is a deep copy.
func copyRecord(r *store.Record) *store.Record {
	c := *r
	c.CarrierIDs = slices.Clone(r.CarrierIDs)
	if r.Meta != nil {
		c.Meta = make(map[string]string, len(r.Meta))
		for k, v := range r.Meta {
			c.Meta[k] = v
		}
	}
	return &c
}

// next is r changed by fn as a writer that read r stores it: Rev one more.
func next(r *store.Record, fn func(*store.Record)) *store.Record {
	c := copyRecord(r)
	fn(c)
	c.Rev = r.Rev + 1
	return c
}

func mustGetRecord(t *testing.T, s store.Store, id string) *store.Record {
	t.Helper()
	r, err := s.GetRecord(ctxT(t), id)
	if err != nil {
		t.Fatalf("GetRecord(%s): %v", id, err)
	}
	return r
}

// claimAllWebhooks claims every queued webhook (due within the next minute) and returns their
// IDs, sorted.
func claimAllWebhooks(t *testing.T, wh store.Webhooks) []string {
	t.Helper()
	jobs, err := wh.ClaimWebhooks(ctxT(t), time.Now().Add(time.Minute), time.Hour, 10000)
	if err != nil {
		t.Fatalf("ClaimWebhooks: %v", err)
	}
	out := jobIDs(jobs)
	slices.Sort(out)
	return out
}

func testLookupCarrierIDs(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	for _, e := range []store.IndexEntry{
		{IndexKey: store.IndexKey{Carrier: "jio", ID: "A"}, MsgID: "m1", Part: 1},
		{IndexKey: store.IndexKey{Carrier: "jio", ID: "B"}, MsgID: "m1", Part: 2},
		{IndexKey: store.IndexKey{Carrier: "airtel", ID: "A"}, MsgID: "m2", Part: 0},
	} {
		if err := s.IndexCarrierID(ctx, e.Carrier, e.ID, e.MsgID, e.Part, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	keys := []store.IndexKey{
		{Carrier: "jio", ID: "A"}, {Carrier: "jio", ID: "X"}, {Carrier: "airtel", ID: "A"},
		{Carrier: "vi", ID: "A"}, {Carrier: "jio", ID: "B"}, {Carrier: "jio", ID: "A"},
	}
	want := []struct {
		msgID string
		part  int
	}{{"m1", 1}, {"", 0}, {"m2", 0}, {"", 0}, {"m1", 2}, {"m1", 1}}
	got, err := s.LookupCarrierIDs(ctx, keys...)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(keys) {
		t.Fatalf("LookupCarrierIDs returned %d entries for %d keys", len(got), len(keys))
	}
	for i, g := range got {
		if g.MsgID != want[i].msgID || g.Part != want[i].part {
			t.Errorf("key %d %+v: got %+v, want message %q part %d", i, keys[i], g, want[i].msgID, want[i].part)
		}
		if g.MsgID != "" && g.IndexKey != keys[i] {
			t.Errorf("key %d %+v: found entry carries key %+v", i, keys[i], g.IndexKey)
		}
	}
	if none, err := s.LookupCarrierIDs(ctx); err != nil || len(none) != 0 {
		t.Fatalf("LookupCarrierIDs of nothing: %+v, %v", none, err)
	}
}

// acceptOne accepts a message with its record (Rev 0) and claims it.
func acceptOne(t *testing.T, s store.Store, carrier string) (*store.Record, store.Claim) {
	t.Helper()
	m := msg(carrier, store.PriorityTransactional)
	r := record(m.ID)
	r.Status, r.Carrier, r.CarrierIDs, r.Parts, r.SentAt = store.StatusAccepted, carrier, nil, 0, time.Time{}
	if err := s.Accept(ctxT(t), []*store.Record{r}, time.Hour, m); err != nil {
		t.Fatalf("Accept: %v", err)
	}
	claims := mustClaim(t, s, carrier, "c1", 1, 0)
	if len(claims) != 1 || claims[0].Message.ID != m.ID {
		t.Fatalf("claimed %v, want %s", ids(claims), m.ID)
	}
	return r, claims[0]
}

// sent is r as dispatch settles it: submitted, with its carrier ids.
func sent(r *store.Record, cids ...string) *store.Record {
	return next(r, func(c *store.Record) {
		c.Status, c.Parts, c.CarrierIDs = store.StatusSubmitted, len(cids), cids
		c.SentAt = time.Now().Truncate(time.Millisecond)
	})
}

func indexOf(carrier, msgID string, cids ...string) []store.IndexEntry {
	out := make([]store.IndexEntry, len(cids))
	for i, c := range cids {
		out[i] = store.IndexEntry{IndexKey: store.IndexKey{Carrier: carrier, ID: c}, MsgID: msgID, Part: i + 1}
	}
	return out
}

func testSettle(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	wh := store.Webhooks(s)
	r, claim := acceptOne(t, s, "jio")
	rec := sent(r, "C1-"+r.ID, "C2-"+r.ID)
	want := copyRecord(rec)
	j := job("settled-"+r.ID, time.Now())
	err := s.Settle(ctx, store.Settlement{Carrier: "jio", Claim: claim, Record: rec, Index: indexOf("jio", r.ID, rec.CarrierIDs...), Webhook: j})
	if err != nil {
		t.Fatal(err)
	}
	rec.CarrierIDs[0], rec.Meta["webhook"] = "changed", "changed" // the store has its own copy

	sameRecord(t, mustGetRecord(t, s, r.ID), want)
	for i, cid := range want.CarrierIDs {
		id, part, err := s.LookupCarrierID(ctx, "jio", cid)
		if err != nil || id != r.ID || part != i+1 {
			t.Fatalf("LookupCarrierID(jio, %s) = %q, %d, %v; want %q, %d", cid, id, part, err, r.ID, i+1)
		}
	}
	got, err := s.LookupCarrierIDs(ctx, store.IndexKey{Carrier: "jio", ID: want.CarrierIDs[1]}, store.IndexKey{Carrier: "airtel", ID: want.CarrierIDs[0]})
	if err != nil || len(got) != 2 || got[0].MsgID != r.ID || got[0].Part != 2 || got[1].MsgID != "" {
		t.Fatalf("LookupCarrierIDs = %+v, %v", got, err)
	}

	// The claim is acked: the message is never handed out again.
	wantDepth(t, s, "jio", store.Depth{})
	if again := mustClaim(t, s, "jio", "c2", 10, 0); len(again) != 0 {
		t.Fatalf("settled message claimed again: %v", ids(again))
	}
	if re, err := s.Reclaim(ctx, "jio", "c2", 0, 10); err != nil || len(re) != 0 {
		t.Fatalf("settled message reclaimable: %v, %v", ids(re), err)
	}

	// The webhook is queued, due at its NextAt.
	wantWebhookCounts(t, wh, store.WebhookCounts{Queued: 1})
	jobs, err := wh.ClaimWebhooks(ctx, time.Now().Add(time.Second), time.Minute, 10)
	if err != nil || len(jobs) != 1 || jobs[0].ID != j.ID || jobs[0].Body != j.Body || jobs[0].URL != j.URL {
		t.Fatalf("webhooks after Settle: %+v, %v", jobs, err)
	}

	// Settling nothing is fine.
	if err := s.Settle(ctx); err != nil {
		t.Fatalf("Settle of nothing: %v", err)
	}
}

// testSettleRecordGone: a record that expired (or was never stored) is not written back, and
// the claim is acked all the same.
func testSettleRecordGone(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	m := msg("jio", store.PriorityOTP)
	mustEnqueue(t, s, m)
	claims := mustClaim(t, s, "jio", "c1", 1, 0)
	if len(claims) != 1 {
		t.Fatalf("claimed %d", len(claims))
	}
	rec := record(m.ID)
	rec.Rev = 1
	if err := s.Settle(ctx, store.Settlement{Carrier: "jio", Claim: claims[0], Record: rec, Index: indexOf("jio", m.ID, "G1")}); err != nil {
		t.Fatal(err)
	}
	if r, err := s.GetRecord(ctx, m.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Settle wrote a record that was gone: %+v, %v", r, err)
	}
	wantDepth(t, s, "jio", store.Depth{})
	if again := mustClaim(t, s, "jio", "c2", 10, 0); len(again) != 0 {
		t.Fatalf("settled message claimed again: %v", ids(again))
	}
}

// testSettleBatch: many settlements, of two carriers, in one call.
func testSettleBatch(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	wh := store.Webhooks(s)
	const n = 20
	var msgs []*store.Message
	var recs []*store.Record
	for i := range n {
		m := msg([]string{"jio", "airtel"}[i%2], store.Priority(i%3))
		r := record(m.ID)
		r.Status, r.CarrierIDs, r.Parts = store.StatusAccepted, nil, 0
		msgs, recs = append(msgs, m), append(recs, r)
	}
	if err := s.Accept(ctx, recs, time.Hour, msgs...); err != nil {
		t.Fatal(err)
	}
	claims := append(mustClaim(t, s, "jio", "c1", n, 0), mustClaim(t, s, "airtel", "c1", n, 0)...)
	if len(claims) != n {
		t.Fatalf("claimed %d, want %d", len(claims), n)
	}
	byID := map[string]*store.Record{}
	for _, r := range recs {
		byID[r.ID] = r
	}
	var ss []store.Settlement
	var keys []store.IndexKey
	var wantJobs []string
	for i, c := range claims {
		carrier := c.Message.Carrier
		rec := sent(byID[c.Message.ID], "B-"+c.Message.ID)
		st := store.Settlement{Carrier: carrier, Claim: c, Record: rec, Index: indexOf(carrier, rec.ID, rec.CarrierIDs...)}
		if i%2 == 0 {
			st.Webhook = job("batch-"+rec.ID, time.Now())
			wantJobs = append(wantJobs, st.Webhook.ID)
		}
		ss = append(ss, st)
		keys = append(keys, st.Index[0].IndexKey)
	}
	if err := s.Settle(ctx, ss...); err != nil {
		t.Fatal(err)
	}
	wantDepth(t, s, "jio", store.Depth{})
	wantDepth(t, s, "airtel", store.Depth{})
	for _, st := range ss {
		sameRecord(t, mustGetRecord(t, s, st.Record.ID), st.Record)
	}
	got, err := s.LookupCarrierIDs(ctx, keys...)
	if err != nil || len(got) != n {
		t.Fatalf("LookupCarrierIDs: %d entries, %v", len(got), err)
	}
	for i, g := range got {
		if g.MsgID != ss[i].Record.ID || g.Part != 1 {
			t.Fatalf("index entry %d %+v: got %+v, want %s part 1", i, keys[i], g, ss[i].Record.ID)
		}
	}
	slices.Sort(wantJobs)
	if jobs := claimAllWebhooks(t, wh); !slices.Equal(jobs, wantJobs) {
		t.Fatalf("webhooks %v, want %v", jobs, wantJobs)
	}
}

// testSettleConcurrent: consumers settling what they claim, concurrently.
func testSettleConcurrent(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	wh := store.Webhooks(s)
	const total, workers = 200, 8
	recs := map[string]*store.Record{}
	for i := 0; i < total; i += 25 {
		var msgs []*store.Message
		var rs []*store.Record
		for range 25 {
			m := msg("jio", store.PriorityTransactional)
			r := record(m.ID)
			r.Status, r.CarrierIDs, r.Parts = store.StatusAccepted, nil, 0
			msgs, rs = append(msgs, m), append(rs, r)
			recs[m.ID] = r
		}
		if err := s.Accept(ctx, rs, time.Hour, msgs...); err != nil {
			t.Fatal(err)
		}
	}
	var settled atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprint("w", w)
			for settled.Load() < total {
				claims, err := s.Claim(ctx, "jio", name, 1+w%3, 50*time.Millisecond)
				if err != nil {
					errc <- err
					return
				}
				var ss []store.Settlement
				for _, c := range claims {
					rec := sent(recs[c.Message.ID], "K-"+c.Message.ID)
					ss = append(ss, store.Settlement{Carrier: "jio", Claim: c, Record: rec,
						Index: indexOf("jio", rec.ID, rec.CarrierIDs...), Webhook: job("cc-"+rec.ID, time.Now())})
				}
				if err := s.Settle(ctx, ss...); err != nil {
					errc <- err
					return
				}
				settled.Add(int64(len(claims)))
			}
		}()
	}
	waitNoErr(t, &wg, errc)
	if settled.Load() != total {
		t.Fatalf("settled %d, want %d", settled.Load(), total)
	}
	wantDepth(t, s, "jio", store.Depth{})
	var keys []store.IndexKey
	var wantJobs []string
	for id := range recs {
		r := mustGetRecord(t, s, id)
		if r.Status != store.StatusSubmitted || r.Rev != 1 || len(r.CarrierIDs) != 1 {
			t.Fatalf("record %s after Settle: %+v", id, r)
		}
		keys = append(keys, store.IndexKey{Carrier: "jio", ID: "K-" + id})
		wantJobs = append(wantJobs, "cc-"+id)
	}
	got, err := s.LookupCarrierIDs(ctx, keys...)
	if err != nil {
		t.Fatal(err)
	}
	for i, g := range got {
		if g.MsgID == "" || "K-"+g.MsgID != keys[i].ID {
			t.Fatalf("index entry %+v: got %+v", keys[i], g)
		}
	}
	slices.Sort(wantJobs)
	if jobs := claimAllWebhooks(t, wh); !slices.Equal(jobs, wantJobs) {
		t.Fatalf("%d webhooks queued, want %d (one per settlement)", len(jobs), len(wantJobs))
	}
}

func testSwapRecords(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	wh := store.Webhooks(s)
	if err := s.PutRecord(ctx, record("r1"), time.Hour); err != nil {
		t.Fatal(err)
	}
	read := mustGetRecord(t, s, "r1")
	if read.Rev != 0 {
		t.Fatalf("new record has Rev %d, want 0", read.Rev)
	}

	// The first writer's change is stored, with its webhook.
	a := next(read, func(r *store.Record) {
		r.Status, r.StatusAt = store.StatusDelivered, time.Now().Truncate(time.Millisecond)
	})
	wantA := copyRecord(a)
	res, err := s.SwapRecords(ctx, store.RecordChange{Record: a, Webhook: job("swap-a", time.Now())})
	if err != nil || len(res) != 1 || !res[0].Stored || res[0].Err != nil {
		t.Fatalf("SwapRecords at the read revision: %+v, %v", res, err)
	}
	a.Meta["webhook"] = "changed" // the store has its own copy
	sameRecord(t, mustGetRecord(t, s, "r1"), wantA)
	wantWebhookCounts(t, wh, store.WebhookCounts{Queued: 1})

	// A second writer that read the same revision is refused, sees the first's change, and
	// its webhook is not queued.
	b := next(read, func(r *store.Record) { r.Status = store.StatusUndelivered })
	res, err = s.SwapRecords(ctx, store.RecordChange{Record: b, Webhook: job("swap-b", time.Now())})
	if err != nil || len(res) != 1 || res[0].Stored || res[0].Err != nil || res[0].Current == nil {
		t.Fatalf("SwapRecords at a stale revision: %+v, %v; want not stored, with Current", res, err)
	}
	sameRecord(t, res[0].Current, wantA)
	sameRecord(t, mustGetRecord(t, s, "r1"), wantA)
	wantWebhookCounts(t, wh, store.WebhookCounts{Queued: 1})

	// It applies its change again on top of Current, and that is stored.
	b2 := next(res[0].Current, func(r *store.Record) { r.Meta["note"] = "b" })
	res, err = s.SwapRecords(ctx, store.RecordChange{Record: b2, Webhook: job("swap-b2", time.Now())})
	if err != nil || len(res) != 1 || !res[0].Stored {
		t.Fatalf("SwapRecords on top of Current: %+v, %v", res, err)
	}
	got := mustGetRecord(t, s, "r1")
	if got.Rev != 2 || got.Status != store.StatusDelivered || got.Meta["note"] != "b" {
		t.Fatalf("after two changes: %+v", got)
	}

	// A revision from the future is refused too.
	c := next(got, func(r *store.Record) {})
	c.Rev = got.Rev + 2
	res, err = s.SwapRecords(ctx, store.RecordChange{Record: c})
	if err != nil || len(res) != 1 || res[0].Stored || res[0].Current == nil || res[0].Current.Rev != 2 {
		t.Fatalf("SwapRecords skipping a revision: %+v, %v", res, err)
	}

	// A record that is gone: ErrNotFound, nothing stored, no webhook.
	gone := record("nope")
	gone.Rev = 1
	res, err = s.SwapRecords(ctx, store.RecordChange{Record: gone, Webhook: job("swap-gone", time.Now())})
	if err != nil || len(res) != 1 || res[0].Stored || res[0].Current != nil || !errors.Is(res[0].Err, store.ErrNotFound) {
		t.Fatalf("SwapRecords of a missing record: %+v, %v; want ErrNotFound", res, err)
	}
	if _, err := s.GetRecord(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SwapRecords created a record: %v", err)
	}

	if jobs := claimAllWebhooks(t, wh); !slices.Equal(jobs, []string{"swap-a", "swap-b2"}) {
		t.Fatalf("webhooks %v, want those of the stored changes only", jobs)
	}
	if res, err := s.SwapRecords(ctx); err != nil || len(res) != 0 {
		t.Fatalf("SwapRecords of nothing: %+v, %v", res, err)
	}
}

// testSwapRecordsMoreWebhooks: a change's further jobs (RecordChange.MoreWebhooks) are
// queued with its Webhook in the same step, all or none, with or without a Webhook.
func testSwapRecordsMoreWebhooks(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	wh := store.Webhooks(s)
	if err := s.PutRecord(ctx, record("multi"), time.Hour); err != nil {
		t.Fatal(err)
	}
	read := mustGetRecord(t, s, "multi")
	mine := func(id string) *store.WebhookJob {
		j := job(id, time.Now())
		j.MessageID = "multi"
		return j
	}
	a := next(read, func(r *store.Record) { r.Meta["part"] = "1" })
	res, err := s.SwapRecords(ctx, store.RecordChange{Record: a, Webhook: mine("multi-0"), MoreWebhooks: []*store.WebhookJob{mine("multi-1"), mine("multi-2")}})
	if err != nil || len(res) != 1 || !res[0].Stored {
		t.Fatalf("SwapRecords with three jobs: %+v, %v", res, err)
	}
	wantWebhookCounts(t, wh, store.WebhookCounts{Queued: 3})

	// A stale change queues none of its jobs.
	stale := next(read, func(r *store.Record) { r.Meta["part"] = "stale" })
	res, err = s.SwapRecords(ctx, store.RecordChange{Record: stale, Webhook: mine("stale-0"), MoreWebhooks: []*store.WebhookJob{mine("stale-1")}})
	if err != nil || len(res) != 1 || res[0].Stored || res[0].Current == nil {
		t.Fatalf("stale SwapRecords: %+v, %v", res, err)
	}
	wantWebhookCounts(t, wh, store.WebhookCounts{Queued: 3})

	// Further jobs without a Webhook, in a batch with a change that has one job.
	if err := s.PutRecord(ctx, record("single"), time.Hour); err != nil {
		t.Fatal(err)
	}
	b := next(res[0].Current, func(r *store.Record) { r.Meta["part"] = "2" })
	one := next(mustGetRecord(t, s, "single"), func(r *store.Record) { r.Status = store.StatusDelivered })
	single := job("single-0", time.Now())
	single.MessageID = "single"
	res, err = s.SwapRecords(ctx, store.RecordChange{Record: b, MoreWebhooks: []*store.WebhookJob{mine("multi-3"), mine("multi-4")}},
		store.RecordChange{Record: one, Webhook: single})
	if err != nil || len(res) != 2 || !res[0].Stored || !res[1].Stored {
		t.Fatalf("SwapRecords with further jobs only: %+v, %v", res, err)
	}

	// A bad further job refuses the call: nothing changes.
	c := next(mustGetRecord(t, s, "multi"), func(r *store.Record) { r.Meta["part"] = "bad" })
	bad := mine("bad")
	bad.URL = ""
	if _, err := s.SwapRecords(ctx, store.RecordChange{Record: c, Webhook: mine("bad-0"), MoreWebhooks: []*store.WebhookJob{bad}}); err == nil {
		t.Fatal("SwapRecords took a job without url")
	}
	if got := mustGetRecord(t, s, "multi"); got.Rev != 2 || got.Meta["part"] != "2" {
		t.Fatalf("record after a refused call: %+v", got)
	}
	want := []string{"multi-0", "multi-1", "multi-2", "multi-3", "multi-4", "single-0"}
	if jobs := claimAllWebhooks(t, wh); !slices.Equal(jobs, want) {
		t.Fatalf("webhooks %v, want %v", jobs, want)
	}
}

// testSwapRecordsBatch: one call with changes of different records and outcomes; results
// come back in the order of the changes.
func testSwapRecordsBatch(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	wh := store.Webhooks(s)
	for _, id := range []string{"b1", "b2", "b3"} {
		if err := s.PutRecord(ctx, record(id), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	r2 := mustGetRecord(t, s, "b2")
	if _, err := s.UpdateRecord(ctx, "b2", func(r *store.Record) error { r.Reason = "moved on"; return nil }); err != nil {
		t.Fatal(err)
	}
	mark := func(r *store.Record) { r.Status = store.StatusDelivered }
	gone := record("gone")
	gone.Rev = 1
	changes := []store.RecordChange{
		{Record: next(mustGetRecord(t, s, "b1"), mark), Webhook: job("j1", time.Now())},
		{Record: next(r2, mark), Webhook: job("j2", time.Now())}, // stale: b2 is at Rev 1
		{Record: gone, Webhook: job("j-gone", time.Now())},
		{Record: next(mustGetRecord(t, s, "b3"), mark)}, // no webhook
	}
	res, err := s.SwapRecords(ctx, changes...)
	if err != nil || len(res) != len(changes) {
		t.Fatalf("SwapRecords: %d results, %v", len(res), err)
	}
	if !res[0].Stored || res[0].Err != nil {
		t.Errorf("b1: %+v, want stored", res[0])
	}
	if res[1].Stored || res[1].Err != nil || res[1].Current == nil || res[1].Current.Rev != 1 || res[1].Current.Reason != "moved on" {
		t.Errorf("b2: %+v, want refused with Current at Rev 1", res[1])
	}
	if res[2].Stored || res[2].Current != nil || !errors.Is(res[2].Err, store.ErrNotFound) {
		t.Errorf("gone: %+v, want ErrNotFound", res[2])
	}
	if !res[3].Stored || res[3].Err != nil {
		t.Errorf("b3: %+v, want stored", res[3])
	}
	for _, id := range []string{"b1", "b3"} {
		if r := mustGetRecord(t, s, id); r.Status != store.StatusDelivered || r.Rev != 1 {
			t.Errorf("%s: %+v", id, r)
		}
	}
	if r := mustGetRecord(t, s, "b2"); r.Status != store.StatusSubmitted || r.Rev != 1 {
		t.Errorf("b2 changed by a refused swap: %+v", r)
	}
	if jobs := claimAllWebhooks(t, wh); !slices.Equal(jobs, []string{"j1"}) {
		t.Fatalf("webhooks %v, want [j1]", jobs)
	}
}

// testSwapRecordsConcurrent: writers of one record that retry on Current never lose a change,
// and exactly one webhook is queued per stored change.
func testSwapRecordsConcurrent(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	wh := store.Webhooks(s)
	r := record("hot")
	r.Meta = nil
	if err := s.PutRecord(ctx, r, time.Hour); err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 10
	var conflicts atomic.Int64
	var wg, ready sync.WaitGroup
	start := make(chan struct{})
	errc := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		ready.Add(1)
		go func() {
			defer wg.Done()
			cur, err := s.GetRecord(ctx, "hot")
			ready.Done()
			if err != nil {
				errc <- err
				return
			}
			<-start // every writer has read Rev 0: all but one first swap must be refused
			for k := range each {
				key := fmt.Sprintf("w%d-%d", w, k)
				for {
					c := next(cur, func(r *store.Record) {
						if r.Meta == nil {
							r.Meta = map[string]string{}
						}
						r.Meta[key] = "1"
					})
					res, err := s.SwapRecords(ctx, store.RecordChange{Record: c, Webhook: job(key, time.Now())})
					if err == nil && len(res) != 1 {
						err = fmt.Errorf("%d results for one change", len(res))
					}
					if err == nil && res[0].Err != nil {
						err = res[0].Err
					}
					if err == nil && !res[0].Stored && res[0].Current == nil {
						err = errors.New("refused without Current")
					}
					if err != nil {
						errc <- fmt.Errorf("%s: %w", key, err)
						return
					}
					if res[0].Stored {
						cur = c
						break
					}
					conflicts.Add(1)
					cur = res[0].Current
				}
			}
		}()
	}
	ready.Wait()
	close(start)
	waitNoErr(t, &wg, errc)
	if conflicts.Load() < workers-1 {
		t.Fatalf("%d swaps refused; want at least %d (every writer read Rev 0 before the first swap)", conflicts.Load(), workers-1)
	}
	got := mustGetRecord(t, s, "hot")
	if got.Rev != workers*each || len(got.Meta) != workers*each {
		t.Fatalf("Rev %d, %d keys; want %d of each: changes were lost", got.Rev, len(got.Meta), workers*each)
	}
	var wantJobs []string
	for w := range workers {
		for k := range each {
			key := fmt.Sprintf("w%d-%d", w, k)
			if got.Meta[key] != "1" {
				t.Fatalf("key %s lost", key)
			}
			wantJobs = append(wantJobs, key)
		}
	}
	slices.Sort(wantJobs)
	if jobs := claimAllWebhooks(t, wh); !slices.Equal(jobs, wantJobs) {
		t.Fatalf("%d webhooks queued, want %d (one per stored change)", len(jobs), len(wantJobs))
	}
	t.Logf("%d conflicts retried", conflicts.Load())
}

func testGetRecords(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	for _, id := range []string{"g1", "g2"} {
		if err := s.PutRecord(ctx, record(id), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutRecord(ctx, record("g-short"), 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	wait.For(t, 10*time.Second, "short-lived record expires", func() bool {
		rs, err := s.GetRecords(ctx, "g-short")
		must(t, err)
		return len(rs) == 1 && rs[0] == nil
	})
	ids := []string{"g2", "nope", "g1", "g-short", "g2"}
	got, err := s.GetRecords(ctx, ids...)
	if err != nil || len(got) != len(ids) {
		t.Fatalf("GetRecords: %d records, %v", len(got), err)
	}
	for i, id := range ids {
		switch id {
		case "g1", "g2":
			if got[i] == nil || got[i].ID != id {
				t.Fatalf("GetRecords[%d] = %+v, want %s", i, got[i], id)
			}
			sameRecord(t, got[i], mustGetRecord(t, s, id))
		default:
			if got[i] != nil {
				t.Fatalf("GetRecords[%d] (%s) = %+v, want nil", i, id, got[i])
			}
		}
	}
	got[0].Meta["webhook"] = "changed" // the caller's copy
	if r := mustGetRecord(t, s, "g2"); r.Meta["webhook"] == "changed" {
		t.Fatal("changing a returned record changed the stored one")
	}
	if none, err := s.GetRecords(ctx); err != nil || len(none) != 0 {
		t.Fatalf("GetRecords of nothing: %+v, %v", none, err)
	}
}
