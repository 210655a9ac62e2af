package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smppd/smppd/store"
)

// OTP sessions, per-phone send counters and credits (store.OTPs and store.Credits). Keys,
// with P the prefix:
//
//	P:otp:{<account>}:s:<id>      hash    one session: account, phone, hash, attempts, max,
//	                                      created, expires (unix ms), used; TTL = retention
//	P:otp:{<account>}:p:<phone>   string  id of the phone's latest session; TTL = retention
//	P:otp:{<account>}:n:<phone>   string  sessions created in the current send window; TTL =
//	                                      the window
//	P:credits:<account>:<cat>     string  balance in segments (cat transactional or
//	                                      promotional); absent or negative = unlimited
//
// Creating a session (count, store, index) and settling a verify attempt are Lua scripts, so
// two instances never both consume one session nor both pass the send limit. An account's
// OTP keys share its hash tag, so those scripts are single-slot on a Redis Cluster.

var (
	_ store.OTPs    = (*Store)(nil)
	_ store.Credits = (*Store)(nil)
)

// createOTPScript: KEYS session, phone index, send counter; ARGV limit, window ms, ttl ms,
// id, then the session's field/value pairs. Returns 0, or -1 at the send limit.
var createOTPScript = redis.NewScript(`
local limit = tonumber(ARGV[1])
if limit > 0 then
  local n = tonumber(redis.call('GET', KEYS[3]) or '0')
  if n >= limit then return -1 end
  if redis.call('INCR', KEYS[3]) == 1 then redis.call('PEXPIRE', KEYS[3], ARGV[2]) end
end
local f = {}
for i = 5, #ARGV do f[#f+1] = ARGV[i] end
-- HSET writes every field a session has, so no DEL is needed first (one command less per OTP).
redis.call('HSET', KEYS[1], unpack(f))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('SET', KEYS[2], ARGV[4], 'PX', ARGV[3])
return 0
`)

// CreateOTP implements store.OTPs.
func (s *Store) CreateOTP(ctx context.Context, sess *store.OTPSession, ttl time.Duration, limit int, window time.Duration) error {
	if err := s.check(ctx, "create otp"); err != nil {
		return err
	}
	if sess == nil || sess.ID == "" || sess.Account == "" || sess.Phone == "" {
		return fmt.Errorf("store: create otp: session needs an id, an account and a phone")
	}
	if ttl <= 0 {
		ttl = time.Until(sess.ExpiresAt)
	}
	if window <= 0 {
		limit = 0
	}
	used := "0"
	if sess.Used {
		used = "1"
	}
	args := []any{limit, ms(window), ms(ttl), sess.ID,
		"account", sess.Account, "phone", sess.Phone, "hash", sess.Hash,
		"attempts", sess.Attempts, "max", sess.MaxAttempts,
		"created", sess.CreatedAt.UnixMilli(), "expires", sess.ExpiresAt.UnixMilli(), "used", used}
	keys := []string{s.keys.otpSessionKey(sess.Account, sess.ID), s.keys.otpPhoneKey(sess.Account, sess.Phone), s.keys.otpSendsKey(sess.Account, sess.Phone)}
	n, err := createOTPScript.Run(ctx, s.c, keys, args...).Int64()
	if err != nil {
		return fmt.Errorf("store: create otp: %w", err)
	}
	if n < 0 {
		return store.ErrOTPSendLimit
	}
	return nil
}

// GetOTP implements store.OTPs.
func (s *Store) GetOTP(ctx context.Context, account, id string) (*store.OTPSession, error) {
	if err := s.check(ctx, "get otp"); err != nil {
		return nil, err
	}
	m, err := s.c.HGetAll(ctx, s.keys.otpSessionKey(account, id)).Result()
	if err != nil {
		return nil, fmt.Errorf("store: get otp: %w", err)
	}
	if len(m) == 0 || m["account"] != account {
		return nil, store.ErrNotFound
	}
	atoi := func(k string) int64 { n, _ := strconv.ParseInt(m[k], 10, 64); return n }
	return &store.OTPSession{
		ID: id, Account: account, Phone: m["phone"], Hash: m["hash"],
		Attempts: int(atoi("attempts")), MaxAttempts: int(atoi("max")),
		CreatedAt: time.UnixMilli(atoi("created")), ExpiresAt: time.UnixMilli(atoi("expires")),
		Used: m["used"] == "1",
	}, nil
}

// LatestOTP implements store.OTPs.
func (s *Store) LatestOTP(ctx context.Context, account, phone string) (string, error) {
	if err := s.check(ctx, "latest otp"); err != nil {
		return "", err
	}
	id, err := s.c.Get(ctx, s.keys.otpPhoneKey(account, phone)).Result()
	if errors.Is(err, redis.Nil) {
		return "", store.ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("store: latest otp: %w", err)
	}
	return id, nil
}

// settleOTPScript: KEYS session; ARGV now ms, matched (0/1), the hash the caller compared
// against (the attempt only counts if the session still holds it). Returns the outcome.
var settleOTPScript = redis.NewScript(`
local s = redis.call('HMGET', KEYS[1], 'hash', 'attempts', 'max', 'expires', 'used')
if not s[2] then return 5 end
if s[5] == '1' then return 3 end
if tonumber(ARGV[1]) >= tonumber(s[4]) then
  redis.call('HSET', KEYS[1], 'hash', '')
  return 2
end
local a, max = tonumber(s[2]), tonumber(s[3])
if a >= max or s[1] == '' or s[1] ~= ARGV[3] then return 4 end
if ARGV[2] == '1' then
  redis.call('HSET', KEYS[1], 'used', '1', 'hash', '')
  return 0
end
a = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
if a >= max then redis.call('HSET', KEYS[1], 'hash', '') end
return 1
`)

