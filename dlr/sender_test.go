package dlr_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smppd/smppd/dlr"
	"github.com/smppd/smppd/internal/wait"
	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/storetest"
)

func enqueue(t testing.TB, st dlr.Store, url string, ids ...string) {
	t.Helper()
	now := time.Now()
	var jobs []*store.WebhookJob
	for _, id := range ids {
		jobs = append(jobs, &store.WebhookJob{ID: id, MessageID: id, URL: url, ContentType: "application/json",
			Body: `{"SessionId":"` + id + `"}`, Kind: "json", CreatedAt: now, Since: now})
	}
	if _, err := st.EnqueueWebhooks(context.Background(), jobs...); err != nil {
		t.Fatal(err)
	}
}

func TestWebhookRetriesUntilDeliveredAndSigns(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st testStore) {
		secret := "s3cret"
		var attempts []string
		var mu sync.Mutex
		rv := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) bool {
			mu.Lock()
			attempts = append(attempts, r.Header.Get(dlr.AttemptHeader)+"/"+r.Header.Get(dlr.IdempotencyHeader))
			mu.Unlock()
			if n <= 3 {
				w.WriteHeader(http.StatusBadGateway)
				return false
			}
			return true
		})
		var events []dlr.WebhookEvent
		s := newSender(t, dlr.SenderOptions{Store: st, Secret: secret, OnWebhook: func(e dlr.WebhookEvent) {
			mu.Lock()
			events = append(events, e)
			mu.Unlock()
		}})
		enqueue(t, st, rv.srv.URL+"/hook", "m1:DELIVERED")
		wait.For(t, 10*time.Second, "delivery", func() bool { return rv.delivered() == 1 })
		wait.For(t, 5*time.Second, "ack", func() bool {
			c, _ := st.WebhookCounts(context.Background())
			return c.Queued == 0
		})
		// The delivered event is reported once the ack is stored: it may trail the count.
		wait.For(t, 5*time.Second, "four events", func() bool { mu.Lock(); defer mu.Unlock(); return len(events) == 4 })
		mu.Lock()
		defer mu.Unlock()
		if strings.Join(attempts, " ") != "1/m1:DELIVERED 2/m1:DELIVERED 3/m1:DELIVERED 4/m1:DELIVERED" {
			t.Fatalf("attempts %v", attempts)
		}
		if st := s.Stats(); st.Attempts != 4 || st.Delivered != 1 || st.Failed != 3 || st.Retried != 3 {
			t.Fatalf("stats %+v", st)
		}
		if len(events) != 4 || events[3].Outcome != dlr.WebhookDelivered || events[0].Outcome != dlr.WebhookRetry || events[0].StatusCode != 502 {
			t.Fatalf("events %+v", events)
		}
	})
}

// TestWebhookLeaseExpiryResendsUnderSameKey: a claim is a lease. A request that outlasts it
// (its sender hung, or died) is sent again, by any sender, under the same Idempotency-Key;
// both senders acknowledge, and nothing is left queued or dead.
func TestWebhookLeaseExpiryResendsUnderSameKey(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st testStore) {
		second := make(chan struct{})
		rv := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) bool {
			switch n {
			case 1:
				select { // hangs past the lease, until the job was sent again
				case <-second:
				case <-time.After(10 * time.Second):
				}
			case 2:
				close(second)
			}
			return true
		})
		o := dlr.SenderOptions{Store: st, Lease: 300 * time.Millisecond, Timeout: 20 * time.Second}
		s1, s2 := newSender(t, o), newSender(t, o)
		enqueue(t, st, rv.srv.URL, "lease")
		wait.For(t, 10*time.Second, "both requests answered and acknowledged", func() bool {
			c, _ := st.WebhookCounts(context.Background())
			return s1.Stats().Delivered+s2.Stats().Delivered == 2 && c.Queued == 0 && c.Dead == 0
		})
		rv.mu.Lock()
		defer rv.mu.Unlock()
		if rv.requests != 2 || rv.byKey["lease"] != 2 {
			t.Fatalf("requests %d, by key %v", rv.requests, rv.byKey)
		}
	})
}

func TestWebhookSignatureHeaderVerifies(t *testing.T) {
	st := storetest.OpenMemory(t)
	got := make(chan error, 1)
	rv := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) bool {
		got <- dlr.Verify([]byte("k"), r.Header.Get(dlr.SignatureHeader), body, 5*time.Minute, time.Now())
		return true
	})
	newSender(t, dlr.SenderOptions{Store: st, Secret: "k"})
	enqueue(t, st, rv.srv.URL, "sig")
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no request")
	}
}

