// Package redisstore is the production implementation of store.Store, on Redis (6.2 or later;
// tested on 7.0) through github.com/redis/go-redis/v9. Many smppd instances share one Redis
// and one key prefix: what one instance accepts, any other may send.
//
// # Key layout
//
// With the default prefix "smppd" (P below):
//
//	P:q:{carrier}:{prio}    stream   ready and pending messages of one carrier and priority
//	                                 (prio 0 OTP, 1 transactional, 2 promotional); field "m"
//	                                 holds the Message as JSON; consumer group Options.Group
//	P:sched:{carrier}       zset     scheduled messages of one carrier (future SendAt,
//	                                 deferred retries); score = due time in unix ms,
//	                                 member = the Message as JSON (unique: it has ID and
//	                                 Attempts)
//	P:sched                 set      carriers that may have scheduled messages
//	P:rec:{id}              string   status record as JSON, with a TTL
//	P:cid:{carrier}:{cmid}  string   carrier message id index: "msgID|part", with a TTL
//	P:bad                   list     queue entries that could not be decoded (quarantined
//	                                 instead of blocking their queue); JSON with the stream,
//	                                 entry id and raw payload
//
// Carrier names may not contain ':' (store/internal/valid enforces it), so keys never collide.
//
// # Queue semantics on streams
//
// An entry is either not yet delivered to the group (ready) or in the group's pending list
// (claimed). Finishing a claim (Ack, Defer, Move) acknowledges and deletes the entry in one
// atomic step, so streams hold only live messages and Depth.Ready = XLEN - pending exactly.
// Defer and Move are Lua scripts that do nothing when the entry is no longer pending, so a
// message finished by one consumer is never rescheduled by another that was too slow.
// Consumer groups are created lazily at id 0 (XGROUP CREATE … 0 MKSTREAM), so entries
// written before the group existed are still delivered.
//
// # Redis Cluster
//
// Not supported: Claim reads three streams in one call, and the PromoteDue script computes
// key names from the scheduled set, which Cluster forbids. Use a single primary (with
// replicas and Sentinel for failover, and appendfsync for durability).
//
// # Timeouts and connections
//
// Every call takes a ctx; network time is bounded by the client's options (go-redis defaults:
// DialTimeout 5s, ReadTimeout 3s, WriteTimeout = ReadTimeout). go-redis honours ctx
// deadlines on the socket only with ContextTimeoutEnabled; we recommend setting it. A waiting
// Claim blocks in XREADGROUP BLOCK slices of at most Options.MaxBlock (go-redis extends the
// read deadline of a blocking command to BLOCK+10s by itself, so ReadTimeout need not exceed
// it) and checks ctx between slices, so a cancelled Claim returns within about MaxBlock. Each
// waiting Claim holds one pooled connection while it blocks: size PoolSize (default
// 10 × GOMAXPROCS) above the number of consumers.
//
// The package logs nothing.
package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	neturl "net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/internal/valid"
)

// Options configure a Store. The zero value gives the documented defaults.
type Options struct {
	// Prefix starts every key, followed by ':'. Instances that share queues and records use
	// the same prefix. Default "smppd".
	Prefix string
	// Group is the consumer group on every queue stream. Default "dispatch".
	Group string
	// IndexTTL is how long carrier id index entries live when IndexCarrierID gets ttl <= 0.
	// Default store.DefaultIndexTTL (72h).
	IndexTTL time.Duration
	// RecordTTL is how long status records live when PutRecord gets ttl <= 0. Default
	// store.DefaultRecordTTL (2160h, 90 days).
	RecordTTL time.Duration
	// MaxBlock is the longest single XREADGROUP BLOCK of a waiting Claim; Claim notices a
	// cancelled ctx or a closed store within about this. Default 250ms; at least 1ms.
	MaxBlock time.Duration
	// UpdateRetries bounds how often UpdateRecord runs again when another writer changed the
	// record between its read and its write (optimistic locking with WATCH). Default 100.
	UpdateRetries int
}

