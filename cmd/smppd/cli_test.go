package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smppd/smppd/internal/wait"
	"github.com/smppd/smppd/smsc"
	"github.com/smppd/smppd/smsc/smsctest"
	"github.com/smppd/smppd/store/storetest"
)

func TestCheckValidatesConfigAndRegistry(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"-config", "../../testdata/config/smppd.yaml", "-check"}, &out, &errOut, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "OK (2 carriers, 1 accounts, DLT registry with 2 entities)") {
		t.Fatalf("output %q", out.String())
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("carriers:\n  - name: x\n    binds: []\n"), 0o600)
	err := run(context.Background(), []string{"-config", bad, "-check"}, &out, &errOut, nil)
	if err == nil || !strings.Contains(err.Error(), "bad.yaml:3: carriers[0].binds: no binds") {
		t.Fatalf("err %v", err)
	}
}

func TestDLTImportPublishesToEveryInstance(t *testing.T) {
	sim := smsctest.Start(t, smsc.Options{EnquireLinkInterval: -1})
	prefix := storetest.UniquePrefix(t)
	st := storetest.OpenRedis(t, prefix)
	cfgPath, _ := killScenario(t, sim, prefix)
	reg, _ := os.ReadFile("../../testdata/dlt/registry.yaml")
	regPath := filepath.Join(filepath.Dir(cfgPath), "registry.yaml")
	os.WriteFile(regPath, reg, 0o600)
	cfgText, _ := os.ReadFile(cfgPath)
	os.WriteFile(cfgPath, append(cfgText, []byte("dlt:\n  registry: registry.yaml\n")...), 0o600)

	var out bytes.Buffer
	if err := run(context.Background(), []string{"-config", cfgPath, "-dlt-import"}, &out, os.Stderr, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "DLT registry imported: version 1, 2 entities") {
		t.Fatalf("output %q", out.String())
	}
	doc, v, err := st.LoadRegistry(context.Background())
	if err != nil || v != 1 || !strings.Contains(string(doc), "1107161234567890001") {
		t.Fatalf("stored registry v%d: %v", v, err)
	}
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestMetricsOnTheirOwnListener(t *testing.T) {
	sim := smsctest.Start(t, smsc.Options{EnquireLinkInterval: -1})
	ops := freeAddr(t)
	cfg := filepath.Join(t.TempDir(), "smppd.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
log_level: error
http:
  listen: 127.0.0.1:0
  metrics_listen: %s
carriers:
  - name: sim
    binds:
      - addrs: [%q]
        system_id: smppd
        password: password
`, ops, sim.Addr())), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	apiAddr := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-config", cfg}, io.Discard, io.Discard, func(a string) { apiAddr <- a })
	}()
	api := <-apiAddr
	wait.For(t, 10*time.Second, "ready on the ops listener", func() bool {
		resp, err := http.Get("http://" + ops + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	resp, err := http.Get("http://" + ops + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`smppd_bind_up{bind="trx-0.0",carrier="sim"} 1`,
		`smppd_queue_depth_priority{carrier="sim",priority="otp",state="ready"} 0`,
		`smppd_queue_depth_priority{carrier="sim",priority="promotional",state="pending"} 0`} {
		if !strings.Contains(string(body), want) {
			t.Fatalf("metrics lack %s:\n%s", want, body)
		}
	}
	if resp, err := http.Get("http://" + api + "/metrics"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("metrics on the API listener: %v %v", resp.StatusCode, err)
	}
	// The admin endpoints live on the internal listener only.
	for _, u := range []string{"http://" + ops + "/admin/webhooks/dead", "http://" + ops + "/admin/receipts/unmatched"} {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(b)) != "[]" && strings.TrimSpace(string(b)) != "null" {
			t.Fatalf("%s: %d %s", u, resp.StatusCode, b)
		}
	}
	resp, err = http.Post("http://"+ops+"/admin/webhooks/replay", "application/x-www-form-urlencoded", nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("replay: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	if resp, err := http.Get("http://" + api + "/admin/webhooks/dead"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("admin on the API listener: %v %v", resp.StatusCode, err)
	}
	// Without accounts the API listener still answers in the API's JSON.
	if r := get(t, "GET", "http://"+api+"/API/R1/"); !isEnvelope(r, http.StatusNotFound) {
		t.Fatalf("the API listener without accounts: %+v", r)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
