package clientip

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClient(t *testing.T) {
	ps, err := New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::ffff:192.168.0.0/112")})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, peer, xff, want string
		ok                    bool
	}{
		{"untrusted peer: its own address, the header ignored", "203.0.113.7:1", "1.1.1.1", "203.0.113.7", true},
		{"trusted peer: the right-most untrusted hop", "10.0.0.1:1", "9.9.9.9, 1.1.1.1, 10.0.0.2", "1.1.1.1", true},
		{"a malformed hop stops the walk", "10.0.0.1:1", "1.1.1.1, bogus, 10.0.0.2", "10.0.0.2", true},
		{"every hop trusted: the left-most", "10.0.0.1:1", "10.0.0.3, 10.0.0.2", "10.0.0.3", true},
		{"no header: the proxy", "10.0.0.1:1", "", "10.0.0.1", true},
		{"an IPv4-mapped trusted prefix matches its IPv4 peers", "192.168.1.1:1", "1.1.1.1", "1.1.1.1", true},
		{"a mapped peer is unmapped", "[::ffff:203.0.113.7]:1", "", "203.0.113.7", true},
		{"an unreadable peer", "nonsense", "1.1.1.1", "", false},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.peer
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		got, ok := ps.Client(r)
		if ok != tc.ok || (ok && got.String() != tc.want) {
			t.Errorf("%s: %v %v, want %s %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
	if _, err := New([]netip.Prefix{{}}); err == nil {
		t.Error("an invalid prefix accepted")
	}
}
