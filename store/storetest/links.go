package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/smppd/smppd/internal/wait"
	"github.com/smppd/smppd/store"
)

// LinkStore is what the shortlinks need of a store: the links and the webhook queue their
// clicks' jobs go to.
type LinkStore interface {
	store.Links
	store.Webhooks
}

// RunLinks runs the conformance tests of store.Links against stores made by newStore (same
// contract as Run's). Tests of both implementations run it through ForEach.
func RunLinks(t *testing.T, newStore func(t *testing.T) LinkStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s LinkStore)
	}{
		{"PutResolve", testLinkPutResolve},
		{"ClicksCountsAndWebhooks", testLinkClicks},
		{"CampaignsIsolated", testLinkCampaignsIsolated},
		{"Expiry", testLinkExpiry},
		{"ConcurrentClicks", testLinkConcurrentClicks},
		{"Invalid", testLinkInvalid},
		{"CampaignsNewestFirst", testLinkCampaigns},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t))
		})
	}
}

func link(code, account, campaign string) *store.Link {
	return &store.Link{Code: code, URL: "https://example.com/p?x=" + code, Header: "ACMEIN", Phone: "919812345678",
		Account: account, MessageID: "m-" + code, Campaign: campaign, Webhook: "https://hooks.example.com/c", Callback: "cb",
		Created: time.Now().UTC().Truncate(time.Second)}
}

func linkOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func testLinkPutResolve(t *testing.T, s LinkStore) {
	ctx := context.Background()
	a, b := link("Aaaaaaaaaa01", "acct", "diwali"), link("Bbbbbbbbbb02", "acct", "diwali")
	linkOK(t, s.PutLinks(ctx, []*store.Link{a, b}, time.Hour))
	for _, want := range []*store.Link{a, b} {
		got, err := s.ResolveLink(ctx, want.Code)
		linkOK(t, err)
		if js(got) != js(want) {
			t.Fatalf("resolved %s, want %s", js(got), js(want))
		}
	}
	if _, err := s.ResolveLink(ctx, "Zzzzzzzzzz99"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown code: %v, want ErrNotFound", err)
	}
	many, err := s.ResolveLinks(ctx, b.Code, "Zzzzzzzzzz99", a.Code)
	linkOK(t, err)
	if len(many) != 3 || js(many[0]) != js(b) || many[1] != nil || js(many[2]) != js(a) {
		t.Fatalf("ResolveLinks: %s", js(many))
	}
	if none, err := s.ResolveLinks(ctx); err != nil || len(none) != 0 {
		t.Fatalf("ResolveLinks of nothing: %v %v", none, err)
	}
	st, err := s.CampaignStats(ctx, "acct", "diwali")
	linkOK(t, err)
	if st != (store.LinkStats{Links: 2}) {
		t.Fatalf("campaign stats %+v, want 2 links", st)
	}
	linkOK(t, s.PutLinks(ctx, nil, 0)) // nothing to do
}

