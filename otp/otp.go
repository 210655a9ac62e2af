// Package otp is smppd's one-time-password logic, independent of HTTP: codes from
// crypto/rand, sessions stored only as keyed hashes (the code itself is never stored nor
// logged), expiry, a bounded number of verify attempts after which the session is dead,
// send limits per phone, and consumption of a session by its first match.
//
// The hash of a session's code is HMAC-SHA256(Key, sessionID || code), hex. Binding the
// session id into the hash means two sessions with the same code have different hashes, and
// a hash copied to another session does not verify there. Verification compares hashes with
// hmac.Equal and the store settles the attempt atomically (see store.OTPs.VerifyOTP), so a
// code can be matched at most once even when several smppd instances share the store.
package otp

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/smppd/smppd/store"
)

// Store is what the service needs of a store: store.OTPs, implemented by memstore and
// redisstore.
type Store = store.OTPs

// Errors of Generate and Verify. Verify returns nil on a match.
var (
	ErrMismatch    = errors.New("otp: mismatch")
	ErrExpired     = errors.New("otp: expired")
	ErrUsed        = errors.New("otp: already verified")
	ErrLocked      = errors.New("otp: too many attempts")
	ErrNotFound    = errors.New("otp: no such session")
	ErrSendLimit   = errors.New("otp: too many OTPs sent to this phone")
	ErrInvalidCode = errors.New("otp: code must be 4 to 6 digits")
)

// Defaults of Options.
const (
	DefaultExpiry        = 10 * time.Minute
	DefaultMaxAttempts   = 5
	DefaultSendLimit     = 10
	DefaultSendWindow    = time.Hour
	DefaultRetention     = 24 * time.Hour
	DefaultDigits        = 6
	MinDigits, MaxDigits = 4, 6
)

