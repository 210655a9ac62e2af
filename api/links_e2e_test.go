package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smppd/smppd/api/shortlink"
	"github.com/smppd/smppd/dlr"
	"github.com/smppd/smppd/internal/wait"
	"github.com/smppd/smppd/store"
)

// clickReceiver is a client's click webhook endpoint.
type clickReceiver struct {
	mu    sync.Mutex
	posts []url.Values
	sigs  []string
}

func (c *clickReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	v, _ := url.ParseQuery(string(b))
	if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		v.Set("_bad_content_type", r.Header.Get("Content-Type"))
	}
	c.mu.Lock()
	c.posts = append(c.posts, v)
	c.sigs = append(c.sigs, r.Header.Get(dlr.SignatureHeader))
	c.mu.Unlock()
}

func (c *clickReceiver) got() []url.Values {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]url.Values(nil), c.posts...)
}

// TestEndToEndShortlinks: R1 with shortenurl, campaignname, campaignwebhook and
// shortenurlcallback over real TCP and Redis → the operator (simulator) gets the short link
// → a GET on the redirect listener answers 302 to the original URL → the click webhook
// reaches the client's endpoint through the durable webhook queue, signed; a preview is
// counted and posts nothing; unknown and expired codes answer 404 JSON; the stats endpoint
// counts; Bulk shortens per message.
func TestEndToEndShortlinks(t *testing.T) {
	p := newPipeline(t, false, func(o *Options) {
		withTracking(t)(o)
		o.Shortlinks = ShortlinkOptions{Base: shortBase, Store: o.Credits.(store.Links)}
	})
	sl, err := shortlink.New(shortlink.Options{BaseURL: shortBase, Store: p.st,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	if err != nil {
		t.Fatal(err)
	}
	slSrv := httptest.NewServer(sl)
	t.Cleanup(func() { slSrv.Close(); _ = sl.Shutdown(context.Background()) })
	recv := &clickReceiver{}
	hook := httptest.NewServer(recv)
	t.Cleanup(hook.Close)
	sender, err := dlr.NewSender(dlr.SenderOptions{Store: p.st, AllowPrivate: true, PollEvery: 20 * time.Millisecond,
		Secret: "click-secret", MinBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	sender.Start()
	t.Cleanup(func() { _ = sender.Shutdown(context.Background()) })

	long := "https://shop.example.com/track?o=A123&utm_source=sms"
	phone := "9812345601"
	fu := "application/x-www-form-urlencoded"
	code, m := p.call(t, "POST", "/API/R1/", fu, form("module", "TRANS_SMS", "apikey", key1, "to", phone, "from", "ACMEIN",
		"msg", fmt.Sprintf(trackText, long), "shortenurl", "1", "campaignname", "e2e-diwali",
		"campaignwebhook", hook.URL+"/clicks", "shortenurlcallback", "order-A123"))
	if code != 200 || m["Status"] != "Success" {
		t.Fatalf("send: %d %v", code, m)
	}
	var text string
	wait.For(t, 10*time.Second, "the message at the operator", func() bool {
		if ms := p.simMessages(t, "91"+phone); len(ms) > 0 {
			text = ms[0].Text
			return true
		}
		return false
	})
	sm := shortRE.FindStringSubmatch(text)
	if sm == nil || text != fmt.Sprintf(trackText, sm[0]) {
		t.Fatalf("the operator got %q", text)
	}
	path := "/" + sm[1] + "/" + sm[2] // the CDN forwards the short link's path to the listener

	noFollow := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(method, path, ua string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, slSrv.URL+path, nil)
		req.Header.Set("User-Agent", ua)
		req.Header.Set("X-Forwarded-For", "49.36.10.20")
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	stats := func() store.LinkStats {
		st, err := p.st.CampaignStats(context.Background(), "acme", "e2e-diwali")
		if err != nil {
			t.Fatal(err)
		}
		return st
	}

	// A preview fetcher first: 302 (the card works), counted as a preview, no webhook.
	if resp, _ := get("GET", path, "WhatsApp/2.24.1 A"); resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != long {
		t.Fatalf("preview: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	wait.For(t, 5*time.Second, "the preview counted", func() bool { return stats().Previews == 1 })
	if c, err := p.st.WebhookCounts(context.Background()); err != nil || c.Queued != 0 || len(recv.got()) != 0 {
		t.Fatalf("a preview queued a webhook: %+v %v, %d received", c, err, len(recv.got()))
	}

	// A person: 302 to the original URL, not cacheable.
	resp, _ := get("GET", path, "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/131.0 Mobile Safari/537.36")
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != long || resp.Header.Get("Cache-Control") != "no-store, private" {
		t.Fatalf("click: %d %v", resp.StatusCode, resp.Header)
	}
	wait.For(t, 10*time.Second, "the click webhook", func() bool { return len(recv.got()) == 1 })
	v := recv.got()[0]
	if v.Get("phoneNo") != phone || v.Get("campaignName") != "e2e-diwali" || v.Get("ip") != "49.36.10.20" ||
		v.Get("callback") != "order-A123" || v.Get("_bad_content_type") != "" {
		t.Fatalf("webhook %v", v)
	}
	if at, err := time.ParseInLocation("2006-01-02 15:04:05", v.Get("accessed"), time.FixedZone("IST", 5*3600+1800)); err != nil || time.Since(at).Abs() > time.Minute {
		t.Fatalf("accessed %q: %v", v.Get("accessed"), err)
	}
	if recv.sigs[0] == "" {
		t.Fatal("the click webhook is not signed")
	}
	// The tolerated form /<code>, then a second click: counted, not unique.
	if resp, _ := get("GET", "/"+sm[2], "Mozilla/5.0"); resp.StatusCode != http.StatusFound {
		t.Fatalf("/code: %d", resp.StatusCode)
	}
	wait.For(t, 10*time.Second, "the second click webhook", func() bool { return len(recv.got()) == 2 })
	if st := stats(); st != (store.LinkStats{Links: 1, Clicks: 2, UniqueClicks: 1, Previews: 1}) {
		t.Fatalf("stats %+v", st)
	}
	code, m = p.call(t, "GET", "/API/V1/"+key1+"/SHORTLINK/STATS/e2e-diwali", "", "")
	d, _ := m["Details"].(map[string]any)
	if code != 200 || m["Status"] != "Success" || d["clicks"] != float64(2) || d["unique_clicks"] != float64(1) || d["previews"] != float64(1) || d["links"] != float64(1) {
		t.Fatalf("stats endpoint: %d %v", code, m)
	}

	// Unknown code, other paths and methods: JSON errors.
	for _, c := range []struct {
		method, path string
		code         int
	}{{"GET", "/ACMEIN/" + shortlink.NewCode(), 404}, {"GET", "/favicon.ico", 404}, {"POST", path, 405}} {
		resp, body := get(c.method, c.path, "Mozilla/5.0")
		var env struct{ Status, Details string }
		if resp.StatusCode != c.code || json.Unmarshal([]byte(body), &env) != nil || env.Status != "Error" {
			t.Fatalf("%s %s: %d %q", c.method, c.path, resp.StatusCode, body)
		}
	}

	// Expiry: a link past its TTL answers 404.
	exp := &store.Link{Code: shortlink.NewCode(), URL: long, Header: "ACMEIN", Phone: "919812345602", Account: "acme", Campaign: "e2e-exp"}
	if err := p.st.PutLinks(context.Background(), []*store.Link{exp}, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if resp, _ := get("GET", "/ACMEIN/"+exp.Code, "Mozilla/5.0"); resp.StatusCode != http.StatusFound {
		t.Fatalf("fresh link: %d", resp.StatusCode)
	}
	wait.For(t, 5*time.Second, "the link to expire", func() bool {
		resp, _ := get("GET", "/ACMEIN/"+exp.Code, "Mozilla/5.0")
		return resp.StatusCode == http.StatusNotFound
	})

	// Bulk: per message.
	body := fmt.Sprintf(`{"module":"TRANS_SMS","apikey":%q,"messages":[
		{"smsFrom":"ACMEIN","smsTo":"9812345603","smsText":%q,"shortenurl":"1","campaignname":"e2e-bulk"},
		{"smsFrom":"ACMEIN","smsTo":"9812345604","smsText":%q}]}`, key1, fmt.Sprintf(trackText, "https://shop.example.com/b1"), fmt.Sprintf(trackText, "https://acme.in/b2"))
	if code, _ := p.call(t, "POST", "/API/R1/Bulk/", "application/json", body); code != 200 {
		t.Fatalf("bulk: %d", code)
	}
	var t3, t4 string
	wait.For(t, 10*time.Second, "the bulk messages at the operator", func() bool {
		a, b := p.simMessages(t, "919812345603"), p.simMessages(t, "919812345604")
		if len(a) > 0 && len(b) > 0 {
			t3, t4 = a[0].Text, b[0].Text
			return true
		}
		return false
	})
	if !shortRE.MatchString(t3) || strings.Contains(t4, shortBase) {
		t.Fatalf("bulk texts %q / %q", t3, t4)
	}
}

// TestEndToEndShortlinkNotWhitelisted: a short domain the entity has not whitelisted is
// refused before anything is sent, saying what to whitelist.
func TestEndToEndShortlinkNotWhitelisted(t *testing.T) {
	p := newPipeline(t, false, func(o *Options) {
		withTracking(t)(o)
		o.Shortlinks = ShortlinkOptions{Base: "https://e.1rp.in", Store: o.Credits.(store.Links)}
	})
	code, m := p.call(t, "POST", "/API/R1/", "application/x-www-form-urlencoded", form("module", "TRANS_SMS", "apikey", key1,
		"to", "9812345605", "from", "ACMEIN", "msg", fmt.Sprintf(trackText, "https://shop.example.com/x"), "shortenurl", "1"))
	if code != 200 || m["Status"] != "Error" || !strings.Contains(fmt.Sprint(m["Details"]), "whitelist https://e.1rp.in/ACMEIN/** on the DLT portal") {
		t.Fatalf("%d %v", code, m)
	}
	if ms := p.simMessages(t, "919812345605"); len(ms) != 0 {
		t.Fatalf("sent %d", len(ms))
	}
}
