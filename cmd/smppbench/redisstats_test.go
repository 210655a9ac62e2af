package main

import (
	"maps"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/smppd/smppd/smsc"
)

// An excerpt of Redis 7's INFO all, CRLF line ends as Redis sends them.
const infoText = "# Server\r\nredis_version:7.0.15\r\n\r\n" +
	"# CPU\r\nused_cpu_sys:12.500000\r\nused_cpu_user:30.250000\r\nused_cpu_sys_children:0.001\r\nused_cpu_user_children:0.002\r\n" +
	"used_cpu_sys_main_thread:12.4\r\nused_cpu_user_main_thread:30.1\r\n\r\n" +
	"# Commandstats\r\n" +
	"cmdstat_xadd:calls=2010,usec=4000,usec_per_call=1.99,rejected_calls=0,failed_calls=0\r\n" +
	"cmdstat_set:calls=2000,usec=1000,usec_per_call=0.50,rejected_calls=0,failed_calls=0\r\n" +
	"cmdstat_evalsha:calls=50,usec=900,usec_per_call=18.00,rejected_calls=0,failed_calls=1\r\n" +
	"cmdstat_client|setinfo:calls=2,usec=3,usec_per_call=1.50,rejected_calls=0,failed_calls=0\r\n" +
	"cmdstat_info:calls=7,usec=300,usec_per_call=42.86,rejected_calls=0,failed_calls=0\r\n" +
	"cmdstat_bogus:usec=1\r\n\r\n" +
	"# Errorstats\r\nerrorstat_NOSCRIPT:count=1\r\n"

func TestParseCommandStats(t *testing.T) {
	got := parseCommandStats(infoText)
	want := map[string]uint64{"xadd": 2010, "set": 2000, "evalsha": 50, "client|setinfo": 2, "info": 7}
	if !maps.Equal(got, want) {
		t.Fatalf("parseCommandStats = %v, want %v", got, want)
	}
	if got := parseCommandStats("# Commandstats\n"); len(got) != 0 {
		t.Fatalf("empty section: %v", got)
	}
	cpu, ok := parseInfoCPU(infoText)
	if !ok || math.Abs(cpu-42.75) > 1e-9 {
		t.Fatalf("parseInfoCPU = %v, %v; want 42.75 (user + sys, children and main-thread lines ignored)", cpu, ok)
	}
	if _, ok := parseInfoCPU("# Commandstats\r\n"); ok {
		t.Fatal("parseInfoCPU without a cpu section reports ok")
	}
}

func TestRedisStatsPerMessage(t *testing.T) {
	t0 := time.Unix(1000, 0)
	snap := func(seq uint64, at time.Duration, cpu float64, calls map[string]uint64) redisSnapshot {
		return redisSnapshot{calls: calls, cpu: cpu, at: t0.Add(at), seq: seq}
	}
	for _, tc := range []struct {
		name         string
		before       redisSnapshot
		after        redisSnapshot
		messages     int
		idle         float64
		commands     uint64
		perMsg       float64
		cpuUS        float64
		top          string
		wantWarning  bool
		wantCommands map[string]uint64
	}{{
		name:     "typical",
		before:   snap(1, 0, 10, map[string]uint64{"xadd": 100, "set": 50, "info": 2}),
		after:    snap(4, 10*time.Second, 10.5, map[string]uint64{"xadd": 2110, "set": 2050, "evalsha": 50, "info": 5}),
		messages: 1000, idle: 2,
		commands: 4060, perMsg: 4.06, cpuUS: 500,
		top:          "XADD 2.01, SET 2.00, EVALSHA 0.05",
		wantCommands: map[string]uint64{"xadd": 2010, "set": 2000, "evalsha": 50},
	}, {
		name:     "other INFO calls are kept, the probe's are not",
		before:   snap(0, 0, 1, map[string]uint64{"info": 10}),
		after:    snap(1, time.Second, 1, map[string]uint64{"info": 14, "get": 4}),
		messages: 4,
		commands: 7, perMsg: 1.75, cpuUS: 0,
		top:          "GET 1.00, INFO 0.75",
		wantCommands: map[string]uint64{"get": 4, "info": 3},
	}, {
		name:     "no messages",
		before:   snap(0, 0, 1, map[string]uint64{}),
		after:    snap(1, time.Second, 2, map[string]uint64{"info": 1, "ping": 3}),
		messages: 0,
		commands: 3, perMsg: 0, cpuUS: 0,
		top:          "PING 0.00",
		wantCommands: map[string]uint64{"ping": 3},
	}, {
		name:     "counters reset in between",
		before:   snap(0, 0, 5, map[string]uint64{"set": 500}),
		after:    snap(1, time.Second, 4, map[string]uint64{"set": 20}),
		messages: 10,
		commands: 20, perMsg: 2, cpuUS: 0,
		top:          "SET 2.00",
		wantCommands: map[string]uint64{"set": 20},
	}, {
		name:     "busy Redis is flagged",
		before:   snap(0, 0, 0, map[string]uint64{}),
		after:    snap(1, 10*time.Second, 0.01, map[string]uint64{"set": 1000}),
		messages: 100, idle: 20, // 200 commands of the 1000 would be someone else's
		commands: 1000, perMsg: 10, cpuUS: 100,
		top:          "SET 10.00",
		wantWarning:  true,
		wantCommands: map[string]uint64{"set": 1000},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			if d := commandDelta(tc.before, tc.after); !maps.Equal(d, tc.wantCommands) {
				t.Fatalf("commandDelta = %v, want %v", d, tc.wantCommands)
			}
			r := redisStats(tc.before, tc.after, tc.messages, tc.idle)
			if r.Commands != tc.commands || math.Abs(r.CommandsPerMessage-tc.perMsg) > 1e-9 || math.Abs(r.CPUMicrosPerMsg-tc.cpuUS) > 1e-6 {
				t.Fatalf("commands %d, %.4f/msg, %.4f µs/msg; want %d, %.4f, %.4f", r.Commands, r.CommandsPerMessage, r.CPUMicrosPerMsg, tc.commands, tc.perMsg, tc.cpuUS)
			}
			if got := r.topCommands(8); got != tc.top {
				t.Fatalf("topCommands = %q, want %q", got, tc.top)
			}
			if (r.Warning != "") != tc.wantWarning {
				t.Fatalf("warning %q, want one: %v", r.Warning, tc.wantWarning)
			}
		})
	}
}

