package smpp

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/smppd/smppd/internal/wait"
)

type eventLog struct {
	mu     sync.Mutex
	events []Event
}

func (l *eventLog) add(e Event) { l.mu.Lock(); l.events = append(l.events, e); l.mu.Unlock() }

func (l *eventLog) kinds() []EventKind {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]EventKind, len(l.events))
	for i, e := range l.events {
		out[i] = e.Kind
	}
	return out
}

func (l *eventLog) count(k EventKind) int {
	n := 0
	for _, got := range l.kinds() {
		if got == k {
			n++
		}
	}
	return n
}

func (l *eventLog) last() Event { l.mu.Lock(); defer l.mu.Unlock(); return l.events[len(l.events)-1] }

func runSupervisor(t *testing.T, o SupervisorOptions) (*Supervisor, *eventLog, func() error) {
	t.Helper()
	log := &eventLog{}
	o.OnEvent = log.add
	sv := NewSupervisor(o)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- sv.Run(ctx) }()
	stop := func() error {
		cancel()
		select {
		case err := <-errc:
			return err
		case <-time.After(5 * time.Second):
			t.Fatal("supervisor did not stop")
			return nil
		}
	}
	t.Cleanup(func() { cancel() })
	return sv, log, stop
}

func TestSupervisorReconnectsAfterDrop(t *testing.T) {
	ts := startSMSC(t, nil, nil)
	sv, log, stop := runSupervisor(t, SupervisorOptions{Name: "test", Addrs: []string{ts.addr},
		Bind: Bind{SystemID: "esme", Password: "secret"}, MinBackoff: 5 * time.Millisecond})
	wait.For(t, 5*time.Second, "first bind", func() bool { return sv.Session() != nil })
	first := <-ts.bound
	first.Abort() // the carrier drops the connection
	wait.For(t, 5*time.Second, "second bind", func() bool { return log.count(EventBound) == 2 && sv.Session() != nil })
	if sv.Stats().Reconnects != 1 {
		t.Fatalf("reconnects = %d", sv.Stats().Reconnects)
	}
	if _, err := sv.Session().Submit(context.Background(), testSubmit()); err != nil {
		t.Fatal(err)
	}
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v", err)
	}
	want := []EventKind{EventConnecting, EventBound, EventClosed, EventConnecting, EventBound, EventClosed, EventStopped}
	got := log.kinds()
	if len(got) != len(want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("events %v, want %v", got, want)
		}
	}
	if e := log.events[2]; e.Reason != ClosePeerClosed {
		t.Fatalf("first close reason %v", e.Reason)
	}
	if e := log.events[5]; e.Reason != CloseLocalUnbind {
		t.Fatalf("shutdown close reason %v", e.Reason)
	}
}

func TestSupervisorTriesAddressesInTurn(t *testing.T) {
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := dead.Addr().String()
	dead.Close() // nothing listens there now
	ts := startSMSC(t, nil, nil)
	sv, log, stop := runSupervisor(t, SupervisorOptions{Addrs: []string{deadAddr, ts.addr},
		Bind: Bind{SystemID: "esme", Password: "secret"}, MinBackoff: time.Millisecond})
	wait.For(t, 5*time.Second, "bind on the second address", func() bool { return sv.Session() != nil })
	stop()
	log.mu.Lock()
	defer log.mu.Unlock()
	if e := log.events[1]; e.Kind != EventConnectFailed || e.Addr != deadAddr || e.Attempt != 1 {
		t.Fatalf("event 1: %+v", e)
	}
	if e := log.events[3]; e.Kind != EventBound || e.Addr != ts.addr {
		t.Fatalf("event 3: %+v", e)
	}
}

func TestSupervisorPermanentBindFailureWaitsLongAndStopsAtOnce(t *testing.T) {
	ts := startSMSC(t, nil, nil)
	_, log, stop := runSupervisor(t, SupervisorOptions{Addrs: []string{ts.addr},
		Bind: Bind{SystemID: "esme", Password: "wrong"}, MinBackoff: time.Millisecond, PermanentBackoff: time.Hour})
	wait.For(t, 5*time.Second, "the refused bind", func() bool { return log.count(EventConnectFailed) == 1 })
	e := log.events[1]
	var se *StatusError
	if !e.Permanent || e.Backoff < time.Hour || !errors.As(e.Err, &se) || se.Status != ESME_RINVPASWD {
		t.Fatalf("event %+v", e)
	}
	start := time.Now()
	stop() // in the middle of an hour's backoff
	if d := time.Since(start); d > time.Second {
		t.Fatalf("stopping took %s", d)
	}
	if log.last().Kind != EventStopped {
		t.Fatalf("last event %v", log.last().Kind)
	}
}

func TestSupervisorBackoffIsCappedAndJittered(t *testing.T) {
	sv := NewSupervisor(SupervisorOptions{MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second})
	for n, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 10: time.Second} {
		for range 50 {
			if d := sv.backoff(n); d < want/2 || d >= want {
				t.Fatalf("backoff(%d) = %s, want in [%s, %s)", n, d, want/2, want)
			}
		}
	}
}
