package console

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// cookieName is the session cookie. Its value is 256 random bits; the server keeps only
// their SHA-256, so a dump of the process's memory holds no usable session.
const cookieName = "smppd_console"

type session struct {
	op      operator
	csrf    string
	expires time.Time
}

// sessions are kept in this process: a restart logs everyone out, and with several
// instances each has its own logins (operators use one instance's internal address).
type sessions struct {
	mu  sync.Mutex
	m   map[[32]byte]*session
	ttl time.Duration
	now func() time.Time
}

func newSessions(ttl time.Duration, now func() time.Time) *sessions {
	return &sessions{m: map[[32]byte]*session{}, ttl: ttl, now: now}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *sessions) create(op operator) (id string, ss *session) {
	id = randomHex(32)
	ss = &session{op: op, csrf: randomHex(32), expires: s.now().Add(s.ttl)}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for k, v := range s.m { // expired ones go at each login: the map stays small
		if now.After(v.expires) {
			delete(s.m, k)
		}
	}
	s.m[sha256.Sum256([]byte(id))] = ss
	return id, ss
}

func (s *sessions) get(id string) *session {
	if id == "" {
		return nil
	}
	k := sha256.Sum256([]byte(id))
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.m[k]
	if ss == nil {
		return nil
	}
	if s.now().After(ss.expires) {
		delete(s.m, k)
		return nil
	}
	return ss
}

func (s *sessions) drop(id string) {
	s.mu.Lock()
	delete(s.m, sha256.Sum256([]byte(id)))
	s.mu.Unlock()
}

// limiter counts failed logins per operator name and per client address; MaxFailures in a
// row lock that name or address for Lockout.
type limiter struct {
	mu    sync.Mutex
	fails map[string]*failures
	max   int
	lock  time.Duration
	now   func() time.Time
}

type failures struct {
	n     int
	until time.Time
}

func newLimiter(max int, lock time.Duration, now func() time.Time) *limiter {
	return &limiter{fails: map[string]*failures{}, max: max, lock: lock, now: now}
}

func (l *limiter) locked(keys ...string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		if f := l.fails[k]; f != nil && l.now().Before(f.until) {
			return true
		}
	}
	return false
}

// fail records a failure; it reports whether a key is now locked.
func (l *limiter) fail(keys ...string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.fails) > 10000 { // bounded: an address spray cannot grow it without end
		clear(l.fails)
	}
	lockedNow := false
	for _, k := range keys {
		f := l.fails[k]
		if f == nil {
			f = &failures{}
			l.fails[k] = f
		}
		f.n++
		if f.n >= l.max {
			f.n, f.until, lockedNow = 0, l.now().Add(l.lock), true
		}
	}
	return lockedNow
}

func (l *limiter) success(keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		delete(l.fails, k)
	}
}

func clientIP(r *http.Request) string {
	h, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return h
}

// secure reports whether the cookie is marked Secure.
func (c *Console) secure(r *http.Request) bool { return r.TLS != nil || c.o.SecureCookie }

func (c *Console) setCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: value, Path: Prefix, MaxAge: maxAge,
		HttpOnly: true, Secure: c.secure(r), SameSite: http.SameSiteStrictMode,
	})
}

// sameOrigin checks a POST's Origin (or, without one, its Referer) against the request's
// own host: a form posted from another site is refused even before its token is looked at.
// A request carrying neither is refused too: every browser sends Origin on a POST.
func sameOrigin(r *http.Request) bool {
	src := r.Header.Get("Origin")
	if src == "" || src == "null" {
		src = r.Header.Get("Referer")
	}
	if src == "" {
		return false
	}
	u, err := url.Parse(src)
	if err != nil {
		return false
	}
	return u.Host == r.Host && (u.Scheme == "http" || u.Scheme == "https")
}

// checkCSRF is the gate of every state-changing form: same origin, and the session's token
// in the form, compared in constant time.
func (c *Console) checkCSRF(r *http.Request, s *session) bool {
	if !sameOrigin(r) {
		c.o.Log("console: form from another origin refused", "origin", r.Header.Get("Origin"), "referer", r.Header.Get("Referer"))
		return false
	}
	tok := r.PostFormValue("csrf")
	if subtle.ConstantTimeCompare([]byte(tok), []byte(s.csrf)) != 1 {
		c.o.Log("console: form with a wrong CSRF token refused", "operator", s.op.name)
		return false
	}
	return true
}

// securityHeaders go on every answer: no inline script or style anywhere (the one script is
// a file of the console's own), no framing, no referrer leaking query strings, and nothing
// kept in caches (the pages hold phone numbers and texts).
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		if r.TLS != nil {
			hd.Set("Strict-Transport-Security", "max-age=31536000")
		}
		h.ServeHTTP(w, r)
	})
}

func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
}

// authed wraps a page: without a live session it redirects to the login page (or answers
// 401 for a fragment); admin pages answer 403 to viewers; POSTs pass the CSRF gate.
func (c *Console) authed(admin bool, h func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		noStore(w)
		var s *session
		if ck, err := r.Cookie(cookieName); err == nil {
			s = c.sess.get(ck.Value)
		}
		if s == nil {
			if r.Method == http.MethodGet && r.Header.Get("X-Console-Fragment") == "" {
				http.Redirect(w, r, Prefix+"login", http.StatusSeeOther)
				return
			}
			http.Error(w, "not logged in", http.StatusUnauthorized)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxUpload)
			if !c.checkCSRF(r, s) {
				http.Error(w, "forbidden: this form did not come from this console session", http.StatusForbidden)
				return
			}
		}
		if admin && s.op.role != RoleAdmin {
			http.Error(w, "forbidden: admins only", http.StatusForbidden)
			return
		}
		h(w, r, s)
	}
}

// maxUpload bounds every POST body (a registry export is the largest).
const maxUpload = 8 << 20

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	c.render(w, http.StatusOK, "login", page{Title: "Log in"})
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if !sameOrigin(r) { // login CSRF: a foreign site must not log a browser in
		http.Error(w, "forbidden: this form did not come from this console", http.StatusForbidden)
		return
	}
	name, pw := r.PostFormValue("name"), r.PostFormValue("password")
	ip := clientIP(r)
	keys := []string{"name:" + name, "ip:" + ip}
	fail := func(msg string) {
		time.Sleep(c.o.FailureDelay)
		c.render(w, http.StatusUnauthorized, "login", page{Title: "Log in", Error: msg})
	}
	if c.lock.locked(keys...) {
		c.o.Log("console: login refused while locked", "operator", name, "ip", ip)
		fail("Too many failed logins: try again later.")
		return
	}
	op, known := c.ops[name]
	h := c.dummy
	if known {
		h = op.hash
	}
	if ok := h.Check(pw); !ok || !known {
		locked := c.lock.fail(keys...)
		c.o.Log("console: failed login", "operator", name, "ip", ip, "locked", locked)
		fail("Wrong name or password.")
		return
	}
	c.lock.success(keys...)
	id, _ := c.sess.create(op)
	c.setCookie(w, r, id, 0)
	c.o.Log("console: login", "operator", name, "ip", ip)
	http.Redirect(w, r, Prefix+"messages", http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, _ *session) {
	if ck, err := r.Cookie(cookieName); err == nil {
		c.sess.drop(ck.Value)
	}
	c.setCookie(w, r, "", -1)
	http.Redirect(w, r, Prefix+"login", http.StatusSeeOther)
}
