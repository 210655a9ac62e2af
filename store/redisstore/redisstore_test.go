package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/redisstore"
	"github.com/smppd/smppd/store/storetest"
)

// The tests need a Redis at storetest.RedisURL() (REDIS_URL, default
// redis://127.0.0.1:6379/0). Without one they fail, unless SMPPD_SKIP_REDIS=1. Every test
// uses its own key prefix and deletes its keys.

func newClient(tb testing.TB) *redis.Client {
	tb.Helper()
	opts, err := redis.ParseURL(storetest.RedisURL())
	if err != nil {
		tb.Fatalf("REDIS_URL: %v", err)
	}
	c := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		if os.Getenv("SMPPD_SKIP_REDIS") == "1" {
			tb.Skipf("no Redis at %s (SMPPD_SKIP_REDIS=1): %v", storetest.RedisURL(), err)
		}
		tb.Fatalf("no Redis at %s: %v (set REDIS_URL, or SMPPD_SKIP_REDIS=1 to skip the Redis tests)", storetest.RedisURL(), err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

func uniquePrefix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "smppdtest:" + hex.EncodeToString(b)
}

// deleteKeys removes every key under prefix (SCAN + UNLINK) when the test ends.
func deleteKeys(tb testing.TB, c *redis.Client, prefix string) {
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, prefix+":*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			tb.Errorf("scan %s: %v", prefix, err)
			return
		}
		for len(keys) > 0 {
			n := min(500, len(keys))
			if err := c.Unlink(ctx, keys[:n]...).Err(); err != nil {
				tb.Errorf("unlink: %v", err)
				return
			}
			keys = keys[n:]
		}
	})
}

func newStore(tb testing.TB, c *redis.Client, prefix string) *redisstore.Store {
	tb.Helper()
	s, err := redisstore.New(c, redisstore.Options{Prefix: prefix, MaxBlock: 100 * time.Millisecond, TextKey: storetest.TextKey})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	c := newClient(t) // one client for all subtests, as in the daemon
	storetest.Run(t, func(t *testing.T) store.Store {
		p := uniquePrefix()
		deleteKeys(t, c, p) // registered first, so it runs after the store's Close
		return newStore(t, c, p)
	})
}

