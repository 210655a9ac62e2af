package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smppd/smppd/internal/wait"
	"github.com/smppd/smppd/smsc"
	"github.com/smppd/smppd/smsc/smsctest"
)

// startWithHTTP runs smppd with the given http section (indented under "http:") and one
// account, and returns the API's address once /readyz answers 200 on ops ("" = the API's).
func startWithHTTP(t *testing.T, httpLines, ops string) string {
	t.Helper()
	sim := smsctest.Start(t, smsc.Options{EnquireLinkInterval: -1})
	cfg := filepath.Join(t.TempDir(), "smppd.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`
log_level: error
http:
  listen: 127.0.0.1:0
%s
carriers:
  - name: sim
    binds:
      - addrs: [%q]
        system_id: smppd
        password: password
otp:
  key: 0123456789abcdef0123456789abcdef
accounts:
  - name: acme
    api_keys: [0123456789abcdef0123]
    sender_ids: [ACMEIN]
    dlt_entity: "1101557290000055412"
`, httpLines, sim.Addr())), 0o600); err != nil {
		t.Fatal(err)
	}
	api := startDaemonInProcess(t, cfg)
	if ops == "" {
		ops = api
	}
	wait.For(t, 10*time.Second, "ready", func() bool {
		resp, err := http.Get("http://" + ops + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return api
}

type httpResult struct {
	code  int
	ctype string
	body  string
}

func get(t *testing.T, method, url string) httpResult {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return httpResult{resp.StatusCode, resp.Header.Get("Content-Type"), string(b)}
}

// isEnvelope says whether r is the API's JSON error envelope with the given code.
func isEnvelope(r httpResult, code int) bool {
	var m map[string]string
	return r.code == code && strings.HasPrefix(r.ctype, "application/json") &&
		json.Unmarshal([]byte(r.body), &m) == nil && m["Status"] == "Error" && m["Details"] != ""
}

// TestPProfOffByDefault: profiles are served only with http.pprof, and then only on the
// internal listener; without an internal listener the API port answers exactly the
// operator's /healthz, /readyz and /metrics and everything else in JSON.
func TestPProfOffByDefault(t *testing.T) {
	t.Run("one listener", func(t *testing.T) {
		api := startWithHTTP(t, "", "")
		if r := get(t, "GET", "http://"+api+"/debug/pprof/"); !isEnvelope(r, http.StatusNotFound) {
			t.Errorf("pprof on the API listener: %+v", r)
		}
		for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
			if r := get(t, "GET", "http://"+api+p); r.code != http.StatusOK {
				t.Errorf("%s on the only listener: %+v", p, r)
			}
		}
		// Only those exact paths and methods: the rest is the API's.
		for _, c := range []struct{ method, path string }{{"POST", "/healthz"}, {"GET", "/healthz/"}, {"GET", "//metrics"},
			{"GET", "/"}, {"GET", "/favicon.ico"}, {"GET", "/admin/webhooks/dead"}} {
			if r := get(t, c.method, "http://"+api+c.path); !isEnvelope(r, r.code) || r.code < 400 || r.code >= 500 {
				t.Errorf("%s %s: %+v", c.method, c.path, r)
			}
		}
	})
	t.Run("internal listener without pprof", func(t *testing.T) {
		ops := freeAddr(t)
		api := startWithHTTP(t, "  metrics_listen: "+ops, ops)
		if r := get(t, "GET", "http://"+ops+"/debug/pprof/"); r.code != http.StatusNotFound {
			t.Errorf("pprof on the internal listener without http.pprof: %+v", r)
		}
		if r := get(t, "GET", "http://"+api+"/debug/pprof/"); !isEnvelope(r, http.StatusNotFound) {
			t.Errorf("pprof on the API listener: %+v", r)
		}
		if r := get(t, "GET", "http://"+api+"/healthz"); !isEnvelope(r, http.StatusNotFound) {
			t.Errorf("healthz on the API listener beside an internal one: %+v", r)
		}
	})
	t.Run("pprof on", func(t *testing.T) {
		ops := freeAddr(t)
		api := startWithHTTP(t, "  metrics_listen: "+ops+"\n  pprof: true", ops)
		if r := get(t, "GET", "http://"+ops+"/debug/pprof/"); r.code != http.StatusOK || !strings.Contains(r.body, "goroutine") {
			t.Errorf("pprof on the internal listener: %d %.200s", r.code, r.body)
		}
		if r := get(t, "GET", "http://"+ops+"/debug/pprof/profile?seconds=1"); r.code != http.StatusOK || len(r.body) == 0 {
			t.Errorf("CPU profile on the internal listener: %d", r.code)
		}
		if r := get(t, "GET", "http://"+api+"/debug/pprof/"); !isEnvelope(r, http.StatusNotFound) {
			t.Errorf("pprof on the API listener: %+v", r)
		}
	})
}
