package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/smppd/smppd/dlt"
	pwhash "github.com/smppd/smppd/internal/passwd"
	"github.com/smppd/smppd/internal/wait"
	"github.com/smppd/smppd/smsc"
	"github.com/smppd/smppd/smsc/smsctest"
)

// chromium returns the browser the console tests drive: Debian's chromium (apt-get install
// chromium; .ci/run installs it), or another Chrome on PATH. Without one the test is skipped
// on a developer's machine and fails under CI (CI set), where the browser must be there.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium on PATH: under CI the console's browser test must run (.ci/run installs Debian's chromium)")
	}
	t.Skip("no chromium on PATH (apt-get install chromium): the console's browser test is skipped; under CI it fails instead")
	return ""
}

const (
	consoleAdminPass  = "correct horse battery"
	consoleViewerPass = "viewer horse battery"
	consoleKey        = "0123456789abcdef0123"
)

// consoleDaemon runs smppd in-process (memory store) with the API, one simulator carrier,
// an account whose webhook URL is on loopback (refused: its reports become dead letters),
// short links (their listener at shortAddr, durable clicks so that a click is counted when
// its 302 arrives), the internal listener and two console operators. It returns the API's
// and the internal listener's base URLs and the short-link listener's address.
func consoleDaemon(t *testing.T, sim *smsc.Server) (apiURL, opsURL, shortAddr string) {
	t.Helper()
	admin, err := pwhash.HashIter(consoleAdminPass, 1000)
	if err != nil {
		t.Fatal(err)
	}
	viewer, err := pwhash.HashIter(consoleViewerPass, 1000)
	if err != nil {
		t.Fatal(err)
	}
	ops := freeAddr(t)
	shortAddr = freeAddr(t)
	_, shortPort, _ := strings.Cut(shortAddr, ":")
	yaml := fmt.Sprintf(`
log_level: error
http:
  listen: 127.0.0.1:0
  metrics_listen: %s
otp:
  key: 0123456789abcdef0123456789abcdef
dlt:
  registry: registry.yaml
  max_var_len: 45
shortlinks:
  base_url: http://sl.localhost:%s
  listen: %s
  durable_clicks: true
dispatch:
  claim_wait: 100ms
carriers:
  - name: sim
    binds:
      - addrs: [%q]
        system_id: smppd
        password: password
        count: 2
        reconnect_min: 50ms
        reconnect_max: 200ms
accounts:
  - name: acme
    api_keys: [%q]
    sender_ids: [ACMEIN]
    dlt_entity: %q
    webhook_url: http://127.0.0.1:9/hooks/dlr
    transactional_credits: 1000
console:
  operators:
    - name: admin
      password_hash: %q
      role: admin
    - name: viewer
      password_hash: %q
      role: viewer
`, ops, shortPort, shortAddr, sim.Addr(), consoleKey, frontPE, admin, viewer)
	path := writeConfig(t, yaml)
	apiURL = "http://" + startDaemonInProcess(t, path)
	return apiURL, "http://" + ops, shortAddr
}

// sendR1 sends one transactional message through the real HTTP API and returns its id;
// extra form values (a campaign, shortenurl) are added to the request.
func sendR1(t *testing.T, apiURL, to, text string, extra ...string) string {
	t.Helper()
	form := url.Values{"module": {"TRANS_SMS"}, "apikey": {consoleKey}, "to": {to}, "from": {"ACMEIN"}, "msg": {text}}
	for i := 0; i+1 < len(extra); i += 2 {
		form.Set(extra[i], extra[i+1])
	}
	resp, err := http.PostForm(apiURL+"/API/R1/", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Status, Details string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Status != "Success" {
		t.Fatalf("send: %v %+v", err, out)
	}
	return out.Details + "-1"
}

// shot saves a full-page screenshot to $SMPPD_SCREENSHOTS/name.png when that is set (make
// screenshots); otherwise it does nothing.
func shot(name string) chromedp.Action[chromedp.Void] {
	dir := os.Getenv("SMPPD_SCREENSHOTS")
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if dir == "" {
			return nil
		}
		png, err := chromedp.FullScreenshot(100)(ctx, t)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
	})
}

