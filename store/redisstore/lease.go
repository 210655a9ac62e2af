package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smppd/smppd/store"
)

// Bind leases (store.BindLeases). Keys, with P the prefix:
//
//	P:{lease}:bind:<slot>   string  "token|holder" of the slot's lease; PX = the lease's ttl
//	P:{lease}:fence         string  the fencing counter (INCR at every acquisition); no TTL
//	P:{lease}:binds         set     slot names that may have a lease (the index BindLeases
//	                                reads); its TTL is kept at least as long as any lease's
//
// The {lease} hash tag puts every lease key in one Redis Cluster slot, so each script may
// touch the counter, the index and any number of slots at once.
//
// Ownership: slot keys expire with their lease. The index expires after the last lease is
// gone, and members whose slot key has expired are removed by the next BindLeases; it holds
// at most the slots of the configuration. The fence counter is permanent by design (a
// token must never be given twice, even after every lease lapsed): it is one small key per
// prefix, owned by this package, and deleted only with the prefix's other keys.
//
// Acquire, renew and release are Lua scripts that compare the whole value (token and
// holder) before they extend or delete, so a holder that was only slow can never extend or
// release a lease that lapsed and went to someone else.

var _ store.BindLeases = (*Store)(nil)

// leaseValue is what a slot key holds.
func leaseValue(l store.BindLease) string { return strconv.FormatInt(l.Token, 10) + "|" + l.Holder }

// acquireBindScript: KEYS slot key, fence, index; ARGV holder, ttl ms, slot. Returns
// {1, token, holder, ttl ms} when holder has the slot now, {0, token, holder, pttl} of the
// other holder when not.
var acquireBindScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v then
  local tok, holder = string.match(v, '^(%d+)|(.*)$')
  if holder ~= ARGV[1] then
    return {0, tok or '0', holder or v, redis.call('PTTL', KEYS[1])}
  end
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
else
  v = tostring(redis.call('INCR', KEYS[2])) .. '|' .. ARGV[1]
  redis.call('SET', KEYS[1], v, 'PX', ARGV[2])
end
redis.call('SADD', KEYS[3], ARGV[3])
if redis.call('PTTL', KEYS[3]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[3], ARGV[2]) end
return {1, string.match(v, '^(%d+)|'), ARGV[1], tonumber(ARGV[2])}
`)

// renewBindsScript: KEYS the slot keys, then the index; ARGV ttl ms, then per slot the
// expected value and the slot name. Returns 1 (renewed) or 0 (lost) per slot.
var renewBindsScript = redis.NewScript(`
local n = #KEYS - 1
local idx = KEYS[#KEYS]
local out = {}
local any = false
for i = 1, n do
  if redis.call('GET', KEYS[i]) == ARGV[2*i] then
    redis.call('PEXPIRE', KEYS[i], ARGV[1])
    redis.call('SADD', idx, ARGV[2*i+1])
    out[i] = 1
    any = true
  else
    out[i] = 0
  end
end
if any and redis.call('PTTL', idx) < tonumber(ARGV[1]) then redis.call('PEXPIRE', idx, ARGV[1]) end
return out
`)

// releaseBindScript: KEYS slot key, index; ARGV expected value, slot.
var releaseBindScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[2], ARGV[2])
end
return 1
`)

// pruneBindsScript: KEYS index, then slot keys; ARGV the slots' names. Removes from the
// index the slots whose key is gone (checked here, atomically, so a slot acquired since
// the caller looked stays).
var pruneBindsScript = redis.NewScript(`
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 0 then redis.call('SREM', KEYS[1], ARGV[i-1]) end
end
return 1
`)

func checkLeaseTTL(op string, ttl time.Duration) error {
	if ttl < time.Millisecond {
		return fmt.Errorf("store: %s: ttl %v is below 1ms", op, ttl)
	}
	return nil
}

// AcquireBind implements store.BindLeases.
func (s *Store) AcquireBind(ctx context.Context, slot, holder string, ttl time.Duration) (store.BindLease, bool, error) {
	if err := s.check(ctx, "acquire bind"); err != nil {
		return store.BindLease{}, false, err
	}
	if slot == "" || holder == "" {
		return store.BindLease{}, false, fmt.Errorf("store: acquire bind: slot and holder are required")
	}
	if err := checkLeaseTTL("acquire bind", ttl); err != nil {
		return store.BindLease{}, false, err
	}
	keys := []string{s.keys.leaseSlotKey(slot), s.keys.leaseFenceKey(), s.keys.leaseIndexKey()}
	res, err := acquireBindScript.Run(ctx, s.c, keys, holder, ms(ttl), slot).Slice()
	if err != nil {
		return store.BindLease{}, false, fmt.Errorf("store: acquire bind %s: %w", slot, err)
	}
	if len(res) != 4 {
		return store.BindLease{}, false, fmt.Errorf("store: acquire bind %s: unexpected reply %v", slot, res)
	}
	ok, _ := res[0].(int64)
	tokS, _ := res[1].(string)
	h, _ := res[2].(string)
	pttl, _ := res[3].(int64)
	tok, _ := strconv.ParseInt(tokS, 10, 64)
	l := store.BindLease{Slot: slot, Holder: h, Token: tok, Expires: time.Now().Add(time.Duration(pttl) * time.Millisecond)}
	return l, ok == 1, nil
}

