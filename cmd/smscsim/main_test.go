package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

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
