package dlr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/smppd/smppd/store"
)

// SenderOptions configure a Sender. Zero values give the documented defaults.
type SenderOptions struct {
	Store store.Webhooks
	// Member, if set, is the instance's incarnation (store/liveness.Keeper). A claim of jobs
	// that failed may have been carried out with only its answer lost, leaving jobs leased
	// to this instance that it does not hold; once the store answers again the incarnation
	// is abandoned so that they are taken over at once instead of after Lease.
	Member interface {
		Consumer() string
		Abandon(consumer string)
	}
	// Client sends the requests. Default: NewHTTPClient(Timeout, PerHostConcurrency,
	// AllowPrivate), which checks every connection's address. A Client of your own gets the
	// check before each request (resolution of the URL's host) but not at dial time.
	Client *http.Client
	// Timeout bounds one request, connection included. Default: 10s.
	Timeout time.Duration
	// Secret signs every body (SignatureHeader). Empty: requests are not signed.
	Secret string
	// RetryFor is how long a job is retried, from when it was queued (or replayed), before
	// it goes to the dead-letter list. Default: 24h.
	RetryFor time.Duration
	// MinBackoff and MaxBackoff bound the wait after a failed attempt: MinBackoff doubled
	// per attempt up to MaxBackoff, then a random half of it added ("equal jitter": the
	// wait is in [d/2, d)). A Retry-After of a 429 or 503 is honoured up to MaxBackoff.
	// Defaults: 5s and 30m.
	MinBackoff, MaxBackoff time.Duration
	// PerHostConcurrency caps requests in flight to one host (host:port), so a slow or
	// dead receiver ties up at most this many; the others go on at full speed. Up to
	// max(4×PerHostConcurrency, MaxInFlight/2) more jobs of a host wait in memory (so one
	// busy host keeps half the sender for the others); beyond that they are pushed back in
	// the store by HostBusyDelay. Default: 4.
	PerHostConcurrency int
	// MaxInFlight caps the jobs this sender holds at once, in flight or waiting for their
	// host. Default: 1024.
	MaxInFlight int
	// Lease is how long a claimed job is reserved for this sender; if the sender dies, the
	// job is sent by another after it. It must exceed the time a job can wait for its
	// host plus Timeout. Default: 2m.
	Lease time.Duration
	// PollEvery is how often the queue is checked when it was empty. Default: 250ms.
	PollEvery time.Duration
	// HostBusyDelay bounds how far a claimed job is pushed back when its host already has
	// enough waiting (no attempt is counted): the delay is the time the host's workers need
	// for its queue at its recent speed, at least 20ms, at most this. Default: 1s.
	HostBusyDelay time.Duration
	// Deliverers hand the jobs of a URL scheme to something other than an HTTP POST: the
	// SMPP front registers its Deliverer under ClientScheme ("smpp"). Such jobs never go
	// through the HTTP client, the address check (AllowPrivate) or signing (Secret). A
	// Deliverer error wrapping ErrNotBound holds the job: it is due again after HoldMin,
	// growing with its age to HoldMax, and the hold is not counted as an attempt; other
	// errors count and are retried (MinBackoff…) or dead-lettered (RetryFor) like any.
	// A job of ClientScheme while this sender has no Deliverer for it (this instance runs
	// no front; another one may, or this one may after a restart) is held the same way, and
	// logged once: jobs of a configured front may be in the store whatever this instance's
	// configuration, so refusing to start, or dead-lettering them, would lose receipts.
	Deliverers map[string]Deliverer
	// ClientConcurrency caps the deliveries in flight to one target of a Deliverer scheme
	// (one client account: ClientTarget), as PerHostConcurrency does for a host. An SMPP
	// client takes a window of deliver_sm per bind, so 4 would starve it. Receipts of one
	// account are handed over concurrently, so they may reach it out of order, as receipts
	// do over SMPP anyway (each names its message). Default: 64.
	ClientConcurrency int
	// HoldMin and HoldMax bound the delay of a held job (its client not bound): a tenth of
	// the job's age, at least HoldMin, at most HoldMax, so a client that binds again gets
	// its backlog within HoldMax, and each held job costs a store write per HoldMax at
	// most. Defaults: 1s and 10s.
	HoldMin, HoldMax time.Duration
	// HoldFor bounds how long a job is held for a client that does not bind, from when it
	// was queued (Since): past it, it goes to the dead-letter list (Replay queues it
	// again). Default: store.DefaultRecordTTL (90 days), the lifetime of the record the
	// receipt reports on; never less than RetryFor.
	HoldFor time.Duration
	// AllowPrivate lets webhooks reach loopback, private and link-local addresses (tests,
	// or receivers on the operator's own network). Default: refused.
	AllowPrivate bool
	// UserAgent is sent with every request. Default: "smppd-webhook/1".
	UserAgent string
	// OnWebhook, if set, is called after every attempt (metrics).
	OnWebhook func(WebhookEvent)
	Logger    zerolog.Logger
	// Now is the clock for scheduling. Default: time.Now.
	Now func() time.Time
}

