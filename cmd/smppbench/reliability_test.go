//go:build reliability

// The reliability suite: smppd under load through crashes and outages, counting every
// message from HTTP acceptance to webhook. Not part of `make test`; run it with
//
//	make reliability        # go test -tags reliability -v -run Reliability ./cmd/smppbench/
//
// Each scenario starts its own Redis (a redis-server with the append-only file and fsync
// always, or a Redis Cluster), the simulator and the smppd binary (one or two instances),
// sends R1 TRANS_SMS at a steady rate, injects its fault, lets the pipeline settle, and
// prints accepted / submitted / receipted / webhooked / lost / duplicated and the recovery
// time: from the end of the fault (the restart, the kill of an instance that is not
// restarted) until every message accepted before the fault has reached the simulator and
// its webhook has arrived. The expected answer is zero lost.
//
// smppd runs on its defaults where they matter to recovery: dispatch.reclaim_after (5m),
// webhooks.lease (2m) and heartbeat_ttl (6s), so a crash is recovered by the takeover of
// dead instances' claims, not by short timeouts. SMPPD_LOG=1 prints smppd's log;
// SMPPD_LOG_LEVEL sets its level (default warn).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smppd/smppd/internal/redistest"
	"github.com/smppd/smppd/smsc"
)

// Load of every scenario: R1 single at loadRate requests/s from loadConcurrency workers
// for loadDuration; faults start loadBeforeFault into it.
const (
	loadConcurrency = 20
	loadRate        = 300
	loadDuration    = 8 * time.Second
	loadBeforeFault = 3 * time.Second
	// settleFor bounds the wait, after the load, for every accepted message's webhook.
	settleFor = 150 * time.Second
	// heartbeatTTL is smppd's default heartbeat_ttl: how long a dead instance keeps its
	// claims from the others.
	heartbeatTTL = 6 * time.Second
	// binds is the carrier's binds[].count (with bind leases, the deployment's total), and
	// window each bind's window.
	binds  = 2
	window = 50
)

// env is what a scenario's fault acts on, and what it records for the report.
type env struct {
	t       *testing.T
	self    *selfRun
	redis   *redistest.Server  // nil on a cluster
	cluster *redistest.Cluster // nil on a single Redis
	hook    *atomic.Int32
	loads   []*load
	binds   *bindMonitor

	// faultAt: messages accepted before it make the cohort whose delivery measures recovery;
	// recoverFrom: recovery counts from here (the restart; the kill when nothing restarts).
	// Zero: no recovery measured (storms that last the whole run).
	faultAt, recoverFrom time.Time
	// recoverWhat names recoverFrom for the report ("the restart").
	recoverName string
	notes       []string
}

func (e *env) recoverWhat() string {
	if e.recoverName != "" {
		return e.recoverName
	}
	return "the fault's end"
}

func (e *env) note(format string, args ...any) {
	e.notes = append(e.notes, fmt.Sprintf(format, args...))
}

type scenario struct {
	name    string
	account func(*smsc.Account)
	// instances is how many smppd share the store (default 1); the load is split evenly.
	instances int
	// cluster runs on a Redis Cluster of 3 masters, each with a replica.
	cluster bool
	// options adjusts the generated smppd configuration.
	options func(t *testing.T, o *selfOptions, e *env)
	fault   func(t *testing.T, e *env)
	// recoveryLimit, when set, is the recovery the scenario must achieve.
	recoveryLimit time.Duration
	// zeroDuplicates asserts that no message reached the simulator twice.
	zeroDuplicates bool
	// dupLimit, when set, bounds the messages that may reach the simulator twice: a
	// message is sent again only if its submit_sm was outstanding when its process died, so
	// at most the dead instance's windows (binds × window).
	dupLimit int
	// lossExpected: lost messages are reported, not a failure (asynchronous replication).
	lossExpected bool
	// ready, when set, runs once smppd is up, before the load starts (waits for a state).
	ready func(t *testing.T, e *env)
	// check runs after settling, for the scenario's own assertions and notes.
	check func(t *testing.T, e *env, o *outcome)
}

