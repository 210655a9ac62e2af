package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/smppd/smppd/internal/wait"
	"github.com/smppd/smppd/store"
)

// SearchTests are the conformance tests of store.MessageSearch: search by id, number and
// suffix, time range, account, paging, bounds, expiry, and the timeline the store
// operations write. storetest's own tests run them on both stores (ForEach); RunSearch
// runs them on other stores (a Redis Cluster).
var SearchTests = []struct {
	Name string
	Fn   func(t *testing.T, s store.Store)
}{
	{"SearchMessages", testSearchMessages},
	{"SearchExpired", testSearchExpired},
	{"Timeline", testTimeline},
}

// RunSearch runs SearchTests against stores made by newStore (a fresh one per test).
func RunSearch(t *testing.T, newStore func(t *testing.T) store.Store) {
	for _, tc := range SearchTests {
		t.Run(tc.Name, func(t *testing.T) { tc.Fn(t, newStore(t)) })
	}
}

// searchFixture accepts messages to a few numbers at known times and returns their ids by
// name, newest first per query as the tests expect them.
type searchMsg struct {
	id, account, to string
	at              time.Time
}

func acceptAll(t *testing.T, s store.Store, ttl time.Duration, ms ...searchMsg) {
	t.Helper()
	var recs []*store.Record
	var msgs []*store.Message
	for _, m := range ms {
		recs = append(recs, &store.Record{ID: m.id, Account: m.account, Carrier: "sx", From: "ACMEIN", To: m.to,
			Status: store.StatusAccepted, AcceptedAt: m.at, StatusAt: m.at})
		msgs = append(msgs, &store.Message{ID: m.id, Account: m.account, Carrier: "sx", Priority: store.PriorityTransactional,
			From: "ACMEIN", To: m.to, Text: "hi", AcceptedAt: m.at})
	}
	if err := s.Accept(ctxT(t), recs, ttl, msgs...); err != nil {
		t.Fatal(err)
	}
}

func search(t *testing.T, s store.MessageSearch, q store.MessageQuery) store.MessagePage {
	t.Helper()
	p, err := s.SearchMessages(ctxT(t), q)
	if err != nil {
		t.Fatalf("SearchMessages(%+v): %v", q, err)
	}
	return p
}

func recIDs(rs []*store.Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

// searchAll follows the cursor to the end and returns every id, failing on a page that
// breaks newest-first order.
func searchAll(t *testing.T, s store.MessageSearch, q store.MessageQuery) []string {
	t.Helper()
	var all []string
	var lastMs int64 = 1 << 62
	lastID := "\xff"
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatal("more than 100 pages")
		}
		p := search(t, s, q)
		if q.Limit > 0 && len(p.Records) > q.Limit {
			t.Fatalf("page of %d records, limit %d", len(p.Records), q.Limit)
		}
		for _, r := range p.Records {
			ms := r.AcceptedAt.UnixMilli()
			if ms > lastMs || ms == lastMs && r.ID >= lastID {
				t.Fatalf("%s (%d) after %s (%d): not newest first", r.ID, ms, lastID, lastMs)
			}
			lastMs, lastID = ms, r.ID
			all = append(all, r.ID)
		}
		if p.Next == "" {
			return all
		}
		q.Cursor = p.Next
	}
}

func wantIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}

