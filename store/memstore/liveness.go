package memstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/smppd/smppd/store"
)

var _ store.Liveness = (*Store)(nil)

// liveState holds the heartbeats: per instance its registered incarnation and deadline.
type liveState struct {
	mu    sync.Mutex
	beats map[string]heartbeat
}

type heartbeat struct {
	incarnation string
	deadline    time.Time
}

func checkMember(op string, m store.Member) error {
	if m.Instance == "" || m.Incarnation == "" {
		return fmt.Errorf("store: %s: %w", op, errors.New("member without instance or incarnation"))
	}
	return nil
}

// Join implements store.Liveness.
func (s *Store) Join(ctx context.Context, m store.Member, ttl time.Duration) error {
	op := "join " + m.Consumer()
	if err := begin(ctx, op); err != nil {
		return err
	}
	if err := checkMember(op, m); err != nil {
		return err
	}
	s.liveSt.mu.Lock()
	defer s.liveSt.mu.Unlock()
	if s.liveSt.beats == nil {
		s.liveSt.beats = make(map[string]heartbeat)
	}
	s.liveSt.beats[m.Instance] = heartbeat{m.Incarnation, s.now().Add(ttl)}
	return nil
}

// Renew implements store.Liveness.
func (s *Store) Renew(ctx context.Context, m store.Member, ttl time.Duration) error {
	op := "renew " + m.Consumer()
	if err := begin(ctx, op); err != nil {
		return err
	}
	s.liveSt.mu.Lock()
	defer s.liveSt.mu.Unlock()
	now := s.now()
	b, ok := s.liveSt.beats[m.Instance]
	if !ok || b.incarnation != m.Incarnation || b.deadline.Before(now) {
		if ok && b.incarnation == m.Incarnation {
			delete(s.liveSt.beats, m.Instance)
		}
		return fmt.Errorf("store: %s: %w", op, store.ErrLeaseLost)
	}
	s.liveSt.beats[m.Instance] = heartbeat{m.Incarnation, now.Add(ttl)}
	return nil
}

// Leave implements store.Liveness.
func (s *Store) Leave(ctx context.Context, m store.Member) error {
	if err := begin(ctx, "leave "+m.Consumer()); err != nil {
		return err
	}
	s.liveSt.mu.Lock()
	defer s.liveSt.mu.Unlock()
	if b, ok := s.liveSt.beats[m.Instance]; ok && b.incarnation == m.Incarnation {
		delete(s.liveSt.beats, m.Instance)
	}
	return nil
}

// Members implements store.Liveness.
func (s *Store) Members(ctx context.Context) ([]store.Member, error) {
	if err := begin(ctx, "members"); err != nil {
		return nil, err
	}
	live := s.liveConsumers()
	out := make([]store.Member, 0, len(live))
	for c := range live {
		m, _ := store.ParseConsumer(c)
		out = append(out, m)
	}
	return out, nil
}

// liveConsumers returns the consumer names of the members alive now.
func (s *Store) liveConsumers() map[string]bool {
	s.liveSt.mu.Lock()
	defer s.liveSt.mu.Unlock()
	now := s.now()
	out := make(map[string]bool, len(s.liveSt.beats))
	for inst, b := range s.liveSt.beats {
		if b.deadline.Before(now) {
			delete(s.liveSt.beats, inst)
			continue
		}
		out[store.Member{Instance: inst, Incarnation: b.incarnation}.Consumer()] = true
	}
	return out
}
