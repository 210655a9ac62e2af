package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/internal/valid"
)

// The receipt log (store.ReceiptLog):
//
//	P:rlog    stream   received deliver_sm: fields c (carrier), b (bind), p (the PDU), t
//	                   (received, unix ms); consumer group "dlr"
//
// An entry is appended (through the group commit) before its deliver_sm_resp is sent, read
// by one instance's correlator, and deleted once its effect is stored. An entry that waits
// for its message (the receipt came before the submit_sm_resp was stored) stays in the
// group's pending list and is read again by ReclaimReceiptLog: waiting costs no writes.

// receiptGroup is the consumer group of the receipt log.
const receiptGroup = "dlr"

// ensureStreamGroup creates the consumer group (and stream) of key unless known to exist.
func (s *Store) ensureStreamGroup(ctx context.Context, key, group string) error {
	if _, ok := s.groups.Load(key); ok {
		return nil
	}
	err := s.c.XGroupCreateMkStream(ctx, key, group, "0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("create consumer group: %w", err)
	}
	s.groups.Store(key, struct{}{})
	return nil
}

// AppendReceipts implements store.ReceiptLog: one XADD per entry, in the group commit.
func (s *Store) AppendReceipts(ctx context.Context, ps ...*store.LoggedPDU) error {
	op := "append receipts"
	if err := s.check(ctx, op); err != nil {
		return err
	}
	if len(ps) == 0 {
		return nil
	}
	for _, p := range ps {
		if p == nil || len(p.Body) == 0 {
			return fmt.Errorf("store: %s: empty entry", op)
		}
		if err := valid.Carrier(p.Carrier); err != nil {
			return fmt.Errorf("store: %s: %w", op, err)
		}
	}
	key := s.keys.receiptLogKey()
	cmds := make([]redis.Cmder, 0, len(ps))
	w := &write{
		add: func(pl redis.Pipeliner) {
			for _, p := range ps {
				at := p.At
				if at.IsZero() {
					at = time.Now()
				}
				// The PDU as received: a receipt's text: field is the start of the message
				// (an OTP code fits in it), an MO's its subscriber's words; sealed like
				// message texts (codec.go), the carrier as the additional data.
				body, field := any(p.Body), "p"
				if s.text != nil {
					body, field = s.text.seal(rlogAAD(p.Carrier), string(p.Body)), "s"
				}
				cmds = append(cmds, pl.XAdd(context.Background(), &redis.XAddArgs{Stream: key,
					Values: []any{"c", p.Carrier, "b", p.Bind, field, body, "t", at.UnixMilli()}}))
			}
		},
		check: func() error { return cmdErrs(cmds...) },
	}
	if err := s.commit.do(ctx, w); err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	return nil
}

func rlogAAD(carrier string) string { return "rlog:" + carrier }

// decodeLogged reads a log entry: "p" the PDU in plaintext (entries written before sealing,
// or by a store without keys), "s" the PDU sealed. One that does not open (a key dropped too
// soon) has no Body: the correlator files it as an unreadable receipt.
func (s *Store) decodeLogged(m redis.XMessage, deliveries int64) *store.LoggedPDU {
	p := &store.LoggedPDU{Token: m.ID, Deliveries: deliveries}
	p.Carrier, _ = m.Values["c"].(string)
	p.Bind, _ = m.Values["b"].(string)
	if body, ok := m.Values["p"].(string); ok {
		p.Body = []byte(body)
	} else if sealed, ok := m.Values["s"].(string); ok {
		if body, err := s.text.open(rlogAAD(p.Carrier), sealed); err == nil {
			p.Body = []byte(body)
		}
	}
	if t, ok := m.Values["t"].(string); ok {
		if n, err := strconv.ParseInt(t, 10, 64); err == nil {
			p.At = time.UnixMilli(n)
		}
	}
	return p
}

// ReadReceiptLog implements store.ReceiptLog with XREADGROUP, blocking in slices of
// Options.MaxBlock so that a cancelled ctx or a closed store is noticed.
func (s *Store) ReadReceiptLog(ctx context.Context, consumer string, n int, wait time.Duration) ([]*store.LoggedPDU, error) {
	op := "read receipt log"
	if err := s.check(ctx, op); err != nil {
		return nil, err
	}
	if n <= 0 {
		return nil, nil
	}
	key := s.keys.receiptLogKey()
	deadline := time.Now().Add(wait)
	for {
		if err := s.ensureStreamGroup(ctx, key, receiptGroup); err != nil {
			return nil, fmt.Errorf("store: %s: %w", op, err)
		}
		block := time.Duration(-1) // no BLOCK: answer at once
		if left := time.Until(deadline); left >= time.Millisecond {
			block = min(left, s.opts.MaxBlock).Truncate(time.Millisecond)
		}
		res, err := s.c.XReadGroup(ctx, &redis.XReadGroupArgs{Group: receiptGroup, Consumer: consumer,
			Streams: []string{key, ">"}, Count: int64(n), Block: block}).Result()
		switch {
		case errors.Is(err, redis.Nil):
		case isNoGroup(err):
			s.groups.Delete(key)
			continue
		case err != nil:
			if cerr := ctx.Err(); cerr != nil {
				err = cerr
			}
			return nil, fmt.Errorf("store: %s: %w", op, err)
		default:
			var out []*store.LoggedPDU
			for _, st := range res {
				for _, m := range st.Messages {
					out = append(out, s.decodeLogged(m, 1))
				}
			}
			if len(out) > 0 {
				return out, nil
			}
		}
		if block < 0 || time.Until(deadline) < time.Millisecond {
			return nil, nil
		}
		if err := s.check(ctx, op); err != nil {
			return nil, err
		}
	}
}

