package storetest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smppd/smppd/store"
)

// OTPStore is what packages otp and api need of a store beyond the queue and records.
type OTPStore interface {
	store.OTPs
	store.Credits
}

// RunOTP runs the conformance tests of store.OTPs and store.Credits against stores made by
// newStore (same contract as Run's).
func RunOTP(t *testing.T, newStore func(t *testing.T) OTPStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s OTPStore)
	}{
		{"OTPCreateGetLatest", testOTPCreateGetLatest},
		{"OTPVerifyMatchConsumes", testOTPVerifyMatchConsumes},
		{"OTPAttemptsRunOut", testOTPAttemptsRunOut},
		{"OTPExpired", testOTPExpired},
		{"OTPAccountsIsolated", testOTPAccountsIsolated},
		{"OTPSendLimit", testOTPSendLimit},
		{"OTPDelete", testOTPDelete},
		{"OTPConcurrentMatch", testOTPConcurrentMatch},
		{"OTPRetention", testOTPRetention},
		{"Credits", testCredits},
		{"CreditsInit", testCreditsInit},
		{"CreditsConcurrent", testCreditsConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t))
		})
	}
}

func otpSess(id, account, phone string, now time.Time) *store.OTPSession {
	return &store.OTPSession{ID: id, Account: account, Phone: phone, Hash: "h-" + id, MaxAttempts: 3,
		CreatedAt: now.Truncate(time.Millisecond), ExpiresAt: now.Add(10 * time.Minute).Truncate(time.Millisecond)}
}

func otpOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func otpEq(want string) func(string) bool { return func(h string) bool { return h == want } }

func wantOTPOutcome(t *testing.T, s OTPStore, account, id string, now time.Time, code string, want store.OTPOutcome) {
	t.Helper()
	got, err := s.VerifyOTP(context.Background(), account, id, now, otpEq(code))
	otpOK(t, err)
	if got != want {
		t.Fatalf("verify %s with %q: %s, want %s", id, code, got, want)
	}
}

func testOTPCreateGetLatest(t *testing.T, s OTPStore) {
	ctx := context.Background()
	now := time.Now()
	a := otpSess("s1", "acme", "919812345678", now)
	otpOK(t, s.CreateOTP(ctx, a, time.Hour, 0, 0))
	got, err := s.GetOTP(ctx, "acme", "s1")
	otpOK(t, err)
	if got.Phone != a.Phone || got.Hash != a.Hash || got.MaxAttempts != 3 || !got.ExpiresAt.Equal(a.ExpiresAt) || !got.CreatedAt.Equal(a.CreatedAt) || got.Used {
		t.Fatalf("got %+v, want %+v", got, a)
	}
	id, err := s.LatestOTP(ctx, "acme", a.Phone)
	otpOK(t, err)
	if id != "s1" {
		t.Fatalf("latest %q", id)
	}
	otpOK(t, s.CreateOTP(ctx, otpSess("s2", "acme", a.Phone, now), time.Hour, 0, 0))
	if id, _ := s.LatestOTP(ctx, "acme", a.Phone); id != "s2" {
		t.Fatalf("latest after a second send %q, want s2", id)
	}
	if _, err := s.GetOTP(ctx, "acme", "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing session: %v", err)
	}
	if _, err := s.LatestOTP(ctx, "acme", "919000000000"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing phone: %v", err)
	}
}

func testOTPVerifyMatchConsumes(t *testing.T, s OTPStore) {
	ctx := context.Background()
	now := time.Now()
	otpOK(t, s.CreateOTP(ctx, otpSess("s1", "acme", "919812345678", now), time.Hour, 0, 0))
	wantOTPOutcome(t, s, "acme", "s1", now, "wrong", store.OTPMismatch)
	wantOTPOutcome(t, s, "acme", "s1", now, "h-s1", store.OTPMatched)
	wantOTPOutcome(t, s, "acme", "s1", now, "h-s1", store.OTPUsed)
	got, err := s.GetOTP(ctx, "acme", "s1")
	otpOK(t, err)
	if got.Hash != "" || !got.Used || got.Attempts != 1 {
		t.Fatalf("after a match: %+v (hash must be wiped)", got)
	}
	wantOTPOutcome(t, s, "acme", "nope", now, "x", store.OTPNotFound)
}

