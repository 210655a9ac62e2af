package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/smppd/smppd/smsc"
	"github.com/smppd/smppd/smsc/smsctest"
	"github.com/smppd/smppd/store/storetest"
)

type readyBody struct {
	Ready   bool   `json:"ready"`
	Member  string `json:"member"`
	Members int    `json:"live_members"`
	Binds   []struct {
		Slot   string `json:"slot"`
		Holder string `json:"holder"`
		Bound  bool   `json:"bound"`
	} `json:"binds"`
}

func readyz(addr string) (readyBody, error) {
	var b readyBody
	resp, err := http.Get("http://" + addr + "/readyz?verbose=1")
	if err != nil {
		return b, err
	}
	defer resp.Body.Close()
	return b, json.NewDecoder(resp.Body).Decode(&b)
}

// Two smppd processes on one Redis share a carrier's four binds through leases: two each,
// never more than four at the carrier, /readyz?verbose=1 says who holds which; when one stops,
// the other holds all four.
func TestTwoInstancesShareBindsThroughLeases(t *testing.T) {
	sim := smsctest.Start(t, smsc.Options{EnquireLinkInterval: -1})
	prefix := storetest.UniquePrefix(t)
	storetest.OpenRedis(t, prefix) // deletes the prefix's keys at the end
	start := func(name string) (addr string, stop func()) {
		cfg := filepath.Join(t.TempDir(), "smppd.yaml")
		os.WriteFile(cfg, []byte(fmt.Sprintf(`
log_level: error
instance: %s
heartbeat_ttl: 1s
bind_leases:
  ttl: 1s
http:
  listen: 127.0.0.1:0
store:
  type: redis
  redis_url: %s
  prefix: %s
carriers:
  - name: sim
    binds:
      - addrs: [%q]
        system_id: smppd
        password: password
        count: 4
`, name, storetest.RedisURL(), prefix, sim.Addr())), 0o600)
		ctx, cancel := context.WithCancel(context.Background())
		addrc := make(chan string, 1)
		done := make(chan error, 1)
		go func() {
			done <- run(ctx, []string{"-config", cfg}, io.Discard, io.Discard, func(a string) { addrc <- a })
		}()
		select {
		case addr = <-addrc:
		case err := <-done:
			t.Fatalf("%s: %v", name, err)
		}
		return addr, func() { cancel(); <-done }
	}
	a, stopA := start("alpha")
	b, stopB := start("beta")
	defer stopB()

	maxBinds := 0
	holders := func(addr string) map[string]int {
		r, err := readyz(addr)
		if err != nil {
			return nil
		}
		out := map[string]int{}
		for _, s := range r.Binds {
			out[s.Holder]++
		}
		return out
	}
	waitFor(t, 15*time.Second, "two binds each", func() bool {
		maxBinds = max(maxBinds, sim.Counters().BindsActive)
		h := holders(a)
		return len(h) == 2 && h[""] == 0 && sim.Counters().BindsActive == 4 && func() bool {
			for _, n := range h {
				if n != 2 {
					return false
				}
			}
			return true
		}()
	})
	rb, err := readyz(b)
	if err != nil || !rb.Ready || rb.Members != 2 {
		t.Fatalf("beta's /readyz: %+v, %v", rb, err)
	}

	stopA()
	waitFor(t, 15*time.Second, "beta holds all four", func() bool {
		maxBinds = max(maxBinds, sim.Counters().BindsActive)
		r, err := readyz(b)
		if err != nil {
			return false
		}
		n := 0
		for _, s := range r.Binds {
			if s.Holder == r.Member && s.Bound {
				n++
			}
		}
		return n == 4
	})
	if maxBinds > 4 {
		t.Fatalf("the carrier saw %d binds at once, configured 4", maxBinds)
	}
}
