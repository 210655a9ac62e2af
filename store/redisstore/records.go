package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/internal/valid"
)

// PutRecord implements store.Records.
func (s *Store) PutRecord(ctx context.Context, r *store.Record, ttl time.Duration) error {
	if err := s.check(ctx, "put record"); err != nil {
		return err
	}
	if ttl <= 0 {
		ttl = s.opts.RecordTTL
	}
	b, err := marshalRecord(r)
	if err != nil {
		return fmt.Errorf("store: put record: %w", err)
	}
	if err := s.c.Set(ctx, s.keys.recKey(r.ID), b, time.Duration(ms(ttl))*time.Millisecond).Err(); err != nil {
		return fmt.Errorf("store: put record %s: %w", r.ID, err)
	}
	return nil
}

// GetRecord implements store.Records.
func (s *Store) GetRecord(ctx context.Context, id string) (*store.Record, error) {
	op := "get record " + id
	if err := s.check(ctx, op); err != nil {
		return nil, err
	}
	b, err := s.c.Get(ctx, s.keys.recKey(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("store: %s: %w", op, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", op, err)
	}
	r, err := decodeRecord(b)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", op, err)
	}
	return r, nil
}

// marshalRecord checks and encodes a record as it is stored.
func marshalRecord(r *store.Record) ([]byte, error) {
	if r == nil || r.ID == "" {
		return nil, errors.New("record without id")
	}
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", r.ID, err)
	}
	return b, nil
}

func decodeRecord(b []byte) (*store.Record, error) {
	r := new(store.Record)
	if err := json.Unmarshal(b, r); err != nil {
		return nil, err
	}
	return r, nil
}

// fnError carries fn's error out of the WATCH transaction untouched.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }

// UpdateRecord implements store.Records with WATCH/GET/MULTI SET KEEPTTL/EXEC, running fn
// again (up to Options.UpdateRetries times, with a short random back-off) when another
// writer changed the record first. It is the cold path (four commands and two round trips);
// the hot paths use Settle and SwapRecords.
func (s *Store) UpdateRecord(ctx context.Context, id string, fn func(*store.Record) error) (*store.Record, error) {
	op := "update record " + id
	key := s.keys.recKey(id)
	var out *store.Record
	txf := func(tx *redis.Tx) error {
		b, err := tx.Get(ctx, key).Bytes()
		if errors.Is(err, redis.Nil) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		r := new(store.Record)
		if err := json.Unmarshal(b, r); err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return fnError{err}
		}
		r.ID = id
		r.Rev++
		nb, err := json.Marshal(r)
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, key, nb, redis.KeepTTL)
			return nil
		})
		if err == nil {
			out = r
		}
		return err
	}
	for attempt := 0; ; attempt++ {
		if err := s.check(ctx, op); err != nil {
			return nil, err
		}
		err := s.c.Watch(ctx, txf, key)
		var fe fnError
		switch {
		case err == nil:
			return out, nil
		case errors.As(err, &fe):
			return nil, fe.err
		case errors.Is(err, redis.TxFailedErr):
			if attempt >= s.opts.UpdateRetries {
				return nil, fmt.Errorf("store: %s: still contended after %d retries: %w", op, attempt, err)
			}
			backoff := time.Duration(rand.Int64N(int64(min(attempt+1, 20)) * int64(time.Millisecond)))
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return nil, fmt.Errorf("store: %s: %w", op, ctx.Err())
			}
		default:
			return nil, fmt.Errorf("store: %s: %w", op, err)
		}
	}
}

// IndexCarrierID implements store.Records.
func (s *Store) IndexCarrierID(ctx context.Context, carrier, carrierMsgID, msgID string, part int, ttl time.Duration) error {
	op := "index " + carrier
	if err := s.check(ctx, op); err != nil {
		return err
	}
	if err := valid.Carrier(carrier); err != nil {
		return fmt.Errorf("store: index: %w", err)
	}
	if carrierMsgID == "" || msgID == "" {
		return fmt.Errorf("store: %s: empty message id", op)
	}
	if ttl <= 0 {
		ttl = s.opts.IndexTTL
	}
	v := indexValue(msgID, part)
	if err := s.c.Set(ctx, s.keys.cidKey(carrier, carrierMsgID), v, time.Duration(ms(ttl))*time.Millisecond).Err(); err != nil {
		return fmt.Errorf("store: %s %s: %w", op, carrierMsgID, err)
	}
	return nil
}

