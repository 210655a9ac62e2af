package redisstore

// The periodic sweep of the collections that hold personal data (phone numbers, message
// bodies) with a per-entry age: dead webhook jobs, unmatched receipts and the quarantine
// list. Each trims itself a little on every write and its keys expire a retention after
// the last write (so an idle collection vanishes whole); the sweep drops entries past
// their age when no new ones arrive. It rides on ClaimWebhooks' periodic promotion batch
// (every instance's dlr.Sender calls it several times a second): no round trip of its own.

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// sweepEvery is how often an instance sweeps.
const sweepEvery = time.Minute

// sweepMax bounds the entries one sweep drops per key, so a sweep script stays short.
const sweepMax = 1000

// sweepHashScript: KEYS a sorted set of ids scored by time and the hash of their values;
// ARGV the cutoff (ms) at or before which entries go, the most to drop. Returns the count.
var sweepHashScript = redis.NewScript(`
local old = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[2]))
for _, o in ipairs(old) do
  redis.call('ZREM', KEYS[1], o)
  redis.call('HDEL', KEYS[2], o)
end
return #old
`)

// sweepListScript: KEYS the quarantine list (oldest first); ARGV the cutoff (ms), the most
// to drop. Drops entries from the head while their at_ms is at or before the cutoff (an
// entry without at_ms, written before it existed, counts as old). Returns the count.
var sweepListScript = redis.NewScript(`
local n = 0
while n < tonumber(ARGV[2]) do
  local v = redis.call('LINDEX', KEYS[1], 0)
  if not v then break end
  local ok, e = pcall(cjson.decode, v)
  local at = 0
  if ok and type(e) == 'table' then at = tonumber(e['at_ms']) or 0 end
  if at > tonumber(ARGV[1]) then break end
  redis.call('LPOP', KEYS[1])
  n = n + 1
end
return n
`)

// sweepCalls returns the sweep's scripts when one is due (at most every sweepEvery per
// store), else nil.
func (s *Store) sweepCalls(now time.Time, last *atomic.Int64) []*scriptCall {
	l := last.Load()
	if now.UnixMilli()-l < sweepEvery.Milliseconds() && now.UnixMilli() >= l {
		return nil
	}
	if !last.CompareAndSwap(l, now.UnixMilli()) {
		return nil
	}
	calls := make([]*scriptCall, 0, messageShards+2)
	dead := now.Add(-s.opts.DeadRetention).UnixMilli()
	for k := range messageShards {
		calls = append(calls, &scriptCall{script: sweepHashScript, keys: []string{s.keys.deadIdxKey(k), s.keys.deadKey(k)}, args: []any{dead, sweepMax}})
	}
	calls = append(calls,
		&scriptCall{script: sweepHashScript, keys: []string{s.keys.unmatchedKey(), s.keys.unmatchedDataKey()}, args: []any{now.UnixMilli(), sweepMax}},
		&scriptCall{script: sweepListScript, keys: []string{s.keys.badKey()}, args: []any{now.Add(-s.opts.QuarantineRetention).UnixMilli(), sweepMax}},
	)
	return calls
}

// Sweep drops the dead webhook jobs, unmatched receipts and quarantined entries past their
// age now. ClaimWebhooks runs it every sweepEvery; tests and tools may call it directly.
func (s *Store) Sweep(ctx context.Context, now time.Time) error {
	if err := s.check(ctx, "sweep"); err != nil {
		return err
	}
	var last atomic.Int64
	last.Store(now.UnixMilli() - sweepEvery.Milliseconds())
	if err := s.runScripts(ctx, s.sweepCalls(now, &last)); err != nil {
		return fmt.Errorf("store: sweep: %w", err)
	}
	return nil
}
