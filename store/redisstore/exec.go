package redisstore

import (
	"context"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Running commands the same way on a single Redis and on a Redis Cluster. A pipeline
// (s.c.Pipelined) is one round trip on a single Redis; go-redis's cluster client splits it
// by node and sends the parts in parallel, so it is one round trip there too — but with no
// order between nodes and no atomicity. A MULTI (s.c.TxPipelined) must have keys of one
// slot on a cluster.

// scriptCall is one script call of a pipeline, and its reply.
type scriptCall struct {
	script *redis.Script
	keys   []string // of one slot on a cluster
	args   []any
	cmd    *redis.Cmd
}

// runScripts runs calls in one pipeline as EVALSHA, then those that found no cached script
// (NOSCRIPT: a restarted or failed-over Redis; the script did not run) once more as EVAL.
// It returns the first error other than redis.Nil; each call's own reply is in its cmd.
func (s *Store) runScripts(ctx context.Context, calls []*scriptCall) error {
	if len(calls) == 0 {
		return nil
	}
	_, _ = s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, c := range calls {
			c.cmd = c.script.EvalSha(ctx, p, c.keys, c.args...)
		}
		return nil
	})
	var again []*scriptCall
	for _, c := range calls {
		if redis.HasErrorPrefix(c.cmd.Err(), "NOSCRIPT") {
			again = append(again, c)
		}
	}
	if len(again) > 0 {
		_, _ = s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, c := range again {
				c.cmd = c.script.Eval(ctx, p, c.keys, c.args...)
			}
			return nil
		})
	}
	for _, c := range calls {
		if err := cmdErrs(c.cmd); err != nil {
			return err
		}
	}
	return nil
}

// txGroups runs each group's commands as one MULTI/EXEC: on a single Redis every group in
// one transaction (one round trip: all or nothing), on a cluster one transaction per group
// (each group's keys share a hash tag, its map key), concurrently. It returns the first
// error; on a cluster the groups that did not fail are stored.
func (s *Store) txGroups(ctx context.Context, groups map[string]func(redis.Pipeliner)) error {
	if len(groups) == 0 {
		return nil
	}
	if !s.cluster || len(groups) == 1 {
		_, err := s.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
			for _, g := range groups {
				g(p)
			}
			return nil
		})
		return err
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for _, g := range groups {
		wg.Go(func() {
			_, err := s.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
				g(p)
				return nil
			})
			if err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return first
}
