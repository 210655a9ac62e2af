package smsc_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/smsc"
	"github.com/smppd/smppd/smsc/smsctest"
)

// submitAll starts n submits (no receipts asked) and returns a channel of their results.
func submitAll(s *smpp.Session, n int) chan error {
	out := make(chan error, n)
	for i := range n {
		go func() {
			p := sm("919800000001", fmt.Sprintf("otp %d", i))
			p.RegisteredDelivery = 0
			resp, err := s.Submit(context.Background(), p)
			if err == nil && resp.MessageID == "" {
				err = errors.New("empty message id")
			}
			out <- err
		}()
	}
	return out
}

// drained checks that an ESME session got every answer during the drain after the
// simulator's unbind, and closed by itself once its window was empty.
func drained(t *testing.T, s *smpp.Session, n int, results chan error) {
	t.Helper()
	for range n {
		if err := <-results; err != nil {
			t.Fatalf("submit in flight at the unbind: %v (outcome unknown: %v)", err, smpp.OutcomeUnknown(err))
		}
	}
	select {
	case <-s.Done():
	case <-time.After(waitLong):
		t.Fatal("the ESME did not close after the drain")
	}
	if st := s.Stats(); st.CloseReason != smpp.ClosePeerUnbind || s.Err() != nil || st.DrainAnswered != uint64(n) || st.DrainUnanswered != 0 {
		t.Fatalf("ESME closed %s (err %v), drain answered %d unanswered %d, want peer_unbind with %d answered",
			st.CloseReason, s.Err(), st.DrainAnswered, st.DrainUnanswered, n)
	}
}

// drainingESME binds with a drain long enough that only an empty window can end it.
var drainingESME = withOpts(func(o *smpp.Options) { o.DrainTimeout = time.Minute; o.ResponseTimeout = time.Minute })

func TestUnbindMidWindowFault(t *testing.T) {
	const n = 4
	srv := smsctest.Start(t, acct(func(a *smsc.Account) { a.Faults.UnbindMidWindow = n }))
	s := bind(t, srv, nil, drainingESME)
	results := submitAll(s, n)
	waitFor(t, "the unbind", func() bool { return s.State() != smpp.StateBound })
	if _, err := s.Submit(context.Background(), sm("919800000001", "late")); !errors.Is(err, smpp.ErrSessionClosed) || smpp.OutcomeUnknown(err) {
		t.Fatalf("submit after the unbind: %v, want refused as not sent", err)
	}
	drained(t, s, n, results)
	c := srv.Counters()
	if c.Unbinds != 1 || c.Accepted != n || c.Received != n {
		t.Fatalf("counters: unbinds %d accepted %d received %d", c.Unbinds, c.Accepted, c.Received)
	}
	waitFor(t, "the bind gone", func() bool { return len(srv.Binds()) == 0 })

	// The next bind gets the same manners.
	s2 := bind(t, srv, nil, drainingESME)
	drained(t, s2, n, submitAll(s2, n))
	if c := srv.Counters(); c.Unbinds != 2 {
		t.Fatalf("unbinds %d", c.Unbinds)
	}
}

func TestUnbindAPI(t *testing.T) {
	// Responses are held (the fault is armed far above what is in flight) until the API
	// says unbind.
	srv := smsctest.Start(t, acct(func(a *smsc.Account) { a.Faults.UnbindMidWindow = 1000 }))
	ts := httptest.NewServer(srv.HTTPHandler())
	defer ts.Close()
	a := api{t, ts}
	s := bind(t, srv, nil, drainingESME)
	results := submitAll(s, 3)
	waitFor(t, "3 submits at the SMSC", func() bool { return srv.Received() == 3 })

	a.do("POST", "/api/binds/unbind?system_id=ghost", "", 404, nil)
	a.do("POST", "/api/binds/999999/unbind", "", 404, nil)
	var got map[string]int
	a.do("POST", "/api/binds/unbind", "", 202, &got)
	if got["unbinding"] != 1 {
		t.Fatalf("unbinding %v", got)
	}
	drained(t, s, 3, results)
	var counters struct {
		Total smsc.Counters `json:"total"`
	}
	a.do("GET", "/api/counters", "", 200, &counters)
	if counters.Total.Unbinds != 1 || counters.Total.Accepted != 3 {
		t.Fatalf("counters %+v", counters.Total)
	}

	// One bind by id.
	s2 := bind(t, srv, nil, drainingESME)
	results = submitAll(s2, 2)
	waitFor(t, "2 more submits", func() bool { return srv.Received() == 5 })
	a.do("POST", "/api/binds/"+strconv.FormatUint(onlyBindID(t, srv), 10)+"/unbind", "", 202, nil)
	drained(t, s2, 2, results)
}

// onlyBindID returns the id of the only bind.
func onlyBindID(t *testing.T, srv *smsc.Server) uint64 {
	t.Helper()
	var id uint64
	waitFor(t, "one bind", func() bool {
		b := srv.Binds()
		if len(b) == 1 {
			id = b[0].ID
		}
		return len(b) == 1
	})
	return id
}

func TestUnbindMidWindowDisarmedAnswersHeld(t *testing.T) {
	srv := smsctest.Start(t, acct(func(a *smsc.Account) { a.Faults.UnbindMidWindow = 1000 }))
	s := bind(t, srv, nil)
	results := submitAll(s, 2)
	waitFor(t, "2 submits held", func() bool { return srv.Received() == 2 })
	if err := srv.SetFaults("", smsc.Faults{}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := <-results; err != nil {
			t.Fatal(err)
		}
	}
	if s.State() != smpp.StateBound || srv.Counters().Unbinds != 0 {
		t.Fatalf("state %s, unbinds %d", s.State(), srv.Counters().Unbinds)
	}
}

func TestUnbindMidWindowValidation(t *testing.T) {
	if _, err := smsc.NewServer(acct(func(a *smsc.Account) { a.Faults.UnbindMidWindow = -1 })); err == nil {
		t.Fatal("negative unbind_mid_window accepted")
	}
	opts, err := smsc.ParseScenario([]byte("accounts:\n  - system_id: a\n    faults: {unbind_mid_window: 5}\n"))
	if err != nil || opts.Accounts[0].Faults.UnbindMidWindow != 5 {
		t.Fatalf("scenario: %+v %v", opts.Accounts, err)
	}
}