func TestTopCommandsTruncates(t *testing.T) {
	r := RedisStats{ByCommand: []CommandCount{{"A", 3, 3}, {"B", 2, 2}, {"C", 1, 1}}}
	if got := r.topCommands(2); got != "A 3.00, B 2.00, …" {
		t.Fatalf("%q", got)
	}
}

func TestPerMessage(t *testing.T) {
	for _, tc := range []struct {
		total float64
		n     int
		want  float64
	}{{4.4e6, 11000, 400}, {0, 10, 0}, {5, 0, 0}, {5, -1, 0}, {1, 3, 1.0 / 3}} {
		if got := perMessage(tc.total, tc.n); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("perMessage(%v, %d) = %v, want %v", tc.total, tc.n, got, tc.want)
		}
	}
	// smppd CPU per message as runOnce computes it: seconds → µs over end-to-end messages.
	if got := perMessage((5.5-1.1)*1e6, 11000); math.Abs(got-400) > 1e-9 {
		t.Errorf("smppd µs/msg = %v", got)
	}
	if got := perMsg(0, " µs", 0); !strings.HasPrefix(got, "n/a") {
		t.Errorf("perMsg with no messages = %q", got)
	}
	for _, tc := range []struct {
		v    float64
		unit string
		want string
	}{{2.014, "/msg", "2.01/msg"}, {35.24, "/msg", "35.2/msg"}, {401.4, " µs", "401 µs"}} {
		if got := perMsg(tc.v, tc.unit, 5); got != tc.want {
			t.Errorf("perMsg(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

func TestSummaryLine(t *testing.T) {
	r := Result{Run: 2, Scenario: "r1", EndToEnd: 20000, EndToEndRate: 2000, SmppdCPUPerMsg: 410, Smppd: &procStats{},
		Redis: &RedisStats{CommandsPerMessage: 12.34, CPUMicrosPerMsg: 55}}
	got := summaryLine(r, 3)
	for _, want := range []string{"run 2/3", "r1", "2000 msg/s end to end", "12.3 commands/msg", "55 µs CPU/msg", "smppd 410 µs CPU/msg"} {
		if !strings.Contains(got, want) {
			t.Errorf("summary %q lacks %q", got, want)
		}
	}
}

func TestTopCommandsSkipsNegligible(t *testing.T) {
	r := RedisStats{ByCommand: []CommandCount{{"GET", 200, 2}, {"XREADGROUP", 3, 0.003}, {"PING", 1, 0.001}}}
	if got := r.topCommands(8); got != "GET 2.00, …" {
		t.Fatalf("%q", got)
	}
}

func TestFloodDelta(t *testing.T) {
	before := smsc.Counters{FloodQueued: 10, FloodSent: 10, ReceiptsRefused: 5, ReceiptsGivenUp: 1, ReceiptRetries: 4, DeliveriesDropped: 2}
	for _, tc := range []struct {
		name  string
		after smsc.Counters
		want  FloodResult
	}{{
		name:  "all acknowledged",
		after: smsc.Counters{FloodQueued: 1010, FloodSent: 1010, ReceiptsRefused: 5, ReceiptsGivenUp: 1, ReceiptRetries: 4, DeliveriesDropped: 2},
		want:  FloodResult{Sent: 1000, Acked: 1000},
	}, {
		name: "refused, retried, given up, dropped, some still outstanding",
		after: smsc.Counters{FloodQueued: 1010, FloodSent: 900, ReceiptsRefused: 65, ReceiptTimeouts: 3, ReceiptsGivenUp: 21,
			ReceiptRetries: 44, DeliveriesDropped: 32},
		want: FloodResult{Sent: 1000, Acked: 890, Refused: 60, Timeouts: 3, Retries: 40, GivenUp: 20, Lost: 20, Dropped: 30, Unresolved: 60},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			var f FloodResult
			floodDelta(&f, before, tc.after)
			if f != tc.want {
				t.Fatalf("floodDelta = %+v\nwant %+v", f, tc.want)
			}
		})
	}
}

func TestReceiptWindow(t *testing.T) {
	for _, tc := range []struct {
		flag, want int
		err        bool
	}{{256, 256, false}, {1, 1, false}, {0, smsc.NoWindow, false}, {-1, smsc.NoWindow, false}, {-2, 0, true}, {smsc.MaxWindow + 1, 0, true}} {
		got, err := receiptWindow(tc.flag)
		if (err != nil) != tc.err || err == nil && got != tc.want {
			t.Errorf("receiptWindow(%d) = %d, %v; want %d (error %v)", tc.flag, got, err, tc.want, tc.err)
		}
	}
}