var scenarios = []scenario{
	{name: "smppd SIGKILL + restart", account: carrierLatency, recoveryLimit: 15 * time.Second, dupLimit: binds * window, fault: func(t *testing.T, e *env) {
		// As systemd's Restart=always does: at once, same configuration (so the same
		// instance name), no pause.
		e.faultAt = time.Now()
		e.self.kill()
		err := e.self.startSmppd(context.Background())
		e.recoverFrom, e.recoverName = e.self.startedAt, "the restart"
		if err != nil {
			t.Fatal(err)
		}
		e.note("restarted %.0fms after the SIGKILL, ready %.2fs after the restart", e.recoverFrom.Sub(e.faultAt).Seconds()*1000, e.self.readyAt.Sub(e.self.startedAt).Seconds())
	}},
	{name: "one of two smppd SIGKILLed", instances: 2, account: carrierLatency, dupLimit: binds * window, recoveryLimit: heartbeatTTL + 5*time.Second,
		fault: func(t *testing.T, e *env) {
			dead := e.self.procs[1]
			e.faultAt = time.Now()
			e.binds.markKill()
			dead.kill()
			e.recoverFrom, e.recoverName = e.faultAt, "the kill"
			// The load balancer takes the dead instance out of rotation.
			live := e.self.procs[0].target
			e.loads[1].redirect.Store(&live)
		},
		ready: waitBindsShared, check: checkBindsAfterKill},
	{name: "carrier disconnect storm", account: func(a *smsc.Account) {
		a.Faults.DisconnectEvery = 700 * time.Millisecond
	}},
	{name: "carrier unbind storm", zeroDuplicates: true, account: func(a *smsc.Account) {
		// Submits stay in flight 20–80ms; each bind unbinds once 8 of its submits are
		// answered-but-held, and still answers them after the unbind_resp. smppd rebinds and
		// the next bind unbinds again: a storm for the whole run.
		a.Latency = smsc.Latency{Min: 20 * time.Millisecond, Max: 80 * time.Millisecond}
		a.Faults.UnbindMidWindow = 8
	}, check: func(t *testing.T, e *env, o *outcome) {
		c := e.self.sim.Counters()
		e.note("simulator unbound %d binds mid-window (%d binds accepted, %d submits answered ESME_RINVBNDSTS)",
			c.Unbinds, c.BindsAccepted, c.ByStatus["ESME_RINVBNDSTS"])
		if c.Unbinds < 3 {
			t.Errorf("only %d unbinds: the storm did not happen", c.Unbinds)
		}
	}},
	{name: "webhook receiver outage", fault: func(t *testing.T, e *env) {
		e.faultAt = time.Now()
		e.hook.Store(hookFailing)
		time.Sleep(2 * time.Second)
		e.hook.Store(hookDown)
		time.Sleep(2 * time.Second)
		e.hook.Store(hookUp)
		e.recoverFrom, e.recoverName = time.Now(), "the receiver came back"
	}},
	{name: "Redis restart", recoveryLimit: 15 * time.Second, fault: func(t *testing.T, e *env) {
		e.faultAt = time.Now()
		e.redis.Kill()
		time.Sleep(time.Second)
		e.redis.Start()
		e.recoverFrom, e.recoverName = time.Now(), "Redis was back"
	}},
	{name: "Redis Cluster master killed", cluster: true, lossExpected: true, options: clusterOptions, fault: killQueueMaster},
}

// carrierLatency makes the simulator answer submits in 100–300ms, as carriers do, so that
// an smppd killed under load has a window's worth of submits in flight: claims the
// takeover must resend.
func carrierLatency(a *smsc.Account) {
	a.Latency = smsc.Latency{Min: 100 * time.Millisecond, Max: 300 * time.Millisecond}
}

