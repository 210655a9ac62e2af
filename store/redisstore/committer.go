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
// everything queued as one MULTI/EXEC pipeline — one round trip, however many callers.
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
	webhooks string // the webhook stream, swapSource's last key (settlements queue no job through it)

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

// write is one caller's part of a batch.
type write struct {
	// add appends the write's own commands to the pipeline (may be nil).
	add func(p redis.Pipeliner)
	// acks are stream entries to acknowledge and delete in the same batch.
	acks map[streamGroup][]string
	// finishes are claims to finish (acknowledge and delete their entries) in the same
	// batch, each only while it still owns its entry (finishSource): gathered per stream
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

// streamGroup names a stream and the consumer group whose entries are acked.
type streamGroup struct{ stream, group string }

type keyValue struct {
	key string
	val []byte
}

func newCommitter(c redis.UniversalClient, maxBatch int, webhooks string) *committer {
	cm := &committer{c: c, maxBatch: maxBatch, webhooks: webhooks, wake: make(chan struct{}, 1), stopped: make(chan struct{})}
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

// flush sends one batch. A batch's writes are independent: the MULTI makes each caller's
// commands atomic with everything else in the batch, and a command error is charged to the
// write that queued it.
func (cm *committer) flush(batch []*write) {
	acks := map[streamGroup][]string{}
	var order []streamGroup
	finishes := map[streamGroup][]claimRef{}
	var finishOrder []streamGroup
	var recKeys []string
	var recVals []any
	for _, w := range batch {
		for k, refs := range w.finishes {
			if _, ok := finishes[k]; !ok {
				finishOrder = append(finishOrder, k)
			}
			finishes[k] = append(finishes[k], refs...)
		}
		for _, kv := range w.records {
			recKeys = append(recKeys, kv.key)
			recVals = append(recVals, kv.val, "0", "")
		}
		for k, ids := range w.acks {
			if _, ok := acks[k]; !ok {
				order = append(order, k)
			}
			acks[k] = append(acks[k], ids...)
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
			recCmd = p.Eval(ctx, swapSource, append(recKeys, cm.webhooks), recVals...)
		}
		for _, k := range finishOrder {
			finishCmds[k] = p.Eval(ctx, finishSource, []string{k.stream}, finishArgs(k.group, finishes[k])...)
		}
		for _, k := range order {
			ids := acks[k]
			ackCmds[k] = [2]redis.Cmder{p.XAck(ctx, k.stream, k.group, ids...), p.XDel(ctx, k.stream, ids...)}
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
