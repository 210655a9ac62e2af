package redisstore

// Message search and timelines (store.MessageSearch): the indexes Accept writes and the
// timeline lists every step of a message appends to.
//
// Keys (every one with a TTL):
//   - P:ix:to:<number>: sorted set of the messages to a destination, score the acceptance
//     time (Unix ms), member "<id>|<account>". A slot of its own (no hash tag).
//   - P:ix:sfx:<last 4 digits>: the same for every destination ending in those digits,
//     member "<id>|<account>|<number>", so longer suffixes and the account are filtered
//     on the members, without reading records.
//   - P:{m<k>.<j>}:ev:<id>: the message's timeline, a list of JSON events in its record's
//     shard (so the swap script and the webhook scripts append to it atomically with their
//     own writes).
//
// Accept writes ZADD and PEXPIRE on both index keys (the TTL restarts with each message)
// and RPUSH and PEXPIRE of the timeline: six commands per message in the group commit, no
// round trip. One message in 32 (by id) also trims the index entries older than the
// records' lifetime (ZREMRANGEBYSCORE), so a key that is written forever stays bounded. A
// query reads one sorted set with ZREVRANGEBYSCORE … LIMIT, examines at most
// store.SearchScanMax entries, and reads the page's records with one MGET.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smppd/smppd/store"
)

var _ store.MessageSearch = (*Store)(nil)

// evKey is a message's timeline list: in its record's shard.
func (ks keyspace) evKey(id string) string { return ks.shardKey(shardOf(id), "ev:"+id) }

// toIdxKey is the search index of one destination number.
func (ks keyspace) toIdxKey(to string) string { return string(ks) + ":ix:to:" + to }

// sfxIdxKey is the search index of the destinations ending in bucket (store.SuffixBucket).
func (ks keyspace) sfxIdxKey(bucket string) string { return string(ks) + ":ix:sfx:" + bucket }

// trimEvery: one message in trimEvery trims the index keys it writes.
const trimEvery = 32

// storedEvent is how a timeline event is kept in Redis: short names and the time in Unix
// milliseconds, about half the bytes of store.Event's JSON (a timeline is kept as long as the
// record, for every message).
type storedEvent struct {
	T int64           `json:"t"`
	K store.EventKind `json:"k"`
	C string          `json:"c,omitempty"`
	B string          `json:"b,omitempty"`
	I string          `json:"i,omitempty"`
	P int             `json:"p,omitempty"`
	S store.Status    `json:"s,omitempty"`
	R string          `json:"r,omitempty"`
	E string          `json:"e,omitempty"`
	U string          `json:"u,omitempty"`
	H int             `json:"h,omitempty"`
	A int             `json:"a,omitempty"`
	D string          `json:"d,omitempty"`
	X string          `json:"x,omitempty"` // the chain TLV (Event.Chain)
}

// encodeEvent is an event's stored JSON. An event always encodes (strings, numbers), so
// there is no error to report.
func encodeEvent(e *store.Event) string {
	b, _ := json.Marshal(storedEvent{T: e.At.UnixMilli(), K: e.Kind, C: e.Carrier, B: e.Bind, I: e.CarrierID, P: e.Part,
		S: e.Status, R: e.Stat, E: e.Err, U: e.URL, H: e.HTTPStatus, A: e.Attempt, D: e.Detail, X: e.Chain})
	return string(b)
}

func decodeEvent(v string) (store.Event, error) {
	var se storedEvent
	if err := json.Unmarshal([]byte(v), &se); err != nil {
		return store.Event{}, err
	}
	return store.Event{At: time.UnixMilli(se.T), Kind: se.K, Carrier: se.C, Bind: se.B, CarrierID: se.I, Part: se.P,
		Status: se.S, Stat: se.R, Err: se.E, URL: se.U, HTTPStatus: se.H, Attempt: se.A, Detail: se.D, Chain: se.X}, nil
}

// joinEvents encodes events for the swap script: stored JSON joined by newlines ("" for
// none, and when the store keeps no timelines).
func (s *Store) joinEvents(evs []store.Event) string {
	if s.opts.NoTimeline {
		return ""
	}
	var sb strings.Builder
	for i := range evs {
		if i > 0 {
			sb.WriteByte('\n')
		}
		sb.WriteString(encodeEvent(&evs[i]))
	}
	return sb.String()
}

// eventArg is one event's stored JSON for a script ("" for none, and when the store keeps
// no timelines).
func (s *Store) eventArg(e *store.Event) string {
	if e == nil || s.opts.NoTimeline {
		return ""
	}
	return encodeEvent(e)
}

// acceptSearchOps queues, for each accepted record, its timeline's first events and (unless
// Options.NoSearchIndex) its search index entries.
func (s *Store) acceptSearchOps(ctx context.Context, p redis.Pipeliner, recs []*store.Record, msgs []*store.Message, now time.Time, ttl time.Duration) {
	byID := make(map[string]*store.Message, len(msgs))
	for _, m := range msgs {
		byID[m.ID] = m
	}
	// An index key lives as long as the longest-lived record in it may: a message accepted
	// with a shorter ttl than the store's must not cut its neighbours' entries short.
	idxTTL := max(ttl, s.opts.RecordTTL)
	for _, r := range recs {
		if !s.opts.NoTimeline {
			evs := store.AcceptEvents(r, byID[r.ID], now)
			vals := make([]any, len(evs))
			for i := range evs {
				vals[i] = encodeEvent(&evs[i])
			}
			ek := s.keys.evKey(r.ID)
			p.RPush(ctx, ek, vals...)
			p.PExpire(ctx, ek, ttl)
		}
		if s.opts.NoSearchIndex || r.To == "" {
			continue
		}
		at := r.AcceptedAt
		if at.IsZero() {
			at = now
		}
		score := float64(at.UnixMilli())
		trim := fnv32(r.ID)%trimEvery == 0
		stale := fmt.Sprint(at.Add(-idxTTL).UnixMilli())
		add := func(key, member string) {
			p.ZAdd(ctx, key, redis.Z{Score: score, Member: member})
			p.PExpire(ctx, key, idxTTL)
			if trim {
				p.ZRemRangeByScore(ctx, key, "-inf", "("+stale)
			}
		}
		add(s.keys.toIdxKey(r.To), r.ID+"|"+r.Account)
		if b := store.SuffixBucket(r.To); b != "" {
			add(s.keys.sfxIdxKey(b), r.ID+"|"+r.Account+"|"+r.To)
		}
	}
}