// LookupCarrierID implements store.Records.
func (s *Store) LookupCarrierID(ctx context.Context, carrier, carrierMsgID string) (string, int, error) {
	op := "lookup " + carrier + " " + carrierMsgID
	if err := s.check(ctx, op); err != nil {
		return "", 0, err
	}
	v, err := s.c.Get(ctx, s.keys.cidKey(carrier, carrierMsgID)).Result()
	if errors.Is(err, redis.Nil) {
		return "", 0, fmt.Errorf("store: %s: %w", op, store.ErrNotFound)
	}
	if err != nil {
		return "", 0, fmt.Errorf("store: %s: %w", op, err)
	}
	msgID, part, ok := parseIndexValue(v)
	if !ok {
		return "", 0, fmt.Errorf("store: %s: malformed index value %q", op, v)
	}
	return msgID, part, nil
}

// indexValue is an index entry's value, "msgID|part"; parseIndexValue reads it.
func indexValue(msgID string, part int) string { return msgID + "|" + strconv.Itoa(part) }

// parseIndexValue reads an index entry's value, "msgID|part".
func parseIndexValue(v string) (msgID string, part int, ok bool) {
	i := strings.LastIndexByte(v, '|')
	part, err := strconv.Atoi(v[i+1:])
	if i <= 0 || err != nil {
		return "", 0, false
	}
	return v[:i], part, true
}

// LookupCarrierIDs implements store.Records with one MGET (on a cluster, GETs in one
// pipeline).
func (s *Store) LookupCarrierIDs(ctx context.Context, keys ...store.IndexKey) ([]store.IndexEntry, error) {
	op := "lookup carrier ids"
	if err := s.check(ctx, op); err != nil {
		return nil, err
	}
	out := make([]store.IndexEntry, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = s.keys.cidKey(k.Carrier, k.ID)
		out[i].IndexKey = k
	}
	vals, err := s.getMany(ctx, names)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", op, err)
	}
	for i, v := range vals {
		sv, ok := v.(string)
		if !ok {
			continue
		}
		if msgID, part, ok := parseIndexValue(sv); ok { // malformed: treated as absent
			out[i].MsgID, out[i].Part = msgID, part
		}
	}
	return out, nil
}

// swapSource is the compare-and-set of SwapRecords (and, expecting revision 0 and queueing
// no job, of Settle's records). KEYS: per change its record key, the webhook stream of the
// record's shard (so on a cluster a call whose records share a shard is single-slot) and the
// message's timeline list (same shard); ARGV: per change its JSON, the revision it expects
// stored, its webhook jobs (” for none; several are joined by newlines, which JSON never
// contains unescaped, and each is one XADD: a change with one job costs what it always did)
// and its timeline events (” for none; joined the same way: one RPUSHX for all, which
// never creates a list without the TTL Accept gave it; past store.MaxTimelineEvents an
// LTRIM keeps the newest, and the first two, accepted and queued, go with the oldest). SET …
// XX KEEPTTL GET writes the record and returns the old one in one command; when the old
// one's revision is not the expected one, the old value is put back (the script is atomic,
// so nobody sees the wrong one). The common case costs one command per change, plus one
// per change with events. It returns per change 1 (stored), 0 (gone) or the current JSON.
var swapSource = `
local out = {}
for i = 1, #KEYS / 3 do
  local new, want, job, evs = ARGV[4*i-3], ARGV[4*i-2], ARGV[4*i-1], ARGV[4*i]
  local old = redis.call('SET', KEYS[3*i-2], new, 'XX', 'KEEPTTL', 'GET')
  if not old then
    out[i] = 0
  else
    local rev = string.match(old, '^{"rev":(%d+)') or '0'
    if rev == want then
      if job ~= '' then
        for j in string.gmatch(job, '[^\n]+') do redis.call('XADD', KEYS[3*i-1], '*', 'j', j) end
      end
      if evs ~= '' then
        local e = {}
        for v in string.gmatch(evs, '[^\n]+') do e[#e+1] = v end
        local n = redis.call('RPUSHX', KEYS[3*i], unpack(e))
        while n > ` + strconv.Itoa(store.MaxTimelineEvents) + ` do
          redis.call('LSET', KEYS[3*i], 2, '-')
          redis.call('LREM', KEYS[3*i], 1, '-')
          n = n - 1
        end
      end
      out[i] = 1
    else
      redis.call('SET', KEYS[3*i-2], old, 'XX', 'KEEPTTL')
      out[i] = old
    end
  end
end
return out
`

var swapScript = redis.NewScript(swapSource)

