package config

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

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
		c.Store.RedisURL = "redis://127.0.0.1:6379/0"
	}
	if c.Store.Prefix == "" {
		c.Store.Prefix = "smppd"
	}
	for i := range c.Carriers {
		cr := &c.Carriers[i]
		if cr.NoResponse == "" {
			cr.NoResponse = "resubmit"
		}
		if cr.MessageIDFormat == "" {
			cr.MessageIDFormat = "as-is"
		}
		if cr.Text.Long == "" {
			cr.Text.Long = "udh"
		}
		if cr.DLT.ChainMode == "" {
			cr.DLT.ChainMode = "sha256"
		}
		for j := range cr.Binds {
			b := &cr.Binds[j]
			if b.Mode == "" {
				b.Mode = "trx"
			}
			if b.Count == 0 {
				b.Count = 1
			}
			if b.Window == 0 {
				b.Window = 10
			}
			if b.InterfaceVersion == 0 {
				b.InterfaceVersion = 0x34
			}
		}
	}
	for i := range c.Accounts {
		a := &c.Accounts[i]
		if a.RateLimit == 0 {
			a.RateLimit = 200
		}
		if a.OTPExpiry == 0 {
			a.OTPExpiry = 10 * time.Minute
		}
	}
}

// validate reports every problem at once, each at its line.
func (c *Config) validate() error {
	var errs Errors
	add := func(key, format string, args ...any) { errs = append(errs, c.errAt(key, format, args...)) }

	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		add("log_level", "%q: want debug, info, warn or error", c.LogLevel)
	}
	if c.Instance != "" && strings.IndexFunc(c.Instance, func(r rune) bool { return !instanceRune(r) }) >= 0 {
		add("instance", "%q: only letters, digits and . _ - are allowed", c.Instance)
	}
	if c.HeartbeatTTL != 0 && c.HeartbeatTTL < time.Second {
		add("heartbeat_ttl", "%v is below 1s: renewals every third of it would not survive a slow round trip", c.HeartbeatTTL)
	}
	if c.BindLeases.TTL != 0 && c.BindLeases.TTL < time.Second {
		add("bind_leases.ttl", "%v is below 1s: renewals every third of it would not survive a slow round trip", c.BindLeases.TTL)
	}
	checkHostPort(add, "http.listen", c.HTTP.Listen)
	if c.HTTP.MetricsListen != "" {
		checkHostPort(add, "http.metrics_listen", c.HTTP.MetricsListen)
	}
	for i, p := range c.HTTP.TrustedProxies {
		if _, err := ParseCIDR(p); err != nil {
			add(fmt.Sprintf("http.trusted_proxies[%d]", i), "%v", err)
		}
	}
	switch c.Store.Type {
	case "memory":
	case "redis":
		u, err := url.Parse(c.Store.RedisURL)
		if err != nil {
			u = &url.URL{}
		}
		base, mode, _ := strings.Cut(u.Scheme, "+")
		if (base != "redis" && base != "rediss") || (mode != "" && mode != "sentinel" && mode != "cluster") || u.Host == "" {
			add("store.redis_url", "%q is not a redis://, rediss://, redis+sentinel:// or redis+cluster:// URL", redact(c.Store.RedisURL))
		}
	default:
		add("store.type", "%q: want memory or redis", c.Store.Type)
	}
	if c.Dispatch.ClaimBatch < 0 || c.Dispatch.MaxAttempts < 0 {
		add("dispatch", "claim_batch and max_attempts must not be negative")
	}

	carriers := map[string]bool{}
	if len(c.Carriers) == 0 {
		add("carriers", "no carriers: smppd needs at least one to send through")
	}
	for i, cr := range c.Carriers {
		k := fmt.Sprintf("carriers[%d]", i)
		switch {
		case cr.Name == "":
			add(k+".name", "required")
		case carriers[cr.Name]:
			add(k+".name", "duplicate carrier name %q", cr.Name)
		case strings.ContainsAny(cr.Name, " :{}"):
			add(k+".name", "%q: no spaces, colons or braces (it is part of store keys)", cr.Name)
		}
		carriers[cr.Name] = true
		if cr.MPS < 0 {
			add(k+".mps", "%v: must not be negative", cr.MPS)
		}
		if cr.NoResponse != "resubmit" && cr.NoResponse != "unknown" {
			add(k+".no_response", "%q: want resubmit or unknown", cr.NoResponse)
		}
		switch cr.MessageIDFormat {
		case "as-is", "hex", "decimal", "hex-upper", "hex-lower", "hex-decimal", "decimal-hex":
		default:
			add(k+".message_id_format", "%q: want as-is, hex, decimal, hex-upper, hex-lower, hex-decimal or decimal-hex", cr.MessageIDFormat)
		}
		switch cr.Text.Long {
		case "udh", "udh16", "sar", "payload":
		default:
			add(k+".text.long", "%q: want udh, udh16, sar or payload", cr.Text.Long)
		}
		if cr.Text.MaxParts < 0 || cr.Text.MaxParts > 255 {
			add(k+".text.max_parts", "%d: want 1 to 255", cr.Text.MaxParts)
		}
		for _, t := range []struct{ key, val string }{{"pe_tag", cr.DLT.PETag}, {"template_tag", cr.DLT.TemplateTag}, {"chain_tag", cr.DLT.ChainTag}} {
			if t.val != "" {
				if _, err := ParseTag(t.val); err != nil {
					add(k+".dlt."+t.key, "%v", err)
				}
			}
		}
		switch cr.DLT.ChainMode {
		case "sha256", "raw", "off":
		default:
			add(k+".dlt.chain_mode", "%q: want sha256, raw or off", cr.DLT.ChainMode)
		}
		switch cr.DLT.StatusCodes {
		case "", "decimal", "hex":
		default:
			add(k+".dlt.status_codes", "%q: want decimal or hex", cr.DLT.StatusCodes)
		}
		for j, id := range cr.DLT.TMChain {
			if strings.Trim(id, "0123456789") != "" || id == "" {
				add(fmt.Sprintf("%s.dlt.tm_chain[%d]", k, j), "%q: a DLT id is digits only", id)
			}
		}
		if len(cr.Binds) == 0 {
			add(k+".binds", "no binds")
		}
		sends := false
		for j, b := range cr.Binds {
			bk := fmt.Sprintf("%s.binds[%d]", k, j)
			if len(b.Addrs) == 0 {
				add(bk+".addrs", "at least one host:port")
			}
			for a, addr := range b.Addrs {
				checkHostPort(add, fmt.Sprintf("%s.addrs[%d]", bk, a), addr)
			}
			switch b.Mode {
			case "trx", "tx":
				sends = true
			case "rx":
			default:
				add(bk+".mode", "%q: want trx, tx or rx", b.Mode)
			}
			if b.SystemID == "" {
				add(bk+".system_id", "required")
			} else if len(b.SystemID) > 15 {
				add(bk+".system_id", "%d characters; SMPP allows 15", len(b.SystemID))
			}
			if len(b.Password) > 8 {
				add(bk+".password", "%d characters; SMPP 3.4 allows 8", len(b.Password))
			}
			if len(b.SystemType) > 12 {
				add(bk+".system_type", "%d characters; SMPP allows 12", len(b.SystemType))
			}
			if b.Count < 1 || b.Count > 64 {
				add(bk+".count", "%d: want 1 to 64", b.Count)
			}
			if b.Window < 1 || b.Window > 10000 {
				add(bk+".window", "%d is not allowed: want 1 to 10000", b.Window)
			}
			if b.MPS < 0 {
				add(bk+".mps", "%v: must not be negative", b.MPS)
			}
			if b.ResponseTimeout < 0 {
				add(bk+".response_timeout", "must not be negative")
			}
			if b.EnquireLinkInterval > 0 && b.EnquireLinkInterval < 100*time.Millisecond {
				add(bk+".enquire_link_interval", "%s is below 100ms", b.EnquireLinkInterval)
			}
			for name, v := range map[string]int{"addr_ton": b.AddrTON, "addr_npi": b.AddrNPI, "interface_version": b.InterfaceVersion} {
				if v < 0 || v > 255 {
					add(bk+"."+name, "%d does not fit one octet", v)
				}
			}
			if b.TLS.CAFile != "" && !b.TLS.Enabled {
				add(bk+".tls.ca_file", "set while tls.enabled is false")
			}
		}
		if len(cr.Binds) > 0 && !sends {
			add(k+".binds", "no tx or trx bind: the carrier could not be sent to")
		}
	}
	for i, r := range c.Routes {
		k := fmt.Sprintf("routes[%d]", i)
		if strings.Trim(r.Prefix, "0123456789") != "" {
			add(k+".prefix", "%q: digits only (international form without +)", r.Prefix)
		}
		if len(r.Carriers) == 0 {
			add(k+".carriers", "at least one carrier")
		}
		for j, n := range r.Carriers {
			if !carriers[n] {
				add(fmt.Sprintf("%s.carriers[%d]", k, j), "unknown carrier %q", n)
			}
		}
	}
	keys := map[string]string{}
	names := map[string]bool{}
	for i, a := range c.Accounts {
		k := fmt.Sprintf("accounts[%d]", i)
		if a.Name == "" {
			add(k+".name", "required")
		} else if names[a.Name] {
			add(k+".name", "duplicate account %q", a.Name)
		}
		names[a.Name] = true
		if len(a.APIKeys) == 0 {
			add(k+".api_keys", "at least one key")
		}
		for j, key := range a.APIKeys {
			kk := fmt.Sprintf("%s.api_keys[%d]", k, j)
			switch {
			case len(key) < 16:
				add(kk, "%d characters; use at least 16 random characters", len(key))
			case strings.ContainsAny(key, "/?#% "):
				add(kk, "must not contain / ? # %% or spaces (keys travel in URL paths)")
			case keys[key] != "":
				add(kk, "the same key is already given to account %q", keys[key])
			}
			keys[key] = a.Name
		}
		for j, cidr := range a.IPAllow {
			if _, err := ParseCIDR(cidr); err != nil {
				add(fmt.Sprintf("%s.ip_allow[%d]", k, j), "%v", err)
			}
		}
		if a.RateLimit < 0 {
			add(k+".rate_limit", "must not be negative")
		}
		if a.DLTEntity != "" && strings.Trim(a.DLTEntity, "0123456789") != "" {
			add(k+".dlt_entity", "%q: a PE id is digits only", a.DLTEntity)
		}
		if a.WebhookURL != "" {
			if u, err := url.Parse(a.WebhookURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				add(k+".webhook_url", "%q is not an http(s) URL", a.WebhookURL)
			}
		}
		if a.EncKey != "" {
			if key, err := base64.StdEncoding.DecodeString(a.EncKey); err != nil || len(key) != 32 {
				add(k+".enc_key", "want the base64 of 32 random bytes (openssl rand -base64 32)")
			}
		}
		if a.ExpiresAt != "" {
			if _, err := time.Parse(time.RFC3339, a.ExpiresAt); err != nil {
				add(k+".expires_at", "%q: want RFC 3339, e.g. 2027-03-31T23:59:59+05:30", a.ExpiresAt)
			}
		}
	}
	if len(c.Accounts) > 0 && len(c.OTP.Key) < 32 {
		add("otp.key", "%d characters; OTP codes are hashed with it: at least 32 random characters, the same on every instance (openssl rand -hex 32)", len(c.OTP.Key))
	}
	timeout := c.Webhooks.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second // the sender's default
	}
	if c.Webhooks.Lease > 0 && c.Webhooks.Lease <= timeout {
		add("webhooks.lease", "%s must exceed the webhook timeout (%s), or a slow request is sent twice", c.Webhooks.Lease, timeout)
	}
	if c.Webhooks.PerHostConcurrency < 0 || c.Webhooks.Timeout < 0 || c.Webhooks.RetryFor < 0 {
		add("webhooks", "timeout, lease, retry_for and per_host_concurrency must not be negative")
	}
	if r := c.Receipts; r.EarlyWindow < 0 || r.RetryEvery < 0 || r.MaxPending < 0 || r.MaxLag < 0 {
		add("receipts", "early_window, retry_every, max_pending and max_lag must not be negative")
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
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

// ParseCIDR reads a CIDR, or a single address as a /32 or /128.
func ParseCIDR(s string) (*net.IPNet, error) {
	if !strings.Contains(s, "/") {
		ip := net.ParseIP(s)
		if ip == nil {
			return nil, fmt.Errorf("%q is not an IP address or CIDR", s)
		}
		bits := 128
		if ip.To4() != nil {
			ip, bits = ip.To4(), 32
		}
		return &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)}, nil
	}
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not a CIDR", s)
	}
	return n, nil
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
