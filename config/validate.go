package config

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/smppd/smppd/internal/passwd"
	"github.com/smppd/smppd/store/redisstore"
)

// applyDefaults fills in the defaults that belong to the file itself: the log level, the
// HTTP address and the store to open. Every other field left out stays zero, which the
// Options of the component it configures documents and applies as that component's
// default (config_test.go checks docs/config.md against them).
func (c *Config) applyDefaults() {
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	if c.HTTP.Listen == "" {
		c.HTTP.Listen = "127.0.0.1:8080"
	}
	if c.Store.Type == "" {
		c.Store.Type = "memory"
	}
	if c.Store.RedisURL == "" {
		c.Store.RedisURL = DefaultRedisURL
	}
}

// DefaultRedisURL is store.redis_url's default: a Redis on this host.
const DefaultRedisURL = "redis://127.0.0.1:6379/0"

// problems collects the errors of a validation, each at its key's line.
type problems struct {
	c    *Config
	errs Errors
}

func (p *problems) add(key, format string, args ...any) {
	p.errs = append(p.errs, p.c.errAt(key, format, args...))
}

// validate reports every problem at once, each at its line: one function per section,
// each naming the key and what is wrong with it.
func (c *Config) validate() error {
	p := &problems{c: c}
	c.validateTop(p)
	c.validateHTTP(p)
	c.validateStore(p)
	c.validateDispatch(p)
	carriers := c.validateCarriers(p)
	c.validateRoutes(p, carriers)
	c.validateAccounts(p)
	c.validateOTP(p)
	c.validateTextKeys(p)
	c.validateWebhooks(p)
	c.validateReceipts(p)
	c.validateSMPPFront(p)
	c.validateConsole(p)
	c.validateShortlinks(p)
	if c.DLT.MaxVarLen < 0 {
		p.add("dlt.max_var_len", "%d: want 0 (DLT's 30) or more", c.DLT.MaxVarLen)
	}
	if len(p.errs) > 0 {
		return p.errs
	}
	return nil
}

// validateTop checks log_level, instance, heartbeat_ttl and bind_leases.
func (c *Config) validateTop(p *problems) {
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		p.add("log_level", "%q: want debug, info, warn or error", c.LogLevel)
	}
	if c.Instance != "" && strings.IndexFunc(c.Instance, func(r rune) bool { return !instanceRune(r) }) >= 0 {
		p.add("instance", "%q: only letters, digits and . _ - are allowed", c.Instance)
	}
	if c.HeartbeatTTL != 0 && c.HeartbeatTTL < time.Second {
		p.add("heartbeat_ttl", "%v is below 1s: renewals every third of it would not survive a slow round trip", c.HeartbeatTTL)
	}
	if c.BindLeases.TTL != 0 && c.BindLeases.TTL < time.Second {
		p.add("bind_leases.ttl", "%v is below 1s: renewals every third of it would not survive a slow round trip", c.BindLeases.TTL)
	}
}

// validateHTTP checks the listen addresses and trusted proxies.
func (c *Config) validateHTTP(p *problems) {
	checkHostPort(p.add, "http.listen", c.HTTP.Listen)
	if c.HTTP.MetricsListen != "" {
		checkHostPort(p.add, "http.metrics_listen", c.HTTP.MetricsListen)
	}
	if c.HTTP.PProf && c.HTTP.MetricsListen == "" {
		p.add("http.pprof", "needs http.metrics_listen: profiles are served only on the internal listener, never on the API's")
	}
	for i, s := range c.HTTP.TrustedProxies {
		if _, err := ParseCIDR(s); err != nil {
			p.add(fmt.Sprintf("http.trusted_proxies[%d]", i), "%v", err)
		}
	}
}

