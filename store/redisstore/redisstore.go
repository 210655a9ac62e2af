// Package redisstore is the production implementation of store.Store, on Redis (6.2 or later;
// tested on 7.0) through github.com/redis/go-redis/v9. Many smppd instances share one Redis
// and one key prefix: what one instance accepts, any other may send.
//
// # Key layout
//
// With the default prefix "smppd" (P below); the part in braces is the key's Redis Cluster
// hash tag, and keys with equal tags share a slot (layout.go, where keyspace spells every key
// name):
//
//	P:{q:<carrier>}:<prio>     stream  ready and pending messages of one carrier and priority
//	                                   (prio 0 OTP, 1 transactional, 2 promotional); field "m"
//	                                   holds the Message as JSON, its text sealed (codec.go);
//	                                   consumer group Options.Group
//	P:{q:<carrier>}:<prio>:handed  string  "1" for fenceWindow (15m) after claims of the
//	                                   stream were handed over (TakeOver, Reclaim): while it
//	                                   exists, finishing a claim checks its ownership
//	P:{q:<carrier>}:sched      zset    scheduled messages of one carrier (future SendAt,
//	                                   deferred retries); score = due time in unix ms,
//	                                   member = the Message as JSON (unique: it has ID and
//	                                   Attempts)
//	P:{q:<carrier>}:schedidx   hash    id → member of the messages Enqueue/Accept scheduled
//	                                   (not Defer's retries), for CancelScheduled; written in
//	                                   the same MULTI as the ZADD, deleted by the promotion
//	                                   and the cancel
//	P:sched                    set     carriers that may have scheduled messages
//	P:{m<k>.<j>}:rec:<id>      string  status record as JSON, with a TTL; its first field is
//	                                   "rev", the compare-and-set revision; in message shard k
//	                                   (FNV-1a of the id mod 16) beside the shard's webhook
//	                                   queue P:{m<k>.<j>}:wh… (webhooks.go)
//	P:{m<k>.<j>}:ev:<id>       list    the message's timeline (search.go), with the record's
//	                                   TTL; appended in the steps that change the message
//	P:ix:to:<number>           zset    search index by destination (search.go), with a TTL
//	P:ix:sfx:<last 4 digits>   zset    search index by the destination's last digits
//	P:{m<k>.<j>}:ln:<code>, P:{m<k>.<j>}:lc:…  short links and their campaigns' counts, in
//	                                   the shard of the link's code, with the links' TTL
//	                                   (links.go); P:{m<k>.<j>}:lz:… per account, its
//	                                   campaigns by newest link (zset, same TTL)
//	P:cid:<carrier>:<cmid>     string  carrier message id index: "msgID|part", with a TTL
//	P:rlog                     stream  the receipt log (receiptlog.go)
//	P:{dlr}:…                          unmatched receipts (receipts.go)
//	P:otp:{<account>}:…, P:credits:…   OTP sessions and credits (otp.go)
//	P:{dlt}:registry, P:{dlt}:version  the DLT registry (registry.go)
//	P:{live}, P:{lease}:…              liveness (liveness.go) and bind leases (lease.go)
//	P:bad                      list    queue entries that could not be decoded (quarantined
//	                                   instead of blocking their queue); JSON with the stream,
//	                                   entry id, reason, time and payload (text sealed); swept
//	                                   after Options.QuarantineRetention (sweep.go)
//
// Carrier names may not contain ':' (store/internal/valid enforces it), so keys never collide.
// This layout replaced an earlier one without hash tags (P:q:<carrier>:<prio>,
// P:rec:<id>, P:wh:q, …): a store finds nothing written under the old names, so drain
// the queues before upgrading (docs/operations.md, Upgrading).
//
// # Group commit
//
// The hot-path writes — Accept, Settle, AppendReceipts and the acks of the receipt log and
// the webhook queue — go through one committer: every caller's writes queued while a round
// trip is on the wire leave together in the next MULTI/EXEC, and acks of stream entries are
// merged into one variadic XACK and XDEL per stream. Each caller returns when its batch is
// acknowledged. Per message of the R1 flow that leaves about eight commands in all: SET
// (record) and XADD (queue) at accept; the record's SET … GET compare-and-set and the index
// SET at settle; XADD to the receipt log; the record's SET … GET compare-and-set and XADD of
// the webhook job when a receipt is applied; and the batch commands (MULTI, EXEC,
// XREADGROUP, XACK, XDEL, EVALSHA) shared by hundreds of messages.
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
// Supported (Open with redis+cluster://), with the same layout as a single Redis. What one
// step touches shares a hash tag: a carrier's streams and scheduled set (Claim's one script
// over three streams, Defer, Depth, the promotion of due messages, quarantine's acks); a
// message's record and its shard's webhook queue (the compare-and-set that queues a job
// only when it stores the record); a shard's webhook queue, retry set and dead letters;
// an account's OTP keys; the lease keys; the registry's two keys. Every script and MULTI
// gets keys of one slot; the rest spreads over the cluster: carriers by name, records over
// 16 message shards whose tags lie in 16 equal ranges of slots, index entries one by one.
//
// What a single Redis does in one MULTI but spans slots runs in order instead, so that a
// failure between two steps costs at worst a duplicate or an orphan, never a message:
//
//   - Accept: records first, queue entries only once those are stored (the committer's
//     steps), then the carriers with scheduled messages are named in P:sched. A failure
//     after the first step leaves records of messages never queued: the caller got an
//     error (no message id), and the records expire with their TTL.
//   - Settle: records, index entries and webhook jobs first, the claim's finish only once
//     those are stored. A failure between leaves the claim pending: it is taken over and
//     sent again (a duplicate the record counts), its settlement is never lost.
//   - Move between carriers: the claim is checked, the message appended to the new
//     carrier's queue, then the claim finished if still owned. A failure or a takeover in
//     between leaves the message in both queues (a duplicate), never in neither.
//   - Defer and scheduled Enqueue/Accept: the message goes to the carrier's scheduled set,
//     then the carrier to P:sched; PromoteDue drops a carrier from P:sched before its
//     second look at the carrier's set, so no interleaving loses a wakeup, and a crash
//     between the two writes is repaired by the carrier's next Claim (healDue) within
//     10 seconds.
//   - Quarantine: the bad entry goes to P:bad, then is finished (a failure between
//     quarantines it twice).
//   - Enqueue of several carriers: one MULTI per carrier, not one for all.
//   - GetRecords and LookupCarrierIDs: one GET per key in a pipeline instead of MGET.
//
// A batch of the group commit is then two or three round trips (each a pipeline per node,
// the nodes in parallel) instead of one. Webhook claims look at every shard first (two
// round trips). Replication is asynchronous in a cluster as with Sentinel: a failover can
// lose the last writes the old master acknowledged. Clients made by Open reload the
// cluster's slot map every ClusterReloadInterval; one passed to New should set
// ClusterOptions.ClusterStateReloadInterval likewise.
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
// # Files
//
// redisstore.go opens the store; layout.go names the keys; codec.go is the one encoding of
// queue entries and webhook jobs, and seals their texts at rest (AES-256-GCM, a key ring
// for rotation); sweep.go drops aged dead letters, unmatched receipts and quarantined
// entries. The send queues (store.Queue,
// Accepter, Settler) are enqueue.go, claim.go, settle.go, takeover.go, schedule.go and
// queue.go; records.go keeps the status records and the carrier id index; committer.go and
// exec.go run the group commit. What dlr keeps is in receiptlog.go, receipts.go,
// webhooks.go and deadletters.go; then otp.go, registry.go, liveness.go and lease.go.
// keys.go lists the keys that live without a TTL and who deletes them; migrate.go renames
// the keys of the layout before hash tags.
//
// The package logs nothing.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	neturl "net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smppd/smppd/store"
)