// WithDefaults returns o with every zero field that has a documented default set to it:
// what NewSender runs with.
func (o SenderOptions) WithDefaults() SenderOptions {
	o.setDefaults()
	return o
}

func (o *SenderOptions) setDefaults() {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.RetryFor <= 0 {
		o.RetryFor = 24 * time.Hour
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 5 * time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Minute
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = o.MinBackoff
	}
	if o.PerHostConcurrency <= 0 {
		o.PerHostConcurrency = 4
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 1024
	}
	if o.Lease <= 0 {
		o.Lease = 2 * time.Minute
	}
	if o.PollEvery <= 0 {
		o.PollEvery = 250 * time.Millisecond
	}
	if o.HostBusyDelay <= 0 {
		o.HostBusyDelay = time.Second
	}
	if o.ClientConcurrency <= 0 {
		o.ClientConcurrency = 64
	}
	if o.HoldMin <= 0 {
		o.HoldMin = time.Second
	}
	if o.HoldMax <= 0 {
		o.HoldMax = 10 * time.Second
	}
	if o.HoldMax < o.HoldMin {
		o.HoldMax = o.HoldMin
	}
	if o.HoldFor <= 0 {
		o.HoldFor = store.DefaultRecordTTL
	}
	if o.HoldFor < o.RetryFor {
		o.HoldFor = o.RetryFor
	}
	if o.UserAgent == "" {
		o.UserAgent = "smppd-webhook/1"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Client == nil {
		o.Client = NewHTTPClient(o.Timeout, o.PerHostConcurrency, o.AllowPrivate)
	}
}

// WebhookEvent describes one attempt (or a job pushed back because its host was busy).
type WebhookEvent struct {
	JobID, MessageID, Host, Kind string
	Attempt                      int
	// StatusCode is the receiver's HTTP status; 0 when no response came.
	StatusCode int
	Err        error
	Latency    time.Duration
	// Outcome is "delivered", "retry", "dead", "host_busy" or "held" (a Deliverer's client
	// not bound).
	Outcome string
}

// Webhook outcomes.
const (
	WebhookDelivered = "delivered"
	WebhookRetry     = "retry"
	WebhookDead      = "dead"
	WebhookHostBusy  = "host_busy"
	WebhookHeld      = "held"
)

// SenderStats are a sender's counters since it was made.
type SenderStats struct {
	// Attempts counts requests; Delivered those answered 2xx; Failed the others (no
	// answer, or not 2xx); Retried the failures scheduled again; Dead the jobs given up on
	// (RetryFor ran out, or the URL is refused); Refused those refused for their address;
	// HostBusy jobs pushed back because their host had enough waiting; Held jobs pushed
	// back because their client was not bound (not counted in Attempts).
	Attempts, Delivered, Failed, Retried, Dead, Refused, HostBusy, Held uint64
	// StoreErrors counts store calls that failed (the job is sent again after its lease).
	StoreErrors uint64
	// InFlight is the jobs held now.
	InFlight int64
}

// Sender delivers queued webhook jobs. Any number of senders, in any number of instances,
// may share a store: each job is leased to one at a time.
type Sender struct {
	o     SenderOptions
	log   zerolog.Logger
	sec   []byte
	res   *net.Resolver
	stats struct {
		attempts, delivered, failed, retried, dead, refused, hostBusy, held, storeErrors atomic.Uint64
	}
	noDeliverer sync.Map // scheme → struct{}: logged once
	held        atomic.Int64

	mu    sync.Mutex
	hosts map[string]*hostQ

	runMu   sync.Mutex
	started bool
	stop    chan struct{} // closed by Shutdown: no more claims
	abort   context.CancelFunc
	reqCtx  context.Context // cancelled when Shutdown's ctx ends: in-flight requests stop
	freed   chan struct{}
	loop    sync.WaitGroup
	workers sync.WaitGroup
}

type hostQ struct {
	name    string
	limit   int    // workers at most: PerHostConcurrency, or ClientConcurrency for a client
	client  string // the Deliverer scheme of a client target; "" for HTTP
	ch      chan *store.WebhookJob
	workers int
	// avg is a moving average of the host's request time (ns), 0 until one finishes: it
	// says how soon a job pushed back for a busy host can be taken again.
	avg atomic.Int64
}

// busyDelay is how far a job is pushed back when its host has enough waiting: about the time
// the host's workers need to work through its queue, so a fast host that is merely busy gets
// its overflow back within tens of milliseconds (a fixed second would leave its workers idle
// while the jobs wait in the store), and a slow or silent host at most HostBusyDelay.
func (s *Sender) busyDelay(h *hostQ, workers int) time.Duration {
	avg := h.avg.Load()
	if avg <= 0 {
		return s.o.HostBusyDelay
	}
	drain := time.Duration(int64(cap(h.ch)) * avg / int64(max(workers, 1)))
	return min(max(drain, 20*time.Millisecond), s.o.HostBusyDelay)
}

// NewSender returns a sender; Start starts it.
func NewSender(o SenderOptions) (*Sender, error) {
	if o.Store == nil {
		return nil, errors.New("dlr: SenderOptions.Store is required")
	}
	for scheme := range o.Deliverers {
		if scheme != strings.ToLower(scheme) || scheme == "http" || scheme == "https" || scheme == "" {
			return nil, fmt.Errorf("dlr: SenderOptions.Deliverers: scheme %q: want a lower-case scheme other than http(s)", scheme)
		}
	}
	o.setDefaults()
	s := &Sender{o: o, log: o.Logger.With().Str("component", "webhooks").Logger(), sec: []byte(o.Secret),
		res: net.DefaultResolver, hosts: map[string]*hostQ{}, stop: make(chan struct{}), freed: make(chan struct{}, 1)}
	s.reqCtx, s.abort = context.WithCancel(context.Background())
	if o.Secret == "" {
		s.log.Warn().Msg("webhook secret not set: requests are not signed")
	}
	return s, nil
}

// Start starts claiming and sending jobs.
func (s *Sender) Start() {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	if s.started {
		return
	}
	s.started = true
	s.loop.Add(1)
	go s.claimLoop()
}

// Shutdown stops claiming, hands back the jobs still waiting for their host (due at once,
// for any sender), and waits for the requests in flight until ctx ends; then it cancels
// them (their jobs are sent again later, with the same idempotency key).
func (s *Sender) Shutdown(ctx context.Context) error {
	s.runMu.Lock()
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	s.runMu.Unlock()
	s.loop.Wait()
	s.releaseWaiting()
	done := make(chan struct{})
	go func() { s.workers.Wait(); close(done) }()
	select {
	case <-done:
		s.abort()
		return nil
	case <-ctx.Done():
		s.abort()
		<-done
		return ctx.Err()
	}
}

// releaseWaiting hands back jobs that were claimed but not started.
func (s *Sender) releaseWaiting() {
	s.mu.Lock()
	var jobs []*store.WebhookJob
	for _, h := range s.hosts {
		for {
			select {
			case j := <-h.ch:
				jobs = append(jobs, j)
				continue
			default:
			}
			break
		}
	}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, j := range jobs {
		if err := s.o.Store.RetryWebhook(ctx, j, s.o.Now()); err != nil {
			s.stats.storeErrors.Add(1)
		}
		s.held.Add(-1)
	}
}

func (s *Sender) claimLoop() {
	defer s.loop.Done()
	limit := 100      // claim size: shrinks while hosts are saturated, so jobs are not churned
	leakedUnder := "" // the incarnation a failed claim may have leased jobs to (Member)
	for {
		free := int64(s.o.MaxInFlight) - s.held.Load()
		if free <= 0 {
			select {
			case <-s.stop:
				return
			case <-s.freed:
			}
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		jobs, err := s.o.Store.ClaimWebhooks(ctx, s.o.Now(), s.o.Lease, int(min(free, int64(limit))))
		cancel()
		if err != nil {
			s.stats.storeErrors.Add(1)
			s.log.Warn().Err(err).Msg("claiming webhooks failed; retrying")
			if s.o.Member != nil && leakedUnder == "" {
				leakedUnder = s.o.Member.Consumer()
			}
		} else if leakedUnder != "" {
			s.o.Member.Abandon(leakedUnder)
			leakedUnder = ""
		}
		accepted := 0
		for _, j := range jobs {
			s.held.Add(1)
			if s.route(j) {
				accepted++
			}
		}
		var wait <-chan struct{}
		switch {
		case err != nil || len(jobs) == 0:
			limit = 100
		case accepted < len(jobs):
			// Some host is saturated: claim no more than got through, once a job finishes.
			limit = max(accepted, 1)
			wait = s.freed
		default:
			limit = min(2*limit, 100)
			continue
		}
		t := time.NewTimer(s.o.PollEvery)
		select {
		case <-s.stop:
			t.Stop()
			return
		case <-t.C:
		case <-wait:
			t.Stop()
		}
	}
}

func hostKey(raw string) string {
	u, err := checkURL(raw)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Host)
}

// clientScheme returns the scheme of a job that goes to a Deliverer (ClientScheme, or one
// Deliverers names), or "" for an HTTP job.
func (s *Sender) clientScheme(raw string) string {
	scheme, _, ok := strings.Cut(raw, "://")
	if !ok {
		return ""
	}
	scheme = strings.ToLower(scheme)
	if _, ok := s.o.Deliverers[scheme]; ok || scheme == ClientScheme {
		return scheme
	}
	return ""
}

// route hands j to its host's (or client target's) queue, starting a worker if it has fewer
// than PerHostConcurrency (ClientConcurrency), or pushes it back (false) when it already has
// enough waiting.
func (s *Sender) route(j *store.WebhookJob) bool {
	key, limit, client := "", s.o.PerHostConcurrency, s.clientScheme(j.URL)
	if client != "" {
		// One queue per client target (its account), apart from every HTTP host.
		key, limit = j.URL, s.o.ClientConcurrency
	} else {
		key = hostKey(j.URL)
	}
	s.mu.Lock()
	h := s.hosts[key]
	if h == nil {
		h = &hostQ{name: key, limit: limit, client: client, ch: make(chan *store.WebhookJob, max(4*limit, s.o.MaxInFlight/2))}
		s.hosts[key] = h
	}
	select {
	case h.ch <- j:
		if h.workers < h.limit {
			h.workers++
			s.workers.Add(1)
			go s.hostWorker(h)
		}
		s.mu.Unlock()
		return true
	default:
	}
	delay := s.busyDelay(h, h.workers)
	s.mu.Unlock()
	s.stats.hostBusy.Add(1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.o.Store.RetryWebhook(ctx, j, s.o.Now().Add(delay)); err != nil {
		s.stats.storeErrors.Add(1)
	}
	s.event(j, key, 0, nil, 0, WebhookHostBusy)
	s.finished()
	return false
}

func (s *Sender) finished() {
	s.held.Add(-1)
	select {
	case s.freed <- struct{}{}:
	default:
	}
}

// hostWorker sends one host's jobs one at a time; it ends when the host's queue stays empty
// for a while, or at shutdown.
func (s *Sender) hostWorker(h *hostQ) {
	defer s.workers.Done()
	idle := time.NewTimer(5 * time.Second)
	defer idle.Stop()
	for {
		select {
		case <-s.stop:
			s.mu.Lock()
			h.workers--
			s.mu.Unlock()
			return
		case j := <-h.ch:
			start := time.Now()
			if h.client != "" {
				s.deliverClient(h.name, h.client, j)
			} else {
				s.deliver(h.name, j)
			}
			lat := int64(time.Since(start))
			if old := h.avg.Load(); old == 0 {
				h.avg.Store(lat)
			} else {
				h.avg.Store(old + (lat-old)/8)
			}
			if !idle.Stop() {
				select {
				case <-idle.C:
				default:
				}
			}
			idle.Reset(5 * time.Second)
		case <-idle.C:
			s.mu.Lock()
			if len(h.ch) == 0 {
				h.workers--
				s.mu.Unlock()
				return
			}
			s.mu.Unlock()
			idle.Reset(5 * time.Second)
		}
	}
}

// deliver makes one attempt and settles the job: acked, rescheduled or dead.
func (s *Sender) deliver(host string, j *store.WebhookJob) {
	defer s.finished()
	j.Attempts++
	s.stats.attempts.Add(1)
	start := time.Now()
	code, retryAfter, err := s.post(j)
	s.settle(host, j, code, retryAfter, err, time.Since(start))
}

// deliverClient hands one job to its scheme's Deliverer and settles it: acked, held (its
// client is not bound: not an attempt), rescheduled or dead.
func (s *Sender) deliverClient(target, scheme string, j *store.WebhookJob) {
	defer s.finished()
	j.Attempts++
	start := time.Now()
	var err error
	if d := s.o.Deliverers[scheme]; d != nil {
		ctx, cancel := context.WithTimeout(s.reqCtx, s.o.Timeout)
		err = d.Deliver(ctx, j)
		cancel()
	} else {
		err = fmt.Errorf("%w: no deliverer for %s:// jobs on this instance", ErrNotBound, scheme)
		if _, logged := s.noDeliverer.LoadOrStore(scheme, struct{}{}); !logged {
			s.log.Warn().Str("scheme", scheme).Msg("jobs for clients of this scheme are held: this sender has no Deliverer for it (is the SMPP front configured?)")
		}
	}
	lat := time.Since(start)
	if err != nil && errors.Is(err, ErrNotBound) && s.reqCtx.Err() == nil {
		j.Attempts--
		s.hold(target, j, err, lat)
		return
	}
	s.stats.attempts.Add(1)
	s.settle(target, j, 0, 0, err, lat)
}

// hold pushes back a job whose client is not bound, without counting an attempt: due again
// after a tenth of its age (HoldMin to HoldMax), or dead once it has been queued HoldFor.
func (s *Sender) hold(target string, j *store.WebhookJob, why error, lat time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	now := s.o.Now()
	j.LastError, j.LastStatus = why.Error(), 0
	if now.After(j.Since.Add(s.o.HoldFor)) {
		if !s.bury(ctx, j, now) {
			return
		}
		s.log.Warn().Err(why).Str("job", j.ID).Str("target", target).Dur("held_for", now.Sub(j.Since)).Msg("client never bound: job given up, dead letter")
		s.event(j, target, 0, why, lat, WebhookDead)
		return
	}
	delay := min(max(now.Sub(j.Since)/10, s.o.HoldMin), s.o.HoldMax)
	if err := s.o.Store.RetryWebhook(ctx, j, now.Add(delay)); err != nil {
		s.stats.storeErrors.Add(1)
		s.log.Warn().Err(err).Str("job", j.ID).Msg("could not hold a job; it is tried again after its lease")
	}
	s.stats.held.Add(1)
	s.event(j, target, 0, why, lat, WebhookHeld)
}

// settle finishes one attempt of j (HTTP or Deliverer) whose outcome was err.
func (s *Sender) settle(host string, j *store.WebhookJob, code int, retryAfter time.Duration, err error, lat time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err == nil {
		s.stats.delivered.Add(1)
		j.Event = attemptEvent(j, code, nil, s.o.Now())
		// Acks of every worker share the store's group commit (the attempt's timeline event
		// goes with the ack).
		if aerr := s.o.Store.AckWebhooks(ctx, j); aerr != nil {
			s.stats.storeErrors.Add(1)
			s.log.Warn().Err(aerr).Str("job", j.ID).Msg("delivered webhook not acknowledged in the store; it will be sent again")
		}
		s.event(j, host, code, nil, lat, WebhookDelivered)
		return
	}
	if s.reqCtx.Err() != nil {
		// Shutdown cancelled it: not the receiver's fault, try again soon (maybe elsewhere).
		j.Attempts--
		if rerr := s.o.Store.RetryWebhook(ctx, j, s.o.Now()); rerr != nil {
			s.stats.storeErrors.Add(1)
		}
		return
	}
	s.stats.failed.Add(1)
	j.LastError, j.LastStatus = err.Error(), code
	now := s.o.Now()
	j.Event = attemptEvent(j, code, err, now) // written with the retry or dead letter
	permanent := errors.Is(err, ErrForbiddenAddress) || errors.Is(err, ErrBadURL)
	if errors.Is(err, ErrForbiddenAddress) {
		s.stats.refused.Add(1)
	}
	delay := s.backoff(j.Attempts, retryAfter)
	if permanent || now.Add(delay).After(j.Since.Add(s.o.RetryFor)) {
		if !s.bury(ctx, j, now) {
			return
		}
		s.log.Warn().Err(err).Str("job", j.ID).Str("host", host).Int("attempts", j.Attempts).Msg("webhook given up: dead letter")
		s.event(j, host, code, err, lat, WebhookDead)
		return
	}
	if rerr := s.o.Store.RetryWebhook(ctx, j, now.Add(delay)); rerr != nil {
		s.stats.storeErrors.Add(1)
		s.log.Warn().Err(rerr).Str("job", j.ID).Msg("could not reschedule a webhook; it is retried after its lease")
	}
	s.stats.retried.Add(1)
	s.log.Debug().Err(err).Str("job", j.ID).Str("host", host).Int("attempt", j.Attempts).Dur("retry_in", delay).Msg("webhook failed; retrying")
	s.event(j, host, code, err, lat, WebhookRetry)
}

// attemptEvent is an attempt's entry in the message's timeline: the HTTP status, or the
// error's words when there was no answer (or the client's delivery failed).
func attemptEvent(j *store.WebhookJob, code int, err error, now time.Time) *store.Event {
	if j.MessageID == "" {
		return nil
	}
	e := &store.Event{At: now, Kind: store.EventWebhook, URL: timelineURL(j.URL), HTTPStatus: code, Attempt: j.Attempts}
	if err != nil {
		e.Detail = err.Error()
	}
	return e
}

// timelineURL is a webhook URL as the console may show it: without user info, query or
// fragment, which may carry the client's secrets.
func timelineURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	u.User, u.RawQuery, u.Fragment, u.RawFragment = nil, "", "", ""
	return u.String()
}

// bury moves a job that is given up (retries spent, a permanent refusal, or a client that
// never bound) to the dead letters, false when the store refused: the job then stays where
// it is and is tried again.
func (s *Sender) bury(ctx context.Context, j *store.WebhookJob, now time.Time) bool {
	j.DeadAt = now
	if err := s.o.Store.DeadWebhook(ctx, j); err != nil {
		s.stats.storeErrors.Add(1)
		s.log.Error().Err(err).Str("job", j.ID).Msg("could not move a webhook job to the dead-letter list; it will be tried again")
		return false
	}
	s.stats.dead.Add(1)
	return true
}

// backoff is the wait after the n-th failed attempt.
func (s *Sender) backoff(n int, retryAfter time.Duration) time.Duration {
	d := s.o.MinBackoff << min(n-1, 30)
	if d <= 0 || d > s.o.MaxBackoff {
		d = s.o.MaxBackoff
	}
	d = d/2 + rand.N(d/2+1)
	if retryAfter > d {
		d = min(retryAfter, s.o.MaxBackoff)
	}
	return d
}

func (s *Sender) event(j *store.WebhookJob, host string, code int, err error, lat time.Duration, outcome string) {
	if s.o.OnWebhook == nil {
		return
	}
	s.o.OnWebhook(WebhookEvent{JobID: j.ID, MessageID: j.MessageID, Host: host, Kind: j.Kind, Attempt: j.Attempts,
		StatusCode: code, Err: err, Latency: lat, Outcome: outcome})
}

// post makes the request; nil error means a 2xx answer.
func (s *Sender) post(j *store.WebhookJob) (int, time.Duration, error) {
	u, err := checkURL(j.URL)
	if err != nil {
		return 0, 0, err
	}
	ctx, cancel := context.WithTimeout(s.reqCtx, s.o.Timeout)
	defer cancel()
	if !s.o.AllowPrivate {
		if err := checkHost(ctx, s.res, u.Hostname()); err != nil {
			return 0, 0, err
		}
	}
	body := []byte(j.Body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(j.Body))
	if err != nil {
		return 0, 0, fmt.Errorf("%w: %v", ErrBadURL, err)
	}
	req.Header.Set("Content-Type", j.ContentType)
	req.Header.Set("User-Agent", s.o.UserAgent)
	req.Header.Set(IdempotencyHeader, j.ID)
	req.Header.Set(AttemptHeader, strconv.Itoa(j.Attempts))
	if len(s.sec) > 0 {
		req.Header.Set(SignatureHeader, Sign(s.sec, time.Now(), body))
	}
	resp, err := s.o.Client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, 0, nil
	}
	var ra time.Duration
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		if sec, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); err == nil && sec > 0 {
			ra = time.Duration(sec) * time.Second
		}
	}
	return resp.StatusCode, ra, fmt.Errorf("dlr: webhook answered HTTP %d", resp.StatusCode)
}

// Stats returns a snapshot of the counters.
func (s *Sender) Stats() SenderStats {
	return SenderStats{
		Attempts: s.stats.attempts.Load(), Delivered: s.stats.delivered.Load(), Failed: s.stats.failed.Load(),
		Retried: s.stats.retried.Load(), Dead: s.stats.dead.Load(), Refused: s.stats.refused.Load(),
		HostBusy: s.stats.hostBusy.Load(), Held: s.stats.held.Load(), StoreErrors: s.stats.storeErrors.Load(), InFlight: s.held.Load(),
	}
}

// DeadLetters returns up to n dead letters, oldest first.
func (s *Sender) DeadLetters(ctx context.Context, n int) ([]*store.WebhookJob, error) {
	return s.o.Store.DeadWebhooks(ctx, n)
}

// Replay queues the dead letters with the given ids (all when none is given) again, due now,
// with a fresh RetryFor window. It returns how many it queued.
func (s *Sender) Replay(ctx context.Context, ids ...string) (int, error) {
	return s.o.Store.ReplayWebhooks(ctx, s.o.Now(), ids...)
}
