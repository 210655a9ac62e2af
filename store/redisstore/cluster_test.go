package redisstore_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smppd/smppd/internal/redistest"
	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/redisstore"
	"github.com/smppd/smppd/store/storetest"
)

// The same suites as on a single Redis, on a Redis Cluster of three masters started by the
// test (internal/redistest: redis-server --cluster-enabled yes and redis-cli --cluster
// create on loopback ports). Skipped only where redis-server is not installed.

// clusterURL is Open's URL of the cluster: the first node, the others as addr options.
func clusterURL(addrs []string) string {
	return "redis+cluster://" + addrs[0] + "?addr=" + strings.Join(addrs[1:], "&addr=")
}

// openCluster opens a store on the cluster under a fresh prefix; the cluster is thrown away
// with its keys.
func openCluster(t testing.TB, cl *redistest.Cluster) *redisstore.Store {
	t.Helper()
	s, err := redisstore.Open(context.Background(), clusterURL(cl.Addrs()), redisstore.Options{
		Prefix: uniquePrefix(), MaxBlock: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestClusterConformance(t *testing.T) {
	cl := redistest.StartCluster(t, 3, 0)
	c := cl.Client() // one client for all subtests, as in the daemon
	t.Run("Store", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) store.Store {
			s, err := redisstore.New(c, redisstore.Options{Prefix: uniquePrefix(), MaxBlock: 100 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		})
	})
	t.Run("DLR", func(t *testing.T) {
		storetest.RunDLR(t, func(t *testing.T) storetest.DLRStore { return openCluster(t, cl) })
	})
	t.Run("OTP", func(t *testing.T) {
		storetest.RunOTP(t, func(t *testing.T) storetest.OTPStore { return openCluster(t, cl) })
	})
	t.Run("Search", func(t *testing.T) {
		storetest.RunSearch(t, func(t *testing.T) store.Store { return openCluster(t, cl) })
	})
	t.Run("Links", func(t *testing.T) {
		storetest.RunLinks(t, func(t *testing.T) storetest.LinkStore { return openCluster(t, cl) })
	})
}

func TestClusterOpen(t *testing.T) {
	cl := redistest.StartCluster(t, 3, 0)
	ctx := context.Background()
	s := openCluster(t, cl)
	if !s.Cluster() {
		t.Fatal("a store opened with redis+cluster:// does not know it is on a cluster")
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := redisstore.Open(ctx, clusterURL(cl.Addrs())+"&nonsense=1", redisstore.Options{}); err == nil {
		t.Error("unknown option accepted")
	}
	if _, err := redisstore.Open(ctx, "redis+cluster://"+cl.Addrs()[0]+"/3", redisstore.Options{}); err == nil {
		t.Error("a cluster URL with database 3 accepted")
	}
}

// Open with redis+sentinel:// finds the primary through Sentinel; the store is then an
// ordinary single-primary store.
func TestSentinelOpen(t *testing.T) {
	primary := redistest.StartServer(t, redistest.Options{})
	sentinel := redistest.StartSentinel(t, primary, "smppd")
	ctx := context.Background()
	s, err := redisstore.Open(ctx, "redis+sentinel://"+sentinel.Addr()+"/0?master_name=smppd", redisstore.Options{Prefix: uniquePrefix()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Cluster() {
		t.Fatal("a Sentinel store thinks it is on a cluster")
	}
	if err := s.Enqueue(ctx, msg("m1", "jio", store.PriorityOTP)); err != nil {
		t.Fatal(err)
	}
	if d, err := s.Depth(ctx, "jio"); err != nil || d.Ready != 1 {
		t.Fatalf("Depth %+v, %v", d, err)
	}
	if _, err := redisstore.Open(ctx, "redis+sentinel://"+sentinel.Addr()+"/0", redisstore.Options{}); err == nil {
		t.Error("Sentinel URL without master_name accepted")
	}
	if _, err := redisstore.Open(ctx, "redis+nonsense://"+primary.Addr(), redisstore.Options{}); err == nil {
		t.Error("unknown scheme accepted")
	}
}

// TestClusterKeySlots: the store's idea of a key's slot is the cluster's (CLUSTER KEYSLOT),
// and the message shards' tags spread evenly over the masters of a fresh cluster.
func TestClusterKeySlots(t *testing.T) {
	cl := redistest.StartCluster(t, 3, 0)
	c := cl.Client()
	ctx := context.Background()
	s := openCluster(t, cl)
	p := s.Options().Prefix
	for _, k := range []string{"foo", p + ":{q:jio}:0", p + ":sched", s.RecordKey("m1"), s.StreamKey("a}b{c", 0),
		p + ":cid:jio:ABC", "{}x", "x{}y{z}"} {
		want, err := c.ClusterKeySlot(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got := redisstore.KeySlot(k); int64(got) != want {
			t.Errorf("slot of %q: %d, Redis says %d", k, got, want)
		}
	}
	perMaster := map[int]int{}
	for _, tag := range redisstore.ShardTags {
		perMaster[cl.MasterOf(int(redisstore.KeySlot("{"+tag+"}")))]++
	}
	for m := range 3 {
		if n := perMaster[m]; n < 5 || n > 6 {
			t.Errorf("master %d holds %d of the 16 message shards: %v", m, n, perMaster)
		}
	}
}

// openPartial opens a store on a cluster that keeps answering while a master is down, with
// short timeouts so that commands for the dead master fail fast.
func openPartial(t *testing.T, cl *redistest.Cluster) *redisstore.Store {
	t.Helper()
	s, err := redisstore.Open(context.Background(), clusterURL(cl.Addrs())+"&dial_timeout=200ms&read_timeout=500ms&max_redirects=1",
		redisstore.Options{Prefix: uniquePrefix(), MaxBlock: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// idOnOtherMaster returns a message id whose record lives on another master than slot's.
func idOnOtherMaster(t *testing.T, cl *redistest.Cluster, s *redisstore.Store, slot uint16) string {
	t.Helper()
	for i := 0; ; i++ {
		id := fmt.Sprint("msg", i)
		if cl.MasterOf(int(redisstore.KeySlot(s.RecordKey(id)))) != cl.MasterOf(int(slot)) {
			return id
		}
	}
}

func acceptMsg(ctx context.Context, s *redisstore.Store, id string) error {
	m := msg(id, "jio", store.PriorityTransactional)
	r := &store.Record{ID: id, Account: "a", Carrier: "jio", Status: store.StatusAccepted, AcceptedAt: m.AcceptedAt}
	return s.Accept(ctx, []*store.Record{r}, time.Hour, m)
}

// TestClusterAcceptOrder: on a cluster Accept stores the record before the queue entry (they
// are in different slots). With the queue's master down the record is stored alone (an
// orphan that expires); with the record's master down nothing is queued: a message is
// never queued without its record.
func TestClusterAcceptOrder(t *testing.T) {
	cl := redistest.StartCluster(t, 3, 0, "--cluster-require-full-coverage", "no")
	ctx := context.Background()
	s := openPartial(t, cl)
	c := cl.Client()
	queueSlot := redisstore.KeySlot(s.StreamKey("jio", store.PriorityTransactional))
	id := idOnOtherMaster(t, cl, s, queueSlot)
	queueNode := cl.Node(cl.Masters()[cl.MasterOf(int(queueSlot))].Addr)

	queueNode.Kill()
	if err := acceptMsg(ctx, s, id); err == nil {
		t.Fatal("Accept with the queue's master down: no error")
	}
	if ttl := c.PTTL(ctx, s.RecordKey(id)).Val(); ttl <= 0 || ttl > time.Hour {
		t.Fatalf("orphan record's TTL %v: want it stored, expiring", ttl)
	}
	queueNode.Start() // back empty (no persistence), serving its slots again

	id = idOnOtherMaster(t, cl, s, queueSlot)
	cl.Node(cl.Masters()[cl.MasterOf(int(redisstore.KeySlot(s.RecordKey(id))))].Addr).Kill()
	if err := acceptMsg(ctx, s, id); err == nil {
		t.Fatal("Accept with the record's master down: no error")
	}
	deadline := time.Now().Add(10 * time.Second)
	var d store.Depth
	for {
		var err error
		if d, err = s.Depth(ctx, "jio"); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if d != (store.Depth{}) {
		t.Fatalf("queue %+v with the record's master down: a message queued without its record", d)
	}
}

// TestClusterSettleOrder: on a cluster Settle finishes the claim only after the record is
// stored. With the record's master down the claim stays pending (to be taken over and sent
// again: a possible duplicate, never a lost settlement).
func TestClusterSettleOrder(t *testing.T) {
	cl := redistest.StartCluster(t, 3, 0, "--cluster-require-full-coverage", "no")
	ctx := context.Background()
	s := openPartial(t, cl)
	queueSlot := redisstore.KeySlot(s.StreamKey("jio", store.PriorityTransactional))
	id := idOnOtherMaster(t, cl, s, queueSlot)
	if err := acceptMsg(ctx, s, id); err != nil {
		t.Fatal(err)
	}
	claims, err := s.Claim(ctx, "jio", "alpha~1", 1, 0)
	if err != nil || len(claims) != 1 {
		t.Fatalf("Claim: %d, %v", len(claims), err)
	}
	cl.Node(cl.Masters()[cl.MasterOf(int(redisstore.KeySlot(s.RecordKey(id))))].Addr).Kill()
	sent := &store.Record{ID: id, Account: "a", Carrier: "jio", Status: store.StatusSubmitted}
	if err := s.Settle(ctx, store.Settlement{Carrier: "jio", Claim: claims[0], Record: sent}); err == nil {
		t.Fatal("Settle with the record's master down: no error")
	}
	if d, err := s.Depth(ctx, "jio"); err != nil || d.Pending != 1 {
		t.Fatalf("Depth %+v, %v: want the claim still pending", d, err)
	}
}

// TestClusterFailover: a master lost to its replica mid-run; the store carries on once the
// client has found the new master, and nothing acknowledged (and replicated) is lost.
func TestClusterFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a failover")
	}
	cl := redistest.StartCluster(t, 3, 1)
	ctx := context.Background()
	s := openCluster(t, cl)
	carriers := []string{"jio", "airtel", "vi", "bsnl"}
	const each = 50
	for i := range each {
		for _, c := range carriers {
			if err := s.Enqueue(ctx, msg(fmt.Sprint(c, i), c, store.PriorityTransactional)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Replication is asynchronous: wait until every master's replica has acknowledged
	// everything (a replica still in its first sync acknowledges nothing) before losing one.
	if err := s.Client().(*redis.ClusterClient).ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		for end := time.Now().Add(60 * time.Second); ; {
			n, err := m.Do(ctx, "WAIT", 1, 1000).Int()
			if err == nil && n >= 1 {
				return nil
			}
			if time.Now().After(end) {
				return fmt.Errorf("%s: no replica acknowledged within 60s (WAIT: %d, %v)", m.Options().Addr, n, err)
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	// What a failover must keep: every message, acknowledged and replicated.
	for _, c := range carriers {
		if d, err := s.Depth(ctx, c); err != nil || d.Ready != each {
			t.Fatalf("%s before the failover: %+v, %v (the cluster changed masters by itself?)", c, d, err)
		}
	}
	t.Logf("promoted %s at %v", cl.KillMaster(cl.MasterOf(int(redisstore.KeySlot(s.StreamKey("jio", 0))))), time.Now().Format("05.000"))
	got := map[string]bool{}
	deadline := time.Now().Add(30 * time.Second)
	for len(got) < each*len(carriers) && time.Now().Before(deadline) {
		for _, c := range carriers {
			claims, err := s.Claim(ctx, c, "alpha~1", 100, 0)
			if err != nil {
				t.Logf("%v %s: %v", time.Now().Format("05.000"), c, err)
				continue // until the client finds the new master
			}
			for _, cl := range claims {
				got[cl.Message.ID] = true
			}
			if err := s.Ack(ctx, c, claims...); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(got) != each*len(carriers) {
		for _, c := range carriers {
			d, err := s.Depth(ctx, c)
			t.Logf("%s: depth %+v %v", c, d, err)
		}
		// Where is the data? Ask every node itself.
		for _, addr := range cl.Addrs() {
			n := redis.NewClient(&redis.Options{Addr: addr})
			role, _ := n.Do(ctx, "ROLE").Slice()
			keys, err := n.Keys(ctx, "*{q:*").Result()
			var lens []string
			for _, k := range keys {
				lens = append(lens, fmt.Sprintf("%s=%d", k, n.XLen(ctx, k).Val()))
			}
			t.Logf("node %s role %v: %v %v", addr, role, lens, err)
			n.Close()
		}
		if topo, err := cl.Topology(); err == nil {
			t.Logf("topology %+v", topo)
		}
		t.Fatalf("claimed %d of %d after the failover", len(got), each*len(carriers))
	}
}

// BenchmarkGroupCommitAcceptCluster is BenchmarkGroupCommitAccept on a three-master
// cluster: round trips per message count the committer's steps (records, then queue
// entries), each a round trip per node in parallel.
func BenchmarkGroupCommitAcceptCluster(b *testing.B) {
	cl := redistest.StartCluster(b, 3, 0)
	s := openCluster(b, cl)
	ctx := context.Background()
	before := s.CommitStats()
	b.SetParallelism(32)
	var i atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := acceptOne(ctx, s, int(i.Add(1))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	after := s.CommitStats()
	b.ReportMetric(float64(after.Batches-before.Batches)/float64(b.N), "roundtrips/msg")
	b.ReportMetric(float64(after.Commands-before.Commands)/float64(b.N), "commands/msg")
}