func testSearchMessages(t *testing.T, s store.Store) {
	{
		now := time.Now().Truncate(time.Millisecond)
		h := func(n int) time.Time { return now.Add(-time.Duration(n) * time.Hour) }
		const a, b = "919812345678", "919800005678" // same last 4, different last 7
		tie := h(7)
		acceptAll(t, s, 0,
			searchMsg{"s01", "acme", a, h(1)},
			searchMsg{"s02", "beta", a, h(2)},
			searchMsg{"s03", "acme", b, h(3)},
			searchMsg{"s04", "acme", a, h(4)},
			searchMsg{"s05", "beta", "919812340000", h(5)},
			searchMsg{"s06", "acme", a, h(6)},
			searchMsg{"s07", "acme", a, tie}, // three at the same millisecond
			searchMsg{"s08", "acme", a, tie},
			searchMsg{"s09", "beta", a, tie},
			searchMsg{"s10", "acme", a, now.Add(-91 * 24 * time.Hour)}, // older than the records' lifetime
		)
		full := []string{"s01", "s02", "s04", "s06", "s09", "s08", "s07"}

		t.Run("ID", func(t *testing.T) {
			wantIDs(t, "id", recIDs(search(t, s, store.MessageQuery{ID: "s03"}).Records), []string{"s03"})
			wantIDs(t, "unknown id", recIDs(search(t, s, store.MessageQuery{ID: "nope"}).Records), []string{})
			wantIDs(t, "id, other account", recIDs(search(t, s, store.MessageQuery{ID: "s03", Account: "beta"}).Records), []string{})
		})
		t.Run("Number", func(t *testing.T) {
			p := search(t, s, store.MessageQuery{To: a})
			wantIDs(t, "to", recIDs(p.Records), full)
			if p.Next != "" {
				t.Fatalf("one page, Next %q", p.Next)
			}
			if r := p.Records[0]; r.To != a || r.Account != "acme" || !r.AcceptedAt.Equal(h(1)) {
				t.Fatalf("record %+v", r)
			}
			wantIDs(t, "unknown number", recIDs(search(t, s, store.MessageQuery{To: "919800000000"}).Records), []string{})
		})
		t.Run("Suffix", func(t *testing.T) {
			wantIDs(t, "last 4", searchAll(t, s, store.MessageQuery{ToSuffix: "5678"}),
				[]string{"s01", "s02", "s03", "s04", "s06", "s09", "s08", "s07"})
			wantIDs(t, "last 7", searchAll(t, s, store.MessageQuery{ToSuffix: "2345678"}), full)
			wantIDs(t, "last 7 of b", searchAll(t, s, store.MessageQuery{ToSuffix: "0005678"}), []string{"s03"})
			wantIDs(t, "last 10", searchAll(t, s, store.MessageQuery{ToSuffix: "9812340000"}), []string{"s05"})
		})
		t.Run("TimeRange", func(t *testing.T) {
			wantIDs(t, "[h4, h1)", searchAll(t, s, store.MessageQuery{To: a, Since: h(4), Until: h(1)}), []string{"s02", "s04"})
			wantIDs(t, "since h2", searchAll(t, s, store.MessageQuery{ToSuffix: "5678", Since: h(2)}), []string{"s01", "s02"})
			wantIDs(t, "until the tie", searchAll(t, s, store.MessageQuery{To: a, Until: tie.Add(time.Millisecond)}), []string{"s09", "s08", "s07"})
			wantIDs(t, "id out of range", recIDs(search(t, s, store.MessageQuery{ID: "s01", Until: h(2)}).Records), []string{})
		})
		t.Run("Account", func(t *testing.T) {
			wantIDs(t, "to, beta", searchAll(t, s, store.MessageQuery{To: a, Account: "beta"}), []string{"s02", "s09"})
			wantIDs(t, "suffix, beta", searchAll(t, s, store.MessageQuery{ToSuffix: "5678", Account: "beta"}), []string{"s02", "s09"})
			wantIDs(t, "suffix 0000, beta", searchAll(t, s, store.MessageQuery{ToSuffix: "0000", Account: "beta"}), []string{"s05"})
		})
		t.Run("Paging", func(t *testing.T) {
			for _, limit := range []int{1, 2, 3, 7, 8} {
				wantIDs(t, fmt.Sprint("to, limit ", limit), searchAll(t, s, store.MessageQuery{To: a, Limit: limit}), full)
				wantIDs(t, fmt.Sprint("suffix, limit ", limit), searchAll(t, s, store.MessageQuery{ToSuffix: "2345678", Limit: limit}), full)
			}
			p := search(t, s, store.MessageQuery{To: a, Limit: 7})
			if len(p.Records) != 7 || p.Next != "" {
				t.Fatalf("a page holding the last record: %d records, Next %q", len(p.Records), p.Next)
			}
			p = search(t, s, store.MessageQuery{To: a, Limit: 3})
			if len(p.Records) != 3 || p.Next == "" {
				t.Fatalf("first page of 3: %v, Next %q", recIDs(p.Records), p.Next)
			}
		})
		t.Run("Bounds", func(t *testing.T) {
			for _, q := range []store.MessageQuery{
				{},
				{ID: "s01", To: a},
				{To: "+919812345678"},
				{ToSuffix: "678"},
				{ToSuffix: "12345678901"},
				{ToSuffix: "56a8"},
				{To: a, Limit: -1},
				{To: a, Limit: store.MaxSearchLimit + 1},
				{To: a, Cursor: "garbage"},
			} {
				if _, err := s.SearchMessages(ctxT(t), q); !errors.Is(err, store.ErrBadQuery) {
					t.Errorf("%+v: err %v, want ErrBadQuery", q, err)
				}
			}
			if p := search(t, s, store.MessageQuery{To: a, Limit: store.MaxSearchLimit}); len(p.Records) != len(full) {
				t.Fatalf("limit 500: %d records", len(p.Records))
			}
		})
	}
}

