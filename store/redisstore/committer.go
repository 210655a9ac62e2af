package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// committer is the group commit of the hot path: writes from many goroutines (HTTP accepts,
// settlements, receipt appends, acks) join one queue, and a single flusher goroutine sends
// everything queued as one MULTI/EXEC pipeline — one round trip, however many callers (on a
// Redis Cluster, two or three pipelined steps instead: flushSteps).
// Each caller returns once the batch holding its write is acknowledged by Redis, so the
// durability rule holds per caller.
//
// Batches form by themselves: while one is on the wire the next one fills, so at low load a
// write goes out at once (no timer adds latency) and at high load a round trip carries
// hundreds of writes. Acks of stream entries (XACK + XDEL) are gathered per stream across the
// whole batch and sent as one variadic pair of commands.
type committer struct {
	c        redis.UniversalClient
	maxBatch int
	cluster  bool // c is a cluster client: batches go out in steps (flushSteps)

	mu      sync.Mutex
	queue   []*write
	wake    chan struct{}
	closed  bool
	stopped chan struct{}

	fenced   atomic.Uint64 // finishes refused: the claim had been taken over (or finished)
	batches  atomic.Uint64 // round trips made
	writes   atomic.Uint64 // writes carried
	commands atomic.Uint64 // commands sent
}

// write is one caller's part of a batch. Its commands come in up to three steps: add,
// records and acks first, then then and finishes, then last. On a single Redis the steps
// are one MULTI with the rest of the batch; on a cluster each step goes out only once the
// write's earlier steps are stored (flushSteps).
type write struct {
	// add appends the write's own commands to the pipeline (may be nil).
	add func(p redis.Pipeliner)
	// then appends commands that must not be stored without add's (may be nil).
	then func(p redis.Pipeliner)
	// last appends commands that must not be stored without then's (may be nil).
	last func(p redis.Pipeliner)
	// acks are stream entries to acknowledge and delete in the same batch.
	acks map[streamGroup][]string
	// finishes are claims to finish (acknowledge and delete their entries) in the same
	// batch, in the second step, each only while it still owns its entry (finishSource): gathered per stream
	// into one script call.
	finishes map[streamGroup][]claimRef
	// records are settled records, written only over records still at revision 0 (by the
	// compare-and-set of SwapRecords, swapSource, expecting revision 0: dispatch settles a
	// message once, before any receipt can change its record, so a record already changed
	// means the settlement is stale — a slow instance whose claim was taken over — and the
	// stored record wins). They are gathered across the batch into one script call.
	records []keyValue
	// check, if set, reads the write's command results after the batch; the merged
	// commands (records, acks) are checked for the writes that contributed to them.
	check func() error
	done  chan error
}

// perStream gathers what a batch's writes do to each stream (acks, claims to finish), in the
// order the streams first appear, with the writes that contributed: each stream gets one
// merged command, whose error is charged to those writes.
type perStream[T any] struct {
	items  map[streamGroup][]T
	owners map[streamGroup][]int
	order  []streamGroup
}

func (g *perStream[T]) add(k streamGroup, owner int, items []T) {
	if g.items == nil {
		g.items, g.owners = map[streamGroup][]T{}, map[streamGroup][]int{}
	}
	if _, ok := g.items[k]; !ok {
		g.order = append(g.order, k)
	}
	g.items[k] = append(g.items[k], items...)
	g.owners[k] = append(g.owners[k], owner)
}

// streamGroup names a stream and the consumer group whose entries are acked.
type streamGroup struct{ stream, group string }

// keyValue is a settled record: its key, its JSON and the webhook stream of its shard (the
// swap script's key beside it; settlements queue no job through it), and its timeline.
type keyValue struct {
	key string
	val []byte
	wh  string
	ev  string // the message's timeline list, and
	evs string // the events appended to it if the record is stored (joinEvents)
}

func newCommitter(c redis.UniversalClient, maxBatch int, cluster bool) *committer {
	cm := &committer{c: c, maxBatch: maxBatch, cluster: cluster, wake: make(chan struct{}, 1), stopped: make(chan struct{})}
	go cm.run()
	return cm
}

