package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"time"
)

// ownRedis is a redis-server of the run's own (-own-redis), so that nothing but smppd and
// the benchmark talks to it and its INFO counters are the run's alone. It runs with the
// durability settings of deploy/redis-smppd.conf (append-only file, fsync always).
type ownRedis struct {
	cmd *exec.Cmd
	dir string
	url string
}

func startOwnRedis(ctx context.Context) (*ownRedis, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir, err := os.MkdirTemp("", "smppbench-redis")
	if err != nil {
		return nil, err
	}
	r := &ownRedis{dir: dir, url: "redis://127.0.0.1:" + strconv.Itoa(port) + "/0"}
	r.cmd = exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--appendonly", "yes", "--appendfsync", "always", "--save", "", "--maxmemory-policy", "noeviction")
	if err := r.cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("-own-redis: %w (install redis-server)", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			c.Close()
			return r, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			r.stop()
			return nil, fmt.Errorf("-own-redis: redis-server did not start on port %d", port)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *ownRedis) stop() {
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	_ = os.RemoveAll(r.dir)
}
