package redisstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// The DLT registry lives under P:{dlt}:registry (its YAML document) and P:{dlt}:version (a
// counter, in the same slot: SaveRegistry writes both in one MULTI); dlt.Engine polls the
// counter. Implements dlt.RegistryStore.

// LoadRegistry returns the stored registry document and its version (0 when none).
func (s *Store) LoadRegistry(ctx context.Context) ([]byte, int64, error) {
	dk, vk := s.keys.registryKeys()
	vals, err := s.c.MGet(ctx, vk, dk).Result()
	if err != nil {
		return nil, 0, fmt.Errorf("store: load registry: %w", err)
	}
	if vals[0] == nil || vals[1] == nil {
		return nil, 0, nil
	}
	var v int64
	if _, err := fmt.Sscan(vals[0].(string), &v); err != nil {
		return nil, 0, fmt.Errorf("store: registry version %q: %w", vals[0], err)
	}
	return []byte(vals[1].(string)), v, nil
}

// RegistryVersion returns the stored registry's version (0 when none).
func (s *Store) RegistryVersion(ctx context.Context) (int64, error) {
	_, vk := s.keys.registryKeys()
	v, err := s.c.Get(ctx, vk).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: registry version: %w", err)
	}
	return v, nil
}

// SaveRegistry stores doc and bumps the version, atomically.
func (s *Store) SaveRegistry(ctx context.Context, doc []byte) (int64, error) {
	dk, vk := s.keys.registryKeys()
	var incr *redis.IntCmd
	_, err := s.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, dk, doc, 0)
		incr = p.Incr(ctx, vk)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: save registry: %w", err)
	}
	return incr.Val(), nil
}
