package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smppd/smppd/store"
)

// The webhook queue (store.Webhooks): queueing, claiming, acking, retrying and giving up on
// jobs; the dead letters are read and replayed in deadletters.go. Per message shard (S =
// {m<k>.<j>}, see layout.go, P the prefix), the shard's webhook queue:
//
//	P:S:wh                      stream  queued webhook jobs, field "j" = JSON; consumer group
//	                                    "webhooks": a claim is a read, its lease the entry's
//	                                    idle time in the group's pending list
//	P:S:wh:retry                zset    jobs waiting for their next attempt: member JSON,
//	                                    score = due time (unix ms)
//	P:S:wh:dead                 hash    dead letters: id → JSON
//	P:S:wh:deadidx              zset    dead-letter ids, score = when they died (unix ms)
//
// A job is queued in its message's shard, beside the message's record, so that the
// compare-and-set of the record and the queueing of the job are one script (SwapRecords).
// A job's claim token is its shard, stream entry id and delivery count: a job taken over
// after its lease ran out has a higher count, so the old holder's Retry or Dead does nothing.

var _ store.Webhooks = (*Store)(nil)

// webhookGroup is the consumer group of the webhook stream.
const webhookGroup = "webhooks"

// jobShard is the message shard whose webhook queue takes a job queued on its own: its
// message's shard (so that a message's jobs share a queue however they were queued), else
// its id's.
func jobShard(j *store.WebhookJob) int {
	if j.MessageID != "" {
		return shardOf(j.MessageID)
	}
	return shardOf(j.ID)
}

// EnqueueWebhooks implements store.Webhooks: jobs due now are appended to their shard's
// stream, later ones go to its retry set; one MULTI for all (on a cluster one per shard).
func (s *Store) EnqueueWebhooks(ctx context.Context, jobs ...*store.WebhookJob) (int, error) {
	op := "enqueue webhooks"
	if err := s.check(ctx, op); err != nil {
		return 0, err
	}
	if len(jobs) == 0 {
		return 0, nil
	}
	now := time.Now()
	groups := map[string]func(redis.Pipeliner){}
	byShard := map[int][]int{}
	bodies := make([][]byte, len(jobs))
	for i, j := range jobs {
		b, err := s.marshalJob(j)
		if err != nil {
			return 0, fmt.Errorf("store: %s: %w", op, err)
		}
		bodies[i] = b
		byShard[jobShard(j)] = append(byShard[jobShard(j)], i)
	}
	queue := func(p redis.Pipeliner, idx []int) {
		for _, i := range idx {
			k := jobShard(jobs[i])
			if j := jobs[i]; j.NextAt.After(now) {
				p.ZAdd(ctx, s.keys.whRetryKey(k), redis.Z{Score: float64(j.NextAt.UnixMilli()), Member: bodies[i]})
			} else {
				p.XAdd(ctx, &redis.XAddArgs{Stream: s.keys.whStreamKey(k), Values: []any{"j", bodies[i]}})
			}
		}
	}
	if !s.cluster {
		all := make([]int, len(jobs))
		for i := range all {
			all[i] = i
		}
		byShard = map[int][]int{0: all} // one MULTI, in the callers' order
	}
	for k, idx := range byShard {
		groups[shardTags[k]] = func(p redis.Pipeliner) { queue(p, idx) }
	}
	if err := s.txGroups(ctx, groups); err != nil {
		return 0, fmt.Errorf("store: %s: %w", op, err)
	}
	return len(jobs), nil
}

// promoteJobsScript: KEYS retry zset, stream; ARGV now ms, n. Moves due jobs to the stream.
var promoteJobsScript = redis.NewScript(`
local due = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[2]))
for _, j in ipairs(due) do
  redis.call('XADD', KEYS[2], '*', 'j', j)
  redis.call('ZREM', KEYS[1], j)
end
return #due
`)

// whToken is a claim's token: the shard, the entry id and its delivery count.
func whToken(shard int, id string, deliveries int64) string {
	return strconv.Itoa(shard) + ":" + id + "/" + strconv.FormatInt(deliveries, 10)
}

