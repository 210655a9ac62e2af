// Package api is smppd's HTTP front: the 2Factor-compatible API that enterprise clients
// reach with their existing client libraries. It authenticates API keys, applies
// per-account IP allow-lists, per-key rate limits and account states, parses requests the
// way real 2Factor clients send them, checks each message against the DLT registry and the
// account's credits, and hands accepted messages to a Sender (the dispatcher). It holds no
// business logic of its own: OTP semantics are in package otp, compliance in dlt, storage
// in store, sending in dispatch.
//
// Endpoints (docs/api.md has examples and every decision taken where 2Factor's document is
// silent; docs/openapi.yaml describes them and a test keeps it in step with Routes):
//
//	/API/V1/{api_key}/SMS/{phone}/AUTOGEN[2|3|D|D2][/{template}]   send an OTP
//	/API/V1/{api_key}/SMS/{phone}/{otp}[/{template}]               send a custom OTP
//	/API/V1/{api_key}/SMS/VERIFY[2]/{session_id}/{otp}             verify by session
//	/API/V1/{api_key}/SMS/VERIFY3/{phone}/{otp}                    verify by phone
//	/API/V1/{api_key}/BAL/SMS, /ADDON_SERVICES/BAL/{service}       balances
//	/API/V1/{api_key}/ADDON_SERVICES/SEND/TSMS|PSMS                legacy sends
//	/API/R1[/]   module=TRANS_SMS|PROMO_SMS|SMS_OTP|TRANS_SMS_DLR|ENC
//	/API/R1/Bulk[/]                                                JSON bulk
//	/API/V1/{api_key}/SHORTLINK/STATS/{campaign_name}              click counts of a campaign
package api

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"github.com/smppd/smppd/dlt"
	"github.com/smppd/smppd/internal/clientip"
	"github.com/smppd/smppd/otp"
	"github.com/smppd/smppd/store"
)

// Sender accepts messages for sending; *dispatch.Dispatcher implements it. Submit returns
// only once the messages are durable.
type Sender interface {
	Submit(ctx context.Context, msgs ...*store.Message) error
}

// RecordReader reads message status records (TRANS_SMS_DLR); every store.Store implements it.
type RecordReader interface {
	GetRecord(ctx context.Context, id string) (*store.Record, error)
}

// Defaults of Options.
const (
	DefaultRateLimit    = 200     // requests per second per key (2Factor's documented default)
	DefaultMaxBodyBytes = 1 << 20 // 1 MiB
	DefaultMaxBulkBytes = 4 << 20 // 4 MiB: 1000 messages of up to 1000 characters
	MaxBulkMessages     = 1000
	MaxRecipients       = 1000 // numbers in one R1 or TSMS "to" list
	MaxTextRunes        = 1000 // characters of one message text (the Bulk rule, applied everywhere)
	MaxParts            = 10   // SMS segments of one message
	MinScheduleAhead    = 5 * time.Minute
	// DefaultOTPText is Account.OTPText's default.
	DefaultOTPText = "Your OTP is {#numeric#}"
)

// Options configure a Server.
type Options struct {
	// Accounts are the API's clients. Keys must be unique across accounts.
	Accounts []Account
	// Sender takes accepted messages. Required.
	Sender Sender
	// OTP generates and verifies OTPs. Required for the OTP endpoints (they answer an
	// error without it).
	OTP *otp.Service
	// Credits keeps balances; nil means every balance is unlimited. New initialises each
	// account's configured balances (store.Credits.InitCredits).
	Credits store.Credits
	// Records answers TRANS_SMS_DLR. Nil: that module answers "No records found".
	Records RecordReader
	// Withdrawer takes scheduled messages back for Cancel (SMPP cancel_sm). Nil: Cancel
	// answers ErrNotCancellable.
	Withdrawer Withdrawer
	// Registry returns the current DLT registry (it may be reloaded at any time); nil, or
	// a func returning nil, skips the DLT checks (see docs/api.md).
	Registry func() *dlt.Registry
	// Match tunes DLT content matching (variable length, URL whitelist).
	Match dlt.MatchOptions
	// TrustedProxies are the networks whose X-Forwarded-For is believed (a single address
	// is a /32 or /128 prefix).
	TrustedProxies []netip.Prefix
	// MaxBodyBytes bounds request bodies (default 1 MiB); MaxBulkBytes the Bulk body
	// (default 4 MiB).
	MaxBodyBytes int64
	MaxBulkBytes int64
	// Logger receives errors; phone numbers are masked and OTP codes never logged.
	Logger zerolog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Shortlinks turns on dynamic short links (shortenurl=1, campaignname); without a Base
	// and a Store such requests are refused. See ShortlinkOptions.
	Shortlinks ShortlinkOptions
}

