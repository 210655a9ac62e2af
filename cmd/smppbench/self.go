package main

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smppd/smppd/api/smppfront"
	"github.com/smppd/smppd/smsc"
)

//go:embed bench_registry.yaml
var benchRegistry []byte

// simSource reports what reached the operator: new submit_sm since the last poll and the
// receipts sent so far.
type simSource interface {
	poll() (msgs []simMsg, receipts uint64, err error)
	receiptCounters() (SimReceipts, error)
}

type simMsg struct {
	seq  uint64
	dest string
	at   time.Time
}

// inProcessSim reads the simulator the benchmark started itself.
type inProcessSim struct {
	srv  *smsc.Server
	last uint64
}

func (s *inProcessSim) poll() ([]simMsg, uint64, error) {
	var out []simMsg
	for _, m := range s.srv.Messages(smsc.Filter{After: s.last}) {
		out = append(out, simMsg{m.Seq, m.Dest.Addr, m.ReceivedAt})
		s.last = max(s.last, m.Seq)
	}
	return out, s.srv.Counters().ReceiptsSent, nil
}

// httpSim reads a running smscsim through its inspection API.
type httpSim struct {
	base string
	last uint64
	c    *http.Client
}

func (s *httpSim) poll() ([]simMsg, uint64, error) {
	var msgs []struct {
		Seq  uint64 `json:"seq"`
		Dest struct {
			Addr string `json:"addr"`
		} `json:"dest"`
		ReceivedAt time.Time `json:"received_at"`
	}
	if err := s.get("/api/messages?limit=0&after="+strconv.FormatUint(s.last, 10), &msgs); err != nil {
		return nil, 0, err
	}
	var out []simMsg
	for _, m := range msgs {
		out = append(out, simMsg{m.Seq, m.Dest.Addr, m.ReceivedAt})
		s.last = max(s.last, m.Seq)
	}
	var c struct {
		ReceiptsSent uint64 `json:"receipts_sent"`
	}
	if err := s.get("/api/counters", &c); err != nil {
		return nil, 0, err
	}
	return out, c.ReceiptsSent, nil
}

