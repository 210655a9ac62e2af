package smsc_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/smsc"
	"github.com/smppd/smppd/smsc/smsctest"
)

func acct(mod func(a *smsc.Account)) smsc.Options {
	a := smsc.Account{SystemID: smsc.DefaultSystemID, Password: smsc.DefaultPassword}
	mod(&a)
	return smsc.Options{Accounts: []smsc.Account{a}}
}

// burst submits n messages at once and counts the statuses.
func burst(t *testing.T, s *smpp.Session, n int) map[smpp.CommandStatus]int {
	t.Helper()
	var mu sync.Mutex
	out := map[smpp.CommandStatus]int{}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := sm(fmt.Sprint(9000+i), "x")
			p.RegisteredDelivery = 0
			_, err := s.Submit(context.Background(), p)
			var se *smpp.StatusError
			st := smpp.ESME_ROK
			if errors.As(err, &se) {
				st = se.Status
			} else if err != nil {
				st = smpp.ESME_RUNKNOWNERR
			}
			mu.Lock()
			out[st]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

func TestThrottlePerBindAndAccount(t *testing.T) {
	srv := smsctest.Start(t, acct(func(a *smsc.Account) { a.Throttle = smsc.Throttle{PerBind: 5, PerAccount: 8} }))
	s1 := bind(t, srv, nil)
	got := burst(t, s1, 20)
	if got[smpp.ESME_ROK] != 5 || got[smpp.ESME_RTHROTTLED] != 15 {
		t.Errorf("one bind at 5/s: %v, want 5 accepted, 15 throttled", got)
	}
	// A second bind has its own bucket but shares the account's (3 tokens left of 8).
	s2 := bind(t, srv, nil)
	got = burst(t, s2, 10)
	if got[smpp.ESME_ROK] != 3 {
		t.Errorf("second bind under the account cap: %v, want 3 accepted", got)
	}
	// Changed at run time: no cap.
	if err := srv.SetThrottle("", smsc.Throttle{}); err != nil {
		t.Fatal(err)
	}
	if got := burst(t, s1, 50); got[smpp.ESME_ROK] != 50 {
		t.Errorf("after lifting the cap: %v", got)
	}
	if c := srv.Counters(); c.Throttled != 22 {
		t.Errorf("throttled counter %d, want 22", c.Throttled)
	}
}

func TestServerSideWindow(t *testing.T) {
	opts := acct(func(a *smsc.Account) { a.Latency = smsc.Latency{Min: 200 * time.Millisecond} })
	opts.MaxOutstanding = 4
	srv := smsctest.Start(t, opts)
	s := bind(t, srv, nil)
	got := burst(t, s, 10)
	if got[smpp.ESME_ROK] != 4 || got[smpp.ESME_RTHROTTLED] != 6 {
		t.Errorf("window 4 with 10 at once: %v", got)
	}
}

func TestLatency(t *testing.T) {
	srv := smsctest.Start(t, smsc.Options{})
	s := bind(t, srv, nil)
	if err := srv.SetLatency("", smsc.Latency{Min: 60 * time.Millisecond, Max: 80 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	submit(t, s, sm("9000", "x"))
	if el := time.Since(start); el < 60*time.Millisecond {
		t.Errorf("response after %s, want at least 60ms", el)
	}
}

func TestFaults(t *testing.T) {
	every := smsc.Fault{Every: 1}
	for _, tc := range []struct {
		name   string
		f      smsc.Faults
		want   smpp.CommandStatus
		cmd    smpp.CommandID // of the error response
		noResp bool
	}{
		{name: "msgqfull", f: smsc.Faults{MsgQFull: every}, want: smpp.ESME_RMSGQFUL, cmd: smpp.SubmitSMRespID},
		{name: "syserr", f: smsc.Faults{SysErr: every}, want: smpp.ESME_RSYSERR, cmd: smpp.SubmitSMRespID},
		{name: "throttled", f: smsc.Faults{Throttled: every}, want: smpp.ESME_RTHROTTLED, cmd: smpp.SubmitSMRespID},
		{name: "generic_nack", f: smsc.Faults{GenericNack: every}, want: smpp.ESME_RSYSERR, cmd: smpp.GenericNackID},
		{name: "no_response", f: smsc.Faults{NoResponse: every}, noResp: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := smsctest.Start(t, acct(func(a *smsc.Account) { a.Faults = tc.f }))
			s := bind(t, srv, nil, withOpts(func(o *smpp.Options) { o.ResponseTimeout = 100 * time.Millisecond }))
			_, err := s.Submit(context.Background(), sm("9000", "x"))
			if tc.noResp {
				if !errors.Is(err, smpp.ErrResponseTimeout) {
					t.Fatalf("got %v, want a response timeout", err)
				}
				if c := srv.Counters(); c.NoResponse != 1 || c.Faults != 1 {
					t.Errorf("counters %+v", c)
				}
				return
			}
			var se *smpp.StatusError
			if !errors.As(err, &se) || se.Status != tc.want || se.Cmd != tc.cmd {
				t.Fatalf("got %v, want %s in %s", err, tc.want, tc.cmd)
			}
			// Lifted at run time.
			if err := srv.SetFaults("", smsc.Faults{}); err != nil {
				t.Fatal(err)
			}
			submit(t, s, sm("9000", "x"))
		})
	}
}

func TestFaultEveryNthAndProbability(t *testing.T) {
	srv := smsctest.Start(t, acct(func(a *smsc.Account) { a.Faults.MsgQFull = smsc.Fault{Every: 3} }))
	s := bind(t, srv, nil)
	var got []smpp.CommandStatus
	for range 9 {
		got = append(got, submitStatus(t, s, sm("9000", "x")))
	}
	for i, st := range got {
		want := smpp.ESME_ROK
		if (i+1)%3 == 0 {
			want = smpp.ESME_RMSGQFUL
		}
		if st != want {
			t.Errorf("submit %d: %s, want %s", i+1, st, want)
		}
	}
	if err := srv.SetFaults("", smsc.Faults{SysErr: smsc.Fault{Probability: 0.5}}); err != nil {
		t.Fatal(err)
	}
	res := burst(t, s, 400)
	if n := res[smpp.ESME_RSYSERR]; n < 120 || n > 280 {
		t.Errorf("probability 0.5 over 400: %d ESME_RSYSERR", n)
	}
}

func TestSlowResponse(t *testing.T) {
	srv := smsctest.Start(t, acct(func(a *smsc.Account) {
		a.Faults = smsc.Faults{Slow: smsc.Fault{Every: 2}, SlowDelay: 150 * time.Millisecond}
	}))
	s := bind(t, srv, nil)
	start := time.Now()
	submit(t, s, sm("9000", "fast"))
	fast := time.Since(start)
	start = time.Now()
	submit(t, s, sm("9000", "slow"))
	if slow := time.Since(start); slow < 150*time.Millisecond || fast > 100*time.Millisecond {
		t.Errorf("fast %s, slow %s", fast, slow)
	}
}

func TestMagicNumberNoResponseAndDelay(t *testing.T) {
	srv := smsctest.Start(t, acct(func(a *smsc.Account) {
		a.Receipts.Rules = []smsc.Rule{{Dest: "111", Delay: 120 * time.Millisecond}, {Dest: "222", NoResponse: true}}
	}))
	s := bind(t, srv, nil, withOpts(func(o *smpp.Options) { o.ResponseTimeout = 300 * time.Millisecond }))
	start := time.Now()
	submit(t, s, sm("111", "x"))
	if el := time.Since(start); el < 120*time.Millisecond {
		t.Errorf("111 answered after %s", el)
	}
	if _, err := s.Submit(context.Background(), sm("222", "x")); !errors.Is(err, smpp.ErrResponseTimeout) {
		t.Errorf("222: %v, want no response", err)
	}
}

func TestDisconnectAfterN(t *testing.T) {
	srv := smsctest.Start(t, acct(func(a *smsc.Account) { a.Faults.DisconnectAfter = 3 }))
	s := bind(t, srv, nil)
	submit(t, s, sm("9000", "1"))
	submit(t, s, sm("9000", "2"))
	if _, err := s.Submit(context.Background(), sm("9000", "3")); !errors.Is(err, smpp.ErrSessionClosed) {
		t.Fatalf("third submit: %v, want the session dropped", err)
	}
	<-s.Done()
	if c := srv.Counters(); c.Disconnects != 1 || c.NoResponse != 1 {
		t.Errorf("counters %+v", c)
	}
}

func TestDisconnectEvery(t *testing.T) {
	srv := smsctest.Start(t, acct(func(a *smsc.Account) { a.Faults.DisconnectEvery = 50 * time.Millisecond }))
	s := bind(t, srv, nil)
	select {
	case <-s.Done():
	case <-time.After(waitLong):
		t.Fatal("bind not dropped")
	}
	if r := s.CloseReason(); r != smpp.ClosePeerClosed && r != smpp.CloseReadError {
		t.Errorf("close reason %s", r)
	}
}

func TestSilentEnquireLink(t *testing.T) {
	srv := smsctest.Start(t, smsc.Options{})
	keepalive := withOpts(func(o *smpp.Options) {
		o.EnquireLinkInterval = 20 * time.Millisecond
		o.MaxEnquireLinkOutstanding = 2
	})
	healthy := bind(t, srv, nil, keepalive)
	if err := healthy.EnquireLink(context.Background()); err != nil {
		t.Fatalf("enquire_link before the fault: %v", err)
	}
	if err := srv.SetFaults("", smsc.Faults{SilentEnquireLink: true}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-healthy.Done():
	case <-time.After(waitLong):
		t.Fatal("the ESME did not time the silent link out")
	}
	if r := healthy.CloseReason(); r != smpp.CloseEnquireLinkTimeout {
		t.Errorf("close reason %s, want enquire_link_timeout", r)
	}
	// Submits still work on a silent link.
	s := bind(t, srv, nil)
	submit(t, s, sm("9000", "x"))
}