// Account is one API client.
type Account struct {
	Name    string
	APIKeys []string
	// IPAllow lists the networks allowed to use the keys (a single address is a /32 or
	// /128 prefix); empty allows all.
	IPAllow []netip.Prefix
	// RateLimit is requests per second per key; 0 means DefaultRateLimit, negative
	// unlimited.
	RateLimit float64
	// SenderIDs are the headers the account may send from; the first is the default.
	SenderIDs []string
	// DLTEntity is the account's PE ID; a request's peid overrides it.
	DLTEntity string
	// TMID is the telemarketer id of this account when it is an aggregator (TM-AF): inserted
	// into the PE→TM chain of every message it sends — over HTTP too — after the TM-AF ids
	// the client itself named (Submission.Chain) and before smppd's own chain (dispatch).
	TMID string
	// WebhookURL receives delivery reports (Meta "webhook_url").
	WebhookURL string
	// Credits in segments; nil or negative: unlimited. They are the initial balances
	// (store.Credits.InitCredits).
	TransactionalCredits *int64
	PromotionalCredits   *int64
	// Sandbox accounts get 2Factor's sandbox behaviour and nothing is sent.
	Sandbox bool
	// Disabled accounts are refused; so are accounts past ExpiresAt (zero: never).
	Disabled  bool
	ExpiresAt time.Time
	// OTPTemplate is the CT ID of the default OTP template; OTPTemplates maps 2Factor
	// template names (the optional last path segment, e.g. "OTP1") to CT IDs. A name not in
	// the map is looked up among the entity's registered templates by name or CT ID; an
	// unknown name falls back to OTPTemplate.
	OTPTemplate  string
	OTPTemplates map[string]string
	// OTPText is the OTP text used when no DLT registry is configured, with one {#var#}
	// (or {#numeric#}) for the code. Default: DefaultOTPText.
	OTPText string
	// OTPExpiry overrides the OTP service's expiry for this account when positive.
	OTPExpiry time.Duration
	// DeferPromotional holds promotional (and service explicit) messages accepted outside
	// 10:00–21:00 IST until the window opens, instead of refusing them.
	DeferPromotional bool
	// LegacyExpiredSuccess answers an expired or already used OTP with 2Factor's legacy
	// {"Status":"Success","Details":"OTP Expired"} (HTTP 200) instead of the default
	// {"Status":"Error","Details":"OTP Expired"} (HTTP 400). Unsafe with clients that treat
	// any Success as verified.
	LegacyExpiredSuccess bool
	// EncKey is the 32-byte AES-256 secret of the encrypted module (module=ENC), shared
	// with the client out of band; nil disables ENC for the account.
	EncKey []byte
}

// Server is the HTTP API.
type Server struct {
	o        Options
	accounts []*account
	byName   map[string]*account // Accept's lookup
	keys     map[[32]byte]*apiKey
	encKeys  map[string]*account // key id → account
	proxies  clientip.Proxies
	routes   []route
}

type account struct {
	Account
	allow    []*net.IPNet
	encKeyID string
}

type apiKey struct {
	key  []byte
	acct *account
	lim  *rate.Limiter // nil: unlimited
}

