package redisstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smppd/smppd/store"
)

// Dead letters of the webhook queue (store.Webhooks): jobs given up on (DeadWebhook), listed
// for an operator and queued again by ReplayWebhooks.

// deadLetter is a dead job's id, shard and time of death.
type deadLetter struct {
	id    string
	shard int
	at    float64
}

// deadLetters returns up to n dead letters (n < 0: all), oldest first, across the shards.
func (s *Store) deadLetters(ctx context.Context, n int) ([]deadLetter, error) {
	cmds := make([]*redis.ZSliceCmd, messageShards)
	stop := int64(n - 1)
	if n < 0 {
		stop = -1
	}
	_, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for k := range cmds {
			cmds[k] = p.ZRangeWithScores(ctx, s.keys.deadIdxKey(k), 0, stop)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var all []deadLetter
	for k, c := range cmds {
		for _, z := range c.Val() {
			id, _ := z.Member.(string)
			all = append(all, deadLetter{id: id, shard: k, at: z.Score})
		}
	}
	slices.SortFunc(all, func(a, b deadLetter) int {
		if c := cmp.Compare(a.at, b.at); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	if n >= 0 && len(all) > n {
		all = all[:n]
	}
	return all, nil
}

// DeadWebhooks implements store.Webhooks: the oldest dead letters across the shards.
func (s *Store) DeadWebhooks(ctx context.Context, n int) ([]*store.WebhookJob, error) {
	op := "dead webhooks"
	if err := s.check(ctx, op); err != nil {
		return nil, err
	}
	if n <= 0 {
		return nil, nil
	}
	dead, err := s.deadLetters(ctx, n)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", op, err)
	}
	vals, err := s.deadValues(ctx, dead)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", op, err)
	}
	out := make([]*store.WebhookJob, 0, len(vals))
	for _, v := range vals {
		if sv, ok := v.(string); ok {
			if j, err := s.unmarshalJob([]byte(sv)); err == nil {
				out = append(out, j)
			}
		}
	}
	return out, nil
}

// deadValues reads the dead letters' JSON (nil for one gone meanwhile), one HMGET per shard.
func (s *Store) deadValues(ctx context.Context, dead []deadLetter) ([]any, error) {
	byShard := map[int][]int{}
	for i, d := range dead {
		byShard[d.shard] = append(byShard[d.shard], i)
	}
	cmds := map[int]*redis.SliceCmd{}
	_, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for k, idx := range byShard {
			ids := make([]string, len(idx))
			for j, i := range idx {
				ids[j] = dead[i].id
			}
			cmds[k] = p.HMGet(ctx, s.keys.deadKey(k), ids...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	vals := make([]any, len(dead))
	for k, idx := range byShard {
		got := cmds[k].Val()
		for j, i := range idx {
			if j < len(got) {
				vals[i] = got[j]
			}
		}
	}
	return vals, nil
}

// replayJobScript: KEYS dead, deadidx, stream; ARGV id, JSON. Only while dead.
var replayJobScript = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('XADD', KEYS[3], '*', 'j', ARGV[2])
return 1
`)

// ReplayWebhooks implements store.Webhooks: each dead letter moves back to its shard's
// queue in one script.
func (s *Store) ReplayWebhooks(ctx context.Context, now time.Time, ids ...string) (int, error) {
	op := "replay webhooks"
	if err := s.check(ctx, op); err != nil {
		return 0, err
	}
	var dead []deadLetter
	if len(ids) == 0 {
		all, err := s.deadLetters(ctx, -1)
		if err != nil {
			return 0, fmt.Errorf("store: %s: %w", op, err)
		}
		dead = all
	} else {
		// A dead letter is in its job's queue's shard, which its id alone does not tell:
		// look in every shard.
		for _, id := range ids {
			for k := range messageShards {
				dead = append(dead, deadLetter{id: id, shard: k})
			}
		}
	}
	vals, err := s.deadValues(ctx, dead)
	if err != nil {
		return 0, fmt.Errorf("store: %s: %w", op, err)
	}
	var calls []*scriptCall
	for i, d := range dead {
		v, ok := vals[i].(string)
		if !ok {
			continue
		}
		j, err := s.unmarshalJob([]byte(v))
		if err != nil {
			return 0, fmt.Errorf("store: %s %s: %w", op, d.id, err)
		}
		j.DeadAt, j.Since, j.NextAt = time.Time{}, now, now
		b, err := s.marshalJob(j)
		if err != nil {
			return 0, fmt.Errorf("store: %s: %w", op, err)
		}
		calls = append(calls, &scriptCall{script: replayJobScript,
			keys: []string{s.keys.deadKey(d.shard), s.keys.deadIdxKey(d.shard), s.keys.whStreamKey(d.shard)}, args: []any{d.id, b}})
	}
	err = s.runScripts(ctx, calls)
	n := 0
	for _, c := range calls {
		if moved, cerr := c.cmd.Int(); cerr == nil {
			n += moved
		}
	}
	if err != nil {
		return n, fmt.Errorf("store: %s: %w", op, err)
	}
	return n, nil
}
