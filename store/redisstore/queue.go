package redisstore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/internal/valid"
)

func marshalMsg(m *store.Message) (string, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("message %s: %w", m.ID, err)
	}
	return string(b), nil
}

// Enqueue implements store.Queue: one MULTI/EXEC, so a batch is stored whole or not at all.
// On a cluster each carrier's messages are one MULTI (their keys share a slot), the
// carriers' concurrently; then the carriers with scheduled messages join the set that
// PromoteDue reads.
func (s *Store) Enqueue(ctx context.Context, msgs ...*store.Message) error {
	if err := s.check(ctx, "enqueue"); err != nil {
		return err
	}
	if len(msgs) == 0 {
		return nil
	}
	bodies, err := marshalMsgs(msgs)
	if err != nil {
		return fmt.Errorf("store: enqueue: %w", err)
	}
	now := time.Now()
	sched := scheduledCarriers(now, msgs)
	if !s.cluster {
		_, err = s.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
			s.enqueueOps(ctx, p, now, msgs, bodies)
			s.schedSetOps(ctx, p, sched)
			return nil
		})
	} else {
		byCarrier := map[string][]int{}
		for i, m := range msgs {
			byCarrier[m.Carrier] = append(byCarrier[m.Carrier], i)
		}
		groups := map[string]func(redis.Pipeliner){}
		for c, idx := range byCarrier {
			ms, bs := make([]*store.Message, len(idx)), make([]string, len(idx))
			for j, i := range idx {
				ms[j], bs[j] = msgs[i], bodies[i]
			}
			groups["q:"+c] = func(p redis.Pipeliner) { s.enqueueOps(ctx, p, now, ms, bs) }
		}
		err = s.txGroups(ctx, groups)
		if len(sched) > 0 {
			// Even when some carrier failed: a carrier in the set with nothing scheduled
			// is only dropped from it by the next PromoteDue.
			_, serr := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
				s.schedSetOps(ctx, p, sched)
				return nil
			})
			err = cmp.Or(err, serr)
		}
	}
	if err != nil {
		return fmt.Errorf("store: enqueue: %w", err)
	}
	return nil
}

// marshalMsgs checks and encodes messages for the queue.
func marshalMsgs(msgs []*store.Message) ([]string, error) {
	bodies := make([]string, len(msgs))
	for i, m := range msgs {
		if err := valid.Message(m); err != nil {
			return nil, err
		}
		b, err := marshalMsg(m)
		if err != nil {
			return nil, err
		}
		bodies[i] = b
	}
	return bodies, nil
}

// enqueueOps queues msgs (encoded as bodies) on p: the ready stream, or, for a SendAt after
// now, the carrier's scheduled set (schedSetOps then names the carrier for PromoteDue).
func (s *Store) enqueueOps(ctx context.Context, p redis.Pipeliner, now time.Time, msgs []*store.Message, bodies []string) {
	for i, m := range msgs {
		if m.SendAt.After(now) {
			p.ZAdd(ctx, s.schedKey(m.Carrier), redis.Z{Score: float64(m.SendAt.UnixMilli()), Member: bodies[i]})
		} else {
			p.XAdd(ctx, &redis.XAddArgs{Stream: s.streamKey(m.Carrier, m.Priority), Values: []any{"m", bodies[i]}})
		}
	}
}

// scheduledCarriers returns the carriers of msgs that have a message due after now.
func scheduledCarriers(now time.Time, msgs []*store.Message) []string {
	var cs []string
	for _, m := range msgs {
		if m.SendAt.After(now) && !slices.Contains(cs, m.Carrier) {
			cs = append(cs, m.Carrier)
		}
	}
	return cs
}