func TestReliability(t *testing.T) {
	bin, err := findSmppd(os.Getenv("SMPPD_BIN"), os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	var report []*outcome
	for _, sc := range scenarios {
		o := &outcome{name: sc.name}
		report = append(report, o)
		t.Run(sc.name, func(t *testing.T) {
			defer func() {
				switch {
				case t.Skipped():
				case t.Failed() && o.status == "":
					o.status = "failed"
				}
			}()
			runScenario(t, bin, sc, o)
		})
	}
	fmt.Println()
	fmt.Printf("%-30s %9s %9s %9s %9s %5s %14s %9s\n", "scenario", "accepted", "submitted", "receipted", "webhooked", "lost", "duplicated", "recovery")
	for _, o := range report {
		fmt.Println(o.line())
	}
	for _, o := range report {
		for _, n := range o.notes {
			fmt.Printf("  %s: %s\n", o.name, n)
		}
	}
}

// outcome is a scenario's line of the report.
type outcome struct {
	name                                 string
	ran                                  bool
	accepted, submitted                  int
	receipts                             uint64
	webhooked, lost, dupSMS, dupHooks    int
	recovery                             time.Duration
	recovered                            bool // recovery was measured and every cohort message completed
	status                               string
	notes                                []string
	cohort, cohortPending, cohortPreSent int
}

func (o *outcome) line() string {
	if !o.ran {
		st := o.status
		if st == "" {
			st = "not run"
		}
		return fmt.Sprintf("%-30s %s", o.name, st)
	}
	rec := "-"
	if o.recovered {
		rec = fmt.Sprintf("%.1fs", o.recovery.Seconds())
	} else if o.cohortPending > 0 {
		rec = "never"
	}
	s := fmt.Sprintf("%-30s %9d %9d %9d %9d %5d %4d sms %2d hooks %9s", o.name, o.accepted, o.submitted, o.receipts, o.webhooked, o.lost, o.dupSMS, o.dupHooks, rec)
	if o.status != "" {
		s += "  " + o.status
	}
	return s
}

func runScenario(t *testing.T, bin string, sc scenario, out *outcome) {
	ctx := context.Background()
	tr := newTracker()
	var mode atomic.Int32
	hookURL, stopHooks, err := webhookReceiver(tr, &mode)
	if err != nil {
		t.Fatal(err)
	}
	defer stopHooks()
	e := &env{t: t, hook: &mode}
	defer func() { out.notes = append(out.notes, e.notes...) }()

	so := selfOptions{smppdBin: bin, binds: binds, window: window, hookURL: hookURL,
		logOut: testLog{t: t, name: "smppd"}, logLevel: os.Getenv("SMPPD_LOG_LEVEL"), account: sc.account,
		// hold_limit only bounds how long claims wait in memory for a carrier that is down
		// (the disconnect storm); reclaim_after, webhooks.lease and heartbeat_ttl stay at
		// their defaults, which is what a crash is recovered by.
		dispatch: "  hold_limit: 1s\n", webhooks: "  timeout: 2s\n"}
	if sc.cluster {
		e.cluster = redistest.StartCluster(t, 3, 1)
	} else {
		e.redis = redistest.StartServer(t, redistest.Options{AppendOnly: true, Fsync: "always"})
		so.redisURL = e.redis.URL()
	}
	if sc.instances > 1 {
		so.instance = "a"
	}
	if sc.options != nil {
		sc.options(t, &so, e)
	}
	self, err := startSelf(ctx, so)
	if err != nil {
		if sc.cluster {
			// smppd refused the cluster (or could not run on it): the scenario is written
			// but cannot run with this smppd.
			out.status = "not run: smppd did not start on the Redis Cluster: " + lastLine(err.Error())
			e.note("%v", err)
			t.Skip(out.status)
		}
		t.Fatal(err)
	}
	defer self.stop()
	e.self = self
	for i := 1; i < max(1, sc.instances); i++ {
		so.logOut = testLog{t: t, name: fmt.Sprintf("smppd-%c", 'a'+i)}
		self.o.logOut = so.logOut
		if _, err := self.addSmppd(ctx, string(rune('a'+i))); err != nil {
			t.Fatal(err)
		}
	}
	e.binds = watchBinds(self.sim, "smppd")
	defer e.binds.stop()
	if sc.ready != nil {
		sc.ready(t, e)
	}
	sim := &inProcessSim{srv: self.sim}
	out.ran = true
	defer func() {
		if t.Failed() {
			for _, p := range self.procs {
				lines := p.log.grep(30, `"level":"warn"`, `"level":"error"`, "panic", "fatal")
				if len(lines) > 0 {
					t.Logf("smppd %s: its last warnings and errors:\n%s", p.target, strings.Join(lines, "\n"))
				}
			}
		}
	}()

	// The load, split evenly over the instances; each has destinations of its own.
	var wg sync.WaitGroup
	for i, p := range self.procs {
		l := &load{client: &http.Client{Timeout: 5 * time.Second}, target: p.target, key: self.key, scenario: "r1", track: tr}
		l.next.Store(uint64(i) * 100_000_000)
		e.loads = append(e.loads, l)
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := len(self.procs)
			l.run(ctx, loadConcurrency/n, float64(loadRate)/float64(n), loadDuration)
		}()
	}
	// Poll the simulator meanwhile, so submit times are seen as they happen.
	pollStop := make(chan struct{})
	pollDone := make(chan struct{})
	var simMu sync.Mutex
	pollSim := func() uint64 {
		simMu.Lock()
		defer simMu.Unlock()
		msgs, receipts, _ := sim.poll()
		for _, m := range msgs {
			tr.submitted(normalise(m.dest), m.at)
		}
		return receipts
	}
	go func() {
		defer close(pollDone)
		tk := time.NewTicker(100 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-pollStop:
				return
			case <-tk.C:
				pollSim()
			}
		}
	}()
	if sc.fault != nil {
		time.Sleep(loadBeforeFault) // let the load build up
		sc.fault(t, e)
	}
	wg.Wait()

	// Settle: every accepted message reaches the operator and its webhook arrives. Longer
	// than webhooks.lease (2m), so a webhook job stuck under a live instance's lease shows
	// as a recovery of minutes rather than a loss.
	deadline := time.Now().Add(settleFor)
	for time.Now().Before(deadline) && tr.unhooked() > 0 {
		time.Sleep(100 * time.Millisecond)
	}
	close(pollStop)
	<-pollDone
	out.receipts = pollSim()

	accepted := 0
	for _, l := range e.loads {
		accepted += int(l.messages.Load())
	}
	copies := map[string]int{}
	lastCopy := map[string]time.Time{}
	for _, m := range self.sim.Messages(smsc.Filter{}) {
		d := normalise(m.Dest.Addr)
		if m.Status == "ESME_ROK" {
			copies[d]++
		}
		if m.ReceivedAt.After(lastCopy[d]) {
			lastCopy[d] = m.ReceivedAt
		}
	}
	tr.mu.Lock()
	// Lost: accepted (the client got Success) and never webhooked. A message the client gave
	// up on while smppd accepted it is not counted as accepted, and still gets its webhook.
	var lostAt []time.Time
	var lostDests []string
	submittedAccepted := 0
	for d, at := range tr.accepted {
		if copies[d] > 0 {
			submittedAccepted++
		}
		if _, ok := tr.hookAt[d]; !ok {
			lostAt = append(lostAt, at)
			lostDests = append(lostDests, d)
		}
	}
	for _, n := range copies {
		if n > 1 {
			out.dupSMS += n - 1
		}
	}
	out.webhooked, out.dupHooks = tr.webhooks, tr.duplicateHooks
	tr.mu.Unlock()
	out.accepted, out.submitted, out.lost = accepted, submittedAccepted, len(lostAt)

	if !e.faultAt.IsZero() {
		first, all, n, pending, preDone := tr.completion(e.faultAt, lastCopy)
		out.cohort, out.cohortPending, out.cohortPreSent = n, pending, preDone
		if pending == 0 && n > 0 {
			out.recovered = true
			out.recovery = max(0, all.Sub(e.recoverFrom))
			e.note("recovery %.2fs after %s: %d messages accepted before the fault, %d of them unfinished when it began; each had its first submit_sm and webhook by %.2fs, the last resend or repeated webhook came at %.2fs",
				out.recovery.Seconds(), e.recoverWhat(), n, n-preDone, max(0, first.Sub(e.recoverFrom)).Seconds(), out.recovery.Seconds())
		} else {
			e.note("not recovered: %d messages accepted before the fault, %d of them unfinished when it began, %d never submitted or webhooked", n, n-preDone, pending)
		}
	}
	if len(lostAt) > 0 && !e.faultAt.IsZero() {
		slices.SortFunc(lostAt, func(a, b time.Time) int { return a.Compare(b) })
		e.note("lost messages were accepted from %+.3fs to %+.3fs relative to the fault",
			lostAt[0].Sub(e.faultAt).Seconds(), lostAt[len(lostAt)-1].Sub(e.faultAt).Seconds())
	}
	if sc.check != nil {
		sc.check(t, e, out)
	}
	if len(lostDests) > 0 {
		diagnose(t, e, lostDests)
	}
	t.Log(out.line())
	if accepted == 0 {
		t.Fatalf("nothing accepted: %v", e.loads[0].firstErrors)
	}
	if out.lost != 0 || submittedAccepted != accepted {
		if sc.lossExpected {
			out.status = fmt.Sprintf("(%d lost: acknowledged writes not yet replicated)", out.lost)
		} else {
			t.Errorf("lost %d (accepted %d, submitted %d, webhooked %d)", out.lost, accepted, submittedAccepted, out.webhooked)
		}
	}
	if sc.zeroDuplicates && out.dupSMS != 0 {
		t.Errorf("%d messages reached the simulator twice", out.dupSMS)
	}
	if sc.dupLimit > 0 && out.dupSMS > sc.dupLimit {
		t.Errorf("%d messages reached the simulator twice: more than the dead instance's windows (%d)", out.dupSMS, sc.dupLimit)
	}
	if sc.recoveryLimit > 0 {
		switch {
		case !out.recovered:
			t.Errorf("not recovered: %d of %d messages accepted before the fault never completed", out.cohortPending, out.cohort)
		case out.recovery > sc.recoveryLimit:
			t.Errorf("recovery took %.1fs, want under %s", out.recovery.Seconds(), sc.recoveryLimit)
		}
	}
}

