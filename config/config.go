// Package config reads smppd's one YAML file into each component's Options.
//
// The file is plain YAML. Any scalar may reference environment variables as ${NAME} or
// ${NAME:-default}, so secrets (bind passwords, API keys, the Redis URL) stay out of the
// file; a reference to an unset variable without a default is an error. Unknown keys are
// errors (a misspelt key silently ignored is a misconfigured carrier). Every error names the
// file, the line and the key path, e.g.
//
//	smppd.yaml:14: carriers[0].binds[0].window: -1 is not allowed: want 1 to 10000
//
// config is the one package that knows the file: it turns it into each component's Options
// (DispatchOptions, APIOptions, OTPOptions, CorrelatorOptions, SenderOptions, RedisStore,
// LivenessOptions, DLTOptions), and no component imports it. A field left out (or zero)
// stays zero in those Options, which take their own documented defaults; config fills in
// only the defaults of the file itself (log level, HTTP address, store type and URL).
// docs/config.md lists every default; a test checks it against the components.
package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/smppd/smppd/dlt"
)

// Config is the whole file.
type Config struct {
	// LogLevel is debug, info, warn or error. Default: info.
	LogLevel string `yaml:"log_level"`
	// Instance names this smppd among the instances sharing a store: its heartbeat, its
	// claims and its bind leases go by it. It must differ between instances and stay the
	// same across restarts (a restarted instance takes over its previous run's claims at
	// once). Letters, digits and . _ - only. Default: the host name and the HTTP port,
	// e.g. "sms1-8080".
	Instance string `yaml:"instance"`
	// HeartbeatTTL is how long the instance's heartbeat lives unless renewed (every third
	// of it): how soon other instances take over what a crashed one held. Default:
	// liveness.DefaultTTL.
	HeartbeatTTL time.Duration `yaml:"heartbeat_ttl"`
	// BindLeases share the carriers' binds between the instances sharing a Redis.
	BindLeases BindLeases `yaml:"bind_leases"`
	HTTP       HTTP       `yaml:"http"`
	Store      Store      `yaml:"store"`
	Dispatch   Dispatch   `yaml:"dispatch"`
	Carriers   []Carrier  `yaml:"carriers"`
	Routes     []Route    `yaml:"routes"`
	Accounts   []Account  `yaml:"accounts"`
	OTP        OTP        `yaml:"otp"`
	DLT        DLTFiles   `yaml:"dlt"`
	Receipts   Receipts   `yaml:"receipts"`
	Webhooks   Webhooks   `yaml:"webhooks"`
	// SMPPFront is the SMPP listener where client accounts bind as ESMEs (accounts[].smpp).
	SMPPFront SMPPFront `yaml:"smpp_front"`
	// Console is the operator console on the internal listener (http.metrics_listen).
	Console Console `yaml:"console"`
	// Shortlinks is the short-link redirector (shortenurl=1, campaignname: click tracking).
	Shortlinks Shortlinks `yaml:"shortlinks"`

	path  string
	lines map[string]int
}

// BindLeases make binds[].count the deployment's total: each bind is a slot that one
// instance at a time holds through a lease in the store, and opens only while it holds it.
type BindLeases struct {
	// Enabled turns leases on. Default: true with store.type redis (instances share the
	// carriers' bind limits), false with memory (one process).
	Enabled *bool `yaml:"enabled"`
	// TTL is how long a lease lives unless renewed (every third of it): a dead instance's
	// binds are taken up by the others within about TTL. At least 1s. Default:
	// dispatch.DefaultLeaseTTL.
	TTL time.Duration `yaml:"ttl"`
}

// LeasesEnabled says whether bind leases are on (see BindLeases.Enabled).
func (c *Config) LeasesEnabled() bool {
	if c.BindLeases.Enabled != nil {
		return *c.BindLeases.Enabled
	}
	return c.Store.Type == "redis"
}