func parseWhToken(tok string) (shard int, id, deliveries string, ok bool) {
	ks, rest, ok := strings.Cut(tok, ":")
	if !ok {
		return 0, "", "", false
	}
	shard, err := strconv.Atoi(ks)
	if err != nil || shard < 0 || shard >= messageShards {
		return 0, "", "", false
	}
	id, deliveries, ok = strings.Cut(rest, "/")
	return shard, id, deliveries, ok && validEntryID(id) && deliveries != ""
}

// maxLease is the longest webhook lease. A claim with lease L sets its entries' idle time to
// maxLease-L, and takeovers claim entries idle for maxLease: so each claim's own lease is
// honoured although Redis measures only idle time.
const maxLease = 24 * time.Hour

// claimJobsScript: KEYS the streams to claim from, in order; ARGV group, consumer, n,
// maxLease ms, maxLease-lease ms, "1" to take over expired leases first. Returns (key
// index, id, job JSON, deliveries) quadruples, at most n, taking from each stream what it
// has before going on to the next. The entries' idle times are set in the same script, so
// no crash leaves a claim with the wrong lease. On a cluster it gets one stream per call.
var claimJobsScript = redis.NewScript(`
local flat = {}
local left = tonumber(ARGV[3])
for ki = 1, #KEYS do
  if left <= 0 then break end
  local key = KEYS[ki]
  local out = {}
  if ARGV[6] == '1' then
    local r = redis.call('XAUTOCLAIM', key, ARGV[1], ARGV[2], ARGV[4], '0-0', 'COUNT', left)
    for _, e in ipairs(r[2]) do
      if type(e) == 'table' and e[1] then
        local p = redis.call('XPENDING', key, ARGV[1], e[1], e[1], 1)
        local d = 2
        if #p == 1 then d = p[1][4] end
        out[#out + 1] = {e[1], e[2], d}
      end
    end
  end
  if #out < left then
    local r = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', left - #out, 'STREAMS', key, '>')
    if r then
      for _, e in ipairs(r[1][2]) do out[#out + 1] = {e[1], e[2], 1} end
    end
  end
  if #out > 0 then
    -- unpack expands only as the last argument: build the whole argument list.
    local args = {key, ARGV[1], ARGV[2], 0}
    for _, e in ipairs(out) do args[#args + 1] = e[1] end
    args[#args + 1] = 'IDLE'
    args[#args + 1] = ARGV[5]
    args[#args + 1] = 'JUSTID'
    redis.call('XCLAIM', unpack(args))
    for _, e in ipairs(out) do
      local j = ''
      local f = e[2]
      if type(f) == 'table' then
        for k = 1, #f, 2 do
          if f[k] == 'j' then j = f[k + 1] end
        end
      end
      flat[#flat + 1] = ki
      flat[#flat + 1] = e[1]
      flat[#flat + 1] = j
      flat[#flat + 1] = e[3]
    end
    left = left - #out
  end
end
return flat
`)

// ensureWebhookGroups creates the consumer groups of the shards' streams unless known.
func (s *Store) ensureWebhookGroups(ctx context.Context) error {
	if _, ok := s.groups.Load(s.keys.whStreamKey(0)); ok {
		return nil
	}
	cmds, _ := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for k := range messageShards {
			p.XGroupCreateMkStream(ctx, s.keys.whStreamKey(k), webhookGroup, "0")
		}
		return nil
	})
	for _, c := range cmds {
		if err := c.Err(); err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
			return fmt.Errorf("create consumer group: %w", err)
		}
	}
	s.groups.Store(s.keys.whStreamKey(0), struct{}{}) // a key with ':', unlike the carriers' entries
	return nil
}