// completion looks at the messages accepted before t (the cohort): how many there are, how
// many never got both a submit_sm at the simulator and a webhook (pending), how many had
// both before t, and when the cohort was done: first, when the last of them had its first
// submit_sm and first webhook (what the customer sees); all, when the last copy of any of
// them reached the simulator or the last webhook (duplicates included) arrived, that is
// when smppd had finished every claim and webhook lease the fault left behind (a message
// taken over from a dead instance may have reached the operator before the crash and be
// sent again after it). lastCopy is each destination's last submit_sm at the simulator.
func (tr *tracker) completion(t time.Time, lastCopy map[string]time.Time) (first, all time.Time, n, pending, doneBefore int) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	latest := func(a, b time.Time) time.Time {
		if b.After(a) {
			return b
		}
		return a
	}
	for d, at := range tr.accepted {
		if !at.Before(t) {
			continue
		}
		n++
		sent, ok1 := tr.sent[d]
		hook, ok2 := tr.hookAt[d]
		if !ok1 || !ok2 {
			pending++
			continue
		}
		done := latest(sent, hook)
		if done.Before(t) {
			doneBefore++
		}
		first = latest(first, done)
		all = latest(all, latest(done, latest(lastCopy[d], tr.hookLast[d])))
	}
	return first, all, n, pending, doneBefore
}