func testLinkClicks(t *testing.T, s LinkStore) {
	ctx := context.Background()
	a, b := link("Cccccccccc03", "acct", "c1"), link("Dddddddddd04", "acct", "c1")
	linkOK(t, s.PutLinks(ctx, []*store.Link{a, b}, time.Hour))
	job := func(id string) *store.WebhookJob {
		return &store.WebhookJob{ID: id, URL: a.Webhook, ContentType: "application/x-www-form-urlencoded", Body: "phoneNo=9812345678", Kind: "click"}
	}
	now := time.Now()
	res, err := s.RecordClicks(ctx,
		&store.Click{Link: a, At: now, Preview: true}, // a preview without a job queues nothing
		&store.Click{Link: a, At: now, Webhook: job("k1")},
		&store.Click{Link: a, At: now, Webhook: job("k2")},
		&store.Click{Link: b, At: now})
	linkOK(t, err)
	want := []store.ClickResult{{}, {Unique: true}, {}, {Unique: true}}
	// (the preview above queued no job; one with a job queues it, below)
	for i := range want {
		if res[i] != want[i] {
			t.Fatalf("click %d: %+v, want %+v", i, res[i], want[i])
		}
	}
	st, err := s.LinkStats(ctx, a.Code)
	linkOK(t, err)
	if st != (store.LinkStats{Links: 1, Clicks: 2, UniqueClicks: 1, Previews: 1}) {
		t.Fatalf("link stats %+v", st)
	}
	cs, err := s.CampaignStats(ctx, "acct", "c1")
	linkOK(t, err)
	if cs != (store.LinkStats{Links: 2, Clicks: 3, UniqueClicks: 2, Previews: 1}) {
		t.Fatalf("campaign stats %+v", cs)
	}
	jobs, err := s.ClaimWebhooks(ctx, time.Now(), time.Minute, 10)
	linkOK(t, err)
	got := map[string]bool{}
	for _, j := range jobs {
		got[j.ID] = true
		if j.ContentType != "application/x-www-form-urlencoded" || j.Body != "phoneNo=9812345678" {
			t.Fatalf("job %s: %q %q", j.ID, j.ContentType, j.Body)
		}
	}
	if len(jobs) != 2 || !got["k1"] || !got["k2"] {
		t.Fatalf("claimed jobs %v, want k1 and k2 (no preview job)", got)
	}
	linkOK(t, s.AckWebhooks(ctx, jobs...))
	// A preview with a job (shortlinks.preview_webhooks) queues it, counted as a preview.
	_, err = s.RecordClicks(ctx, &store.Click{Link: b, At: now, Preview: true, Webhook: job("p2")})
	linkOK(t, err)
	jobs, err = s.ClaimWebhooks(ctx, time.Now(), time.Minute, 10)
	linkOK(t, err)
	if len(jobs) != 1 || jobs[0].ID != "p2" {
		t.Fatalf("preview job: %d claimed", len(jobs))
	}
	linkOK(t, s.AckWebhooks(ctx, jobs...))
	if st, _ := s.LinkStats(ctx, b.Code); st.Previews != 1 || st.Clicks != 1 {
		t.Fatalf("link b stats %+v", st)
	}
}

func testLinkCampaignsIsolated(t *testing.T, s LinkStore) {
	ctx := context.Background()
	// Account and campaign names that would collide if they were simply joined.
	x, y := link("Eeeeeeeeee05", "a:b", "c"), link("Ffffffffff06", "a", "b:c")
	linkOK(t, s.PutLinks(ctx, []*store.Link{x, y}, time.Hour))
	_, err := s.RecordClicks(ctx, &store.Click{Link: x, At: time.Now()})
	linkOK(t, err)
	for _, c := range []struct {
		acct, camp string
		want       store.LinkStats
	}{
		{"a:b", "c", store.LinkStats{Links: 1, Clicks: 1, UniqueClicks: 1}},
		{"a", "b:c", store.LinkStats{Links: 1}},
		{"a", "none", store.LinkStats{}},
	} {
		st, err := s.CampaignStats(ctx, c.acct, c.camp)
		linkOK(t, err)
		if st != c.want {
			t.Fatalf("%s/%s: %+v, want %+v", c.acct, c.camp, st, c.want)
		}
	}
}

func testLinkExpiry(t *testing.T, s LinkStore) {
	ctx := context.Background()
	l := link("Gggggggggg07", "acct", "short")
	linkOK(t, s.PutLinks(ctx, []*store.Link{l}, 300*time.Millisecond))
	_, err := s.ResolveLink(ctx, l.Code)
	linkOK(t, err)
	wait.For(t, 5*time.Second, "the link to expire", func() bool {
		_, err := s.ResolveLink(ctx, l.Code)
		return errors.Is(err, store.ErrNotFound)
	})
	res, err := s.RecordClicks(ctx, &store.Click{Link: l, At: time.Now()})
	linkOK(t, err)
	if !res[0].Gone {
		t.Fatalf("a click on an expired link: %+v, want Gone", res[0])
	}
	if _, err := s.LinkStats(ctx, l.Code); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("stats of an expired link: %v", err)
	}
}