// RenewBinds implements store.BindLeases: one script call for all leases.
func (s *Store) RenewBinds(ctx context.Context, ttl time.Duration, ls ...store.BindLease) ([]error, error) {
	if err := s.check(ctx, "renew binds"); err != nil {
		return nil, err
	}
	if err := checkLeaseTTL("renew binds", ttl); err != nil {
		return nil, err
	}
	if len(ls) == 0 {
		return nil, nil
	}
	keys := make([]string, 0, len(ls)+1)
	args := make([]any, 0, 2*len(ls)+1)
	args = append(args, ms(ttl))
	for _, l := range ls {
		keys = append(keys, s.keys.leaseSlotKey(l.Slot))
		args = append(args, leaseValue(l), l.Slot)
	}
	keys = append(keys, s.keys.leaseIndexKey())
	res, err := renewBindsScript.Run(ctx, s.c, keys, args...).Int64Slice()
	if err != nil {
		return nil, fmt.Errorf("store: renew binds: %w", err)
	}
	if len(res) != len(ls) {
		return nil, fmt.Errorf("store: renew binds: %d answers for %d leases", len(res), len(ls))
	}
	errs := make([]error, len(ls))
	for i, r := range res {
		if r != 1 {
			errs[i] = store.ErrLeaseLost
		}
	}
	return errs, nil
}

// ReleaseBind implements store.BindLeases.
func (s *Store) ReleaseBind(ctx context.Context, l store.BindLease) error {
	if err := s.check(ctx, "release bind"); err != nil {
		return err
	}
	keys := []string{s.keys.leaseSlotKey(l.Slot), s.keys.leaseIndexKey()}
	if err := releaseBindScript.Run(ctx, s.c, keys, leaseValue(l), l.Slot).Err(); err != nil {
		return fmt.Errorf("store: release bind %s: %w", l.Slot, err)
	}
	return nil
}

// BindLeases implements store.BindLeases. It reads the index (one round trip), the slots
// that match prefix with their remaining ttl (one pipelined round trip) and, when some have
// lapsed, removes those from the index (one more).
func (s *Store) BindLeases(ctx context.Context, prefix string) ([]store.BindLease, error) {
	if err := s.check(ctx, "bind leases"); err != nil {
		return nil, err
	}
	slots, err := s.c.SMembers(ctx, s.keys.leaseIndexKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("store: bind leases: %w", err)
	}
	slots = slices.DeleteFunc(slots, func(slot string) bool { return !strings.HasPrefix(slot, prefix) })
	if len(slots) == 0 {
		return nil, nil
	}
	slices.Sort(slots)
	pipe := s.c.Pipeline()
	gets := make([]*redis.StringCmd, len(slots))
	ttls := make([]*redis.DurationCmd, len(slots))
	for i, slot := range slots {
		gets[i] = pipe.Get(ctx, s.keys.leaseSlotKey(slot))
		ttls[i] = pipe.PTTL(ctx, s.keys.leaseSlotKey(slot))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("store: bind leases: %w", err)
	}
	now := time.Now()
	var out []store.BindLease
	var goneKeys []string
	var goneSlots []any
	for i, slot := range slots {
		v, err := gets[i].Result()
		if errors.Is(err, redis.Nil) {
			goneKeys = append(goneKeys, s.keys.leaseSlotKey(slot))
			goneSlots = append(goneSlots, slot)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("store: bind leases: %w", err)
		}
		tokS, holder, _ := strings.Cut(v, "|")
		tok, _ := strconv.ParseInt(tokS, 10, 64)
		l := store.BindLease{Slot: slot, Holder: holder, Token: tok}
		if d, err := ttls[i].Result(); err == nil && d > 0 {
			l.Expires = now.Add(d)
		}
		out = append(out, l)
	}
	if len(goneKeys) > 0 {
		keys := append([]string{s.keys.leaseIndexKey()}, goneKeys...)
		if err := pruneBindsScript.Run(ctx, s.c, keys, goneSlots...).Err(); err != nil {
			return nil, fmt.Errorf("store: bind leases: prune index: %w", err)
		}
	}
	return out, nil
}