// bindMonitor samples the simulator's bound sessions of one account every few
// milliseconds: the most it saw at once, and when the count changed.
type bindMonitor struct {
	sim      *smsc.Server
	systemID string
	quit     chan struct{}
	done     chan struct{}

	mu      sync.Mutex
	max     int
	cur     map[uint64]bool
	killAt  time.Time
	atKill  map[uint64]bool // bound at the kill
	goneAt  time.Time       // when the first bind of atKill went away
	fullAt  time.Time       // after goneAt: when the account had its binds back
	maxPost int             // most binds at once after the kill
}

func watchBinds(sim *smsc.Server, systemID string) *bindMonitor {
	m := &bindMonitor{sim: sim, systemID: systemID, quit: make(chan struct{}), done: make(chan struct{}), cur: map[uint64]bool{}}
	go m.run()
	return m
}

func (m *bindMonitor) run() {
	defer close(m.done)
	tk := time.NewTicker(5 * time.Millisecond)
	defer tk.Stop()
	for {
		select {
		case <-m.quit:
			return
		case <-tk.C:
		}
		now := time.Now()
		ids := map[uint64]bool{}
		for _, b := range m.sim.Binds() {
			if b.SystemID == m.systemID {
				ids[b.ID] = true
			}
		}
		m.mu.Lock()
		m.cur = ids
		m.max = max(m.max, len(ids))
		if !m.killAt.IsZero() {
			m.maxPost = max(m.maxPost, len(ids))
			if m.goneAt.IsZero() {
				for id := range m.atKill {
					if !ids[id] {
						m.goneAt = now
						break
					}
				}
			}
			if !m.goneAt.IsZero() && m.fullAt.IsZero() && len(ids) >= binds {
				m.fullAt = now
			}
		}
		m.mu.Unlock()
	}
}