var errCommitterClosed = errors.New("store closed")

// commitWait bounds how long a queued write waits for its batch: the batches ahead of it and
// its own round trip, each bounded by the client's read and write timeouts.
const commitWait = 30 * time.Second

// errCommitWait is returned when a queued write's batch has not answered within commitWait.
var errCommitWait = errors.New("store write still unanswered after 30s; its outcome is unknown")

// do queues w and waits until its batch is stored. A write once queued is carried out
// whatever happens to ctx: do then waits for its outcome (bounded by commitWait) instead of
// returning ctx's error, so that a caller whose link or HTTP request went away mid-write
// neither leaves a half-known outcome nor reports the store unavailable when it is not. ctx
// only stops a write that is not queued yet.
func (cm *committer) do(ctx context.Context, w *write) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w.done = make(chan error, 1)
	cm.mu.Lock()
	if cm.closed {
		cm.mu.Unlock()
		return errCommitterClosed
	}
	cm.queue = append(cm.queue, w)
	cm.mu.Unlock()
	select {
	case cm.wake <- struct{}{}:
	default:
	}
	t := time.NewTimer(commitWait)
	defer t.Stop()
	select {
	case err := <-w.done:
		return err
	case <-t.C:
		return errCommitWait
	}
}

func (cm *committer) run() {
	defer close(cm.stopped)
	for {
		cm.mu.Lock()
		if len(cm.queue) == 0 {
			closed := cm.closed
			cm.mu.Unlock()
			if closed {
				return
			}
			<-cm.wake
			continue
		}
		n := min(len(cm.queue), cm.maxBatch)
		batch := cm.queue[:n:n]
		cm.queue = append([]*write(nil), cm.queue[n:]...)
		cm.mu.Unlock()
		cm.flush(batch)
	}
}

// flush sends one batch: on a single Redis as one MULTI/EXEC, on a cluster in steps.
func (cm *committer) flush(batch []*write) {
	if cm.cluster {
		cm.flushSteps(batch)
		return
	}
	cm.flushTx(batch)
}

// flushTx sends one batch as one MULTI/EXEC pipeline. A batch's writes are independent: the
// MULTI makes each caller's commands (all its steps) atomic with everything else in the
// batch, and a command error is charged to the write that queued it.
func (cm *committer) flushTx(batch []*write) {
	var acks perStream[string]
	var finishes perStream[claimRef]
	var recKeys []string
	var recVals []any
	for i, w := range batch {
		for k, refs := range w.finishes {
			finishes.add(k, i, refs)
		}
		for _, kv := range w.records {
			recKeys = append(recKeys, kv.key, kv.wh, kv.ev)
			recVals = append(recVals, kv.val, "0", "", kv.evs)
		}
		for k, ids := range w.acks {
			acks.add(k, i, ids)
		}
	}
	// The writes' own deadlines are theirs to watch; the batch is bounded by the client's
	// read and write timeouts.
	ctx := context.Background()
	var recCmd redis.Cmder
	ackCmds := map[streamGroup][2]redis.Cmder{}
	finishCmds := map[streamGroup]*redis.Cmd{}
	cmds, err := cm.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, w := range batch {
			if w.add != nil {
				w.add(p)
			}
		}
		if len(recKeys) > 0 {
			// EVAL, not EVALSHA: inside MULTI a NOSCRIPT (after a Redis restart) could not
			// be retried; the script is short and Redis caches its compilation.
			recCmd = p.Eval(ctx, swapSource, recKeys, recVals...)
		}
		for _, w := range batch {
			if w.then != nil {
				w.then(p)
			}
		}
		for _, k := range finishes.order {
			finishCmds[k] = p.Eval(ctx, finishSource, finishKeys(k.stream), finishArgs(k.group, finishes.items[k])...)
		}
		for _, k := range acks.order {
			ids := acks.items[k]
			ackCmds[k] = [2]redis.Cmder{p.XAck(ctx, k.stream, k.group, ids...), p.XDel(ctx, k.stream, ids...)}
		}
		for _, w := range batch {
			if w.last != nil {
				w.last(p)
			}
		}
		return nil
	})
	cm.batches.Add(1)
	cm.writes.Add(uint64(len(batch)))
	cm.commands.Add(uint64(len(cmds)))
	if err != nil && !isCommandError(err) {
		// The batch did not go through (connection, timeout, EXECABORT): every write failed.
		for _, w := range batch {
			w.done <- err
		}
		return
	}
	for _, c := range finishCmds {
		if n, err := c.Int64(); err == nil && n > 0 {
			cm.fenced.Add(uint64(n))
		}
	}
	for _, w := range batch {
		var werr error
		if w.check != nil {
			werr = w.check()
		}
		if werr == nil && len(w.records) > 0 {
			werr = cmdErrs(recCmd)
		}
		for k := range w.acks {
			if werr == nil {
				werr = cmdErrs(ackCmds[k][0], ackCmds[k][1])
			}
		}
		for k := range w.finishes {
			if werr == nil {
				werr = cmdErrs(finishCmds[k])
			}
		}
		w.done <- werr
	}
}

