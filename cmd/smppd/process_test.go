package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/smppd/smppd/config"
	"github.com/smppd/smppd/dispatch"
	"github.com/smppd/smppd/internal/wait"
	"github.com/smppd/smppd/smsc"
	"github.com/smppd/smppd/smsc/smsctest"
	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/storetest"
)

// These tests run the real smppd binary against the simulator and a real Redis
// (REDIS_URL, default redis://127.0.0.1:6379/0), kill it, and check what reached the
// carrier.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func smppdBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "smppd-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "smppd")
		out, err := exec.Command("go", "build", "-race", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// killScenario writes a config for one carrier at sim, on Redis under prefix.
func killScenario(t *testing.T, sim *smsc.Server, prefix string) (string, *config.Config) {
	yaml := fmt.Sprintf(`
log_level: warn
instance: kill-test
http:
  listen: 127.0.0.1:0
store:
  type: redis
  redis_url: %s
  prefix: %s
  text_key: %s # the key storetest.OpenRedis seals with: the test writes, smppd reads
dispatch:
  claim_wait: 100ms
  hold_limit: 1s
  reclaim_after: 4s
carriers:
  - name: sim
    text:
      max_parts: 1
    dlt:
      tm_chain: ["1702123456789012345"]
    binds:
      - addrs: [%q]
        system_id: smppd
        password: password
        count: 2
        window: 20
        response_timeout: 1s
        reconnect_min: 20ms
`, storetest.RedisURL(), prefix, storetest.TextKeyBase64(), sim.Addr())
	path := filepath.Join(t.TempDir(), "smppd.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(path, []byte(yaml), os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	return path, cfg
}

// submitVia accepts messages into the store a daemon will read, as the API would: through a
// dispatcher that is never started.
func submitVia(t *testing.T, o dispatch.Options, msgs []*store.Message) {
	t.Helper()
	d, err := dispatch.New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Submit(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
}

// enqueue accepts n messages into the store the daemon will read.
func enqueue(t *testing.T, cfg *config.Config, st store.Store, n int) []string {
	o, err := cfg.DispatchOptions()
	if err != nil {
		t.Fatal(err)
	}
	o.Store = st
	ids := make([]string, 0, n)
	for i := 0; i < n; i += 500 {
		var batch []*store.Message
		for j := i; j < min(i+500, n); j++ {
			batch = append(batch, &store.Message{Account: "acme", From: "ACMEIN", To: fmt.Sprintf("9198%08d", j),
				Priority: store.PriorityTransactional, Text: fmt.Sprintf("Your OTP is %06d", j),
				PEID: "1101234567890123456", TemplateID: "1107161234567890123"})
		}
		submitVia(t, o, batch)
		for _, m := range batch {
			ids = append(ids, m.ID)
		}
	}
	return ids
}

func startDaemon(t *testing.T, cfgPath string) *exec.Cmd {
	cmd := exec.Command(smppdBinary(t), "-config", cfgPath)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	return cmd
}

func countAccepted(sim *smsc.Server) (distinct, total int) {
	seen := map[string]bool{}
	for _, m := range sim.Messages(smsc.Filter{}) {
		if m.Status == "ESME_ROK" {
			seen[m.Dest.Addr] = true
			total++
		}
	}
	return len(seen), total
}

func TestSIGKILLWithMessagesInFlightLosesNothing(t *testing.T) {
	// Latency keeps submits in flight at the moment of the kill; no receipts, so only the
	// submits are in play.
	sim := smsctest.Start(t, smsc.Options{EnquireLinkInterval: -1, Accounts: []smsc.Account{{
		SystemID: "smppd", Password: "password",
		Latency:  smsc.Latency{Min: 2 * time.Millisecond, Max: 8 * time.Millisecond},
		Receipts: smsc.Receipts{Rules: []smsc.Rule{{Prefix: "91", NoReceipt: true}}},
	}}})
	prefix := storetest.UniquePrefix(t)
	st := storetest.OpenRedis(t, prefix)
	cfgPath, cfg := killScenario(t, sim, prefix)
	const n = 3000
	ids := enqueue(t, cfg, st, n)

	first := startDaemon(t, cfgPath)
	wait.For(t, 60*time.Second, "a third of the messages at the carrier", func() bool { d, _ := countAccepted(sim); return d >= n/3 })
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = first.Process.Wait()
	atKill, _ := countAccepted(sim)
	if atKill >= n {
		t.Fatalf("all %d sent before the kill; the test proves nothing", n)
	}

	startDaemon(t, cfgPath)
	wait.For(t, 90*time.Second, "every message at the carrier", func() bool { d, _ := countAccepted(sim); return d == n })
	distinct, total := countAccepted(sim)
	extra := total - distinct

	// Every copy beyond the first must be counted on its record, and only messages that
	// were outstanding at the kill (at most the two binds' windows) may have one.
	counted := 0
	for _, id := range ids {
		r, err := st.GetRecord(context.Background(), id)
		if err != nil {
			t.Fatalf("record %s: %v", id, err)
		}
		counted += r.Duplicates
	}
	t.Logf("sent %d before the kill; %d extra copies, %d counted as possible duplicates", atKill, extra, counted)
	if extra > counted {
		t.Fatalf("%d extra copies reached the carrier but only %d were counted", extra, counted)
	}
	if counted > 2*20 {
		t.Fatalf("%d possible duplicates counted; at most the 40 in flight at the kill could be", counted)
	}
	wait.For(t, 10*time.Second, "the queue empty", func() bool {
		d, err := st.Depth(context.Background(), "sim")
		return err == nil && d.Ready+d.Pending+d.Scheduled == 0
	})
}

func TestSIGTERMDrainsAndExitsCleanly(t *testing.T) {
	sim := smsctest.Start(t, smsc.Options{EnquireLinkInterval: -1, Accounts: []smsc.Account{{
		SystemID: "smppd", Password: "password",
		Throttle: smsc.Throttle{PerAccount: 300},
		Receipts: smsc.Receipts{Rules: []smsc.Rule{{Prefix: "91", NoReceipt: true}}},
	}}})
	prefix := storetest.UniquePrefix(t)
	st := storetest.OpenRedis(t, prefix)
	cfgPath, cfg := killScenario(t, sim, prefix)
	const n = 2000
	enqueue(t, cfg, st, n)
	d := startDaemon(t, cfgPath)
	wait.For(t, 30*time.Second, "some sent", func() bool { x, _ := countAccepted(sim); return x > 100 })
	if err := d.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	state, err := d.Process.Wait()
	if err != nil || !state.Success() {
		t.Fatalf("exit: %v %v", state, err)
	}
	sent, total := countAccepted(sim)
	dep, err := st.Depth(context.Background(), "sim")
	if err != nil {
		t.Fatal(err)
	}
	if dep.Pending != 0 || int64(sent)+dep.Ready+dep.Scheduled != n || total != sent {
		t.Fatalf("after SIGTERM: sent %d (total %d), depth %+v", sent, total, dep)
	}
}
