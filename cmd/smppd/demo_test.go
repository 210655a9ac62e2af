package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/smppd/smppd/internal/wait"
)

// TestDemoQuickStart runs the README's first command (smppd without -config) and walks the
// commands the demo prints: an OTP sent and verified, a transactional message with a short
// link that the simulated operator receives, the link's 302 and its click counted, the
// console's login on the internal listener (and nowhere on the API's port).
func TestDemoQuickStart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out, logs lockedBuffer
	addr, done := make(chan string, 1), make(chan error, 1)
	go func() { done <- run(ctx, []string{"-http", "127.0.0.1:0"}, &out, &logs, func(a string) { addr <- a }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	var api string
	select {
	case a := <-addr:
		api = "http://" + a
	case err := <-done:
		t.Fatalf("demo stopped: %v\n%s", err, logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("demo did not start\n%s", logs.String())
	}
	banner := out.String()
	field := func(re string) string {
		m := regexp.MustCompile(re).FindStringSubmatch(banner)
		if m == nil {
			t.Fatalf("banner has no %s:\n%s", re, banner)
		}
		return m[1]
	}
	key := field(`demo API key:\s+(\S+)`)
	ops := field(`internal:\s+(http://\S+)`)
	pass := field(`login admin / (\S+)`)

	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	getJSON := func(u string, form url.Values, v any) int {
		t.Helper()
		var resp *http.Response
		var err error
		if form == nil {
			resp, err = client.Get(u)
		} else {
			resp, err = client.PostForm(u, form)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if v != nil {
			if err := json.Unmarshal(b, v); err != nil {
				t.Fatalf("%s: %d %q is not JSON: %v", u, resp.StatusCode, b, err)
			}
		}
		return resp.StatusCode
	}

	// The OTP, as printed.
	var otpReply struct{ Status, Details, OTP string }
	getJSON(api+"/API/V1/"+key+"/SMS/+919812345678/AUTOGEN2/OTP1", nil, &otpReply)
	if otpReply.Status != "Success" || otpReply.OTP == "" {
		t.Fatalf("OTP: %+v", otpReply)
	}
	var verify struct{ Status, Details string }
	getJSON(api+"/API/V1/"+key+"/SMS/VERIFY/"+otpReply.Details+"/"+otpReply.OTP, nil, &verify)
	if verify.Details != "OTP Matched" {
		t.Fatalf("verify: %+v", verify)
	}

	// The short link: sent, received by the operator, followed, counted.
	var sent struct{ Status, Details string }
	getJSON(api+"/API/R1/", url.Values{"module": {"TRANS_SMS"}, "apikey": {key}, "to": {"919812345678"}, "from": {"ACMEIN"},
		"shortenurl": {"1"}, "campaignname": {"demo"},
		"msg": {"Your ACME order A123 is on its way. Track it at https://example.com/track/A123 - ACME"}}, &sent)
	if sent.Status != "Success" {
		t.Fatalf("R1 with a short link: %+v", sent)
	}
	link := regexp.MustCompile(`http://sl\.localhost:\d+/ACMEIN/[0-9A-Za-z]+`)
	var short string
	wait.For(t, 10*time.Second, "the operator receives the short link", func() bool {
		resp, err := client.Get(ops + "/demo/operator/api/messages?limit=5")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		short = link.FindString(string(b))
		return short != ""
	})
	// sl.localhost is the loopback: ask it on 127.0.0.1 with its Host.
	u, _ := url.Parse(short)
	req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:"+u.Port()+u.Path, nil)
	req.Host = u.Host
	req.Header.Set("User-Agent", "Mozilla/5.0 (Linux; Android 14) Mobile")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "https://example.com/track/A123" {
		t.Fatalf("short link: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	wait.For(t, 10*time.Second, "the click counted", func() bool {
		var stats struct {
			Status  string
			Details struct{ Clicks int64 }
		}
		getJSON(api+"/API/V1/"+key+"/SHORTLINK/STATS/demo", nil, &stats)
		return stats.Details.Clicks == 1
	})

	// The console is on the internal listener, and its printed login works; the API's port
	// answers JSON for it, as for any unknown path.
	var notFound struct{ Status string }
	if code := getJSON(api+"/console/", nil, &notFound); code != http.StatusNotFound || notFound.Status != "Error" {
		t.Fatalf("console on the API port: %d %+v", code, notFound)
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Timeout: 10 * time.Second, Jar: jar}
	page, err := browser.Get(ops + "/console/login")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(page.Body)
	page.Body.Close()
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(string(body))
	form := url.Values{"name": {"admin"}, "password": {pass}}
	if csrf != nil {
		form.Set("csrf", csrf[1])
	}
	req, _ = http.NewRequest(http.MethodPost, ops+"/console/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", ops)
	resp, err = browser.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "Log out") {
		t.Fatalf("console login with the printed password: %d\n%s", resp.StatusCode, body)
	}
}
