package redisstore

// Claiming messages: Claim (read new entries, highest priority first), the claim tokens,
// the per-consumer stash of claims read beyond n, decoding and quarantine of bad entries.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/internal/valid"
)

// claimRef is what a claim's token says: which stream entry (carrier, priority, entry id)
// and which delivery of it (the consumer it was handed to and its delivery count). Finishing
// a claim checks the delivery against the entry's pending state, so a claim that was taken
// over (another consumer, a higher count) can no longer finish the entry: that is the
// fencing of a holder that was thought dead.
type claimRef struct {
	prio       store.Priority
	id         string
	deliveries int64
	consumer   string
}

// token encodes a claim: "carrier:prio:id:deliveries:consumer".
func token(carrier string, p store.Priority, id string, deliveries int64, consumer string) string {
	return carrier + ":" + strconv.Itoa(int(p)) + ":" + id + ":" + strconv.FormatInt(deliveries, 10) + ":" + consumer
}

// parseToken reads a token made for carrier.
func parseToken(carrier, tok string) (claimRef, bool) {
	c, rest, ok := strings.Cut(tok, ":")
	if !ok || c != carrier {
		return claimRef{}, false
	}
	ps, rest, ok := strings.Cut(rest, ":")
	if !ok || len(ps) != 1 || ps[0] < '0' || ps[0] > '2' {
		return claimRef{}, false
	}
	id, rest, ok := strings.Cut(rest, ":")
	if !ok || !validEntryID(id) {
		return claimRef{}, false
	}
	ds, consumer, ok := strings.Cut(rest, ":")
	d, err := strconv.ParseInt(ds, 10, 64)
	if !ok || err != nil || d < 1 || consumer == "" {
		return claimRef{}, false
	}
	return claimRef{prio: store.Priority(ps[0] - '0'), id: id, deliveries: d, consumer: consumer}, true
}

// claimStash keeps the claims a Claim read beyond its n for the same consumer's next Claim
// (one read serves several calls), each consumer's for at most stashMaxAge.
type claimStash struct {
	mu sync.Mutex
	m  map[stashKey]stashed
}

type stashKey struct{ carrier, consumer string }

type stashed struct {
	claims []store.Claim
	at     time.Time
}

// stashMaxAge bounds how long extra claims wait for their consumer's next Claim. Older
// ones are dropped from memory (they stay pending in Redis, and Reclaim hands them out), so
// a consumer that stopped claiming never gets claims that someone else may have finished.
const stashMaxAge = 5 * time.Second

// claimScript reads up to ARGV[3] new entries for consumer ARGV[2] of group ARGV[1] from the
// streams KEYS[1..3] (priorities 0..2), highest priority first, without blocking. It returns
// a flat list of (priority, entry id, field "m") triples, and after them, when given the
// carrier's scheduled set as KEYS[4], whether that exists (see healDue).
var claimScript = redis.NewScript(`
local out = {}
local left = tonumber(ARGV[3])
for i = 1, 3 do
  if left <= 0 then break end
  local r = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', left, 'STREAMS', KEYS[i], '>')
  if r then
    for _, e in ipairs(r[1][2]) do
      local m = ''
      local f = e[2]
      if f then
        for j = 1, #f, 2 do
          if f[j] == 'm' then m = f[j + 1] end
        end
      end
      out[#out + 1] = tostring(i - 1)
      out[#out + 1] = e[1]
      out[#out + 1] = m
      left = left - 1
    end
  end
end
if KEYS[4] then out[#out + 1] = redis.call('EXISTS', KEYS[4]) end
return out
`)

// rawEntry is a stream entry read for a consumer.
type rawEntry struct {
	prio       store.Priority
	id         string
	body       string
	deliveries int64 // 0 means 1: a first delivery
	err        error // why it did not decode (quarantine keeps the reason)
}

