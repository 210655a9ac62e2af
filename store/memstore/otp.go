package memstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/smppd/smppd/store"
)

// OTP sessions, per-phone send counters and credits (store.OTPs and store.Credits), kept in
// the Store's otpSt.

var (
	_ store.OTPs    = (*Store)(nil)
	_ store.Credits = (*Store)(nil)
)

type otpState struct {
	mu       sync.Mutex
	sessions map[string]*otpEntry // account + "\x00" + id
	latest   map[string]*otpLatest
	sends    map[string]*otpWindow
	credits  map[string]int64 // account + "\x00" + category; absent = unlimited
	writes   int
}

type otpEntry struct {
	s       store.OTPSession
	expires time.Time // retention end
}

type otpLatest struct {
	id      string
	expires time.Time
}

type otpWindow struct {
	n     int
	until time.Time
}

func (s *Store) otpData() *otpState { return s.otpSt }

func newOTPState() *otpState {
	return &otpState{
		sessions: make(map[string]*otpEntry),
		latest:   make(map[string]*otpLatest),
		sends:    make(map[string]*otpWindow),
		credits:  make(map[string]int64),
	}
}

func otpKey(a, b string) string { return a + "\x00" + b }

// sweepLocked drops expired entries now and then (every 256 writes), so memory stays bounded
// by what is live.
func (d *otpState) sweepLocked(now time.Time) {
	d.writes++
	if d.writes%256 != 0 {
		return
	}
	for k, e := range d.sessions {
		if !now.Before(e.expires) {
			delete(d.sessions, k)
		}
	}
	for k, e := range d.latest {
		if !now.Before(e.expires) {
			delete(d.latest, k)
		}
	}
	for k, w := range d.sends {
		if !now.Before(w.until) {
			delete(d.sends, k)
		}
	}
}

// CreateOTP implements store.OTPs.
func (s *Store) CreateOTP(ctx context.Context, sess *store.OTPSession, ttl time.Duration, limit int, window time.Duration) error {
	if err := s.open(ctx, "create otp"); err != nil {
		return err
	}
	if sess == nil || sess.ID == "" || sess.Account == "" || sess.Phone == "" {
		return fmt.Errorf("store: create otp: session needs an id, an account and a phone")
	}
	now := s.now()
	d := s.otpData()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sweepLocked(now)
	pk := otpKey(sess.Account, sess.Phone)
	if limit > 0 && window > 0 {
		w := d.sends[pk]
		if w == nil || !now.Before(w.until) {
			w = &otpWindow{until: now.Add(window)}
			d.sends[pk] = w
		}
		if w.n >= limit {
			return store.ErrOTPSendLimit
		}
		w.n++
	}
	if ttl <= 0 {
		ttl = time.Until(sess.ExpiresAt)
	}
	exp := now.Add(ttl)
	d.sessions[otpKey(sess.Account, sess.ID)] = &otpEntry{s: *sess, expires: exp}
	d.latest[pk] = &otpLatest{id: sess.ID, expires: exp}
	return nil
}

// GetOTP implements store.OTPs.
func (s *Store) GetOTP(ctx context.Context, account, id string) (*store.OTPSession, error) {
	if err := s.open(ctx, "get otp"); err != nil {
		return nil, err
	}
	now := s.now()
	d := s.otpData()
	d.mu.Lock()
	defer d.mu.Unlock()
	e := d.sessions[otpKey(account, id)]
	if e == nil || !now.Before(e.expires) {
		return nil, store.ErrNotFound
	}
	c := e.s
	return &c, nil
}

// LatestOTP implements store.OTPs.
func (s *Store) LatestOTP(ctx context.Context, account, phone string) (string, error) {
	if err := s.open(ctx, "latest otp"); err != nil {
		return "", err
	}
	now := s.now()
	d := s.otpData()
	d.mu.Lock()
	defer d.mu.Unlock()
	l := d.latest[otpKey(account, phone)]
	if l == nil || !now.Before(l.expires) {
		return "", store.ErrNotFound
	}
	return l.id, nil
}

