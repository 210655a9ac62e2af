package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/internal/valid"
)

// Unmatched receipts (store.Receipts): receipts that matched no message, kept for an
// operator to inspect. Keys, with P the prefix:
//
//	P:{dlr}:unmatched           zset    unmatched receipt ids, score = expiry (unix ms)
//	P:{dlr}:unmatched:data      hash    unmatched receipt id → JSON

var _ store.Receipts = (*Store)(nil)

func checkReceipt(r *store.Receipt) error {
	if r == nil || r.ID == "" {
		return errors.New("receipt without id")
	}
	if strings.ContainsAny(r.Key, "\n") || strings.ContainsAny(r.ID, "\n") {
		return errors.New("receipt key or id with a line break")
	}
	return valid.Carrier(r.Carrier)
}

// decodeJSON decodes a script's list of JSON strings, skipping what does not decode.
func decodeJSON[T any](vals []any) []*T {
	out := make([]*T, 0, len(vals))
	for _, v := range vals {
		sv, ok := v.(string)
		if !ok {
			continue
		}
		x := new(T)
		if json.Unmarshal([]byte(sv), x) == nil {
			out = append(out, x)
		}
	}
	return out
}

// fileAndTrim is the Lua both expiring collections (unmatched receipts, dead webhooks) file an
// entry with: the value in a hash, its id in a sorted set scored by time, and up to 100
// entries scored at or before cutoff dropped from both, so that the collection trims itself a
// little on every write instead of needing a sweeper.
// Both keys then live at least until keep (unix ms), and no longer than the last write
// needs: an idle collection expires whole (it holds phone numbers; see sweep.go).
const fileAndTrim = `
local function keepUntil(key, at)
  if redis.call('PTTL', key) < 0 then redis.call('PEXPIREAT', key, at)
  else redis.call('PEXPIREAT', key, at, 'GT') end
end
local function fileAndTrim(zset, hash, id, value, score, cutoff, keep)
  redis.call('HSET', hash, id, value)
  redis.call('ZADD', zset, score, id)
  keepUntil(zset, keep)
  keepUntil(hash, keep)
  local old = redis.call('ZRANGE', zset, '-inf', cutoff, 'BYSCORE', 'LIMIT', 0, 100)
  for _, o in ipairs(old) do
    redis.call('ZREM', zset, o)
    redis.call('HDEL', hash, o)
  end
end
`

// unmatchScript: KEYS unmatched zset, unmatched data; ARGV id, JSON, expiry ms, now ms.
// Files the receipt and drops up to 100 expired entries; the keys live until the expiry.
var unmatchScript = redis.NewScript(fileAndTrim + `
fileAndTrim(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[3])
return 0
`)

// Unmatch implements store.Receipts.
func (s *Store) Unmatch(ctx context.Context, r *store.Receipt, ttl time.Duration) error {
	if err := s.check(ctx, "unmatch receipt"); err != nil {
		return err
	}
	if err := checkReceipt(r); err != nil {
		return fmt.Errorf("store: unmatch receipt: %w", err)
	}
	if ttl <= 0 {
		ttl = store.DefaultUnmatchedTTL
	}
	w := wireReceipt{Receipt: *r}
	w.Text, w.SealedText = s.text.sealField(receiptAAD(r.ID), r.Text)
	w.Receipt.Text = ""
	b, err := json.Marshal(&w)
	if err != nil {
		return fmt.Errorf("store: unmatch receipt: %w", err)
	}
	now := time.Now()
	keys := []string{s.keys.unmatchedKey(), s.keys.unmatchedDataKey()}
	err = unmatchScript.Run(ctx, s.c, keys, r.ID, b, now.Add(ttl).UnixMilli(), now.UnixMilli()).Err()
	if err != nil {
		return fmt.Errorf("store: unmatch receipt %s: %w", r.ID, err)
	}
	return nil
}

// Unmatched implements store.Receipts.
func (s *Store) Unmatched(ctx context.Context, n int) ([]*store.Receipt, error) {
	op := "unmatched receipts"
	if err := s.check(ctx, op); err != nil {
		return nil, err
	}
	if n <= 0 {
		return nil, nil
	}
	ids, err := s.c.ZRangeArgs(ctx, redis.ZRangeArgs{Key: s.keys.unmatchedKey(), Start: "+inf",
		Stop: strconv.FormatInt(time.Now().UnixMilli(), 10), ByScore: true, Rev: true, Count: int64(n)}).Result()
	rs, err := hashValues[wireReceipt](ctx, s, op, s.keys.unmatchedDataKey(), ids, err)
	out := make([]*store.Receipt, 0, len(rs))
	for _, w := range rs {
		r := &w.Receipt
		t, oerr := s.text.openField(receiptAAD(r.ID), w.Text, w.SealedText)
		if oerr != nil {
			t = "(" + oerr.Error() + ")" // shown to the operator; the rest of the receipt stands
		}
		r.Text = t
		out = append(out, r)
	}
	return out, err
}

// wireReceipt is an unmatched receipt as stored: its text (a receipt's text: field is the
// start of its message, an OTP code fits in it) sealed like message texts (codec.go).
type wireReceipt struct {
	store.Receipt
	Text       string `json:"text,omitempty"`
	SealedText string `json:"sealed_text,omitempty"`
}

func receiptAAD(id string) string { return "rcpt:" + id }

// hashValues reads the JSON values of ids (found by an index query that returned err) from
// the hash at key, in the ids' order: the lists of unmatched receipts and dead letters are a
// sorted-set index beside a hash of their data.
func hashValues[T any](ctx context.Context, s *Store, op, key string, ids []string, err error) ([]*T, error) {
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", op, err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	vals, err := s.c.HMGet(ctx, key, ids...).Result()
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", op, err)
	}
	return decodeJSON[T](vals), nil
}

// ReceiptCounts implements store.Receipts.
func (s *Store) ReceiptCounts(ctx context.Context) (store.ReceiptCounts, error) {
	op := "receipt counts"
	if err := s.check(ctx, op); err != nil {
		return store.ReceiptCounts{}, err
	}
	var parked, unmatched *redis.IntCmd
	_, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		parked = p.XLen(ctx, s.keys.receiptLogKey())
		unmatched = p.ZCount(ctx, s.keys.unmatchedKey(), strconv.FormatInt(time.Now().UnixMilli()+1, 10), "+inf")
		return nil
	})
	if err != nil {
		return store.ReceiptCounts{}, fmt.Errorf("store: %s: %w", op, err)
	}
	return store.ReceiptCounts{Parked: parked.Val(), Unmatched: unmatched.Val()}, nil
}
