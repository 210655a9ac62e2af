//go:build reliability

// The reliability suite: smppd under load through crashes and outages, counting every
// message from HTTP acceptance to webhook. Not part of `make test`; run it with
//
//	make reliability        # go test -tags reliability -v -run Reliability ./cmd/smppbench/
//
// Each scenario starts its own redis-server (append-only file, fsync always), the simulator
// and the smppd binary, sends R1 TRANS_SMS at a steady rate, injects its fault, lets the
// pipeline settle, and prints accepted / submitted / receipted / webhooked / lost /
// duplicated. The expected answer is zero lost.
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smppd/smppd/smpp/smsc"
)

// redisServer is a redis-server of the test's own, with the durability settings of
// deploy/redis-smppd.conf, that can be stopped and started again on the same data.
type redisServer struct {
	t    *testing.T
	dir  string
	port int
	cmd  *exec.Cmd
}

func startRedis(t *testing.T) *redisServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	r := &redisServer{t: t, dir: t.TempDir(), port: port}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *redisServer) url() string { return "redis://127.0.0.1:" + strconv.Itoa(r.port) + "/0" }

func (r *redisServer) start() {
	r.cmd = exec.Command("redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--dir", r.dir,
		"--appendonly", "yes", "--appendfsync", "always", "--save", "", "--maxmemory-policy", "noeviction")
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("redis-server: %v (install Debian's redis-server)", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(r.port)); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatal("redis-server did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop kills Redis outright (SIGKILL): only what reached the append-only file survives.
func (r *redisServer) stop() {
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
		_, _ = r.cmd.Process.Wait()
	}
}

type env struct {
	self  *selfRun
	redis *redisServer
	hook  *atomic.Int32
}

type scenario struct {
	name    string
	account func(*smsc.Account)
	fault   func(t *testing.T, e *env)
}

var scenarios = []scenario{
	{name: "smppd SIGKILL under load", fault: func(t *testing.T, e *env) {
		e.self.kill()
		time.Sleep(500 * time.Millisecond)
		if err := e.self.startSmppd(context.Background()); err != nil {
			t.Fatal(err)
		}
	}},
	{name: "carrier disconnect storm", account: func(a *smsc.Account) {
		a.Faults.DisconnectEvery = 700 * time.Millisecond
	}},
	{name: "webhook receiver outage", fault: func(t *testing.T, e *env) {
		e.hook.Store(hookFailing)
		time.Sleep(2 * time.Second)
		e.hook.Store(hookDown)
		time.Sleep(2 * time.Second)
		e.hook.Store(hookUp)
	}},
	{name: "Redis restart", fault: func(t *testing.T, e *env) {
		e.redis.stop()
		time.Sleep(time.Second)
		e.redis.start()
	}},
}

func TestReliability(t *testing.T) {
	bin, err := findSmppd(os.Getenv("SMPPD_BIN"), os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	var report []string
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			line := runScenario(t, bin, sc)
			report = append(report, line)
		})
	}
	fmt.Println()
	fmt.Printf("%-28s %9s %9s %9s %9s %5s %10s\n", "scenario", "accepted", "submitted", "receipted", "webhooked", "lost", "duplicated")
	for _, l := range report {
		fmt.Println(l)
	}
}

func runScenario(t *testing.T, bin string, sc scenario) string {
	ctx := context.Background()
	rs := startRedis(t)
	tr := newTracker()
	var mode atomic.Int32
	hookURL, stopHooks, err := webhookReceiver(tr, &mode)
	if err != nil {
		t.Fatal(err)
	}
	defer stopHooks()
	self, err := startSelf(ctx, selfOptions{smppdBin: bin, redisURL: rs.url(), binds: 2, window: 50, hookURL: hookURL,
		logOut: testLog{t}, account: sc.account,
		dispatch: "  reclaim_after: 4s\n  hold_limit: 1s\n", webhooks: "  timeout: 2s\n  lease: 3s\n",
		responseTimeout: time.Second, maxParts: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer self.stop()
	e := &env{self: self, redis: rs, hook: &mode}
	sim := &inProcessSim{srv: self.sim}

	l := &load{client: &http.Client{Timeout: 5 * time.Second}, target: self.target, key: self.key, scenario: "r1", track: tr}
	loadDone := make(chan struct{})
	go func() { l.run(ctx, 20, 300, 8*time.Second); close(loadDone) }()
	if sc.fault != nil {
		time.Sleep(3 * time.Second)
		sc.fault(t, e)
	}
	<-loadDone

	// Settle: every accepted message reaches the operator and its webhook arrives.
	accepted := int(l.messages.Load())
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		msgs, _, _ := sim.poll()
		for _, m := range msgs {
			tr.submitted(normalise(m.dest), m.at)
		}
		if tr.unhooked() == 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	msgs, receipts, _ := sim.poll()
	for _, m := range msgs {
		tr.submitted(normalise(m.dest), m.at)
	}
	copies := map[string]int{}
	for _, m := range self.sim.Messages(smsc.Filter{}) {
		if m.Status == "ESME_ROK" {
			copies[normalise(m.Dest.Addr)]++
		}
	}
	tr.mu.Lock()
	// Lost: accepted (the client got Success) and never webhooked. A message the client gave
	// up on while smppd accepted it is not counted as accepted, and still gets its webhook.
	lost, submittedAccepted, dupSubmits := 0, 0, 0
	for d := range tr.accepted {
		if copies[d] > 0 {
			submittedAccepted++
		}
		if _, ok := tr.hookAt[d]; !ok {
			lost++
		}
	}
	for _, n := range copies {
		if n > 1 {
			dupSubmits += n - 1
		}
	}
	webhooked := tr.webhooks
	dupHooks := tr.duplicateHooks
	tr.mu.Unlock()
	line := fmt.Sprintf("%-28s %9d %9d %9d %9d %5d %4d sms %2d hooks", sc.name, accepted, submittedAccepted, receipts, webhooked, lost, dupSubmits, dupHooks)
	t.Log(line)
	if accepted == 0 {
		t.Fatalf("nothing accepted: %v", l.firstErrors)
	}
	if lost != 0 || submittedAccepted != accepted {
		t.Errorf("lost %d (accepted %d, submitted %d, webhooked %d)", lost, accepted, submittedAccepted, webhooked)
	}
	return line
}

type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	if os.Getenv("SMPPD_LOG") != "" {
		w.t.Log(string(p))
	}
	return len(p), nil
}