// flushSteps sends one batch to a Redis Cluster, where no MULTI spans slots, in up to three
// pipelined steps (a step is one round trip per node, the nodes in parallel): first every
// write's own commands (add), its settled records (one swap script per message shard) and
// its acks (one script per stream); then, for the writes whose first step was all stored,
// their dependent commands (then) and claim finishes (one script per stream); then their
// last commands. So a write's later commands are never stored without its earlier ones: a
// queue entry never without its record, a finished claim never without its settlement. A
// failure between steps leaves the earlier ones stored (see the package doc, Redis
// Cluster, for what that can cause).
func (cm *committer) flushSteps(batch []*write) {
	ctx := context.Background()
	errs := make([]error, len(batch))
	var sent, rounds uint64
	step := func(queue func(st *stepPipe)) {
		st := &stepPipe{}
		cmds, _ := cm.c.Pipelined(ctx, func(p redis.Pipeliner) error {
			st.p = p
			queue(st)
			return nil
		})
		if len(cmds) == 0 {
			return
		}
		rounds++
		sent += uint64(len(cmds))
		for i, c := range cmds {
			if err := cmdErrs(c); err != nil {
				for _, w := range st.owners[i] {
					if errs[w] == nil {
						errs[w] = err
					}
				}
			}
		}
		for _, c := range st.finishes {
			if n, err := c.Int64(); err == nil && n > 0 {
				cm.fenced.Add(uint64(n))
			}
		}
	}
	step(func(st *stepPipe) {
		recs := map[string]*swapGroup{} // by webhook stream: one per message shard
		var recOrder []string
		var acks perStream[string]
		for i, w := range batch {
			st.own(i, w.add)
			for _, kv := range w.records {
				g := recs[kv.wh]
				if g == nil {
					g = &swapGroup{}
					recs[kv.wh] = g
					recOrder = append(recOrder, kv.wh)
				}
				g.add(i, kv)
			}
			for k, ids := range w.acks {
				acks.add(k, i, ids)
			}
		}
		for _, wh := range recOrder {
			g := recs[wh]
			st.p.Eval(ctx, swapSource, g.keys, g.vals...)
			st.merged(g.owners)
		}
		for _, k := range acks.order {
			st.p.Eval(ctx, ackSource, []string{k.stream}, ackArgs(k.group, acks.items[k])...)
			st.merged(acks.owners[k])
		}
	})
	step(func(st *stepPipe) {
		var finishes perStream[claimRef]
		for i, w := range batch {
			if errs[i] != nil {
				continue
			}
			st.own(i, w.then)
			for k, refs := range w.finishes {
				finishes.add(k, i, refs)
			}
		}
		for _, k := range finishes.order {
			c := st.p.Eval(ctx, finishSource, finishKeys(k.stream), finishArgs(k.group, finishes.items[k])...)
			st.merged(finishes.owners[k])
			st.finishes = append(st.finishes, c)
		}
	})
	step(func(st *stepPipe) {
		for i, w := range batch {
			if errs[i] == nil {
				st.own(i, w.last)
			}
		}
	})
	cm.batches.Add(rounds)
	cm.writes.Add(uint64(len(batch)))
	cm.commands.Add(sent)
	for i, w := range batch {
		werr := errs[i]
		if werr == nil && w.check != nil {
			werr = w.check()
		}
		w.done <- werr
	}
}

