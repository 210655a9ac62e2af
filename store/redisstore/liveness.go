package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smppd/smppd/store"
)

// Liveness lives in one hash, P:{live}: field = instance name, value = "incarnation|deadline"
// with the deadline in the Redis server's unix milliseconds. Deadlines are set and compared
// by the server's clock (TIME inside the scripts), so instances' clocks may drift. The hash
// holds one field per instance alive now: a field whose deadline passed is deleted by the
// next script that sees it, so the key's size is bounded by the number of instances and it
// is owned by them (it disappears with the last one).

// joinScript: KEYS[1] the hash; ARGV instance, incarnation, ttl ms. Replaces any earlier
// incarnation of the instance.
var joinScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '|' .. (now + tonumber(ARGV[3])))
return 1
`)

// renewScript: KEYS[1] the hash; ARGV instance, incarnation, ttl ms. 1 if renewed, 0 if the
// instance's registered incarnation is another one or its heartbeat had lapsed (lost).
var renewScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return 0 end
local inc, dl = string.match(v, '^(.*)|(%d+)$')
if inc ~= ARGV[2] then return 0 end
if tonumber(dl) < now then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '|' .. (now + tonumber(ARGV[3])))
return 1
`)

// leaveScript: KEYS[1] the hash; ARGV instance, incarnation. Deletes the field only if it is
// this incarnation's.
var leaveScript = redis.NewScript(`
local v = redis.call('HGET', KEYS[1], ARGV[1])
if v and string.match(v, '^(.*)|') == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) end
return 1
`)