// markKill notes the binds present just before an instance is killed.
func (m *bindMonitor) markKill() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.killAt = time.Now()
	m.atKill = map[uint64]bool{}
	for id := range m.cur {
		m.atKill[id] = true
	}
}

func (m *bindMonitor) stop() {
	select {
	case <-m.quit:
	default:
		close(m.quit)
	}
	<-m.done
}

// checkBindsAfterKill reports the binds of the two-instance scenario: the most the
// simulator saw at once (with bind leases, never more than configured), and whether the
// survivor took the dead instance's binds over.
func checkBindsAfterKill(t *testing.T, e *env, o *outcome) {
	m := e.binds
	leases := bindLeases(e.self)
	m.mu.Lock()
	mx, atKill, now := m.max, len(m.atKill), len(m.cur)
	goneAt, fullAt, killAt := m.goneAt, m.fullAt, m.killAt
	m.mu.Unlock()
	e.note("binds at the simulator: at most %d at once (configured %d in total), %d bound at the kill, %d now", mx, binds, atKill, now)
	if !leases {
		e.note("bind leases: not in this smppd (no lease metrics; every instance binds binds[].count of its own), so the bind checks are reported, not asserted")
		return
	}
	if mx > binds {
		t.Errorf("the simulator saw %d binds at once, configured %d in total", mx, binds)
	}
	switch {
	case goneAt.IsZero():
		t.Errorf("the dead instance's binds never went away at the simulator")
	case fullAt.IsZero():
		t.Errorf("the survivor did not take the dead instance's binds over: %d of %d bound at the end", now, binds)
	default:
		e.note("the simulator had all %d binds bound again %.1fs after the kill", binds, fullAt.Sub(killAt).Seconds())
	}
	// Every slot is the survivor's now.
	b, err := readyzVerbose(e.self.procs[0])
	n := 0
	for _, s := range b.Binds {
		if s.Local && s.Bound {
			n++
		}
	}
	if err != nil || n != binds {
		t.Errorf("the survivor %s holds %d of %d binds (%v)", b.Member, n, binds, err)
	} else {
		e.note("the survivor %s holds all %d binds", b.Member, n)
	}
}

// readyBinds is what /readyz?verbose=1 says of the bind slots.
type readyBinds struct {
	Member string `json:"member"`
	Binds  []struct {
		Slot   string `json:"slot"`
		Holder string `json:"holder"`
		Local  bool   `json:"local"`
		Bound  bool   `json:"bound"`
	} `json:"binds"`
}

func readyzVerbose(p *smppdProc) (readyBinds, error) {
	var b readyBinds
	resp, err := http.Get(p.ops + "/readyz?verbose=1")
	if err != nil {
		return b, err
	}
	defer resp.Body.Close()
	return b, json.NewDecoder(resp.Body).Decode(&b)
}