func fnv32(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}

// ErrSearchIndexOff is returned by SearchMessages by number or suffix when the store keeps no
// search index (Options.NoSearchIndex).
var ErrSearchIndexOff = errors.New("store: the search index is switched off (store.search_index: false); search by id only")

// SearchMessages implements store.MessageSearch: by id one GET; by number or suffix
// ZREVRANGEBYSCORE pages of the index key (at most store.SearchScanMax entries examined),
// then one MGET of the page's records.
func (s *Store) SearchMessages(ctx context.Context, q store.MessageQuery) (store.MessagePage, error) {
	op := "search messages"
	if err := s.check(ctx, op); err != nil {
		return store.MessagePage{}, err
	}
	p, err := store.PlanSearch(q, time.Now(), s.opts.RecordTTL)
	if err != nil {
		return store.MessagePage{}, err
	}
	if p.ID != "" {
		r, err := s.GetRecord(ctx, p.ID)
		if errors.Is(err, store.ErrNotFound) {
			return store.MessagePage{}, nil
		}
		if err != nil {
			return store.MessagePage{}, err
		}
		if !p.Keep(r) {
			return store.MessagePage{}, nil
		}
		return store.MessagePage{Records: []*store.Record{r}}, nil
	}
	if s.opts.NoSearchIndex {
		return store.MessagePage{}, ErrSearchIndexOff
	}
	key := s.keys.toIdxKey(p.To)
	if p.ToSuffix != "" {
		key = s.keys.sfxIdxKey(store.SuffixBucket(p.ToSuffix))
	}
	var (
		ids       []string
		cursors   []string
		examined  int
		offset    int64
		exhausted bool
		last      string
	)
	for examined < p.Budget && len(ids) <= p.Limit && p.MinMs <= p.MaxMs {
		batch := min(max(2*(p.Limit+1), 100), p.Budget-examined)
		zs, err := s.c.ZRevRangeByScoreWithScores(ctx, key, &redis.ZRangeBy{
			Max: fmt.Sprint(p.MaxMs), Min: fmt.Sprint(p.MinMs), Offset: offset, Count: int64(batch),
		}).Result()
		if err != nil {
			return store.MessagePage{}, fmt.Errorf("store: %s: %w", op, err)
		}
		for _, z := range zs {
			offset++
			member, _ := z.Member.(string)
			ms := int64(z.Score)
			id, account, to := splitMember(member)
			if p.Seen(ms, id) {
				continue
			}
			examined++
			last = store.Cursor(ms, id)
			if p.Account != "" && account != p.Account || p.ToSuffix != "" && !strings.HasSuffix(to, p.ToSuffix) {
				continue
			}
			ids, cursors = append(ids, id), append(cursors, last)
			if len(ids) > p.Limit {
				break
			}
		}
		if len(zs) < batch {
			exhausted = true
			break
		}
	}
	var page store.MessagePage
	switch {
	case len(ids) > p.Limit:
		ids = ids[:p.Limit]
		page.Next = cursors[p.Limit-1]
	case !exhausted && p.MinMs <= p.MaxMs:
		page.Next = last // the scan budget ran out: continue after the last entry examined
	}
	recs, err := s.GetRecords(ctx, ids...)
	if err != nil {
		return store.MessagePage{}, err
	}
	for _, r := range recs {
		if p.Keep(r) {
			page.Records = append(page.Records, r)
		}
	}
	return page, nil
}

// splitMember reads an index member: "id|account" or "id|account|number".
func splitMember(m string) (id, account, to string) {
	id, rest, _ := strings.Cut(m, "|")
	if i := strings.LastIndexByte(rest, '|'); i >= 0 {
		return id, rest[:i], rest[i+1:]
	}
	return id, rest, ""
}

// MessageTimeline implements store.MessageSearch: LRANGE of the timeline and GET of the
// record in one pipeline (one round trip); the record completes the timeline
// (store.CompleteTimeline) and says whether the message still exists.
func (s *Store) MessageTimeline(ctx context.Context, id string) ([]store.Event, error) {
	op := "message timeline " + id
	if err := s.check(ctx, op); err != nil {
		return nil, err
	}
	var lr *redis.StringSliceCmd
	var get *redis.StringCmd
	_, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		lr = p.LRange(ctx, s.keys.evKey(id), 0, -1)
		get = p.Get(ctx, s.keys.recKey(id))
		return nil
	})
	if errors.Is(get.Err(), redis.Nil) {
		return nil, fmt.Errorf("store: %s: %w", op, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", op, err)
	}
	r, err := decodeRecord([]byte(get.Val()))
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", op, err)
	}
	evs := make([]store.Event, 0, len(lr.Val()))
	for _, v := range lr.Val() {
		e, err := decodeEvent(v)
		if err != nil {
			continue // a malformed entry: shown as absent
		}
		evs = append(evs, e)
	}
	return store.CompleteTimeline(evs, r), nil
}