// VerifyOTP implements store.OTPs.
func (s *Store) VerifyOTP(ctx context.Context, account, id string, now time.Time, match func(hash string) bool) (store.OTPOutcome, error) {
	if err := s.open(ctx, "verify otp"); err != nil {
		return store.OTPNotFound, err
	}
	d := s.otpData()
	d.mu.Lock()
	defer d.mu.Unlock()
	e := d.sessions[otpKey(account, id)]
	if e == nil || !s.now().Before(e.expires) {
		return store.OTPNotFound, nil
	}
	ss := &e.s
	switch {
	case ss.Used:
		return store.OTPUsed, nil
	case !now.Before(ss.ExpiresAt):
		ss.Hash = ""
		return store.OTPExpired, nil
	case ss.Attempts >= ss.MaxAttempts || ss.Hash == "":
		return store.OTPLocked, nil
	}
	if match(ss.Hash) {
		ss.Used, ss.Hash = true, ""
		return store.OTPMatched, nil
	}
	ss.Attempts++
	if ss.Attempts >= ss.MaxAttempts {
		ss.Hash = ""
	}
	return store.OTPMismatch, nil
}

// DeleteOTP implements store.OTPs.
func (s *Store) DeleteOTP(ctx context.Context, account, id string) error {
	if err := s.open(ctx, "delete otp"); err != nil {
		return err
	}
	d := s.otpData()
	d.mu.Lock()
	defer d.mu.Unlock()
	k := otpKey(account, id)
	if e := d.sessions[k]; e != nil {
		pk := otpKey(account, e.s.Phone)
		if l := d.latest[pk]; l != nil && l.id == id {
			delete(d.latest, pk)
		}
		delete(d.sessions, k)
	}
	return nil
}

// InitCredits implements store.Credits: a balance already kept stays.
func (s *Store) InitCredits(ctx context.Context, account string, cat store.CreditCategory, n int64) error {
	return s.putCredits(ctx, "init credits", account, cat, n, false)
}

// SetCredits implements store.Credits.
func (s *Store) SetCredits(ctx context.Context, account string, cat store.CreditCategory, n int64) error {
	return s.putCredits(ctx, "set credits", account, cat, n, true)
}

// putCredits stores a balance (negative: unlimited, no balance kept); without overwrite an
// existing balance wins.
func (s *Store) putCredits(ctx context.Context, op, account string, cat store.CreditCategory, n int64, overwrite bool) error {
	if err := s.open(ctx, op); err != nil {
		return err
	}
	d := s.otpData()
	d.mu.Lock()
	defer d.mu.Unlock()
	k := otpKey(account, string(cat))
	if n < 0 {
		delete(d.credits, k)
		return nil
	}
	if _, ok := d.credits[k]; overwrite || !ok {
		d.credits[k] = n
	}
	return nil
}

// GetCredits implements store.Credits.
func (s *Store) GetCredits(ctx context.Context, account string, cat store.CreditCategory) (int64, bool, error) {
	if err := s.open(ctx, "get credits"); err != nil {
		return 0, false, err
	}
	d := s.otpData()
	d.mu.Lock()
	defer d.mu.Unlock()
	n, ok := d.credits[otpKey(account, string(cat))]
	if !ok {
		return -1, false, nil
	}
	return n, true, nil
}

// TakeCredits implements store.Credits.
func (s *Store) TakeCredits(ctx context.Context, account string, cat store.CreditCategory, n int64) (int64, error) {
	if err := s.open(ctx, "take credits"); err != nil {
		return 0, err
	}
	if n <= 0 {
		return 0, fmt.Errorf("store: take credits: %d is not positive", n)
	}
	d := s.otpData()
	d.mu.Lock()
	defer d.mu.Unlock()
	k := otpKey(account, string(cat))
	bal, ok := d.credits[k]
	if !ok {
		return -1, nil
	}
	if bal < n {
		return bal, store.ErrInsufficientCredits
	}
	d.credits[k] = bal - n
	return bal - n, nil
}

// RefundCredits implements store.Credits.
func (s *Store) RefundCredits(ctx context.Context, account string, cat store.CreditCategory, n int64) error {
	if err := s.open(ctx, "refund credits"); err != nil {
		return err
	}
	if n <= 0 {
		return nil
	}
	d := s.otpData()
	d.mu.Lock()
	defer d.mu.Unlock()
	k := otpKey(account, string(cat))
	if bal, ok := d.credits[k]; ok {
		d.credits[k] = bal + n
	}
	return nil
}
