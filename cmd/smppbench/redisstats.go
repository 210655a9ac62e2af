package main

import (
	"bufio"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Redis cost per message: INFO commandstats and INFO cpu read just before the load starts and
// again once the run has settled; the difference, divided by the messages that got their
// webhook, is what one message costs Redis. Redis counts every command it executed, whoever
// sent it, so the Redis must be otherwise idle: another client's traffic (tests of other
// key prefixes, another smppd) would be charged to the run. The idle rate measured before
// the load (smppd's own polling and anything else) is reported to show how much that is.
// Commands a Lua script runs are counted by Redis under their own names as well as under
// EVALSHA/EVAL; the figures are what Redis reports.

// redisSnapshot is one reading of INFO: calls by command (lower case, as Redis names them,
// subcommands as "client|setinfo") and Redis's CPU seconds (user + system).
type redisSnapshot struct {
	calls map[string]uint64
	cpu   float64
	at    time.Time
	// seq is how many INFO commands the probe had sent before this snapshot's: each of
	// them is counted by Redis in the snapshots that follow, so they are subtracted.
	seq uint64
}

// redisProbe reads INFO over one connection of its own, opened (with its HELLO) before the
// first snapshot, so the probe's only commands between two snapshots are its INFOs.
type redisProbe struct {
	c   *redis.Client
	seq uint64
}

func newRedisProbe(ctx context.Context, url string) (*redisProbe, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, err
	}
	opt.PoolSize, opt.MinIdleConns, opt.MaxIdleConns, opt.MaxActiveConns = 1, 0, 1, 1
	opt.PipelinePoolSize = 1
	opt.MaxRetries = -1
	opt.ConnMaxIdleTime = -1
	opt.DisableIdentity = true
	opt.Protocol = 2
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	p := &redisProbe{c: redis.NewClient(opt)}
	// Connect now: the connection's handshake must not fall between two snapshots.
	if err := p.c.Ping(ctx).Err(); err != nil {
		_ = p.c.Close()
		return nil, fmt.Errorf("redis %s: %w", url, err)
	}
	return p, nil
}

func (p *redisProbe) close() { _ = p.c.Close() }

// snapshot reads the command counts and CPU time.
func (p *redisProbe) snapshot(ctx context.Context) (redisSnapshot, error) {
	s := redisSnapshot{seq: p.seq}
	p.seq++
	text, err := p.c.Info(ctx, "all").Result()
	if err != nil {
		return s, err
	}
	s.at = time.Now()
	s.calls = parseCommandStats(text)
	var ok bool
	if s.cpu, ok = parseInfoCPU(text); !ok {
		return s, fmt.Errorf("INFO has no used_cpu_user/used_cpu_sys")
	}
	return s, nil
}

// parseCommandStats reads the cmdstat_ lines of INFO (the commandstats section) into calls
// by command name.
func parseCommandStats(info string) map[string]uint64 {
	out := map[string]uint64{}
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		rest, ok := strings.CutPrefix(line, "cmdstat_")
		if !ok {
			continue
		}
		name, fields, ok := strings.Cut(rest, ":")
		if !ok {
			continue
		}
		for f := range strings.SplitSeq(fields, ",") {
			if v, ok := strings.CutPrefix(f, "calls="); ok {
				if n, err := strconv.ParseUint(v, 10, 64); err == nil {
					out[strings.ToLower(name)] = n
				}
			}
		}
	}
	return out
}

// parseInfoCPU returns used_cpu_user + used_cpu_sys (seconds) from INFO's cpu section.
func parseInfoCPU(info string) (float64, bool) {
	var user, sys float64
	var haveUser, haveSys bool
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if !ok {
			continue
		}
		switch k {
		case "used_cpu_user":
			user, _ = strconv.ParseFloat(v, 64)
			haveUser = true
		case "used_cpu_sys":
			sys, _ = strconv.ParseFloat(v, 64)
			haveSys = true
		}
	}
	return user + sys, haveUser && haveSys
}

