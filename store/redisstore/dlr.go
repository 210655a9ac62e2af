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

// Receipt parking, unmatched receipts and the webhook queue (store.Receipts and
// store.Webhooks). Keys, with P the prefix:
//
//	P:dlr:park:{carrier}:{key}  hash    parked receipts of one carrier message id: receipt id → JSON
//	P:dlr:parked                zset    every parked receipt: member "carrier\nkey\nid", score = until (unix ms)
//	P:dlr:unmatched             zset    unmatched receipt ids, score = expiry (unix ms)
//	P:dlr:unmatched:data        hash    unmatched receipt id → JSON
//	P:wh:jobs                   hash    queued webhook jobs: id → JSON
//	P:wh:due                    zset    queued job ids, score = due time or lease end (unix ms)
//	P:wh:dead                   hash    dead letters: id → JSON
//	P:wh:deadidx                zset    dead-letter ids, score = when they died (unix ms)
//	P:wh:done:{id}              string  "1" with a TTL: a delivered job id, so it is not queued again
//
// Every change that touches more than one key is one Lua script, so a crash never leaves a
// job both queued and dead, or a receipt parked in one index and not the other. The
// scripts that name P:wh:done:{id} compute it from the prefix (like PromoteDue): single
// primary only, no Cluster.

var (
	_ store.Receipts = (*Store)(nil)
	_ store.Webhooks = (*Store)(nil)
)

func (s *Store) parkKey(carrier, key string) string {
	return s.opts.Prefix + ":dlr:park:" + carrier + ":" + key
}
func (s *Store) parkedKey() string        { return s.opts.Prefix + ":dlr:parked" }
func (s *Store) unmatchedKey() string     { return s.opts.Prefix + ":dlr:unmatched" }
func (s *Store) unmatchedDataKey() string { return s.opts.Prefix + ":dlr:unmatched:data" }
func (s *Store) jobsKey() string          { return s.opts.Prefix + ":wh:jobs" }
func (s *Store) dueKey() string           { return s.opts.Prefix + ":wh:due" }
func (s *Store) deadKey() string          { return s.opts.Prefix + ":wh:dead" }
func (s *Store) deadIdxKey() string       { return s.opts.Prefix + ":wh:deadidx" }
func (s *Store) doneKey(id string) string { return s.opts.Prefix + ":wh:done:" + id }

func parkMember(carrier, key, id string) string { return carrier + "\n" + key + "\n" + id }

func checkReceipt(r *store.Receipt) error {
	if r == nil || r.ID == "" {
		return errors.New("receipt without id")
	}
	if strings.ContainsAny(r.Key, "\n") || strings.ContainsAny(r.ID, "\n") {
		return errors.New("receipt key or id with a line break")
	}
	return valid.Carrier(r.Carrier)
}

// parkScript: KEYS[1] the (carrier, key) hash, KEYS[2] the parked zset; ARGV id, JSON,
// until (ms), zset member. Keeps the first copy of an id; sets its time either way.
var parkScript = redis.NewScript(`
redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
return 0
`)

