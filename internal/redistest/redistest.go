// Package redistest runs throwaway redis-server processes for tests: a single server
// (StartServer) that can be stopped, killed and started again on the same port and data, and
// a Redis Cluster (StartCluster) whose masters can be killed to watch a replica take over.
//
// Every server listens on a free loopback port, keeps its files in a t.TempDir() and is
// killed when the test ends. The helpers need the redis-server and redis-cli binaries of
// Redis 7.0 or later on PATH; without redis-server the test is skipped (CI installs Debian's
// redis-server package, so there the tests always run). Like t.Fatal, the methods that can
// fail must be called from the test's goroutine.
package redistest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Options configure StartServer. The zero value is a fast, non-durable server: no
// append-only file, no snapshots, maxmemory-policy noeviction.
type Options struct {
	// AppendOnly turns the append-only file on, so that Kill and Start keep what was
	// acknowledged (as deploy/redis-smppd.conf does in production).
	AppendOnly bool
	// Fsync is appendfsync when AppendOnly: "always" (default), "everysec" or "no".
	Fsync string
	// Args are further redis-server arguments, e.g. "--maxmemory", "64mb".
	Args []string
}

// StartTimeout bounds how long a server may take to answer PING after it is started
// (loading a large append-only file included).
const StartTimeout = 20 * time.Second