// HTTP is where smppd listens.
type HTTP struct {
	// Listen is the API address. Default: 127.0.0.1:8080.
	Listen string `yaml:"listen"`
	// MetricsListen, when set, serves /metrics, /healthz and /readyz on a separate address
	// (so the API port can face clients while metrics stay internal). Default: empty, which
	// serves them on Listen.
	MetricsListen string `yaml:"metrics_listen"`
	// PProf serves Go's profiles (/debug/pprof/...) on the internal listener. Default: off.
	// Profiles expose the process's internals and cost CPU to take, so they are never served
	// on the API's listener: validation refuses PProf without MetricsListen.
	PProf bool `yaml:"pprof"`
	// TrustedProxies are CIDRs whose X-Forwarded-For is believed for IP allow-lists.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// Store selects the persistence.
type Store struct {
	// Type is "memory" (keeps nothing across restarts; demo and tests) or "redis". Default:
	// memory.
	Type string `yaml:"type"`
	// RedisURL is redis://[user:password@]host:port/db (rediss:// for TLS). Default:
	// redis://127.0.0.1:6379/0.
	RedisURL string `yaml:"redis_url"`
	// Prefix starts every Redis key, so several deployments can share one Redis. Default:
	// redisstore.DefaultPrefix.
	Prefix string `yaml:"prefix"`
	// SearchIndex keeps the message search indexes (by number and last digits) in Redis, for
	// the operator console. Default: true (nil). False saves four commands and about a
	// hundred bytes per message; the console then searches by id only.
	SearchIndex *bool `yaml:"search_index"`
	// Timeline keeps each message's timeline (accepted, submitted, receipts, webhook
	// attempts) in Redis for the operator console. Default: true (nil). False saves two
	// commands and several hundred bytes per message.
	Timeline *bool `yaml:"timeline"`
	// TextKey seals message texts at rest in Redis (AES-256-GCM): the base64 of 32 random
	// bytes, the same on every instance, from the environment. Default: derived from
	// otp.key (HKDF-SHA256), so texts are never stored in plaintext when accounts exist.
	TextKey string `yaml:"text_key"`
	// TextKeysOld are earlier text keys (base64), kept while texts sealed with them may
	// still wait in Redis: they open texts, nothing new is sealed with them.
	TextKeysOld []string `yaml:"text_keys_old"`
}

// Dispatch tunes the sending pipeline; a field left out takes dispatch.Options' default
// (ReclaimAfter: dispatch.DefaultReclaimAfter, 5 minutes).
type Dispatch struct {
	ClaimBatch   int           `yaml:"claim_batch"`
	ClaimWait    time.Duration `yaml:"claim_wait"`
	ReclaimAfter time.Duration `yaml:"reclaim_after"`
	HoldLimit    time.Duration `yaml:"hold_limit"`
	RetryMin     time.Duration `yaml:"retry_min"`
	RetryMax     time.Duration `yaml:"retry_max"`
	MaxAttempts  int           `yaml:"max_attempts"`
	PauseMin     time.Duration `yaml:"pause_min"`
	PauseMax     time.Duration `yaml:"pause_max"`
	RecordTTL    time.Duration `yaml:"record_ttl"`
	IndexTTL     time.Duration `yaml:"index_ttl"`
}

// Carrier is one operator or upstream aggregator.
type Carrier struct {
	Name string `yaml:"name"`
	// MPS caps messages per second over all binds, counted per segment. 0: no cap.
	MPS float64 `yaml:"mps"`
	// NoResponse is what to do when a submit_sm gets no response: "resubmit" (default) or
	// "unknown".
	NoResponse string `yaml:"no_response"`
	// FailoverAfter moves queued messages to the next carrier of their route when every
	// bind has been down this long. 0 (default) disables it.
	FailoverAfter time.Duration `yaml:"failover_after"`
	// MessageIDFormat says how the carrier writes message ids, for matching receipts to
	// submit responses: "as-is" (default: exact), "hex", "hex-upper", "hex-lower" (hex
	// numbers, case and leading zeros ignored), "decimal" (leading zeros ignored),
	// "hex-decimal" (hex in submit_sm_resp, decimal in receipts) or "decimal-hex".
	MessageIDFormat string      `yaml:"message_id_format"`
	Text            CarrierText `yaml:"text"`
	DLT             CarrierDLT  `yaml:"dlt"`
	Binds           []Bind      `yaml:"binds"`
}

// CarrierText says how text goes out.
type CarrierText struct {
	// Long is how long text is split: "udh" (8-bit reference; default), "udh16", "sar" or
	// "payload".
	Long string `yaml:"long"`
	// MaxParts caps the parts of one message. Default: dispatch.TextOptions'.
	MaxParts int `yaml:"max_parts"`
	// PackGSM7 packs GSM-7 text 7 bits per character. Default: false (one septet per octet,
	// what most SMSCs expect on data_coding 0).
	PackGSM7 bool `yaml:"pack_gsm7"`
	// SARFullParts lets SAR parts be full single-SMS size. Default: false.
	SARFullParts bool `yaml:"sar_full_parts"`
}

// CarrierDLT says how the carrier wants the DLT data.
type CarrierDLT struct {
	// PETag, TemplateTag and ChainTag are TLV tag numbers (0x1400 style or decimal).
	// Defaults: dlt.DefaultPETag, DefaultTemplateTag, DefaultChainTag.
	PETag       string `yaml:"pe_tag"`
	TemplateTag string `yaml:"template_tag"`
	ChainTag    string `yaml:"chain_tag"`
	// ChainMode is "sha256" (default), "raw" or "off".
	ChainMode string `yaml:"chain_mode"`
	// TMChain lists the telemarketer ids after the PE: TM-AF ids, then our TM-D id, for
	// entities the DLT registry has no chain for.
	TMChain []string `yaml:"tm_chain"`
	// StatusCodes is how the carrier writes DLT codes in command_status: "decimal" (630 is
	// 0x276; default) or "hex" (630 is 0x630).
	StatusCodes string `yaml:"status_codes"`
	// Codes renames DLT codes that mean something else on this carrier: {613: tm_not_in_chain}.
	Codes map[int]string `yaml:"codes"`
}

// Bind is a group of identical binds.
type Bind struct {
	// Addrs are host:port addresses, tried in turn.
	Addrs []string `yaml:"addrs"`
	// Mode is "trx" (default), "tx" or "rx".
	Mode             string `yaml:"mode"`
	Count            int    `yaml:"count"` // default: dispatch.BindGroup's
	SystemID         string `yaml:"system_id"`
	Password         string `yaml:"password"`
	SystemType       string `yaml:"system_type"`
	InterfaceVersion int    `yaml:"interface_version"` // default: smpp.Dial's (3.4)
	AddrTON          int    `yaml:"addr_ton"`
	AddrNPI          int    `yaml:"addr_npi"`
	AddressRange     string `yaml:"address_range"`
	// MPS caps this bind's messages per second. 0: no cap of its own.
	MPS float64 `yaml:"mps"`
	// Window is how many submit_sm may await a response on one bind. Default: smpp.Options.WindowSize's.
	Window int `yaml:"window"`
	// ResponseTimeout bounds the wait for each response. Default: smpp.Options'.
	ResponseTimeout time.Duration `yaml:"response_timeout"`
	// EnquireLinkInterval; negative disables. Default: smpp.Options'.
	EnquireLinkInterval time.Duration `yaml:"enquire_link_interval"`
	// MaxEnquireLinkOutstanding is the keepalive budget. Default: smpp.Options'.
	MaxEnquireLinkOutstanding int           `yaml:"max_enquire_link_outstanding"`
	BindTimeout               time.Duration `yaml:"bind_timeout"`      // default: smpp.Options'
	DialTimeout               time.Duration `yaml:"dial_timeout"`      // default: smpp.Options'
	WriteTimeout              time.Duration `yaml:"write_timeout"`     // default: smpp.Options'
	MaxPDUSize                int           `yaml:"max_pdu_size"`      // default: smpp.DefaultMaxPDUSize
	ReconnectMin              time.Duration `yaml:"reconnect_min"`     // default: smpp.SupervisorOptions.MinBackoff's
	ReconnectMax              time.Duration `yaml:"reconnect_max"`     // default: smpp.SupervisorOptions.MaxBackoff's
	PermanentBackoff          time.Duration `yaml:"permanent_backoff"` // default: smpp.SupervisorOptions'
	TLS                       TLS           `yaml:"tls"`
}

// TLS configures a TLS bind.
type TLS struct {
	Enabled            bool   `yaml:"enabled"`
	ServerName         string `yaml:"server_name"`
	CAFile             string `yaml:"ca_file"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// Route sends numbers with a prefix to carriers in preference order.
type Route struct {
	Prefix   string   `yaml:"prefix"`
	Carriers []string `yaml:"carriers"`
}

// Account is an enterprise client of the HTTP API.
type Account struct {
	Name    string   `yaml:"name"`
	APIKeys []string `yaml:"api_keys"`
	// IPAllow lists CIDRs (or single addresses) allowed to use the keys; empty allows all.
	IPAllow []string `yaml:"ip_allow"`
	// RateLimit is requests per second per key. Default: api.DefaultRateLimit (2Factor's
	// documented limit).
	RateLimit float64 `yaml:"rate_limit"`
	// SenderIDs are the headers the account may send from; the first is the default.
	SenderIDs []string `yaml:"sender_ids"`
	// DLTEntity is the account's principal entity id (PE_ID).
	DLTEntity string `yaml:"dlt_entity"`
	// TMID is the account's telemarketer id when it is an aggregator (TM-AF): inserted into
	// the PE→TM chain of every message it sends (api.Account.TMID).
	TMID string `yaml:"tm_id"`
	// WebhookURL receives the account's delivery reports (the api stamps it on each message it
	// accepts, so a report goes where the account pointed when its message was sent).
	WebhookURL string `yaml:"webhook_url"`
	// Credits available for transactional and promotional SMS, consumed per segment;
	// negative means unlimited. Default: unlimited.
	TransactionalCredits *int64 `yaml:"transactional_credits"`
	PromotionalCredits   *int64 `yaml:"promotional_credits"`
	// Sandbox accounts send nothing (2Factor's AUTOGEND/VERIFY2 behaviour).
	Sandbox bool `yaml:"sandbox"`
	// Disabled accounts are refused with a clear reply.
	Disabled bool `yaml:"disabled"`
	// ExpiresAt, when set, ends the account (RFC 3339).
	ExpiresAt string `yaml:"expires_at"`
	// OTPTemplate is the CT ID of the account's DLT-registered OTP template; OTPTemplates
	// maps the template names clients put in the path (AUTOGEN/OTP1) to CT IDs.
	OTPTemplate  string            `yaml:"otp_template"`
	OTPTemplates map[string]string `yaml:"otp_templates"`
	// OTPText is the OTP text when no DLT registry is configured, with {#numeric#} for the
	// code. Default: api.DefaultOTPText.
	OTPText string `yaml:"otp_text"`
	// OTPExpiry is how long an OTP may be verified. Default: otp.DefaultExpiry.
	OTPExpiry time.Duration `yaml:"otp_expiry"`
	// DeferPromotional holds promotional messages accepted outside 10:00–21:00 IST until
	// the window opens; by default they are refused.
	DeferPromotional bool `yaml:"defer_promotional"`
	// LegacyExpiredSuccess answers an expired OTP with 2Factor's legacy 200 Success form.
	// Unsafe with clients that treat any Success as verified. Default: false.
	LegacyExpiredSuccess bool `yaml:"legacy_expired_success"`
	// EncKey is the base64 of the 32-byte AES-256 key of the encrypted module (module=ENC);
	// empty disables ENC for the account.
	EncKey string `yaml:"enc_key"`
	// SMPP lets the account bind to the SMPP front (smpp_front) as an ESME; absent: HTTP only.
	SMPP *AccountSMPP `yaml:"smpp"`
}

// AccountSMPP is an account's SMPP front settings (smppfront.Account); its IP allow-list is
// the account's ip_allow.
type AccountSMPP struct {
	// SystemID is what the client binds with (at most 15 characters). Required, unique.
	SystemID string `yaml:"system_id"`
	// PasswordHash is the password's stored form, made by `smppd passwd` (pbkdf2-sha256).
	// Required; the password itself never appears in the file.
	PasswordHash string `yaml:"password_hash"`
	// MaxBinds caps the account's concurrent binds. Default: smppfront.DefaultMaxBinds.
	MaxBinds int `yaml:"max_binds"`
	// Window is how many requests one bind may have unanswered. Default:
	// smppfront.DefaultWindow.
	Window int `yaml:"window"`
	// Rate is the account's segments per second over all its binds; negative: unlimited.
	// Default: smppfront.DefaultRate.
	Rate float64 `yaml:"rate"`
	// Burst is how many segments may come at once above Rate. Default: Rate.
	Burst int `yaml:"burst"`
	// ReceiptParts sends one receipt per part of a long message instead of one combined.
	ReceiptParts bool `yaml:"receipt_parts"`
	// Latin1Default reads data_coding 0 as Latin-1 instead of GSM 03.38.
	Latin1Default bool `yaml:"latin1_default"`
	// MONumbers are the short codes and long numbers whose MO messages go to this account.
	MONumbers []string `yaml:"mo_numbers"`
}

// Console is the browser console for operators (package api/console), served under
// /console/ on http.metrics_listen only; without operators it is off.
type Console struct {
	Operators []ConsoleOperator `yaml:"operators"`
	// SessionTTL is how long a login lasts. Default: console.DefaultSessionTTL.
	SessionTTL time.Duration `yaml:"session_ttl"`
	// SecureCookie marks the session cookie Secure over plain HTTP too (behind a TLS proxy).
	SecureCookie bool `yaml:"secure_cookie"`
	// MaxFailures failed logins of a name or an address lock it for Lockout. Defaults:
	// console.DefaultMaxFailures, console.DefaultLockout.
	MaxFailures int           `yaml:"max_failures"`
	Lockout     time.Duration `yaml:"lockout"`
}

// ConsoleOperator is one console login.
type ConsoleOperator struct {
	Name string `yaml:"name"`
	// PasswordHash is made by `smppd passwd -console` (pbkdf2-sha256).
	PasswordHash string `yaml:"password_hash"`
	// Role is admin or viewer.
	Role string `yaml:"role"`
}

// SMPPFront is where client accounts bind over SMPP (package api/smppfront). With neither
// listen address the front is off.
type SMPPFront struct {
	// Listen is the plain TCP address, e.g. 0.0.0.0:2775. Default: empty (off).
	Listen string `yaml:"listen"`
	// TLSListen is the TLS address, e.g. 0.0.0.0:3550, with TLSCert and TLSKey (PEM files).
	TLSListen string `yaml:"tls_listen"`
	TLSCert   string `yaml:"tls_cert"`
	TLSKey    string `yaml:"tls_key"`
	// SystemID is the front's system_id in bind responses. Default: smppd.
	SystemID string `yaml:"system_id"`
	// DLTStatusCodes writes a DLT refusal's code in command_status as "decimal" (630 is
	// 0x276; the default) or "hex" (630 is 0x630), as the client's carriers would.
	DLTStatusCodes string `yaml:"dlt_status_codes"`
	// PartTimeout is how long the parts of a long message wait for the rest. Default:
	// smppfront.DefaultPartTimeout.
	PartTimeout time.Duration `yaml:"part_timeout"`
}

// Enabled says whether the SMPP front listens at all.
func (f SMPPFront) Enabled() bool { return f.Listen != "" || f.TLSListen != "" }

// OTP configures OTP sessions for every account.
type OTP struct {
	// Key is the secret that OTP codes are hashed with (HMAC-SHA256): at least 32
	// characters, the same on every instance, from the environment. Required when any
	// account exists. Changing it invalidates every live OTP.
	Key string `yaml:"key"`
	// MaxAttempts is how many wrong codes a session takes. Default: otp.DefaultMaxAttempts.
	MaxAttempts int `yaml:"max_attempts"`
	// SendLimit OTPs per phone per SendWindow; negative disables. Defaults:
	// otp.DefaultSendLimit per otp.DefaultSendWindow.
	SendLimit  int           `yaml:"send_limit"`
	SendWindow time.Duration `yaml:"send_window"`
}

// DLTFiles load the DLT registry.
type DLTFiles struct {
	// Registry is a YAML registry file (entities, headers, templates, chains; see
	// dlt.LoadYAML). Relative paths are relative to this file's directory.
	Registry string `yaml:"registry"`
	// TemplatesCSV are portal exports, each with the entity they belong to. With a Redis
	// store the first instance publishes these files to every instance; `smppd -dlt-import`
	// or SIGHUP publishes them again after an edit.
	TemplatesCSV []struct {
		File   string `yaml:"file"`
		Entity string `yaml:"entity"`
	} `yaml:"templates_csv"`
	// MaxVarLen is the longest value a template variable may take, in characters
	// (dlt.MatchOptions.MaxVarLen): 0 is DLT's 30; raise it only when every DLT on the
	// routes accepts longer values (a short link is one {#url#} value).
	MaxVarLen int `yaml:"max_var_len"`
}

// Shortlinks turns dynamic short links on: the URLs of messages sent with shortenurl=1 or a
// campaignname become <base_url>/<HEADER>/<code>, served by a redirect listener of their own
// (package api/shortlink). Off while base_url is empty.
type Shortlinks struct {
	// BaseURL is the short domain as recipients see it, e.g. https://e.1rp.in (a CDN or TLS
	// terminator in front of Listen). Required to turn short links on.
	BaseURL string `yaml:"base_url"`
	// Listen is the redirect listener's address, e.g. 0.0.0.0:8090. Required with base_url.
	Listen string `yaml:"listen"`
	// TTL is how long a link (and its counts) lives. Default: store.DefaultLinkTTL (2160h).
	TTL time.Duration `yaml:"ttl"`
	// TrustedProxies are CIDRs (the CDN, the TLS terminator) whose X-Forwarded-For is
	// believed for the clicker's address.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// PreviewWebhooks also posts the click webhook for link-preview fetchers (preview=1).
	PreviewWebhooks bool `yaml:"preview_webhooks"`
	// DurableClicks answers a redirect only once its click is stored. Default: false (the
	// click is stored within linger after the 302).
	DurableClicks bool `yaml:"durable_clicks"`
	// Linger is how long a batch of clicks waits for more before it is written. Default:
	// shortlink.DefaultLinger.
	Linger time.Duration `yaml:"linger"`
}

// Enabled says whether short links are on.
func (s Shortlinks) Enabled() bool { return s.BaseURL != "" }

// Receipts tunes the receipt log and correlation (dlr.CorrelatorOptions; zero values take
// its defaults).
type Receipts struct {
	// EarlyWindow is how long a receipt that arrives before its submit_sm_resp is stored
	// waits in the receipt log before it counts as unmatched.
	EarlyWindow time.Duration `yaml:"early_window"`
	// RetryEvery is how often waiting receipts are tried again.
	RetryEvery time.Duration `yaml:"retry_every"`
	// MaxPending bounds receipts being appended to the log at once; beyond it sessions stop
	// reading until there is room.
	MaxPending int `yaml:"max_pending"`
	// MaxLag bounds the log's backlog of receipts not yet applied; beyond it sessions stop
	// reading receipts until it shrinks.
	MaxLag int64 `yaml:"max_lag"`
}

// Webhooks tunes webhook delivery (dlr.SenderOptions; zero values take its defaults).
type Webhooks struct {
	// Secret signs webhook bodies (HMAC-SHA256); set it from the environment.
	Secret string `yaml:"secret"`
	// RetryFor bounds how long a webhook is retried before it goes to the dead-letter list.
	RetryFor time.Duration `yaml:"retry_for"`
	// AllowPrivate lets webhook URLs point at loopback and private addresses. Default: false.
	AllowPrivate bool `yaml:"allow_private"`
	// Timeout bounds one webhook request.
	Timeout time.Duration `yaml:"timeout"`
	// Lease is how long a webhook job taken by an instance is reserved for it; if the
	// instance dies, another sends the job after this. Must exceed timeout.
	Lease time.Duration `yaml:"lease"`
	// PerHostConcurrency bounds requests in flight to one host, so one slow client never
	// delays the others.
	PerHostConcurrency int `yaml:"per_host_concurrency"`
	// DeadLetterTTL is how long a dead webhook job (it holds the delivery report: phone
	// number, callback values) is kept for inspection and replay. Default:
	// redisstore.DefaultDeadRetention.
	DeadLetterTTL time.Duration `yaml:"dead_letter_ttl"`
}

// Error is a configuration error at a place in the file.
type Error struct {
	File string
	Line int    // 0 when unknown
	Key  string // key path, e.g. carriers[0].binds[1].window
	Msg  string
}

func (e *Error) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc += ":" + strconv.Itoa(e.Line)
	}
	if e.Key != "" {
		return loc + ": " + e.Key + ": " + e.Msg
	}
	return loc + ": " + e.Msg
}

// Errors is every problem found in a file; validation reports them all at once.
type Errors []*Error

func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// Load reads and validates the file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data, os.LookupEnv)
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// Parse reads a configuration from data; name is used in errors and lookup resolves ${VAR}.
func Parse(name string, data []byte, lookup func(string) (string, bool)) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, &Error{File: name, Line: yamlErrLine(err), Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	c := &Config{path: name, lines: map[string]int{}}
	if len(root.Content) == 0 {
		c.applyDefaults()
		return c, c.validate()
	}
	doc := root.Content[0]
	var errs Errors
	expandEnv(doc, lookup, func(line int, msg string) { errs = append(errs, &Error{File: name, Line: line, Msg: msg}) })
	recordLines(doc, "", c.lines)
	errs = append(errs, unknownKeys(doc, reflect.TypeOf(Config{}), "", name)...)
	if len(errs) > 0 {
		return nil, errs
	}
	if err := doc.Decode(c); err != nil {
		return nil, decodeError(name, err)
	}
	c.applyDefaults()
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// expandEnv replaces ${VAR} and ${VAR:-default} in every scalar.
func expandEnv(n *yaml.Node, lookup func(string) (string, bool), fail func(int, string)) {
	if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "${") {
		n.Value = envRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
			m := envRef.FindStringSubmatch(ref)
			if v, ok := lookup(m[1]); ok && v != "" {
				return v
			}
			if m[2] != "" {
				return m[3]
			}
			fail(n.Line, fmt.Sprintf("environment variable %s is not set (write ${%s:-default} to give one)", m[1], m[1]))
			return ""
		})
		// A plain scalar is re-resolved after expansion (so window: ${W} is an int); a quoted
		// one stays a string. Either way the value is data, never parsed as YAML.
		if n.Style == 0 {
			n.Tag = ""
		}
	}
	for _, c := range n.Content {
		expandEnv(c, lookup, fail)
	}
}

// recordLines maps key paths to the lines they start on.
func recordLines(n *yaml.Node, path string, lines map[string]int) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			lines[p] = k.Line
			recordLines(v, p, lines)
		}
	case yaml.SequenceNode:
		for i, v := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			lines[p] = v.Line
			recordLines(v, p, lines)
		}
	}
}

// unknownKeys reports mapping keys that no field of t names.
func unknownKeys(n *yaml.Node, t reflect.Type, path, file string) Errors {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var errs Errors
	switch {
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Struct:
		fields := map[string]reflect.Type{}
		for i := range t.NumField() {
			f := t.Field(i)
			name := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if name != "" && name != "-" {
				fields[name] = f.Type
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			ft, ok := fields[k.Value]
			if !ok {
				errs = append(errs, &Error{File: file, Line: k.Line, Key: p, Msg: "unknown key" + suggest(k.Value, fields)})
				continue
			}
			errs = append(errs, unknownKeys(v, ft, p, file)...)
		}
	case n.Kind == yaml.SequenceNode && t.Kind() == reflect.Slice:
		for i, v := range n.Content {
			errs = append(errs, unknownKeys(v, t.Elem(), fmt.Sprintf("%s[%d]", path, i), file)...)
		}
	}
	return errs
}

func suggest(key string, fields map[string]reflect.Type) string {
	var names []string
	for n := range fields {
		if strings.Contains(n, key) || strings.Contains(key, n) || editDistance(n, key) <= 2 {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return ""
	}
	sort.Strings(names)
	return " (did you mean " + strings.Join(names, " or ") + "?)"
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

var (
	yamlLine    = regexp.MustCompile(`line (\d+)`)
	typeErrLine = regexp.MustCompile(`^line (\d+): (.*)$`)
)

func yamlErrLine(err error) int {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return 0
}

// decodeError turns yaml.v3's type errors ("line 12: cannot unmarshal !!str `ten` into
// int") into Errors that carry the line.
func decodeError(file string, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return &Error{File: file, Line: yamlErrLine(err), Msg: err.Error()}
	}
	var errs Errors
	for _, m := range te.Errors {
		e := &Error{File: file, Msg: m}
		if sm := typeErrLine.FindStringSubmatch(m); sm != nil {
			e.Line, _ = strconv.Atoi(sm[1])
			e.Msg = sm[2]
		}
		errs = append(errs, e)
	}
	return errs
}

// errAt builds an error for a key path, with its line when the file had the key.
func (c *Config) errAt(key, format string, args ...any) *Error {
	line := c.lines[key]
	for k := key; line == 0 && k != ""; {
		i := strings.LastIndexAny(k, ".[")
		if i < 0 {
			break
		}
		k = k[:i]
		line = c.lines[k]
	}
	return &Error{File: c.path, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)}
}

// Path is the file the configuration came from.
func (c *Config) Path() string { return c.path }

// resolve makes a path from the file relative to the file's directory.
func (c *Config) resolve(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(c.path), p)
}

// DLTRegistryFile is the DLT registry YAML, resolved against the configuration file's
// directory ("" when none is configured).
func (c *Config) DLTRegistryFile() string { return c.resolve(c.DLT.Registry) }

// DLTTemplateCSVs are the portal template exports, resolved like DLTRegistryFile.
func (c *Config) DLTTemplateCSVs() []dlt.CSVFile {
	var out []dlt.CSVFile
	for _, f := range c.DLT.TemplatesCSV {
		out = append(out, dlt.CSVFile{Path: c.resolve(f.File), Entity: f.Entity})
	}
	return out
}

// InstanceName returns Instance, or its default: the host name and the port of http.listen.
func (c *Config) InstanceName() string {
	if c.Instance != "" {
		return c.Instance
	}
	host, _ := os.Hostname()
	host = strings.Map(func(r rune) rune {
		if instanceRune(r) {
			return r
		}
		return '-'
	}, host)
	if host == "" {
		host = "smppd"
	}
	_, port, _ := net.SplitHostPort(c.HTTP.Listen)
	if port == "" {
		return host
	}
	return host + "-" + port
}

func instanceRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
}
