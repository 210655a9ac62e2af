package redisstore

// Taking over claims of others: TakeOver (claims of dead members, at once) and Reclaim
// (claims idle past a minimum, of consumers whose liveness is unknown).

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/internal/valid"
)

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
		key := s.keys.streamKey(carrier, p)
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
		key := s.keys.streamKey(carrier, p)
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
	key := s.keys.streamKey(carrier, p)
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