// validateStore checks the store type and, for Redis, the URL.
func (c *Config) validateStore(p *problems) {
	switch c.Store.Type {
	case "memory":
	case "redis":
		u, err := url.Parse(c.Store.RedisURL)
		if err != nil {
			u = &url.URL{}
		}
		base, mode, _ := strings.Cut(u.Scheme, "+")
		if (base != "redis" && base != "rediss") || (mode != "" && mode != "sentinel" && mode != "cluster") || u.Host == "" {
			p.add("store.redis_url", "%q is not a redis://, rediss://, redis+sentinel:// or redis+cluster:// URL", redact(c.Store.RedisURL))
		}
	default:
		p.add("store.type", "%q: want memory or redis", c.Store.Type)
	}
}

// validateDispatch checks the pipeline tuning; dispatch.New checks the rest (ReclaimAfter
// against the carriers' timeouts) once defaults are applied.
func (c *Config) validateDispatch(p *problems) {
	if c.Dispatch.ClaimBatch < 0 || c.Dispatch.MaxAttempts < 0 {
		p.add("dispatch", "claim_batch and max_attempts must not be negative")
	}
}

// validateCarriers checks every carrier and its binds, and returns the carriers' names.
func (c *Config) validateCarriers(p *problems) map[string]bool {
	carriers := map[string]bool{}
	if len(c.Carriers) == 0 {
		p.add("carriers", "no carriers: smppd needs at least one to send through")
	}
	for i, cr := range c.Carriers {
		k := fmt.Sprintf("carriers[%d]", i)
		switch {
		case cr.Name == "":
			p.add(k+".name", "required")
		case carriers[cr.Name]:
			p.add(k+".name", "duplicate carrier name %q", cr.Name)
		case strings.ContainsAny(cr.Name, " :{}"):
			p.add(k+".name", "%q: no spaces, colons or braces (it is part of store keys)", cr.Name)
		}
		carriers[cr.Name] = true
		c.validateCarrier(p, k, cr)
	}
	return carriers
}

// validateCarrier checks one carrier's own keys, its text and DLT settings and its binds.
func (c *Config) validateCarrier(p *problems, k string, cr Carrier) {
	if cr.MPS < 0 {
		p.add(k+".mps", "%v: must not be negative", cr.MPS)
	}
	if cr.NoResponse != "" && cr.NoResponse != "resubmit" && cr.NoResponse != "unknown" {
		p.add(k+".no_response", "%q: want resubmit or unknown", cr.NoResponse)
	}
	switch cr.MessageIDFormat {
	case "", "as-is", "hex", "decimal", "hex-upper", "hex-lower", "hex-decimal", "decimal-hex":
	default:
		p.add(k+".message_id_format", "%q: want as-is, hex, decimal, hex-upper, hex-lower, hex-decimal or decimal-hex", cr.MessageIDFormat)
	}
	switch cr.Text.Long {
	case "", "udh", "udh16", "sar", "payload":
	default:
		p.add(k+".text.long", "%q: want udh, udh16, sar or payload", cr.Text.Long)
	}
	if cr.Text.MaxParts < 0 || cr.Text.MaxParts > 255 {
		p.add(k+".text.max_parts", "%d: want 1 to 255", cr.Text.MaxParts)
	}
	c.validateCarrierDLT(p, k+".dlt", cr.DLT)
	if len(cr.Binds) == 0 {
		p.add(k+".binds", "no binds")
	}
	sends := false
	for j, b := range cr.Binds {
		if c.validateBind(p, fmt.Sprintf("%s.binds[%d]", k, j), b) {
			sends = true
		}
	}
	if len(cr.Binds) > 0 && !sends {
		p.add(k+".binds", "no tx or trx bind: the carrier could not be sent to")
	}
}