// SwapRecords implements store.Records: every change in one script call (one round trip);
// on a cluster one call per message shard, in one pipeline.
func (s *Store) SwapRecords(ctx context.Context, changes ...store.RecordChange) ([]store.SwapResult, error) {
	op := "swap records"
	if err := s.check(ctx, op); err != nil {
		return nil, err
	}
	if len(changes) == 0 {
		return nil, nil
	}
	type group struct {
		idx  []int
		keys []string
		args []any
	}
	groups := map[int]*group{}
	var order []int
	for i, ch := range changes {
		r := ch.Record
		b, err := marshalRecord(r)
		if err != nil {
			return nil, fmt.Errorf("store: %s: %w", op, err)
		}
		if r.Rev < 1 {
			return nil, fmt.Errorf("store: %s: record %s: Rev %d, want the read revision + 1", op, r.ID, r.Rev)
		}
		var job []byte
		for n, j := range ch.Jobs() {
			b, err := s.marshalJob(j)
			if err != nil {
				return nil, fmt.Errorf("store: %s: %w", op, err)
			}
			if n > 0 {
				job = append(job, '\n')
			}
			job = append(job, b...)
		}
		k := shardOf(r.ID)
		gk := k
		if !s.cluster {
			gk = 0 // one call for all
		}
		g := groups[gk]
		if g == nil {
			g = &group{}
			groups[gk] = g
			order = append(order, gk)
		}
		g.idx = append(g.idx, i)
		evs := s.joinEvents(ch.Events)
		g.keys = append(g.keys, s.keys.recKey(r.ID), s.keys.whStreamKey(k), s.keys.evKey(r.ID))
		g.args = append(g.args, b, strconv.FormatInt(r.Rev-1, 10), job, evs)
	}
	calls := make([]*scriptCall, len(order))
	for i, gk := range order {
		calls[i] = &scriptCall{script: swapScript, keys: groups[gk].keys, args: groups[gk].args}
	}
	out := make([]store.SwapResult, len(changes))
	err := s.runScripts(ctx, calls)
	if err != nil && len(calls) == 1 {
		return nil, fmt.Errorf("store: %s: %w", op, err)
	}
	for ci, gk := range order {
		g := groups[gk]
		vals, cerr := calls[ci].cmd.Slice()
		if cerr == nil && len(vals) != len(g.idx) {
			cerr = fmt.Errorf("%d results for %d changes", len(vals), len(g.idx))
		}
		for j, i := range g.idx {
			if cerr != nil {
				// On a cluster another shard's changes may have been stored: each
				// change reports its own outcome.
				out[i].Err = fmt.Errorf("store: %s: %s: %w", op, changes[i].Record.ID, cerr)
				continue
			}
			switch x := vals[j].(type) {
			case int64:
				if x == 1 {
					out[i].Stored = true
				} else {
					out[i].Err = fmt.Errorf("store: %s: %s: %w", op, changes[i].Record.ID, store.ErrNotFound)
				}
			case string:
				r, err := decodeRecord([]byte(x))
				if err != nil {
					out[i].Err = fmt.Errorf("store: %s: %s: %w", op, changes[i].Record.ID, err)
					continue
				}
				out[i].Current = r
			default:
				out[i].Err = fmt.Errorf("store: %s: unexpected reply %T", op, vals[j])
			}
		}
	}
	return out, nil
}

// getMany reads keys with one MGET, or on a cluster (whose MGET takes keys of one slot
// only) one GET per key in one pipeline. A missing key reads as nil.
func (s *Store) getMany(ctx context.Context, keys []string) ([]any, error) {
	if !s.cluster {
		return s.c.MGet(ctx, keys...).Result()
	}
	cmds := make([]*redis.StringCmd, len(keys))
	_, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.Get(ctx, k)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	vals := make([]any, len(keys))
	for i, c := range cmds {
		if v, err := c.Result(); err == nil {
			vals[i] = v
		}
	}
	return vals, nil
}

// GetRecords implements store.Records with one MGET (on a cluster, GETs in one pipeline).
func (s *Store) GetRecords(ctx context.Context, ids ...string) ([]*store.Record, error) {
	op := "get records"
	if err := s.check(ctx, op); err != nil {
		return nil, err
	}
	out := make([]*store.Record, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = s.keys.recKey(id)
	}
	vals, err := s.getMany(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", op, err)
	}
	for i, v := range vals {
		sv, ok := v.(string)
		if !ok {
			continue
		}
		r, err := decodeRecord([]byte(sv))
		if err != nil {
			return nil, fmt.Errorf("store: %s: %s: %w", op, ids[i], err)
		}
		out[i] = r
	}
	return out, nil
}
