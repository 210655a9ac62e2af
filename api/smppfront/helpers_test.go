package smppfront

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/smppd/smppd/api"
	"github.com/smppd/smppd/smpp"
)

const (
	tPassword = "secret1"
	waitLong  = 10 * time.Second
)

// tHash is tPassword hashed with few iterations, so tests bind fast.
var tHash = func() string {
	h, err := hashPassword(tPassword, 1000)
	if err != nil {
		panic(err)
	}
	return h
}()

// fakeAcceptor records submissions and answers ids, or the error refuse returns for one.
type fakeAcceptor struct {
	mu     sync.Mutex
	subs   []api.Submission
	n      int
	refuse func(s api.Submission) error
	// gate, when set, holds every Accept until it is closed (or has a value to take).
	gate chan struct{}
}

func (a *fakeAcceptor) Accept(ctx context.Context, s api.Submission) ([]string, error) {
	if a.gate != nil {
		select {
		case <-a.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.refuse != nil {
		if err := a.refuse(s); err != nil {
			return nil, err
		}
	}
	a.n++
	a.subs = append(a.subs, s)
	return []string{fmt.Sprintf("msg-%d", a.n)}, nil
}

func (a *fakeAcceptor) submissions() []api.Submission {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]api.Submission(nil), a.subs...)
}

func tAccount(name string) Account {
	return Account{Name: name, SystemID: name, PasswordHash: tHash}
}

// startFront serves a front on a loopback port and returns it and its address.
func startFront(t testing.TB, opts Options) (*Front, string) {
	t.Helper()
	if opts.Acceptor == nil {
		opts.Acceptor = &fakeAcceptor{}
	}
	opts.Logger = testLogger
	if opts.RefusalDelay == 0 {
		opts.RefusalDelay = -1
	}
	f, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := f.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- f.Serve(ln) }()
	t.Cleanup(func() {
		_ = f.Close()
		if err := <-done; !errors.Is(err, smpp.ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
	})
	return f, ln.Addr().String()
}

// dial binds our own client.
func dial(t testing.TB, addr, systemID, password string, mode smpp.BindMode, h smpp.Handler) (*smpp.Session, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	s, err := smpp.Dial(ctx, addr, smpp.Bind{Mode: mode, SystemID: systemID, Password: password},
		smpp.Options{Handler: h, WindowSize: 300, ResponseTimeout: waitLong})
	if err == nil {
		t.Cleanup(s.Abort)
	}
	return s, err
}

func mustDial(t testing.TB, addr, systemID string, mode smpp.BindMode, h smpp.Handler) *smpp.Session {
	t.Helper()
	s, err := dial(t, addr, systemID, tPassword, mode, h)
	if err != nil {
		t.Fatalf("bind %s as %s: %v", systemID, mode, err)
	}
	return s
}

// statusOf returns the command_status of a request's error (ESME_ROK for none).
func statusOf(t testing.TB, err error) smpp.CommandStatus {
	t.Helper()
	if err == nil {
		return smpp.ESME_ROK
	}
	var se *smpp.StatusError
	if !errors.As(err, &se) {
		t.Fatalf("not a status error: %v", err)
	}
	return se.Status
}

func submit(t testing.TB, s *smpp.Session, p *smpp.SubmitSM) (string, smpp.CommandStatus) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	resp, err := s.Submit(ctx, p)
	st := statusOf(t, err)
	if resp == nil {
		return "", st
	}
	return resp.MessageID, st
}

func sm(to, txt string) *smpp.SubmitSM {
	return &smpp.SubmitSM{
		Source: smpp.Address{TON: 5, Addr: "ACMEIN"}, Dest: smpp.Address{TON: 1, NPI: 1, Addr: to},
		ShortMessage: []byte(txt),
	}
}

var _ net.Addr = (*net.TCPAddr)(nil)
