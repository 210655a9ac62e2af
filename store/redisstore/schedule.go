package redisstore

// Scheduled and retry-later messages: PromoteDue moves those due to their streams; the
// set of carriers that may have any.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/internal/valid"
)

// dueScoresScript: KEYS a carrier's scheduled set; ARGV now ms, n. Returns its size, then
// the scores of its first n messages due by now (the messages themselves stay: only the
// earliest n across carriers are promoted, and their scores are enough to pick them).
var dueScoresScript = redis.NewScript(`
local items = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[2]), 'WITHSCORES')
local out = {redis.call('ZCARD', KEYS[1])}
for i = 2, #items, 2 do out[#out + 1] = items[i] end
return out
`)

// promoteScript moves the ARGV[2] earliest messages due by ARGV[1] (unix ms) from a
// carrier's scheduled set KEYS[1] to its streams KEYS[2..4] (priorities 0..2), taking the
// priority from the message JSON, and drops their entries from the cancel index KEYS[5]
// (when the entry is that member). Returns {moved, messages left in the set}.
var promoteScript = redis.NewScript(`
local due = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[2]))
for _, m in ipairs(due) do
  local ok, msg = pcall(cjson.decode, m)
  local p = 0
  if ok and type(msg) == 'table' then
    p = math.floor(tonumber(msg['priority']) or 0)
    local id = msg['id']
    if type(id) == 'string' and redis.call('HGET', KEYS[5], id) == m then redis.call('HDEL', KEYS[5], id) end
  end
  if p < 0 or p > 2 then p = 2 end
  redis.call('XADD', KEYS[2 + p], '*', 'm', m)
  redis.call('ZREM', KEYS[1], m)
end
return {#due, redis.call('ZCARD', KEYS[1])}
`)

// PromoteDue implements store.Queue, per carrier (every script single-slot): the carriers
// named in the set P:sched, a look at each one's due scores (one pipeline), the earliest n
// across carriers chosen, one promotion script per carrier that has any of them (one
// pipeline). Each carrier's promotion is atomic; the whole is not (nor need it be: a
// message is either scheduled or queued). Carriers whose set is empty leave P:sched — and
// come back at once if a message was scheduled meanwhile (see schedSetOps).
func (s *Store) PromoteDue(ctx context.Context, now time.Time, n int) (int, error) {
	if err := s.check(ctx, "promote"); err != nil {
		return 0, err
	}
	if n <= 0 {
		return 0, nil
	}
	carriers, err := s.c.SMembers(ctx, s.keys.schedSetKey()).Result()
	if err != nil {
		return 0, fmt.Errorf("store: promote: %w", err)
	}
	if len(carriers) == 0 {
		return 0, nil
	}
	calls := make([]*scriptCall, len(carriers))
	for i, c := range carriers {
		calls[i] = &scriptCall{script: dueScoresScript, keys: []string{s.keys.schedKey(c)}, args: []any{now.UnixMilli(), n}}
	}
	if err := s.runScripts(ctx, calls); err != nil {
		return 0, fmt.Errorf("store: promote: %w", err)
	}
	type due struct {
		score   float64
		carrier int
	}
	var all []due
	size := make([]int64, len(carriers))
	for i, c := range calls {
		vals, _ := c.cmd.Slice()
		for j, v := range vals {
			if j == 0 {
				size[i], _ = v.(int64)
				continue
			}
			sc, _ := v.(string)
			f, err := strconv.ParseFloat(sc, 64)
			if err == nil {
				all = append(all, due{f, i})
			}
		}
	}
	slices.SortStableFunc(all, func(a, b due) int { return cmp.Compare(a.score, b.score) })
	take := make([]int, len(carriers))
	for _, d := range all[:min(n, len(all))] {
		take[d.carrier]++
	}
	var promote []*scriptCall
	var promoted []int
	for i, c := range carriers {
		if take[i] > 0 {
			keys := append([]string{s.keys.schedKey(c)}, s.keys.streamKeys(c)...)
			keys = append(keys, s.keys.schedIdxKey(c))
			promote = append(promote, &scriptCall{script: promoteScript, keys: keys, args: []any{now.UnixMilli(), take[i]}})
			promoted = append(promoted, i)
		}
	}
	err = s.runScripts(ctx, promote)
	moved := 0
	for j, c := range promote {
		if vals, cerr := c.cmd.Int64Slice(); cerr == nil && len(vals) == 2 {
			moved += int(vals[0])
			size[promoted[j]] = vals[1]
		}
	}
	if err != nil {
		return moved, fmt.Errorf("store: promote: %w", err)
	}
	var empty []string
	for i, c := range carriers {
		if size[i] == 0 {
			empty = append(empty, c)
		}
	}
	if err := s.dropSchedCarriers(ctx, empty); err != nil {
		return moved, fmt.Errorf("store: promote: %w", err)
	}
	return moved, nil
}

