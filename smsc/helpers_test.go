package smsc_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/smppd/smppd/internal/wait"
	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/smsc"
)

const waitLong = 5 * time.Second

// waitFor polls cond until it holds; tests never sleep blindly.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	wait.For(t, waitLong, what, cond)
}

// inbox collects the deliver_sm an ESME receives, per session.
type inbox struct {
	mu     sync.Mutex
	all    []*smpp.DeliverSM
	bySess map[uint64]int
	answer func(p *smpp.DeliverSM, n int) smpp.CommandStatus // nil: ESME_ROK
}

func newInbox() *inbox { return &inbox{bySess: map[uint64]int{}} }

func (in *inbox) handler() smpp.Handler {
	return smpp.DeliverHandlerFunc(func(ctx context.Context, s *smpp.Session, p *smpp.DeliverSM) smpp.CommandStatus {
		in.mu.Lock()
		defer in.mu.Unlock()
		if in.answer != nil {
			if st := in.answer(p, len(in.all)); st != smpp.ESME_ROK {
				return st
			}
		}
		in.all = append(in.all, p)
		in.bySess[s.ID()]++
		return smpp.ESME_ROK
	})
}

func (in *inbox) len() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.all)
}

func (in *inbox) list() []*smpp.DeliverSM {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]*smpp.DeliverSM(nil), in.all...)
}

func (in *inbox) wait(t testing.TB, n int) []*smpp.DeliverSM {
	t.Helper()
	waitFor(t, "deliver_sm", func() bool { return in.len() >= n })
	return in.list()
}

// receipts returns the final receipts (esm_class 0x04) by receipted message id.
func (in *inbox) receipts() map[string]*smpp.Receipt {
	out := map[string]*smpp.Receipt{}
	for _, p := range in.list() {
		if p.ESMClass&smpp.ESMClassDeliveryRcpt == 0 {
			continue
		}
		r, err := smpp.ParseReceipt(p, nil)
		if err == nil {
			out[r.MessageID] = r
		}
	}
	return out
}

type dialOpt func(*smpp.Bind, *smpp.Options)

func withMode(m smpp.BindMode) dialOpt { return func(b *smpp.Bind, _ *smpp.Options) { b.Mode = m } }
func withCreds(id, pw string) dialOpt {
	return func(b *smpp.Bind, _ *smpp.Options) { b.SystemID, b.Password = id, pw }
}
func withOpts(fn func(*smpp.Options)) dialOpt { return func(_ *smpp.Bind, o *smpp.Options) { fn(o) } }

// bind dials srv as the default account, in TRX mode unless told otherwise.
func bind(t testing.TB, srv *smsc.Server, in *inbox, opts ...dialOpt) *smpp.Session {
	t.Helper()
	s, err := tryBind(srv, in, opts...)
	if err != nil {
		t.Fatalf("bind: %v", err)
	}
	t.Cleanup(s.Abort)
	return s
}

func tryBind(srv *smsc.Server, in *inbox, opts ...dialOpt) (*smpp.Session, error) {
	b := smpp.Bind{Mode: smpp.BindTransceiver, SystemID: smsc.DefaultSystemID, Password: smsc.DefaultPassword}
	o := smpp.Options{ResponseTimeout: 2 * time.Second, WindowSize: 50}
	if in != nil {
		o.Handler = in.handler()
	}
	for _, fn := range opts {
		fn(&b, &o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return smpp.Dial(ctx, srv.Addr(), b, o)
}

func sm(dest, text string) *smpp.SubmitSM {
	return &smpp.SubmitSM{
		Source:             smpp.Address{TON: 5, NPI: 0, Addr: "ACMEIN"},
		Dest:               smpp.Address{TON: 1, NPI: 1, Addr: dest},
		RegisteredDelivery: smpp.RegisteredDeliveryAll,
		ShortMessage:       []byte(text),
	}
}

func submit(t testing.TB, s *smpp.Session, p *smpp.SubmitSM) string {
	t.Helper()
	resp, err := s.Submit(context.Background(), p)
	if err != nil {
		t.Fatalf("submit to %s: %v", p.Dest.Addr, err)
	}
	return resp.MessageID
}

func submitStatus(t testing.TB, s *smpp.Session, p *smpp.SubmitSM) smpp.CommandStatus {
	t.Helper()
	_, err := s.Submit(context.Background(), p)
	return statusOf(t, err)
}

func statusOf(t testing.TB, err error) smpp.CommandStatus {
	t.Helper()
	if err == nil {
		return smpp.ESME_ROK
	}
	var se *smpp.StatusError
	if !errors.As(err, &se) {
		t.Fatalf("want a status error, got %v", err)
	}
	return se.Status
}