func testSearchExpired(t *testing.T, s store.Store) {
	{
		now := time.Now().Truncate(time.Millisecond)
		acceptAll(t, s, 0, searchMsg{"e1", "acme", "919811112222", now.Add(-time.Minute)})
		acceptAll(t, s, 300*time.Millisecond, searchMsg{"e2", "acme", "919811112222", now})
		wantIDs(t, "before expiry", searchAll(t, s, store.MessageQuery{To: "919811112222"}), []string{"e2", "e1"})
		wait.For(t, 10*time.Second, "record e2 expires", func() bool {
			_, err := s.GetRecord(ctxT(t), "e2")
			return errors.Is(err, store.ErrNotFound)
		})
		wantIDs(t, "after expiry", searchAll(t, s, store.MessageQuery{To: "919811112222"}), []string{"e1"})
		wantIDs(t, "suffix after expiry", searchAll(t, s, store.MessageQuery{ToSuffix: "2222"}), []string{"e1"})
		wantIDs(t, "id after expiry", recIDs(search(t, s, store.MessageQuery{ID: "e2"}).Records), []string{})
		if _, err := s.MessageTimeline(ctxT(t), "e2"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("timeline of an expired message: %v", err)
		}
	}
}

func kinds(evs []store.Event) []store.EventKind {
	out := make([]store.EventKind, len(evs))
	for i, e := range evs {
		out[i] = e.Kind
	}
	return out
}

