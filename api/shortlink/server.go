// Package shortlink is smppd's short-link redirector (issue #15): the listener behind the
// short domain (e.g. https://e.1rp.in) that answers GET /<HEADER>/<code> with a 302 to the
// link's original URL, tells link-preview fetchers from people, counts both, and queues a
// click webhook (form-encoded, through the durable webhook queue that delivery reports
// use) for each click by a person. It also finds and rewrites the URLs of a message text
// (FindURLs, Rewrite, NewCode), which package api uses when a message is sent with
// shortenurl=1 or a campaign name.
//
// The 302 does not wait for the click to be stored (Options.Durable false, the default):
// clicks go to the store in batches (store.Links.RecordClicks, one round trip per batch,
// after at most Options.Linger), so a redirect costs one store round trip (the code's
// lookup). A crash loses the clicks of the batch being gathered (at most Linger's worth);
// docs/api.md argues the trade. With Durable the 302 is answered once its click is stored.
package shortlink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/smppd/smppd/dlt"
	"github.com/smppd/smppd/internal/clientip"
	"github.com/smppd/smppd/internal/msisdn"
	"github.com/smppd/smppd/store"
)

// Defaults of Options.
const (
	DefaultLinger    = 2 * time.Millisecond
	DefaultMaxBatch  = 512
	DefaultQueue     = 65536
	DefaultResolvers = 4
)

// Result is what a request for a short link got, for metrics.
type Result string

const (
	ResultClick   Result = "click"   // a person's click: 302, counted, webhook queued
	ResultPreview Result = "preview" // a link-preview fetcher: 302, counted as a preview
	ResultUnknown Result = "unknown" // no such code, or expired: 404
	ResultInvalid Result = "invalid" // another path or method: 404/405
	ResultError   Result = "error"   // the store failed: 503
)