// DefaultPrefix is Options.Prefix's default.
const DefaultPrefix = "smppd"

// DefaultDeadRetention is Options.DeadRetention's default: 90 days, as long as delivery logs.
const DefaultDeadRetention = 90 * 24 * time.Hour

// DefaultQuarantineRetention is Options.QuarantineRetention's default.
const DefaultQuarantineRetention = 30 * 24 * time.Hour

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
	// MaxBatch bounds the writes one group-commit round trip carries (see Accept, Settle,
	// AppendReceipts). Default 1024.
	MaxBatch int
	// DeadRetention is how long dead webhook jobs (given up after their retries) are kept
	// for inspection and replay: older ones are dropped as new ones arrive and by the
	// periodic sweep (sweep.go), and the dead letters' keys expire DeadRetention after the
	// last one. Default DefaultDeadRetention.
	DeadRetention time.Duration
	// NoSearchIndex switches off the message search indexes (by number and by last digits;
	// see search.go): Accept then writes four commands fewer per message, and the console
	// searches by id only. Timelines are kept either way. Default false: indexes on.
	NoSearchIndex bool
	// NoTimeline switches off the messages' timelines (search.go): Accept then writes two
	// commands fewer per message, later steps append nothing, and MessageTimeline shows a
	// record's acceptance and current status only. Default false: timelines on.
	NoTimeline bool
	// QuarantineRetention is how long undecodable queue entries are kept in P:bad (they
	// hold message bodies, texts sealed): older ones are swept, and the list expires this
	// long after its last entry. Default DefaultQuarantineRetention.
	QuarantineRetention time.Duration
	// TextKey seals message texts at rest (AES-256-GCM; TextKeySize bytes): every queue
	// entry, scheduled message, cancel index entry and quarantined entry holds its text
	// sealed with it (codec.go). Default: none, texts in plaintext; smppd always sets one
	// (store.text_key, or derived from otp.key).
	TextKey []byte
	// TextKeysOld are earlier text keys: texts sealed with them still open, nothing new is
	// sealed with them (key rotation, docs/operations.md). Default: none.
	TextKeysOld [][]byte
	// Consumer names this store's reader in the receipt log's and the webhook queue's
	// consumer groups; entries it reads and does not finish are handed to others after their
	// idle time. Default: host name, process id and a random suffix.
	Consumer string
}