func TestConformanceDefaultMaxBlock(t *testing.T) {
	c := newClient(t)
	p := uniquePrefix()
	deleteKeys(t, c, p)
	s, err := redisstore.New(c, redisstore.Options{Prefix: p})
	if err != nil {
		t.Fatal(err)
	}
	if o := s.Options(); o.MaxBlock != 250*time.Millisecond || o.Group != "dispatch" ||
		o.IndexTTL != 72*time.Hour || o.RecordTTL != 2160*time.Hour || o.UpdateRetries != 100 {
		t.Fatalf("defaults: %+v", o)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	if _, err := s.Claim(ctx, "jio", "c1", 1, time.Minute); !errors.Is(err, context.Canceled) {
		t.Fatalf("Claim: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second { // ~250ms-350ms; generous for loaded CI machines
		t.Fatalf("cancel noticed after %v with MaxBlock 250ms", d)
	}
}

func TestOptions(t *testing.T) {
	c := newClient(t)
	for _, o := range []redisstore.Options{
		{Prefix: "a b"}, {Group: "g\n"}, {IndexTTL: -time.Second}, {MaxBlock: time.Microsecond}, {UpdateRetries: -1},
	} {
		if _, err := redisstore.New(c, o); err == nil {
			t.Errorf("New(%+v): no error", o)
		}
	}
	if _, err := redisstore.New(nil, redisstore.Options{}); err == nil {
		t.Error("New(nil client): no error")
	}
}

func TestOpen(t *testing.T) {
	newClient(t) // fails or skips without Redis
	ctx := context.Background()
	p := uniquePrefix()
	s, err := redisstore.Open(ctx, storetest.RedisURL(), redisstore.Options{Prefix: p})
	if err != nil {
		t.Fatal(err)
	}
	deleteKeys(t, newClient(t), p)
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Ping after Close: %v", err)
	}
	if err := s.Client().Ping(ctx).Err(); !errors.Is(err, redis.ErrClosed) {
		t.Fatalf("Open's client not closed by Close: %v", err)
	}
	if _, err := redisstore.Open(ctx, "http://nope", redisstore.Options{}); err == nil {
		t.Error("Open(http URL): no error")
	}
	_, err = redisstore.Open(ctx, "redis://user:sekrit@127.0.0.1:1/0", redisstore.Options{})
	if err == nil || strings.Contains(err.Error(), "sekrit") {
		t.Errorf("Open on a closed port: %v (must fail without showing the password)", err)
	}
}

func msg(id, carrier string, p store.Priority) *store.Message {
	return &store.Message{ID: id, Account: "a", Carrier: carrier, Priority: p, From: "SMPPDX", To: "919812345678", Text: "hi", AcceptedAt: time.Now()}
}

// TestKeyLayout pins the documented key names: operators look at them, and a Redis Cluster
// places them by their hash tags ({q:<carrier>}, {m<k>.<j>}).
func TestKeyLayout(t *testing.T) {
	c := newClient(t)
	p := uniquePrefix()
	deleteKeys(t, c, p)
	s := newStore(t, c, p)
	ctx := context.Background()
	later := msg("m2", "jio", store.PriorityPromotional)
	later.SendAt = time.Now().Add(time.Hour)
	if err := s.Enqueue(ctx, msg("m1", "jio", store.PriorityOTP), later); err != nil {
		t.Fatal(err)
	}
	if err := s.PutRecord(ctx, &store.Record{ID: "m1"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.IndexCarrierID(ctx, "jio", "ABC", "m1", 1, time.Hour); err != nil {
		t.Fatal(err)
	}
	for key, typ := range map[string]string{
		p + ":{q:jio}:0": "stream", p + ":{q:jio}:sched": "zset", p + ":sched": "set",
		p + ":{m11.42}:rec:m1": "string", p + ":cid:jio:ABC": "string",
	} {
		if got := c.Type(ctx, key).Val(); got != typ {
			t.Errorf("%s is %q, want %q", key, got, typ)
		}
	}
	if v := c.Get(ctx, p+":cid:jio:ABC").Val(); v != "m1|1" {
		t.Errorf("index value %q", v)
	}
	if ttl := c.PTTL(ctx, p+":{m11.42}:rec:m1").Val(); ttl <= 0 || ttl > time.Hour {
		t.Errorf("record TTL %v", ttl)
	}
	// Acked entries do not accumulate in the stream.
	claims, err := s.Claim(ctx, "jio", "c1", 10, 0)
	if err != nil || len(claims) != 1 {
		t.Fatalf("Claim: %d, %v", len(claims), err)
	}
	if err := s.Ack(ctx, "jio", claims...); err != nil {
		t.Fatal(err)
	}
	if n := c.XLen(ctx, p+":{q:jio}:0").Val(); n != 0 {
		t.Errorf("stream holds %d entries after Ack", n)
	}
	// Promoting the last scheduled message of a carrier drops it from the carrier set.
	if n, err := s.PromoteDue(ctx, later.SendAt, 10); err != nil || n != 1 {
		t.Fatalf("PromoteDue: %d, %v", n, err)
	}
	if n := c.Exists(ctx, p+":sched", p+":{q:jio}:sched").Val(); n != 0 {
		t.Errorf("%d scheduling keys left after promoting everything", n)
	}
}

// TestQuarantine: an entry that does not decode is moved aside, not handed out or left to
// block its queue.
func TestQuarantine(t *testing.T) {
	c := newClient(t)
	p := uniquePrefix()
	deleteKeys(t, c, p)
	s := newStore(t, c, p)
	ctx := context.Background()
	if err := c.XAdd(ctx, &redis.XAddArgs{Stream: p + ":{q:jio}:0", Values: []any{"m", "{not json"}}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Enqueue(ctx, msg("good", "jio", store.PriorityOTP)); err != nil {
		t.Fatal(err)
	}
	claims, err := s.Claim(ctx, "jio", "c1", 10, 0)
	if err != nil || len(claims) != 1 || claims[0].Message.ID != "good" {
		t.Fatalf("Claim: %v, %v", claims, err)
	}
	if n := c.LLen(ctx, p+":bad").Val(); n != 1 {
		t.Fatalf("quarantine holds %d", n)
	}
	d, _ := s.Depth(ctx, "jio")
	if d != (store.Depth{Pending: 1, ByPriority: [3]store.PriorityDepth{{Pending: 1}}}) {
		t.Fatalf("Depth %+v", d)
	}
}

// TestStreamsDeleted: the store recovers when its streams (and groups) vanish under it,
// e.g. after an operator's clean-up.
func TestStreamsDeleted(t *testing.T) {
	c := newClient(t)
	p := uniquePrefix()
	deleteKeys(t, c, p)
	s := newStore(t, c, p)
	ctx := context.Background()
	if _, err := s.Claim(ctx, "jio", "c1", 1, 0); err != nil { // creates the groups
		t.Fatal(err)
	}
	if err := c.Del(ctx, p+":{q:jio}:0", p+":{q:jio}:1", p+":{q:jio}:2").Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Enqueue(ctx, msg("m1", "jio", store.PriorityTransactional)); err != nil {
		t.Fatal(err)
	}
	claims, err := s.Claim(ctx, "jio", "c1", 1, time.Second)
	if err != nil || len(claims) != 1 {
		t.Fatalf("Claim after the streams were deleted: %d, %v", len(claims), err)
	}
	if err := c.Del(ctx, p+":{q:jio}:0", p+":{q:jio}:1", p+":{q:jio}:2").Err(); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		_ = s.Enqueue(context.Background(), msg("m2", "jio", store.PriorityOTP))
	}()
	claims, err = s.Claim(ctx, "jio", "c1", 1, 10*time.Second)
	if err != nil || len(claims) != 1 {
		t.Fatalf("waiting Claim after the streams were deleted: %d, %v", len(claims), err)
	}
}

// TestWakeOnSeveralStreams: a waiting Claim for n=1 woken by messages on two priorities at
// once hands out one, and the next Claim the other; none is lost or handed out twice.
func TestWakeOnSeveralStreams(t *testing.T) {
	c := newClient(t)
	p := uniquePrefix()
	deleteKeys(t, c, p)
	s := newStore(t, c, p)
	ctx := context.Background()
	for round := range 20 {
		go func() {
			time.Sleep(20 * time.Millisecond)
			_ = s.Enqueue(context.Background(),
				msg(fmt.Sprintf("p%d", round), "jio", store.PriorityPromotional),
				msg(fmt.Sprintf("o%d", round), "jio", store.PriorityOTP))
		}()
		a, err := s.Claim(ctx, "jio", "c1", 1, 5*time.Second)
		if err != nil || len(a) != 1 {
			t.Fatalf("round %d: first Claim %d, %v", round, len(a), err)
		}
		b, err := s.Claim(ctx, "jio", "c1", 1, 5*time.Second)
		if err != nil || len(b) != 1 {
			t.Fatalf("round %d: second Claim %d, %v", round, len(b), err)
		}
		if a[0].Message.ID == b[0].Message.ID {
			t.Fatalf("round %d: %s claimed twice", round, a[0].Message.ID)
		}
		if err := s.Ack(ctx, "jio", a[0], b[0]); err != nil {
			t.Fatal(err)
		}
	}
	if d, _ := s.Depth(ctx, "jio"); d != (store.Depth{}) {
		t.Fatalf("Depth %+v", d)
	}
}

// TestTwoInstances: two stores (two smppd processes) on one Redis and prefix consume one
// carrier's queue concurrently, each with several consumers, while both enqueue: every
// message is claimed exactly once.
func TestTwoInstances(t *testing.T) {
	const total, perInstance = 5000, 3
	p := uniquePrefix()
	c1, c2 := newClient(t), newClient(t)
	deleteKeys(t, c1, p)
	stores := []*redisstore.Store{newStore(t, c1, p), newStore(t, c2, p)}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var seen sync.Map
	var claimed, dups atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, 2*perInstance+2)
	for i, s := range stores {
		for k := range perInstance {
			wg.Add(1)
			go func() {
				defer wg.Done()
				name := fmt.Sprintf("inst%d-c%d", i, k)
				for claimed.Load() < total {
					claims, err := s.Claim(ctx, "jio", name, 50, 100*time.Millisecond)
					if err != nil {
						errc <- err
						return
					}
					for _, c := range claims {
						if _, dup := seen.LoadOrStore(c.Message.ID, name); dup {
							dups.Add(1)
						}
					}
					claimed.Add(int64(len(claims)))
					if err := s.Ack(ctx, "jio", claims...); err != nil {
						errc <- err
						return
					}
				}
			}()
		}
	}
	for i, s := range stores { // both instances accept messages
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := i * 100; j < total; j += 200 {
				var batch []*store.Message
				for k := j; k < min(j+100, total); k++ {
					batch = append(batch, msg(fmt.Sprintf("m%05d", k), "jio", store.Priority(k%3)))
				}
				if err := s.Enqueue(ctx, batch...); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	// Instance i enqueues the batches starting at 100i, 100i+200, …: together, all of them.
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if claimed.Load() != total || dups.Load() != 0 {
		t.Fatalf("claimed %d of %d, %d twice", claimed.Load(), total, dups.Load())
	}
	for k := range total {
		if _, ok := seen.Load(fmt.Sprintf("m%05d", k)); !ok {
			t.Fatalf("m%05d lost", k)
		}
	}
	if d, err := stores[0].Depth(ctx, "jio"); err != nil || d != (store.Depth{}) {
		t.Fatalf("Depth %+v, %v", d, err)
	}
}

func BenchmarkEnqueueClaimAck(b *testing.B) {
	c := newClient(b)
	p := uniquePrefix()
	deleteKeys(b, c, p)
	storetest.BenchEnqueueClaimAck(b, newStore(b, c, p))
}
