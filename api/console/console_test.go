package console

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smppd/smppd/dlt"
	"github.com/smppd/smppd/internal/passwd"
	"github.com/smppd/smppd/store"
)

// fakes stand in for the daemon: one record, one carrier, dead letters, a registry.
type fakes struct {
	mu       sync.Mutex
	rec      *store.Record
	dead     []*store.WebhookJob
	replayed []string
	reg      *dlt.Registry
}

func (f *fakes) SearchMessages(_ context.Context, q store.MessageQuery) (store.MessagePage, error) {
	if q.ID == f.rec.ID || (q.ToSuffix != "" && strings.HasSuffix(f.rec.To, q.ToSuffix)) || q.To == f.rec.To {
		return store.MessagePage{Records: []*store.Record{f.rec}}, nil
	}
	return store.MessagePage{}, nil
}
func (f *fakes) MessageTimeline(_ context.Context, id string) ([]store.Event, error) {
	return []store.Event{{At: f.rec.AcceptedAt, Kind: store.EventAccepted},
		{At: f.rec.AcceptedAt, Kind: store.EventSubmitted, Carrier: "sim", CarrierID: "C1", Chain: "c0c951afca257c5b87c3da535c09112080483f35b7e6faf35e2428b3b526b694"},
		{At: f.rec.StatusAt, Kind: store.EventFinal, Status: f.rec.Status, Detail: f.rec.Reason}}, nil
}
func (f *fakes) GetRecord(_ context.Context, id string) (*store.Record, error) {
	if id != f.rec.ID {
		return nil, store.ErrNotFound
	}
	return f.rec, nil
}
func (f *fakes) Carriers(context.Context) []CarrierView {
	return []CarrierView{{Name: "sim", Up: true, Binds: []BindView{{Name: "trx-0.0", Bound: true, Leased: true, WindowSize: 10}},
		Depth: store.Depth{Ready: 5, Pending: 2, Scheduled: 1, ByPriority: [3]store.PriorityDepth{{Ready: 1, Pending: 1}, {Ready: 4, Pending: 1}}}}}
}
func (f *fakes) DeadLetters(context.Context, int) ([]*store.WebhookJob, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dead, nil
}
func (f *fakes) Replay(_ context.Context, ids ...string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.replayed = append(f.replayed, ids...)
	return len(ids), nil
}
func (f *fakes) Unmatched(context.Context, int) ([]*store.Receipt, error) { return nil, nil }
func (f *fakes) Accounts(context.Context) []AccountView {
	return []AccountView{{Name: "acme", RateLimit: "unlimited"}, {Name: "quiet", RateLimit: "unlimited"}}
}
func (f *fakes) Campaigns(_ context.Context, account string, _ int) ([]store.CampaignStats, error) {
	if account != "acme" {
		return nil, nil
	}
	return []store.CampaignStats{
		{Name: "diwali", LinkStats: store.LinkStats{Links: 10, Clicks: 7, UniqueClicks: 5, Previews: 2}, Last: time.Now()},
		{Name: "", LinkStats: store.LinkStats{Links: 3, Clicks: 1, UniqueClicks: 1}, Last: time.Now().Add(-time.Hour)},
	}, nil
}
func (f *fakes) Stats() WebhookStats     { return WebhookStats{Dead: 1} }
func (f *fakes) Registry() *dlt.Registry { return f.reg }
func (f *fakes) ImportCSV(context.Context, io.Reader, string) (int, error) {
	return 1, errors.New("dlt: templates CSV: line 3: header NOSUCH is not registered")
}

const testPassword = "correct horse battery"