// schedSetOps adds carriers to the set of carriers with scheduled messages. It follows the
// ZADD to their scheduled sets, as PromoteDue's removal of a carrier from the set precedes
// its second look at the carrier's set: whatever the interleaving, a carrier whose set is
// not empty stays named (a lost wakeup needs a crash between the two writes on a cluster;
// Claim then names the carrier again, see healDue).
func (s *Store) schedSetOps(ctx context.Context, p redis.Pipeliner, carriers []string) {
	if len(carriers) > 0 {
		p.SAdd(ctx, s.schedSetKey(), anys(carriers)...)
	}
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// Accept implements store.Accepter: per message its record (SET with the TTL) and its queue
// entry (XADD, or ZADD to the scheduled set), joined with every other caller's writes into
// one group-commit MULTI: one round trip for all the requests that arrive within about a
// round trip of each other. On a cluster the records are stored first and the queue entries
// only then (the committer's steps): a message is never queued without its record.
func (s *Store) Accept(ctx context.Context, recs []*store.Record, ttl time.Duration, msgs ...*store.Message) error {
	if err := s.check(ctx, "accept"); err != nil {
		return err
	}
	if ttl <= 0 {
		ttl = s.opts.RecordTTL
	}
	recBodies := make([][]byte, len(recs))
	for i, r := range recs {
		b, err := marshalRecord(r)
		if err != nil {
			return fmt.Errorf("store: accept: %w", err)
		}
		recBodies[i] = b
	}
	bodies, err := marshalMsgs(msgs)
	if err != nil {
		return fmt.Errorf("store: accept: %w", err)
	}
	var cmds []redis.Cmder
	now := time.Now()
	sched := scheduledCarriers(now, msgs)
	bg := context.Background()
	w := &write{
		add: func(p redis.Pipeliner) {
			for i, r := range recs {
				cmds = append(cmds, p.Set(bg, s.recKey(r.ID), recBodies[i], time.Duration(ms(ttl))*time.Millisecond))
			}
		},
		then: func(p redis.Pipeliner) {
			n := p.Len()
			s.enqueueOps(bg, p, now, msgs, bodies)
			cmds = append(cmds, p.Cmds()[n:]...)
		},
		check: func() error { return cmdErrs(cmds...) },
	}
	if len(sched) > 0 {
		w.last = func(p redis.Pipeliner) {
			n := p.Len()
			s.schedSetOps(bg, p, sched)
			cmds = append(cmds, p.Cmds()[n:]...)
		}
	}
	if err := s.commit.do(ctx, w); err != nil {
		return fmt.Errorf("store: accept: %w", err)
	}
	return nil
}

// Settle implements store.Settler: for each settlement the record (the compare-and-set of
// SwapRecords expecting revision 0: never recreated once gone, never over a record a receipt
// changed), the index entries (SET with the index TTL), the webhook job (XADD) and the claim's
// ack (XACK and XDEL, gathered per stream across the whole batch), in the group-commit MULTI.
// On a cluster the claim is finished only once the rest is stored (the committer's steps):
// a failure in between leaves the message claimed, to be taken over and sent again.
func (s *Store) Settle(ctx context.Context, ss ...store.Settlement) error {
	if err := s.check(ctx, "settle"); err != nil {
		return err
	}
	type prepared struct {
		rec   []byte
		id    string
		idx   []store.IndexEntry
		job   []byte
		shard int // of the record, else of the job: where the job is queued
	}
	preps := make([]prepared, len(ss))
	finishes := map[streamGroup][]claimRef{}
	for i, st := range ss {
		var p prepared
		if st.Record != nil {
			b, err := marshalRecord(st.Record)
			if err != nil {
				return fmt.Errorf("store: settle: %w", err)
			}
			p.rec, p.id = b, st.Record.ID
			p.shard = shardOf(st.Record.ID)
		}
		for _, e := range st.Index {
			if err := valid.Carrier(e.Carrier); err != nil {
				return fmt.Errorf("store: settle: index: %w", err)
			}
			if e.ID == "" || e.MsgID == "" {
				return errors.New("store: settle: index entry with an empty id")
			}
		}
		p.idx = st.Index
		if st.Webhook != nil {
			b, err := marshalJob(st.Webhook)
			if err != nil {
				return fmt.Errorf("store: settle: %w", err)
			}
			p.job = b
			if st.Record == nil {
				p.shard = jobShard(st.Webhook)
			}
		}
		if ref, ok := parseToken(st.Carrier, st.Claim.Token); ok {
			k := streamGroup{s.streamKey(st.Carrier, ref.prio), s.opts.Group}
			finishes[k] = append(finishes[k], ref)
		}
		preps[i] = p
	}
	var cmds []redis.Cmder
	ttl := time.Duration(ms(s.opts.IndexTTL)) * time.Millisecond
	w := &write{finishes: finishes}
	for _, p := range preps {
		if p.rec != nil {
			w.records = append(w.records, keyValue{s.recKey(p.id), p.rec, s.whStreamKey(p.shard)})
		}
	}
	w.add = func(pl redis.Pipeliner) {
		bg := context.Background()
		for _, p := range preps {
			for _, e := range p.idx {
				cmds = append(cmds, pl.Set(bg, s.cidKey(e.Carrier, e.ID), indexValue(e.MsgID, e.Part), ttl))
			}
			if p.job != nil {
				cmds = append(cmds, pl.XAdd(bg, &redis.XAddArgs{Stream: s.whStreamKey(p.shard), Values: []any{"j", p.job}}))
			}
		}
	}
	w.check = func() error { return cmdErrs(cmds...) }
	if err := s.commit.do(ctx, w); err != nil {
		return fmt.Errorf("store: settle: %w", err)
	}
	return nil
}

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
	claims := s.takeStash(carrier, consumer, n)
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
	keys := s.streamKeys(carrier)
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
			s.putStash(carrier, consumer, claims[n:])
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

func (s *Store) takeStash(carrier, consumer string, n int) []store.Claim {
	s.stashMu.Lock()
	defer s.stashMu.Unlock()
	if len(s.stash) == 0 {
		return nil
	}
	now := time.Now()
	for k, st := range s.stash {
		if now.Sub(st.at) > stashMaxAge {
			delete(s.stash, k)
		}
	}
	k := stashKey{carrier, consumer}
	st, ok := s.stash[k]
	if !ok {
		return nil
	}
	take := min(n, len(st.claims))
	out := slices.Clone(st.claims[:take])
	if take == len(st.claims) {
		delete(s.stash, k)
	} else {
		st.claims = slices.Clone(st.claims[take:])
		s.stash[k] = st
	}
	return out
}

func (s *Store) putStash(carrier, consumer string, claims []store.Claim) {
	s.stashMu.Lock()
	defer s.stashMu.Unlock()
	k := stashKey{carrier, consumer}
	st := s.stash[k]
	if len(st.claims) == 0 {
		st.at = time.Now()
	}
	st.claims = append(st.claims, claims...)
	s.stash[k] = st
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
	keys := s.streamKeys(carrier)
	heal := s.healDue(carrier)
	if heal {
		keys = append(keys, s.schedKey(carrier))
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
			if err := s.c.SAdd(ctx, s.schedSetKey(), carrier).Err(); err != nil {
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
		m, err := decodeMsg(r.body)
		if err != nil {
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
	}
	return claims, nil
}

func decodeMsg(body string) (*store.Message, error) {
	if body == "" {
		return nil, errors.New("entry without message")
	}
	m := new(store.Message)
	if err := json.Unmarshal([]byte(body), m); err != nil {
		return nil, err
	}
	if err := valid.Message(m); err != nil {
		return nil, err
	}
	return m, nil
}

// maxQuarantined bounds the quarantine list: the newest entries are kept for inspection.
const maxQuarantined = 10000

// quarantine moves undecodable entries to P:bad and finishes them: one MULTI, or on a
// cluster (P:bad is another slot than the carrier's) first the list, then the entries' acks
// (a failure between leaves the entry to be read, and quarantined, again).
func (s *Store) quarantine(ctx context.Context, carrier string, bad []rawEntry) error {
	keep := func(p redis.Pipeliner) {
		for _, r := range bad {
			k := s.streamKey(carrier, r.prio)
			b, _ := json.Marshal(map[string]any{"stream": k, "id": r.id, "m": r.body, "at": time.Now().UTC()})
			p.RPush(ctx, s.badKey(), b)
			p.LTrim(ctx, s.badKey(), -maxQuarantined, -1)
		}
	}
	finish := func(p redis.Pipeliner) {
		for _, r := range bad {
			k := s.streamKey(carrier, r.prio)
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

// ownedLua is the check every finish of a claim makes: entry id of stream key is pending in
// group, handed to consumer at delivery count d (a string). A claim taken over by another
// consumer, or handed out again, fails it: its old holder can no longer finish it.
const ownedLua = `
local function owned(key, group, id, d, consumer)
  local p = redis.call('XPENDING', key, group, id, id, 1)
  local e = p[1]
  return e ~= nil and e[2] == consumer and tostring(e[4]) == d
end
`

// fenceWindow is how long after a claim was handed over from one consumer to another
// (TakeOver, Reclaim) finishing claims of that stream checks each claim's ownership. The
// earlier holder stops acting on its claims before its heartbeat can lapse (its Keeper's own
// deadline), so what it may still try to finish after a takeover is what it was sending
// then: a send bounded by its parts' response timeouts, minutes at most. Outside the window
// no claim of the stream can be a fenced one, and finishing skips the check (one XPENDING per
// message).
const fenceWindow = 15 * time.Minute

// handedKey is the marker of a queue stream whose claims were handed over within the fence
// window (a string with that TTL; same hash tag as the stream).
func handedKey(stream string) string { return stream + ":handed" }

// finishSource acknowledges and deletes the entries of one stream that are still owned by
// the claims naming them. KEYS[1] the stream, KEYS[2] its handed-over marker; ARGV[1] the
// group, then (entry id, delivery count, consumer) triples. Returns how many were not owned
// (finished already, or fenced). Unless claims of the stream were handed over within the
// fence window, none can be fenced and the check is skipped. The acks go out as variadic
// XACK and XDEL, in chunks (Lua's unpack is bounded).
const finishSource = ownedLua + `
local ok = {}
local check = redis.call('EXISTS', KEYS[2]) == 1
for i = 2, #ARGV, 3 do
  if not check or owned(KEYS[1], ARGV[1], ARGV[i], ARGV[i + 1], ARGV[i + 2]) then ok[#ok + 1] = ARGV[i] end
end
for i = 1, #ok, 1000 do
  local chunk = {unpack(ok, i, math.min(i + 999, #ok))}
  redis.call('XACK', KEYS[1], ARGV[1], unpack(chunk))
  redis.call('XDEL', KEYS[1], unpack(chunk))
end
return (#ARGV - 1) / 3 - #ok
`

var finishScript = redis.NewScript(finishSource)

// finishKeys returns finishSource's KEYS for stream.
func finishKeys(stream string) []string { return []string{stream, handedKey(stream)} }

// finishArgs returns finishSource's ARGV for refs.
func finishArgs(group string, refs []claimRef) []any {
	args := make([]any, 1, 1+3*len(refs))
	args[0] = group
	for _, r := range refs {
		args = append(args, r.id, strconv.FormatInt(r.deliveries, 10), r.consumer)
	}
	return args
}

// Ack implements store.Queue: one finish script per stream. A claim that is no longer its
// holder's (taken over after the holder was thought dead) is left alone.
func (s *Store) Ack(ctx context.Context, carrier string, claims ...store.Claim) error {
	op := "ack " + carrier
	if err := s.check(ctx, op); err != nil {
		return err
	}
	var byPrio [3][]claimRef
	for _, c := range claims {
		if ref, ok := parseToken(carrier, c.Token); ok {
			byPrio[ref.prio] = append(byPrio[ref.prio], ref)
		}
	}
	var calls []*scriptCall
	for prio, refs := range byPrio {
		if len(refs) > 0 {
			calls = append(calls, &scriptCall{script: finishScript,
				keys: finishKeys(s.streamKey(carrier, store.Priority(prio))), args: finishArgs(s.opts.Group, refs)})
		}
	}
	if err := s.runScripts(ctx, calls); err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	return nil
}

// deferScript finishes entry ARGV[2] of stream KEYS[1] (group ARGV[1]) if the claim
// (delivery ARGV[6] to consumer ARGV[7]) still owns it, and then adds message ARGV[4] to the
// scheduled zset KEYS[2] with score ARGV[3] and, given KEYS[3] (not on a cluster: another
// slot), its carrier ARGV[5] to the set KEYS[3]. Returns 1 if it did, 0 if the claim did not
// own the entry.
var deferScript = redis.NewScript(ownedLua + `
if not owned(KEYS[1], ARGV[1], ARGV[2], ARGV[6], ARGV[7]) then return 0 end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
if KEYS[3] then redis.call('SADD', KEYS[3], ARGV[5]) end
return 1
`)

// Defer implements store.Queue, atomically (one script). On a cluster the script finishes
// the entry and schedules the message (one slot: the carrier's), and the carrier is named
// in P:sched after it (see schedSetOps).
func (s *Store) Defer(ctx context.Context, carrier string, c store.Claim, at time.Time) error {
	op := "defer " + carrier
	if err := s.check(ctx, op); err != nil {
		return err
	}
	if c.Message == nil {
		return fmt.Errorf("store: %s: claim without message", op)
	}
	m := *c.Message
	if m.Carrier == "" {
		m.Carrier = carrier
	}
	if err := valid.Message(&m); err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	ref, ok := parseToken(carrier, c.Token)
	if !ok {
		return nil // not a pending claim of this carrier: nothing to finish
	}
	body, err := marshalMsg(&m)
	if err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	keys := []string{s.streamKey(carrier, ref.prio), s.schedKey(m.Carrier)}
	if !s.cluster {
		keys = append(keys, s.schedSetKey())
	}
	done, err := deferScript.Run(ctx, s.c, keys, s.opts.Group, ref.id, at.UnixMilli(), body, m.Carrier,
		strconv.FormatInt(ref.deliveries, 10), ref.consumer).Int()
	if err == nil && done == 1 && s.cluster {
		err = s.c.SAdd(ctx, s.schedSetKey(), m.Carrier).Err()
	}
	if err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	return nil
}

// moveScript finishes entry ARGV[2] of stream KEYS[1] (group ARGV[1]) if the claim
// (delivery ARGV[4] to consumer ARGV[5]) still owns it, and then appends message ARGV[3] to
// stream KEYS[2]. Returns 1 if it did.
var moveScript = redis.NewScript(ownedLua + `
if not owned(KEYS[1], ARGV[1], ARGV[2], ARGV[4], ARGV[5]) then return 0 end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('XADD', KEYS[2], '*', 'm', ARGV[3])
return 1
`)

// ownedScript: KEYS[1] a stream; ARGV group, entry id, delivery count, consumer. 1 if the
// claim still owns the entry, else 0.
var ownedScript = redis.NewScript(ownedLua + `
if owned(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4]) then return 1 end
return 0
`)

// Move implements store.Queue, atomically (one script). On a cluster, where the two
// carriers' streams are in different slots, it is three steps: the claim is checked, the
// message appended to the new carrier's stream, the claim finished (if it still owns its
// entry). A failure or a takeover between the last two leaves the message in both queues:
// it may be sent twice, never lost.
func (s *Store) Move(ctx context.Context, from string, c store.Claim, to string) error {
	op := "move " + from + " to " + to
	if err := s.check(ctx, op); err != nil {
		return err
	}
	if c.Message == nil {
		return fmt.Errorf("store: %s: claim without message", op)
	}
	m := *c.Message
	m.Carrier = to
	if err := valid.Message(&m); err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	ref, ok := parseToken(from, c.Token)
	if !ok {
		return nil
	}
	body, err := marshalMsg(&m)
	if err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	src, dst := s.streamKey(from, ref.prio), s.streamKey(to, m.Priority)
	d := strconv.FormatInt(ref.deliveries, 10)
	if !s.cluster || keySlot(src) == keySlot(dst) {
		if err := moveScript.Run(ctx, s.c, []string{src, dst}, s.opts.Group, ref.id, body, d, ref.consumer).Err(); err != nil {
			return fmt.Errorf("store: %s: %w", op, err)
		}
		return nil
	}
	owned, err := ownedScript.Run(ctx, s.c, []string{src}, s.opts.Group, ref.id, d, ref.consumer).Int()
	if err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	if owned != 1 {
		return nil // finished or taken over: not this claim's to move
	}
	if err := s.c.XAdd(ctx, &redis.XAddArgs{Stream: dst, Values: []any{"m", body}}).Err(); err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	if err := finishScript.Run(ctx, s.c, finishKeys(src), finishArgs(s.opts.Group, []claimRef{ref})...).Err(); err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	return nil
}

// TakeOver implements store.Queue: on each priority's stream (highest first), takeOverDead
// hands consumer what consumers of dead members hold, without waiting for any idle time.
func (s *Store) TakeOver(ctx context.Context, carrier, consumer string, n int) ([]store.Claim, error) {
	op := "take over " + carrier
	if err := s.check(ctx, op); err != nil {
		return nil, err
	}
	if err := valid.Carrier(carrier); err != nil {
		return nil, fmt.Errorf("store: take over: %w", err)
	}
	var claims []store.Claim
	for _, p := range store.Priorities() {
		if len(claims) >= n {
			break
		}
		key := s.streamKey(carrier, p)
		taken, err := s.takeOverDead(ctx, key, s.opts.Group, consumer, handedKey(key), n-len(claims), 0)
		if err != nil {
			return claims, fmt.Errorf("store: %s: %w", op, err)
		}
		raw := make([]rawEntry, len(taken))
		for i, t := range taken {
			raw[i] = rawEntry{prio: p, id: t.id, body: t.fields["m"], deliveries: t.deliveries}
		}
		got, err := s.decode(ctx, carrier, consumer, raw)
		claims = append(claims, got...)
		if err != nil {
			return claims, fmt.Errorf("store: %s: %w", op, err)
		}
	}
	return claims, nil
}

// Reclaim implements store.Queue with XAUTOCLAIM on each priority's stream (highest first),
// then XPENDING for the delivery counts. It is the last resort for claims whose holder's
// liveness is unknown (consumer names no member made); TakeOver handles dead members.
func (s *Store) Reclaim(ctx context.Context, carrier, consumer string, minIdle time.Duration, n int) ([]store.Claim, error) {
	op := "reclaim " + carrier
	if err := s.check(ctx, op); err != nil {
		return nil, err
	}
	if err := valid.Carrier(carrier); err != nil {
		return nil, fmt.Errorf("store: reclaim: %w", err)
	}
	var claims []store.Claim
	idle := time.Duration(ms(minIdle)) * time.Millisecond
	for _, p := range store.Priorities() {
		key := s.streamKey(carrier, p)
		if len(claims) >= n {
			break
		}
		// Only when something is idle that long: mark the stream handed over first (so that
		// from now on finishing its claims checks their ownership), then take.
		idleOnes, err := s.c.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: key, Group: s.opts.Group,
			Idle: idle, Start: "-", End: "+", Count: 1}).Result()
		if isNoGroup(err) || err == nil && len(idleOnes) == 0 {
			continue
		}
		if err != nil {
			return claims, fmt.Errorf("store: %s: %w", op, err)
		}
		if err := s.c.Set(ctx, handedKey(key), "1", fenceWindow).Err(); err != nil {
			return claims, fmt.Errorf("store: %s: %w", op, err)
		}
		start := "0-0"
		// XAUTOCLAIM scans at most 10×COUNT pending entries per call; a bounded number of
		// rounds keeps one Reclaim short even with a huge pending list.
		for round := 0; round < 16 && len(claims) < n; round++ {
			msgs, next, err := s.c.XAutoClaim(ctx, &redis.XAutoClaimArgs{
				Stream: key, Group: s.opts.Group, Consumer: consumer,
				MinIdle: idle, Start: start, Count: int64(n - len(claims)),
			}).Result()
			if isNoGroup(err) {
				break
			}
			if err != nil {
				return claims, fmt.Errorf("store: %s: %w", op, err)
			}
			got, err := s.withDeliveries(ctx, carrier, consumer, p, msgs)
			claims = append(claims, got...)
			if err != nil {
				return claims, fmt.Errorf("store: %s: %w", op, err)
			}
			if next == "0-0" || next == "" {
				break
			}
			start = next
		}
	}
	return claims, nil
}

// withDeliveries decodes entries XAUTOCLAIM handed to consumer and reads their delivery
// counts.
func (s *Store) withDeliveries(ctx context.Context, carrier, consumer string, p store.Priority, msgs []redis.XMessage) ([]store.Claim, error) {
	if len(msgs) == 0 {
		return nil, nil
	}
	key := s.streamKey(carrier, p)
	cmds := make([]*redis.XPendingExtCmd, len(msgs))
	_, err := s.c.Pipelined(ctx, func(pl redis.Pipeliner) error {
		for i, m := range msgs {
			cmds[i] = pl.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: key, Group: s.opts.Group, Start: m.ID, End: m.ID, Count: 1})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("delivery counts: %w", err)
	}
	raw := make([]rawEntry, 0, len(msgs))
	for i, m := range msgs {
		pend := cmds[i].Val()
		if len(pend) != 1 || pend[0].Consumer != consumer {
			continue // finished, or taken by someone else, between the two calls
		}
		body, _ := m.Values["m"].(string)
		raw = append(raw, rawEntry{prio: p, id: m.ID, body: body, deliveries: pend[0].RetryCount})
	}
	return s.decode(ctx, carrier, consumer, raw)
}

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
// priority from the message JSON. Returns {moved, messages left in the set}.
var promoteScript = redis.NewScript(`
local due = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[2]))
for _, m in ipairs(due) do
  local ok, msg = pcall(cjson.decode, m)
  local p = 0
  if ok and type(msg) == 'table' then p = math.floor(tonumber(msg['priority']) or 0) end
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
	carriers, err := s.c.SMembers(ctx, s.schedSetKey()).Result()
	if err != nil {
		return 0, fmt.Errorf("store: promote: %w", err)
	}
	if len(carriers) == 0 {
		return 0, nil
	}
	calls := make([]*scriptCall, len(carriers))
	for i, c := range carriers {
		calls[i] = &scriptCall{script: dueScoresScript, keys: []string{s.schedKey(c)}, args: []any{now.UnixMilli(), n}}
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
			keys := append([]string{s.schedKey(c)}, s.streamKeys(c)...)
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

// dropSchedCarriers removes carriers whose scheduled sets were seen empty from P:sched,
// then looks at their sets again and names those that are no longer empty once more: a
// writer adds to a carrier's set before it names the carrier, so one that wrote after the
// first look is seen by the second, or names the carrier after the removal.
func (s *Store) dropSchedCarriers(ctx context.Context, carriers []string) error {
	if len(carriers) == 0 {
		return nil
	}
	if err := s.c.SRem(ctx, s.schedSetKey(), anys(carriers)...).Err(); err != nil {
		return err
	}
	exists := make([]*redis.IntCmd, len(carriers))
	if _, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, c := range carriers {
			exists[i] = p.Exists(ctx, s.schedKey(c))
		}
		return nil
	}); err != nil {
		// Not knowing, name them all again: a carrier named with nothing scheduled costs
		// one look at the next PromoteDue, a carrier wrongly dropped its messages.
		return s.c.SAdd(ctx, s.schedSetKey(), anys(carriers)...).Err()
	}
	var back []string
	for i, c := range carriers {
		if exists[i].Val() > 0 {
			back = append(back, c)
		}
	}
	if len(back) > 0 {
		return s.c.SAdd(ctx, s.schedSetKey(), anys(back)...).Err()
	}
	return nil
}

// Depth implements store.Queue from one MULTI/EXEC snapshot: XLEN and the XPENDING summary
// of each stream (ready = XLEN - pending, exact because finished entries are deleted in the
// same step), and ZCARD of the carrier's scheduled zset.
func (s *Store) Depth(ctx context.Context, carrier string) (store.Depth, error) {
	op := "depth " + carrier
	if err := s.check(ctx, op); err != nil {
		return store.Depth{}, err
	}
	var lens [3]*redis.IntCmd
	var pend [3]*redis.XPendingCmd
	var sched *redis.IntCmd
	_, err := s.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range s.streamKeys(carrier) {
			lens[i] = p.XLen(ctx, k)
			pend[i] = p.XPending(ctx, k, s.opts.Group)
		}
		sched = p.ZCard(ctx, s.schedKey(carrier))
		return nil
	})
	if err != nil && !isNoGroup(err) {
		return store.Depth{}, fmt.Errorf("store: %s: %w", op, err)
	}
	var d store.Depth
	for i := range lens {
		if err := lens[i].Err(); err != nil {
			return store.Depth{}, fmt.Errorf("store: %s: %w", op, err)
		}
		var pn int64
		if err := pend[i].Err(); err == nil {
			pn = pend[i].Val().Count
		} else if !isNoGroup(err) {
			return store.Depth{}, fmt.Errorf("store: %s: %w", op, err)
		}
		d.Pending += pn
		d.Ready += max(0, lens[i].Val()-pn)
	}
	if err := sched.Err(); err != nil {
		return store.Depth{}, fmt.Errorf("store: %s: %w", op, err)
	}
	d.Scheduled = sched.Val()
	return d, nil
}