func (s *httpSim) get(path string, v any) error {
	resp, err := s.c.Get(s.base + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d", path, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// selfRun is the simulator and smppd the benchmark started itself: one smppd child (the
// embedded smppdProc, which the benchmark scenarios use), and for the reliability suite
// possibly more (addSmppd) sharing its store prefix, simulator account and API key.
type selfRun struct {
	*smppdProc
	procs   []*smppdProc // every smppd child, the first one included
	sim     *smsc.Server
	o       selfOptions
	key     string
	otpKey  string
	prefix  string
	redis   string
	dir     string
	stopped bool
}

// smppdProc is one smppd child process with a configuration file of its own.
type smppdProc struct {
	name    string // its instance name ("" when smppd's default applies)
	bin     string
	cfgPath string
	target  string // its HTTP API, http://host:port
	// ops is its internal listener (http.metrics_listen, with http.pprof on), http://host:port:
	// /readyz, /metrics and the CPU profile (-cpuprofile) are there, not on the API's.
	ops string
	// frontAddr is its SMPP front (host:port) when selfOptions.front is set.
	frontAddr string
	exited    chan struct{} // closed when the child has exited
	cmd       *exec.Cmd
	logOut    io.Writer
	log       *logTail
	lastPS    procStats
	// startedAt is when the last start began (before exec), readyAt when /readyz first
	// answered 200 after it.
	startedAt, readyAt time.Time
}

type selfOptions struct {
	smppdBin string
	// redisURL is smppd's store.redis_url (redis://, or redis+cluster:// and the like).
	redisURL string
	binds    int
	window   int
	hookURL  string
	logOut   io.Writer
	// logLevel is smppd's log_level. Default: warn.
	logLevel string
	// instance is the first smppd's instance name; "" leaves smppd's default (host-port).
	instance string
	// top is extra top-level lines of the generated smppd configuration (heartbeat_ttl …).
	top string
	// account adjusts the simulated operator's account (faults, receipts) for a scenario.
	account func(*smsc.Account)
	// simOptions adjusts the simulator's options (receipt window and retries).
	simOptions func(*smsc.Options)
	// dispatch, webhooks and store are extra lines (indented two spaces) of those sections
	// of the generated smppd configuration.
	dispatch, webhooks, store string
	// responseTimeout and maxParts tune the carrier (defaults 10s and 10): a short
	// dispatch.reclaim_after needs both small.
	responseTimeout time.Duration
	maxParts        int
	// front, when set, opens smppd's SMPP front on a port of its own (smppdProc.frontAddr)
	// and lets the bench account bind to it.
	front *frontAccount
}

// frontAccount is the bench account's SMPP section (config.AccountSMPP) and its telemarketer
// id: the smpp scenario binds as this aggregator.
type frontAccount struct {
	systemID, password string
	// passwordHash is smppfront.HashPassword(password), what the configuration holds.
	passwordHash string
	window       int
	maxBinds     int
	// tmID is the account's tm_id (TM-AF), one the registry has in ACME's chains.
	tmID string
}

// newFrontAccount makes the bench account's SMPP credentials: system_id bench and a random
// 8-character password (SMPP's limit), hashed as `smppd passwd` would.
func newFrontAccount(window, maxBinds int) (*frontAccount, error) {
	var b [4]byte
	_, _ = rand.Read(b[:])
	fa := &frontAccount{systemID: "bench", password: hex.EncodeToString(b[:]), window: window, maxBinds: maxBinds,
		tmID: benchTMID}
	h, err := smppfront.HashPassword(fa.password)
	if err != nil {
		return nil, err
	}
	fa.passwordHash = h
	return fa, nil
}

// configLines returns the bench account's extra lines (indented as its fields) and the
// top-level smpp_front section listening on addr.
func (fa *frontAccount) configLines(addr string) (account, top string) {
	account = fmt.Sprintf(`    tm_id: %q
    smpp:
      system_id: %s
      password_hash: %q
      window: %d
      max_binds: %d
      rate: -1
`, fa.tmID, fa.systemID, fa.passwordHash, fa.window, fa.maxBinds)
	top = fmt.Sprintf("smpp_front:\n  listen: %s\n", addr)
	return account, top
}

// startSelf starts the simulator in this process and smppd as a child (so its CPU and
// memory are its own), on Redis under a fresh key prefix.
func startSelf(ctx context.Context, o selfOptions) (*selfRun, error) {
	acct := smsc.Account{SystemID: "smppd", Password: "password"}
	if o.account != nil {
		o.account(&acct)
	}
	// The simulator holds (up to 2M) every receipt smppd cannot take yet, as a carrier
	// queues them, instead of dropping beyond its default 100 000.
	simOpts := smsc.Options{EnquireLinkInterval: -1, StoreSize: 2_000_000, HeldDeliveries: 2_000_000, Window: 256,
		Accounts: []smsc.Account{acct}}
	if o.simOptions != nil {
		o.simOptions(&simOpts)
	}
	sim, err := smsc.NewServer(simOpts)
	if err != nil {
		return nil, err
	}
	if o.responseTimeout <= 0 {
		o.responseTimeout = 10 * time.Second
	}
	if o.maxParts <= 0 {
		o.maxParts = 10
	}
	if o.logLevel == "" {
		o.logLevel = "warn"
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	s := &selfRun{sim: sim, o: o, key: "bench" + hex.EncodeToString(b[:]), prefix: "smppdbench-" + hex.EncodeToString(b[:4]), redis: o.redisURL,
		otpKey: hex.EncodeToString(append(b[:], b[:]...)) + hex.EncodeToString(b[:])}
	if s.dir, err = os.MkdirTemp("", "smppbench"); err != nil {
		_ = sim.Close()
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(s.dir, "registry.yaml"), benchRegistry, 0o600); err != nil {
		_ = sim.Close()
		return nil, err
	}
	if _, err := s.addSmppd(ctx, o.instance); err != nil {
		_ = sim.Close()
		_ = os.RemoveAll(s.dir)
		return nil, err
	}
	s.smppdProc = s.procs[0]
	return s, nil
}

// addSmppd writes the configuration of one more smppd child (instance name, an HTTP port of
// its own; store, prefix, carrier and account shared with the others) and starts it. A
// child that fails to start is not added.
func (s *selfRun) addSmppd(ctx context.Context, instance string) (*smppdProc, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	httpAddr := ln.Addr().String()
	ln.Close()
	oln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	opsAddr := oln.Addr().String()
	oln.Close()
	o := s.o
	var frontAddr, accountExtra, frontTop string
	if o.front != nil {
		fl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		frontAddr = fl.Addr().String()
		fl.Close()
		accountExtra, frontTop = o.front.configLines(frontAddr)
	}
	top := o.top
	if instance != "" {
		top = "instance: " + instance + "\n" + top
	}
	cfg := fmt.Sprintf(`
log_level: %s
%shttp:
  listen: %s
  metrics_listen: %s
  pprof: true
store:
  type: redis
  redis_url: %s
  prefix: %s
%sdlt:
  registry: registry.yaml
carriers:
  - name: sim
    text:
      max_parts: %d
    binds:
      - addrs: [%q]
        system_id: smppd
        password: password
        count: %d
        window: %d
        response_timeout: %s
accounts:
  - name: bench
    api_keys: [%q]
    rate_limit: 100000
    sender_ids: [ACMEIN]
    dlt_entity: "1101557290000055412"
    otp_template: "1107161234567890001"
    webhook_url: %q
%s%sotp:
  key: %s
  send_limit: -1
webhooks:
  allow_private: true
  per_host_concurrency: 32   # every webhook of the run goes to the one receiver
%sdispatch:
  claim_wait: 200ms
%s`, o.logLevel, top, httpAddr, opsAddr, o.redisURL, s.prefix, o.store, o.maxParts, s.sim.Addr(), o.binds, o.window, o.responseTimeout,
		s.key, o.hookURL, accountExtra, frontTop, s.otpKey, o.webhooks, o.dispatch)
	name := "smppd.yaml"
	if len(s.procs) > 0 {
		name = fmt.Sprintf("smppd-%d.yaml", len(s.procs)+1)
	}
	p := &smppdProc{name: instance, bin: o.smppdBin, cfgPath: filepath.Join(s.dir, name), target: "http://" + httpAddr, ops: "http://" + opsAddr,
		frontAddr: frontAddr, logOut: o.logOut, log: &logTail{}}
	if err := os.WriteFile(p.cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	if err := p.startSmppd(ctx); err != nil {
		return nil, err
	}
	s.procs = append(s.procs, p)
	return p, nil
}

// startSmppd starts the smppd child and waits until it is ready.
func (s *smppdProc) startSmppd(ctx context.Context) error {
	s.cmd = exec.Command(s.bin, "-config", s.cfgPath)
	var out io.Writer = s.log
	if s.logOut != nil {
		out = io.MultiWriter(s.log, s.logOut)
	}
	s.cmd.Stdout, s.cmd.Stderr = out, out
	s.startedAt, s.readyAt = time.Now(), time.Time{}
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(exited) }()
	s.exited = exited
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.ops + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				s.readyAt = time.Now()
				return nil
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("smppd exited before it was ready: %v; its last log lines:\n%s", s.cmd.ProcessState, s.log.tail(10))
		default:
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			_ = s.cmd.Process.Kill()
			<-exited
			return fmt.Errorf("smppd did not become ready within 30s; its last log lines:\n%s", s.log.tail(10))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// running reports whether the child is up.
func (s *smppdProc) running() bool {
	if s.exited == nil {
		return false
	}
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// kill stops the smppd child with SIGKILL, as a crash would, and waits until it is gone.
func (s *smppdProc) kill() {
	if !s.running() {
		return
	}
	s.sample()
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// terminate stops the smppd child gracefully (SIGTERM), or kills it after 30s.
func (s *smppdProc) terminate() {
	if !s.running() {
		return
	}
	s.sample()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// sample reads smppd's CPU and peak RSS while it runs.
func (s *smppdProc) sample() procStats {
	if s.cmd == nil || s.cmd.Process == nil {
		return s.lastPS
	}
	if ps, ok := readProc(s.cmd.Process.Pid); ok {
		s.lastPS = ps
	}
	return s.lastPS
}

// stop ends every smppd gracefully, the simulator, and deletes the run's Redis keys (on a
// single Redis; a cluster's are left to the cluster's end).
func (s *selfRun) stop() {
	if s.stopped {
		return
	}
	s.stopped = true
	var wg sync.WaitGroup
	for _, p := range s.procs {
		wg.Add(1)
		go func() { defer wg.Done(); p.terminate() }()
	}
	wg.Wait()
	_ = s.sim.Close()
	if opt, err := redis.ParseURL(s.redis); err == nil {
		c := redis.NewClient(opt)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		iter := c.Scan(ctx, 0, s.prefix+":*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		cancel()
		_ = c.Close()
	}
	_ = os.RemoveAll(s.dir)
}

// logTail keeps the last lines an smppd child wrote (at most logTailBytes), for failure
// messages.
type logTail struct {
	mu  sync.Mutex
	buf []byte
}

const logTailBytes = 256 << 10

func (l *logTail) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.buf = append(l.buf, p...)
	if len(l.buf) > logTailBytes {
		l.buf = append(l.buf[:0], l.buf[len(l.buf)-logTailBytes/2:]...)
	}
	l.mu.Unlock()
	return len(p), nil
}

// tail returns the last n lines.
func (l *logTail) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	lines := strings.Split(strings.TrimRight(string(l.buf), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// grep returns the lines that contain any of words, at most n (the last ones).
func (l *logTail) grep(n int, words ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range strings.Split(string(l.buf), "\n") {
		for _, w := range words {
			if strings.Contains(line, w) {
				out = append(out, line)
				break
			}
		}
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return out
}

// findSmppd returns the smppd binary: the flag, next to this executable, on PATH, or built
// from this module with go build.
func findSmppd(flagPath string, logOut io.Writer) (string, error) {
	if flagPath != "" {
		return flagPath, nil
	}
	if exe, err := os.Executable(); err == nil {
		if p := filepath.Join(filepath.Dir(exe), "smppd"); isExec(p) {
			return p, nil
		}
	}
	if p, err := exec.LookPath("smppd"); err == nil {
		return p, nil
	}
	dir, err := os.MkdirTemp("", "smppd-bin")
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, "smppd")
	fmt.Fprintln(logOut, "building smppd …")
	if out, err := exec.Command("go", "build", "-o", p, "github.com/smppd/smppd/cmd/smppd").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build smppd: %v\n%s", err, out)
	}
	return p, nil
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}
