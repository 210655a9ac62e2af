package smpp

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// call is one of our requests awaiting its response. Calls are pooled: a round trip
// allocates nothing for the bookkeeping.
type call struct {
	cmd  CommandID
	done chan result // capacity 1: whoever removes the call from pending sends exactly once
}

type result struct {
	h   Header
	p   PDU
	err error
}

var callPool = sync.Pool{New: func() any { return &call{done: make(chan result, 1)} }}

var timerPool sync.Pool

func getTimer(d time.Duration) *time.Timer {
	if t, ok := timerPool.Get().(*time.Timer); ok {
		t.Reset(d)
		return t
	}
	return time.NewTimer(d)
}

func putTimer(t *time.Timer) {
	t.Stop() // with Go ≥1.23 timers, no stale tick survives Stop
	timerPool.Put(t)
}

// Send sends a request and waits for its response. It blocks, with ctx, while the window is
// full. The response body is returned also when the peer answered with an error status, the
// error then being a *StatusError. Errors: ctx.Err(), ErrNotBound, ErrResponseTimeout (the
// outcome is unknown), a *ClosedError, a *FieldError for a PDU that breaks the spec.
//
// After an unbind, the peer's or ours (see Options.DrainTimeout), Send fails at once with a
// *ClosedError that is not InFlight: the request was not sent, and may go on another session.
func (s *Session) Send(ctx context.Context, p PDU) (PDU, error) {
	if !s.mayCarry(p.CommandID()) {
		if s.State() == StateClosed {
			return nil, s.closedErr(false)
		}
		if s.stopped.Load() {
			return nil, s.notSentErr()
		}
		return nil, fmt.Errorf("%w: %s on a %s session in state %s", ErrNotBound, p.CommandID(), s.Mode(), s.State())
	}
	r, err := s.do(ctx, p, true)
	return r.p, err
}

// Submit sends a submit_sm and returns the SMSC's response; see Send.
func (s *Session) Submit(ctx context.Context, p *SubmitSM) (*SubmitSMResp, error) {
	resp, err := s.Send(ctx, p)
	r, _ := resp.(*SubmitSMResp)
	return r, err
}

// Deliver sends a deliver_sm (server side: an MO message or a receipt) and returns the
// ESME's response; see Send.
func (s *Session) Deliver(ctx context.Context, p *DeliverSM) (*DeliverSMResp, error) {
	resp, err := s.Send(ctx, p)
	r, _ := resp.(*DeliverSMResp)
	return r, err
}

// EnquireLink tests the link now and waits for the answer.
func (s *Session) EnquireLink(ctx context.Context) error {
	_, err := s.Send(ctx, &EnquireLink{})
	return err
}

// mayCarry reports whether we may send a request now, by state, role and bind mode.
func (s *Session) mayCarry(id CommandID) bool {
	if s.State() != StateBound {
		return false
	}
	switch id {
	case EnquireLinkID:
		return true
	case DeliverSMID, AlertNotificationID:
		return s.role == roleSMSC && s.Mode().CanReceive()
	case DataSMID:
		if s.role == roleSMSC {
			return s.Mode().CanReceive()
		}
		return s.Mode().CanSend()
	case SubmitSMID, SubmitMultiID, QuerySMID, CancelSMID, ReplaceSMID:
		return s.role == roleESME && s.Mode().CanSend()
	}
	return false
}

// do runs one request through the window (when useWindow) and the pending map.
func (s *Session) do(ctx context.Context, p PDU, useWindow bool) (result, error) {
	id := p.CommandID()
	if !id.hasResponse() {
		return result{}, s.enqueue(s.nextSeq(), ESME_ROK, p)
	}
	if useWindow {
		select {
		case s.window <- struct{}{}:
		case <-ctx.Done():
			return result{}, ctx.Err()
		case <-s.closing:
			return result{}, s.closedErr(false)
		case <-s.stopping:
			return result{}, s.notSentErr()
		}
		defer func() { <-s.window }()
	}
	c := callPool.Get().(*call)
	c.cmd = id
	seq := s.nextSeq()

	s.mu.Lock()
	if st := s.State(); st == StateClosed || (useWindow && st != StateBound) {
		s.mu.Unlock()
		callPool.Put(c)
		switch {
		case st == StateClosed:
			return result{}, s.closedErr(false)
		case s.stopped.Load():
			return result{}, s.notSentErr()
		}
		return result{}, fmt.Errorf("%w: session is %s", ErrNotBound, st)
	}
	s.pending[seq] = c
	s.mu.Unlock()

	if err := s.send(seq, ESME_ROK, p, s.lightLoad()); err != nil {
		if s.forget(seq) {
			callPool.Put(c)
			return result{}, err
		}
		r := <-c.done // the closer got there first and answered
		callPool.Put(c)
		return r, r.err
	}
	s.stats.sent.Add(1)

	t := getTimer(s.opts.ResponseTimeout)
	var r result
	select {
	case r = <-c.done:
	case <-t.C:
		if s.forget(seq) {
			s.stats.timeouts.Add(1)
			r.err = fmt.Errorf("%w: %s seq %d after %s", ErrResponseTimeout, id, seq, s.opts.ResponseTimeout)
		} else {
			r = <-c.done
		}
	case <-ctx.Done():
		if s.forget(seq) {
			r.err = ctx.Err()
		} else {
			r = <-c.done
		}
	}
	putTimer(t)
	callPool.Put(c)
	return r, r.err
}

// forget removes a pending call; false means the reader or the closer already took it and
// will answer (or has answered) on its channel.
func (s *Session) forget(seq uint32) bool {
	s.mu.Lock()
	_, ok := s.pending[seq]
	if ok {
		delete(s.pending, seq)
		s.signalDrainedLocked()
	}
	s.mu.Unlock()
	return ok
}

// WindowInUse returns how many of our requests await a response.
func (s *Session) WindowInUse() int { return len(s.window) }

// WindowSize returns the most requests that may await a response at once.
func (s *Session) WindowSize() int { return cap(s.window) }