// Park implements store.Receipts.
func (s *Store) Park(ctx context.Context, r *store.Receipt, until time.Time) error {
	if err := s.check(ctx, "park receipt"); err != nil {
		return err
	}
	if err := checkReceipt(r); err != nil {
		return fmt.Errorf("store: park receipt: %w", err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("store: park receipt: %w", err)
	}
	keys := []string{s.parkKey(r.Carrier, r.Key), s.parkedKey()}
	if err := parkScript.Run(ctx, s.c, keys, r.ID, b, until.UnixMilli(), parkMember(r.Carrier, r.Key, r.ID)).Err(); err != nil {
		return fmt.Errorf("store: park receipt %s: %w", r.ID, err)
	}
	return nil
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

// ParkedReceipts implements store.Receipts. Receipts come back oldest (first received) first.
func (s *Store) ParkedReceipts(ctx context.Context, carrier, key string) ([]*store.Receipt, error) {
	op := "parked receipts " + carrier
	if err := s.check(ctx, op); err != nil {
		return nil, err
	}
	m, err := s.c.HGetAll(ctx, s.parkKey(carrier, key)).Result()
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", op, err)
	}
	vals := make([]any, 0, len(m))
	for _, v := range m {
		vals = append(vals, v)
	}
	out := decodeJSON[store.Receipt](vals)
	sortReceipts(out)
	return out, nil
}

func sortReceipts(rs []*store.Receipt) {
	for i := 1; i < len(rs); i++ { // tiny lists: insertion sort by ReceivedAt, then ID
		for j := i; j > 0 && (rs[j].ReceivedAt.Before(rs[j-1].ReceivedAt) ||
			rs[j].ReceivedAt.Equal(rs[j-1].ReceivedAt) && rs[j].ID < rs[j-1].ID); j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
}

// DueParked implements store.Receipts.
func (s *Store) DueParked(ctx context.Context, now time.Time, n int) ([]*store.Receipt, error) {
	op := "due parked receipts"
	if err := s.check(ctx, op); err != nil {
		return nil, err
	}
	if n <= 0 {
		return nil, nil
	}
	members, err := s.c.ZRangeArgs(ctx, redis.ZRangeArgs{Key: s.parkedKey(), Start: "-inf",
		Stop: strconv.FormatInt(now.UnixMilli(), 10), ByScore: true, Count: int64(n)}).Result()
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", op, err)
	}
	if len(members) == 0 {
		return nil, nil
	}
	cmds := make([]*redis.StringCmd, len(members))
	_, err = s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, m := range members {
			parts := strings.SplitN(m, "\n", 3)
			if len(parts) != 3 {
				continue
			}
			cmds[i] = p.HGet(ctx, s.parkKey(parts[0], parts[1]), parts[2])
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("store: %s: %w", op, err)
	}
	var vals []any
	var stale []any
	for i, c := range cmds {
		if c == nil {
			stale = append(stale, members[i])
			continue
		}
		v, err := c.Result()
		if errors.Is(err, redis.Nil) {
			stale = append(stale, members[i])
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("store: %s: %w", op, err)
		}
		vals = append(vals, v)
	}
	if len(stale) > 0 { // index entries without data (should not happen): drop them
		s.c.ZRem(ctx, s.parkedKey(), stale...)
	}
	return decodeJSON[store.Receipt](vals), nil
}

// unparkScript: KEYS[1] the (carrier, key) hash, KEYS[2] the parked zset; ARGV[1] the member
// prefix "carrier\nkey\n", ARGV[2..] the ids.
var unparkScript = redis.NewScript(`
for i = 2, #ARGV do
  redis.call('HDEL', KEYS[1], ARGV[i])
  redis.call('ZREM', KEYS[2], ARGV[1] .. ARGV[i])
end
return 0
`)

// Unpark implements store.Receipts.
func (s *Store) Unpark(ctx context.Context, carrier, key string, ids ...string) error {
	op := "unpark receipts " + carrier
	if err := s.check(ctx, op); err != nil {
		return err
	}
	if len(ids) == 0 {
		return nil
	}
	args := make([]any, 0, len(ids)+1)
	args = append(args, carrier+"\n"+key+"\n")
	for _, id := range ids {
		args = append(args, id)
	}
	if err := unparkScript.Run(ctx, s.c, []string{s.parkKey(carrier, key), s.parkedKey()}, args...).Err(); err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	return nil
}

// unmatchScript: KEYS park hash, parked zset, unmatched zset, unmatched data; ARGV id,
// member, JSON, expiry ms, now ms. Unparks, files, and drops up to 100 expired entries.
var unmatchScript = redis.NewScript(`
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('HSET', KEYS[4], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
local old = redis.call('ZRANGE', KEYS[3], '-inf', ARGV[5], 'BYSCORE', 'LIMIT', 0, 100)
for _, id in ipairs(old) do
  redis.call('ZREM', KEYS[3], id)
  redis.call('HDEL', KEYS[4], id)
end
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
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("store: unmatch receipt: %w", err)
	}
	now := time.Now()
	keys := []string{s.parkKey(r.Carrier, r.Key), s.parkedKey(), s.unmatchedKey(), s.unmatchedDataKey()}
	err = unmatchScript.Run(ctx, s.c, keys, r.ID, parkMember(r.Carrier, r.Key, r.ID), b,
		now.Add(ttl).UnixMilli(), now.UnixMilli()).Err()
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
	ids, err := s.c.ZRangeArgs(ctx, redis.ZRangeArgs{Key: s.unmatchedKey(), Start: "+inf",
		Stop: strconv.FormatInt(time.Now().UnixMilli(), 10), ByScore: true, Rev: true, Count: int64(n)}).Result()
	return hashValues[store.Receipt](ctx, s, op, s.unmatchedDataKey(), ids, err)
}

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
		parked = p.ZCard(ctx, s.parkedKey())
		unmatched = p.ZCount(ctx, s.unmatchedKey(), strconv.FormatInt(time.Now().UnixMilli()+1, 10), "+inf")
		return nil
	})
	if err != nil {
		return store.ReceiptCounts{}, fmt.Errorf("store: %s: %w", op, err)
	}
	return store.ReceiptCounts{Parked: parked.Val(), Unmatched: unmatched.Val()}, nil
}

// enqueueJobsScript: KEYS jobs hash, due zset, dead hash; ARGV[1] the prefix of done keys,
// then (id, JSON, due ms) triples. Returns how many were new.
var enqueueJobsScript = redis.NewScript(`
local n = 0
for i = 2, #ARGV, 3 do
  local id = ARGV[i]
  if redis.call('HEXISTS', KEYS[1], id) == 0 and redis.call('HEXISTS', KEYS[3], id) == 0
     and redis.call('EXISTS', ARGV[1] .. id) == 0 then
    redis.call('HSET', KEYS[1], id, ARGV[i + 1])
    redis.call('ZADD', KEYS[2], ARGV[i + 2], id)
    n = n + 1
  end
end
return n
`)

// EnqueueWebhooks implements store.Webhooks (one script per call: all or nothing).
func (s *Store) EnqueueWebhooks(ctx context.Context, jobs ...*store.WebhookJob) (int, error) {
	op := "enqueue webhooks"
	if err := s.check(ctx, op); err != nil {
		return 0, err
	}
	if len(jobs) == 0 {
		return 0, nil
	}
	now := time.Now()
	args := make([]any, 0, 1+3*len(jobs))
	args = append(args, s.doneKey(""))
	for _, j := range jobs {
		if j == nil || j.ID == "" || j.URL == "" {
			return 0, fmt.Errorf("store: %s: job without id or url", op)
		}
		b, err := json.Marshal(j)
		if err != nil {
			return 0, fmt.Errorf("store: %s: %w", op, err)
		}
		due := j.NextAt
		if due.IsZero() {
			due = now
		}
		args = append(args, j.ID, b, due.UnixMilli())
	}
	n, err := enqueueJobsScript.Run(ctx, s.c, []string{s.jobsKey(), s.dueKey(), s.deadKey()}, args...).Int()
	if err != nil {
		return 0, fmt.Errorf("store: %s: %w", op, err)
	}
	return n, nil
}

// claimJobsScript: KEYS jobs hash, due zset; ARGV now ms, lease end ms, n. Re-scores each due
// job to the lease end and returns the JSON of each.
var claimJobsScript = redis.NewScript(`
local ids = redis.call('ZRANGE', KEYS[2], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, id in ipairs(ids) do
  local j = redis.call('HGET', KEYS[1], id)
  if j then
    redis.call('ZADD', KEYS[2], ARGV[2], id)
    out[#out + 1] = j
  else
    redis.call('ZREM', KEYS[2], id)
  end
end
return out
`)

// ClaimWebhooks implements store.Webhooks.
func (s *Store) ClaimWebhooks(ctx context.Context, now time.Time, lease time.Duration, n int) ([]*store.WebhookJob, error) {
	op := "claim webhooks"
	if err := s.check(ctx, op); err != nil {
		return nil, err
	}
	if n <= 0 {
		return nil, nil
	}
	vals, err := claimJobsScript.Run(ctx, s.c, []string{s.jobsKey(), s.dueKey()},
		now.UnixMilli(), now.Add(lease).UnixMilli(), n).Slice()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("store: %s: %w", op, err)
	}
	return decodeJSON[store.WebhookJob](vals), nil
}

// ackJobScript: KEYS jobs, due, done key; ARGV id, keep ms.
var ackJobScript = redis.NewScript(`
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('SET', KEYS[3], '1', 'PX', ARGV[2])
return 0
`)

// AckWebhook implements store.Webhooks.
func (s *Store) AckWebhook(ctx context.Context, id string, keep time.Duration) error {
	op := "ack webhook " + id
	if err := s.check(ctx, op); err != nil {
		return err
	}
	if keep <= 0 {
		keep = store.DefaultWebhookDoneTTL
	}
	if err := ackJobScript.Run(ctx, s.c, []string{s.jobsKey(), s.dueKey(), s.doneKey(id)}, id, ms(keep)).Err(); err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	return nil
}

// retryJobScript: KEYS jobs, due; ARGV id, JSON, due ms. Only while the job is queued.
var retryJobScript = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return 1
`)

// RetryWebhook implements store.Webhooks.
func (s *Store) RetryWebhook(ctx context.Context, job *store.WebhookJob, at time.Time) error {
	op := "retry webhook " + job.ID
	if err := s.check(ctx, op); err != nil {
		return err
	}
	c := *job
	c.NextAt = at
	b, err := json.Marshal(&c)
	if err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	if err := retryJobScript.Run(ctx, s.c, []string{s.jobsKey(), s.dueKey()}, job.ID, b, at.UnixMilli()).Err(); err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	return nil
}

// deadJobScript: KEYS jobs, due, dead, deadidx; ARGV id, JSON, dead ms.
var deadJobScript = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[1])
return 1
`)

// DeadWebhook implements store.Webhooks.
func (s *Store) DeadWebhook(ctx context.Context, job *store.WebhookJob) error {
	op := "dead webhook " + job.ID
	if err := s.check(ctx, op); err != nil {
		return err
	}
	c := *job
	if c.DeadAt.IsZero() {
		c.DeadAt = time.Now()
	}
	b, err := json.Marshal(&c)
	if err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	keys := []string{s.jobsKey(), s.dueKey(), s.deadKey(), s.deadIdxKey()}
	if err := deadJobScript.Run(ctx, s.c, keys, job.ID, b, c.DeadAt.UnixMilli()).Err(); err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	return nil
}

// DeadWebhooks implements store.Webhooks.
func (s *Store) DeadWebhooks(ctx context.Context, n int) ([]*store.WebhookJob, error) {
	op := "dead webhooks"
	if err := s.check(ctx, op); err != nil {
		return nil, err
	}
	if n <= 0 {
		return nil, nil
	}
	ids, err := s.c.ZRange(ctx, s.deadIdxKey(), 0, int64(n-1)).Result()
	return hashValues[store.WebhookJob](ctx, s, op, s.deadKey(), ids, err)
}

// replayJobScript: KEYS dead, deadidx, jobs, due; ARGV id, JSON, due ms. Only while dead.
var replayJobScript = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[1])
return 1
`)

// ReplayWebhooks implements store.Webhooks: each dead letter moves back in one script.
func (s *Store) ReplayWebhooks(ctx context.Context, now time.Time, ids ...string) (int, error) {
	op := "replay webhooks"
	if err := s.check(ctx, op); err != nil {
		return 0, err
	}
	if len(ids) == 0 {
		all, err := s.c.ZRange(ctx, s.deadIdxKey(), 0, -1).Result()
		if err != nil {
			return 0, fmt.Errorf("store: %s: %w", op, err)
		}
		ids = all
	}
	keys := []string{s.deadKey(), s.deadIdxKey(), s.jobsKey(), s.dueKey()}
	n := 0
	for _, id := range ids {
		v, err := s.c.HGet(ctx, s.deadKey(), id).Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("store: %s: %w", op, err)
		}
		j := new(store.WebhookJob)
		if err := json.Unmarshal([]byte(v), j); err != nil {
			return n, fmt.Errorf("store: %s %s: %w", op, id, err)
		}
		j.DeadAt, j.Since, j.NextAt = time.Time{}, now, now
		b, err := json.Marshal(j)
		if err != nil {
			return n, fmt.Errorf("store: %s: %w", op, err)
		}
		moved, err := replayJobScript.Run(ctx, s.c, keys, id, b, now.UnixMilli()).Int()
		if err != nil {
			return n, fmt.Errorf("store: %s %s: %w", op, id, err)
		}
		n += moved
	}
	return n, nil
}

// WebhookCounts implements store.Webhooks.
func (s *Store) WebhookCounts(ctx context.Context) (store.WebhookCounts, error) {
	op := "webhook counts"
	if err := s.check(ctx, op); err != nil {
		return store.WebhookCounts{}, err
	}
	var q, d *redis.IntCmd
	_, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		q = p.HLen(ctx, s.jobsKey())
		d = p.HLen(ctx, s.deadKey())
		return nil
	})
	if err != nil {
		return store.WebhookCounts{}, fmt.Errorf("store: %s: %w", op, err)
	}
	return store.WebhookCounts{Queued: q.Val(), Dead: d.Val()}, nil
}