// waitBindsShared waits (at most 30s) until, with bind leases, every instance has its fair
// share of the binds bound, so that the instance killed holds binds of its own.
func waitBindsShared(t *testing.T, e *env) {
	if !bindLeases(e.self) {
		return
	}
	start := time.Now()
	share := binds / len(e.self.procs)
	for {
		ok := true
		var state []string
		for _, p := range e.self.procs {
			b, err := readyzVerbose(p)
			n := 0
			for _, s := range b.Binds {
				if s.Local && s.Bound {
					n++
				}
			}
			state = append(state, fmt.Sprintf("%s holds %d bound", b.Member, n))
			if err != nil || n < share {
				ok = false
			}
		}
		if ok {
			e.note("bind leases shared %.1fs after the start: %s", time.Since(start).Seconds(), strings.Join(state, ", "))
			return
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("the instances did not share the binds within 30s: %s", strings.Join(state, ", "))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// bindLeases reports whether smppd shares binds between instances through leases: then its
// /metrics has bind lease series.
func bindLeases(s *selfRun) bool {
	for _, p := range s.procs {
		if !p.running() {
			continue
		}
		resp, err := http.Get(p.ops + "/metrics")
		if err != nil {
			continue
		}
		var b strings.Builder
		_, _ = io.Copy(&b, resp.Body)
		resp.Body.Close()
		for _, line := range strings.Split(b.String(), "\n") {
			if f := strings.Fields(line); len(f) > 2 && f[0] == "#" && f[1] == "HELP" && strings.HasPrefix(f[2], "smppd_") &&
				strings.Contains(strings.ReplaceAll(f[2], "release", ""), "lease") {
				return true
			}
		}
		return false
	}
	return false
}

// clusterOptions points smppd at the scenario's Redis Cluster, and asks for replicated
// writes when smppd's configuration has a setting for it.
func clusterOptions(t *testing.T, o *selfOptions, e *env) {
	addrs := e.cluster.Addrs()
	u := "redis+cluster://" + addrs[0]
	for i, a := range addrs[1:] {
		if i == 0 {
			u += "?"
		} else {
			u += "&"
		}
		u += "addr=" + a
	}
	o.redisURL = u
	if key, ok := waitReplicasKey(o.smppdBin); ok {
		o.store = "  " + key + ": 1\n"
		e.note("store.%s: 1 (writes acknowledged only once a replica has them)", key)
	} else {
		e.note("smppd has no setting to wait for replicas (store.wait_replicas): writes are acknowledged before they are replicated")
	}
}

// waitReplicasKey finds the store setting that makes smppd wait for replicas (Redis WAIT),
// by asking smppd -check whether it knows one of the likely names.
func waitReplicasKey(bin string) (string, bool) {
	dir, err := os.MkdirTemp("", "smppbench-check")
	if err != nil {
		return "", false
	}
	defer os.RemoveAll(dir)
	check := func(storeLine string) error {
		cfg := "store:\n  type: redis\n" + storeLine + "carriers:\n  - name: sim\n    binds:\n      - addrs: [\"127.0.0.1:1\"]\n        system_id: x\n        password: x\n"
		p := filepath.Join(dir, "check.yaml")
		if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
			return err
		}
		if out, err := exec.Command(bin, "-config", p, "-check").CombinedOutput(); err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}
	if check("") != nil {
		return "", false // the probe itself is not a valid configuration: cannot tell
	}
	for _, key := range []string{"wait_replicas", "min_replicas", "replicas"} {
		if check("  "+key+": 1\n") == nil {
			return key, true
		}
	}
	return "", false
}

// killQueueMaster kills (SIGKILL) the master serving the carrier's message queue, waits for
// its replica to take over, and records the failover.
func killQueueMaster(t *testing.T, e *env) {
	masters := e.cluster.Masters()
	idx := 0
	key := queueKey(e)
	if key != "" {
		slot := e.cluster.Client().ClusterKeySlot(context.Background(), key).Val()
		if i := e.cluster.MasterOf(int(slot)); i >= 0 {
			idx = i
		}
	}
	behind := replicationLag(e.cluster, masters[idx])
	e.faultAt = time.Now()
	e.recoverFrom, e.recoverName = e.faultAt, "the kill"
	promoted := e.cluster.KillMaster(idx)
	e.note("killed master %s (serving the queue %q), replica %s promoted %.1fs later; just before the kill the replica was %s behind",
		masters[idx].Addr, key, promoted, time.Since(e.faultAt).Seconds(), behind)
}

// replicationLag says how far master i's replicas are behind it: each replica's offset is
// read first, then the master's (so the figure is an upper bound, by the writes of the
// moment between), as bytes of the replication stream: what a kill now loses of writes the
// master acknowledged.
func replicationLag(cl *redistest.Cluster, master redistest.NodeInfo) string {
	offset := func(addr string) (int64, error) {
		c := redis.NewClient(&redis.Options{Addr: addr})
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		info, err := c.Info(ctx, "replication").Result()
		if err != nil {
			return 0, err
		}
		for _, line := range strings.Split(info, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "master_repl_offset:"); ok {
				var n int64
				_, err := fmt.Sscan(v, &n)
				return n, err
			}
		}
		return 0, fmt.Errorf("%s: no master_repl_offset", addr)
	}
	nodes, err := cl.Topology()
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	var out []string
	for _, n := range nodes {
		if n.MasterID != master.ID {
			continue
		}
		r, err := offset(n.Addr)
		if err != nil {
			return "unknown (" + err.Error() + ")"
		}
		m, err := offset(master.Addr)
		if err != nil {
			return "unknown (" + err.Error() + ")"
		}
		out = append(out, fmt.Sprintf("%d bytes", max(0, m-r)))
	}
	if len(out) == 0 {
		return "unknown (no replica)"
	}
	return strings.Join(out, ", ")
}

// queueKey finds the carrier's message stream: a stream key of the run's prefix naming the
// carrier's queue (q:sim).
func queueKey(e *env) string {
	c := e.cluster.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var mu sync.Mutex
	found := ""
	_ = c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		iter := n.Scan(ctx, 0, e.self.prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			k := iter.Val()
			if strings.Contains(k, "q:sim") && n.Type(ctx, k).Val() == "stream" {
				mu.Lock()
				found = k
				mu.Unlock()
			}
		}
		return nil
	})
	return found
}

