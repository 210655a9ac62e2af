package config

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/smppd/smppd/api"
	"github.com/smppd/smppd/api/shortlink"
	"github.com/smppd/smppd/otp"
)

// APIOptions returns the accounts, the trusted proxies, the DLT variable limit and the short
// links' base and TTL as api.Options, with every CIDR parsed, keys decoded and times read;
// the caller adds the short links' store, the sender, the OTP service, the
// store's credits and records, the DLT registry and the logger. Fields the file leaves out
// stay zero, which api.Options documents as its defaults.
func (c *Config) APIOptions() (api.Options, error) {
	var o api.Options
	o.Match.MaxVarLen = c.DLT.MaxVarLen
	if c.Shortlinks.Enabled() {
		o.Shortlinks = api.ShortlinkOptions{Base: c.Shortlinks.BaseURL, TTL: c.Shortlinks.TTL}
	}
	var err error
	if o.TrustedProxies, err = c.cidrs("http.trusted_proxies", c.HTTP.TrustedProxies); err != nil {
		return o, err
	}
	for i, a := range c.Accounts {
		acct, err := c.apiAccount(i, a)
		if err != nil {
			return o, err
		}
		o.Accounts = append(o.Accounts, acct)
	}
	return o, nil
}

func (c *Config) apiAccount(i int, a Account) (api.Account, error) {
	k := fmt.Sprintf("accounts[%d]", i)
	out := api.Account{
		Name: a.Name, APIKeys: a.APIKeys, RateLimit: a.RateLimit,
		SenderIDs: a.SenderIDs, DLTEntity: a.DLTEntity, TMID: a.TMID, WebhookURL: a.WebhookURL,
		TransactionalCredits: a.TransactionalCredits, PromotionalCredits: a.PromotionalCredits,
		Sandbox: a.Sandbox, Disabled: a.Disabled, OTPTemplate: a.OTPTemplate, OTPExpiry: a.OTPExpiry,
		OTPTemplates: a.OTPTemplates, OTPText: a.OTPText, DeferPromotional: a.DeferPromotional,
		LegacyExpiredSuccess: a.LegacyExpiredSuccess,
	}
	var err error
	if out.IPAllow, err = c.cidrs(k+".ip_allow", a.IPAllow); err != nil {
		return out, err
	}
	if a.EncKey != "" {
		key, err := base64.StdEncoding.DecodeString(a.EncKey)
		if err != nil || len(key) != 32 {
			return out, c.errAt(k+".enc_key", "want the base64 of 32 random bytes (openssl rand -base64 32)")
		}
		out.EncKey = key
	}
	if a.ExpiresAt != "" {
		t, err := time.Parse(time.RFC3339, a.ExpiresAt)
		if err != nil {
			return out, c.errAt(k+".expires_at", "%q: want RFC 3339, e.g. 2027-03-31T23:59:59+05:30", a.ExpiresAt)
		}
		out.ExpiresAt = t
	}
	return out, nil
}

// OTPOptions returns the otp section as otp.Options; the caller adds the store. Fields the
// file leaves out stay zero: otp.Options' defaults.
func (c *Config) OTPOptions() otp.Options {
	return otp.Options{
		Key: []byte(c.OTP.Key), MaxAttempts: c.OTP.MaxAttempts,
		SendLimit: c.OTP.SendLimit, SendWindow: c.OTP.SendWindow,
	}
}

// cidrs parses a list of CIDRs (ParseCIDR), the error naming the element's key path
// (key[i]).
func (c *Config) cidrs(key string, list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for i, s := range list {
		p, err := ParseCIDR(s)
		if err != nil {
			return nil, c.errAt(fmt.Sprintf("%s[%d]", key, i), "%v", err)
		}
		out = append(out, p)
	}
	return out, nil
}

// ParseCIDR reads a CIDR, or a single address as a /32 or /128 prefix. An IPv4-mapped IPv6
// address is its IPv4 address; a CIDR's host bits are cleared (10.1.2.3/8 is 10.0.0.0/8).
func ParseCIDR(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR", s)
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a CIDR", s)
	}
	return p.Masked(), nil
}

// ShortlinkOptions returns the short-link redirector's options (base, TTL, proxies, click
// writing) as shortlink.Options, and ok false when short links are off; the caller adds the
// store, the logger and the metrics hook. APIOptions' Shortlinks takes Base and TTL from
// the same section.
func (c *Config) ShortlinkOptions() (o shortlink.Options, ok bool, err error) {
	sl := c.Shortlinks
	if !sl.Enabled() {
		return o, false, nil
	}
	o = shortlink.Options{BaseURL: sl.BaseURL, TTL: sl.TTL, PreviewWebhooks: sl.PreviewWebhooks, Durable: sl.DurableClicks, Linger: sl.Linger}
	if o.TrustedProxies, err = c.cidrs("shortlinks.trusted_proxies", sl.TrustedProxies); err != nil {
		return o, false, err
	}
	return o, true, nil
}