// validateCarrierDLT checks a carrier's dlt section (k is its key).
func (c *Config) validateCarrierDLT(p *problems, k string, d CarrierDLT) {
	for _, t := range []struct{ key, val string }{{"pe_tag", d.PETag}, {"template_tag", d.TemplateTag}, {"chain_tag", d.ChainTag}} {
		if t.val != "" {
			if _, err := ParseTag(t.val); err != nil {
				p.add(k+"."+t.key, "%v", err)
			}
		}
	}
	switch d.ChainMode {
	case "", "sha256", "raw", "off":
	default:
		p.add(k+".chain_mode", "%q: want sha256, raw or off", d.ChainMode)
	}
	switch d.StatusCodes {
	case "", "decimal", "hex":
	default:
		p.add(k+".status_codes", "%q: want decimal or hex", d.StatusCodes)
	}
	for j, id := range d.TMChain {
		if strings.Trim(id, "0123456789") != "" || id == "" {
			p.add(fmt.Sprintf("%s.tm_chain[%d]", k, j), "%q: a DLT id is digits only", id)
		}
	}
}

// validateBind checks one bind group (bk is its key) and says whether it can send.
func (c *Config) validateBind(p *problems, bk string, b Bind) (sends bool) {
	if len(b.Addrs) == 0 {
		p.add(bk+".addrs", "at least one host:port")
	}
	for a, addr := range b.Addrs {
		checkHostPort(p.add, fmt.Sprintf("%s.addrs[%d]", bk, a), addr)
	}
	switch b.Mode {
	case "", "trx", "tx":
		sends = true
	case "rx":
	default:
		p.add(bk+".mode", "%q: want trx, tx or rx", b.Mode)
	}
	if b.SystemID == "" {
		p.add(bk+".system_id", "required")
	} else if len(b.SystemID) > 15 {
		p.add(bk+".system_id", "%d characters; SMPP allows 15", len(b.SystemID))
	}
	if len(b.Password) > 8 {
		p.add(bk+".password", "%d characters; SMPP 3.4 allows 8", len(b.Password))
	}
	if len(b.SystemType) > 12 {
		p.add(bk+".system_type", "%d characters; SMPP allows 12", len(b.SystemType))
	}
	if b.Count < 0 || b.Count > 64 {
		p.add(bk+".count", "%d: want 1 to 64", b.Count)
	}
	if b.Window < 0 || b.Window > 10000 {
		p.add(bk+".window", "%d is not allowed: want 1 to 10000", b.Window)
	}
	if b.MPS < 0 {
		p.add(bk+".mps", "%v: must not be negative", b.MPS)
	}
	if b.ResponseTimeout < 0 {
		p.add(bk+".response_timeout", "must not be negative")
	}
	if b.EnquireLinkInterval > 0 && b.EnquireLinkInterval < 100*time.Millisecond {
		p.add(bk+".enquire_link_interval", "%s is below 100ms", b.EnquireLinkInterval)
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"addr_ton", b.AddrTON}, {"addr_npi", b.AddrNPI}, {"interface_version", b.InterfaceVersion}} {
		if f.v < 0 || f.v > 255 {
			p.add(bk+"."+f.name, "%d does not fit one octet", f.v)
		}
	}
	if b.TLS.CAFile != "" && !b.TLS.Enabled {
		p.add(bk+".tls.ca_file", "set while tls.enabled is false")
	}
	return sends
}

// validateRoutes checks every route's prefix and that its carriers exist.
func (c *Config) validateRoutes(p *problems, carriers map[string]bool) {
	for i, r := range c.Routes {
		k := fmt.Sprintf("routes[%d]", i)
		if strings.Trim(r.Prefix, "0123456789") != "" {
			p.add(k+".prefix", "%q: digits only (international form without +)", r.Prefix)
		}
		if len(r.Carriers) == 0 {
			p.add(k+".carriers", "at least one carrier")
		}
		for j, n := range r.Carriers {
			if !carriers[n] {
				p.add(fmt.Sprintf("%s.carriers[%d]", k, j), "unknown carrier %q", n)
			}
		}
	}
}