// cancelScript withdraws message ARGV[1] from a carrier's scheduled set KEYS[1] through
// the cancel index KEYS[2]: the member the index names is removed if it is still in the
// set. Returns the member, or false when the message is not (or no longer) scheduled. It
// runs atomically with promoteScript (same slot), so one of the two gets the message.
var cancelScript = redis.NewScript(`
local m = redis.call('HGET', KEYS[2], ARGV[1])
if not m then return false end
redis.call('HDEL', KEYS[2], ARGV[1])
if redis.call('ZREM', KEYS[1], m) == 1 then return m end
return false
`)

// CancelScheduled implements store.Queue: one script on the carrier's slot. A carrier set
// it empties stays named in P:sched until the next PromoteDue drops it.
func (s *Store) CancelScheduled(ctx context.Context, carrier, id string) (*store.Message, error) {
	if err := s.check(ctx, "cancel"); err != nil {
		return nil, err
	}
	if err := valid.Carrier(carrier); err != nil {
		return nil, fmt.Errorf("store: cancel %s: %w", id, err)
	}
	call := &scriptCall{script: cancelScript, keys: []string{s.keys.schedKey(carrier), s.keys.schedIdxKey(carrier)}, args: []any{id}}
	if err := s.runScripts(ctx, []*scriptCall{call}); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("store: cancel %s: %w", id, err)
	}
	body, err := call.cmd.Text()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: cancel %s: %w", id, err)
	}
	m, err := s.decodeMsg(body)
	if err != nil {
		// Withdrawn all the same: it will not be sent.
		return &store.Message{ID: id, Carrier: carrier}, nil
	}
	return m, nil
}

// dropSchedCarriers removes carriers whose scheduled sets were seen empty from P:sched,
// then looks at their sets again and names those that are no longer empty once more: a
// writer adds to a carrier's set before it names the carrier, so one that wrote after the
// first look is seen by the second, or names the carrier after the removal.
func (s *Store) dropSchedCarriers(ctx context.Context, carriers []string) error {
	if len(carriers) == 0 {
		return nil
	}
	if err := s.c.SRem(ctx, s.keys.schedSetKey(), anys(carriers)...).Err(); err != nil {
		return err
	}
	exists := make([]*redis.IntCmd, len(carriers))
	if _, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, c := range carriers {
			exists[i] = p.Exists(ctx, s.keys.schedKey(c))
		}
		return nil
	}); err != nil {
		// Not knowing, name them all again: a carrier named with nothing scheduled costs
		// one look at the next PromoteDue, a carrier wrongly dropped its messages.
		return s.c.SAdd(ctx, s.keys.schedSetKey(), anys(carriers)...).Err()
	}
	var back []string
	for i, c := range carriers {
		if exists[i].Val() > 0 {
			back = append(back, c)
		}
	}
	if len(back) > 0 {
		return s.c.SAdd(ctx, s.keys.schedSetKey(), anys(back)...).Err()
	}
	return nil
}