func (o *Options) setDefaults() error {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
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
	if o.MaxBatch == 0 {
		o.MaxBatch = 1024
	}
	if o.Consumer == "" {
		o.Consumer = store.ConsumerName()
	}
	if o.DeadRetention <= 0 {
		o.DeadRetention = DefaultDeadRetention
	}
	if o.QuarantineRetention <= 0 {
		o.QuarantineRetention = DefaultQuarantineRetention
	}
	switch {
	case strings.ContainsAny(o.Prefix, " \t\r\n"):
		return fmt.Errorf("store: redis options: Prefix %q has white space", o.Prefix)
	case strings.ContainsAny(o.Prefix, "{}"):
		return fmt.Errorf("store: redis options: Prefix %q has a brace (it would be a Redis Cluster hash tag)", o.Prefix)
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
	case o.MaxBatch < 1:
		return fmt.Errorf("store: redis options: MaxBatch %d is below 1", o.MaxBatch)
	case strings.ContainsAny(o.Consumer, " \t\r\n"):
		return fmt.Errorf("store: redis options: Consumer %q has white space", o.Consumer)
	}
	return nil
}

// Store is the Redis store. It is safe for concurrent use.
type Store struct {
	c         redis.UniversalClient
	opts      Options
	keys      keyspace // every key name (layout.go)
	ownClient bool
	cluster   bool      // c is a *redis.ClusterClient
	text      *textRing // seals message texts (codec.go); nil: plaintext
	closed    atomic.Bool

	groups sync.Map // stream key → struct{}: consumer groups known to exist
	commit *committer

	consumer atomic.Value // string: the member that joined through this store (Join)
	live     liveCache    // live members, read at most every liveFor

	lastPromote  atomic.Int64  // unix ms of the last move of due webhook retries
	lastTakeover atomic.Int64  // unix ms of the last takeover of expired webhook leases
	lastSweep    atomic.Int64  // unix ms of the last sweep of aged entries (sweep.go)
	whRotor      atomic.Uint64 // the shard a webhook claim starts at, turned by every claim
	healed       sync.Map      // carrier → time of its last healDue (cluster only)

	stash claimStash // claims read beyond n, kept for the consumer's next Claim (claim.go)
}

// TextKeyID is the id of the key new texts are sealed with, "" when texts are kept in
// plaintext (no Options.TextKey).
func (s *Store) TextKeyID() string {
	if s.text == nil {
		return ""
	}
	return s.text.cur
}

var (
	_ store.Store      = (*Store)(nil)
	_ store.ReceiptLog = (*Store)(nil)
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
	text, err := newTextRing(opts.TextKey, opts.TextKeysOld)
	if err != nil {
		return nil, err
	}
	s := &Store{c: client, opts: opts, keys: keyspace(opts.Prefix), text: text}
	_, s.cluster = client.(*redis.ClusterClient)
	s.commit = newCommitter(client, opts.MaxBatch, s.cluster)
	return s, nil
}