// validateAccounts checks every account: names and keys unique, CIDRs, URLs, the ENC key
// and the expiry readable.
func (c *Config) validateAccounts(p *problems) {
	keys := map[string]string{}
	names := map[string]bool{}
	for i, a := range c.Accounts {
		k := fmt.Sprintf("accounts[%d]", i)
		if a.Name == "" {
			p.add(k+".name", "required")
		} else if names[a.Name] {
			p.add(k+".name", "duplicate account %q", a.Name)
		}
		names[a.Name] = true
		if len(a.APIKeys) == 0 && a.SMPP == nil {
			p.add(k+".api_keys", "at least one key (or an smpp section, for an SMPP-only account)")
		}
		for j, key := range a.APIKeys {
			kk := fmt.Sprintf("%s.api_keys[%d]", k, j)
			switch {
			case len(key) < 16:
				p.add(kk, "%d characters; use at least 16 random characters", len(key))
			case strings.ContainsAny(key, "/?#% "):
				p.add(kk, "must not contain / ? # %% or spaces (keys travel in URL paths)")
			case keys[key] != "":
				p.add(kk, "the same key is already given to account %q", keys[key])
			}
			keys[key] = a.Name
		}
		c.validateAccount(p, k, a)
	}
}

// validateAccount checks one account's own keys (k is its key).
func (c *Config) validateAccount(p *problems, k string, a Account) {
	for j, cidr := range a.IPAllow {
		if _, err := ParseCIDR(cidr); err != nil {
			p.add(fmt.Sprintf("%s.ip_allow[%d]", k, j), "%v", err)
		}
	}
	if a.RateLimit < 0 {
		p.add(k+".rate_limit", "must not be negative")
	}
	if a.DLTEntity != "" && strings.Trim(a.DLTEntity, "0123456789") != "" {
		p.add(k+".dlt_entity", "%q: a PE id is digits only", a.DLTEntity)
	}
	if a.TMID != "" && strings.Trim(a.TMID, "0123456789") != "" {
		p.add(k+".tm_id", "%q: a TM id is digits only", a.TMID)
	}
	if a.WebhookURL != "" {
		if u, err := url.Parse(a.WebhookURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.add(k+".webhook_url", "%q is not an http(s) URL", a.WebhookURL)
		}
	}
	if a.EncKey != "" {
		if key, err := base64.StdEncoding.DecodeString(a.EncKey); err != nil || len(key) != 32 {
			p.add(k+".enc_key", "want the base64 of 32 random bytes (openssl rand -base64 32)")
		}
	}
	if a.ExpiresAt != "" {
		if _, err := time.Parse(time.RFC3339, a.ExpiresAt); err != nil {
			p.add(k+".expires_at", "%q: want RFC 3339, e.g. 2027-03-31T23:59:59+05:30", a.ExpiresAt)
		}
	}
}

// validateTextKeys checks the keys that seal message texts at rest.
func (c *Config) validateTextKeys(p *problems) {
	check := func(k, v string) {
		if b, err := base64.StdEncoding.DecodeString(v); err != nil || len(b) != redisstore.TextKeySize {
			p.add(k, "want the base64 of 32 random bytes, the same on every instance (openssl rand -base64 32)")
		}
	}
	if c.Store.TextKey != "" {
		check("store.text_key", c.Store.TextKey)
	}
	if len(c.Store.TextKeysOld) > 0 && c.Store.TextKey == "" {
		p.add("store.text_keys_old", "set with no store.text_key: rotation needs the new key as text_key (docs/operations.md)")
	}
	for i, k := range c.Store.TextKeysOld {
		check(fmt.Sprintf("store.text_keys_old[%d]", i), k)
	}
}

// validateOTP checks the OTP key, required as soon as there is an account.
func (c *Config) validateOTP(p *problems) {
	if len(c.Accounts) > 0 && len(c.OTP.Key) < 32 {
		p.add("otp.key", "%d characters; OTP codes are hashed with it: at least 32 random characters, the same on every instance (openssl rand -hex 32)", len(c.OTP.Key))
	}
}

