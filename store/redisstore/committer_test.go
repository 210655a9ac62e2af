package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/redisstore"
	"github.com/smppd/smppd/store/storetest"
)

func acceptOne(ctx context.Context, s interface {
	Accept(context.Context, []*store.Record, time.Duration, ...*store.Message) error
}, i int) error {
	now := time.Now()
	m := &store.Message{ID: store.NewID(), Account: "acme", Carrier: "jio", Priority: store.PriorityTransactional,
		From: "ACMEIN", To: fmt.Sprintf("9198%08d", i), Text: "hello", AcceptedAt: now}
	r := &store.Record{ID: m.ID, Account: m.Account, Carrier: m.Carrier, From: m.From, To: m.To, Status: store.StatusAccepted, AcceptedAt: now}
	return s.Accept(ctx, []*store.Record{r}, 0, m)
}

// Concurrent writers share round trips (the group commit): 400 accepts from 200 goroutines
// take far fewer MULTI/EXEC batches than writes, and every one is stored.
func TestGroupCommitSharesRoundTrips(t *testing.T) {
	s := storetest.OpenRedis(t, storetest.UniquePrefix(t))
	ctx := context.Background()
	before := s.CommitStats()
	const writers, each = 200, 2
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range each {
				errs <- acceptOne(ctx, s, w*each+k)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	after := s.CommitStats()
	writes, batches := after.Writes-before.Writes, after.Batches-before.Batches
	if writes != writers*each {
		t.Fatalf("%d writes carried, want %d", writes, writers*each)
	}
	if batches*2 > writes {
		t.Fatalf("%d writes took %d round trips: the group commit did not batch", writes, batches)
	}
	d, err := s.Depth(ctx, "jio")
	if err != nil || d.Ready != writers*each {
		t.Fatalf("depth %+v, %v: want %d ready", d, err, writers*each)
	}
	t.Logf("%d writes in %d round trips", writes, batches)
}

// BenchmarkGroupCommitAccept reports round trips per accepted message with 64 concurrent
// writers: the group commit's batching, which does not depend on the machine's speed.
func BenchmarkGroupCommitAccept(b *testing.B) {
	s := storetest.OpenRedis(b, storetest.UniquePrefix(b))
	ctx := context.Background()
	before := s.CommitStats()
	b.SetParallelism(32) // 64 writers on 2 CPUs
	var i int64
	var mu sync.Mutex
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mu.Lock()
			i++
			n := i
			mu.Unlock()
			if err := acceptOne(ctx, s, int(n)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	after := s.CommitStats()
	b.ReportMetric(float64(after.Batches-before.Batches)/float64(b.N), "roundtrips/msg")
	b.ReportMetric(float64(after.Commands-before.Commands)/float64(b.N), "commands/msg")
}

// slowPipelines delays every transaction pipeline (the group commit's round trip), as a slow
// network would.
type slowPipelines struct{ delay time.Duration }

func (h slowPipelines) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h slowPipelines) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h slowPipelines) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		time.Sleep(h.delay)
		return next(ctx, cmds)
	}
}

// A write that has joined a batch completes even when its caller's context ends meanwhile
// (a link that closed, an HTTP client that went away): the caller learns the outcome, which
// is "stored", instead of a context error that would read as "store unavailable".
func TestGroupCommitWriteOutlivesCallerContext(t *testing.T) {
	prefix := storetest.UniquePrefix(t)
	storetest.OpenRedis(t, prefix) // deletes the prefix's keys at the end
	opt, err := redis.ParseURL(storetest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	defer c.Close()
	c.AddHook(slowPipelines{delay: 300 * time.Millisecond})
	s, err := redisstore.New(c, redisstore.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	now := time.Now()
	m := &store.Message{ID: store.NewID(), Account: "acme", Carrier: "jio", Priority: store.PriorityOTP,
		From: "ACMEIN", To: "919812345678", Text: "hello", AcceptedAt: now}
	r := &store.Record{ID: m.ID, Account: m.Account, Carrier: m.Carrier, From: m.From, To: m.To, Status: store.StatusAccepted, AcceptedAt: now}
	if err := s.Accept(ctx, []*store.Record{r}, 0, m); err != nil {
		t.Fatalf("Accept whose context ended mid-write: %v, want the write's own outcome (stored)", err)
	}
	if ctx.Err() == nil {
		t.Fatal("the context did not end during the write: the test proves nothing")
	}
	if got, err := s.GetRecord(context.Background(), m.ID); err != nil || got.ID != m.ID {
		t.Fatalf("record after Accept: %v, %v", got, err)
	}
	// A context that ended before the call stops the write before it starts.
	if err := s.Accept(ctx, []*store.Record{r}, 0, m); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Accept with an ended context: %v", err)
	}
}