// membersScript: KEYS[1] the hash. Returns the live members' consumer names and deletes the
// fields whose deadline passed.
var membersScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local all = redis.call('HGETALL', KEYS[1])
local out = {}
for i = 1, #all, 2 do
  local inc, dl = string.match(all[i + 1], '^(.*)|(%d+)$')
  if inc and tonumber(dl) >= now then
    out[#out + 1] = all[i] .. '~' .. inc
  else
    redis.call('HDEL', KEYS[1], all[i])
  end
end
return out
`)

func checkMember(m store.Member) error {
	if m.Instance == "" || m.Incarnation == "" {
		return errors.New("member without instance or incarnation")
	}
	if strings.ContainsAny(m.Instance, "~| \t\r\n") || strings.ContainsAny(m.Incarnation, "~| \t\r\n") {
		return fmt.Errorf("member %q: instance and incarnation may not contain '~', '|' or white space", m.Consumer())
	}
	return nil
}

// Join implements store.Liveness. It also makes m this store's consumer in the webhook
// queue (one process, one store, one member).
func (s *Store) Join(ctx context.Context, m store.Member, ttl time.Duration) error {
	op := "join " + m.Consumer()
	if err := s.check(ctx, op); err != nil {
		return err
	}
	if err := checkMember(m); err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	if err := joinScript.Run(ctx, s.c, []string{s.keys.liveKey()}, m.Instance, m.Incarnation, max(ms(ttl), 1)).Err(); err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	s.consumer.Store(m.Consumer())
	s.live.forget()
	return nil
}

// Renew implements store.Liveness.
func (s *Store) Renew(ctx context.Context, m store.Member, ttl time.Duration) error {
	op := "renew " + m.Consumer()
	if err := s.check(ctx, op); err != nil {
		return err
	}
	ok, err := renewScript.Run(ctx, s.c, []string{s.keys.liveKey()}, m.Instance, m.Incarnation, max(ms(ttl), 1)).Int()
	if err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	if ok != 1 {
		return fmt.Errorf("store: %s: %w", op, store.ErrLeaseLost)
	}
	return nil
}

// Leave implements store.Liveness.
func (s *Store) Leave(ctx context.Context, m store.Member) error {
	op := "leave " + m.Consumer()
	if err := s.check(ctx, op); err != nil {
		return err
	}
	if err := leaveScript.Run(ctx, s.c, []string{s.keys.liveKey()}, m.Instance, m.Incarnation).Err(); err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	s.live.forget()
	return nil
}

// Members implements store.Liveness.
func (s *Store) Members(ctx context.Context) ([]store.Member, error) {
	op := "members"
	if err := s.check(ctx, op); err != nil {
		return nil, err
	}
	names, err := membersScript.Run(ctx, s.c, []string{s.keys.liveKey()}).StringSlice()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("store: %s: %w", op, err)
	}
	out := make([]store.Member, 0, len(names))
	for _, n := range names {
		if m, ok := store.ParseConsumer(n); ok {
			out = append(out, m)
		}
	}
	return out, nil
}

// liveCache remembers the live consumer names for a short while, so that the takeover
// rounds of several carriers and queues share one read of the hash.
type liveCache struct {
	mu    sync.Mutex
	at    time.Time
	names map[string]bool
}

// liveFor is how long a read of the live members serves takeover rounds. Much shorter than
// any heartbeat TTL worth using.
const liveFor = 200 * time.Millisecond

func (c *liveCache) forget() {
	c.mu.Lock()
	c.at = time.Time{}
	c.mu.Unlock()
}

// liveConsumers returns the consumer names of the live members.
func (s *Store) liveConsumers(ctx context.Context) (map[string]bool, error) {
	s.live.mu.Lock()
	defer s.live.mu.Unlock()
	if time.Since(s.live.at) < liveFor && s.live.names != nil {
		return s.live.names, nil
	}
	ms, err := s.Members(ctx)
	if err != nil {
		return nil, err
	}
	names := make(map[string]bool, len(ms))
	for _, m := range ms {
		names[m.Consumer()] = true
	}
	s.live.names, s.live.at = names, time.Now()
	return names, nil
}

// takeOverScript hands the entries pending for a dead consumer to another one. KEYS[1] the
// stream; ARGV group, dead consumer, new consumer, n, idle ms to set on the taken entries.
// Returns (id, fields, deliveries) triples, deliveries counting this one. A dead consumer
// left with nothing pending is deleted from the group, so groups do not collect the names of
// every incarnation that ever ran.
var takeOverScript = redis.NewScript(`
local p = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', tonumber(ARGV[4]), ARGV[2])
if #p == 0 then
  redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
  return {}
end
local counts = {}
local args = {KEYS[1], ARGV[1], ARGV[3], 0}
for _, e in ipairs(p) do
  counts[e[1]] = e[4]
  args[#args + 1] = e[1]
end
args[#args + 1] = 'IDLE'
args[#args + 1] = ARGV[5]
local got = redis.call('XCLAIM', unpack(args))
if KEYS[2] then redis.call('SET', KEYS[2], '1', 'PX', ARGV[6]) end
local out = {}
for _, e in ipairs(got) do
  if type(e) == 'table' and e[1] then
    out[#out + 1] = e[1]
    out[#out + 1] = e[2]
    out[#out + 1] = (counts[e[1]] or 1) + 1
  end
end
if #redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2]) == 0 then
  redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
end
return out
`)

// takenEntry is a stream entry taken over from a dead consumer.
type takenEntry struct {
	id         string
	fields     map[string]string
	deliveries int64
}

// takeOverDead hands to consumer up to n entries of stream that consumers of dead members
// hold (members whose heartbeat is gone, or earlier incarnations of a restarted instance),
// setting their idle time to idle. Consumers whose names no member made are left alone:
// their liveness is unknown, and only an idle timeout may take their entries.
//
// handed, if not "", is the stream's handed-over marker (handedKey): set in the same step, so
// that finishing a claim checks its ownership for the fencing window from then on.
func (s *Store) takeOverDead(ctx context.Context, stream, group, consumer, handed string, n int, idle time.Duration) ([]takenEntry, error) {
	cons, err := s.c.XInfoConsumers(ctx, stream, group).Result()
	if err != nil {
		if isNoGroup(err) || strings.Contains(err.Error(), "no such key") {
			return nil, nil
		}
		return nil, err
	}
	var dead []string
	for _, c := range cons {
		if c.Name == consumer {
			continue
		}
		if _, ok := store.ParseConsumer(c.Name); ok {
			dead = append(dead, c.Name)
		}
	}
	if len(dead) == 0 {
		return nil, nil
	}
	live, err := s.liveConsumers(ctx)
	if err != nil {
		return nil, err
	}
	var out []takenEntry
	for _, d := range dead {
		if live[d] || len(out) >= n {
			continue
		}
		keys, args := []string{stream}, []any{group, d, consumer, n - len(out), ms(idle)}
		if handed != "" {
			keys, args = append(keys, handed), append(args, ms(fenceWindow))
		}
		vals, err := takeOverScript.Run(ctx, s.c, keys, args...).Slice()
		if err != nil && !errors.Is(err, redis.Nil) {
			return out, err
		}
		for i := 0; i+2 < len(vals); i += 3 {
			id, _ := vals[i].(string)
			d, _ := vals[i+2].(int64)
			out = append(out, takenEntry{id: id, fields: fieldMap(vals[i+1]), deliveries: d})
		}
	}
	return out, nil
}

// fieldMap decodes a stream entry's field list as Lua returns it.
func fieldMap(v any) map[string]string {
	list, _ := v.([]any)
	m := make(map[string]string, len(list)/2)
	for i := 0; i+1 < len(list); i += 2 {
		k, _ := list[i].(string)
		val, _ := list[i+1].(string)
		m[k] = val
	}
	return m
}

// consumerName returns this store's consumer in the webhook queue: the member that joined
// through it, else Options.Consumer.
func (s *Store) consumerName() string {
	if c, _ := s.consumer.Load().(string); c != "" {
		return c
	}
	return s.opts.Consumer
}

var _ store.Liveness = (*Store)(nil)
