package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/smppd/smppd/dlr"
	"github.com/smppd/smppd/smsc"
	"github.com/smppd/smppd/smsc/smsctest"
	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/storetest"
)

// hookSink counts webhooks by idempotency key.
type hookSink struct {
	mu   sync.Mutex
	keys map[string]int
}

func (h *hookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.keys[r.Header.Get("Idempotency-Key")]++
	h.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (h *hookSink) counts() (distinct, total int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, n := range h.keys {
		total += n
	}
	return len(h.keys), total
}

// smppd is killed while receipts arrive and webhooks go out, then restarted on the same
// Redis: every message still gets its final webhook; a key seen twice was in flight at the
// kill.
func TestSIGKILLWithReceiptsAndWebhooksInFlight(t *testing.T) {
	sink := &hookSink{keys: map[string]int{}}
	hooks := httptest.NewServer(sink)
	defer hooks.Close()
	sim := smsctest.Start(t, smsc.Options{EnquireLinkInterval: -1, Accounts: []smsc.Account{{
		SystemID: "smppd", Password: "password",
		Latency:  smsc.Latency{Min: time.Millisecond, Max: 4 * time.Millisecond},
		Receipts: smsc.Receipts{DelayMin: 5 * time.Millisecond, DelayMax: 50 * time.Millisecond},
	}}})
	prefix := storetest.UniquePrefix(t)
	st := storetest.OpenRedis(t, prefix)
	cfgPath, cfg := killScenario(t, sim, prefix)
	text, _ := os.ReadFile(cfgPath)
	os.WriteFile(cfgPath, append(text, []byte("webhooks:\n  allow_private: true\n  secret: test\n  timeout: 2s\n  lease: 3s\n")...), 0o600)

	const n = 2000
	o, _ := cfg.DispatchOptions()
	o.Store = st
	var ids []string
	for i := 0; i < n; i += 500 {
		var batch []*store.Message
		for j := i; j < i+500; j++ {
			batch = append(batch, &store.Message{Account: "acme", From: "ACMEIN", To: fmt.Sprintf("9198%08d", j),
				Priority: store.PriorityTransactional, Text: fmt.Sprintf("Your OTP is %06d", j),
				Meta: map[string]string{dlr.MetaWebhookURL: hooks.URL + "/hook"}})
		}
		submitVia(t, o, batch)
		for _, m := range batch {
			ids = append(ids, m.ID)
		}
	}

	first := startDaemon(t, cfgPath)
	waitFor(t, 60*time.Second, "a quarter of the webhooks", func() bool { d, _ := sink.counts(); return d >= n/4 })
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = first.Process.Wait()
	atKill, _ := sink.counts()
	startDaemon(t, cfgPath)
	waitFor(t, 120*time.Second, "every message's webhook", func() bool { d, _ := sink.counts(); return d == n })
	distinct, total := sink.counts()
	t.Logf("%d webhooks before the kill; %d distinct keys, %d deliveries after restart", atKill, distinct, total)
	for _, id := range ids {
		r, err := st.GetRecord(context.Background(), id)
		if err != nil || r.Status != store.StatusDelivered {
			t.Fatalf("record %s: %+v %v", id, r, err)
		}
	}
	// A key delivered twice was in flight at the kill; the sender holds at most its
	// in-flight limit.
	if total-distinct > 256 {
		t.Fatalf("%d duplicate webhook deliveries", total-distinct)
	}
}