// diagnose logs where the lost messages stand in Redis: the run's streams with their
// consumer groups and pending entries, sets and lists by size, and the records of a few
// lost messages (on a cluster, of every master).
func diagnose(t *testing.T, e *env, lost []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	want := map[string]bool{}
	for _, d := range lost[:min(len(lost), 5)] {
		want[d] = true
	}
	var mu sync.Mutex
	var b strings.Builder
	types := map[string]int{}
	node := func(ctx context.Context, c *redis.Client) error {
		mu.Lock()
		defer mu.Unlock()
		iter := c.Scan(ctx, 0, e.self.prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			k := iter.Val()
			typ, err := c.Type(ctx, k).Result()
			if err != nil {
				fmt.Fprintf(&b, "%s: %v\n", k, err)
			}
			types[typ]++
			switch typ {
			case "stream":
				fmt.Fprintf(&b, "stream %s: %d entries\n", k, c.XLen(ctx, k).Val())
				for _, g := range c.XInfoGroups(ctx, k).Val() {
					fmt.Fprintf(&b, "  group %s: pending %d, last delivered %s, lag %d\n", g.Name, g.Pending, g.LastDeliveredID, g.Lag)
					if g.Pending > 0 {
						for _, p := range c.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: k, Group: g.Name, Start: "-", End: "+", Count: 5}).Val() {
							fmt.Fprintf(&b, "    pending %s consumer %s idle %s delivered %d times\n", p.ID, p.Consumer, p.Idle.Round(time.Millisecond), p.RetryCount)
						}
					}
				}
			case "zset":
				fmt.Fprintf(&b, "zset %s: %d\n", k, c.ZCard(ctx, k).Val())
			case "list":
				fmt.Fprintf(&b, "list %s: %d\n", k, c.LLen(ctx, k).Val())
			case "string":
				if strings.Contains(k, ":rec:") {
					v := c.Get(ctx, k).Val()
					for d := range want {
						if strings.Contains(v, d) {
							fmt.Fprintf(&b, "record of lost %s: %.600s\n", d, v)
						}
					}
				}
			}
		}
		if err := iter.Err(); err != nil {
			fmt.Fprintf(&b, "scan: %v\n", err)
		}
		return nil
	}
	if e.cluster != nil {
		_ = e.cluster.Client().ForEachMaster(ctx, node)
	} else {
		opt, err := redis.ParseURL(e.redis.URL())
		if err != nil {
			return
		}
		c := redis.NewClient(opt)
		defer c.Close()
		_ = node(ctx, c)
	}
	t.Logf("Redis state after settling (%d lost; keys by type %v):\n%s", len(lost), types, b.String())
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndexByte(s, '\n')+1:]
}

type testLog struct {
	t    *testing.T
	name string
}

func (w testLog) Write(p []byte) (int, error) {
	if os.Getenv("SMPPD_LOG") != "" {
		w.t.Log(w.name + ": " + strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}
