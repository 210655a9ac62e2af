package smsc

import (
	"sort"
	"time"

	"github.com/smppd/smppd/smpp"
)

// Unbinding mid-window, as carriers do when they move a bind elsewhere: the SMSC sends unbind
// while submits are in flight and still answers them afterwards. An ESME that closes (or
// resends) on the unbind at once loses the answers and sends those messages twice.

// bind.phase values.
const (
	holdNone     int32 = iota // responses go out when due
	holdHolding               // responses due are held: waiting for N to be due, or for unbind_resp
	holdReleased              // unbind_resp came: the held ones went out, the rest go when due
)

// mayHold reports, without locking, whether respond must ask hold.
func (b *bind) mayHold() bool {
	return b.phase.Load() == holdHolding || b.phase.Load() == holdNone && b.acc.cfg.Load().a.Faults.UnbindMidWindow > 0
}

// hold keeps back j, a submit response now due, while the bind unbinds mid-window, and
// reports whether it did. Under Faults.UnbindMidWindow it holds responses until that many
// are due and then starts the unbind.
func (b *bind) hold(j *respJob) bool {
	if !b.mayHold() {
		return false
	}
	n := b.acc.cfg.Load().a.Faults.UnbindMidWindow
	b.holdMu.Lock()
	defer b.holdMu.Unlock()
	switch b.phase.Load() {
	case holdReleased:
		return false
	case holdNone:
		if n <= 0 {
			return false
		}
	}
	b.held = append(b.held, j)
	switch {
	case b.phase.Load() == holdNone && len(b.held) >= n:
		b.startUnbindLocked()
	case b.phase.Load() == holdNone && len(b.held) == 1:
		// A carrier answers in its own time, never not at all: a bind that does not reach n
		// responses due soon unbinds with what it holds.
		time.AfterFunc(unbindMaxHold, func() {
			b.holdMu.Lock()
			defer b.holdMu.Unlock()
			if b.phase.Load() == holdNone && len(b.held) > 0 {
				b.startUnbindLocked()
			}
		})
	}
	return true
}

// unbindMaxHold bounds how long Faults.UnbindMidWindow holds a response back before the bind
// unbinds (with fewer responses due than asked, when the ESME sends slowly).
const unbindMaxHold = 200 * time.Millisecond

// disarmed answers the responses held while waiting for Faults.UnbindMidWindow to fire,
// when the fault was turned off (or raised beyond them) before it did.
func (b *bind) disarmed() {
	n := b.acc.cfg.Load().a.Faults.UnbindMidWindow
	b.holdMu.Lock()
	if b.phase.Load() != holdNone || n > 0 && len(b.held) < n {
		b.holdMu.Unlock()
		return
	}
	held := b.held
	b.held = nil
	if n > 0 && len(held) > 0 { // lowered to what is held already: fire now
		b.held = held
		b.startUnbindLocked()
		b.holdMu.Unlock()
		return
	}
	b.holdMu.Unlock()
	for _, j := range held {
		j.answer()
	}
}

// startUnbind begins unbinding mid-window; false if the bind already did.
func (b *bind) startUnbind() bool {
	b.holdMu.Lock()
	defer b.holdMu.Unlock()
	if b.phase.Load() != holdNone || b.sess.State() != smpp.StateBound {
		return false
	}
	b.startUnbindLocked()
	return true
}

func (b *bind) startUnbindLocked() {
	b.phase.Store(holdHolding)
	b.acc.c.unbinds.Add(1)
	go b.unbind()
}

// unbind sends unbind with the responses held, waits for unbind_resp, then releases them.
// The session closes by itself once they are written and the ESME's deliver_sm_resp are in
// (or the ESME closes, or the drain times out).
func (b *bind) unbind() {
	srv := b.acc.srv
	n := func() int { b.holdMu.Lock(); defer b.holdMu.Unlock(); return len(b.held) }()
	srv.log.Info().Str("system_id", b.acc.id).Uint64("bind", b.sess.ID()).Int("held", n).
		Int64("outstanding", b.outstanding.Load()).Msg("unbinding mid-window")
	if err := b.sess.Unbind(srv.ctx); err != nil {
		srv.log.Info().Err(err).Uint64("bind", b.sess.ID()).Msg("unbind not answered; answering the held submits anyway")
	}
	b.holdMu.Lock()
	held := b.held
	b.held = nil
	b.phase.Store(holdReleased)
	b.holdMu.Unlock()
	for _, j := range held {
		j.answer()
	}
}

// Unbind makes bind id (from Binds) unbind mid-window: it sends unbind at once while its
// submit responses are held back, answers them all after the ESME's unbind_resp (responses
// still delayed by latency go out when due), then closes once the ESME has drained. It
// reports false for an unknown bind or one already unbinding.
func (srv *Server) Unbind(id uint64) bool {
	var found *bind
	srv.binds.Range(func(_, v any) bool {
		if b := v.(*bind); b.sess.ID() == id && b.boundAt.Load() != 0 {
			found = b
			return false
		}
		return true
	})
	return found != nil && found.startUnbind()
}

// UnbindAll does Unbind for every bind of an account, or of every account when systemID is
// "", and returns how many began unbinding.
func (srv *Server) UnbindAll(systemID string) (int, error) {
	accs := srv.allAccounts()
	if systemID != "" {
		acc, err := srv.account(systemID)
		if err != nil {
			return 0, err
		}
		accs = []*account{acc}
	}
	var binds []*bind
	for _, acc := range accs {
		acc.mu.Lock()
		for b := range acc.binds {
			if b.boundAt.Load() != 0 {
				binds = append(binds, b)
			}
		}
		acc.mu.Unlock()
	}
	sort.Slice(binds, func(i, j int) bool { return binds[i].sess.ID() < binds[j].sess.ID() })
	n := 0
	for _, b := range binds {
		if b.startUnbind() {
			n++
		}
	}
	return n, nil
}
