package redisstore

// Writing new messages to the queues: Enqueue, and Accept (records and queue entries in one
// group commit), with the helpers that encode messages and name scheduled carriers.

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/internal/valid"
)

var _ store.Accepter = (*Store)(nil)

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
	bodies, err := s.marshalMsgs(msgs)
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
func (s *Store) marshalMsgs(msgs []*store.Message) ([]string, error) {
	bodies := make([]string, len(msgs))
	for i, m := range msgs {
		if err := valid.Message(m); err != nil {
			return nil, err
		}
		b, err := s.marshalMsg(m)
		if err != nil {
			return nil, err
		}
		bodies[i] = b
	}
	return bodies, nil
}

// enqueueOps queues msgs (encoded as bodies) on p: the ready stream, or, for a SendAt after
// now, the carrier's scheduled set (schedSetOps then names the carrier for PromoteDue) with
// its index entry for CancelScheduled: only scheduled messages pay that second command.
func (s *Store) enqueueOps(ctx context.Context, p redis.Pipeliner, now time.Time, msgs []*store.Message, bodies []string) {
	for i, m := range msgs {
		if m.SendAt.After(now) {
			p.ZAdd(ctx, s.keys.schedKey(m.Carrier), redis.Z{Score: float64(m.SendAt.UnixMilli()), Member: bodies[i]})
			p.HSet(ctx, s.keys.schedIdxKey(m.Carrier), m.ID, bodies[i])
		} else {
			p.XAdd(ctx, &redis.XAddArgs{Stream: s.keys.streamKey(m.Carrier, m.Priority), Values: []any{"m", bodies[i]}})
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
		p.SAdd(ctx, s.keys.schedSetKey(), anys(carriers)...)
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
	bodies, err := s.marshalMsgs(msgs)
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
				cmds = append(cmds, p.Set(bg, s.keys.recKey(r.ID), recBodies[i], time.Duration(ms(ttl))*time.Millisecond))
			}
			n := p.Len()
			s.acceptSearchOps(bg, p, recs, msgs, now, time.Duration(ms(ttl))*time.Millisecond)
			cmds = append(cmds, p.Cmds()[n:]...)
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
