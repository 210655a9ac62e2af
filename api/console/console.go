// Package console is smppd's operator console: server-rendered pages (html/template, a
// small stylesheet and one small script, all embedded) over what the daemon knows — message
// search and timelines, carriers and their binds (live), queues, webhook dead letters and
// unmatched receipts, the DLT registry with a template tester and CSV upload, and the client
// accounts.
//
// It sits on the internal listener only (http.metrics_listen), behind its own logins
// (Options.Operators, hashed as internal/passwd), with server-side sessions, CSRF tokens
// on every form and two roles: viewers read (with phone numbers masked), admins also replay
// dead letters, upload registry exports and see full numbers.
//
// The console reads the daemon through the small interfaces below (Carriers, Webhooks,
// Registry, Accounts, store.MessageSearch) so it imports only store, dlt, internal/msisdn,
// internal/passwd and the standard library; cmd/smppd adapts dispatch, dlr and api to them.
package console

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/smppd/smppd/dlt"
	"github.com/smppd/smppd/internal/passwd"
	"github.com/smppd/smppd/store"
)

// Role is what an operator may do.
type Role string

const (
	// RoleViewer reads every page; phone numbers are masked.
	RoleViewer Role = "viewer"
	// RoleAdmin also replays dead letters, uploads DLT exports and sees full numbers.
	RoleAdmin Role = "admin"
)

// Operator is one console login.
type Operator struct {
	Name string
	// PasswordHash is internal/passwd's form, made by `smppd passwd -console`.
	PasswordHash string
	Role         Role
}

// Defaults of Options.
const (
	DefaultSessionTTL   = 8 * time.Hour
	DefaultMaxFailures  = 5
	DefaultLockout      = 5 * time.Minute
	DefaultFailureDelay = 500 * time.Millisecond
	// Prefix is where the console is mounted on the internal listener.
	Prefix = "/console/"
)

// CarrierView is one carrier as the carriers and queues pages show it.
type CarrierView struct {
	Name           string
	Up             bool
	Rate           float64 // current pace, segments per second (+Inf: unpaced)
	Submitted      uint64
	Failed         uint64
	Deferred       uint64
	ThrottlePauses uint64
	Reclaimed      uint64
	Binds          []BindView
	Depth          store.Depth
	DepthErr       string
}

// BindView is one bind of a carrier.
type BindView struct {
	Name        string
	Bound       bool
	Leased      bool   // this instance runs it (always true without bind leases)
	Holder      string // the instance holding the bind's slot, when known
	WindowInUse int
	WindowSize  int
	Reconnects  uint64
	LastError   string
	LastErrorAt time.Time
}

// Carriers reports the carriers, in configuration order.
type Carriers interface {
	Carriers(ctx context.Context) []CarrierView
}

// WebhookStats is the webhook sender's health.
type WebhookStats struct {
	Attempts, Delivered, Failed, Retried, Dead uint64
	InFlight                                   int64
}

// Webhooks is the receipt pipeline's leftovers: dead-letter webhooks (and their replay) and
// receipts that matched no message.
type Webhooks interface {
	DeadLetters(ctx context.Context, n int) ([]*store.WebhookJob, error)
	Replay(ctx context.Context, ids ...string) (int, error)
	Unmatched(ctx context.Context, n int) ([]*store.Receipt, error)
	Stats() WebhookStats
}

// Registry is the DLT registry in force and a way to add a portal export to it.
type Registry interface {
	Registry() *dlt.Registry
	// ImportCSV adds a portal template export for entity to the registry of every
	// instance, validated as `smppd -dlt-import` validates the configured files. It returns
	// how many templates it added; the error lists the rows it did not, one per line.
	ImportCSV(ctx context.Context, r io.Reader, entity string) (int, error)
}

// AccountView is one client account.
type AccountView struct {
	Name      string
	Disabled  bool
	Sandbox   bool
	RateLimit string // words: "10/s per key", "unlimited"
	SenderIDs []string
	Entity    string
	SMPP      bool // binds over the SMPP front too
	Webhook   string
	// Credits: nil for unlimited.
	Transactional, Promotional *int64
	CreditsErr                 string
}