// validateWebhooks checks the sender's timeouts: the lease must outlast a request.
func (c *Config) validateWebhooks(p *problems) {
	timeout := c.SenderOptions().WithDefaults().Timeout
	if c.Webhooks.Lease > 0 && c.Webhooks.Lease <= timeout {
		p.add("webhooks.lease", "%s must exceed the webhook timeout (%s), or a slow request is sent twice", c.Webhooks.Lease, timeout)
	}
	if c.Webhooks.PerHostConcurrency < 0 || c.Webhooks.Timeout < 0 || c.Webhooks.RetryFor < 0 || c.Webhooks.DeadLetterTTL < 0 {
		p.add("webhooks", "timeout, lease, retry_for, per_host_concurrency and dead_letter_ttl must not be negative")
	}
}

// validateShortlinks checks the short-link section: an absolute http(s) base without query
// or fragment, a listen address, a TTL of at least an hour, the proxies' CIDRs.
func (c *Config) validateShortlinks(p *problems) {
	sl := c.Shortlinks
	if !sl.Enabled() {
		if sl.Listen != "" {
			p.add("shortlinks.base_url", "required with shortlinks.listen: the short domain recipients see, e.g. https://e.1rp.in")
		}
		return
	}
	u, err := url.Parse(sl.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		p.add("shortlinks.base_url", "%q is not an absolute http:// or https:// URL without query or fragment, e.g. https://e.1rp.in", sl.BaseURL)
	}
	if sl.Listen == "" {
		p.add("shortlinks.listen", "required with shortlinks.base_url: the redirect listener's address, e.g. 0.0.0.0:8090")
	} else {
		checkHostPort(p.add, "shortlinks.listen", sl.Listen)
		if sl.Listen == c.HTTP.Listen || sl.Listen == c.HTTP.MetricsListen {
			p.add("shortlinks.listen", "%q is already http.listen or http.metrics_listen: the redirector needs its own address", sl.Listen)
		}
	}
	if sl.TTL != 0 && sl.TTL < time.Hour {
		p.add("shortlinks.ttl", "%v is below 1h: a link must outlive its message's delivery", sl.TTL)
	}
	if sl.Linger < 0 || sl.Linger > time.Second {
		p.add("shortlinks.linger", "%v: want 0 (the default) to 1s", sl.Linger)
	}
	for i, s := range sl.TrustedProxies {
		if _, err := ParseCIDR(s); err != nil {
			p.add(fmt.Sprintf("shortlinks.trusted_proxies[%d]", i), "%v", err)
		}
	}
}

// validateReceipts checks the receipt log's tuning.
func (c *Config) validateReceipts(p *problems) {
	if r := c.Receipts; r.EarlyWindow < 0 || r.RetryEvery < 0 || r.MaxPending < 0 || r.MaxLag < 0 {
		p.add("receipts", "early_window, retry_every, max_pending and max_lag must not be negative")
	}
}

func checkHostPort(add func(string, string, ...any), key, v string) {
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		add(key, "%q is not host:port", v)
		return
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		add(key, "%q: port %q is not a number from 0 to 65535", v, port)
	}
	_ = host
}

// ParseTag reads a TLV tag written as 0x1400 or 5120.
func ParseTag(s string) (uint16, error) {
	v, err := strconv.ParseUint(s, 0, 16)
	if err != nil {
		return 0, fmt.Errorf("%q is not a 16-bit tag (write 0x1400 or 5120)", s)
	}
	return uint16(v), nil
}

// redact hides a password in a URL for error messages.
func redact(u string) string {
	if p, err := url.Parse(u); err == nil && p.User != nil {
		if _, ok := p.User.Password(); ok {
			p.User = url.UserPassword(p.User.Username(), "xxxxx")
			return p.String()
		}
	}
	return u
}

