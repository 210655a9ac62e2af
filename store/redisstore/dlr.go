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

// Unmatched receipts and the webhook queue (store.Receipts and store.Webhooks). Keys, with P
// the prefix:
//
//	P:dlr:unmatched             zset    unmatched receipt ids, score = expiry (unix ms)
//	P:dlr:unmatched:data        hash    unmatched receipt id → JSON
//	P:wh:q                      stream  queued webhook jobs, field "j" = JSON; consumer group
//	                                    "webhooks": a claim is a read, its lease the entry's
//	                                    idle time in the group's pending list
//	P:wh:retry                  zset    jobs waiting for their next attempt: member JSON,
//	                                    score = due time (unix ms)
//	P:wh:dead                   hash    dead letters: id → JSON
//	P:wh:deadidx                zset    dead-letter ids, score = when they died (unix ms)
//
// A job's claim token is its stream entry id and delivery count: a job taken over after its
// lease ran out has a higher count, so the old holder's Retry or Dead does nothing.

var (
	_ store.Receipts = (*Store)(nil)
	_ store.Webhooks = (*Store)(nil)
)

func (s *Store) unmatchedKey() string     { return s.opts.Prefix + ":dlr:unmatched" }
func (s *Store) unmatchedDataKey() string { return s.opts.Prefix + ":dlr:unmatched:data" }
func (s *Store) whStreamKey() string      { return s.opts.Prefix + ":wh:q" }
func (s *Store) whRetryKey() string       { return s.opts.Prefix + ":wh:retry" }
func (s *Store) deadKey() string          { return s.opts.Prefix + ":wh:dead" }
func (s *Store) deadIdxKey() string       { return s.opts.Prefix + ":wh:deadidx" }

// webhookGroup is the consumer group of the webhook stream.
const webhookGroup = "webhooks"

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

// unmatchScript: KEYS unmatched zset, unmatched data; ARGV id, JSON, expiry ms, now ms.
// Files the receipt and drops up to 100 expired entries.
var unmatchScript = redis.NewScript(`
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
local old = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[4], 'BYSCORE', 'LIMIT', 0, 100)
for _, id in ipairs(old) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
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
	keys := []string{s.unmatchedKey(), s.unmatchedDataKey()}
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
		parked = p.XLen(ctx, s.receiptLogKey())
		unmatched = p.ZCount(ctx, s.unmatchedKey(), strconv.FormatInt(time.Now().UnixMilli()+1, 10), "+inf")
		return nil
	})
	if err != nil {
		return store.ReceiptCounts{}, fmt.Errorf("store: %s: %w", op, err)
	}
	return store.ReceiptCounts{Parked: parked.Val(), Unmatched: unmatched.Val()}, nil
}

func marshalJob(j *store.WebhookJob) ([]byte, error) {
	if j == nil || j.ID == "" || j.URL == "" {
		return nil, errors.New("webhook job without id or url")
	}
	b, err := json.Marshal(j)
	if err != nil {
		return nil, fmt.Errorf("webhook job %s: %w", j.ID, err)
	}
	return b, nil
}

// EnqueueWebhooks implements store.Webhooks: jobs due now are appended to the stream, later
// ones go to the retry set; one MULTI for all.
func (s *Store) EnqueueWebhooks(ctx context.Context, jobs ...*store.WebhookJob) (int, error) {
	op := "enqueue webhooks"
	if err := s.check(ctx, op); err != nil {
		return 0, err
	}
	if len(jobs) == 0 {
		return 0, nil
	}
	now := time.Now()
	bodies := make([][]byte, len(jobs))
	for i, j := range jobs {
		b, err := marshalJob(j)
		if err != nil {
			return 0, fmt.Errorf("store: %s: %w", op, err)
		}
		bodies[i] = b
	}
	_, err := s.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for i, j := range jobs {
			if j.NextAt.After(now) {
				p.ZAdd(ctx, s.whRetryKey(), redis.Z{Score: float64(j.NextAt.UnixMilli()), Member: bodies[i]})
			} else {
				p.XAdd(ctx, &redis.XAddArgs{Stream: s.whStreamKey(), Values: []any{"j", bodies[i]}})
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: %s: %w", op, err)
	}
	return len(jobs), nil
}

// promoteJobsScript: KEYS retry zset, stream; ARGV now ms, n. Moves due jobs to the stream.
var promoteJobsScript = redis.NewScript(`
local due = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[2]))
for _, j in ipairs(due) do
  redis.call('XADD', KEYS[2], '*', 'j', j)
  redis.call('ZREM', KEYS[1], j)
