package redisstore_test

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smppd/smppd/internal/wait"
	"github.com/smppd/smppd/store"
)

// TestLeaseKeyLayout pins the bind lease keys, their hash tag and which of them expire.
func TestLeaseKeyLayout(t *testing.T) {
	c := newClient(t)
	p := uniquePrefix()
	deleteKeys(t, c, p)
	s := newStore(t, c, p)
	ctx := context.Background()
	l, ok, err := s.AcquireBind(ctx, "jio-trx-0.0", "a~1", 300*time.Millisecond)
	if err != nil || !ok {
		t.Fatalf("AcquireBind: %v %v", ok, err)
	}
	slotKey, fence, index := p+":{lease}:bind:jio-trx-0.0", p+":{lease}:fence", p+":{lease}:binds"
	if v := c.Get(ctx, slotKey).Val(); v != "1|a~1" || l.Token != 1 {
		t.Errorf("%s = %q, lease %+v; want \"1|a~1\"", slotKey, v, l)
	}
	if ttl := c.PTTL(ctx, slotKey).Val(); ttl <= 0 || ttl > 300*time.Millisecond {
		t.Errorf("%s TTL %v", slotKey, ttl)
	}
	if ttl := c.PTTL(ctx, index).Val(); ttl < 200*time.Millisecond || ttl > 300*time.Millisecond {
		t.Errorf("%s TTL %v, want about the lease's", index, ttl)
	}
	if ttl := c.PTTL(ctx, fence).Val(); ttl != -1 {
		t.Errorf("%s TTL %v: the fencing counter must not expire", fence, ttl)
	}
	for _, k := range []string{slotKey, fence, index} {
		if tag := hashTag(k); tag != "lease" {
			t.Errorf("%s has hash tag %q, want \"lease\" (every lease key in one cluster slot)", k, tag)
		}
	}
	// A lapsed slot leaves the index at the next listing; the index itself lapses with
	// the last lease, the fence stays.
	if !wait.Until(5*time.Second, func() bool { return c.Exists(ctx, slotKey).Val() == 0 }) {
		t.Fatal("slot key did not expire")
	}
	if ls, err := s.BindLeases(ctx, ""); err != nil || len(ls) != 0 {
		t.Fatalf("BindLeases after the lapse: %v, %v", ls, err)
	}
	if !wait.Until(5*time.Second, func() bool { return c.Exists(ctx, index).Val() == 0 }) {
		t.Errorf("%s outlived every lease", index)
	}
	if c.Get(ctx, fence).Val() != "1" {
		t.Errorf("fence lost")
	}
}

// TestRenewBindsOneRoundTrip: renewing every lease of an instance is one command.
func TestRenewBindsOneRoundTrip(t *testing.T) {
	c := newClient(t)
	p := uniquePrefix()
	deleteKeys(t, c, p)
	s := newStore(t, c, p)
	ctx := context.Background()
	held := []string{"jio-trx-0.0", "jio-trx-0.1", "jio-trx-0.2", "airtel-tx-0.0", "airtel-rx-1.0"}
	leases := make([]store.BindLease, 0, len(held))
	for _, slot := range held {
		l, ok, err := s.AcquireBind(ctx, slot, "a~1", time.Minute)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		leases = append(leases, l)
	}
	if _, err := s.RenewBinds(ctx, time.Minute, leases...); err != nil { // loads the script
		t.Fatal(err)
	}
	var n atomic.Int64
	c.AddHook(countHook{&n})
	errs, err := s.RenewBinds(ctx, time.Minute, leases...)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range errs {
		if e != nil {
			t.Fatalf("lease %d: %v", i, e)
		}
	}
	if got := n.Load(); got != 1 {
		t.Fatalf("RenewBinds of %d leases took %d round trips, want 1", len(leases), got)
	}
}

type countHook struct{ n *atomic.Int64 }

func (h countHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) { return next(ctx, network, addr) }
}

func (h countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.n.Add(1); return next(ctx, cmd) }
}

func (h countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { h.n.Add(1); return next(ctx, cmds) }
}

// hashTag is the part of key that Redis Cluster hashes: between the first '{' and the
// next '}', when not empty.
func hashTag(key string) string {
	_, rest, ok := strings.Cut(key, "{")
	if !ok {
		return ""
	}
	tag, _, ok := strings.Cut(rest, "}")
	if !ok {
		return ""
	}
	return tag
}