func testOTPAttemptsRunOut(t *testing.T, s OTPStore) {
	ctx := context.Background()
	now := time.Now()
	otpOK(t, s.CreateOTP(ctx, otpSess("s1", "acme", "919812345678", now), time.Hour, 0, 0))
	for range 3 {
		wantOTPOutcome(t, s, "acme", "s1", now, "wrong", store.OTPMismatch)
	}
	wantOTPOutcome(t, s, "acme", "s1", now, "h-s1", store.OTPLocked)
	if got, _ := s.GetOTP(ctx, "acme", "s1"); got.Hash != "" {
		t.Fatalf("locked session keeps its hash")
	}
}

func testOTPExpired(t *testing.T, s OTPStore) {
	ctx := context.Background()
	now := time.Now()
	otpOK(t, s.CreateOTP(ctx, otpSess("s1", "acme", "919812345678", now), time.Hour, 0, 0))
	called := false
	out, err := s.VerifyOTP(ctx, "acme", "s1", now.Add(10*time.Minute), func(string) bool { called = true; return true })
	otpOK(t, err)
	if out != store.OTPExpired || called {
		t.Fatalf("at expiry: %s (match called %v)", out, called)
	}
	if got, _ := s.GetOTP(ctx, "acme", "s1"); got.Hash != "" {
		t.Fatalf("expired session keeps its hash")
	}
}

func testOTPAccountsIsolated(t *testing.T, s OTPStore) {
	ctx := context.Background()
	now := time.Now()
	otpOK(t, s.CreateOTP(ctx, otpSess("s1", "acme", "919812345678", now), time.Hour, 0, 0))
	wantOTPOutcome(t, s, "other", "s1", now, "h-s1", store.OTPNotFound)
	if _, err := s.GetOTP(ctx, "other", "s1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another account's session: %v", err)
	}
	if _, err := s.LatestOTP(ctx, "other", "919812345678"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another account's phone: %v", err)
	}
}

func testOTPSendLimit(t *testing.T, s OTPStore) {
	ctx := context.Background()
	now := time.Now()
	for i, id := range []string{"a", "b", "c"} {
		otpOK(t, s.CreateOTP(ctx, otpSess(id, "acme", "919812345678", now), time.Hour, 3, 300*time.Millisecond))
		_ = i
	}
	if err := s.CreateOTP(ctx, otpSess("d", "acme", "919812345678", now), time.Hour, 3, 300*time.Millisecond); !errors.Is(err, store.ErrOTPSendLimit) {
		t.Fatalf("fourth send: %v, want ErrOTPSendLimit", err)
	}
	if _, err := s.GetOTP(ctx, "acme", "d"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused session was stored")
	}
	if id, _ := s.LatestOTP(ctx, "acme", "919812345678"); id != "c" {
		t.Fatalf("latest %q, want c", id)
	}
	// Another phone has its own count; the window ends.
	otpOK(t, s.CreateOTP(ctx, otpSess("e", "acme", "919812345679", now), time.Hour, 3, 300*time.Millisecond))
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := s.CreateOTP(ctx, otpSess("f", "acme", "919812345678", now), time.Hour, 3, 300*time.Millisecond)
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrOTPSendLimit) || time.Now().After(deadline) {
			t.Fatalf("after the window: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func testOTPDelete(t *testing.T, s OTPStore) {
	ctx := context.Background()
	now := time.Now()
	otpOK(t, s.CreateOTP(ctx, otpSess("s1", "acme", "919812345678", now), time.Hour, 0, 0))
	otpOK(t, s.DeleteOTP(ctx, "acme", "s1"))
	otpOK(t, s.DeleteOTP(ctx, "acme", "s1"))
	if _, err := s.GetOTP(ctx, "acme", "s1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted session: %v", err)
	}
	if _, err := s.LatestOTP(ctx, "acme", "919812345678"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted session still latest: %v", err)
	}
}

func testOTPConcurrentMatch(t *testing.T, s OTPStore) {
	ctx := context.Background()
	now := time.Now()
	otpOK(t, s.CreateOTP(ctx, otpSess("s1", "acme", "919812345678", now), time.Hour, 0, 0))
	var matched atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := s.VerifyOTP(ctx, "acme", "s1", now, otpEq("h-s1"))
			if err != nil {
				t.Error(err)
			}
			if out == store.OTPMatched {
				matched.Add(1)
			}
		}()
	}
	wg.Wait()
	if matched.Load() != 1 {
		t.Fatalf("%d concurrent attempts matched, want exactly 1", matched.Load())
	}
}

