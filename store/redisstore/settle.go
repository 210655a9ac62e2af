package redisstore

// Finishing claims: Settle (the batched settlement of sent messages), Ack, Defer and Move,
// and the ownership check (fencing) every finish makes.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/internal/valid"
)

var _ store.Settler = (*Store)(nil)

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
		evs   string // timeline events (joinEvents), appended if the record is stored
		shard int    // of the record, else of the job: where the job is queued
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
			p.evs = s.joinEvents(st.Events)
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
			b, err := s.marshalJob(st.Webhook)
			if err != nil {
				return fmt.Errorf("store: settle: %w", err)
			}
			p.job = b
			if st.Record == nil {
				p.shard = jobShard(st.Webhook)
			}
		}
		if ref, ok := parseToken(st.Carrier, st.Claim.Token); ok {
			k := streamGroup{s.keys.streamKey(st.Carrier, ref.prio), s.opts.Group}
			finishes[k] = append(finishes[k], ref)
		}
		preps[i] = p
	}
	var cmds []redis.Cmder
	ttl := time.Duration(ms(s.opts.IndexTTL)) * time.Millisecond
	w := &write{finishes: finishes}
	for _, p := range preps {
		if p.rec != nil {
			w.records = append(w.records, keyValue{s.keys.recKey(p.id), p.rec, s.keys.whStreamKey(p.shard), s.keys.evKey(p.id), p.evs})
		}
	}
	w.add = func(pl redis.Pipeliner) {
		bg := context.Background()
		for _, p := range preps {
			for _, e := range p.idx {
				cmds = append(cmds, pl.Set(bg, s.keys.cidKey(e.Carrier, e.ID), indexValue(e.MsgID, e.Part), ttl))
			}
			if p.job != nil {
				cmds = append(cmds, pl.XAdd(bg, &redis.XAddArgs{Stream: s.keys.whStreamKey(p.shard), Values: []any{"j", p.job}}))
			}
		}
	}
	w.check = func() error { return cmdErrs(cmds...) }
	if err := s.commit.do(ctx, w); err != nil {
		return fmt.Errorf("store: settle: %w", err)
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
				keys: finishKeys(s.keys.streamKey(carrier, store.Priority(prio))), args: finishArgs(s.opts.Group, refs)})
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
// slot), its carrier ARGV[5] to the set KEYS[3] and timeline event ARGV[8] (if not empty)
// to the message's timeline KEYS[4]. Returns 1 if it did, 0 if the claim did not own the
// entry.
var deferScript = redis.NewScript(ownedLua + `
if not owned(KEYS[1], ARGV[1], ARGV[2], ARGV[6], ARGV[7]) then return 0 end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
if KEYS[3] then redis.call('SADD', KEYS[3], ARGV[5]) end
if KEYS[4] and ARGV[8] ~= '' then redis.call('RPUSHX', KEYS[4], ARGV[8]) end
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
	body, err := s.marshalMsg(&m)
	if err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	keys := []string{s.keys.streamKey(carrier, ref.prio), s.keys.schedKey(m.Carrier)}
	if !s.cluster {
		keys = append(keys, s.keys.schedSetKey(), s.keys.evKey(m.ID))
	}
	ev := s.eventArg(c.Event)
	done, err := deferScript.Run(ctx, s.c, keys, s.opts.Group, ref.id, at.UnixMilli(), body, m.Carrier,
		strconv.FormatInt(ref.deliveries, 10), ref.consumer, ev).Int()
	if err == nil && done == 1 && s.cluster {
		// The set and the timeline are other slots: one pipeline after the script.
		_, err = s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.SAdd(ctx, s.keys.schedSetKey(), m.Carrier)
			if ev != "" {
				p.RPushX(ctx, s.keys.evKey(m.ID), ev)
			}
			return nil
		})
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
	body, err := s.marshalMsg(&m)
	if err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	src, dst := s.keys.streamKey(from, ref.prio), s.keys.streamKey(to, m.Priority)
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