// TestConsoleInBrowser drives headless Chromium through the console of a real smppd: a
// refused and an accepted login, a search that finds a message sent through the HTTP API,
// its page, the DLT tester, a dead-letter replay by an admin, a bind going down shown live
// by the carriers page without a reload, and forged forms refused.
func TestConsoleInBrowser(t *testing.T) {
	browser := chromium(t)
	sim := smsctest.Start(t, smsc.Options{EnquireLinkInterval: -1})
	apiURL, opsURL, shortAddr := consoleDaemon(t, sim)
	wait.For(t, 10*time.Second, "binds up", func() bool {
		resp, err := http.Get(opsURL + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	// The console is on the internal listener only.
	if resp, err := http.Get(apiURL + "/console/login"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("console on the API's port: %v %v", resp.StatusCode, err)
	}
	const to = "919812340042"
	id := sendR1(t, apiURL, to, "Rs.500 received for order A123. Thank you for shopping with ACME.")
	// A message of a campaign with its link shortened; the recipient clicks the short link.
	const linkTo = "919812340043"
	linkID := sendR1(t, apiURL, linkTo, "Your ACME order A123 is on its way. Track it at https://acme.in/t/A123 - ACME",
		"shortenurl", "1", "campaignname", "browser-diwali")
	var shortLink []string
	shortRE := regexp.MustCompile(`http://sl\.localhost:[0-9]+(/ACMEIN/[0-9A-Za-z]{10})`)
	wait.For(t, 10*time.Second, "the short link at the simulator", func() bool {
		for _, m := range sim.Messages(smsc.Filter{Dest: linkTo}) {
			if shortLink = shortRE.FindStringSubmatch(m.Text); shortLink != nil {
				return true
			}
		}
		return false
	})
	req, _ := http.NewRequest(http.MethodGet, "http://"+shortAddr+shortLink[1], nil)
	req.Header.Set("User-Agent", "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36")
	resp, err := http.DefaultTransport.RoundTrip(req) // no redirect followed
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "https://acme.in/t/A123" {
		t.Fatalf("short link %s: %d → %q", shortLink[0], resp.StatusCode, resp.Header.Get("Location"))
	}
	// Their receipts' webhooks go to a loopback address, which is refused: dead letters.
	wait.For(t, 15*time.Second, "the webhooks in the dead letters", func() bool {
		resp, err := http.Get(opsURL + "/admin/webhooks/dead")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), id) && strings.Contains(string(b), linkID)
	})

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 900), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	bctx, cancelB := chromedp.NewContext(actx)
	defer cancelB()
	// The first run starts the browser, and must not have a timeout (it would stop the
	// browser); the steps after it share one.
	if err := chromedp.Do(bctx, chromedp.Navigate(opsURL+"/console/messages")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancel := context.WithTimeout(bctx, 45*time.Second)
	defer cancel()
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	// navigating runs an action that loads another page (a form's submit, a link's click)
	// and returns once the new page has replaced the old and loaded: the old document is
	// marked first, so a query cannot run against it while it is being replaced.
	navigating := func(a chromedp.Action[chromedp.Void]) chromedp.Action[chromedp.Void] {
		mark := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](`window.consoleLeaving = true`)(ctx, tg)
			return err
		})
		arrived := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for {
				// Errors are expected while the old document goes away: poll on.
				if ok, err := chromedp.Evaluate[bool](`window.consoleLeaving !== true && document.readyState === "complete"`)(ctx, tg); err == nil && ok {
					return nil
				}
				select {
				case <-ctx.Done():
					return fmt.Errorf("the next page did not load: %w", ctx.Err())
				case <-tick.C:
				}
			}
		})
		return chromedp.Steps(mark, a, arrived)
	}
	login := func(name, pw string) {
		t.Helper()
		do("login as "+name,
			chromedp.Navigate(opsURL+"/console/messages"), // not logged in: the login page
			chromedp.WaitVisible(chromedp.ID("password")),
			chromedp.SetValue(chromedp.ID("name"), name),
			chromedp.SetValue(chromedp.ID("password"), pw),
			navigating(chromedp.Submit(chromedp.ID("login"))))
	}

	// A wrong password is refused; the right one opens the console.
	login("admin", "not the password")
	if alert := text(".error"); !strings.Contains(alert, "Wrong name or password") {
		t.Fatalf("wrong password: %q", alert)
	}
	do("login page", shot("login"))
	login("admin", consoleAdminPass)
	do("logged in", chromedp.WaitVisible(chromedp.ID("q")))

	// Search for the message by its session id, by its last digits and by its full number,
	// and open it.
	do("search", chromedp.SetValue(chromedp.ID("q"), id), navigating(chromedp.Submit(chromedp.ID("search"))))
	if results := text("#results"); !strings.Contains(results, id) || !strings.Contains(results, to) {
		t.Fatalf("search by id: %q", results)
	}
	for _, q := range []string{"0042", to} {
		do("search by number "+q, chromedp.Navigate(opsURL+"/console/messages"), chromedp.SetValue(chromedp.ID("q"), q),
			navigating(chromedp.Submit(chromedp.ID("search"))))
		if results := text("#results"); !strings.Contains(results, id) {
			t.Fatalf("search by number %s: %q", q, results)
		}
	}
	do("search page", shot("messages"))
	do("message page", navigating(chromedp.Click(chromedp.CSS("#results a"))), chromedp.WaitVisible(chromedp.ID("timeline")), shot("message"))
	if status, timeline := text("#status"), text("#timeline"); status != "DELIVERED" || !strings.Contains(timeline, "accepted") {
		t.Fatalf("message page: status %q, timeline %q", status, timeline)
	}
	// Its DLT data: the entity and template the API matched, and the chain hash it was sent
	// with (direct: PE → this smppd's TM-D).
	if d := text("#dlt"); !strings.Contains(d, frontPE) || !strings.Contains(d, "1107161234567890") ||
		!strings.Contains(d, dlt.ChainHash(frontPE, "1702157571346669272")) {
		t.Fatalf("message page DLT: %q", d)
	}

	// The DLT tester: a text that matches.
	do("dlt tester", chromedp.Navigate(opsURL+"/console/dlt?entity="+frontPE+"&text="+url.QueryEscape("Rs.750 received for order B9. Thank you for shopping with ACME.")),
		chromedp.WaitVisible(chromedp.ID("verdict")), shot("dlt"))
	if verdict := text("#verdict"); !strings.Contains(verdict, "Passes") {
		t.Fatalf("tester: %q", verdict)
	}
	// Upload a portal export: one good row, one naming a header the entity does not have.
	csvPath := filepath.Join(t.TempDir(), "export.csv")
	csvData := "TEMPLATE_ID,TEMPLATE_NAME,TEMPLATE_CONTENT,HEADER,TEMPLATE_TYPE,STATUS\n" +
		"1107161234567899001,refund done,Refund of Rs.{#numeric#} is done. - ACME,ACMEIN,Transactional,Approved\n" +
		"1107161234567899002,bad header,Hello {#var#} - ACME,NOSUCH,Transactional,Approved\n"
	if err := os.WriteFile(csvPath, []byte(csvData), 0o600); err != nil {
		t.Fatal(err)
	}
	do("dlt upload", chromedp.SetValue(chromedp.ID("u-entity"), frontPE), chromedp.SetUploadFiles(chromedp.ID("u-file"), []string{csvPath}),
		navigating(chromedp.Submit(chromedp.ID("upload"))), chromedp.WaitVisible(chromedp.ID("upload-result")))
	if res := text("#upload-result"); !strings.Contains(res, "1 template(s) added") || !strings.Contains(res, "line 3") || !strings.Contains(res, "NOSUCH") {
		t.Fatalf("upload: %q", res)
	}
	do("tester with the uploaded template", chromedp.Navigate(opsURL+"/console/dlt?entity="+frontPE+"&header=ACMEIN&text="+url.QueryEscape("Refund of Rs.99 is done. - ACME")),
		chromedp.WaitVisible(chromedp.ID("verdict")))
	if verdict := text("#verdict"); !strings.Contains(verdict, "1107161234567899001") {
		t.Fatalf("tester after the upload: %q", verdict)
	}
	do("clients", chromedp.Navigate(opsURL+"/console/clients"), chromedp.WaitVisible(chromedp.ID("accounts")), shot("clients"))
	if accts := text("#accounts"); !strings.Contains(accts, "acme") || !strings.Contains(accts, "998") { // 1000 less the two sent
		t.Fatalf("clients: %q", accts)
	}
	// The campaign's click, counted by the redirector, on the clients page.
	if clicks := text(`table[data-account="acme"] tr[data-campaign="browser-diwali"] .clicks`); clicks != "1" {
		t.Fatalf("clicks of the campaign: %q\n%s", clicks, text("#shortlinks"))
	}
	if accts := text("#accounts"); !strings.Contains(accts, "1 (1 unique, 0 previews, 1 links)") {
		t.Fatalf("clients' short-link totals: %q", accts)
	}

	// Replay the dead letter (admin, through the form and its CSRF token).
	do("queues", chromedp.Navigate(opsURL+"/console/queues"), chromedp.WaitVisible(chromedp.CSS(".replay-btn")), shot("queues"),
		navigating(chromedp.Click(chromedp.CSS(".replay-btn"))), chromedp.WaitVisible(chromedp.ID("replayed")))
	if notice := text("#replayed"); !strings.Contains(notice, "Replayed 2 dead letter") {
		t.Fatalf("replay: %q", notice)
	}

	// Carriers, live: the page is marked, the simulator stops, the binds show down by the
	// fragment's refresh — and the mark is still there, so the page was never reloaded.
	do("carriers", chromedp.Navigate(opsURL+"/console/carriers"), chromedp.WaitVisible(chromedp.CSS(".bind-state")), shot("carriers"))
	if st := text(".bind-state"); st != "bound" {
		t.Fatalf("bind state before: %q", st)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.consoleMark = 42`)); err != nil {
		t.Fatal(err)
	}
	sim.Close()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`[...document.querySelectorAll(".bind-state")].every(e => e.textContent.trim() === "down")`,
		chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("binds not shown down: %v", err)
	}
	if mark, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.consoleMark`)); err != nil || mark != 42 {
		t.Fatalf("the carriers page was reloaded instead of refreshing its fragment: %v %v", mark, err)
	}

	// Forged forms: the session's cookie without the page's token, or with a wrong one, or
	// the right token from another origin, are refused.
	cookies, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{opsURL + "/console/"}})
	if err != nil {
		t.Fatal(err)
	}
	do("queues again", chromedp.Navigate(opsURL+"/console/queues"))
	tok, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(`input[name="csrf"]`)))
	if err != nil {
		t.Fatal(err)
	}
	var sess string
	for _, c := range cookies.Cookies {
		if c.Name == "smppd_console" {
			sess = c.Value
			if !c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict {
				t.Errorf("cookie %+v: want HttpOnly and SameSite=Strict", c)
			}
		}
	}
	if sess == "" || tok == "" {
		t.Fatalf("session %q token %q", sess, tok)
	}
	for _, tc := range []struct{ name, token, origin string }{
		{"no token", "", opsURL},
		{"wrong token", strings.Repeat("ab", 32), opsURL},
		{"other origin", tok, "https://evil.example"},
	} {
		form := url.Values{"all": {"1"}}
		if tc.token != "" {
			form.Set("csrf", tc.token)
		}
		req, _ := http.NewRequest(http.MethodPost, opsURL+"/console/queues/replay", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", tc.origin)
		req.AddCookie(&http.Cookie{Name: "smppd_console", Value: sess})
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", tc.name, resp.StatusCode)
		}
	}
	// In the browser too: a script of the page posting without the token gets 403.
	code, err := chromedp.Run(ctx, chromedp.Evaluate[int](`fetch("/console/queues/replay", {method: "POST", body: new URLSearchParams({all: "1"})}).then(r => r.status)`,
		chromedp.EvalAwaitPromise))
	if err != nil || code != http.StatusForbidden {
		t.Fatalf("fetch without token: %d %v", code, err)
	}

	// Log out; a viewer sees the message with its number masked, and no replay button.
	do("logout", chromedp.Navigate(opsURL+"/console/messages"), navigating(chromedp.Submit(chromedp.CSS("form.logout"))), chromedp.WaitVisible(chromedp.ID("password")))
	login("viewer", consoleViewerPass)
	do("viewer search", chromedp.WaitVisible(chromedp.ID("q")), chromedp.SetValue(chromedp.ID("q"), id), navigating(chromedp.Submit(chromedp.ID("search"))))
	if results := text("#results"); !strings.Contains(results, id) || strings.Contains(results, to) || !strings.Contains(results, "91********42") {
		t.Fatalf("viewer search: %q", results)
	}
	do("viewer queues", chromedp.Navigate(opsURL+"/console/queues"), chromedp.WaitVisible(chromedp.ID("depths")))
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(".replay-btn").length`)); err != nil || n != 0 {
		t.Fatalf("viewer sees %d replay buttons (%v)", n, err)
	}
}

// lockedBuffer is a log sink run's goroutines may write while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Without http.metrics_listen the console stays off — it is never served on the API's
// port — and the startup log says why.
func TestConsoleOffWithoutInternalListener(t *testing.T) {
	sim := smsctest.Start(t, smsc.Options{EnquireLinkInterval: -1})
	h, err := pwhash.HashIter(consoleAdminPass, 1000)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "smppd.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`
log_level: warn
http:
  listen: 127.0.0.1:0
carriers:
  - name: sim
    binds:
      - addrs: [%q]
        system_id: smppd
        password: password
console:
  operators:
    - name: admin
      password_hash: %q
      role: admin
`, sim.Addr(), h)), 0o600); err != nil {
		t.Fatal(err)
	}
	var log lockedBuffer
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-config", cfg}, io.Discard, &log, func(a string) { addr <- a }) }()
	var a string
	select {
	case a = <-addr:
	case err := <-done:
		cancel()
		t.Fatalf("smppd did not start: %v", err)
	}
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	if !strings.Contains(log.String(), "console: off: http.metrics_listen is not set") {
		t.Fatalf("startup log does not say why the console is off:\n%s", log.String())
	}
	resp, err := http.Get("http://" + a + "/console/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("console on the API's port: %d", resp.StatusCode)
	}
}