// stepPipe is one step's pipeline and, per queued command, the writes it serves.
type stepPipe struct {
	p        redis.Pipeliner
	owners   [][]int
	finishes []*redis.Cmd
}

// own queues write i's commands (fn may be nil).
func (st *stepPipe) own(i int, fn func(redis.Pipeliner)) {
	if fn == nil {
		return
	}
	fn(st.p)
	for len(st.owners) < st.p.Len() {
		st.owners = append(st.owners, []int{i})
	}
}

// merged records that the commands queued last serve several writes.
func (st *stepPipe) merged(writes []int) {
	for len(st.owners) < st.p.Len() {
		st.owners = append(st.owners, writes)
	}
}

// swapGroup is one swap script call of a step: records of one message shard.
type swapGroup struct {
	owners []int
	keys   []string
	vals   []any
}

func (g *swapGroup) add(w int, kv keyValue) {
	if len(g.owners) == 0 || g.owners[len(g.owners)-1] != w {
		g.owners = append(g.owners, w)
	}
	g.keys = append(g.keys, kv.key, kv.wh, kv.ev)
	g.vals = append(g.vals, kv.val, "0", "", kv.evs)
}

// ackSource acknowledges and deletes entries of one stream in one step (on a cluster, where
// no MULTI holds the XACK and XDEL of a batch together). KEYS[1] the stream; ARGV[1] the
// group, then the entry ids.
const ackSource = `
for i = 2, #ARGV, 1000 do
  local chunk = {unpack(ARGV, i, math.min(i + 999, #ARGV))}
  redis.call('XACK', KEYS[1], ARGV[1], unpack(chunk))
  redis.call('XDEL', KEYS[1], unpack(chunk))
end
return 0
`

func ackArgs(group string, ids []string) []any {
	args := make([]any, 1, 1+len(ids))
	args[0] = group
	for _, id := range ids {
		args = append(args, id)
	}
	return args
}

// isCommandError tells a Redis error reply to one command (the transaction ran; only that
// command failed) from a failure of the whole batch.
func isCommandError(err error) bool {
	var re redis.Error
	if !errors.As(err, &re) {
		return false
	}
	// EXECABORT means nothing ran.
	return re.Error() != "" && !strings.HasPrefix(re.Error(), "EXECABORT")
}

// close flushes what is queued and stops the flusher.
func (cm *committer) close() {
	cm.mu.Lock()
	if cm.closed {
		cm.mu.Unlock()
		return
	}
	cm.closed = true
	cm.mu.Unlock()
	select {
	case cm.wake <- struct{}{}:
	default:
	}
	<-cm.stopped
}

// cmdErrs returns the first error among cmds, ignoring redis.Nil.
func cmdErrs(cmds ...redis.Cmder) error {
	for _, c := range cmds {
		if c == nil {
			continue
		}
		if err := c.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("%s: %w", c.Name(), err)
		}
	}
	return nil
}

// CommitStats counts the group commit's work: Writes callers served in Batches round trips
// carrying Commands commands.
type CommitStats struct {
	Batches, Writes, Commands uint64
	// Fenced counts settlements whose claim no longer owned its queue entry: another
	// instance had taken it over (its holder was thought dead) or it was finished already.
	// Their records and index entries were still written (see store.Settlement); the entry
	// was left to its new holder.
	Fenced uint64
}

// CommitStats returns the group commit's counters (for metrics and benchmarks).
func (s *Store) CommitStats() CommitStats {
	return CommitStats{Batches: s.commit.batches.Load(), Writes: s.commit.writes.Load(), Commands: s.commit.commands.Load(), Fenced: s.commit.fenced.Load()}
}
