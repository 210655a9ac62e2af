package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"io"
	"net"
	"net/http"
)

// authenticate finds the account of key and checks, in order: the key (compared in
// constant time), the client address against the account's allow-list, the account's
// state, and the key's rate. A sandbox account's key is not rate limited, and from here on
// every reply to its request is HTTP 200 (2Factor's sandbox: "all sandbox endpoints return
// HTTP 200"; Status says what happened): w is told so.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, key string) (*account, *apiError) {
	k := s.keys[sha256.Sum256([]byte(key))]
	if k == nil || subtle.ConstantTimeCompare(k.key, []byte(key)) != 1 {
		return nil, errorf(http.StatusBadRequest, msgInvalidKey)
	}
	a := k.acct
	if a.Sandbox {
		if aw, ok := w.(*apiWriter); ok {
			aw.sandbox = true
		}
	}
	if len(a.allow) > 0 {
		ip := s.clientIP(r)
		ok := false
		for _, n := range a.allow {
			if ip != nil && n.Contains(ip) {
				ok = true
				break
			}
		}
		if !ok {
			return nil, errorf(http.StatusForbidden, msgIPNotAllowed)
		}
	}
	if a.Disabled {
		return nil, errorf(http.StatusForbidden, msgDisabled)
	}
	if !a.ExpiresAt.IsZero() && !s.o.Now().Before(a.ExpiresAt) {
		return nil, errorf(http.StatusForbidden, msgExpired)
	}
	if k.lim != nil && !a.Sandbox && !k.lim.Allow() {
		// Refused (Allow took nothing). A reservation, given back at once, says when a
		// request would be let through: the Retry-After. Only refusals pay for it.
		res := k.lim.Reserve()
		e := errorf(http.StatusTooManyRequests, msgRateLimited)
		e.retryAfter = res.Delay()
		res.Cancel()
		return nil, e
	}
	return a, nil
}

// apiWriter is the ResponseWriter the API's handlers write to: once authenticate has found
// a sandbox account, every status is written as 200.
type apiWriter struct {
	http.ResponseWriter
	sandbox bool
}

func (w *apiWriter) WriteHeader(code int) {
	if w.sandbox {
		code = http.StatusOK
	}
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *apiWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// bodyLimit is http.MaxBytesReader on the connection's own writer, which it tells to close
// the connection once a body is over the limit (a wrapper would hide that).
func bodyLimit(w http.ResponseWriter, body io.ReadCloser, n int64) io.ReadCloser {
	if aw, ok := w.(*apiWriter); ok {
		w = aw.ResponseWriter
	}
	return http.MaxBytesReader(w, body, n)
}

// clientIP is the request's client (internal/clientip: the peer, or behind trusted proxies
// the right-most X-Forwarded-For hop that is not one); nil when the peer is unreadable.
func (s *Server) clientIP(r *http.Request) net.IP {
	a, ok := s.proxies.Client(r)
	if !ok {
		return nil
	}
	return net.IP(a.AsSlice())
}