func newTestConsole(t *testing.T) (*httptest.Server, *fakes) {
	t.Helper()
	h, err := passwd.HashIter(testPassword, 1000)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := dlt.LoadYAMLFile("../../testdata/dlt/registry.yaml")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	f := &fakes{reg: reg,
		rec: &store.Record{ID: "5f1c0e4e-0000-4000-8000-000000000001", Account: "acme", From: "ACMEIN", To: "919812345678",
			Status: store.StatusRejected, ErrorCode: "633", Reason: "text does not match template 1107", AcceptedAt: now, StatusAt: now,
			PEID: "1101234567890123456", TemplateID: "1107161234567890123", TMIDs: []string{"1702000000000000001", "1702000000000000002"}},
		dead: []*store.WebhookJob{{ID: "job-1", MessageID: "m1", Account: "acme", URL: "https://hooks.example/x", Attempts: 3, DeadAt: now}}}
	c, err := New(Options{
		Operators:    []Operator{{Name: "admin", PasswordHash: h, Role: RoleAdmin}, {Name: "viewer", PasswordHash: h, Role: RoleViewer}},
		FailureDelay: -1, MaxFailures: 3, Lockout: time.Minute,
		Search: f, Records: f, Carriers: f, Webhooks: f, Registry: f, Accounts: f, Links: f,
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(Prefix, c.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, f
}

// client is a browser stand-in: a cookie jar, and Origin set on POSTs as browsers do.
type client struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func newClient(t *testing.T, base string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: base, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (c *client) get(path string) (int, string, http.Header) {
	c.t.Helper()
	resp, err := c.hc.Get(c.base + path)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func (c *client) post(path string, form url.Values, origin string) (int, string, http.Header) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

func (c *client) login(name string) string {
	c.t.Helper()
	st, _, h := c.post("/console/login", url.Values{"name": {name}, "password": {testPassword}}, c.base)
	if st != http.StatusSeeOther || h.Get("Location") != "/console/messages" {
		c.t.Fatalf("login %s: %d %v", name, st, h)
	}
	_, body, _ := c.get("/console/carriers")
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		c.t.Fatalf("no CSRF token in the page:\n%s", body)
	}
	return m[1]
}

func TestLoginSessionsAndHeaders(t *testing.T) {
	srv, _ := newTestConsole(t)
	c := newClient(t, srv.URL)
	if st, _, h := c.get("/console/messages"); st != http.StatusSeeOther || h.Get("Location") != "/console/login" {
		t.Fatalf("without a session: %d %v", st, h)
	}
	if st, _, _ := c.get("/console/carriers/fragment?x"); st != http.StatusSeeOther {
		t.Fatalf("fragment without a session: %d", st)
	}
	st, body, h := c.get("/console/login")
	if st != 200 || !strings.Contains(body, `id="password"`) {
		t.Fatalf("login page: %d", st)
	}
	for k, want := range map[string]string{"X-Frame-Options": "DENY", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"} {
		if h.Get(k) != want {
			t.Errorf("%s: %q, want %q", k, h.Get(k), want)
		}
	}
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP %q", csp)
	}
	// Wrong password, unknown name: refused alike.
	for _, name := range []string{"admin", "nobody"} {
		if st, body, _ := c.post("/console/login", url.Values{"name": {name}, "password": {"wrong"}}, srv.URL); st != http.StatusUnauthorized || !strings.Contains(body, "Wrong name or password") {
			t.Fatalf("%s with a wrong password: %d", name, st)
		}
	}
	// Login from another site: refused before the password is looked at.
	if st, _, _ := c.post("/console/login", url.Values{"name": {"admin"}, "password": {testPassword}}, "https://evil.example"); st != http.StatusForbidden {
		t.Fatalf("cross-site login: %d", st)
	}
	st, _, h = c.post("/console/login", url.Values{"name": {"admin"}, "password": {testPassword}}, srv.URL)
	ck := h.Get("Set-Cookie")
	if st != http.StatusSeeOther || !strings.Contains(ck, "HttpOnly") || !strings.Contains(ck, "SameSite=Strict") || !strings.Contains(ck, "Path=/console/") {
		t.Fatalf("login: %d cookie %q", st, ck)
	}
	if v := strings.TrimPrefix(strings.SplitN(ck, ";", 2)[0], cookieName+"="); len(v) != 64 {
		t.Fatalf("session id %q is not 256 bits", v)
	}
	if st, body, _ := c.get("/console/messages"); st != 200 || !strings.Contains(body, "admin (admin)") {
		t.Fatalf("logged in: %d", st)
	}
	tok := csrfRE.FindStringSubmatch(func() string { _, b, _ := c.get("/console/messages"); return b }())[1]
	if st, _, h := c.post("/console/logout", url.Values{"csrf": {tok}}, srv.URL); st != http.StatusSeeOther || h.Get("Location") != "/console/login" {
		t.Fatalf("logout: %d", st)
	}
	if st, _, _ := c.get("/console/messages"); st != http.StatusSeeOther {
		t.Fatalf("after logout: %d", st)
	}
}

func TestLockoutAfterFailures(t *testing.T) {
	srv, _ := newTestConsole(t)
	c := newClient(t, srv.URL)
	for range 3 {
		c.post("/console/login", url.Values{"name": {"viewer"}, "password": {"nope"}}, srv.URL)
	}
	if st, body, _ := c.post("/console/login", url.Values{"name": {"viewer"}, "password": {testPassword}}, srv.URL); st != http.StatusUnauthorized || !strings.Contains(body, "Too many failed logins") {
		t.Fatalf("right password while locked: %d", st)
	}
}

func TestCSRFAndRoles(t *testing.T) {
	srv, f := newTestConsole(t)
	admin := newClient(t, srv.URL)
	tok := admin.login("admin")
	cases := []struct {
		name   string
		form   url.Values
		origin string
	}{
		{"no token", url.Values{"id": {"job-1"}}, srv.URL},
		{"wrong token", url.Values{"id": {"job-1"}, "csrf": {strings.Repeat("0", 64)}}, srv.URL},
		{"right token, other origin", url.Values{"id": {"job-1"}, "csrf": {tok}}, "https://evil.example"},
		{"right token, no origin", url.Values{"id": {"job-1"}, "csrf": {tok}}, ""},
	}
	for _, tc := range cases {
		if st, _, _ := admin.post("/console/queues/replay", tc.form, tc.origin); st != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", tc.name, st)
		}
	}
	if len(f.replayed) != 0 {
		t.Fatalf("replayed %v through a refused form", f.replayed)
	}
	if st, _, h := admin.post("/console/queues/replay", url.Values{"id": {"job-1"}, "csrf": {tok}}, srv.URL); st != http.StatusSeeOther || h.Get("Location") != "/console/queues?replayed=1" {
		t.Fatalf("replay: %d %v", st, h)
	}
	if len(f.replayed) != 1 || f.replayed[0] != "job-1" {
		t.Fatalf("replayed %v", f.replayed)
	}
	// A viewer: no replay, no upload, masked numbers.
	viewer := newClient(t, srv.URL)
	vtok := viewer.login("viewer")
	if st, _, _ := viewer.post("/console/queues/replay", url.Values{"id": {"job-1"}, "csrf": {vtok}}, srv.URL); st != http.StatusForbidden {
		t.Fatalf("viewer replay: %d", st)
	}
	_, body, _ := viewer.get("/console/messages?q=5678")
	if strings.Contains(body, "919812345678") || !strings.Contains(body, "5f1c0e4e-0000-4000-8000-000000000001") {
		t.Fatalf("viewer search shows the full number, or not the message:\n%s", body)
	}
	_, body, _ = admin.get("/console/messages/5f1c0e4e-0000-4000-8000-000000000001")
	if !strings.Contains(body, "919812345678") || !strings.Contains(body, "REJECTED: text does not match template 1107") || !strings.Contains(body, "DLT:") ||
		!strings.Contains(body, "<code>1101234567890123456</code>") || !strings.Contains(body, "<code>1107161234567890123</code>") ||
		!strings.Contains(body, "<code>1702000000000000001 → 1702000000000000002</code>") ||
		!strings.Contains(body, "<code>c0c951afca257c5b87c3da535c09112080483f35b7e6faf35e2428b3b526b694</code>") {
		t.Fatalf("admin message page:\n%s", body)
	}
	if st, _, _ := admin.get("/console/messages/nope"); st != http.StatusNotFound {
		t.Fatalf("unknown message: %d", st)
	}
}

func TestRegistryTester(t *testing.T) {
	srv, f := newTestConsole(t)
	c := newClient(t, srv.URL)
	c.login("viewer")
	ent := f.reg.Entities()[0]
	tm := f.reg.TemplatesFor(ent.ID)[0]
	_, body, _ := c.get("/console/dlt?entity=" + ent.ID + "&text=" + url.QueryEscape("Free money!"))
	if !strings.Contains(body, `id="verdict"`) || !strings.Contains(body, "Refused") {
		t.Fatalf("bad text passed:\n%s", body)
	}
	_, body, _ = c.get("/console/dlt?q=" + tm.ID)
	if !strings.Contains(body, tm.ID) || strings.Contains(body, `id="upload"`) {
		t.Fatalf("template search, or a viewer sees the upload form")
	}
}

func TestParseQuery(t *testing.T) {
	for _, tc := range []struct {
		q       string
		want    store.MessageQuery
		wantErr bool
	}{
		{"5f1c0e4e-0000-4000-8000-000000000001", store.MessageQuery{ID: "5f1c0e4e-0000-4000-8000-000000000001"}, false},
		{"+91 98123 45678", store.MessageQuery{To: "919812345678"}, false},
		{"5678", store.MessageQuery{ToSuffix: "5678"}, false},
		{"567", store.MessageQuery{}, true},
		{"", store.MessageQuery{}, true},
	} {
		got, err := parseQuery(tc.q, "", "")
		if (err != nil) != tc.wantErr || (!tc.wantErr && got != tc.want) {
			t.Errorf("%q: %+v %v", tc.q, got, err)
		}
	}
	// The form's times are India's, as every time the console shows.
	if q, err := parseQuery("5678", "2026-01-02T10:00", "2026-01-03T10:00"); err != nil ||
		!q.Since.Equal(time.Date(2026, 1, 2, 4, 30, 0, 0, time.UTC)) || !q.Until.Equal(time.Date(2026, 1, 3, 4, 30, 0, 0, time.UTC)) {
		t.Errorf("range: %+v %v", q, err)
	}
	if got := funcs["when"].(func(time.Time) string)(time.Date(2026, 1, 2, 4, 30, 0, 0, time.UTC)); got != "2026-01-02 10:00:00 IST" {
		t.Errorf("shown as %q", got)
	}
}

func TestSessionExpiresServerSide(t *testing.T) {
	h, _ := passwd.HashIter(testPassword, 1000)
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	c, err := New(Options{Operators: []Operator{{Name: "admin", PasswordHash: h, Role: RoleAdmin}}, SessionTTL: time.Hour,
		SecureCookie: true, FailureDelay: -1, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(Prefix, c.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()
	cl := newClient(t, srv.URL)
	_, _, hd := cl.post("/console/login", url.Values{"name": {"admin"}, "password": {testPassword}}, srv.URL)
	if !strings.Contains(hd.Get("Set-Cookie"), "Secure") {
		t.Fatalf("secure_cookie set, cookie %q", hd.Get("Set-Cookie"))
	}
	// The jar keeps a Secure cookie off plain HTTP; send it by hand as a proxy's client would.
	v := strings.TrimPrefix(strings.SplitN(hd.Get("Set-Cookie"), ";", 2)[0], cookieName+"=")
	get := func() int {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/console/clients", nil)
		req.AddCookie(&http.Cookie{Name: cookieName, Value: v})
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := get(); st != http.StatusOK {
		t.Fatalf("fresh session: %d", st)
	}
	mu.Lock()
	now = now.Add(time.Hour + time.Second)
	mu.Unlock()
	if st := get(); st != http.StatusSeeOther {
		t.Fatalf("expired session: %d", st)
	}
}

func TestNewRefusesBadOperators(t *testing.T) {
	h, _ := passwd.HashIter(testPassword, 1000)
	for _, ops := range [][]Operator{
		nil,
		{{Name: "a", PasswordHash: "plain", Role: RoleAdmin}},
		{{Name: "a", PasswordHash: h, Role: "root"}},
		{{Name: "a", PasswordHash: h, Role: RoleAdmin}, {Name: "a", PasswordHash: h, Role: RoleViewer}},
	} {
		if _, err := New(Options{Operators: ops}); err == nil {
			t.Errorf("%+v accepted", ops)
		}
	}
}

func TestClientsShowCampaigns(t *testing.T) {
	srv, _ := newTestConsole(t)
	c := newClient(t, srv.URL)
	c.login("viewer")
	st, body, _ := c.get("/console/clients")
	if st != http.StatusOK {
		t.Fatalf("clients: %d", st)
	}
	for _, want := range []string{
		"8 <small>(6 unique, 2 previews, 13 links)</small>", // acme's totals
		`<tr data-campaign="diwali"><td>diwali</td><td>10</td><td class="clicks">7</td><td>5</td><td>2</td>`,
		`<tr data-campaign=""><td><em>(no campaign)</em></td><td>3</td><td class="clicks">1</td>`,
		"0 <small>(0 unique, 0 previews, 0 links)</small>", // quiet has none
	} {
		if !strings.Contains(body, want) {
			t.Errorf("clients page lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, `data-account="quiet"`) {
		t.Error("a table of campaigns for an account without any")
	}
}

func TestQueuesDepthPerPriority(t *testing.T) {
	srv, _ := newTestConsole(t)
	c := newClient(t, srv.URL)
	c.login("viewer")
	_, body, _ := c.get("/console/queues")
	for _, want := range []string{
		`<tr data-carrier="sim" data-priority="otp"><td rowspan="4">sim</td><td>otp</td><td>1</td><td>1</td>`,
		`<tr data-carrier="sim" data-priority="transactional"><td>transactional</td><td>4</td><td>1</td></tr>`,
		`<tr data-carrier="sim" data-priority="promotional"><td>promotional</td><td>0</td><td>0</td></tr>`,
		`data-priority="all"><td><strong>all</strong></td><td><strong>5</strong></td><td><strong>2</strong></td><td><strong>1</strong>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("queues page lacks %q:\n%s", want, body)
		}
	}
}