// testTimeline drives a message through the store operations that write timeline events,
// in the order dispatch and dlr call them.
func testTimeline(t *testing.T, s store.Store) {
	{
		ctx := ctxT(t)
		now := time.Now().Truncate(time.Millisecond)
		const id = "tl-1"
		acceptAll(t, s, 0, searchMsg{id, "acme", "919811113333", now})
		if _, err := s.MessageTimeline(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown message: %v", err)
		}
		wantKinds := []store.EventKind{store.EventAccepted, store.EventQueued}
		check := func() []store.Event {
			t.Helper()
			evs, err := s.MessageTimeline(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(kinds(evs), wantKinds) {
				t.Fatalf("timeline %v, want %v", kinds(evs), wantKinds)
			}
			return evs
		}
		check()

		// A temporary failure: Defer with the retry event.
		cl := mustClaim(t, s, "sx", "c1", 1, time.Second)
		if len(cl) != 1 {
			t.Fatalf("claimed %d", len(cl))
		}
		cl[0].Message.Attempts++
		cl[0].Event = &store.Event{At: time.Now(), Kind: store.EventRetry, Carrier: "sx", Err: "0x58", Attempt: 1, Detail: "throttled"}
		if err := s.Defer(ctx, "sx", cl[0], time.Now()); err != nil {
			t.Fatal(err)
		}
		wantKinds = append(wantKinds, store.EventRetry)
		if evs := check(); evs[2].Err != "0x58" || evs[2].Attempt != 1 {
			t.Fatalf("retry event %+v", evs[2])
		}
		if _, err := s.PromoteDue(ctx, time.Now().Add(time.Second), 10); err != nil {
			t.Fatal(err)
		}
		cl = mustClaim(t, s, "sx", "c1", 1, time.Second)
		if len(cl) != 1 {
			t.Fatalf("claimed %d after the retry", len(cl))
		}

		// Submitted: Settle with the events.
		rec := &store.Record{ID: id, Account: "acme", Carrier: "sx", To: "919811113333", Status: store.StatusSubmitted,
			CarrierIDs: []string{"C1"}, Parts: 1, AcceptedAt: now, StatusAt: time.Now()}
		err := s.Settle(ctx, store.Settlement{Carrier: "sx", Claim: cl[0], Record: rec,
			Index:  []store.IndexEntry{{IndexKey: store.IndexKey{Carrier: "sx", ID: "C1"}, MsgID: id}},
			Events: []store.Event{{At: time.Now(), Kind: store.EventSubmitted, Carrier: "sx", Bind: "sx-1", CarrierID: "C1"}}})
		if err != nil {
			t.Fatal(err)
		}
		wantKinds = append(wantKinds, store.EventSubmitted)
		if evs := check(); evs[3].CarrierID != "C1" || evs[3].Bind != "sx-1" {
			t.Fatalf("submitted event %+v", evs[3])
		}

		// A receipt: SwapRecords with a webhook and the receipt and final events.
		r2 := *rec
		r2.Rev, r2.Status = 1, store.StatusDelivered
		job := &store.WebhookJob{ID: id + ":DELIVERED", MessageID: id, URL: "http://example.test/h", Body: "{}", CreatedAt: time.Now(), Since: time.Now()}
		res, err := s.SwapRecords(ctx, store.RecordChange{Record: &r2, Webhook: job, Events: []store.Event{
			{At: time.Now(), Kind: store.EventReceipt, Stat: "DELIVRD", Err: "000", Status: store.StatusDelivered},
			{At: time.Now(), Kind: store.EventFinal, Status: store.StatusDelivered},
		}})
		if err != nil || !res[0].Stored {
			t.Fatalf("swap: %v %+v", err, res)
		}
		// A stale change (wrong revision) writes no event.
		if res, err := s.SwapRecords(ctx, store.RecordChange{Record: &r2, Events: []store.Event{{Kind: store.EventReceipt, Stat: "STALE"}}}); err != nil || res[0].Stored {
			t.Fatalf("stale swap: %v %+v", err, res)
		}
		wantKinds = append(wantKinds, store.EventReceipt, store.EventFinal)
		if evs := check(); evs[4].Stat != "DELIVRD" || evs[4].Err != "000" {
			t.Fatalf("receipt event %+v", evs[4])
		}

		// The webhook: one failed attempt retried, then delivered.
		claimJob := func() *store.WebhookJob {
			t.Helper()
			var got []*store.WebhookJob
			wait.For(t, 10*time.Second, "the webhook job is due", func() bool {
				jobs, err := s.ClaimWebhooks(ctx, time.Now(), time.Minute, 1)
				if err != nil {
					t.Fatal(err)
				}
				got = jobs
				return len(jobs) == 1
			})
			return got[0]
		}
		j := claimJob()
		j.Attempts, j.LastStatus, j.LastError = 1, 503, "HTTP 503"
		j.Event = &store.Event{At: time.Now(), Kind: store.EventWebhook, URL: j.URL, HTTPStatus: 503, Attempt: 1, Detail: "HTTP 503"}
		if err := s.RetryWebhook(ctx, j, time.Now()); err != nil {
			t.Fatal(err)
		}
		j = claimJob()
		if j.Event != nil {
			t.Fatalf("a claimed job carries the last attempt's event: %+v", j.Event)
		}
		j.Attempts = 2
		j.Event = &store.Event{At: time.Now(), Kind: store.EventWebhook, URL: j.URL, HTTPStatus: 200, Attempt: 2}
		if err := s.AckWebhooks(ctx, j); err != nil {
			t.Fatal(err)
		}
		wantKinds = append(wantKinds, store.EventWebhook, store.EventWebhook)
		evs := check()
		if w := evs[6:]; w[0].HTTPStatus != 503 || w[0].Attempt != 1 || w[1].HTTPStatus != 200 || w[1].Attempt != 2 {
			t.Fatalf("webhook events %+v", w)
		}
		for i := 1; i < len(evs); i++ {
			if evs[i].At.Before(evs[i-1].At) {
				t.Fatalf("event %d (%s) before event %d", i, evs[i].Kind, i-1)
			}
		}

		// The timeline is bounded: the accepting events stay, the oldest others go.
		for i := range store.MaxTimelineEvents {
			r3 := r2
			r3.Rev = r2.Rev + 1 + int64(i)
			res, err := s.SwapRecords(ctx, store.RecordChange{Record: &r3, Events: []store.Event{{At: time.Now(), Kind: store.EventReceipt, Part: i + 1}}})
			if err != nil || !res[0].Stored {
				t.Fatalf("swap %d: %v %+v", i, err, res)
			}
		}
		evs, err = s.MessageTimeline(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		// The final event was trimmed with the oldest: the record's final status is shown
		// after the kept ones.
		if len(evs) != store.MaxTimelineEvents+1 || evs[0].Kind != store.EventAccepted || evs[1].Kind != store.EventQueued ||
			evs[2].Part != 3 || evs[len(evs)-2].Part != store.MaxTimelineEvents || evs[len(evs)-1].Kind != store.EventFinal {
			t.Fatalf("bounded timeline: %d events, first %v, third %+v, last %+v", len(evs), kinds(evs[:2]), evs[2], evs[len(evs)-1])
		}

		// A final status written without an event (a cancel's UpdateRecord) still ends the
		// timeline.
		acceptAll(t, s, 0, searchMsg{"tl-3", "acme", "919811113334", now})
		if _, err := s.UpdateRecord(ctx, "tl-3", func(r *store.Record) error {
			r.Status, r.StatusAt, r.Reason = store.StatusCancelled, time.Now(), "cancelled by the client"
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		evs, err = s.MessageTimeline(ctx, "tl-3")
		if err != nil || !slices.Equal(kinds(evs), []store.EventKind{store.EventAccepted, store.EventQueued, store.EventFinal}) ||
			evs[2].Status != store.StatusCancelled {
			t.Fatalf("timeline of a cancelled message: %v %+v", err, evs)
		}

		// A record with no timeline of its own (PutRecord) shows its acceptance and status.
		if err := s.PutRecord(ctx, &store.Record{ID: "tl-2", Status: store.StatusFailed, AcceptedAt: now, StatusAt: now, Reason: "no route"}, 0); err != nil {
			t.Fatal(err)
		}
		evs, err = s.MessageTimeline(ctx, "tl-2")
		if err != nil || !slices.Equal(kinds(evs), []store.EventKind{store.EventAccepted, store.EventFinal}) || evs[1].Detail != "no route" {
			t.Fatalf("timeline of a put record: %v %+v", err, evs)
		}
	}
}
