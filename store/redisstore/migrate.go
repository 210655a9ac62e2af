package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/smppd/smppd/store"
)

// Versions before the Redis Cluster support named their keys without hash tags. MigrateKeys
// renames them to the present layout, so that an upgrade keeps the status records (clients
// query them for 90 days), the queues with their consumer groups, scheduled messages, webhook
// jobs, dead letters, unmatched receipts, OTP sessions and the DLT registry.

// MigrationReport counts what MigrateKeys moved.
type MigrationReport struct {
	Renamed  int // keys renamed as they are (records, queues, scheduled sets, OTP, registry …)
	Jobs     int // webhook jobs re-queued in their message's shard (queued, retrying, dead)
	Skipped  int // old keys left alone because the new name exists already
	Leftover int // old keys not recognised (left in place)
}

// MigrateKeys renames the keys of the layout before hash tags to the present one. It is for
// a single Redis (or Sentinel; the old layout never ran on a Cluster), with every smppd
// stopped (drained). It is idempotent: running it again finds nothing to move. Queue streams
// keep their consumer groups; claims still pending in them under the old instances' names
// are taken over after dispatch.reclaim_after (a drained stop leaves none). The old webhook
// queue is one stream: its jobs (pending ones included, so at least once) are queued again
// in their message's shard and the stream deleted.
func (s *Store) MigrateKeys(ctx context.Context) (MigrationReport, error) {
	var r MigrationReport
	if s.cluster {
		return r, errors.New("store: migrate keys: the layout before hash tags never ran on a Redis Cluster: nothing to migrate")
	}
	p := s.opts.Prefix + ":"
	rename := func(from, to string) error {
		ok, err := s.c.RenameNX(ctx, from, to).Result()
		if err != nil {
			return fmt.Errorf("rename %s to %s: %w", from, to, err)
		}
		if ok {
			r.Renamed++
		} else {
			r.Skipped++
		}
		return nil
	}
	var errs []error
	err := s.scan(ctx, p+"*", func(key string) error {
		name := strings.TrimPrefix(key, p)
		part := strings.Split(name, ":")
		switch {
		case strings.ContainsAny(name, "{}"):
			return nil // present layout
		case part[0] == "rec" && len(part) == 2:
			return rename(key, s.keys.recKey(part[1]))
		case part[0] == "q" && len(part) == 3 && len(part[2]) == 1 && part[2][0] >= '0' && part[2][0] <= '2':
			return rename(key, s.keys.streamKey(part[1], store.Priority(part[2][0]-'0')))
		case part[0] == "sched" && len(part) == 2:
			return rename(key, s.keys.schedKey(part[1]))
		case part[0] == "otp" && len(part) == 4 && (part[1] == "s" || part[1] == "p" || part[1] == "n"):
			to := map[string]func(string, string) string{"s": s.keys.otpSessionKey, "p": s.keys.otpPhoneKey, "n": s.keys.otpSendsKey}[part[1]]
			return rename(key, to(part[2], part[3]))
		case name == "dlt:registry", name == "dlt:version":
			doc, version := s.keys.registryKeys()
			return rename(key, map[string]string{"dlt:registry": doc, "dlt:version": version}[name])
		case name == "dlr:unmatched":
			return rename(key, s.keys.unmatchedKey())
		case name == "dlr:unmatched:data":
			return rename(key, s.keys.unmatchedDataKey())
		case name == "wh:q", name == "wh:retry", name == "wh:dead", name == "wh:deadidx":
			return nil // below, after the scan
		case name == "sched", name == "bad", name == "rlog", part[0] == "cid", part[0] == "credits":
			return nil // unchanged names
		}
		r.Leftover++
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	if err := s.migrateJobs(ctx, p, &r); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return r, fmt.Errorf("store: migrate keys: %w", err)
	}
	return r, nil
}

// scan calls fn for every key matching pattern.
func (s *Store) scan(ctx context.Context, pattern string, fn func(string) error) error {
	iter := s.c.Scan(ctx, 0, pattern, 1000).Iterator()
	var keys []string // collected first: renaming while scanning may show a key twice
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return err
	}
	for _, k := range keys {
		if err := fn(k); err != nil {
			return err
		}
	}
	return nil
}

// migrateJobs moves the old webhook queue, retry set and dead letters into the shards.
func (s *Store) migrateJobs(ctx context.Context, p string, r *MigrationReport) error {
	// The old layout's jobs hold their bodies in plaintext: they move sealed (the codec's
	// marshalJob), so the migration leaves no body at rest in the clear.
	decode := func(body string) (*store.WebhookJob, string, bool) {
		j, err := s.unmarshalJob([]byte(body))
		if err != nil || j.ID == "" {
			return nil, "", false
		}
		b, err := s.marshalJob(j)
		if err != nil {
			return nil, "", false
		}
		return j, string(b), true
	}
	// The queue: every entry (pending or not) to its shard's stream.
	old := p + "wh:q"
	entries, err := s.c.XRange(ctx, old, "-", "+").Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("read %s: %w", old, err)
	}
	for _, e := range entries {
		body, _ := e.Values["j"].(string)
		if j, body, ok := decode(body); ok {
			if err := s.c.XAdd(ctx, &redis.XAddArgs{Stream: s.keys.whStreamKey(jobShard(j)), Values: []any{"j", body}}).Err(); err != nil {
				return err
			}
			r.Jobs++
		}
	}
	// Retries: zset of job JSON by due time.
	retry, err := s.c.ZRangeWithScores(ctx, p+"wh:retry", 0, -1).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	for _, z := range retry {
		body, _ := z.Member.(string)
		if j, body, ok := decode(body); ok {
			if err := s.c.ZAdd(ctx, s.keys.whRetryKey(jobShard(j)), redis.Z{Score: z.Score, Member: body}).Err(); err != nil {
				return err
			}
			r.Jobs++
		}
	}
	// Dead letters: hash id → JSON, index zset id by time.
	dead, err := s.c.HGetAll(ctx, p+"wh:dead").Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	for id, body := range dead {
		j, body, ok := decode(body)
		if !ok {
			continue
		}
		k := jobShard(j)
		score, err := s.c.ZScore(ctx, p+"wh:deadidx", id).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		if _, err := s.c.TxPipelined(ctx, func(pl redis.Pipeliner) error {
			pl.HSet(ctx, s.keys.deadKey(k), id, body)
			pl.ZAdd(ctx, s.keys.deadIdxKey(k), redis.Z{Score: score, Member: id})
			return nil
		}); err != nil {
			return err
		}
		r.Jobs++
	}
	return s.c.Del(ctx, old, p+"wh:retry", p+"wh:dead", p+"wh:deadidx").Err()
}
