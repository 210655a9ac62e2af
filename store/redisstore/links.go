package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smppd/smppd/store"
)

// Short links (store.Links). Per message shard S of a link's code (layout.go):
//
//	P:S:ln:<code>                 hash  "d" = the Link as JSON; "c" clicks, "p" previews;
//	                                    with the link's TTL
//	P:S:lc:<n>:<account>:<name>   hash  "links", "clicks", "unique_clicks", "previews" of
//	                                    the campaign's links in shard S; its TTL is renewed
//	                                    by every PutLinks to the newest link's
//	P:S:lz:<n>:<account>          zset  the account's campaigns with links in shard S,
//	                                    scored by their newest link's time (ms); same TTL,
//	                                    trimmed of campaigns older than it by every PutLinks
//
// A click's count and its webhook job (XADD to the shard's stream P:S:wh) are one script,
// so a click is never counted without its webhook queued nor the reverse.

var _ store.Links = (*Store)(nil)

// PutLinks implements store.Links: one MULTI for all (on a cluster one per shard, in
// parallel: still one round trip).
func (s *Store) PutLinks(ctx context.Context, links []*store.Link, ttl time.Duration) error {
	op := "put links"
	if err := s.check(ctx, op); err != nil {
		return err
	}
	if len(links) == 0 {
		return nil
	}
	if ttl <= 0 {
		ttl = store.DefaultLinkTTL
	}
	bodies := make([][]byte, len(links))
	byShard := map[int][]int{}
	for i, l := range links {
		if l == nil || l.Code == "" || l.URL == "" {
			return fmt.Errorf("store: %s: link without code or url", op)
		}
		b, err := json.Marshal(l)
		if err != nil {
			return fmt.Errorf("store: %s: %w", op, err)
		}
		bodies[i] = b
		k := shardOf(l.Code)
		byShard[k] = append(byShard[k], i)
	}
	now := time.Now().UnixMilli()
	oldest := strconv.FormatInt(now-ttl.Milliseconds(), 10)
	groups := map[string]func(redis.Pipeliner){}
	for k, idx := range byShard {
		groups[shardTags[k]] = func(p redis.Pipeliner) {
			camps := map[string]bool{}
			index := map[string]map[string]bool{} // campaigns index key → campaign names
			for _, i := range idx {
				l := links[i]
				key := s.keys.linkKey(l.Code)
				p.HSet(ctx, key, "d", bodies[i])
				p.PExpire(ctx, key, ttl)
				ck := s.keys.campaignKey(k, l.Account, l.Campaign)
				p.HIncrBy(ctx, ck, "links", 1)
				camps[ck] = true
				zk := s.keys.campaignsKey(k, l.Account)
				if index[zk] == nil {
					index[zk] = map[string]bool{}
				}
				index[zk][l.Campaign] = true
			}
			for ck := range camps {
				p.PExpire(ctx, ck, ttl)
			}
			for zk, names := range index {
				for name := range names {
					p.ZAddGT(ctx, zk, redis.Z{Score: float64(now), Member: name})
				}
				p.ZRemRangeByScore(ctx, zk, "-inf", "("+oldest)
				p.PExpire(ctx, zk, ttl)
			}
		}
	}
	if err := s.txGroups(ctx, groups); err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	return nil
}

// ResolveLink implements store.Links: one HGET.
func (s *Store) ResolveLink(ctx context.Context, code string) (*store.Link, error) {
	op := "resolve link"
	if err := s.check(ctx, op); err != nil {
		return nil, err
	}
	b, err := s.c.HGet(ctx, s.keys.linkKey(code), "d").Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", op, err)
	}
	var l store.Link
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("store: %s %s: %w", op, code, err)
	}
	return &l, nil
}

// ResolveLinks implements store.Links: one HGET per code in one pipeline.
func (s *Store) ResolveLinks(ctx context.Context, codes ...string) ([]*store.Link, error) {
	op := "resolve links"
	if err := s.check(ctx, op); err != nil {
		return nil, err
	}
	cmds := make([]*redis.StringCmd, len(codes))
	_, _ = s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, c := range codes {
			cmds[i] = p.HGet(ctx, s.keys.linkKey(c), "d")
		}
		return nil
	})
	out := make([]*store.Link, len(codes))
	for i, c := range cmds {
		b, err := c.Bytes()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("store: %s: %w", op, err)
		}
		var l store.Link
		if err := json.Unmarshal(b, &l); err != nil {
			return nil, fmt.Errorf("store: %s %s: %w", op, codes[i], err)
		}
		out[i] = &l
	}
	return out, nil
}

// clickScript: KEYS link hash, campaign hash, webhook stream (one shard); ARGV "1" for a
// preview, the webhook job JSON ("" = none), the campaign's fallback TTL in ms. Returns -1
// when the link is gone, 1 for its first click by a person, else 0. The campaign hash gets
// the TTL only if it has none (it expired since PutLinks and HINCRBY made it anew).
var clickScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local r = 0
if ARGV[1] == '1' then
  redis.call('HINCRBY', KEYS[1], 'p', 1)
  redis.call('HINCRBY', KEYS[2], 'previews', 1)
else
  if redis.call('HINCRBY', KEYS[1], 'c', 1) == 1 then
    r = 1
    redis.call('HINCRBY', KEYS[2], 'unique_clicks', 1)
  end
  redis.call('HINCRBY', KEYS[2], 'clicks', 1)