// Server is one redis-server process. Its port and directory stay the same across Stop,
// Kill and Start, so a restarted server finds its data (with AppendOnly) and, in a cluster,
// its nodes.conf.
type Server struct {
	t    testing.TB
	bin  string
	port int
	dir  string
	conf string // a config file to read first (a sentinel's), or ""
	args []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// StartServer starts a redis-server on a free loopback port and waits until it answers
// PING. It skips the test when redis-server is not installed and fails it when the server
// does not come up. The server is killed when the test ends.
func StartServer(t testing.TB, opts Options) *Server {
	t.Helper()
	bin := lookBin(t, "redis-server")
	args := []string{"--save", "", "--maxmemory-policy", "noeviction"}
	if opts.AppendOnly {
		fsync := opts.Fsync
		if fsync == "" {
			fsync = "always"
		}
		args = append(args, "--appendonly", "yes", "--appendfsync", fsync)
	} else {
		args = append(args, "--appendonly", "no")
	}
	args = append(args, opts.Args...)
	return startServer(t, bin, args, false)
}

// startServer starts a server with args (after the port, bind and directory ones), and with
// busPort a cluster bus port of its own (cluster-port, Redis 7: the default, port+10000, may
// be taken or beyond 65535). A port taken by someone else between choosing and binding is
// retried with another.
func startServer(t testing.TB, bin string, args []string, busPort bool) *Server {
	t.Helper()
	var last error
	for try := 0; try < 5; try++ {
		ports := freePorts(t, 2)
		s := &Server{t: t, bin: bin, port: ports[0], dir: t.TempDir()}
		s.args = slices.Clone(args)
		if busPort {
			s.args = append(s.args, "--cluster-port", strconv.Itoa(ports[1]))
		}
		if last = s.start(); last == nil {
			t.Cleanup(s.Kill)
			return s
		}
		s.Kill()
	}
	t.Fatalf("redistest: %v", last)
	return nil
}

// StartSentinel starts a Redis Sentinel monitoring primary under name (quorum 1,
// down-after-milliseconds 1000), for clients that find the primary through Sentinel. It is
// killed when the test ends.
func StartSentinel(t testing.TB, primary *Server, name string) *Server {
	t.Helper()
	bin := lookBin(t, "redis-server")
	var last error
	for try := 0; try < 5; try++ {
		s := &Server{t: t, bin: bin, port: freePorts(t, 1)[0], dir: t.TempDir(), args: []string{"--sentinel"}}
		// Sentinel rewrites its config file, so it must be a file of its own.
		s.conf = filepath.Join(s.dir, "sentinel.conf")
		conf := fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 1\nsentinel down-after-milliseconds %s 1000\n", name, primary.port, name)
		if err := os.WriteFile(s.conf, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		if last = s.start(); last == nil {
			t.Cleanup(s.Kill)
			return s
		}
		s.Kill()
	}
	t.Fatalf("redistest: sentinel: %v", last)
	return nil
}

// lookBin finds a Redis binary or skips the test.
func lookBin(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("redistest: %s not installed (%v); CI installs it", name, err)
	}
	return p
}

// freePorts returns n distinct loopback ports that were free a moment ago.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, 0, n)
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("redistest: free port: %v", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// Addr is host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// URL is redis://host:port/0.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Dir is the server's working directory (append-only file, nodes.conf, redis.log).
func (s *Server) Dir() string { return s.dir }

// Running reports whether the process is up (it may still be loading).
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running()
}

func (s *Server) running() bool {
	if s.done == nil {
		return false
	}
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// start launches the process and waits for PING.
func (s *Server) start() error {
	s.mu.Lock()
	if s.running() {
		s.mu.Unlock()
		return fmt.Errorf("redis-server on %s already running", s.Addr())
	}
	var args []string
	if s.conf != "" {
		args = append(args, s.conf)
	}
	args = append(args, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1", "--dir", s.dir,
		"--logfile", "redis.log", "--daemonize", "no")
	args = append(args, s.args...)
	cmd := exec.Command(s.bin, args...)
	setParentDeath(cmd)
	if err := cmd.Start(); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("start redis-server: %w", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()

	c := redis.NewClient(&redis.Options{Addr: s.Addr(), DialTimeout: time.Second, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(StartTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err() // LOADING while the append-only file is read
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("redis-server on %s exited at start: %s", s.Addr(), s.LogTail(20))
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server on %s not answering after %v: %v; log: %s", s.Addr(), StartTimeout, err, s.LogTail(20))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Start starts a stopped or killed server again on the same port and directory and waits
// until it answers PING; it fails the test if it does not.
func (s *Server) Start() {
	s.t.Helper()
	if err := s.start(); err != nil {
		s.t.Fatalf("redistest: %v", err)
	}
}

// Stop shuts the server down gracefully (SIGTERM: Redis flushes the append-only file) and
// waits for the process to exit.
func (s *Server) Stop() { s.signal(false) }

// Kill kills the server outright (SIGKILL): only what reached the append-only file
// survives, as on a crash. Killing a stopped server does nothing.
func (s *Server) Kill() { s.signal(true) }

// Restart is Stop then Start.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.Start()
}

func (s *Server) signal(kill bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running() {
		return
	}
	if kill {
		_ = s.cmd.Process.Kill()
	} else {
		_ = s.cmd.Process.Signal(os.Interrupt) // SIGINT: Redis shuts down as on SIGTERM
	}
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// LogTail returns the last n lines of the server's log, for failure messages.
func (s *Server) LogTail(n int) string {
	f, err := os.Open(filepath.Join(s.dir, "redis.log"))
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// Cluster is a Redis Cluster of throwaway servers on loopback ports.
type Cluster struct {
	t     testing.TB
	nodes []*Server

	mu   sync.Mutex
	held map[string]net.Listener // ports of killed nodes, kept from other tests (holdPort)
}

// ClusterNodeTimeout is the cluster-node-timeout of test clusters: a killed master is
// failed over by its replica within a few times this. Not shorter: on a loaded two-core
// machine (the race-enabled test run) a second let replicas promote themselves while their
// master was only slow, losing what it had not replicated yet.
const ClusterNodeTimeout = 3 * time.Second

// StartCluster starts masters × (1 + replicasPerMaster) cluster-enabled servers, joins
// them with redis-cli --cluster create (the slots spread evenly over the masters) and waits
// until every node reports cluster_state:ok with all 16384 slots served and every replica
// is in sync. args are further redis-server arguments for every node (e.g.
// "--cluster-require-full-coverage", "no", to keep the other masters answering while one is
// down). It skips the test when redis-server or redis-cli is not installed. The nodes are
// killed when the test ends.
func StartCluster(t testing.TB, masters, replicasPerMaster int, args ...string) *Cluster {
	t.Helper()
	if masters < 3 {
		t.Fatalf("redistest: a cluster needs at least 3 masters, not %d", masters)
	}
	bin := lookBin(t, "redis-server")
	cli := lookBin(t, "redis-cli")
	args = append([]string{"--save", "", "--appendonly", "no", "--maxmemory-policy", "noeviction",
		"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
		"--cluster-node-timeout", strconv.FormatInt(ClusterNodeTimeout.Milliseconds(), 10),
		// A replica may always take over, however long it was cut off (tests kill masters).
		"--cluster-replica-validity-factor", "0"}, args...)
	c := &Cluster{t: t}
	total := masters * (1 + replicasPerMaster)
	for range total {
		c.nodes = append(c.nodes, startServer(t, bin, args, true))
	}
	create := append([]string{"--cluster", "create"}, c.allAddrs()...)
	create = append(create, "--cluster-replicas", strconv.Itoa(replicasPerMaster), "--cluster-yes")
	out, err := exec.Command(cli, create...).CombinedOutput()
	if err != nil {
		t.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	if err := c.waitHealthy(30*time.Second, total); err != nil {
		t.Fatalf("redistest: cluster not ready: %v", err)
	}
	return c
}

// Addrs are the addresses of every node, masters and replicas (seeds for a cluster client).
func (c *Cluster) Addrs() []string { return c.allAddrs() }

func (c *Cluster) allAddrs() []string {
	out := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.Addr()
	}
	return out
}

// Nodes are the servers, e.g. to Start a killed node again (it rejoins as a replica).
func (c *Cluster) Nodes() []*Server { return slices.Clone(c.nodes) }

// Node returns the server at addr, or nil.
func (c *Cluster) Node(addr string) *Server {
	for _, n := range c.nodes {
		if n.Addr() == addr {
			return n
		}
	}
	return nil
}

// Client returns a cluster client on the nodes, closed when the test ends.
func (c *Cluster) Client() *redis.ClusterClient {
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.allAddrs()})
	c.t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// Close kills every node. The test's end does it anyway.
func (c *Cluster) Close() {
	for _, n := range c.nodes {
		n.Kill()
	}
}

// NodeInfo is one line of CLUSTER NODES.
type NodeInfo struct {
	ID, Addr string
	Master   bool   // flags have "master"
	Failed   bool   // flags have "fail" or "fail?"
	MasterID string // of a replica
	Slots    []string
}

// firstSlot is the lowest slot a master serves (-1 for none).
func (n NodeInfo) firstSlot() int {
	low := -1
	for _, r := range n.Slots {
		if strings.HasPrefix(r, "[") { // a slot being migrated
			continue
		}
		a, _, _ := strings.Cut(r, "-")
		v, err := strconv.Atoi(a)
		if err == nil && (low < 0 || v < low) {
			low = v
		}
	}
	return low
}

// Serves reports whether the node serves slot (not counting slots being migrated).
func (n NodeInfo) Serves(slot int) bool {
	for _, r := range n.Slots {
		if strings.HasPrefix(r, "[") {
			continue
		}
		a, b, ok := strings.Cut(r, "-")
		lo, err1 := strconv.Atoi(a)
		hi := lo
		var err2 error
		if ok {
			hi, err2 = strconv.Atoi(b)
		}
		if err1 == nil && err2 == nil && lo <= slot && slot <= hi {
			return true
		}
	}
	return false
}

// MasterOf returns the index (see Masters) of the master serving slot, or -1.
func (c *Cluster) MasterOf(slot int) int {
	c.t.Helper()
	for i, m := range c.Masters() {
		if m.Serves(slot) {
			return i
		}
	}
	return -1
}

// Topology returns CLUSTER NODES as one running node sees it.
func (c *Cluster) Topology() ([]NodeInfo, error) {
	var last error
	for _, n := range c.nodes {
		if !n.Running() {
			continue
		}
		nodes, err := clusterNodes(n.Addr())
		if err == nil {
			return nodes, nil
		}
		last = err
	}
	if last == nil {
		last = errors.New("no node running")
	}
	return nil, last
}

func clusterNodes(addr string) ([]NodeInfo, error) {
	cl := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second, MaxRetries: -1})
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	txt, err := cl.ClusterNodes(ctx).Result()
	if err != nil {
		return nil, err
	}
	var out []NodeInfo
	for _, line := range strings.Split(strings.TrimSpace(txt), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		addr, _, _ := strings.Cut(f[1], "@")
		flags := strings.Split(f[2], ",")
		ni := NodeInfo{ID: f[0], Addr: addr, Master: slices.Contains(flags, "master"),
			Failed: slices.Contains(flags, "fail") || slices.Contains(flags, "fail?")}
		if f[3] != "-" {
			ni.MasterID = f[3]
		}
		ni.Slots = f[8:]
		out = append(out, ni)
	}
	return out, nil
}

// Masters are the masters serving slots, ordered by the lowest slot they serve: master i is
// the one serving the i-th range, also after a failover.
func (c *Cluster) Masters() []NodeInfo {
	c.t.Helper()
	nodes, err := c.Topology()
	if err != nil {
		c.t.Fatalf("redistest: cluster nodes: %v", err)
	}
	return mastersOf(nodes)
}

func mastersOf(nodes []NodeInfo) []NodeInfo {
	var ms []NodeInfo
	for _, n := range nodes {
		if n.Master && !n.Failed && n.firstSlot() >= 0 {
			ms = append(ms, n)
		}
	}
	slices.SortFunc(ms, func(a, b NodeInfo) int { return a.firstSlot() - b.firstSlot() })
	return ms
}

// KillMaster kills master i (see Masters) with SIGKILL, waits until one of its replicas has
// taken over its slots and the cluster is healthy again, and returns the promoted replica's
// address. It fails the test if the master has no replica or none takes over in time.
func (c *Cluster) KillMaster(i int) string {
	c.t.Helper()
	ms := c.Masters()
	if i < 0 || i >= len(ms) {
		c.t.Fatalf("redistest: KillMaster(%d) of %d masters", i, len(ms))
	}
	m := ms[i]
	nodes, err := c.Topology()
	if err != nil {
		c.t.Fatalf("redistest: cluster nodes: %v", err)
	}
	replicas := map[string]bool{}
	for _, n := range nodes {
		if n.MasterID == m.ID {
			replicas[n.ID] = true
		}
	}
	if len(replicas) == 0 {
		c.t.Fatalf("redistest: master %s has no replica to take over", m.Addr)
	}
	srv := c.Node(m.Addr)
	if srv == nil {
		c.t.Fatalf("redistest: master %s is not a node of this cluster", m.Addr)
	}
	srv.Kill()
	c.holdPort(m.Addr)
	deadline := time.Now().Add(30*time.Second + 10*ClusterNodeTimeout)
	for {
		nodes, err := c.Topology()
		if err == nil {
			for _, n := range mastersOf(nodes) {
				if replicas[n.ID] && n.firstSlot() == m.firstSlot() && c.healthy(-1) == nil {
					return n.Addr
				}
			}
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("redistest: no replica of %s took over: %v", m.Addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// holdPort keeps a killed node's port taken until the test ends, refusing every connection
// (accept, then close), as a dead host would answer. Without it, another test's redis-server
// started meanwhile on a free port may get it, and a client that still has the dead node in
// its slot map would read that unrelated server's (empty) data without any error.
func (c *Cluster) holdPort(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		c.t.Logf("redistest: cannot hold the port of killed node %s: %v", addr, err)
		return
	}
	c.mu.Lock()
	if c.held == nil {
		c.held = map[string]net.Listener{}
	}
	c.held[addr] = ln
	c.mu.Unlock()
	c.t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			_ = conn.Close()
		}
	}()
}

// Revive starts a node KillMaster killed again, on its port and data (it rejoins as a
// replica of the master that took over).
func (c *Cluster) Revive(addr string) {
	c.t.Helper()
	c.mu.Lock()
	if ln := c.held[addr]; ln != nil {
		_ = ln.Close()
		delete(c.held, addr)
	}
	c.mu.Unlock()
	n := c.Node(addr)
	if n == nil {
		c.t.Fatalf("redistest: %s is not a node of this cluster", addr)
	}
	n.Start()
}

// waitHealthy polls until healthy(want) holds.
func (c *Cluster) waitHealthy(timeout time.Duration, want int) error {
	deadline := time.Now().Add(timeout)
	for {
		err := c.healthy(want)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// healthy checks every running node: cluster_state ok with all slots served, want known
// nodes (-1: any number), and each replica's link to its master up.
func (c *Cluster) healthy(want int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, n := range c.nodes {
		if !n.Running() {
			continue
		}
		cl := redis.NewClient(&redis.Options{Addr: n.Addr(), DialTimeout: time.Second, MaxRetries: -1})
		info, err := cl.ClusterInfo(ctx).Result()
		if err != nil {
			cl.Close()
			return fmt.Errorf("%s: cluster info: %w", n.Addr(), err)
		}
		kv := fields(info)
		repl, err := cl.Info(ctx, "replication").Result()
		cl.Close()
		if err != nil {
			return fmt.Errorf("%s: info: %w", n.Addr(), err)
		}
		rv := fields(repl)
		switch {
		case kv["cluster_state"] != "ok":
			return fmt.Errorf("%s: cluster_state %s", n.Addr(), kv["cluster_state"])
		case kv["cluster_slots_ok"] != "16384":
			return fmt.Errorf("%s: %s slots ok", n.Addr(), kv["cluster_slots_ok"])
		case want >= 0 && kv["cluster_known_nodes"] != strconv.Itoa(want):
			return fmt.Errorf("%s: knows %s nodes, want %d", n.Addr(), kv["cluster_known_nodes"], want)
		case rv["role"] == "slave" && rv["master_link_status"] != "up":
			return fmt.Errorf("%s: replica link %s", n.Addr(), rv["master_link_status"])
		}
	}
	return nil
}

// fields parses INFO-style "key:value" lines.
func fields(s string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok {
			m[k] = v
		}
	}
	return m
}