// Claim implements store.Queue. It first reads without blocking (OTP stream first, then
// filling from the lower priorities, in one script); only when all three are empty does it
// block on all three, in slices of Options.MaxBlock, until wait has passed.
func (s *Store) Claim(ctx context.Context, carrier, consumer string, n int, wait time.Duration) ([]store.Claim, error) {
	op := "claim " + carrier
	if err := s.check(ctx, op); err != nil {
		return nil, err
	}
	if err := valid.Carrier(carrier); err != nil {
		return nil, fmt.Errorf("store: claim: %w", err)
	}
	if n <= 0 {
		return nil, nil
	}
	if err := s.ensureGroups(ctx, carrier); err != nil {
		return nil, fmt.Errorf("store: %s: %w", op, err)
	}
	claims := s.stash.take(carrier, consumer, n)
	if len(claims) < n {
		raw, err := s.readNow(ctx, carrier, consumer, n-len(claims))
		if err != nil {
			return claims, fmt.Errorf("store: %s: %w", op, err)
		}
		more, err := s.decode(ctx, carrier, consumer, raw)
		claims = append(claims, more...)
		if err != nil {
			return claims, fmt.Errorf("store: %s: %w", op, err)
		}
	}
	if len(claims) > 0 || wait <= 0 {
		return claims, nil
	}

	deadline := time.Now().Add(wait)
	keys := s.keys.streamKeys(carrier)
	streams := append(keys, ">", ">", ">")
	for {
		if err := s.check(ctx, op); err != nil {
			return nil, err
		}
		left := time.Until(deadline)
		if left < time.Millisecond {
			return nil, nil
		}
		block := min(left, s.opts.MaxBlock).Truncate(time.Millisecond) // never 0: BLOCK 0 is forever
		res, err := s.c.XReadGroup(ctx, &redis.XReadGroupArgs{
			Group: s.opts.Group, Consumer: consumer, Streams: streams, Count: int64(n), Block: block,
		}).Result()
		switch {
		case errors.Is(err, redis.Nil):
			continue
		case isNoGroup(err): // the streams were deleted under us: recreate and go on
			s.groups.Delete(carrier)
			if err := s.ensureGroups(ctx, carrier); err != nil {
				return nil, fmt.Errorf("store: %s: %w", op, err)
			}
			continue
		case err != nil:
			if cerr := ctx.Err(); cerr != nil {
				err = cerr
			}
			return nil, fmt.Errorf("store: %s: %w", op, err)
		}
		var raw []rawEntry
		for _, st := range res {
			p := slices.Index(keys, st.Stream)
			if p < 0 {
				continue
			}
			for _, m := range st.Messages {
				body, _ := m.Values["m"].(string)
				raw = append(raw, rawEntry{prio: store.Priority(p), id: m.ID, body: body})
			}
		}
		// Streams come back in request order, each in id order; keep priority order.
		slices.SortStableFunc(raw, func(a, b rawEntry) int { return int(a.prio) - int(b.prio) })
		claims, err := s.decode(ctx, carrier, consumer, raw)
		if len(claims) > n {
			// Several streams filled at once: keep the rest (pending for this consumer) for
			// its next Claim rather than hand out more than n.
			s.stash.put(carrier, consumer, claims[n:])
			claims = claims[:n]
		}
		if err != nil {
			return claims, fmt.Errorf("store: %s: %w", op, err)
		}
		if len(claims) > 0 {
			return claims, nil
		}
	}
}

// take returns up to n of the claims kept for consumer of carrier, dropping what is too old.
func (cs *claimStash) take(carrier, consumer string, n int) []store.Claim {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if len(cs.m) == 0 {
		return nil
	}
	now := time.Now()
	for k, st := range cs.m {
		if now.Sub(st.at) > stashMaxAge {
			delete(cs.m, k)
		}
	}
	k := stashKey{carrier, consumer}
	st, ok := cs.m[k]
	if !ok {
		return nil
	}
	take := min(n, len(st.claims))
	out := slices.Clone(st.claims[:take])
	if take == len(st.claims) {
		delete(cs.m, k)
	} else {
		st.claims = slices.Clone(st.claims[take:])
		cs.m[k] = st
	}
	return out
}

// put keeps claims for consumer of carrier.
func (cs *claimStash) put(carrier, consumer string, claims []store.Claim) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.m == nil {
		cs.m = make(map[stashKey]stashed)
	}
	k := stashKey{carrier, consumer}
	st := cs.m[k]
	if len(st.claims) == 0 {
		st.at = time.Now()
	}
	st.claims = append(st.claims, claims...)
	cs.m[k] = st
}

// healEvery is how often Claim looks, on a cluster, whether a carrier has scheduled
// messages while P:sched may not name it.
const healEvery = 10 * time.Second

// healDue reports whether this Claim of carrier should look at its scheduled set (and
// marks it done). On a cluster a message is scheduled in the carrier's slot and the carrier
// named in P:sched after it, by a second command: a crash between the two would leave the
// message where PromoteDue never looks. Claim, which runs for every carrier all the time,
// repairs that within healEvery, at no cost beyond an EXISTS in its script.
func (s *Store) healDue(carrier string) bool {
	if !s.cluster {
		return false
	}
	now := time.Now()
	if v, ok := s.healed.Load(carrier); ok && now.Sub(v.(time.Time)) < healEvery {
		return false
	}
	s.healed.Store(carrier, now)
	return true
}

