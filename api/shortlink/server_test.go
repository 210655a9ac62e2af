package shortlink

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"testing"
	"time"

	"github.com/smppd/smppd/internal/wait"
	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/memstore"
)

func newTestServer(t *testing.T, o Options) (*Server, *memstore.Store) {
	t.Helper()
	st := memstore.New()
	t.Cleanup(func() { st.Close() })
	o.Store, o.BaseURL = st, "https://e.1rp.in"
	o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s, st
}

func do(s *Server, method, path string, hdr map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "https://e.1rp.in"+path, nil)
	r.RemoteAddr = "10.1.2.3:5555"
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

func TestRedirectCountsAndWebhooks(t *testing.T) {
	var results []Result
	s, st := newTestServer(t, Options{OnRedirect: func(r Result) { results = append(results, r) }, Durable: true})
	ctx := context.Background()
	l := &store.Link{Code: NewCode(), URL: "www.example.com/offer?id=7", Header: "ACMEIN", Phone: "919812345678",
		Account: "acme", Campaign: "diwali", Webhook: "https://hooks.example.com/c", Callback: "cb-1", MessageID: "m1"}
	if err := st.PutLinks(ctx, []*store.Link{l}, time.Hour); err != nil {
		t.Fatal(err)
	}
	browser := map[string]string{"User-Agent": "Mozilla/5.0 (Linux; Android 14) Chrome/131 Mobile", "X-Forwarded-For": "49.36.1.2, 10.9.9.9"}
	w := do(s, http.MethodGet, "/ACMEIN/"+l.Code, browser)
	if w.Code != http.StatusFound || w.Header().Get("Location") != "http://www.example.com/offer?id=7" ||
		w.Header().Get("Cache-Control") != "no-store, private" {
		t.Fatalf("GET: %d %v", w.Code, w.Header())
	}
	if w := do(s, http.MethodGet, "/"+l.Code, browser); w.Code != http.StatusFound { // the code alone is tolerated
		t.Fatalf("GET /code: %d", w.Code)
	}
	for _, h := range []map[string]string{
		{"User-Agent": "WhatsApp/2.23.20.0 A"}, {"User-Agent": "facebookexternalhit/1.1"}, {"User-Agent": "TelegramBot (like TwitterBot)"},
		{"User-Agent": "Mozilla/5.0", "Sec-Purpose": "prefetch;prerender"}, {},
	} {
		if w := do(s, http.MethodGet, "/ACMEIN/"+l.Code, h); w.Code != http.StatusFound {
			t.Fatalf("preview %v: %d", h, w.Code)
		}
	}
	if w := do(s, http.MethodHead, "/ACMEIN/"+l.Code, browser); w.Code != http.StatusFound {
		t.Fatalf("HEAD: %d", w.Code)
	}
	stats, err := st.CampaignStats(ctx, "acme", "diwali")
	if err != nil {
		t.Fatal(err)
	}
	if stats != (store.LinkStats{Links: 1, Clicks: 2, UniqueClicks: 1, Previews: 6}) {
		t.Fatalf("stats %+v", stats)
	}
	jobs, err := st.ClaimWebhooks(ctx, time.Now(), time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 2 {
		t.Fatalf("%d click jobs, want 2 (none for previews)", len(jobs))
	}
	v, _ := url.ParseQuery(jobs[0].Body)
	if v.Get("phoneNo") != "9812345678" || v.Get("campaignName") != "diwali" || v.Get("ip") != "49.36.1.2" ||
		v.Get("callback") != "cb-1" || len(v.Get("accessed")) != len("2006-01-02 15:04:05") || jobs[0].ContentType != "application/x-www-form-urlencoded" {
		t.Fatalf("job body %q", jobs[0].Body)
	}
	for _, c := range []struct {
		method, path string
		code         int
	}{
		{http.MethodGet, "/ACMEIN/" + NewCode(), http.StatusNotFound},
		{http.MethodGet, "/OTHERH/" + l.Code, http.StatusNotFound},
		{http.MethodGet, "/", http.StatusNotFound},
		{http.MethodGet, "/a/b/c", http.StatusNotFound},
		{http.MethodPost, "/ACMEIN/" + l.Code, http.StatusMethodNotAllowed},
	} {
		w := do(s, c.method, c.path, browser)
		var env envelope
		if w.Code != c.code || json.Unmarshal(w.Body.Bytes(), &env) != nil || env.Status != "Error" || env.Details == "" {
			t.Fatalf("%s %s: %d %q", c.method, c.path, w.Code, w.Body)
		}
	}
	want := map[Result]int{ResultClick: 2, ResultPreview: 6, ResultUnknown: 2, ResultInvalid: 3}
	got := map[Result]int{}
	for _, r := range results {
		got[r]++
	}
	for k, n := range want {
		if got[k] != n {
			t.Fatalf("results %v, want %v", got, want)
		}
	}
}

func TestClientIPIgnoresUntrustedForwardedFor(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	r := httptest.NewRequest(http.MethodGet, "/x", nil)
	r.RemoteAddr = "203.0.113.7:1"
	r.Header.Set("X-Forwarded-For", "1.1.1.1")
	if ip := s.clientIP(r); ip != "203.0.113.7" {
		t.Fatalf("untrusted peer: %s", ip)
	}
	r.RemoteAddr = "10.0.0.1:1"
	r.Header.Set("X-Forwarded-For", "1.1.1.1, bogus, 10.0.0.2")
	if ip := s.clientIP(r); ip != "10.0.0.2" {
		t.Fatalf("malformed hop: %s", ip)
	}
}

func TestAsyncClicksAreWrittenInBatches(t *testing.T) {
	s, st := newTestServer(t, Options{Linger: 5 * time.Millisecond})
	l := &store.Link{Code: NewCode(), URL: "https://example.com/", Header: "ACMEIN", Phone: "919812345678", Account: "a", Campaign: "c"}
	if err := st.PutLinks(context.Background(), []*store.Link{l}, time.Hour); err != nil {
		t.Fatal(err)
	}
	for range 50 {
		if w := do(s, http.MethodGet, "/ACMEIN/"+l.Code, map[string]string{"User-Agent": "Mozilla/5.0"}); w.Code != http.StatusFound {
			t.Fatal(w.Code)
		}
	}
	wait.For(t, 5*time.Second, "50 clicks stored", func() bool { return s.Stats().Written == 50 })
	if b := s.Stats().Batches; b >= 50 {
		t.Fatalf("%d batches for 50 clicks", b)
	}
}

func TestNewRefusesBadBase(t *testing.T) {
	for _, b := range []string{"", "e.1rp.in", "ftp://x.in", "https://x.in/?q=1"} {
		if _, err := New(Options{BaseURL: b, Store: memstore.New()}); err == nil {
			t.Errorf("base %q accepted", b)
		}
	}
}

func TestPreviewWebhooksWhenAsked(t *testing.T) {
	s, st := newTestServer(t, Options{PreviewWebhooks: true, Durable: true})
	l := &store.Link{Code: NewCode(), URL: "https://example.com/", Header: "ACMEIN", Phone: "919812345678", Account: "a",
		Campaign: "c", Webhook: "https://hooks.example.com/c"}
	if err := st.PutLinks(context.Background(), []*store.Link{l}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if w := do(s, http.MethodGet, "/ACMEIN/"+l.Code, map[string]string{"User-Agent": "Slackbot-LinkExpanding 1.0"}); w.Code != http.StatusFound {
		t.Fatal(w.Code)
	}
	jobs, err := st.ClaimWebhooks(context.Background(), time.Now(), time.Minute, 10)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("%d jobs, %v", len(jobs), err)
	}
	if v, _ := url.ParseQuery(jobs[0].Body); v.Get("preview") != "1" {
		t.Fatalf("body %q", jobs[0].Body)
	}
	if cs, _ := st.CampaignStats(context.Background(), "a", "c"); cs.Previews != 1 || cs.Clicks != 0 {
		t.Fatalf("stats %+v", cs)
	}
}