func (o *Options) setDefaults() error {
	if o.Prefix == "" {
		o.Prefix = "smppd"
	}
	if o.Group == "" {
		o.Group = "dispatch"
	}
	if o.IndexTTL == 0 {
		o.IndexTTL = store.DefaultIndexTTL
	}
	if o.RecordTTL == 0 {
		o.RecordTTL = store.DefaultRecordTTL
	}
	if o.MaxBlock == 0 {
		o.MaxBlock = 250 * time.Millisecond
	}
	if o.UpdateRetries == 0 {
		o.UpdateRetries = 100
	}
	switch {
	case strings.ContainsAny(o.Prefix, " \t\r\n"):
		return fmt.Errorf("store: redis options: Prefix %q has white space", o.Prefix)
	case strings.ContainsAny(o.Group, " \t\r\n"):
		return fmt.Errorf("store: redis options: Group %q has white space", o.Group)
	case o.IndexTTL < time.Millisecond:
		return fmt.Errorf("store: redis options: IndexTTL %v is below 1ms", o.IndexTTL)
	case o.RecordTTL < time.Millisecond:
		return fmt.Errorf("store: redis options: RecordTTL %v is below 1ms", o.RecordTTL)
	case o.MaxBlock < time.Millisecond:
		return fmt.Errorf("store: redis options: MaxBlock %v is below 1ms", o.MaxBlock)
	case o.UpdateRetries < 0:
		return fmt.Errorf("store: redis options: UpdateRetries %d is negative", o.UpdateRetries)
	}
	return nil
}

// Store is the Redis store. It is safe for concurrent use.
type Store struct {
	c         redis.UniversalClient
	opts      Options
	ownClient bool
	closed    atomic.Bool

	groups sync.Map // carrier → struct{}: consumer groups known to exist

	stashMu sync.Mutex
	stash   map[stashKey]stashed // claims read beyond n, kept for the consumer's next Claim
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

var (
	_ store.Store    = (*Store)(nil)
	_ store.Accepter = (*Store)(nil)
)

// New returns a store on client, which the caller keeps and closes after the store. It
// does not talk to Redis; Ping does.
func New(client redis.UniversalClient, opts Options) (*Store, error) {
	if client == nil {
		return nil, errors.New("store: redis: nil client")
	}
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	return &Store{c: client, opts: opts, stash: make(map[stashKey]stashed)}, nil
}

// DefaultPoolSize is the connection pool of stores made by Open when the URL says nothing.
const DefaultPoolSize = 256

// Open connects to the Redis at url (redis://[user:password@]host:port/db or rediss://…,
// with go-redis's query options such as dial_timeout, read_timeout, pool_size), pings it,
// and returns a store that owns the client: Close closes it.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	shown := url
	if u, err := neturl.Parse(url); err == nil {
		shown = u.Redacted()
	}
	o, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("store: redis url %s: %w", shown, err)
	}
	if o.PoolSize == 0 {
		// go-redis's default (10 per CPU) is too small here: every in-flight submit, receipt
		// and webhook makes a round trip and each waiting Claim holds a connection, so a
		// small pool turns into queueing inside the client. ?pool_size= in the URL overrides.
		o.PoolSize = DefaultPoolSize
	}
	c := redis.NewClient(o)
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("store: redis %s: %w", shown, err)
	}
	s, err := New(c, opts)
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	s.ownClient = true
	return s, nil
}

// Client returns the Redis client the store uses.
func (s *Store) Client() redis.UniversalClient { return s.c }

// Options returns the options in effect, defaults filled in.
func (s *Store) Options() Options { return s.opts }

func (s *Store) streamKey(carrier string, p store.Priority) string {
	return s.opts.Prefix + ":q:" + carrier + ":" + strconv.Itoa(int(p))
}

func (s *Store) streamKeys(carrier string) []string {
	return []string{s.streamKey(carrier, 0), s.streamKey(carrier, 1), s.streamKey(carrier, 2)}
}

func (s *Store) schedKey(carrier string) string { return s.opts.Prefix + ":sched:" + carrier }
func (s *Store) schedSetKey() string            { return s.opts.Prefix + ":sched" }
func (s *Store) recKey(id string) string        { return s.opts.Prefix + ":rec:" + id }
func (s *Store) badKey() string                 { return s.opts.Prefix + ":bad" }
func (s *Store) cidKey(carrier, cmid string) string {
	return s.opts.Prefix + ":cid:" + carrier + ":" + cmid
}

