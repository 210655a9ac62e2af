package redisstore

// The send queues (store.Queue), one file per concern: enqueue.go writes new messages,
// claim.go hands them out, settle.go finishes claims, takeover.go moves claims of others,
// schedule.go promotes scheduled messages; this file reports the queues' depth.

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/smppd/smppd/store"
)

// Depth implements store.Queue from one MULTI/EXEC snapshot: XLEN and the XPENDING summary
// of each stream (ready = XLEN - pending, exact because finished entries are deleted in the
// same step), per priority (one stream each), and ZCARD of the carrier's scheduled zset.
func (s *Store) Depth(ctx context.Context, carrier string) (store.Depth, error) {
	op := "depth " + carrier
	if err := s.check(ctx, op); err != nil {
		return store.Depth{}, err
	}
	var lens [3]*redis.IntCmd
	var pend [3]*redis.XPendingCmd
	var sched *redis.IntCmd
	_, err := s.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range s.keys.streamKeys(carrier) {
			lens[i] = p.XLen(ctx, k)
			pend[i] = p.XPending(ctx, k, s.opts.Group)
		}
		sched = p.ZCard(ctx, s.keys.schedKey(carrier))
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
		d.ByPriority[i] = store.PriorityDepth{Ready: max(0, lens[i].Val()-pn), Pending: pn}
		d.Pending += pn
		d.Ready += d.ByPriority[i].Ready
	}
	if err := sched.Err(); err != nil {
		return store.Depth{}, fmt.Errorf("store: %s: %w", op, err)
	}
	d.Scheduled = sched.Val()
	return d, nil
}