// RedisStats is what Redis did during a run, whole and per end-to-end message.
type RedisStats struct {
	// Messages is the divisor: messages that got their webhook (the flood: receipts the
	// simulator had acknowledged).
	Messages           int            `json:"messages"`
	Seconds            float64        `json:"seconds"`
	Commands           uint64         `json:"commands"`
	CommandsPerMessage float64        `json:"commands_per_message"`
	ByCommand          []CommandCount `json:"by_command"`
	CPUSeconds         float64        `json:"cpu_seconds"`
	CPUMicrosPerMsg    float64        `json:"cpu_us_per_message"`
	// IdleCommandsPerSec is the command rate measured for a second before the load, with
	// smppd running but idle: its polling plus any other client's traffic.
	IdleCommandsPerSec float64 `json:"idle_commands_per_second"`
	// Warning says when the idle rate makes the figures doubtful.
	Warning string `json:"warning,omitempty"`
}

// CommandCount is one command's calls during the run and per message.
type CommandCount struct {
	Command    string  `json:"command"`
	Calls      uint64  `json:"calls"`
	PerMessage float64 `json:"per_message"`
}

// commandDelta returns the calls made between a and b by command, without the probe's own
// INFO commands.
func commandDelta(a, b redisSnapshot) map[string]uint64 {
	d := map[string]uint64{}
	for k, n := range b.calls {
		if n > a.calls[k] { // a counter that went down (CONFIG RESETSTAT) counts from zero
			d[k] = n - a.calls[k]
		} else if n < a.calls[k] {
			d[k] = n
		}
	}
	if own := b.seq - a.seq; own > 0 {
		if d["info"] <= own {
			delete(d, "info")
		} else {
			d["info"] -= own
		}
	}
	return d
}

func sumCalls(m map[string]uint64) uint64 {
	var t uint64
	for _, n := range m {
		t += n
	}
	return t
}

// redisStats computes the run's figures from the snapshots before and after it, for
// messages end-to-end messages; idle is the command rate before the load.
func redisStats(before, after redisSnapshot, messages int, idle float64) RedisStats {
	d := commandDelta(before, after)
	r := RedisStats{Messages: messages, Seconds: after.at.Sub(before.at).Seconds(), Commands: sumCalls(d),
		CPUSeconds: max(after.cpu-before.cpu, 0), IdleCommandsPerSec: idle}
	for k, n := range d {
		r.ByCommand = append(r.ByCommand, CommandCount{Command: strings.ToUpper(k), Calls: n, PerMessage: perMessage(float64(n), messages)})
	}
	slices.SortFunc(r.ByCommand, func(a, b CommandCount) int {
		if a.Calls != b.Calls {
			if a.Calls > b.Calls {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Command, b.Command)
	})
	r.CommandsPerMessage = perMessage(float64(r.Commands), messages)
	r.CPUMicrosPerMsg = perMessage(r.CPUSeconds*1e6, messages)
	if background := idle * r.Seconds; r.Commands > 0 && background > 0.05*float64(r.Commands) {
		r.Warning = fmt.Sprintf("Redis was not idle: %.0f commands/s before the load would be %.0f%% of the run's commands", idle, 100*background/float64(r.Commands))
	}
	return r
}

// perMessage divides total by n messages (0 when there are none).
func perMessage(total float64, n int) float64 {
	if n <= 0 {
		return 0
	}
	return total / float64(n)
}

// topCommands formats the first n commands by calls per message: "XADD 2.01, SET 2.00",
// and "…" for the rest, such as those below 0.005 per message.
func (r *RedisStats) topCommands(n int) string {
	var parts []string
	for i, c := range r.ByCommand {
		if i == n || c.PerMessage < 0.005 && i > 0 {
			parts = append(parts, "…")
			break
		}
		parts = append(parts, fmt.Sprintf("%s %.2f", c.Command, c.PerMessage))
	}
	return strings.Join(parts, ", ")
}