// token encodes which entry a claim is: carrier, priority and stream entry id.
func token(carrier string, p store.Priority, id string) string {
	return carrier + ":" + strconv.Itoa(int(p)) + ":" + id
}

// parseToken returns the priority and entry id of a token made for carrier.
func parseToken(carrier, tok string) (store.Priority, string, bool) {
	c, rest, ok := strings.Cut(tok, ":")
	if !ok || c != carrier {
		return 0, "", false
	}
	ps, id, ok := strings.Cut(rest, ":")
	if !ok || len(ps) != 1 || ps[0] < '0' || ps[0] > '2' || id == "" {
		return 0, "", false
	}
	return store.Priority(ps[0] - '0'), id, true
}

func (s *Store) check(ctx context.Context, op string) error {
	if s.closed.Load() {
		return fmt.Errorf("store: %s: %w", op, store.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	return nil
}

func isNoGroup(err error) bool { return err != nil && strings.HasPrefix(err.Error(), "NOGROUP") }

// ms rounds d up to whole milliseconds (Redis's unit), never below 0.
func ms(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// ensureGroups creates the carrier's consumer groups (and streams) unless known to exist.
func (s *Store) ensureGroups(ctx context.Context, carrier string) error {
	if _, ok := s.groups.Load(carrier); ok {
		return nil
	}
	cmds, _ := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range s.streamKeys(carrier) {
			p.XGroupCreateMkStream(ctx, k, s.opts.Group, "0")
		}
		return nil
	})
	for _, c := range cmds {
		if err := c.Err(); err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
			return fmt.Errorf("create consumer group: %w", err)
		}
	}
	s.groups.Store(carrier, struct{}{})
	return nil
}

func marshalMsg(m *store.Message) (string, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("message %s: %w", m.ID, err)
	}
	return string(b), nil
}

// Enqueue implements store.Queue: one MULTI/EXEC, so a batch is stored whole or not at all.
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
	_, err = s.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		s.enqueueOps(ctx, p, msgs, bodies)
		return nil
	})
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

// enqueueOps queues msgs (encoded as bodies) on p: the ready stream, or the scheduled set.
func (s *Store) enqueueOps(ctx context.Context, p redis.Pipeliner, msgs []*store.Message, bodies []string) {
	now := time.Now()
	for i, m := range msgs {
		if m.SendAt.After(now) {
			p.ZAdd(ctx, s.schedKey(m.Carrier), redis.Z{Score: float64(m.SendAt.UnixMilli()), Member: bodies[i]})
			p.SAdd(ctx, s.schedSetKey(), m.Carrier)
		} else {
			p.XAdd(ctx, &redis.XAddArgs{Stream: s.streamKey(m.Carrier, m.Priority), Values: []any{"m", bodies[i]}})
		}
	}
}

// Accept implements store.Accepter: the records and the queue entries in one MULTI, one
// round trip.
func (s *Store) Accept(ctx context.Context, recs []*store.Record, ttl time.Duration, msgs ...*store.Message) error {
	if err := s.check(ctx, "accept"); err != nil {
		return err
	}
	if ttl <= 0 {
		ttl = s.opts.RecordTTL
	}
	recBodies := make([][]byte, len(recs))
	for i, r := range recs {
		if r == nil || r.ID == "" {
			return errors.New("store: accept: record without id")
		}
		b, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("store: accept: record %s: %w", r.ID, err)
		}
		recBodies[i] = b
	}
	bodies, err := marshalMsgs(msgs)
	if err != nil {
		return fmt.Errorf("store: accept: %w", err)
	}
	_, err = s.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for i, r := range recs {
			p.Set(ctx, s.recKey(r.ID), recBodies[i], time.Duration(ms(ttl))*time.Millisecond)
		}
		s.enqueueOps(ctx, p, msgs, bodies)
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: accept: %w", err)
	}
	return nil
}