end
return #due
`)

// whToken is a claim's token: the entry id and its delivery count.
func whToken(id string, deliveries int64) string {
	return id + "/" + strconv.FormatInt(deliveries, 10)
}

func parseWhToken(tok string) (id, deliveries string, ok bool) {
	id, deliveries, ok = strings.Cut(tok, "/")
	return id, deliveries, ok && validEntryID(id) && deliveries != ""
}

// maxLease is the longest webhook lease. A claim with lease L sets its entries' idle time to
// maxLease-L, and takeovers claim entries idle for maxLease: so each claim's own lease is
// honoured although Redis measures only idle time.
const maxLease = 24 * time.Hour

// claimJobsScript: KEYS stream; ARGV group, consumer, n, maxLease ms, maxLease-lease ms,
// "1" to take over expired leases first. Returns (id, job JSON, deliveries) triples. The
// entries' idle times are set in the same script, so no crash leaves a claim with the wrong
// lease.
var claimJobsScript = redis.NewScript(`
local out = {}
local n = tonumber(ARGV[3])
if ARGV[6] == '1' then
  local r = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[4], '0-0', 'COUNT', n)
  for _, e in ipairs(r[2]) do
    if type(e) == 'table' and e[1] then
      local p = redis.call('XPENDING', KEYS[1], ARGV[1], e[1], e[1], 1)
      local d = 2
      if #p == 1 then d = p[1][4] end
      out[#out + 1] = {e[1], e[2], d}
    end
  end
end
if #out < n then
  local r = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', n - #out, 'STREAMS', KEYS[1], '>')
  if r then
    for _, e in ipairs(r[1][2]) do out[#out + 1] = {e[1], e[2], 1} end
  end
end
if #out == 0 then return {} end
-- unpack expands only as the last argument: build the whole argument list.
local args = {KEYS[1], ARGV[1], ARGV[2], 0}
for _, e in ipairs(out) do args[#args + 1] = e[1] end
args[#args + 1] = 'IDLE'
args[#args + 1] = ARGV[5]
args[#args + 1] = 'JUSTID'
redis.call('XCLAIM', unpack(args))
local flat = {}
for _, e in ipairs(out) do
  local j = ''
  local f = e[2]
  if type(f) == 'table' then
    for k = 1, #f, 2 do
      if f[k] == 'j' then j = f[k + 1] end
    end
  end
  flat[#flat + 1] = e[1]
  flat[#flat + 1] = j
  flat[#flat + 1] = e[3]
end
return flat
`)

// ClaimWebhooks implements store.Webhooks with one script: due retries move to the stream
// first (at most every 100ms, another script), then jobs whose lease ran out are taken over
// (at most every lease/4, at most every second), then new entries are read; the claimed
// entries' idle times are set so that they can be taken over once this claim's lease runs
// out (see maxLease).
func (s *Store) ClaimWebhooks(ctx context.Context, now time.Time, lease time.Duration, n int) ([]*store.WebhookJob, error) {
	op := "claim webhooks"
	if err := s.check(ctx, op); err != nil {
		return nil, err
	}
	if n <= 0 {
		return nil, nil
	}
	lease = min(max(lease, time.Millisecond), maxLease)
	key := s.whStreamKey()
	if err := s.ensureStreamGroup(ctx, key, webhookGroup); err != nil {
		return nil, fmt.Errorf("store: %s: %w", op, err)
	}
	if last := s.lastPromote.Load(); now.UnixMilli()-last >= 100 || now.UnixMilli() < last {
		s.lastPromote.Store(now.UnixMilli())
		if err := promoteJobsScript.Run(ctx, s.c, []string{s.whRetryKey(), key}, now.UnixMilli(), 1000).Err(); err != nil {
			return nil, fmt.Errorf("store: %s: %w", op, err)
		}
	}
	takeover := "0"
	if last := s.lastTakeover.Load(); now.Sub(time.UnixMilli(last)) >= min(max(lease/4, 100*time.Millisecond), time.Second) || now.UnixMilli() < last {
		s.lastTakeover.Store(now.UnixMilli())
		takeover = "1"
	}
	consumer := s.consumerName()
	var out []*store.WebhookJob
	if takeover == "1" {
		// Jobs of dead members are taken at once, their lease set to this claim's.
		taken, err := s.takeOverDead(ctx, key, webhookGroup, consumer, n, maxLease-lease)
		if err != nil {
			return nil, fmt.Errorf("store: %s: %w", op, err)
		}
		for _, t := range taken {
			if j := s.decodeJob(ctx, key, t.id, t.fields["j"], t.deliveries); j != nil {
				out = append(out, j)
			}
		}
		n -= len(taken)
		if n <= 0 {
			return out, nil
		}
	}
	vals, err := claimJobsScript.Run(ctx, s.c, []string{key}, webhookGroup, consumer, n,
		ms(maxLease), ms(maxLease-lease), takeover).Slice()
	if isNoGroup(err) {
		s.groups.Delete(key)
	}
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("store: %s: %w", op, err)
	}
	for i := 0; i+2 < len(vals); i += 3 {
		id, _ := vals[i].(string)
		body, _ := vals[i+1].(string)
		d, _ := vals[i+2].(int64)
		if j := s.decodeJob(ctx, key, id, body, d); j != nil {
			out = append(out, j)
		}
	}
	return out, nil
}

// decodeJob decodes a claimed job entry; one that does not decode is no job anyone can send:
// it is dropped rather than left to block the queue.
func (s *Store) decodeJob(ctx context.Context, key, id, body string, deliveries int64) *store.WebhookJob {
	j := new(store.WebhookJob)
	if body == "" || json.Unmarshal([]byte(body), j) != nil || j.ID == "" {
		s.c.XAck(ctx, key, webhookGroup, id)
		s.c.XDel(ctx, key, id)
		return nil
	}
	j.Token = whToken(id, deliveries)
	return j
}

// AckWebhooks implements store.Webhooks: XACK and XDEL through the group commit. A delivered
// job is finished even if its lease ran out meanwhile (the other holder's attempt is a
// duplicate the receiver deduplicates by the job's ID).
func (s *Store) AckWebhooks(ctx context.Context, jobs ...*store.WebhookJob) error {
	op := "ack webhooks"
	if err := s.check(ctx, op); err != nil {
		return err
	}
	var ids []string
	for _, j := range jobs {
		if j == nil {
			continue
		}
		if id, _, ok := parseWhToken(j.Token); ok {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	w := &write{acks: map[streamGroup][]string{{s.whStreamKey(), webhookGroup}: ids}}
	if err := s.commit.do(ctx, w); err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	return nil
}

// heldCheck is the Lua preamble of RetryWebhook and DeadWebhook: the claim (entry ARGV[1]
// with delivery count ARGV[2] in group ARGV[3] of stream KEYS[1]) must still be pending with
// that count; then it is finished.
const heldCheck = `
local p = redis.call('XPENDING', KEYS[1], ARGV[3], ARGV[1], ARGV[1], 1)
if #p == 0 or tostring(p[1][4]) ~= ARGV[2] then return 0 end
redis.call('XACK', KEYS[1], ARGV[3], ARGV[1])
redis.call('XDEL', KEYS[1], ARGV[1])
`

// retryJobScript: KEYS stream, retry zset; ARGV entry id, deliveries, group, JSON, due ms.
var retryJobScript = redis.NewScript(heldCheck + `
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[4])
return 1
`)

// RetryWebhook implements store.Webhooks.
func (s *Store) RetryWebhook(ctx context.Context, job *store.WebhookJob, at time.Time) error {
	op := "retry webhook " + job.ID
	if err := s.check(ctx, op); err != nil {
		return err
	}
	id, d, ok := parseWhToken(job.Token)
	if !ok {
		return nil
	}
	c := *job
	c.NextAt = at
	b, err := json.Marshal(&c)
	if err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	keys := []string{s.whStreamKey(), s.whRetryKey()}
	if err := retryJobScript.Run(ctx, s.c, keys, id, d, webhookGroup, b, at.UnixMilli()).Err(); err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	return nil
}

// deadJobScript: KEYS stream, dead, deadidx; ARGV entry id, deliveries, group, job id,
// JSON, dead ms, and the cutoff (ms) before which dead jobs are dropped: up to 100 of those
// go in each call, so the dead-letter store keeps Options.DeadRetention of history.
var deadJobScript = redis.NewScript(heldCheck + `
redis.call('HSET', KEYS[2], ARGV[4], ARGV[5])
redis.call('ZADD', KEYS[3], ARGV[6], ARGV[4])
local old = redis.call('ZRANGE', KEYS[3], '-inf', ARGV[7], 'BYSCORE', 'LIMIT', 0, 100)
for _, id in ipairs(old) do
  redis.call('ZREM', KEYS[3], id)
  redis.call('HDEL', KEYS[2], id)
end
return 1
`)

// DeadWebhook implements store.Webhooks.
func (s *Store) DeadWebhook(ctx context.Context, job *store.WebhookJob) error {
	op := "dead webhook " + job.ID
	if err := s.check(ctx, op); err != nil {
		return err
	}
	id, d, ok := parseWhToken(job.Token)
	if !ok {
		return nil
	}
	c := *job
	if c.DeadAt.IsZero() {
		c.DeadAt = time.Now()
	}
	b, err := json.Marshal(&c)
	if err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	keys := []string{s.whStreamKey(), s.deadKey(), s.deadIdxKey()}
	cutoff := time.Now().Add(-s.opts.DeadRetention).UnixMilli()
	if err := deadJobScript.Run(ctx, s.c, keys, id, d, webhookGroup, job.ID, b, c.DeadAt.UnixMilli(), cutoff).Err(); err != nil {
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

// replayJobScript: KEYS dead, deadidx, stream; ARGV id, JSON. Only while dead.
var replayJobScript = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('XADD', KEYS[3], '*', 'j', ARGV[2])
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
	keys := []string{s.deadKey(), s.deadIdxKey(), s.whStreamKey()}
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
		moved, err := replayJobScript.Run(ctx, s.c, keys, id, b).Int()
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
	var q, r, d *redis.IntCmd
	_, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		q = p.XLen(ctx, s.whStreamKey())
		r = p.ZCard(ctx, s.whRetryKey())
		d = p.HLen(ctx, s.deadKey())
		return nil
	})
	if err != nil {
		return store.WebhookCounts{}, fmt.Errorf("store: %s: %w", op, err)
	}
	return store.WebhookCounts{Queued: q.Val() + r.Val(), Dead: d.Val()}, nil
}
