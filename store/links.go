package store

import (
	"context"
	"slices"
	"strings"
	"time"
)

// Shortlinks (package api/shortlink, issue #15): a message sent with shortenurl=1 or a
// campaign name has every URL of its text replaced by a short link that names the message's
// recipient, so that a click on it says who clicked. The store keeps each link (what it
// redirects to and whom it was sent to) for its TTL, counts its clicks and previews, and
// queues the click's webhook job in the same atomic step as the count.

// DefaultLinkTTL is how long a link lives when PutLinks is given a ttl <= 0: 90 days, the
// life of a message's status record (DefaultRecordTTL).
const DefaultLinkTTL = 90 * 24 * time.Hour

// Link is one shortened URL in one message to one recipient.
type Link struct {
	// Code is the link's random code (base62, the last path segment of the short URL); it
	// is the link's identity.
	Code string `json:"code"`
	// URL is where the short link redirects: the URL as the client wrote it in the text
	// (a www. link gets http:// in front when redirected).
	URL string `json:"url"`
	// Header is the message's sender id, the short URL's first path segment.
	Header string `json:"header,omitempty"`
	// Phone is the recipient, normalised (e.g. 919812345678).
	Phone     string `json:"phone"`
	Account   string `json:"account"`
	MessageID string `json:"message_id,omitempty"`
	// Campaign is the request's campaignname ("" when none was given); counts are kept per
	// account and campaign.
	Campaign string `json:"campaign,omitempty"`
	// Webhook receives a form-encoded POST per human click ("" = none); Callback is echoed
	// in it (the request's shortenurlcallback).
	Webhook  string    `json:"webhook,omitempty"`
	Callback string    `json:"callback,omitempty"`
	Created  time.Time `json:"created"`
}

// Click is one request for a short link that resolved.
type Click struct {
	Link *Link
	At   time.Time
	// Preview marks a link-preview fetcher (a messenger or a crawler), counted apart from
	// clicks by people.
	Preview bool
	// Webhook, if set, is queued in the same atomic step as the click is counted (the
	// redirector sets none for previews unless told to).
	Webhook *WebhookJob
}

// ClickResult is what RecordClicks made of one click.
type ClickResult struct {
	// Unique: the link's first click by a person.
	Unique bool
	// Gone: the link expired between its resolution and the count; nothing was stored.
	Gone bool
}

// LinkStats counts links and what they got: of one campaign (CampaignStats) or one link
// (LinkStats, Links = 1).
type LinkStats struct {
	Links        int64 `json:"links"`
	Clicks       int64 `json:"clicks"`
	UniqueClicks int64 `json:"unique_clicks"` // links clicked at least once by a person
	Previews     int64 `json:"previews"`
}

// Links stores short links and their clicks.
type Links interface {
	// PutLinks stores the links, each kept for ttl (ttl <= 0: DefaultLinkTTL), and counts
	// them in their campaigns, all at once (one round trip for Redis): the links of a
	// request exist before its messages are submitted. A code already stored is replaced.
	PutLinks(ctx context.Context, links []*Link, ttl time.Duration) error

	// ResolveLink returns the link of a code, or ErrNotFound (unknown or expired).
	ResolveLink(ctx context.Context, code string) (*Link, error)

	// ResolveLinks returns the links of many codes at once (one round trip for Redis), in
	// the codes' order; an unknown or expired code gets nil. The redirector gathers the
	// lookups of concurrent requests into one call.
	ResolveLinks(ctx context.Context, codes ...string) ([]*Link, error)

	// RecordClicks counts each click on its link and in its campaign (a person's click, or
	// a preview), and queues its webhook job in the same atomic step. Many clicks go
	// together (one round trip for Redis).
	RecordClicks(ctx context.Context, clicks ...*Click) ([]ClickResult, error)

	// LinkStats counts one link's clicks (ErrNotFound when it is gone).
	LinkStats(ctx context.Context, code string) (LinkStats, error)

	// CampaignStats sums the account's links of a campaign and their clicks; an unknown
	// campaign counts zero. Counts live as long as the campaign's newest link.
	CampaignStats(ctx context.Context, account, campaign string) (LinkStats, error)

	// Campaigns lists the account's campaigns with their counts, newest first (by the
	// time of their newest link), at most limit (limit <= 0: 50). The links without a
	// campaign name count as the campaign "". A campaign drops out of the list when its
	// newest link expires. The operator console's clients page shows it.
	Campaigns(ctx context.Context, account string, limit int) ([]CampaignStats, error)
}

// DefaultCampaignsLimit is Campaigns' limit when given limit <= 0.
const DefaultCampaignsLimit = 50

// NewestCampaigns puts campaigns in the order Campaigns answers (newest link first, by name
// among equals) and keeps the first limit of them (limit <= 0: DefaultCampaignsLimit); both
// stores list through it.
func NewestCampaigns(cs []CampaignStats, limit int) []CampaignStats {
	if limit <= 0 {
		limit = DefaultCampaignsLimit
	}
	slices.SortFunc(cs, func(a, b CampaignStats) int {
		if c := b.Last.Compare(a.Last); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	if len(cs) > limit {
		cs = cs[:limit]
	}
	return cs
}

// CampaignStats is one campaign of an account and its counts (Links.Campaigns).
type CampaignStats struct {
	Name string `json:"name"`
	LinkStats
	// Last is when the campaign's newest link was stored.
	Last time.Time `json:"last"`
}