// MarkAttempt implements store.Records with one INCR (and its expiry) on P:att:{id}.
func (s *Store) MarkAttempt(ctx context.Context, id string, ttl time.Duration) (int, error) {
	if err := s.check(ctx, "mark attempt"); err != nil {
		return 0, err
	}
	if ttl <= 0 {
		ttl = s.opts.RecordTTL
	}
	key := s.opts.Prefix + ":att:" + id
	var incr *redis.IntCmd
	_, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		incr = p.Incr(ctx, key)
		p.Expire(ctx, key, ttl)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: mark attempt %s: %w", id, err)
	}
	return int(incr.Val()), nil
}

// claimScript reads up to ARGV[3] new entries for consumer ARGV[2] of group ARGV[1] from the
// streams KEYS[1..3] (priorities 0..2), highest priority first, without blocking. It returns
// a flat list of (priority, entry id, field "m") triples.
var claimScript = redis.NewScript(`
local out = {}
local left = tonumber(ARGV[3])
for i = 1, #KEYS do
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
return out
`)

// rawEntry is a stream entry read for a consumer.
type rawEntry struct {
	prio store.Priority
	id   string
	body string
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
		more, err := s.decode(ctx, carrier, raw)
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
		claims, err := s.decode(ctx, carrier, raw)
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

// readNow runs claimScript, recreating the consumer groups once if they vanished.
func (s *Store) readNow(ctx context.Context, carrier, consumer string, n int) ([]rawEntry, error) {
	keys := s.streamKeys(carrier)
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

// decode turns entries into claims (Deliveries 1). Entries that do not decode are moved to
// the quarantine list and finished, so they cannot block their queue.
func (s *Store) decode(ctx context.Context, carrier string, raw []rawEntry) ([]store.Claim, error) {
	claims := make([]store.Claim, 0, len(raw))
	var bad []rawEntry
	for _, r := range raw {
		m, err := decodeMsg(r.body)
		if err != nil {
			bad = append(bad, r)
			continue
		}
		claims = append(claims, store.Claim{Message: m, Token: token(carrier, r.prio, r.id), Deliveries: 1})
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

func (s *Store) quarantine(ctx context.Context, carrier string, bad []rawEntry) error {
	_, err := s.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, r := range bad {
			k := s.streamKey(carrier, r.prio)
			b, _ := json.Marshal(map[string]any{"stream": k, "id": r.id, "m": r.body, "at": time.Now().UTC()})
			p.RPush(ctx, s.badKey(), b)
			p.XAck(ctx, k, s.opts.Group, r.id)
			p.XDel(ctx, k, r.id)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("quarantine undecodable entries: %w", err)
	}
	return nil
}

// ackScript acknowledges and deletes entries: for each i, entry ARGV[i+1] of stream KEYS[i]
// in group ARGV[1]. An entry that is not pending is left alone (a stale or foreign token
// must not delete a ready entry).
var ackScript = redis.NewScript(`
local n = 0
for i = 1, #KEYS do
  if redis.call('XACK', KEYS[i], ARGV[1], ARGV[i + 1]) == 1 then
    redis.call('XDEL', KEYS[i], ARGV[i + 1])
    n = n + 1
  end
end
return n
`)

// Ack implements store.Queue.
func (s *Store) Ack(ctx context.Context, carrier string, claims ...store.Claim) error {
	op := "ack " + carrier
	if err := s.check(ctx, op); err != nil {
		return err
	}
	keys := make([]string, 0, len(claims))
	args := make([]any, 1, len(claims)+1)
	args[0] = s.opts.Group
	for _, c := range claims {
		p, id, ok := parseToken(carrier, c.Token)
		if !ok {
			continue
		}
		keys = append(keys, s.streamKey(carrier, p))
		args = append(args, id)
	}
	if len(keys) == 0 {
		return nil
	}
	if err := ackScript.Run(ctx, s.c, keys, args...).Err(); err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	return nil
}

// deferScript finishes entry ARGV[2] of stream KEYS[1] (group ARGV[1]) and, only if it was
// pending, adds message ARGV[4] to the scheduled zset KEYS[2] with score ARGV[3] and its
// carrier ARGV[5] to the set KEYS[3]. Returns 1 if it did, 0 if the entry was not pending.
var deferScript = redis.NewScript(`
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
redis.call('SADD', KEYS[3], ARGV[5])
return 1
`)

// Defer implements store.Queue, atomically (one script).
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
	p, id, ok := parseToken(carrier, c.Token)
	if !ok {
		return nil // not a pending claim of this carrier: nothing to finish
	}
	body, err := marshalMsg(&m)
	if err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	keys := []string{s.streamKey(carrier, p), s.schedKey(m.Carrier), s.schedSetKey()}
	if err := deferScript.Run(ctx, s.c, keys, s.opts.Group, id, at.UnixMilli(), body, m.Carrier).Err(); err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	return nil
}

// moveScript finishes entry ARGV[2] of stream KEYS[1] (group ARGV[1]) and, only if it was
// pending, appends message ARGV[3] to stream KEYS[2]. Returns 1 if it did.
var moveScript = redis.NewScript(`
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('XADD', KEYS[2], '*', 'm', ARGV[3])
return 1
`)

// Move implements store.Queue, atomically (one script).
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
	p, id, ok := parseToken(from, c.Token)
	if !ok {
		return nil
	}
	body, err := marshalMsg(&m)
	if err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	keys := []string{s.streamKey(from, p), s.streamKey(to, m.Priority)}
	if err := moveScript.Run(ctx, s.c, keys, s.opts.Group, id, body).Err(); err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	return nil
}

// Reclaim implements store.Queue with XAUTOCLAIM on each priority's stream (highest first),
// then XPENDING for the delivery counts.
func (s *Store) Reclaim(ctx context.Context, carrier, consumer string, minIdle time.Duration, n int) ([]store.Claim, error) {
	op := "reclaim " + carrier
	if err := s.check(ctx, op); err != nil {
		return nil, err
	}
	if err := valid.Carrier(carrier); err != nil {
		return nil, fmt.Errorf("store: reclaim: %w", err)
	}
	idle := time.Duration(ms(minIdle)) * time.Millisecond
	var claims []store.Claim
	for _, p := range store.Priorities() {
		key := s.streamKey(carrier, p)
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
			got, err := s.withDeliveries(ctx, carrier, p, msgs)
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

// withDeliveries decodes reclaimed entries and reads their delivery counts.
func (s *Store) withDeliveries(ctx context.Context, carrier string, p store.Priority, msgs []redis.XMessage) ([]store.Claim, error) {
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
	for _, m := range msgs {
		body, _ := m.Values["m"].(string)
		raw = append(raw, rawEntry{prio: p, id: m.ID, body: body})
	}
	claims, err := s.decode(ctx, carrier, raw)
	// decode kept the order of raw, less the quarantined entries.
	counts := make(map[string]int64, len(msgs))
	for i, m := range msgs {
		if pend := cmds[i].Val(); len(pend) == 1 {
			counts[m.ID] = pend[0].RetryCount
		}
	}
	out := claims[:0]
	for _, c := range claims {
		_, id, _ := parseToken(carrier, c.Token)
		d, ok := counts[id]
		if !ok {
			continue // finished by someone else between the two calls
		}
		c.Deliveries = d
		out = append(out, c)
	}
	return out, err
}

// promoteScript moves up to ARGV[3] due messages (score <= ARGV[2], unix ms), earliest
// first across carriers, from the per-carrier zsets P:sched:{carrier} (P = ARGV[1]; the
// carriers are the members of set KEYS[1]) to the streams P:q:{carrier}:{priority}, taking
// the priority from the message JSON. It returns how many it moved.
//
// It computes key names from data, so it is NOT Redis Cluster safe (nor are scripts that
// touch undeclared keys allowed there); smppd needs a single primary.
var promoteScript = redis.NewScript(`
local prefix, now, n = ARGV[1], ARGV[2], tonumber(ARGV[3])
local cands = {}
for _, c in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local z = prefix .. ':sched:' .. c
  local items = redis.call('ZRANGE', z, '-inf', now, 'BYSCORE', 'LIMIT', 0, n, 'WITHSCORES')
  for i = 1, #items, 2 do
    cands[#cands + 1] = {tonumber(items[i + 1]), items[i], c}
  end
  if #items == 0 and redis.call('EXISTS', z) == 0 then
    redis.call('SREM', KEYS[1], c)
  end
end
table.sort(cands, function(a, b)
  if a[1] ~= b[1] then return a[1] < b[1] end
  return a[2] < b[2]
end)
local moved = 0
local touched = {}
for i = 1, math.min(n, #cands) do
  local m, c = cands[i][2], cands[i][3]
  local ok, msg = pcall(cjson.decode, m)
  local p = 0
  if ok and type(msg) == 'table' then
    p = tonumber(msg['priority']) or 0
  end
  if p < 0 or p > 2 then p = 2 end
  redis.call('XADD', prefix .. ':q:' .. c .. ':' .. string.format('%d', p), '*', 'm', m)
  redis.call('ZREM', prefix .. ':sched:' .. c, m)
  touched[c] = true
  moved = moved + 1
end
for c in pairs(touched) do
  if redis.call('EXISTS', prefix .. ':sched:' .. c) == 0 then
    redis.call('SREM', KEYS[1], c)
  end
end
return moved
`)

// PromoteDue implements store.Queue (one script: atomic).
func (s *Store) PromoteDue(ctx context.Context, now time.Time, n int) (int, error) {
	if err := s.check(ctx, "promote"); err != nil {
		return 0, err
	}
	if n <= 0 {
		return 0, nil
	}
	moved, err := promoteScript.Run(ctx, s.c, []string{s.schedSetKey()}, s.opts.Prefix, now.UnixMilli(), n).Int()
	if err != nil {
		return 0, fmt.Errorf("store: promote: %w", err)
	}
	return moved, nil
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

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.check(ctx, "ping"); err != nil {
		return err
	}
	if err := s.c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// Close makes later calls fail with store.ErrClosed; a waiting Claim returns within
// Options.MaxBlock. It closes the client only if Open made it. Closing twice is fine.
func (s *Store) Close() error {
	if s.closed.Swap(true) || !s.ownClient {
		return nil
	}
	if err := s.c.Close(); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// PutRecord implements store.Records.
func (s *Store) PutRecord(ctx context.Context, r *store.Record, ttl time.Duration) error {
	if err := s.check(ctx, "put record"); err != nil {
		return err
	}
	if r == nil || r.ID == "" {
		return errors.New("store: put record: record without id")
	}
	if ttl <= 0 {
		ttl = s.opts.RecordTTL
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("store: put record %s: %w", r.ID, err)
	}
	if err := s.c.Set(ctx, s.recKey(r.ID), b, time.Duration(ms(ttl))*time.Millisecond).Err(); err != nil {
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
	b, err := s.c.Get(ctx, s.recKey(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("store: %s: %w", op, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", op, err)
	}
	r := new(store.Record)
	if err := json.Unmarshal(b, r); err != nil {
		return nil, fmt.Errorf("store: %s: %w", op, err)
	}
	return r, nil
}

// fnError carries fn's error out of the WATCH transaction untouched.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }

// UpdateRecord implements store.Records with WATCH/GET/MULTI SET KEEPTTL/EXEC, running fn
// again (up to Options.UpdateRetries times, with a short random back-off) when another
// writer changed the record first.
func (s *Store) UpdateRecord(ctx context.Context, id string, fn func(*store.Record) error) (*store.Record, error) {
	op := "update record " + id
	key := s.recKey(id)
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
	v := msgID + "|" + strconv.Itoa(part)
	if err := s.c.Set(ctx, s.cidKey(carrier, carrierMsgID), v, time.Duration(ms(ttl))*time.Millisecond).Err(); err != nil {
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
	v, err := s.c.Get(ctx, s.cidKey(carrier, carrierMsgID)).Result()
	if errors.Is(err, redis.Nil) {
		return "", 0, fmt.Errorf("store: %s: %w", op, store.ErrNotFound)
	}
	if err != nil {
		return "", 0, fmt.Errorf("store: %s: %w", op, err)
	}
	i := strings.LastIndexByte(v, '|')
	part, perr := strconv.Atoi(v[i+1:])
	if i <= 0 || perr != nil {
		return "", 0, fmt.Errorf("store: %s: malformed index value %q", op, v)
	}
	return v[:i], part, nil
}
