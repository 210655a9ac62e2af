package otp_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smppd/smppd/otp"
	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/memstore"
	"github.com/smppd/smppd/store/storetest"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *clock) add(d time.Duration) { c.ns.Add(int64(d)) }
func newClock() *clock               { c := &clock{}; c.ns.Store(time.Now().UnixNano()); return c }

func service(t *testing.T, st otp.Store, c *clock, mod func(*otp.Options)) *otp.Service {
	o := otp.Options{Store: st, Key: testKey, Now: c.now, MaxAttempts: 3, SendLimit: 3}
	if mod != nil {
		mod(&o)
	}
	s, err := otp.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestService(t *testing.T) {
	// Each subtest gets a fresh store of the kind (they use the same phone number).
	for _, kind := range storetest.Kinds {
		mk := func(t *testing.T) otp.Store { return kind.Open(t).(otp.Store) }
		t.Run(kind.Name, func(t *testing.T) {
			ctx := context.Background()
			const phone = "919812345678"
			t.Run("generate and verify once", func(t *testing.T) {
				st, c := mk(t), newClock()
				s := service(t, st, c, nil)
				sess, code, err := s.Generate(ctx, otp.Request{Account: "acme", Phone: phone})
				if err != nil {
					t.Fatal(err)
				}
				if len(code) != 6 || !otp.ValidCode(code) || len(sess.ID) != 36 || sess.ID[14] != '4' {
					t.Fatalf("code %q id %q", code, sess.ID)
				}
				stored, err := st.GetOTP(ctx, "acme", sess.ID)
				if err != nil || strings.Contains(stored.Hash, code) || len(stored.Hash) != 64 {
					t.Fatalf("stored %+v %v: the code must only be stored hashed", stored, err)
				}
				if err := s.Verify(ctx, "acme", sess.ID, code); err != nil {
					t.Fatal(err)
				}
				if err := s.Verify(ctx, "acme", sess.ID, code); !errors.Is(err, otp.ErrUsed) {
					t.Fatalf("second verify: %v", err)
				}
				if err := s.Verify(ctx, "other", sess.ID, code); !errors.Is(err, otp.ErrNotFound) {
					t.Fatalf("other account: %v", err)
				}
			})
			t.Run("attempts run out", func(t *testing.T) {
				s := service(t, mk(t), newClock(), nil)
				sess, code, _ := s.Generate(ctx, otp.Request{Account: "acme", Phone: phone, Digits: 4})
				if len(code) != 4 {
					t.Fatalf("code %q", code)
				}
				wrong := "0000"
				if code == wrong {
					wrong = "1111"
				}
				for range 3 {
					if err := s.Verify(ctx, "acme", sess.ID, wrong); !errors.Is(err, otp.ErrMismatch) {
						t.Fatalf("wrong code: %v", err)
					}
				}
				if err := s.Verify(ctx, "acme", sess.ID, code); !errors.Is(err, otp.ErrLocked) {
					t.Fatalf("right code after the attempts ran out: %v", err)
				}
			})
			t.Run("expiry", func(t *testing.T) {
				c := newClock()
				s := service(t, mk(t), c, nil)
				sess, code, _ := s.Generate(ctx, otp.Request{Account: "acme", Phone: phone, Expiry: time.Minute})
				c.add(time.Minute)
				if err := s.Verify(ctx, "acme", sess.ID, code); !errors.Is(err, otp.ErrExpired) {
					t.Fatalf("at expiry: %v", err)
				}
			})
			t.Run("custom code and verify by phone", func(t *testing.T) {
				s := service(t, mk(t), newClock(), nil)
				if _, _, err := s.Generate(ctx, otp.Request{Account: "acme", Phone: phone, Code: "12a4"}); !errors.Is(err, otp.ErrInvalidCode) {
					t.Fatalf("bad custom code: %v", err)
				}
				_, _, _ = s.Generate(ctx, otp.Request{Account: "acme", Phone: phone, Code: "11111"})
				_, code, err := s.Generate(ctx, otp.Request{Account: "acme", Phone: phone, Code: "54321"})
				if err != nil || code != "54321" {
					t.Fatal(code, err)
				}
				if err := s.VerifyPhone(ctx, "acme", phone, "11111"); !errors.Is(err, otp.ErrMismatch) {
					t.Fatalf("an older session's code: %v", err)
				}
				if err := s.VerifyPhone(ctx, "acme", phone, "54321"); err != nil {
					t.Fatal(err)
				}
				if err := s.VerifyPhone(ctx, "acme", "919000000000", "54321"); !errors.Is(err, otp.ErrNotFound) {
					t.Fatalf("unknown phone: %v", err)
				}
			})
			t.Run("send limit", func(t *testing.T) {
				s := service(t, mk(t), newClock(), nil)
				for range 3 {
					if _, _, err := s.Generate(ctx, otp.Request{Account: "acme", Phone: phone}); err != nil {
						t.Fatal(err)
					}
				}
				if _, _, err := s.Generate(ctx, otp.Request{Account: "acme", Phone: phone}); !errors.Is(err, otp.ErrSendLimit) {
					t.Fatalf("fourth send: %v", err)
				}
				if _, _, err := s.Generate(ctx, otp.Request{Account: "acme", Phone: "919812345670"}); err != nil {
					t.Fatalf("another phone: %v", err)
				}
			})
			t.Run("cancel", func(t *testing.T) {
				s := service(t, mk(t), newClock(), nil)
				sess, code, _ := s.Generate(ctx, otp.Request{Account: "acme", Phone: phone})
				if err := s.Cancel(ctx, "acme", sess.ID); err != nil {
					t.Fatal(err)
				}
				if err := s.Verify(ctx, "acme", sess.ID, code); !errors.Is(err, otp.ErrNotFound) {
					t.Fatalf("cancelled: %v", err)
				}
			})
		})
	}
}

func TestNewCodeUniform(t *testing.T) {
	var counts [10]int
	for range 20000 {
		c, err := otp.NewCode(4)
		if err != nil || !otp.ValidCode(c) {
			t.Fatal(c, err)
		}
		counts[c[0]-'0']++
	}
	for d, n := range counts { // expected 2000 each
		if n < 1700 || n > 2300 {
			t.Fatalf("leading digit %d seen %d times of 20000", d, n)
		}
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := otp.New(otp.Options{Store: memstore.New(), Key: []byte("short")}); err == nil {
		t.Fatal("short key accepted")
	}
	if _, err := otp.New(otp.Options{Key: testKey}); err == nil {
		t.Fatal("no store accepted")
	}
	var _ store.OTPs = memstore.New()
}