// readNow runs claimScript, recreating the consumer groups once if they vanished.
func (s *Store) readNow(ctx context.Context, carrier, consumer string, n int) ([]rawEntry, error) {
	keys := s.keys.streamKeys(carrier)
	heal := s.healDue(carrier)
	if heal {
		keys = append(keys, s.keys.schedKey(carrier))
	}
	var res []any
	var err error
	for try := 0; ; try++ {
		res, err = claimScript.Run(ctx, s.c, keys, s.opts.Group, consumer, n).Slice()
		if errors.Is(err, redis.Nil) {
			return nil, nil
		}
		if err != nil && strings.Contains(err.Error(), "NOGROUP") && try == 0 {
			s.groups.Delete(carrier)
			if err := s.ensureGroups(ctx, carrier); err != nil {
				return nil, err
			}
			continue
		}
		break
	}
	if err != nil {
		return nil, err
	}
	if heal && len(res)%3 == 1 {
		if exists, _ := res[len(res)-1].(int64); exists == 1 {
			if err := s.c.SAdd(ctx, s.keys.schedSetKey(), carrier).Err(); err != nil {
				s.healed.Delete(carrier) // try again at the next Claim
			}
		}
		res = res[:len(res)-1]
	}
	raw := make([]rawEntry, 0, len(res)/3)
	for i := 0; i+2 < len(res); i += 3 {
		ps, _ := res[i].(string)
		id, _ := res[i+1].(string)
		body, _ := res[i+2].(string)
		p, _ := strconv.Atoi(ps)
		raw = append(raw, rawEntry{prio: store.Priority(p), id: id, body: body})
	}
	return raw, nil
}

// decode turns entries handed to consumer into claims. Entries that do not decode are moved
// to the quarantine list and finished, so they cannot block their queue.
func (s *Store) decode(ctx context.Context, carrier, consumer string, raw []rawEntry) ([]store.Claim, error) {
	claims := make([]store.Claim, 0, len(raw))
	var bad []rawEntry
	for _, r := range raw {
		m, err := s.decodeMsg(r.body)
		if err != nil {
			r.err = err
			bad = append(bad, r)
			continue
		}
		d := max(r.deliveries, 1)
		claims = append(claims, store.Claim{Message: m, Token: token(carrier, r.prio, r.id, d, consumer), Deliveries: d})
	}
	if len(bad) > 0 {
		if err := s.quarantine(ctx, carrier, bad); err != nil {
			return claims, err
		}
		s.failUnsealable(ctx, bad)
	}
	return claims, nil
}

// errNotFailed leaves a record that is already final as it is.
var errNotFailed = errors.New("record already final")

// failUnsealable marks the records of quarantined messages whose text could not be opened
// (an *UnknownTextKeyError: the key was dropped from the ring too soon) FAILED with that
// reason, so that the client's status query says why the message was never sent. Best
// effort, off the hot path: the quarantine entry is the durable trace.
func (s *Store) failUnsealable(ctx context.Context, bad []rawEntry) {
	for _, r := range bad {
		var uk *UnknownTextKeyError
		if !errors.As(r.err, &uk) {
			continue
		}
		var env struct {
			ID string `json:"id"`
		}
		if json.Unmarshal([]byte(r.body), &env) != nil || env.ID == "" {
			continue
		}
		now := time.Now()
		_, _ = s.UpdateRecord(ctx, env.ID, func(rec *store.Record) error {
			if rec.Status.Final() {
				return errNotFailed
			}
			rec.Status, rec.Reason, rec.StatusAt = store.StatusFailed, "not sent: "+uk.Error(), now
			return nil
		})
	}
}

// maxQuarantined bounds the quarantine list: the newest entries are kept for inspection.
const maxQuarantined = 10000

// quarantine moves undecodable entries to P:bad, with the reason and the body's text sealed
// (sealRaw), and finishes them: one MULTI, or on a
// cluster (P:bad is another slot than the carrier's) first the list, then the entries' acks
// (a failure between leaves the entry to be read, and quarantined, again).
func (s *Store) quarantine(ctx context.Context, carrier string, bad []rawEntry) error {
	keep := func(p redis.Pipeliner) {
		for _, r := range bad {
			k := s.keys.streamKey(carrier, r.prio)
			now := time.Now()
			q := map[string]any{"stream": k, "id": r.id, "m": s.sealRaw(r.id, r.body), "at": now.UTC(), "at_ms": now.UnixMilli()}
			if r.err != nil {
				q["err"] = r.err.Error()
			}
			b, _ := json.Marshal(q)
			p.RPush(ctx, s.keys.badKey(), b)
			p.LTrim(ctx, s.keys.badKey(), -maxQuarantined, -1)
		}
		// An idle list expires whole; older entries go with the sweep (sweep.go).
		p.PExpire(ctx, s.keys.badKey(), s.opts.QuarantineRetention)
	}
	finish := func(p redis.Pipeliner) {
		for _, r := range bad {
			k := s.keys.streamKey(carrier, r.prio)
			p.XAck(ctx, k, s.opts.Group, r.id)
			p.XDel(ctx, k, r.id)
		}
	}
	var err error
	if !s.cluster {
		err = s.txGroups(ctx, map[string]func(redis.Pipeliner){"": func(p redis.Pipeliner) { keep(p); finish(p) }})
	} else if err = s.txGroups(ctx, map[string]func(redis.Pipeliner){"bad": keep}); err == nil {
		err = s.txGroups(ctx, map[string]func(redis.Pipeliner){"q:" + carrier: finish})
	}
	if err != nil {
		return fmt.Errorf("quarantine undecodable entries: %w", err)
	}
	return nil
}