// validateSMPPFront checks smpp_front and every account's smpp section: unique system ids
// that fit a bind PDU, a password hash (never a password), and an MO number owned by one
// account only.
func (c *Config) validateSMPPFront(p *problems) {
	f := c.SMPPFront
	if f.TLSListen != "" && (f.TLSCert == "" || f.TLSKey == "") {
		p.add("smpp_front.tls_listen", "needs tls_cert and tls_key")
	}
	switch f.DLTStatusCodes {
	case "", "decimal", "hex":
	default:
		p.add("smpp_front.dlt_status_codes", "%q: want decimal or hex", f.DLTStatusCodes)
	}
	if f.PartTimeout < 0 {
		p.add("smpp_front.part_timeout", "must not be negative")
	}
	ids, mo := map[string]string{}, map[string]string{}
	for i, a := range c.Accounts {
		if a.SMPP == nil {
			continue
		}
		k := fmt.Sprintf("accounts[%d].smpp", i)
		s := a.SMPP
		switch {
		case s.SystemID == "":
			p.add(k+".system_id", "required")
		case len(s.SystemID) > 15:
			p.add(k+".system_id", "%q: at most 15 characters fit a bind", s.SystemID)
		case ids[s.SystemID] != "":
			p.add(k+".system_id", "%q is already account %q's", s.SystemID, ids[s.SystemID])
		}
		ids[s.SystemID] = a.Name
		if s.PasswordHash == "" {
			p.add(k+".password_hash", "required: make one with `smppd passwd`")
		} else if !strings.HasPrefix(s.PasswordHash, "pbkdf2-sha256$") {
			p.add(k+".password_hash", "not a hash made by `smppd passwd` (a password must never be written here)")
		}
		if s.MaxBinds < 0 || s.Window < 0 || s.Burst < 0 {
			p.add(k, "max_binds, window and burst must not be negative")
		}
		for j, n := range s.MONumbers {
			switch {
			case n == "" || strings.Trim(n, "0123456789") != "":
				p.add(fmt.Sprintf("%s.mo_numbers[%d]", k, j), "%q: digits only", n)
			case mo[n] != "" && mo[n] != a.Name:
				p.add(fmt.Sprintf("%s.mo_numbers[%d]", k, j), "%q already goes to account %q", n, mo[n])
			}
			mo[n] = a.Name
		}
	}
	if f.Enabled() && len(ids) == 0 {
		p.add("smpp_front", "listens but no account has an smpp section")
	}
}

// validateConsole checks the operators: a name each, a hash from `smppd passwd -console`, a
// role. Without http.metrics_listen the console stays off (the startup log says so): it
// is served on the internal listener only, never on the API's.
func (c *Config) validateConsole(p *problems) {
	k := c.Console
	names := map[string]bool{}
	for i, op := range k.Operators {
		at := fmt.Sprintf("console.operators[%d]", i)
		switch {
		case op.Name == "":
			p.add(at+".name", "required")
		case names[op.Name]:
			p.add(at+".name", "%q twice", op.Name)
		}
		names[op.Name] = true
		if op.PasswordHash == "" {
			p.add(at+".password_hash", "required: make one with `smppd passwd -console`")
		} else if _, err := passwd.Parse(op.PasswordHash); err != nil {
			p.add(at+".password_hash", "not a hash made by `smppd passwd -console` (a password must never be written here): %v", err)
		}
		if op.Role != "admin" && op.Role != "viewer" {
			p.add(at+".role", "%q: want admin or viewer", op.Role)
		}
	}
	if k.SessionTTL < 0 || k.Lockout < 0 || k.MaxFailures < 0 {
		p.add("console", "session_ttl, lockout and max_failures must not be negative")
	}
	if k.SessionTTL > 0 && k.SessionTTL < time.Minute {
		p.add("console.session_ttl", "%v is below 1m: operators would be logged out while they read", k.SessionTTL)
	}
}