// Accounts lists the client accounts.
type Accounts interface {
	Accounts(ctx context.Context) []AccountView
}

// Links reports an account's short-link campaigns and their counts (store.Links satisfies
// it); nil when short links are off.
type Links interface {
	Campaigns(ctx context.Context, account string, limit int) ([]store.CampaignStats, error)
}

// Options configure a Console. Operators and the sources it shows are the caller's; a nil
// source leaves its page saying what is not available.
type Options struct {
	Operators []Operator
	// SessionTTL is how long a login lasts (server-side; the cookie is a session cookie).
	// Default: DefaultSessionTTL.
	SessionTTL time.Duration
	// SecureCookie marks the cookie Secure even over plain HTTP (set it when a TLS proxy
	// fronts the console); it is always Secure over TLS.
	SecureCookie bool
	// MaxFailures failed logins of one name, or from one address, lock it for Lockout.
	// Defaults: DefaultMaxFailures, DefaultLockout.
	MaxFailures int
	Lockout     time.Duration
	// FailureDelay is waited before answering a failed login. Default: DefaultFailureDelay.
	FailureDelay time.Duration

	Search  store.MessageSearch
	Records interface {
		GetRecord(context.Context, string) (*store.Record, error)
	}
	Carriers Carriers
	Webhooks Webhooks
	Registry Registry
	Accounts Accounts
	Links    Links
	Now      func() time.Time
	// Log receives security events (failed logins, lockouts, refused forms); nil discards.
	Log func(event string, kv ...any)
}

// WithDefaults returns o with zero fields set to their defaults.
func (o Options) WithDefaults() Options {
	if o.SessionTTL <= 0 {
		o.SessionTTL = DefaultSessionTTL
	}
	if o.MaxFailures <= 0 {
		o.MaxFailures = DefaultMaxFailures
	}
	if o.Lockout <= 0 {
		o.Lockout = DefaultLockout
	}
	if o.FailureDelay == 0 {
		o.FailureDelay = DefaultFailureDelay
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = func(string, ...any) {}
	}
	return o
}

// ErrNoOperators is returned by New without any operator: nobody could log in.
var ErrNoOperators = errors.New("console: no operators")

// Console serves the pages.
type Console struct {
	o     Options
	ops   map[string]operator
	dummy passwd.Hashed
	sess  *sessions
	lock  *limiter
	tp    *throughput
	mux   *http.ServeMux
}

type operator struct {
	name string
	hash passwd.Hashed
	role Role
}

// New checks the operators and returns the console.
func New(o Options) (*Console, error) {
	o = o.WithDefaults()
	if len(o.Operators) == 0 {
		return nil, ErrNoOperators
	}
	c := &Console{o: o, ops: map[string]operator{}, dummy: passwd.Dummy(), tp: newThroughput()}
	for i, op := range o.Operators {
		if op.Name == "" {
			return nil, fmt.Errorf("console: operators[%d]: no name", i)
		}
		if _, dup := c.ops[op.Name]; dup {
			return nil, fmt.Errorf("console: operators[%d]: %q twice", i, op.Name)
		}
		if op.Role != RoleAdmin && op.Role != RoleViewer {
			return nil, fmt.Errorf("console: operators[%d] (%s): role %q: want admin or viewer", i, op.Name, op.Role)
		}
		h, err := passwd.Parse(op.PasswordHash)
		if err != nil {
			return nil, fmt.Errorf("console: operators[%d] (%s): %w", i, op.Name, err)
		}
		c.ops[op.Name] = operator{name: op.Name, hash: h, role: op.Role}
	}
	c.sess = newSessions(o.SessionTTL, o.Now)
	c.lock = newLimiter(o.MaxFailures, o.Lockout, o.Now)
	c.routes()
	return c, nil
}

// Handler serves the console; mount it at Prefix ("/console/") on the internal listener.
func (c *Console) Handler() http.Handler { return securityHeaders(c.mux) }