func testOTPRetention(t *testing.T, s OTPStore) {
	ctx := context.Background()
	now := time.Now()
	otpOK(t, s.CreateOTP(ctx, otpSess("s1", "acme", "919812345678", now), 100*time.Millisecond, 0, 0))
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := s.GetOTP(ctx, "acme", "s1")
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("session outlived its retention: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := s.LatestOTP(ctx, "acme", "919812345678"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("phone index outlived its retention: %v", err)
	}
}

func testCredits(t *testing.T, s OTPStore) {
	ctx := context.Background()
	tr := store.CreditsTransactional
	if n, limited, err := s.GetCredits(ctx, "acme", tr); err != nil || limited || n != -1 {
		t.Fatalf("never set: %d %v %v, want unlimited", n, limited, err)
	}
	if n, err := s.TakeCredits(ctx, "acme", tr, 5); err != nil || n != -1 {
		t.Fatalf("take from unlimited: %d %v", n, err)
	}
	otpOK(t, s.SetCredits(ctx, "acme", tr, 10))
	if n, err := s.TakeCredits(ctx, "acme", tr, 4); err != nil || n != 6 {
		t.Fatalf("take 4 of 10: %d %v", n, err)
	}
	if n, err := s.TakeCredits(ctx, "acme", tr, 7); !errors.Is(err, store.ErrInsufficientCredits) || n != 6 {
		t.Fatalf("take 7 of 6: %d %v", n, err)
	}
	otpOK(t, s.RefundCredits(ctx, "acme", tr, 2))
	if n, limited, _ := s.GetCredits(ctx, "acme", tr); n != 8 || !limited {
		t.Fatalf("after refund: %d %v", n, limited)
	}
	if n, _, _ := s.GetCredits(ctx, "acme", store.CreditsPromotional); n != -1 {
		t.Fatalf("promotional shares the transactional balance: %d", n)
	}
	otpOK(t, s.SetCredits(ctx, "acme", tr, -1))
	if _, limited, _ := s.GetCredits(ctx, "acme", tr); limited {
		t.Fatalf("set -1 is still limited")
	}
	otpOK(t, s.RefundCredits(ctx, "acme", tr, 2))
	if _, limited, _ := s.GetCredits(ctx, "acme", tr); limited {
		t.Fatalf("a refund made an unlimited balance limited")
	}
}

func testCreditsInit(t *testing.T, s OTPStore) {
	ctx := context.Background()
	tr := store.CreditsTransactional
	otpOK(t, s.InitCredits(ctx, "acme", tr, 100))
	if _, err := s.TakeCredits(ctx, "acme", tr, 30); err != nil {
		t.Fatal(err)
	}
	otpOK(t, s.InitCredits(ctx, "acme", tr, 100)) // a restart keeps the counted-down balance
	if n, _, _ := s.GetCredits(ctx, "acme", tr); n != 70 {
		t.Fatalf("after re-init: %d, want 70", n)
	}
	otpOK(t, s.InitCredits(ctx, "acme", tr, -1)) // configured unlimited wins
	if _, limited, _ := s.GetCredits(ctx, "acme", tr); limited {
		t.Fatalf("init -1 is still limited")
	}
	otpOK(t, s.InitCredits(ctx, "acme", tr, 50)) // unlimited → limited takes the configured value
	if n, _, _ := s.GetCredits(ctx, "acme", tr); n != 50 {
		t.Fatalf("unlimited re-init to 50: %d", n)
	}
}

func testCreditsConcurrent(t *testing.T, s OTPStore) {
	ctx := context.Background()
	tr := store.CreditsTransactional
	otpOK(t, s.SetCredits(ctx, "acme", tr, 100))
	var ok atomic.Int32
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				if _, err := s.TakeCredits(ctx, "acme", tr, 1); err == nil {
					ok.Add(1)
				} else if !errors.Is(err, store.ErrInsufficientCredits) {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 100 {
		t.Fatalf("%d takes succeeded from 100 credits", ok.Load())
	}
	if n, _, _ := s.GetCredits(ctx, "acme", tr); n != 0 {
		t.Fatalf("balance %d, want 0 (never below)", n)
	}
}