// ClaimWebhooks implements store.Webhooks over the shards' queues, starting at a rotating
// shard: due retries move to their stream first (at most every 100ms, one script per
// shard), then jobs of dead members and jobs whose lease ran out are taken over (at most
// every lease/4, at most every second), then new entries are read; the claimed entries'
// idle times are set so that they can be taken over once this claim's lease runs out (see
// maxLease). On a single Redis the claim is one script over every shard; on a cluster a
// look at every shard comes first, then the n jobs are split between the shards that have
// some (two round trips, the shards' scripts in parallel). Either way the jobs come back
// earliest due first.
func (s *Store) ClaimWebhooks(ctx context.Context, now time.Time, lease time.Duration, n int) ([]*store.WebhookJob, error) {
	op := "claim webhooks"
	if err := s.check(ctx, op); err != nil {
		return nil, err
	}
	if n <= 0 {
		return nil, nil
	}
	lease = min(max(lease, time.Millisecond), maxLease)
	if err := s.ensureWebhookGroups(ctx); err != nil {
		return nil, fmt.Errorf("store: %s: %w", op, err)
	}
	if last := s.lastPromote.Load(); now.UnixMilli()-last >= 100 || now.UnixMilli() < last {
		s.lastPromote.Store(now.UnixMilli())
		calls := make([]*scriptCall, messageShards)
		for k := range calls {
			calls[k] = &scriptCall{script: promoteJobsScript, keys: []string{s.keys.whRetryKey(k), s.keys.whStreamKey(k)},
				args: []any{now.UnixMilli(), 1000}}
		}
		calls = append(calls, s.sweepCalls(now, &s.lastSweep)...) // every sweepEvery (sweep.go)
		if err := s.runScripts(ctx, calls); err != nil {
			return nil, fmt.Errorf("store: %s: %w", op, err)
		}
	}
	takeover := "0"
	if last := s.lastTakeover.Load(); now.Sub(time.UnixMilli(last)) >= min(max(lease/4, 100*time.Millisecond), time.Second) || now.UnixMilli() < last {
		s.lastTakeover.Store(now.UnixMilli())
		takeover = "1"
	}
	consumer := s.consumerName()
	var out []*store.WebhookJob
	if takeover == "1" {
		// Jobs of dead members are taken at once, their lease set to this claim's.
		shards, err := s.shardsWithOthers(ctx, consumer)
		if err != nil {
			return nil, fmt.Errorf("store: %s: %w", op, err)
		}
		for _, k := range shards {
			if len(out) >= n {
				break
			}
			taken, err := s.takeOverDead(ctx, s.keys.whStreamKey(k), webhookGroup, consumer, "", n-len(out), maxLease-lease)
			if err != nil {
				return out, fmt.Errorf("store: %s: %w", op, err)
			}
			for _, t := range taken {
				if j := s.decodeJob(ctx, k, t.id, t.fields["j"], t.deliveries); j != nil {
					out = append(out, j)
				}
			}
		}
		if len(out) >= n {
			return out, nil
		}
	}
	first := int(s.whRotor.Add(1) % messageShards)
	order := make([]int, messageShards)
	for i := range order {
		order[i] = (first + i) % messageShards
	}
	args := func(n int, takeover string) []any {
		return []any{webhookGroup, consumer, n, ms(maxLease), ms(maxLease - lease), takeover}
	}
	if !s.cluster {
		keys := make([]string, len(order))
		for i, k := range order {
			keys[i] = s.keys.whStreamKey(k)
		}
		vals, err := claimJobsScript.Run(ctx, s.c, keys, args(n-len(out), takeover)...).Slice()
		if isNoGroup(err) {
			s.groups.Delete(s.keys.whStreamKey(0))
		}
		if err != nil && !errors.Is(err, redis.Nil) {
			return out, fmt.Errorf("store: %s: %w", op, err)
		}
		out = append(out, s.decodeJobs(ctx, vals, func(i int) int { return order[i-1] })...)
		sortJobs(out)
		return out, nil
	}
	// A cluster runs one script per shard: first a look at what each shard has for a claim
	// (one pipeline), then the claim split between those that have something.
	peeks := make([]*scriptCall, len(order))
	for i, k := range order {
		peeks[i] = &scriptCall{script: peekJobsScript, keys: []string{s.keys.whStreamKey(k)},
			args: []any{webhookGroup, n - len(out), ms(maxLease), takeover}}
	}
	if err := s.runScripts(ctx, peeks); err != nil {
		if isNoGroup(err) || strings.Contains(err.Error(), "no such key") {
			s.groups.Delete(s.keys.whStreamKey(0)) // a stream deleted under us: recreated next time
		} else {
			return out, fmt.Errorf("store: %s: %w", op, err)
		}
	}
	avail := make([]int, len(order))
	for i, c := range peeks {
		v, _ := c.cmd.Int()
		avail[i] = v
	}
	quota := make([]int, len(order))
	for left := n - len(out); left > 0; {
		gave := false
		for i := range order {
			if left > 0 && quota[i] < avail[i] {
				quota[i]++
				left--
				gave = true
			}
		}
		if !gave {
			break
		}
	}
	var calls []*scriptCall
	var shards []int
	for i, k := range order {
		if quota[i] > 0 {
			calls = append(calls, &scriptCall{script: claimJobsScript, keys: []string{s.keys.whStreamKey(k)}, args: args(quota[i], takeover)})
			shards = append(shards, k)
		}
	}
	err := s.runScripts(ctx, calls)
	for i, c := range calls {
		if vals, cerr := c.cmd.Slice(); cerr == nil {
			out = append(out, s.decodeJobs(ctx, vals, func(int) int { return shards[i] })...)
		} else if isNoGroup(cerr) {
			s.groups.Delete(s.keys.whStreamKey(0))
		}
	}
	sortJobs(out)
	if err != nil && len(out) == 0 {
		return nil, fmt.Errorf("store: %s: %w", op, err)
	}
	return out, nil
}

