package main

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/smppd/smppd/api"
	"github.com/smppd/smppd/api/console"
	"github.com/smppd/smppd/dispatch"
	"github.com/smppd/smppd/dlr"
	"github.com/smppd/smppd/dlt"
	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/store"
)

// mountConsole serves the operator console under /console/ on the internal listener's mux.
// It is called only when http.metrics_listen is set, so the console never shares the API's
// port.
func (d *daemon) mountConsole(mux *http.ServeMux, engine *dlt.Engine) error {
	o := d.cfg.ConsoleOptions()
	o.Records = d.store
	o.Search = d.store
	o.Carriers = carriersView{d: d.disp, errs: d.linkErrs, self: d.member.Consumer()}
	o.Webhooks = webhooksView{s: d.sender, c: d.corr}
	o.Registry = engine
	if _, on, err := d.cfg.ShortlinkOptions(); err == nil && on {
		o.Links = d.store // the clients page's campaigns and click counts
	}
	if len(d.cfg.Accounts) > 0 {
		aopts, err := d.cfg.APIOptions()
		if err != nil {
			return err
		}
		smppAccounts := map[string]bool{}
		for _, a := range d.cfg.Accounts {
			smppAccounts[a.Name] = a.SMPP != nil
		}
		o.Accounts = accountsView{accts: aopts.Accounts, smpp: smppAccounts, credits: d.store}
	}
	log := d.log.With().Str("component", "console").Logger()
	o.Log = func(event string, kv ...any) { log.Info().Fields(kv).Msg(event) }
	c, err := console.New(o)
	if err != nil {
		return err
	}
	mux.Handle(console.Prefix, c.Handler())
	log.Info().Int("operators", len(o.Operators)).Str("path", console.Prefix).Msg("console on the internal listener (http.metrics_listen)")
	return nil
}

// linkErrors keeps each bind's last error from the link events, for the carriers page.
type linkErrors struct {
	mu sync.Mutex
	m  map[string]linkError // carrier + "/" + link
}

type linkError struct {
	msg string
	at  time.Time
}

func (l *linkErrors) observe(carrier string, e smpp.Event) {
	var msg string
	switch e.Kind {
	case smpp.EventConnectFailed:
		msg = "connect failed"
	case smpp.EventClosed:
		msg = "closed: " + e.Reason.String()
	default:
		return
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	at := e.Time
	if at.IsZero() {
		at = time.Now()
	}
	l.mu.Lock()
	if l.m == nil {
		l.m = map[string]linkError{}
	}
	l.m[carrier+"/"+e.Link] = linkError{msg: msg, at: at}
	l.mu.Unlock()
}

func (l *linkErrors) get(carrier, link string) linkError {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m[carrier+"/"+link]
}

// carriersView adapts dispatch.Stats to the console's carriers.
type carriersView struct {
	d    *dispatch.Dispatcher
	errs *linkErrors
	self string // this instance's member name: the holder of every bind it runs
}

func (v carriersView) Carriers(ctx context.Context) []console.CarrierView {
	var out []console.CarrierView
	for _, s := range v.d.Stats(ctx) {
		cv := console.CarrierView{Name: s.Carrier, Up: s.Up, Rate: s.Rate, Submitted: s.Submitted, Failed: s.Failed,
			Deferred: s.Deferred, ThrottlePauses: s.ThrottlePauses, Reclaimed: s.Reclaimed, Depth: s.Depth}
		if s.DepthErr != nil {
			cv.DepthErr = s.DepthErr.Error()
		}
		for _, b := range s.Binds {
			le := v.errs.get(s.Carrier, b.Name)
			if b.Leased && b.Holder == "" {
				b.Holder = v.self
			}
			cv.Binds = append(cv.Binds, console.BindView{Name: b.Name, Bound: b.Bound, Leased: b.Leased, Holder: b.Holder,
				WindowInUse: b.WindowInUse, WindowSize: b.WindowSize, Reconnects: b.Reconnects, LastError: le.msg, LastErrorAt: le.at})
		}
		out = append(out, cv)
	}
	return out
}

// webhooksView adapts the receipt pipeline (sender and correlator).
type webhooksView struct {
	s *dlr.Sender
	c *dlr.Correlator
}

func (v webhooksView) DeadLetters(ctx context.Context, n int) ([]*store.WebhookJob, error) {
	return v.s.DeadLetters(ctx, n)
}
func (v webhooksView) Replay(ctx context.Context, ids ...string) (int, error) {
	return v.s.Replay(ctx, ids...)
}
func (v webhooksView) Unmatched(ctx context.Context, n int) ([]*store.Receipt, error) {
	return v.c.Unmatched(ctx, n)
}
func (v webhooksView) Stats() console.WebhookStats {
	s := v.s.Stats()
	return console.WebhookStats{Attempts: s.Attempts, Delivered: s.Delivered, Failed: s.Failed, Retried: s.Retried, Dead: s.Dead, InFlight: s.InFlight}
}

// accountsView adapts the API's accounts and the store's credits.
type accountsView struct {
	accts   []api.Account
	smpp    map[string]bool
	credits store.Credits
}

func (v accountsView) Accounts(ctx context.Context) []console.AccountView {
	out := make([]console.AccountView, 0, len(v.accts))
	for _, a := range v.accts {
		av := console.AccountView{Name: a.Name, Disabled: a.Disabled || (!a.ExpiresAt.IsZero() && time.Now().After(a.ExpiresAt)),
			Sandbox: a.Sandbox, SenderIDs: a.SenderIDs, Entity: a.DLTEntity, SMPP: v.smpp[a.Name], Webhook: a.WebhookURL}
		switch {
		case a.RateLimit < 0:
			av.RateLimit = "unlimited"
		case a.RateLimit == 0:
			av.RateLimit = strconv.FormatFloat(float64(api.DefaultRateLimit), 'f', -1, 64) + "/s per key"
		default:
			av.RateLimit = strconv.FormatFloat(a.RateLimit, 'f', -1, 64) + "/s per key"
		}
		var errs []error
		for _, c := range []struct {
			cat store.CreditCategory
			dst **int64
		}{{store.CreditsTransactional, &av.Transactional}, {store.CreditsPromotional, &av.Promotional}} {
			n, limited, err := v.credits.GetCredits(ctx, a.Name, c.cat)
			if err != nil {
				errs = append(errs, err)
			} else if limited {
				*c.dst = &n
			}
		}
		if err := errors.Join(errs...); err != nil {
			av.CreditsErr = err.Error()
		}
		out = append(out, av)
	}
	return out
}
