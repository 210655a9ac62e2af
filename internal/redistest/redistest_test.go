package redistest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smppd/smppd/internal/redistest"
)

func TestServerKillKeepsAppendOnlyData(t *testing.T) {
	s := redistest.StartServer(t, redistest.Options{AppendOnly: true})
	ctx := context.Background()
	opts, err := redis.ParseURL(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.Kill()
	if s.Running() {
		t.Fatal("running after Kill")
	}
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("PING answered by a killed server")
	}
	s.Start()
	if v, err := c.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Fatalf("after Kill and Start (fsync always): %q, %v", v, err)
	}
	s.Restart()
	if v, err := c.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Fatalf("after Restart: %q, %v", v, err)
	}
}

func TestServerWithoutPersistenceLosesData(t *testing.T) {
	s := redistest.StartServer(t, redistest.Options{})
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: s.Addr()})
	defer c.Close()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.Kill()
	s.Start()
	if n := c.Exists(ctx, "k").Val(); n != 0 {
		t.Fatal("key survived a restart without persistence")
	}
}

func TestClusterFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts six servers and waits for a failover")
	}
	cl := redistest.StartCluster(t, 3, 1)
	if n := len(cl.Addrs()); n != 6 {
		t.Fatalf("%d nodes", n)
	}
	ms := cl.Masters()
	if len(ms) != 3 {
		t.Fatalf("%d masters: %+v", len(ms), ms)
	}
	c := cl.Client()
	ctx := context.Background()
	// Keys on every master: a cross-slot command fails, a hash-tagged one does not.
	for i := range 100 {
		if err := c.Set(ctx, fmt.Sprint("k", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.MSet(ctx, "a", 1, "b", 2).Err(); err == nil {
		t.Fatal("cross-slot MSET accepted")
	}
	if err := c.MSet(ctx, "{t}a", 1, "{t}b", 2).Err(); err != nil {
		t.Fatalf("same-slot MSET: %v", err)
	}
	// Wait for the replicas to have every write, then lose a master.
	if err := c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		return m.Do(ctx, "WAIT", 1, 5000).Err()
	}); err != nil {
		t.Fatal(err)
	}
	old := ms[1].Addr
	start := time.Now()
	promoted := cl.KillMaster(1)
	t.Logf("master %s failed over to %s in %v", old, promoted, time.Since(start))
	if promoted == old || cl.Node(promoted) == nil {
		t.Fatalf("promoted %q", promoted)
	}
	if got := cl.Masters(); len(got) != 3 || got[1].Addr != promoted {
		t.Fatalf("masters after failover: %+v", got)
	}
	c.ReloadState(ctx) // else the client notices the new master within its reload interval
	for i := range 100 {
		v, err := c.Get(ctx, fmt.Sprint("k", i)).Int()
		if err != nil || v != i {
			t.Fatalf("k%d after failover: %d, %v", i, v, err)
		}
	}
	// The old master comes back as a replica of the new one.
	cl.Revive(old)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var back bool
		if nodes, err := cl.Topology(); err == nil {
			for _, n := range nodes {
				if n.Addr == old && !n.Master && !n.Failed {
					back = true
				}
			}
		}
		if back {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not rejoin as a replica", old)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