func testLinkConcurrentClicks(t *testing.T, s LinkStore) {
	ctx := context.Background()
	l := link("Hhhhhhhhhh08", "acct", "rush")
	linkOK(t, s.PutLinks(ctx, []*store.Link{l}, time.Hour))
	var wg sync.WaitGroup
	var mu sync.Mutex
	unique := 0
	for range 20 {
		wg.Go(func() {
			res, err := s.RecordClicks(ctx, &store.Click{Link: l, At: time.Now()})
			if err != nil {
				t.Error(err)
				return
			}
			if res[0].Unique {
				mu.Lock()
				unique++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	st, err := s.CampaignStats(ctx, "acct", "rush")
	linkOK(t, err)
	if unique != 1 || st.Clicks != 20 || st.UniqueClicks != 1 {
		t.Fatalf("unique %d, stats %+v: want one first click of 20", unique, st)
	}
}

func testLinkInvalid(t *testing.T, s LinkStore) {
	ctx := context.Background()
	if err := s.PutLinks(ctx, []*store.Link{{Code: "", URL: "https://x"}}, 0); err == nil {
		t.Fatal("a link without a code was stored")
	}
	if _, err := s.RecordClicks(ctx, &store.Click{}); err == nil {
		t.Fatal("a click without a link was recorded")
	}
}

func testLinkCampaigns(t *testing.T, s LinkStore) {
	ctx := context.Background()
	const acct = "lister"
	none, err := s.Campaigns(ctx, acct, 10)
	linkOK(t, err)
	if len(none) != 0 {
		t.Fatalf("campaigns of an account without links: %+v", none)
	}
	// Three campaigns, stored in turn (the newest last), one with links in many shards, one
	// link of another account, one of no campaign.
	var first []*store.Link
	for i := range 6 {
		first = append(first, link("Lista"+string(rune('a'+i))+"aaaaa1", acct, "old"))
	}
	linkOK(t, s.PutLinks(ctx, first, time.Hour))
	time.Sleep(5 * time.Millisecond) // distinct store times (ms) for the order
	linkOK(t, s.PutLinks(ctx, []*store.Link{link("Listbbbbbbb2", acct, ""), link("Listccccccc3", "other", "mid")}, time.Hour))
	time.Sleep(5 * time.Millisecond)
	nw := link("Listddddddd4", acct, "new")
	linkOK(t, s.PutLinks(ctx, []*store.Link{nw}, time.Hour))
	_, err = s.RecordClicks(ctx, &store.Click{Link: nw, At: time.Now()}, &store.Click{Link: nw, At: time.Now()},
		&store.Click{Link: first[2], At: time.Now(), Preview: true})
	linkOK(t, err)

	got, err := s.Campaigns(ctx, acct, 10)
	linkOK(t, err)
	want := []store.CampaignStats{
		{Name: "new", LinkStats: store.LinkStats{Links: 1, Clicks: 2, UniqueClicks: 1}},
		{Name: "", LinkStats: store.LinkStats{Links: 1}},
		{Name: "old", LinkStats: store.LinkStats{Links: 6, Previews: 1}},
	}
	if len(got) != len(want) {
		t.Fatalf("campaigns %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].Name != want[i].Name || got[i].LinkStats != want[i].LinkStats {
			t.Fatalf("campaign %d: %+v, want %+v", i, got[i], want[i])
		}
		if time.Since(got[i].Last) > time.Minute || got[i].Last.After(time.Now().Add(time.Second)) {
			t.Fatalf("campaign %d: last %v", i, got[i].Last)
		}
	}
	if !got[0].Last.After(got[2].Last) {
		t.Fatalf("newest %v not after oldest %v", got[0].Last, got[2].Last)
	}
	top, err := s.Campaigns(ctx, acct, 1)
	linkOK(t, err)
	if len(top) != 1 || top[0].Name != "new" {
		t.Fatalf("limit 1: %+v", top)
	}
	// A campaign leaves the list when its links expire.
	linkOK(t, s.PutLinks(ctx, []*store.Link{link("Listeeeeeee5", "brief", "flash")}, 300*time.Millisecond))
	wait.For(t, 5*time.Second, "the expired campaign to leave the list", func() bool {
		l, err := s.Campaigns(ctx, "brief", 0)
		return err == nil && len(l) == 0
	})
}
