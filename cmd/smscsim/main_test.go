package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smppd/smppd/internal/wait"
	"github.com/smppd/smppd/smpp"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func start(t *testing.T, args ...string) (smppAddr, httpAddr string, logs *syncBuf) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs = &syncBuf{}
	addrs := make(chan [2]string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"-smpp-addr", "127.0.0.1:0", "-http-addr", "127.0.0.1:0"}, args...), logs,
			func(s, h string) { addrs <- [2]string{s, h} })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	select {
	case a := <-addrs:
		return a[0], a[1], logs
	case err := <-done:
		t.Fatalf("run: %v\n%s", err, logs)
	case <-time.After(5 * time.Second):
		t.Fatal("not ready")
	}
	return
}

func TestRunDefaults(t *testing.T) {
	smppAddr, httpAddr, logs := start(t)
	var ready map[string]any
	for _, line := range bytes.Split([]byte(logs.String()), []byte("\n")) {
		if bytes.Contains(line, []byte("smscsim ready")) {
			_ = json.Unmarshal(line, &ready)
		}
	}
	if ready["system_id"] != "smppd" || ready["password"] != "password" || ready["smpp_addr"] != smppAddr {
		t.Errorf("start-up line %v in %s", ready, logs)
	}
	ctx := context.Background()
	got := make(chan *smpp.DeliverSM, 1)
	s, err := smpp.Dial(ctx, smppAddr, smpp.Bind{SystemID: "smppd", Password: "password"}, smpp.Options{
		Handler: smpp.DeliverHandlerFunc(func(ctx context.Context, s *smpp.Session, p *smpp.DeliverSM) smpp.CommandStatus {
			got <- p
			return smpp.ESME_ROK
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Abort()
	if _, err := s.Submit(ctx, &smpp.SubmitSM{Dest: smpp.Address{Addr: "919800000001"}, RegisteredDelivery: 1, ShortMessage: []byte("hi")}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("no receipt")
	}
	resp, err := http.Get("http://" + httpAddr + "/api/counters")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/api/counters: %d", resp.StatusCode)
	}
}

func TestRunScenario(t *testing.T) {
	smppAddr, _, _ := start(t, "-scenario", "../../testdata/smscsim/scenario.yaml", "-log-level", "warn")
	ctx := context.Background()
	s, err := smpp.Dial(ctx, smppAddr, smpp.Bind{Mode: smpp.BindTransmitter, SystemID: "smppd", Password: "password"}, smpp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Abort()
	resp, err := s.Submit(ctx, &smpp.SubmitSM{Dest: smpp.Address{Addr: "919800000001"}, ShortMessage: []byte("hi")})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.MessageID) != 16 {
		t.Errorf("scenario says 16-digit hex ids, got %q", resp.MessageID)
	}
}

func TestRunBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-log-level", "loud"}, {"-tls-cert", "x.pem"}, {"-scenario", "nope.yaml"}, {"extra"}} {
		if err := run(context.Background(), args, &syncBuf{}, nil); err == nil {
			t.Errorf("run %v: no error", args)
		}
	}
}

func TestRunFlood(t *testing.T) {
	smppAddr, httpAddr, _ := start(t, "-log-level", "warn")
	ctx := context.Background()
	var receipts atomic.Int64
	s, err := smpp.Dial(ctx, smppAddr, smpp.Bind{SystemID: "smppd", Password: "password"}, smpp.Options{
		Handler: smpp.DeliverHandlerFunc(func(ctx context.Context, s *smpp.Session, p *smpp.DeliverSM) smpp.CommandStatus {
			receipts.Add(1)
			return smpp.ESME_ROK
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Abort()
	post := func(body string) (int, map[string]any) {
		t.Helper()
		resp, err := http.Post("http://"+httpAddr+"/api/flood", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	if code, out := post(`{"rate":100,"duration":"100ms"}`); code != http.StatusConflict || out["error"] == nil {
		t.Errorf("flood before any message: %d %v, want 409 with an error", code, out)
	}
	for range 3 {
		if _, err := s.Submit(ctx, &smpp.SubmitSM{Dest: smpp.Address{Addr: "919800000001"}, ShortMessage: []byte("hi")}); err != nil {
			t.Fatal(err)
		}
	}
	if code, out := post(`{"system_id":"smppd","rate":0,"duration":"1s"}`); code != http.StatusBadRequest || out["error"] == nil {
		t.Errorf("rate 0: %d %v, want 400 with an error", code, out)
	}
	if code, out := post(`{"system_id":"smppd","rate":100,"duration":"100ms"}`); code != http.StatusAccepted || out["receipts"] != 10.0 {
		t.Fatalf("flood: %d %v", code, out)
	}
	// Poll until the simulator has counted every response (the ESME sees each receipt a
	// moment before its deliver_sm_resp reaches the simulator).
	metrics := func() string {
		resp, err := http.Get("http://" + httpAddr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body)
	}
	want := `smscsim_flood_sent_total{system_id="smppd"} 10`
	flooded := wait.Until(5*time.Second, func() bool { return strings.Contains(metrics(), want) })
	if n := receipts.Load(); n != 10 {
		t.Errorf("%d flood receipts, want 10", n)
	}
	if !flooded {
		t.Errorf("/metrics lacks %s", want)
	}
	// A storm still running when the simulator is told to stop does not hold it up.
	if code, _ := post(`{"rate":10,"duration":"1h"}`); code != http.StatusAccepted {
		t.Fatalf("long flood: %d", code)
	}
}