// VerifyOTP implements store.OTPs: the hash is read, compared by match outside Redis, and the
// attempt settled by a script that re-checks every condition, so concurrent attempts are
// serialised by Redis.
func (s *Store) VerifyOTP(ctx context.Context, account, id string, now time.Time, match func(hash string) bool) (store.OTPOutcome, error) {
	sess, err := s.GetOTP(ctx, account, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.OTPNotFound, nil
	}
	if err != nil {
		return store.OTPNotFound, err
	}
	switch {
	case sess.Used:
		return store.OTPUsed, nil
	case !now.Before(sess.ExpiresAt):
		// settle below wipes the hash
	case sess.Attempts >= sess.MaxAttempts || sess.Hash == "":
		return store.OTPLocked, nil
	}
	matched := "0"
	if now.Before(sess.ExpiresAt) && match(sess.Hash) {
		matched = "1"
	}
	n, err := settleOTPScript.Run(ctx, s.c, []string{s.keys.otpSessionKey(account, id)}, now.UnixMilli(), matched, sess.Hash).Int()
	if err != nil {
		return store.OTPNotFound, fmt.Errorf("store: verify otp: %w", err)
	}
	return store.OTPOutcome(n), nil
}

// DeleteOTP implements store.OTPs.
func (s *Store) DeleteOTP(ctx context.Context, account, id string) error {
	if err := s.check(ctx, "delete otp"); err != nil {
		return err
	}
	sess, err := s.GetOTP(ctx, account, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	pk := s.keys.otpPhoneKey(account, sess.Phone)
	if err := delIfScript.Run(ctx, s.c, []string{pk, s.keys.otpSessionKey(account, id)}, id).Err(); err != nil {
		return fmt.Errorf("store: delete otp: %w", err)
	}
	return nil
}

// delIfScript: KEYS phone index, session; ARGV id. Deletes the session, and the index when
// it still names the session.
var delIfScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('DEL', KEYS[2])
return 0
`)

// initCreditsScript: KEYS balance; ARGV n. Keeps a limited balance, else sets n.
var initCreditsScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v and tonumber(v) >= 0 then return tonumber(v) end
redis.call('SET', KEYS[1], ARGV[1])
return tonumber(ARGV[1])
`)

// InitCredits implements store.Credits.
func (s *Store) InitCredits(ctx context.Context, account string, cat store.CreditCategory, n int64) error {
	if err := s.check(ctx, "init credits"); err != nil {
		return err
	}
	var err error
	if n < 0 {
		err = s.c.Del(ctx, s.keys.creditsKey(account, cat)).Err()
	} else {
		err = initCreditsScript.Run(ctx, s.c, []string{s.keys.creditsKey(account, cat)}, n).Err()
	}
	if err != nil {
		return fmt.Errorf("store: init credits: %w", err)
	}
	return nil
}

// SetCredits implements store.Credits.
func (s *Store) SetCredits(ctx context.Context, account string, cat store.CreditCategory, n int64) error {
	if err := s.check(ctx, "set credits"); err != nil {
		return err
	}
	var err error
	if n < 0 {
		err = s.c.Del(ctx, s.keys.creditsKey(account, cat)).Err()
	} else {
		err = s.c.Set(ctx, s.keys.creditsKey(account, cat), n, 0).Err()
	}
	if err != nil {
		return fmt.Errorf("store: set credits: %w", err)
	}
	return nil
}

// GetCredits implements store.Credits.
func (s *Store) GetCredits(ctx context.Context, account string, cat store.CreditCategory) (int64, bool, error) {
	if err := s.check(ctx, "get credits"); err != nil {
		return 0, false, err
	}
	n, err := s.c.Get(ctx, s.keys.creditsKey(account, cat)).Int64()
	if errors.Is(err, redis.Nil) {
		return -1, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("store: get credits: %w", err)
	}
	if n < 0 {
		return -1, false, nil
	}
	return n, true, nil
}

// takeCreditsScript: KEYS balance; ARGV n. Returns {remaining, ok}; remaining -1 = unlimited.
var takeCreditsScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v or tonumber(v) < 0 then return {-1, 1} end
local n = tonumber(ARGV[1])
if tonumber(v) < n then return {tonumber(v), 0} end
return {redis.call('DECRBY', KEYS[1], n), 1}
`)

// TakeCredits implements store.Credits.
func (s *Store) TakeCredits(ctx context.Context, account string, cat store.CreditCategory, n int64) (int64, error) {
	if err := s.check(ctx, "take credits"); err != nil {
		return 0, err
	}
	if n <= 0 {
		return 0, fmt.Errorf("store: take credits: %d is not positive", n)
	}
	res, err := takeCreditsScript.Run(ctx, s.c, []string{s.keys.creditsKey(account, cat)}, n).Int64Slice()
	if err != nil || len(res) != 2 {
		return 0, fmt.Errorf("store: take credits: %v", err)
	}
	if res[1] == 0 {
		return res[0], store.ErrInsufficientCredits
	}
	return res[0], nil
}

// refundCreditsScript: KEYS balance; ARGV n. Adds n to a limited balance only.
var refundCreditsScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v or tonumber(v) < 0 then return -1 end
return redis.call('INCRBY', KEYS[1], ARGV[1])
`)

// RefundCredits implements store.Credits.
func (s *Store) RefundCredits(ctx context.Context, account string, cat store.CreditCategory, n int64) error {
	if err := s.check(ctx, "refund credits"); err != nil {
		return err
	}
	if n <= 0 {
		return nil
	}
	if err := refundCreditsScript.Run(ctx, s.c, []string{s.keys.creditsKey(account, cat)}, n).Err(); err != nil {
		return fmt.Errorf("store: refund credits: %w", err)
	}
	return nil
}
