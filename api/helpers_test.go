package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smppd/smppd/dlt"
	"github.com/smppd/smppd/otp"
	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/memstore"
)

const (
	testRegistry = "../testdata/dlt/registry.yaml"
	acmePE       = "1101557290000055412"
	otpCT        = "1107161234567890001"
	promoCT      = "1107161234567890005"
	paymentCT    = "1107161234567890004"
	key1         = "7e825d24-1111-11ef-8b17-0200cd936042"
	keySandbox   = "7e825d24-2222-11ef-8b17-0200cd936042"
	keyDisabled  = "7e825d24-3333-11ef-8b17-0200cd936042"
	keyExpired   = "7e825d24-4444-11ef-8b17-0200cd936042"
	keyIP        = "7e825d24-5555-11ef-8b17-0200cd936042"
	keyPoor      = "7e825d24-6666-11ef-8b17-0200cd936042"
	keyNoReg     = "7e825d24-7777-11ef-8b17-0200cd936042"
	keyLegacy    = "7e825d24-8888-11ef-8b17-0200cd936042"
	keySlow      = "7e825d24-9999-11ef-8b17-0200cd936042"
	keyDefer     = "7e825d24-aaaa-11ef-8b17-0200cd936042"
	otpText      = "Your OTP for login is %s. Do not share it with anyone. - ACME"
	paymentText  = "Rs.500 received for order A123. Thank you for shopping with ACME."
	promoText    = "Big Diwali sale! Flat 50% off on shoes. Shop now at https://acme.in/sale T&C apply - ACME"
)

var encKey = []byte("0123456789abcdef0123456789ABCDEF")

// fakeSender records what it is given and fails when told to.
type fakeSender struct {
	mu     sync.Mutex
	msgs   []*store.Message
	fail   atomic.Bool
	failAs atomic.Pointer[error] // when set, Submit returns this error
}

func (f *fakeSender) Submit(_ context.Context, msgs ...*store.Message) error {
	if f.fail.Load() {
		return errors.New("store down")
	}
	if err := f.failAs.Load(); err != nil {
		return *err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range msgs {
		c := *m
		f.msgs = append(f.msgs, &c)
	}
	return nil
}

func (f *fakeSender) sent() []*store.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*store.Message(nil), f.msgs...)
}

type testClock struct{ ns atomic.Int64 }

func (c *testClock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *testClock) set(t time.Time)     { c.ns.Store(t.UnixNano()) }
func (c *testClock) add(d time.Duration) { c.ns.Add(int64(d)) }

// noon is inside the promotional window.
var noon = time.Date(2026, 11, 23, 12, 0, 0, 0, dlt.IST)

type env struct {
	srv    *Server
	h      http.Handler
	sender *fakeSender
	st     *memstore.Store
	clock  *testClock
	otp    *otp.Service
}

func i64(n int64) *int64 { return &n }

func testAccounts() []Account {
	base := Account{SenderIDs: []string{"ACMEIN", "512345"}, DLTEntity: acmePE, OTPTemplate: otpCT,
		OTPTemplates: map[string]string{"OTP1": otpCT}, WebhookURL: "https://hooks.example.com/dlr", EncKey: encKey}
	acct := func(name, key string, mod func(*Account)) Account {
		a := base
		a.Name, a.APIKeys = name, []string{key}
		if name != "acme" {
			a.EncKey = nil
		}
		if mod != nil {
			mod(&a)
		}
		return a
	}
	return []Account{
		acct("acme", key1, func(a *Account) { a.TransactionalCredits = i64(1000); a.PromotionalCredits = i64(50) }),
		acct("sandbox", keySandbox, func(a *Account) { a.Sandbox = true }),
		acct("disabled", keyDisabled, func(a *Account) { a.Disabled = true }),
		acct("expired", keyExpired, func(a *Account) { a.ExpiresAt = noon.Add(-time.Hour) }),
		acct("iponly", keyIP, func(a *Account) { a.IPAllow = []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")} }),
		acct("poor", keyPoor, func(a *Account) { a.TransactionalCredits = i64(1) }),
		acct("legacy", keyLegacy, func(a *Account) { a.LegacyExpiredSuccess = true }),
		acct("slow", keySlow, func(a *Account) { a.RateLimit = 2 }),
		acct("defer", keyDefer, func(a *Account) { a.DeferPromotional = true }),
	}
}

func newEnv(t *testing.T, mod func(*Options)) *env {
	t.Helper()
	reg, err := dlt.LoadYAMLFile(testRegistry)
	if err != nil {
		t.Fatal(err)
	}
	st := memstore.New()
	t.Cleanup(func() { st.Close() })
	c := &testClock{}
	c.set(noon)
	svc, err := otp.New(otp.Options{Store: st, Key: []byte("an otp hmac key of at least 32 bytes!"), Now: c.now, MaxAttempts: 3, SendLimit: 5})
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeSender{}
	o := Options{Accounts: testAccounts(), Sender: f, OTP: svc, Credits: st, Records: st,
		Registry: func() *dlt.Registry { return reg }, Now: c.now, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.1/32")},
		Shortlinks: ShortlinkOptions{Base: shortBase, Store: st}}
	if mod != nil {
		mod(&o)
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return &env{srv: s, h: s.Handler(), sender: f, st: st, clock: c, otp: svc}
}

type resp struct {
	code int
	body string
	m    map[string]any
}

func (e *env) do(method, target, ctype, body string, hdr ...string) resp {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, target, rd)
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	r.RemoteAddr = "192.0.2.10:5555"
	if v := r.Header.Get("X-Test-Remote"); v != "" {
		r.RemoteAddr = v
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	out := resp{code: w.Code, body: w.Body.String()}
	_ = json.Unmarshal(w.Body.Bytes(), &out.m)
	return out
}

func (r resp) str(k string) string { s, _ := r.m[k].(string); return s }

// expect checks code, Status and a Details prefix ("" skips it); it also checks that every
// value of a 2Factor envelope is a string.
func expect(t *testing.T, r resp, code int, status, details string) {
	t.Helper()
	if r.code != code || r.str("Status") != status || !strings.HasPrefix(r.str("Details"), details) {
		t.Fatalf("got %d %s, want %d %s %q…", r.code, r.body, code, status, details)
	}
	for k, v := range r.m {
		if _, ok := v.(string); !ok {
			t.Fatalf("%s is %T in %s: every value must be a string", k, v, r.body)
		}
	}
}

func isUUID4(s string) bool {
	return len(s) == 36 && s[14] == '4' && s[8] == '-' && s[13] == '-' && s[18] == '-' && s[23] == '-'
}

// recorded is a reply with its Retry-After header.
type recorded struct {
	resp
	retryAfter string
}

func (e *env) doRec(method, target, ctype, body string) recorded {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, target, rd)
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	r.RemoteAddr = "192.0.2.10:5555"
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	out := recorded{resp: resp{code: w.Code, body: w.Body.String()}, retryAfter: w.Header().Get("Retry-After")}
	_ = json.Unmarshal(w.Body.Bytes(), &out.m)
	return out
}
