// Package clientip finds who sent an HTTP request: the TCP peer, or, when the peer is a
// trusted proxy (a load balancer, a CDN, a TLS terminator), the right-most X-Forwarded-For
// hop that is not itself a trusted proxy. Hops left of that are the client's own say and
// are never believed. The API's IP allow-lists and the short-link redirector's click
// reports both read the address through it.
package clientip

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Proxies are the trusted proxies' networks, normalised by New.
type Proxies []netip.Prefix

// New checks and normalises the networks: masked, and an IPv4-mapped IPv6 prefix
// (::ffff:10.0.0.0/104) as the IPv4 prefix it means, since addresses are compared unmapped.
func New(prefixes []netip.Prefix) (Proxies, error) {
	out := make(Proxies, 0, len(prefixes))
	for i, p := range prefixes {
		if !p.IsValid() {
			return nil, fmt.Errorf("trusted proxy %d: %v is not a valid prefix", i, p)
		}
		p = p.Masked()
		if a := p.Addr(); a.Is4In6() { // masked, so at least /96
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		out = append(out, p)
	}
	return out, nil
}

// Client returns the request's client address (unmapped), and false when the peer's
// address cannot be read (then there is none to give). A malformed hop stops the walk: the
// address reached so far is the answer.
func (ps Proxies) Client(r *http.Request) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	ip = ip.Unmap()
	if !ps.trusted(ip) {
		return ip, true
	}
	var hops []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(h, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return ip, true
		}
		ip = hop.Unmap()
		if !ps.trusted(ip) {
			return ip, true
		}
	}
	return ip, true
}

func (ps Proxies) trusted(ip netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