end
if ARGV[2] ~= '' then redis.call('XADD', KEYS[3], '*', 'j', ARGV[2]) end
if redis.call('PTTL', KEYS[2]) < 0 then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
return r
`)

// RecordClicks implements store.Links: one script per click, all in one pipeline. A click's
// job goes to the webhook queue of its link's shard.
func (s *Store) RecordClicks(ctx context.Context, clicks ...*store.Click) ([]store.ClickResult, error) {
	op := "record clicks"
	if err := s.check(ctx, op); err != nil {
		return nil, err
	}
	calls := make([]*scriptCall, len(clicks))
	for i, c := range clicks {
		if c == nil || c.Link == nil || c.Link.Code == "" {
			return nil, fmt.Errorf("store: %s: click without a link", op)
		}
		job := ""
		if c.Webhook != nil {
			b, err := s.marshalJob(c.Webhook)
			if err != nil {
				return nil, fmt.Errorf("store: %s: %w", op, err)
			}
			job = string(b)
		}
		k := shardOf(c.Link.Code)
		preview := "0"
		if c.Preview {
			preview = "1"
		}
		calls[i] = &scriptCall{script: clickScript,
			keys: []string{s.keys.linkKey(c.Link.Code), s.keys.campaignKey(k, c.Link.Account, c.Link.Campaign), s.keys.whStreamKey(k)},
			args: []any{preview, job, strconv.FormatInt(store.DefaultLinkTTL.Milliseconds(), 10)}}
	}
	if err := s.runScripts(ctx, calls); err != nil {
		return nil, fmt.Errorf("store: %s: %w", op, err)
	}
	out := make([]store.ClickResult, len(clicks))
	for i, c := range calls {
		n, _ := c.cmd.Int64()
		out[i] = store.ClickResult{Unique: n == 1, Gone: n < 0}
	}
	return out, nil
}

// LinkStats implements store.Links.
func (s *Store) LinkStats(ctx context.Context, code string) (store.LinkStats, error) {
	op := "link stats"
	if err := s.check(ctx, op); err != nil {
		return store.LinkStats{}, err
	}
	v, err := s.c.HMGet(ctx, s.keys.linkKey(code), "d", "c", "p").Result()
	if err != nil {
		return store.LinkStats{}, fmt.Errorf("store: %s: %w", op, err)
	}
	if v[0] == nil {
		return store.LinkStats{}, store.ErrNotFound
	}
	st := store.LinkStats{Links: 1, Clicks: anyInt(v[1]), Previews: anyInt(v[2])}
	if st.Clicks > 0 {
		st.UniqueClicks = 1
	}
	return st, nil
}

func anyInt(v any) int64 {
	s, _ := v.(string)
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// CampaignStats implements store.Links: the campaign's hash in every shard, in one pipeline.
func (s *Store) CampaignStats(ctx context.Context, account, campaign string) (store.LinkStats, error) {
	op := "campaign stats"
	if err := s.check(ctx, op); err != nil {
		return store.LinkStats{}, err
	}
	cmds := make([]*redis.MapStringStringCmd, messageShards)
	_, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for k := range cmds {
			cmds[k] = p.HGetAll(ctx, s.keys.campaignKey(k, account, campaign))
		}
		return nil
	})
	if err != nil {
		return store.LinkStats{}, fmt.Errorf("store: %s: %w", op, err)
	}
	var st store.LinkStats
	for _, c := range cmds {
		m := c.Val()
		st.Links += anyInt(m["links"])
		st.Clicks += anyInt(m["clicks"])
		st.UniqueClicks += anyInt(m["unique_clicks"])
		st.Previews += anyInt(m["previews"])
	}
	return st, nil
}

// Campaigns implements store.Links: two round trips whatever the limit — the account's
// campaign index of every shard (ZREVRANGE, one pipeline), then the counts of the newest
// limit campaigns in every shard (HGETALL, one pipeline).
func (s *Store) Campaigns(ctx context.Context, account string, limit int) ([]store.CampaignStats, error) {
	op := "campaigns"
	if err := s.check(ctx, op); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = store.DefaultCampaignsLimit
	}
	zcmds := make([]*redis.ZSliceCmd, messageShards)
	_, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for k := range zcmds {
			zcmds[k] = p.ZRevRangeWithScores(ctx, s.keys.campaignsKey(k, account), 0, int64(limit-1))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("store: %s: %w", op, err)
	}
	last := map[string]float64{}
	for _, c := range zcmds {
		for _, z := range c.Val() {
			name, _ := z.Member.(string)
			if z.Score > last[name] {
				last[name] = z.Score
			}
		}
	}
	out := make([]store.CampaignStats, 0, len(last))
	for name, ms := range last {
		out = append(out, store.CampaignStats{Name: name, Last: time.UnixMilli(int64(ms)).UTC()})
	}
	out = store.NewestCampaigns(out, limit)
	hcmds := make([][]*redis.MapStringStringCmd, len(out))
	_, err = s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range out {
			hcmds[i] = make([]*redis.MapStringStringCmd, messageShards)
			for k := range hcmds[i] {
				hcmds[i][k] = p.HGetAll(ctx, s.keys.campaignKey(k, account, out[i].Name))
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", op, err)
	}
	for i := range out {
		for _, c := range hcmds[i] {
			m := c.Val()
			out[i].Links += anyInt(m["links"])
			out[i].Clicks += anyInt(m["clicks"])
			out[i].UniqueClicks += anyInt(m["unique_clicks"])
			out[i].Previews += anyInt(m["previews"])
		}
	}
	// A campaign whose counts expired before its index entry was trimmed (its links had
	// a shorter TTL than a later PutLinks') is gone.
	out = slices.DeleteFunc(out, func(c store.CampaignStats) bool { return c.Links == 0 })
	return out, nil
}