// Options configure a Server.
type Options struct {
	// BaseURL is the short links' base, e.g. https://e.1rp.in (a path is allowed:
	// https://example.com/s). Required.
	BaseURL string
	// Store keeps the links and counts the clicks. Required.
	Store store.Links
	// TTL is how long a link lives (PutLinks); 0: store.DefaultLinkTTL.
	TTL time.Duration
	// TrustedProxies are the networks (a CDN, a TLS terminator) whose X-Forwarded-For is
	// believed for the clicker's address; empty: the TCP peer is the clicker.
	TrustedProxies []netip.Prefix
	// PreviewWebhooks also sends the click webhook for link-preview fetchers (with
	// preview=1). Default false: previews are only counted.
	PreviewWebhooks bool
	// Durable answers the 302 only once the click (and its webhook job) is stored. Default
	// false: the click is stored within Linger after the answer.
	Durable bool
	// Linger is how long a batch of clicks waits for more before it is written
	// (DefaultLinger); MaxBatch caps a batch (DefaultMaxBatch); Queue bounds the clicks
	// waiting (DefaultQueue): when it is full, redirects wait for room.
	Linger   time.Duration
	MaxBatch int
	Queue    int
	// Resolvers is how many code lookups may be in flight to the store at once
	// (DefaultResolvers); each takes every lookup waiting when it starts, so under load a
	// round trip resolves many requests (a group read, with no linger).
	Resolvers int
	// OnRedirect, if set, is called once per request with its result (metrics).
	OnRedirect func(Result)
	// Logger receives store errors; phone numbers are masked.
	Logger zerolog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// WithDefaults returns o with every zero field that has a default set to it.
func (o Options) WithDefaults() Options {
	if o.TTL <= 0 {
		o.TTL = store.DefaultLinkTTL
	}
	if o.Linger <= 0 {
		o.Linger = DefaultLinger
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	if o.Queue <= 0 {
		o.Queue = DefaultQueue
	}
	if o.Resolvers <= 0 {
		o.Resolvers = DefaultResolvers
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// ErrNoBase is returned by New without a usable BaseURL.
var ErrNoBase = errors.New("shortlink: BaseURL must be an absolute http:// or https:// URL")

// Server serves the redirects and records the clicks. Start its click writer with Start
// (New does) and stop it with Shutdown after the HTTP server's Shutdown.
type Server struct {
	o       Options
	proxies clientip.Proxies
	base    string // BaseURL without a trailing slash
	path    string // BaseURL's path without a trailing slash ("" for none)

	clicks   chan pending
	lookups  chan lookup
	stopped  chan struct{}
	finished chan struct{} // closed by the writer once it has drained the queue
	stop     sync.Once

	stats struct {
		clicks, previews, unknown, invalid, errors, written, batches, failed atomic.Int64
	}
}

type pending struct {
	c    *store.Click
	done chan error // Durable only
}

// New checks o and starts the click writer.
func New(o Options) (*Server, error) {
	o = o.WithDefaults()
	u, err := url.Parse(strings.TrimSpace(o.BaseURL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, ErrNoBase
	}
	if o.Store == nil {
		return nil, errors.New("shortlink: Store is required")
	}
	proxies, err := clientip.New(o.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("shortlink: TrustedProxies: %w", err)
	}
	s := &Server{o: o, proxies: proxies, base: strings.TrimRight(u.Scheme+"://"+u.Host+u.EscapedPath(), "/"),
		path: strings.TrimRight(u.EscapedPath(), "/"), clicks: make(chan pending, o.Queue), stopped: make(chan struct{}), finished: make(chan struct{}),
		lookups: make(chan lookup, o.Queue)}
	go s.writer()
	for range o.Resolvers {
		go s.resolver()
	}
	return s, nil
}

// Base is the short links' base URL, without a trailing slash.
func (s *Server) Base() string { return s.base }

// TTL is how long the links live.
func (s *Server) TTL() time.Duration { return s.o.TTL }

// LinkPrefix is the start of every short link of a sender id: <base>/<HEADER>/.
func (s *Server) LinkPrefix(header string) string {
	return s.base + "/" + url.PathEscape(header) + "/"
}

// Stats are the redirector's counters.
type Stats struct {
	Clicks, Previews, Unknown, Invalid, Errors int64
	// Written counts clicks stored, Batches the RecordClicks calls, Failed the clicks lost
	// to store errors.
	Written, Batches, Failed int64
	// Waiting is the clicks queued for the writer now.
	Waiting int
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	return Stats{Clicks: s.stats.clicks.Load(), Previews: s.stats.previews.Load(), Unknown: s.stats.unknown.Load(),
		Invalid: s.stats.invalid.Load(), Errors: s.stats.errors.Load(), Written: s.stats.written.Load(),
		Batches: s.stats.batches.Load(), Failed: s.stats.failed.Load(), Waiting: len(s.clicks)}
}

func (s *Server) result(r Result) {
	switch r {
	case ResultClick:
		s.stats.clicks.Add(1)
	case ResultPreview:
		s.stats.previews.Add(1)
	case ResultUnknown:
		s.stats.unknown.Add(1)
	case ResultInvalid:
		s.stats.invalid.Add(1)
	case ResultError:
		s.stats.errors.Add(1)
	}
	if s.o.OnRedirect != nil {
		s.o.OnRedirect(r)
	}
}

type envelope struct {
	Status  string `json:"Status"`
	Details string `json:"Details"`
}

func writeJSON(w http.ResponseWriter, code int, details string) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store, private")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(envelope{Status: "Error", Details: details})
}

// ServeHTTP answers GET and HEAD /<HEADER>/<code> and /<code> (under BaseURL's path).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		s.result(ResultInvalid)
		writeJSON(w, http.StatusMethodNotAllowed, "Method "+r.Method+" not allowed - short links answer GET")
		return
	}
	p := r.URL.EscapedPath()
	if s.path != "" {
		if !strings.HasPrefix(p, s.path+"/") {
			s.result(ResultInvalid)
			writeJSON(w, http.StatusNotFound, "Not found")
			return
		}
		p = p[len(s.path):]
	}
	parts := strings.Split(strings.Trim(p, "/"), "/")
	var header, code string
	switch len(parts) {
	case 1:
		code = parts[0]
	case 2:
		header, code = parts[0], parts[1]
	}
	if !ValidCode(code) {
		s.result(ResultInvalid)
		writeJSON(w, http.StatusNotFound, "Not found - a short link is "+s.base+"/<HEADER>/<code>")
		return
	}
	l, err := s.resolve(r.Context(), code)
	if errors.Is(err, store.ErrNotFound) || err == nil && header != "" && !strings.EqualFold(url.PathEscape(l.Header), header) {
		s.result(ResultUnknown)
		writeJSON(w, http.StatusNotFound, "Link not found or expired")
		return
	}
	if err != nil {
		s.result(ResultError)
		s.o.Logger.Error().Err(err).Msg("shortlink: resolving a code failed")
		writeJSON(w, http.StatusServiceUnavailable, "Temporarily unavailable - try again")
		return
	}
	preview := IsPreview(r)
	c := &store.Click{Link: l, At: s.o.Now(), Preview: preview}
	if l.Webhook != "" && (!preview || s.o.PreviewWebhooks) {
		c.Webhook = ClickJob(l, c.At, s.clientIP(r), preview)
	}
	res := ResultClick
	if preview {
		res = ResultPreview
	}
	pc := pending{c: c}
	if s.o.Durable {
		pc.done = make(chan error, 1)
	}
	select {
	case s.clicks <- pc:
	case <-s.stopped:
		pc.done = nil // shutting down: the click is lost, the redirect still works
	case <-r.Context().Done():
		return
	}
	if pc.done != nil {
		if err := <-pc.done; err != nil {
			s.result(ResultError)
			writeJSON(w, http.StatusServiceUnavailable, "Temporarily unavailable - try again")
			return
		}
	}
	s.result(res)
	h := w.Header()
	h.Set("Location", Target(l.URL))
	h.Set("Cache-Control", "no-store, private")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Robots-Tag", "noindex, nofollow")
	w.WriteHeader(http.StatusFound)
}

type lookup struct {
	code string
	done chan lookupResult
}

type lookupResult struct {
	l   *store.Link
	err error
}

var donePool = sync.Pool{New: func() any { return make(chan lookupResult, 1) }}

// resolve looks code up through the resolvers: store.ErrNotFound when it has no link.
func (s *Server) resolve(ctx context.Context, code string) (*store.Link, error) {
	done := donePool.Get().(chan lookupResult)
	select {
	case s.lookups <- lookup{code: code, done: done}:
	case <-s.stopped:
		return nil, errors.New("shortlink: shutting down")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	r := <-done // always answered: a resolver that took the lookup replies
	donePool.Put(done)
	if r.err == nil && r.l == nil {
		r.err = store.ErrNotFound
	}
	return r.l, r.err
}

// resolver answers lookups, each round trip with every lookup waiting when it starts.
func (s *Server) resolver() {
	batch := make([]lookup, 0, s.o.MaxBatch)
	codes := make([]string, 0, s.o.MaxBatch)
	for {
		select {
		case l := <-s.lookups:
			batch = append(batch[:0], l)
		case <-s.stopped:
			for {
				select {
				case l := <-s.lookups:
					l.done <- lookupResult{err: errors.New("shortlink: shutting down")}
				default:
					return
				}
			}
		}
	more:
		for len(batch) < s.o.MaxBatch {
			select {
			case l := <-s.lookups:
				batch = append(batch, l)
			default:
				break more
			}
		}
		codes = codes[:0]
		for _, l := range batch {
			codes = append(codes, l.code)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		links, err := s.o.Store.ResolveLinks(ctx, codes...)
		cancel()
		for i, l := range batch {
			r := lookupResult{err: err}
			if err == nil {
				r.l = links[i]
			}
			l.done <- r
		}
	}
}

// writer gathers clicks into batches: the first click waits at most Linger for company.
func (s *Server) writer() {
	batch := make([]pending, 0, s.o.MaxBatch)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case p := <-s.clicks:
			batch = append(batch[:0], p)
		case <-s.stopped:
			s.drain()
			close(s.finished)
			return
		}
		timer.Reset(s.o.Linger)
	fill:
		for len(batch) < s.o.MaxBatch {
			select {
			case p := <-s.clicks:
				batch = append(batch, p)
			case <-timer.C:
				break fill
			}
		}
		timer.Stop()
		s.write(batch)
	}
}

// drain writes what is queued when the server stops.
func (s *Server) drain() {
	for {
		batch := make([]pending, 0, s.o.MaxBatch)
		for len(batch) < s.o.MaxBatch {
			select {
			case p := <-s.clicks:
				batch = append(batch, p)
				continue
			default:
			}
			break
		}
		if len(batch) == 0 {
			return
		}
		s.write(batch)
	}
}

func (s *Server) write(batch []pending) {
	clicks := make([]*store.Click, len(batch))
	for i, p := range batch {
		clicks[i] = p.c
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	_, err := s.o.Store.RecordClicks(ctx, clicks...)
	cancel()
	s.stats.batches.Add(1)
	if err != nil {
		s.stats.failed.Add(int64(len(batch)))
		s.o.Logger.Error().Err(err).Int("clicks", len(batch)).Msg("shortlink: storing clicks failed; they are lost")
	} else {
		s.stats.written.Add(int64(len(batch)))
	}
	for _, p := range batch {
		if p.done != nil {
			p.done <- err
		}
	}
}

// Shutdown stops the click writer once the queued clicks are written (or ctx ends). Call it
// after the listener's http.Server.Shutdown, so no redirect is still queueing.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stop.Do(func() { close(s.stopped) })
	select {
	case <-s.finished:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ClickJob is the webhook job of a click: a form-encoded POST to the link's webhook with
// accessed (IST, "YYYY-MM-DD HH:MM:SS"), phoneNo (the ten-digit national number),
// campaignName, ip and callback (the request's shortenurlcallback), and preview=1 for a
// preview fetcher's (PreviewWebhooks). Its id, the receiver's idempotency key, is
// "click:<code>:<random>".
func ClickJob(l *store.Link, at time.Time, ip string, preview bool) *store.WebhookJob {
	v := url.Values{}
	v.Set("accessed", at.In(dlt.IST).Format("2006-01-02 15:04:05"))
	v.Set("phoneNo", msisdn.National(l.Phone))
	v.Set("campaignName", l.Campaign)
	v.Set("ip", ip)
	v.Set("callback", l.Callback)
	if preview {
		v.Set("preview", "1")
	}
	return &store.WebhookJob{ID: "click:" + l.Code + ":" + NewCode()[:8], MessageID: l.MessageID, Account: l.Account,
		URL: l.Webhook, ContentType: "application/x-www-form-urlencoded", Body: v.Encode(), Kind: "click",
		CreatedAt: at, Since: at, NextAt: at}
}

// clientIP is the clicker's address (internal/clientip: the TCP peer, or behind trusted
// proxies the right-most X-Forwarded-For hop that is not one); the peer as written when it
// cannot be read as an address.
func (s *Server) clientIP(r *http.Request) string {
	if a, ok := s.proxies.Client(r); ok {
		return a.String()
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// String describes the server for logs.
func (s *Server) String() string { return fmt.Sprintf("shortlinks %s", s.base) }
