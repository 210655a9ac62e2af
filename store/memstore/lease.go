package memstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/smppd/smppd/store"
)

// Bind leases (store.BindLeases), kept in the Store's leaseSt: one entry per slot and one
// fencing counter. A lease past its expiry by the store's clock is free; it is dropped when
// next touched or listed, so the map holds at most the slots ever leased.

var _ store.BindLeases = (*Store)(nil)

type leaseState struct {
	mu    sync.Mutex
	fence int64 // last token given
	slots map[string]*leaseEntry
}

type leaseEntry struct {
	holder  string
	token   int64
	expires time.Time
}

func newLeaseState() *leaseState { return &leaseState{slots: make(map[string]*leaseEntry)} }

// liveLocked returns slot's lease if it has not lapsed at now.
func (d *leaseState) liveLocked(slot string, now time.Time) *leaseEntry {
	e := d.slots[slot]
	if e == nil {
		return nil
	}
	if !now.Before(e.expires) {
		delete(d.slots, slot)
		return nil
	}
	return e
}

func (e *leaseEntry) lease(slot string) store.BindLease {
	return store.BindLease{Slot: slot, Holder: e.holder, Token: e.token, Expires: e.expires}
}

func checkTTL(op string, ttl time.Duration) error {
	if ttl < time.Millisecond {
		return fmt.Errorf("store: %s: ttl %v is below 1ms", op, ttl)
	}
	return nil
}

// AcquireBind implements store.BindLeases.
func (s *Store) AcquireBind(ctx context.Context, slot, holder string, ttl time.Duration) (store.BindLease, bool, error) {
	if err := s.open(ctx, "acquire bind"); err != nil {
		return store.BindLease{}, false, err
	}
	if slot == "" || holder == "" {
		return store.BindLease{}, false, fmt.Errorf("store: acquire bind: slot and holder are required")
	}
	if err := checkTTL("acquire bind", ttl); err != nil {
		return store.BindLease{}, false, err
	}
	now := s.now()
	d := s.leaseSt
	d.mu.Lock()
	defer d.mu.Unlock()
	e := d.liveLocked(slot, now)
	switch {
	case e == nil:
		d.fence++
		e = &leaseEntry{holder: holder, token: d.fence}
		d.slots[slot] = e
	case e.holder != holder:
		return e.lease(slot), false, nil
	}
	e.expires = now.Add(ttl)
	return e.lease(slot), true, nil
}

// RenewBinds implements store.BindLeases.
func (s *Store) RenewBinds(ctx context.Context, ttl time.Duration, ls ...store.BindLease) ([]error, error) {
	if err := s.open(ctx, "renew binds"); err != nil {
		return nil, err
	}
	if err := checkTTL("renew binds", ttl); err != nil {
		return nil, err
	}
	now := s.now()
	d := s.leaseSt
	d.mu.Lock()
	defer d.mu.Unlock()
	errs := make([]error, len(ls))
	for i, l := range ls {
		e := d.liveLocked(l.Slot, now)
		if e == nil || e.holder != l.Holder || e.token != l.Token {
			errs[i] = store.ErrLeaseLost
			continue
		}
		e.expires = now.Add(ttl)
	}
	return errs, nil
}

// ReleaseBind implements store.BindLeases.
func (s *Store) ReleaseBind(ctx context.Context, l store.BindLease) error {
	if err := s.open(ctx, "release bind"); err != nil {
		return err
	}
	d := s.leaseSt
	d.mu.Lock()
	defer d.mu.Unlock()
	if e := d.slots[l.Slot]; e != nil && e.holder == l.Holder && e.token == l.Token {
		delete(d.slots, l.Slot)
	}
	return nil
}

// BindLeases implements store.BindLeases.
func (s *Store) BindLeases(ctx context.Context, prefix string) ([]store.BindLease, error) {
	if err := s.open(ctx, "bind leases"); err != nil {
		return nil, err
	}
	now := s.now()
	d := s.leaseSt
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []store.BindLease
	for slot := range d.slots {
		if !strings.HasPrefix(slot, prefix) {
			continue
		}
		if e := d.liveLocked(slot, now); e != nil {
			out = append(out, e.lease(slot))
		}
	}
	slices.SortFunc(out, func(a, b store.BindLease) int { return strings.Compare(a.Slot, b.Slot) })
	return out, nil
}