// New checks the options, initialises the accounts' credits and returns a server.
func New(o Options) (*Server, error) {
	if o.Sender == nil {
		return nil, errors.New("api: Options.Sender is required")
	}
	o = o.WithDefaults()
	s := &Server{o: o, keys: map[[32]byte]*apiKey{}, encKeys: map[string]*account{}, byName: map[string]*account{}}
	var err error
	if s.proxies, err = clientip.New(o.TrustedProxies); err != nil {
		return nil, fmt.Errorf("api: TrustedProxies: %w", err)
	}
	names := map[string]bool{}
	for i := range o.Accounts {
		a := &account{Account: o.Accounts[i]}
		if a.Name == "" {
			return nil, fmt.Errorf("api: accounts[%d]: name required", i)
		}
		if names[a.Name] {
			return nil, fmt.Errorf("api: account %s: name used twice", a.Name)
		}
		names[a.Name] = true
		for j, p := range a.IPAllow {
			n, err := ipNet(p)
			if err != nil {
				return nil, fmt.Errorf("api: account %s: ip_allow[%d]: %w", a.Name, j, err)
			}
			a.allow = append(a.allow, n)
		}
		if a.EncKey != nil {
			if len(a.EncKey) != 32 {
				return nil, fmt.Errorf("api: account %s: EncKey has %d bytes, want 32 (AES-256)", a.Name, len(a.EncKey))
			}
			a.encKeyID = EncKeyID(a.EncKey)
			s.encKeys[a.encKeyID] = a
		}
		for _, k := range a.APIKeys {
			if k == "" {
				return nil, fmt.Errorf("api: account %s: empty API key", a.Name)
			}
			h := sha256.Sum256([]byte(k))
			if s.keys[h] != nil {
				return nil, fmt.Errorf("api: account %s: an API key is used twice", a.Name)
			}
			ak := &apiKey{key: []byte(k), acct: a}
			if r := a.RateLimit; r > 0 {
				ak.lim = rate.NewLimiter(rate.Limit(r), max(1, int(r)))
			}
			s.keys[h] = ak
		}
		s.accounts = append(s.accounts, a)
		s.byName[a.Name] = a
	}
	if o.Credits != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, a := range s.accounts {
			for cat, n := range map[store.CreditCategory]*int64{store.CreditsTransactional: a.TransactionalCredits, store.CreditsPromotional: a.PromotionalCredits} {
				v := int64(-1)
				if n != nil {
					v = *n
				}
				if err := o.Credits.InitCredits(ctx, a.Name, cat, v); err != nil {
					return nil, fmt.Errorf("api: account %s: credits: %w", a.Name, err)
				}
			}
		}
	}
	s.routes = s.routeTable()
	return s, nil
}

// WithDefaults returns o with every zero field that has a documented default set to it,
// each account's RateLimit included: what New runs with. The accounts are copied.
func (o Options) WithDefaults() Options {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.MaxBulkBytes <= 0 {
		o.MaxBulkBytes = DefaultMaxBulkBytes
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Registry == nil {
		o.Registry = func() *dlt.Registry { return nil }
	}
	o.Accounts = append([]Account(nil), o.Accounts...)
	for i := range o.Accounts {
		if o.Accounts[i].RateLimit == 0 {
			o.Accounts[i].RateLimit = DefaultRateLimit
		}
		if o.Accounts[i].OTPText == "" {
			o.Accounts[i].OTPText = DefaultOTPText
		}
	}
	return o
}

// ipNet turns a prefix into the *net.IPNet the address checks use (an IPv4 prefix with a
// 4-byte mask, so that it matches the unmapped client addresses clientIP returns).
func ipNet(p netip.Prefix) (*net.IPNet, error) {
	if !p.IsValid() {
		return nil, fmt.Errorf("%v is not a valid prefix", p)
	}
	p = p.Masked()
	a := p.Addr().Unmap()
	bits := p.Bits()
	if p.Addr().Is4In6() {
		bits -= 96
		if bits < 0 {
			return nil, fmt.Errorf("%v: an IPv4-mapped prefix shorter than /96", p)
		}
	}
	return &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(bits, a.BitLen())}, nil
}

// Handler returns the API's handler. Mount it at the root: it routes /API/... itself and
// answers anything else 404.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serve) }

// Timeouts of NewHTTPServer.
const (
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 30 * time.Second
	WriteTimeout      = 30 * time.Second
	IdleTimeout       = 120 * time.Second
	MaxHeaderBytes    = 32 << 10
)

// NewHTTPServer returns an http.Server for h on addr with bounded header size and header,
// read, write and idle timeouts. net/http's own answer to "OPTIONS *" (an empty 200) is off:
// h answers it like any other request. Serve the API on JSONErrors(listener), so that the
// replies net/http writes without h (a header over MaxHeaderBytes, a malformed request) are
// JSON too.
func NewHTTPServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr: addr, Handler: h,
		ReadHeaderTimeout: ReadHeaderTimeout, ReadTimeout: ReadTimeout, WriteTimeout: WriteTimeout,
		IdleTimeout: IdleTimeout, MaxHeaderBytes: MaxHeaderBytes, DisableGeneralOptionsHandler: true,
	}
}
