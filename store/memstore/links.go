package memstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/smppd/smppd/store"
)

// Short links and their counts (store.Links), kept in the Store's linkSt. A campaign's
// counts live as long as its newest link, as in the Redis store.

var _ store.Links = (*Store)(nil)

type linkState struct {
	mu        sync.Mutex
	links     map[string]*linkEntry // by code
	campaigns map[string]*campaignEntry
	writes    int
}

type linkEntry struct {
	l       store.Link
	stats   store.LinkStats
	expires time.Time
}

type campaignEntry struct {
	account, name string
	stats         store.LinkStats
	last          time.Time // when its newest link was stored
	expires       time.Time
}

func campaignKey(account, campaign string) string { return account + "\x00" + campaign }

// sweepLocked drops expired links and campaigns every 256 writes.
func (d *linkState) sweepLocked(now time.Time) {
	d.writes++
	if d.writes%256 != 0 {
		return
	}
	for k, e := range d.links {
		if !now.Before(e.expires) {
			delete(d.links, k)
		}
	}
	for k, e := range d.campaigns {
		if !now.Before(e.expires) {
			delete(d.campaigns, k)
		}
	}
}

func checkLink(l *store.Link) error {
	if l == nil || l.Code == "" || l.URL == "" {
		return errors.New("link without code or url")
	}
	return nil
}

// PutLinks implements store.Links.
func (s *Store) PutLinks(ctx context.Context, links []*store.Link, ttl time.Duration) error {
	if err := s.open(ctx, "put links"); err != nil {
		return err
	}
	for _, l := range links {
		if err := checkLink(l); err != nil {
			return fmt.Errorf("store: put links: %w", err)
		}
	}
	if ttl <= 0 {
		ttl = store.DefaultLinkTTL
	}
	now := s.now()
	d := &s.linkSt
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.links == nil {
		d.links, d.campaigns = map[string]*linkEntry{}, map[string]*campaignEntry{}
	}
	d.sweepLocked(now)
	for _, l := range links {
		d.links[l.Code] = &linkEntry{l: *l, stats: store.LinkStats{Links: 1}, expires: now.Add(ttl)}
		k := campaignKey(l.Account, l.Campaign)
		c := d.campaigns[k]
		if c == nil || !now.Before(c.expires) {
			c = &campaignEntry{account: l.Account, name: l.Campaign}
			d.campaigns[k] = c
		}
		c.stats.Links++
		c.last = now
		c.expires = now.Add(ttl)
	}
	return nil
}

// liveLocked returns the link of code unless it is absent or expired.
func (d *linkState) liveLocked(code string, now time.Time) *linkEntry {
	e := d.links[code]
	if e == nil || !now.Before(e.expires) {
		return nil
	}
	return e
}

// ResolveLink implements store.Links.
func (s *Store) ResolveLink(ctx context.Context, code string) (*store.Link, error) {
	if err := s.open(ctx, "resolve link"); err != nil {
		return nil, err
	}
	d := &s.linkSt
	d.mu.Lock()
	defer d.mu.Unlock()
	e := d.liveLocked(code, s.now())
	if e == nil {
		return nil, store.ErrNotFound
	}
	l := e.l
	return &l, nil
}

// ResolveLinks implements store.Links.
func (s *Store) ResolveLinks(ctx context.Context, codes ...string) ([]*store.Link, error) {
	if err := s.open(ctx, "resolve links"); err != nil {
		return nil, err
	}
	d := &s.linkSt
	d.mu.Lock()
	defer d.mu.Unlock()
	now := s.now()
	out := make([]*store.Link, len(codes))
	for i, c := range codes {
		if e := d.liveLocked(c, now); e != nil {
			l := e.l
			out[i] = &l
		}
	}
	return out, nil
}

// RecordClicks implements store.Links: each click is counted and its job queued under the
// links' lock, so a click is never counted without its job.
func (s *Store) RecordClicks(ctx context.Context, clicks ...*store.Click) ([]store.ClickResult, error) {
	if err := s.open(ctx, "record clicks"); err != nil {
		return nil, err
	}
	for _, c := range clicks {
		if c == nil || c.Link == nil || c.Link.Code == "" {
			return nil, errors.New("store: record clicks: click without a link")
		}
		if c.Webhook != nil {
			if err := checkJob(c.Webhook); err != nil {
				return nil, fmt.Errorf("store: record clicks: %w", err)
			}
		}
	}
	now := s.now()
	d := &s.linkSt
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]store.ClickResult, len(clicks))
	for i, c := range clicks {
		e := d.liveLocked(c.Link.Code, now)
		if e == nil {
			out[i].Gone = true
			continue
		}
		camp := d.campaigns[campaignKey(e.l.Account, e.l.Campaign)]
		if camp == nil {
			camp = &campaignEntry{account: e.l.Account, name: e.l.Campaign, expires: e.expires}
			d.campaigns[campaignKey(e.l.Account, e.l.Campaign)] = camp
		}
		switch {
		case c.Preview:
			e.stats.Previews++
			camp.stats.Previews++
		default:
			e.stats.Clicks++
			camp.stats.Clicks++
			if e.stats.Clicks == 1 {
				out[i].Unique = true
				e.stats.UniqueClicks = 1
				camp.stats.UniqueClicks++
			}
		}
		if c.Webhook != nil {
			dl := s.dlr()
			dl.mu.Lock()
			dl.enqueueLocked(cloneJob(c.Webhook), now)
			dl.mu.Unlock()
		}
	}
	return out, nil
}

// LinkStats implements store.Links.
func (s *Store) LinkStats(ctx context.Context, code string) (store.LinkStats, error) {
	if err := s.open(ctx, "link stats"); err != nil {
		return store.LinkStats{}, err
	}
	d := &s.linkSt
	d.mu.Lock()
	defer d.mu.Unlock()
	e := d.liveLocked(code, s.now())
	if e == nil {
		return store.LinkStats{}, store.ErrNotFound
	}
	return e.stats, nil
}

// CampaignStats implements store.Links.
func (s *Store) CampaignStats(ctx context.Context, account, campaign string) (store.LinkStats, error) {
	if err := s.open(ctx, "campaign stats"); err != nil {
		return store.LinkStats{}, err
	}
	d := &s.linkSt
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.campaigns[campaignKey(account, campaign)]
	if c == nil || !s.now().Before(c.expires) {
		return store.LinkStats{}, nil
	}
	return c.stats, nil
}

// Campaigns implements store.Links: a scan of the campaigns (the memory store serves one
// process and small sets; the Redis store keeps an index per account).
func (s *Store) Campaigns(ctx context.Context, account string, limit int) ([]store.CampaignStats, error) {
	if err := s.open(ctx, "campaigns"); err != nil {
		return nil, err
	}
	d := &s.linkSt
	d.mu.Lock()
	now := s.now()
	var out []store.CampaignStats
	for _, c := range d.campaigns {
		if c.account == account && now.Before(c.expires) && !c.last.IsZero() {
			out = append(out, store.CampaignStats{Name: c.name, LinkStats: c.stats, Last: c.last})
		}
	}
	d.mu.Unlock()
	return store.NewestCampaigns(out, limit), nil
}