// ReclaimReceiptLog implements store.ReceiptLog with XAUTOCLAIM, then one XPENDING for the
// delivery counts of what it took.
func (s *Store) ReclaimReceiptLog(ctx context.Context, consumer string, minIdle time.Duration, n int) ([]*store.LoggedPDU, error) {
	op := "reclaim receipt log"
	if err := s.check(ctx, op); err != nil {
		return nil, err
	}
	if n <= 0 {
		return nil, nil
	}
	key := s.keys.receiptLogKey()
	if err := s.ensureStreamGroup(ctx, key, receiptGroup); err != nil {
		return nil, fmt.Errorf("store: %s: %w", op, err)
	}
	// Entries of dead members first, whatever their idle time (this also deletes dead
	// members' consumers from the group once they hold nothing).
	taken, err := s.takeOverDead(ctx, key, receiptGroup, consumer, "", n, 0)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", op, err)
	}
	out := make([]*store.LoggedPDU, 0, len(taken))
	for _, t := range taken {
		vals := make(map[string]any, len(t.fields))
		for k, v := range t.fields {
			vals[k] = v
		}
		out = append(out, s.decodeLogged(redis.XMessage{ID: t.id, Values: vals}, t.deliveries))
	}
	if n -= len(taken); n <= 0 {
		return out, nil
	}
	msgs, _, err := s.c.XAutoClaim(ctx, &redis.XAutoClaimArgs{Stream: key, Group: receiptGroup, Consumer: consumer,
		MinIdle: time.Duration(ms(minIdle)) * time.Millisecond, Start: "0-0", Count: int64(n)}).Result()
	if isNoGroup(err) {
		s.groups.Delete(key)
		return out, nil
	}
	if err != nil && !errors.Is(err, redis.Nil) {
		return out, fmt.Errorf("store: %s: %w", op, err)
	}
	if len(msgs) == 0 {
		return out, nil
	}
	// The entries are now this consumer's, idle ~0; one range query over them finds their
	// counts (others of this consumer in the range are simply not looked at).
	pend, err := s.c.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: key, Group: receiptGroup, Consumer: consumer,
		Start: msgs[0].ID, End: msgs[len(msgs)-1].ID, Count: int64(4 * len(msgs))}).Result()
	if err != nil {
		return out, fmt.Errorf("store: %s: %w", op, err)
	}
	counts := make(map[string]int64, len(pend))
	for _, p := range pend {
		counts[p.ID] = p.RetryCount
	}
	for _, m := range msgs {
		d, ok := counts[m.ID]
		if !ok {
			d = 2 // beyond the range query's reach: at least the second delivery
		}
		out = append(out, s.decodeLogged(m, d))
	}
	return out, nil
}

// AckReceiptLog implements store.ReceiptLog: XACK and XDEL through the group commit.
func (s *Store) AckReceiptLog(ctx context.Context, tokens ...string) error {
	op := "ack receipt log"
	if err := s.check(ctx, op); err != nil {
		return err
	}
	ids := make([]string, 0, len(tokens))
	for _, t := range tokens {
		if validEntryID(t) {
			ids = append(ids, t) // anything else is no entry of the log: ignored
		}
	}
	if len(ids) == 0 {
		return nil
	}
	w := &write{acks: map[streamGroup][]string{{s.keys.receiptLogKey(), receiptGroup}: ids}}
	if err := s.commit.do(ctx, w); err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	return nil
}

// ReceiptLogLen implements store.ReceiptLog: XLEN (finished entries are deleted).
func (s *Store) ReceiptLogLen(ctx context.Context) (int64, error) {
	op := "receipt log length"
	if err := s.check(ctx, op); err != nil {
		return 0, err
	}
	n, err := s.c.XLen(ctx, s.keys.receiptLogKey()).Result()
	if err != nil {
		return 0, fmt.Errorf("store: %s: %w", op, err)
	}
	return n, nil
}

// validEntryID reports whether id has the form of a stream entry id, ms-seq.
func validEntryID(id string) bool {
	ms, seq, ok := strings.Cut(id, "-")
	if !ok || ms == "" || seq == "" {
		return false
	}
	for _, part := range []string{ms, seq} {
		if _, err := strconv.ParseUint(part, 10, 64); err != nil {
			return false
		}
	}
	return true
}
