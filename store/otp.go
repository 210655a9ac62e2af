package store

import (
	"context"
	"errors"
	"time"
)

// OTP sessions and per-phone send counters (used by package otp), and account credits
// (used by package api). The codes themselves are never stored: a session holds only a
// keyed hash of its code, which the store wipes as soon as the session is consumed, locked
// or found expired.

// ErrOTPSendLimit is returned by CreateOTP when the phone already had the allowed number of
// sessions in the current window.
var ErrOTPSendLimit = errors.New("store: OTP send limit reached for this phone")

// ErrInsufficientCredits is returned by TakeCredits when the balance is lower than asked.
var ErrInsufficientCredits = errors.New("store: insufficient credits")

// OTPSession is one OTP sent to one phone of one account.
type OTPSession struct {
	ID          string    `json:"id"` // UUID v4: the 2Factor session id
	Account     string    `json:"account"`
	Phone       string    `json:"phone"` // normalised, e.g. 919812345678
	Hash        string    `json:"hash"`  // hex keyed hash of the code; "" once no longer verifiable
	Attempts    int       `json:"attempts"`
	MaxAttempts int       `json:"max_attempts"`
	CreatedAt   time.Time `json:"created_at"`
	ExpiresAt   time.Time `json:"expires_at"`
	Used        bool      `json:"used,omitempty"` // a verify matched: the session is consumed
}

// OTPOutcome is what one verify attempt did to a session.
type OTPOutcome int

const (
	OTPMatched  OTPOutcome = iota // the code matched; the session is now consumed
	OTPMismatch                   // wrong code; one attempt used (the last one locks the session)
	OTPExpired                    // past ExpiresAt; nothing changed
	OTPUsed                       // already consumed by an earlier match
	OTPLocked                     // no attempts left
	OTPNotFound                   // no such session for this account (or it is past retention)
)

func (o OTPOutcome) String() string {
	switch o {
	case OTPMatched:
		return "matched"
	case OTPMismatch:
		return "mismatch"
	case OTPExpired:
		return "expired"
	case OTPUsed:
		return "used"
	case OTPLocked:
		return "locked"
	case OTPNotFound:
		return "not_found"
	}
	return "unknown"
}

// OTPs stores OTP sessions.
type OTPs interface {
	// CreateOTP stores a new session, kept for ttl (its retention, at least until
	// ExpiresAt), and makes it the phone's latest session (LatestOTP). It also counts the
	// send against the phone: when limit > 0 and the phone already had limit sessions
	// created within the current window (a fixed window that starts with the first of
	// them), it stores nothing and returns ErrOTPSendLimit. Counting and storing are one
	// atomic step.
	CreateOTP(ctx context.Context, s *OTPSession, ttl time.Duration, limit int, window time.Duration) error

	// GetOTP returns the account's session, or ErrNotFound.
	GetOTP(ctx context.Context, account, id string) (*OTPSession, error)

	// LatestOTP returns the id of the phone's most recent session, or ErrNotFound.
	LatestOTP(ctx context.Context, account, phone string) (string, error)

	// VerifyOTP settles one verify attempt atomically. It reads the session's hash and
	// calls match with it (match compares in constant time); then, unless the session is
	// missing, used, expired at now or locked, a match consumes the session (and wipes its
	// hash) and a mismatch uses one attempt (the last one locks it and wipes the hash). Two
	// concurrent matching attempts never both get OTPMatched. match is not called for a
	// session that cannot be verified.
	VerifyOTP(ctx context.Context, account, id string, now time.Time, match func(hash string) bool) (OTPOutcome, error)

	// DeleteOTP removes a session (a send that failed after the session was created).
	// Deleting a missing session is not an error.
	DeleteOTP(ctx context.Context, account, id string) error
}

// CreditCategory is a balance of an account.
type CreditCategory string

const (
	CreditsTransactional CreditCategory = "transactional"
	CreditsPromotional   CreditCategory = "promotional"
)

// Credits are account balances counted in SMS segments. A balance that was never set, or
// was set negative, is unlimited.
type Credits interface {
	// InitCredits applies the configured balance at start-up: n < 0 makes the balance
	// unlimited; n >= 0 sets it only when the store has no limited balance yet (a balance
	// already counted down is kept across restarts; one that was unlimited becomes n).
	InitCredits(ctx context.Context, account string, cat CreditCategory, n int64) error

	// SetCredits overwrites the balance (n < 0: unlimited), e.g. after a top-up.
	SetCredits(ctx context.Context, account string, cat CreditCategory, n int64) error

	// GetCredits returns the balance; limited is false for an unlimited one.
	GetCredits(ctx context.Context, account string, cat CreditCategory) (n int64, limited bool, err error)

	// TakeCredits takes n (> 0) from the balance atomically, or nothing and
	// ErrInsufficientCredits when the balance is below n. It returns what remains (-1 for
	// an unlimited balance).
	TakeCredits(ctx context.Context, account string, cat CreditCategory, n int64) (int64, error)

	// RefundCredits gives n back (a send that failed after TakeCredits); a no-op for an
	// unlimited balance.
	RefundCredits(ctx context.Context, account string, cat CreditCategory, n int64) error
}