func TestSignAndVerify(t *testing.T) {
	sec := []byte("whsec_test")
	body := []byte(`{"SessionId":"x"}`)
	at := time.Unix(1732457586, 0)
	h := dlr.Sign(sec, at, body)
	// Known answer, also computed with: printf '%s' '1732457586.{"SessionId":"x"}' | openssl dgst -sha256 -hmac whsec_test
	if h != "t=1732457586,v1=51251ad4cff88a282fc52059c9563f8e2624a8315e4002e5d5a4867b9135527f" {
		t.Fatalf("header %q", h)
	}
	if err := dlr.Verify(sec, h, body, time.Minute, at.Add(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := dlr.Verify(sec, h, []byte(`{"SessionId":"y"}`), 0, at); !errors.Is(err, dlr.ErrBadSignature) {
		t.Fatalf("tampered body: %v", err)
	}
	if err := dlr.Verify([]byte("other"), h, body, 0, at); !errors.Is(err, dlr.ErrBadSignature) {
		t.Fatalf("wrong secret: %v", err)
	}
	if err := dlr.Verify(sec, h, body, time.Minute, at.Add(time.Hour)); !errors.Is(err, dlr.ErrStale) {
		t.Fatalf("stale: %v", err)
	}
	if err := dlr.Verify(sec, "garbage", body, 0, at); !errors.Is(err, dlr.ErrNoSignature) {
		t.Fatalf("garbage: %v", err)
	}
	rotated := h + ",v1=" + strings.Repeat("0", 64)
	if err := dlr.Verify(sec, rotated, body, 0, at); err != nil {
		t.Fatalf("two v1 values: %v", err)
	}
}

func TestWebhookDeadLetterAndReplay(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st testStore) {
		var up atomic.Bool
		rv := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) bool {
			if !up.Load() {
				w.WriteHeader(http.StatusInternalServerError)
				return false
			}
			return true
		})
		s := newSender(t, dlr.SenderOptions{Store: st, RetryFor: 300 * time.Millisecond})
		enqueue(t, st, rv.srv.URL, "d1", "d2")
		wait.For(t, 10*time.Second, "dead letters", func() bool {
			c, _ := st.WebhookCounts(context.Background())
			return c.Dead == 2 && c.Queued == 0
		})
		dead, err := s.DeadLetters(context.Background(), 10)
		if err != nil || len(dead) != 2 || dead[0].LastStatus != 500 || dead[0].Attempts < 2 || dead[0].DeadAt.IsZero() {
			t.Fatalf("dead letters %+v %v", dead, err)
		}
		if s.Stats().Dead != 2 {
			t.Fatalf("stats %+v", s.Stats())
		}
		up.Store(true)
		n, err := s.Replay(context.Background(), "d1")
		if err != nil || n != 1 {
			t.Fatalf("replay: %d %v", n, err)
		}
		wait.For(t, 10*time.Second, "replayed delivery", func() bool { return rv.delivered() == 1 })
		if n, _ := s.Replay(context.Background()); n != 1 {
			t.Fatalf("replay all: %d", n)
		}
		wait.For(t, 10*time.Second, "second replayed delivery", func() bool { return rv.delivered() == 2 })
	})
}

func TestWebhookSlowHostDoesNotDelayOthers(t *testing.T) {
	st := storetest.OpenMemory(t)
	release := make(chan struct{})
	var slowSeen atomic.Int32
	slow := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) bool {
		slowSeen.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return true
	})
	fast := newReceiver(t, nil)
	defer close(release)
	s := newSender(t, dlr.SenderOptions{Store: st, PerHostConcurrency: 2, MaxInFlight: 16, Timeout: 30 * time.Second})
	var slowIDs, fastIDs []string
	for i := range 200 {
		slowIDs = append(slowIDs, fmt.Sprint("slow", i))
	}
	for i := range 100 {
		fastIDs = append(fastIDs, fmt.Sprint("fast", i))
	}
	enqueue(t, st, slow.srv.URL, slowIDs...) // queued first: ahead of the fast host's jobs
	enqueue(t, st, fast.srv.URL, fastIDs...)
	if !wait.Until(10*time.Second, func() bool { return fast.delivered() == 100 }) {
		t.Fatalf("fast host got %d of 100 while the slow one hangs; stats %+v", fast.delivered(), s.Stats())
	}
	if n := slowSeen.Load(); n > 2 {
		t.Fatalf("%d concurrent requests to the slow host, cap 2", n)
	}
	if s.Stats().HostBusy == 0 {
		t.Fatal("no job pushed back for the busy host")
	}
}

func TestWebhookSSRFRefused(t *testing.T) {
	for _, tc := range []struct {
		ip        string
		forbidden bool
	}{
		{"127.0.0.1", true}, {"10.1.2.3", true}, {"172.16.0.1", true}, {"192.168.1.1", true}, {"169.254.169.254", true},
		{"100.64.0.1", true}, {"0.0.0.0", true}, {"::1", true}, {"fd00::1", true}, {"fe80::1", true}, {"::ffff:127.0.0.1", true},
		{"64:ff9b::a00:1", true}, {"8.8.8.8", false}, {"2606:4700:4700::1111", false}, {"203.0.113.9", false},
	} {
		if got := dlr.ForbiddenIP(netip.MustParseAddr(tc.ip)); got != tc.forbidden {
			t.Errorf("ForbiddenIP(%s) = %v", tc.ip, got)
		}
	}
	st := storetest.OpenMemory(t)
	rv := newReceiver(t, nil)
	s, err := dlr.NewSender(dlr.SenderOptions{Store: st, PollEvery: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	defer s.Shutdown(context.Background())
	enqueue(t, st, rv.srv.URL, "loopback")
	enqueue(t, st, "http://localhost:1/x", "localhost")
	enqueue(t, st, "ftp://example.com/x", "scheme")
	wait.For(t, 10*time.Second, "refused jobs dead", func() bool {
		c, _ := st.WebhookCounts(context.Background())
		return c.Dead == 3
	})
	if rv.requests != 0 {
		t.Fatalf("%d requests reached a loopback receiver", rv.requests)
	}
	dead, _ := s.DeadLetters(context.Background(), 10)
	for _, j := range dead {
		if j.Attempts != 1 || j.LastError == "" {
			t.Fatalf("dead %+v", j)
		}
	}
	if s.Stats().Refused != 2 {
		t.Fatalf("stats %+v", s.Stats())
	}
	// The dial-time check stands on its own (DNS rebinding: the name checked before the
	// request may resolve elsewhere at dial time).
	c := dlr.NewHTTPClient(5*time.Second, 2, false)
	if _, err := c.Get(rv.srv.URL); !errors.Is(err, dlr.ErrForbiddenAddress) {
		t.Fatalf("guarded client dialled loopback: %v", err)
	}
}