// Options configure a Service.
type Options struct {
	// Store keeps the sessions. Required.
	Store Store
	// Key is the HMAC key for the code hashes: at least 32 random bytes, the same on every
	// instance sharing the store, kept secret. Required. Changing it makes every live
	// session unverifiable.
	Key []byte
	// Expiry is how long a code may be verified. Default 10m.
	Expiry time.Duration
	// MaxAttempts is how many wrong codes a session takes; the last one kills it. Default 5.
	MaxAttempts int
	// SendLimit is how many OTPs one phone of one account may get per SendWindow; further
	// sends fail with ErrSendLimit. Default 10 per hour; negative disables the limit.
	SendLimit  int
	SendWindow time.Duration
	// Retention is how long a session is kept after it is created (so a late verify gets
	// "expired" rather than "no such session"); its hash is wiped as soon as it is used,
	// locked or found expired. Default 24h (seed: "verification hashes deleted after 24
	// hours"); never below Expiry.
	Retention time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Service generates and verifies OTPs.
type Service struct{ o Options }

// New checks the options and returns a service.
func New(o Options) (*Service, error) {
	if o.Store == nil {
		return nil, errors.New("otp: Options.Store is required")
	}
	if len(o.Key) < 32 {
		return nil, fmt.Errorf("otp: Options.Key has %d bytes; use at least 32 random bytes", len(o.Key))
	}
	o = o.WithDefaults()
	o.Key = append([]byte(nil), o.Key...)
	return &Service{o: o}, nil
}

// WithDefaults returns o with every zero field that has a documented default set to it
// (the Default* constants): what New runs with.
func (o Options) WithDefaults() Options {
	if o.Expiry <= 0 {
		o.Expiry = DefaultExpiry
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.SendLimit == 0 {
		o.SendLimit = DefaultSendLimit
	}
	if o.SendWindow <= 0 {
		o.SendWindow = DefaultSendWindow
	}
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Options returns the options in effect, defaults filled in (without the key).
func (s *Service) Options() Options {
	o := s.o
	o.Key = nil
	return o
}

// NewCode returns a random code of digits (4 to 6) decimal digits from crypto/rand,
// uniformly distributed (leading zeros included).
func NewCode(digits int) (string, error) {
	if digits < MinDigits || digits > MaxDigits {
		return "", fmt.Errorf("otp: %d digits: want %d to %d", digits, MinDigits, MaxDigits)
	}
	max := big.NewInt(1)
	for range digits {
		max.Mul(max, big.NewInt(10))
	}
	n, err := rand.Int(rand.Reader, max)
	if err != nil {
		return "", fmt.Errorf("otp: random: %w", err)
	}
	return fmt.Sprintf("%0*d", digits, n), nil
}

// ValidCode reports whether code is 4 to 6 ASCII digits.
func ValidCode(code string) bool {
	if len(code) < MinDigits || len(code) > MaxDigits {
		return false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return false
		}
	}
	return true
}

func (s *Service) hash(id, code string) string {
	m := hmac.New(sha256.New, s.o.Key)
	m.Write([]byte(id))
	m.Write([]byte(code))
	return hex.EncodeToString(m.Sum(nil))
}

// Request is one OTP to create.
type Request struct {
	Account string
	Phone   string // normalised by the caller (package api: 91 and 10 digits)
	// Code is the code to send: a client's custom code, or one from NewCode when the caller
	// must know it before the session exists (to build and check the SMS text). Empty:
	// Generate makes one of Digits digits.
	Code   string
	Digits int // 4 to 6; default 6; ignored when Code is set
	// Expiry overrides Options.Expiry for this session when positive (per-account setting).
	Expiry time.Duration
}

// Session is a created OTP session as callers see it (no code, no hash).
type Session struct {
	ID        string
	Account   string
	Phone     string
	ExpiresAt time.Time
}

// Generate creates a session and returns it with its code. The caller sends the code and
// forgets it. ErrSendLimit when the phone had too many OTPs; ErrInvalidCode for a custom
// code that is not 4 to 6 digits.
func (s *Service) Generate(ctx context.Context, r Request) (*Session, string, error) {
	code := r.Code
	if code == "" {
		d := r.Digits
		if d == 0 {
			d = DefaultDigits
		}
		var err error
		if code, err = NewCode(d); err != nil {
			return nil, "", err
		}
	} else if !ValidCode(code) {
		return nil, "", ErrInvalidCode
	}
	if r.Account == "" || r.Phone == "" {
		return nil, "", errors.New("otp: request needs an account and a phone")
	}
	exp := s.o.Expiry
	if r.Expiry > 0 {
		exp = r.Expiry
	}
	now := s.o.Now()
	id := store.NewID()
	sess := &store.OTPSession{ID: id, Account: r.Account, Phone: r.Phone, Hash: s.hash(id, code),
		MaxAttempts: s.o.MaxAttempts, CreatedAt: now, ExpiresAt: now.Add(exp)}
	retention := max(s.o.Retention, exp)
	limit := s.o.SendLimit
	if limit < 0 {
		limit = 0
	}
	if err := s.o.Store.CreateOTP(ctx, sess, retention, limit, s.o.SendWindow); err != nil {
		if errors.Is(err, store.ErrOTPSendLimit) {
			return nil, "", ErrSendLimit
		}
		return nil, "", fmt.Errorf("otp: %w", err)
	}
	return &Session{ID: id, Account: r.Account, Phone: r.Phone, ExpiresAt: sess.ExpiresAt}, code, nil
}

// Cancel removes a session whose code could not be sent.
func (s *Service) Cancel(ctx context.Context, account, id string) error {
	return s.o.Store.DeleteOTP(ctx, account, id)
}

// Verify checks code against the account's session id: nil on a match (the session is
// then consumed), otherwise ErrMismatch, ErrExpired, ErrUsed, ErrLocked or ErrNotFound (or
// a store error).
func (s *Service) Verify(ctx context.Context, account, id, code string) error {
	if id == "" {
		return ErrNotFound
	}
	want := []byte(s.hash(id, code))
	out, err := s.o.Store.VerifyOTP(ctx, account, id, s.o.Now(), func(h string) bool {
		return ValidCode(code) && hmac.Equal([]byte(h), want)
	})
	if err != nil {
		return fmt.Errorf("otp: %w", err)
	}
	return outcomeErr(out)
}

// VerifyPhone checks code against the phone's latest session of the account.
func (s *Service) VerifyPhone(ctx context.Context, account, phone, code string) error {
	id, err := s.o.Store.LatestOTP(ctx, account, phone)
	if errors.Is(err, store.ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("otp: %w", err)
	}
	return s.Verify(ctx, account, id, code)
}

func outcomeErr(o store.OTPOutcome) error {
	switch o {
	case store.OTPMatched:
		return nil
	case store.OTPMismatch:
		return ErrMismatch
	case store.OTPExpired:
		return ErrExpired
	case store.OTPUsed:
		return ErrUsed
	case store.OTPLocked:
		return ErrLocked
	}
	return ErrNotFound
}
