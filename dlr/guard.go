package dlr

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// ErrForbiddenAddress is returned (wrapped) for a webhook URL that is, or resolves to, a
// loopback, private, link-local or otherwise internal address, unless the operator allows
// them (SenderOptions.AllowPrivate). Such a job goes straight to the dead-letter list.
var ErrForbiddenAddress = errors.New("dlr: webhook address is loopback, private or internal")

// ErrBadURL is returned (wrapped) for a webhook URL that is not an absolute http or https URL.
var ErrBadURL = errors.New("dlr: bad webhook url")

// internal lists address ranges a webhook may not reach besides what netip's predicates
// cover (loopback, RFC 1918 / ULA private, link-local, multicast, unspecified).
var internal = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and broadcast
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64: checked again on the embedded IPv4
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("fec0::/10"),       // deprecated site-local
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("2002::/16"),       // 6to4: may embed a private IPv4
	netip.MustParsePrefix("2001::/32"),       // Teredo: embeds addresses
	netip.MustParsePrefix("::/128"),          // unspecified
	netip.MustParsePrefix("::ffff:0:0:0/96"), // IPv4-translated
}

// ForbiddenIP reports whether a webhook may not connect to ip by default.
func ForbiddenIP(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return true
	}
	for _, p := range internal {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// checkURL parses a webhook URL: absolute http(s) with a host.
func checkURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%w: scheme %q, want http or https", ErrBadURL, u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("%w: no host in %q", ErrBadURL, raw)
	}
	return u, nil
}

// checkHost resolves host and refuses it when any of its addresses is forbidden.
func checkHost(ctx context.Context, r *net.Resolver, host string) error {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, host)
	}
	if ip, err := netip.ParseAddr(h); err == nil {
		if ForbiddenIP(ip) {
			return fmt.Errorf("%w: %s", ErrForbiddenAddress, host)
		}
		return nil
	}
	addrs, err := r.LookupNetIP(ctx, "ip", h)
	if err != nil {
		return fmt.Errorf("dlr: resolve webhook host %s: %w", host, err)
	}
	for _, ip := range addrs {
		if ForbiddenIP(ip) {
			return fmt.Errorf("%w: %s resolves to %s", ErrForbiddenAddress, host, ip)
		}
	}
	return nil
}

// guardedControl refuses, at connect time, any connection to a forbidden address: the
// address actually dialled, after DNS, so a name that resolved to a public address for the
// check and to a private one for the dial (DNS rebinding) is still refused.
func guardedControl(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, address)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || ForbiddenIP(ip) {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, address)
	}
	return nil
}

// NewHTTPClient returns the client the sender uses by default: timeout bounds each request
// as a whole; redirects are not followed (a 3xx is a failed attempt); proxies from the
// environment are not used (the address check must see the real peer); and unless
// allowPrivate, every connection is checked against ForbiddenIP at dial time.
func NewHTTPClient(timeout time.Duration, perHost int, allowPrivate bool) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = guardedControl
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   max(perHost, 2),
		MaxConnsPerHost:       max(perHost, 1) * 2,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