// DefaultPoolSize is the connection pool of stores made by Open when the URL says nothing
// (per node on a cluster).
const DefaultPoolSize = 256

// Open connects to Redis, pings it, and returns a store that owns the client: Close closes
// it. The URL's scheme picks the deployment, and go-redis's query options (dial_timeout,
// read_timeout, pool_size, …) apply to all three:
//
//	redis://[user:password@]host:port/db           one Redis (rediss:// for TLS)
//	redis+sentinel://[suser:spassword@]host:port/db?master_name=NAME&addr=host2:port2&…
//	                                               the primary Sentinel names (rediss+sentinel://
//	                                               for TLS); host:port and every addr are
//	                                               sentinels, the userinfo is the sentinels'
//	                                               credentials, the primary's are the query
//	                                               options username and password
//	redis+cluster://[user:password@]host:port?addr=host2:port2&…
//	                                               Redis Cluster (rediss+cluster:// for TLS);
//	                                               host:port and every addr are seed nodes;
//	                                               no db (a cluster has only db 0)
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	shown := url
	if u, err := neturl.Parse(url); err == nil {
		shown = u.Redacted()
	}
	c, err := newClient(url)
	if err != nil {
		return nil, fmt.Errorf("store: redis url %s: %w", shown, err)
	}
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

// newClient makes the client for one of Open's URLs. go-redis's default pool (10 per CPU)
// is too small here: every in-flight submit, receipt and webhook makes a round trip and each
// waiting Claim holds a connection, so a small pool turns into queueing inside the client;
// DefaultPoolSize applies unless the URL has pool_size.
func newClient(url string) (redis.UniversalClient, error) {
	scheme, rest, ok := strings.Cut(url, "://")
	if !ok {
		return nil, errors.New("no scheme")
	}
	base, mode, _ := strings.Cut(scheme, "+")
	if base != "redis" && base != "rediss" {
		return nil, fmt.Errorf("scheme %s: want redis, rediss, redis+sentinel or redis+cluster", scheme)
	}
	plain := base + "://" + rest // the scheme go-redis's parsers know
	switch mode {
	case "":
		o, err := redis.ParseURL(plain)
		if err != nil {
			return nil, err
		}
		if o.PoolSize == 0 {
			o.PoolSize = DefaultPoolSize
		}
		return redis.NewClient(o), nil
	case "sentinel":
		o, err := redis.ParseFailoverURL(plain)
		if err != nil {
			return nil, err
		}
		if o.MasterName == "" {
			return nil, errors.New("sentinel without master_name")
		}
		if o.PoolSize == 0 {
			o.PoolSize = DefaultPoolSize
		}
		return redis.NewFailoverClient(o), nil
	case "cluster":
		if u, err := neturl.Parse(plain); err == nil && strings.Trim(u.Path, "/") != "" && strings.Trim(u.Path, "/") != "0" {
			return nil, fmt.Errorf("cluster with database %s: a cluster has only database 0", strings.Trim(u.Path, "/"))
		}
		o, err := redis.ParseClusterURL(plain)
		if err != nil {
			return nil, err
		}
		if o.PoolSize == 0 {
			o.PoolSize = DefaultPoolSize
		}
		o.ClusterStateReloadInterval = ClusterReloadInterval
		return redis.NewClusterClient(o), nil
	default:
		return nil, fmt.Errorf("scheme %s: want redis, rediss, redis+sentinel or redis+cluster", scheme)
	}
}

// ClusterReloadInterval is how often the cluster clients Open makes read the cluster's
// slot map (CLUSTER SLOTS) while in use. go-redis follows MOVED redirects by itself, but
// learns of a failover (a replica promoted in a dead master's place) only by such a
// reload: its default, 60s, would leave the dead master's slots unreachable that long.
const ClusterReloadInterval = time.Second

// Cluster reports whether the store is on a Redis Cluster (its client is a
// *redis.ClusterClient): then the writes of one group commit go out per slot.
func (s *Store) Cluster() bool { return s.cluster }

// Client returns the Redis client the store uses.
func (s *Store) Client() redis.UniversalClient { return s.c }

// Options returns the options in effect, defaults filled in.
func (s *Store) Options() Options { return s.opts }

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
		for _, k := range s.keys.streamKeys(carrier) {
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
	if s.closed.Swap(true) {
		return nil
	}
	s.commit.close()
	if !s.ownClient {
		return nil
	}
	if err := s.c.Close(); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}