// sortJobs orders a claim's jobs earliest due first (NextAt, else CreatedAt; then id):
// each shard hands out its jobs in order, and this merges the shards' (approximately: the
// earliest job of a shard that a claim did not reach waits for the next claim).
func sortJobs(jobs []*store.WebhookJob) {
	due := func(j *store.WebhookJob) time.Time {
		if !j.NextAt.IsZero() {
			return j.NextAt
		}
		return j.CreatedAt
	}
	slices.SortStableFunc(jobs, func(a, b *store.WebhookJob) int {
		if c := due(a).Compare(due(b)); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// peekJobsScript: KEYS a shard's stream; ARGV group, n, maxLease ms, "1" to count expired
// leases too. Returns how many jobs (at most n) a claim could take from the shard now:
// entries not yet delivered to the group, and with takeover those whose lease ran out.
var peekJobsScript = redis.NewScript(`
local last
for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local name, ld
  for i = 1, #g, 2 do
    if g[i] == 'name' then name = g[i + 1] elseif g[i] == 'last-delivered-id' then ld = g[i + 1] end
  end
  if name == ARGV[1] then last = ld end
end
if not last then return 0 end
local n = tonumber(ARGV[2])
local c = #redis.call('XRANGE', KEYS[1], '(' .. last, '+', 'COUNT', n)
if c < n and ARGV[4] == '1' then
  c = c + #redis.call('XPENDING', KEYS[1], ARGV[1], 'IDLE', ARGV[3], '-', '+', n - c)
end
return c
`)

// shardsWithOthers returns the shards whose webhook group has consumers named by members
// other than consumer (one pipeline of XINFO CONSUMERS): where takeOverDead may find work.
func (s *Store) shardsWithOthers(ctx context.Context, consumer string) ([]int, error) {
	cmds := make([]*redis.XInfoConsumersCmd, messageShards)
	_, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for k := range cmds {
			cmds[k] = p.XInfoConsumers(ctx, s.keys.whStreamKey(k), webhookGroup)
		}
		return nil
	})
	if err != nil && !isNoGroup(err) && !strings.Contains(err.Error(), "no such key") {
		return nil, err
	}
	var out []int
	for k, c := range cmds {
		for _, ci := range c.Val() {
			if _, ok := store.ParseConsumer(ci.Name); ok && ci.Name != consumer {
				out = append(out, k)
				break
			}
		}
	}
	return out, nil
}

// decodeJobs decodes claimJobsScript's quadruples; shard maps a key index to its shard.
func (s *Store) decodeJobs(ctx context.Context, vals []any, shard func(keyIndex int) int) []*store.WebhookJob {
	out := make([]*store.WebhookJob, 0, len(vals)/4)
	for i := 0; i+3 < len(vals); i += 4 {
		ki, _ := vals[i].(int64)
		id, _ := vals[i+1].(string)
		body, _ := vals[i+2].(string)
		d, _ := vals[i+3].(int64)
		if j := s.decodeJob(ctx, shard(int(ki)), id, body, d); j != nil {
			out = append(out, j)
		}
	}
	return out
}

// decodeJob decodes a claimed job entry of shard k; one that does not decode is no job
// anyone can send: it is dropped rather than left to block the queue.
func (s *Store) decodeJob(ctx context.Context, k int, id, body string, deliveries int64) *store.WebhookJob {
	j, err := s.unmarshalJob([]byte(body))
	if body == "" || err != nil || j.ID == "" {
		key := s.keys.whStreamKey(k)
		s.c.XAck(ctx, key, webhookGroup, id)
		s.c.XDel(ctx, key, id)
		return nil
	}
	j.Token = whToken(k, id, deliveries)
	return j
}

// AckWebhooks implements store.Webhooks: XACK and XDEL through the group commit. A delivered
// job is finished even if its lease ran out meanwhile (the other holder's attempt is a
// duplicate the receiver deduplicates by the job's ID).
func (s *Store) AckWebhooks(ctx context.Context, jobs ...*store.WebhookJob) error {
	op := "ack webhooks"
	if err := s.check(ctx, op); err != nil {
		return err
	}
	acks := map[streamGroup][]string{}
	var evs [][2]string // timeline key, event: RPUSHX in the same batch
	for _, j := range jobs {
		if j == nil {
			continue
		}
		if k, id, _, ok := parseWhToken(j.Token); ok {
			sg := streamGroup{s.keys.whStreamKey(k), webhookGroup}
			acks[sg] = append(acks[sg], id)
			if ev := s.eventArg(j.Event); ev != "" && j.MessageID != "" {
				evs = append(evs, [2]string{s.keys.evKey(j.MessageID), ev})
			}
		}
	}
	if len(acks) == 0 {
		return nil
	}
	w := &write{acks: acks}
	if len(evs) > 0 {
		w.add = func(p redis.Pipeliner) {
			for _, e := range evs {
				p.RPushX(context.Background(), e[0], e[1])
			}
		}
	}
	if err := s.commit.do(ctx, w); err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	return nil
}

// heldCheck is the Lua preamble of RetryWebhook and DeadWebhook: the claim (entry ARGV[1]
// with delivery count ARGV[2] in group ARGV[3] of stream KEYS[1]) must still be pending with
// that count; then it is finished.
const heldCheck = `
local p = redis.call('XPENDING', KEYS[1], ARGV[3], ARGV[1], ARGV[1], 1)
if #p == 0 or tostring(p[1][4]) ~= ARGV[2] then return 0 end
redis.call('XACK', KEYS[1], ARGV[3], ARGV[1])
redis.call('XDEL', KEYS[1], ARGV[1])
`

// timelineEvent is the Lua tail of RetryWebhook and DeadWebhook: given the message's
// timeline key (KEYS[n], in the job's shard) the attempt's event ARGV[m] is appended.
func timelineEvent(n, m int) string {
	return fmt.Sprintf("if KEYS[%d] and ARGV[%d] ~= '' then redis.call('RPUSHX', KEYS[%d], ARGV[%d]) end\n", n, m, n, m)
}

// retryJobScript: KEYS stream, retry zset, [timeline]; ARGV entry id, deliveries, group,
// JSON, due ms, event.
var retryJobScript = redis.NewScript(heldCheck + `
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[4])
` + timelineEvent(3, 6) + `
return 1
`)

// jobEventKeys appends the timeline key of job's message to keys, when the job has an event
// and a message in its shard k (so the script stays single-slot on a cluster).
func (s *Store) jobEventKeys(keys []string, k int, job *store.WebhookJob) []string {
	if job.Event != nil && !s.opts.NoTimeline && job.MessageID != "" && shardOf(job.MessageID) == k {
		return append(keys, s.keys.evKey(job.MessageID))
	}
	return keys
}

// RetryWebhook implements store.Webhooks: the job waits in its shard's retry set.
func (s *Store) RetryWebhook(ctx context.Context, job *store.WebhookJob, at time.Time) error {
	op := "retry webhook " + job.ID
	if err := s.check(ctx, op); err != nil {
		return err
	}
	k, id, d, ok := parseWhToken(job.Token)
	if !ok {
		return nil
	}
	c := *job
	c.NextAt = at
	b, err := s.marshalJob(&c)
	if err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	keys := s.jobEventKeys([]string{s.keys.whStreamKey(k), s.keys.whRetryKey(k)}, k, job)
	if err := retryJobScript.Run(ctx, s.c, keys, id, d, webhookGroup, b, at.UnixMilli(), s.eventArg(job.Event)).Err(); err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	return nil
}

// deadJobScript: KEYS stream, dead, deadidx, [timeline]; ARGV entry id, deliveries, group, job id,
// JSON, dead ms, the cutoff (ms) before which dead jobs are dropped (up to 100 of those go
// in each call, so the dead-letter store keeps Options.DeadRetention of history), and the
// time (ms) until which the keys must live (now + DeadRetention), and the timeline event.
var deadJobScript = redis.NewScript(fileAndTrim + heldCheck + `
fileAndTrim(KEYS[3], KEYS[2], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8])
` + timelineEvent(4, 9) + `
return 1
`)

// DeadWebhook implements store.Webhooks: the job goes to its shard's dead letters.
func (s *Store) DeadWebhook(ctx context.Context, job *store.WebhookJob) error {
	op := "dead webhook " + job.ID
	if err := s.check(ctx, op); err != nil {
		return err
	}
	k, id, d, ok := parseWhToken(job.Token)
	if !ok {
		return nil
	}
	c := *job
	if c.DeadAt.IsZero() {
		c.DeadAt = time.Now()
	}
	b, err := s.marshalJob(&c)
	if err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	keys := s.jobEventKeys([]string{s.keys.whStreamKey(k), s.keys.deadKey(k), s.keys.deadIdxKey(k)}, k, job)
	now := time.Now()
	cutoff, until := now.Add(-s.opts.DeadRetention).UnixMilli(), now.Add(s.opts.DeadRetention).UnixMilli()
	if err := deadJobScript.Run(ctx, s.c, keys, id, d, webhookGroup, job.ID, b, c.DeadAt.UnixMilli(), cutoff, until, s.eventArg(job.Event)).Err(); err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	return nil
}

// WebhookCounts implements store.Webhooks: summed over the shards.
func (s *Store) WebhookCounts(ctx context.Context) (store.WebhookCounts, error) {
	op := "webhook counts"
	if err := s.check(ctx, op); err != nil {
		return store.WebhookCounts{}, err
	}
	var cmds []*redis.IntCmd
	_, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for k := range messageShards {
			cmds = append(cmds, p.XLen(ctx, s.keys.whStreamKey(k)), p.ZCard(ctx, s.keys.whRetryKey(k)), p.HLen(ctx, s.keys.deadKey(k)))
		}
		return nil
	})
	if err != nil {
		return store.WebhookCounts{}, fmt.Errorf("store: %s: %w", op, err)
	}
	var c store.WebhookCounts
	for i := 0; i < len(cmds); i += 3 {
		c.Queued += cmds[i].Val() + cmds[i+1].Val()
		c.Dead += cmds[i+2].Val()
	}
	return c, nil
}
