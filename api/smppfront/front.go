// Package smppfront is smppd as the SMSC of its client accounts (telemarketer aggregators,
// enterprises): they bind as ESMEs, over plain TCP or TLS, and submit with submit_sm,
// data_sm or submit_multi; each message goes through the api's Accept (the same checks and
// the same durable path as an HTTP send), and submit_sm_resp carries smppd's message id only
// once the message is durable. Receipts and MO messages come back as deliver_sm on the
// account's receiver binds through the Deliverer dlr hands ModeSMPP jobs to.
//
// What a client gets, and why (docs/smpp-front.md has the table for operators):
//
//   - Binds: an unknown system_id is refused ESME_RINVSYSID, a wrong password
//     ESME_RINVPASWD, an address outside the account's networks ESME_RBINDFAIL (checked
//     before the password, so a disallowed address learns nothing about it), and a bind
//     beyond MaxBinds ESME_RBINDFAIL (ESME_RALYBND means "this session is already bound",
//     which clients read as a bug of theirs, not as "too many binds"). Every refusal waits
//     RefusalDelay first and is counted.
//   - Flow control: beyond the account's Rate, or beyond the bind's Window of unanswered
//     requests, a request is answered ESME_RTHROTTLED at once. SMPP 3.4 defines
//     ESME_RTHROTTLED as "the ESME has exceeded allowed message limits", which is both
//     cases; ESME_RMSGQFUL is the SMSC's own queue being full, and clients back off from it
//     for minutes (Jasmin: 180 s) instead of seconds. A throttled client never slows the
//     others: each request is answered by its own goroutine, and Accept runs off the read
//     loop.
//   - Long messages: message_payload is taken whole; UDH-concatenated parts (esm_class
//     UDHI, 8- or 16-bit references) and SAR parts are reassembled in memory per account,
//     source, destination, reference and part count, on any bind of the account. Every
//     part's submit_sm_resp waits until the whole message is durable, and all carry the
//     same smppd message id (the receipt's id). The client's window must therefore cover a
//     message's parts. Parts still incomplete after PartTimeout are answered ESME_RSYSERR:
//     nothing was stored, so resending the parts is safe and completes the message.
//   - Refusals (api.Refusal) map to command_status: DLT → the DLT code as carriers write it
//     (decimal by default: 630 → 0x276), sender → ESME_RINVSRCADR, destination →
//     ESME_RINVDSTADR, credits → ESME_RSUBMITFAIL (permanent: retrying cannot help until
//     someone tops the account up), throttled → ESME_RTHROTTLED, invalid → ESME_RINVMSGLEN
//     (our own parsing catches bad times, TLVs and codings first, so what Accept finds
//     invalid is the text), validity over before the message can go → ESME_RINVEXPIRY, an
//     api account disabled or expired → ESME_RSUBMITFAIL (permanent), unavailable and any
//     other error → ESME_RSYSERR (temporary: the client retries).
//   - query_sm answers the record's state (CANCELLED is DELETED). cancel_sm goes to the
//     Canceller (api.Server.Cancel in cmd/smppd): ESME_ROK only when the message was still
//     scheduled and is now withdrawn for good; a message due, queued or sent is
//     ESME_RCANCELFAIL, an id unknown or another account's ESME_RINVMSGID; without a
//     Canceller every cancel_sm is ESME_RCANCELFAIL.
//
// Wiring (cmd/smppd):
//
//	f, err := smppfront.New(smppfront.Options{Accounts: …, Acceptor: apiServer, Records: st})
//	go f.ListenAndServe(":2775")     // and/or f.ListenAndServeTLS(":3775") with Options.TLS
//	// dlr.SenderOptions.Deliverers[dlr.ClientScheme] = f (it implements dlr.Deliverer), and
//	// dlr's Correlator routes carriers' MO with RouteMO: f.MOAccount.
//	internal.Handle("/admin/smpp/", http.StripPrefix("/admin/smpp", f.AdminHandler()))
//	defer f.Shutdown(ctx)
package smppfront

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"github.com/smppd/smppd/internal/passwd"
	"github.com/smppd/smppd/smpp"
)

// Front is the SMPP listener of the client accounts. Create it with New, serve with
// Serve / ListenAndServe (plain) and ListenAndServeTLS, stop with Shutdown or Close.
type Front struct {
	opts   Options
	log    zerolog.Logger
	srv    *smpp.Server
	accts  map[string]*account // by system_id
	byName map[string]*account // by api account name
	mo     map[string]string   // MO number → account name
	dummy  parsedHash          // checked for unknown system_ids, so they cost what a real check does

	binds    sync.Map // *smpp.Session → *bind
	unknown  atomic.Uint64
	lnMu     sync.Mutex
	lns      []net.Listener
	closed   bool
	asmWG    sync.WaitGroup
	shutdown chan struct{}
}

// account is one client account's run-time state.
type account struct {
	cfg     Account
	hash    parsedHash
	limiter *rate.Limiter
	st      accountCounters
	asm     assembler

	mu    sync.Mutex
	binds map[*bind]struct{} // reserved (authenticated) and bound
	rr    uint64             // round robin over receivers
}

// bind is one session of an account.
type bind struct {
	acc     *account
	sess    *smpp.Session
	mode    smpp.BindMode
	since   time.Time
	inOpen  atomic.Int64 // requests received and not yet answered (the Window)
	pending atomic.Int64 // deliver_sm sent and not yet answered
}

// New validates opts and returns a Front that is not listening yet.
func New(opts Options) (*Front, error) {
	opts.setDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	f := &Front{
		opts: opts, log: opts.Logger, accts: map[string]*account{}, byName: map[string]*account{},
		mo: map[string]string{}, shutdown: make(chan struct{}),
	}
	maxWindow := 0
	haveDummy := false // the first account's hash: unknown system_ids cost what its check does
	for _, a := range opts.Accounts {
		h, _ := parseHash(a.PasswordHash) // validated
		lim := rate.Limit(a.Rate)
		if a.Rate < 0 {
			lim = rate.Inf
		}
		acc := &account{cfg: a, hash: h, limiter: rate.NewLimiter(lim, a.Burst), binds: map[*bind]struct{}{}}
		acc.st.init()
		acc.asm.init(f, acc)
		f.accts[a.SystemID] = acc
		f.byName[a.Name] = acc
		for _, n := range a.MONumbers {
			f.mo[n] = a.Name
		}
		maxWindow = max(maxWindow, a.Window)
		if !haveDummy {
			f.dummy, haveDummy = h, true
		}
	}
	if !haveDummy {
		f.dummy = passwd.Dummy()
	}
	f.srv = smpp.NewServer(smpp.ServerOptions{
		SystemID: opts.SystemID,
		Session: smpp.Options{
			Handler: smpp.HandlerFunc(f.serveSMPP),
			// Only the ceilings: each account's Window is kept by the handler, which
			// answers at once, so requests never queue up in the session for long.
			WindowSize:          max(maxWindow, 64),
			InboundWindow:       max(256, 2*maxWindow),
			InboundFull:         smpp.InboundFullThrottle,
			EnquireLinkInterval: opts.EnquireLinkInterval,
			ResponseTimeout:     opts.DeliverTimeout,
			OnClose:             f.onClose,
		},
		Authenticator: smpp.AuthenticatorFunc(f.authenticate),
		OnBound:       f.onBound,
		Logger:        opts.Logger,
	})
	return f, nil
}

// MOAccount returns the account whose MONumbers hold number (a short code or long number
// as carriers write the destination of an MO message), for dlr's MO routing.
func (f *Front) MOAccount(number string) (string, bool) {
	a, ok := f.mo[number]
	return a, ok
}

// Listen opens a plain TCP listener on addr (":0" picks a port); serve it with Serve.
func (f *Front) Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("smppfront: listen %s: %w", addr, err)
	}
	return ln, nil
}

// ListenTLS opens a TLS listener on addr with Options.TLS; serve it with Serve.
func (f *Front) ListenTLS(addr string) (net.Listener, error) {
	if f.opts.TLS == nil {
		return nil, errors.New("smppfront: ListenTLS without Options.TLS")
	}
	ln, err := f.Listen(addr)
	if err != nil {
		return nil, err
	}
	return tls.NewListener(ln, f.opts.TLS), nil
}

// Serve accepts binds on ln until Shutdown or Close (then it returns smpp.ErrServerClosed).
// It may be called for several listeners at once (plain and TLS).
func (f *Front) Serve(ln net.Listener) error {
	f.lnMu.Lock()
	if f.closed {
		f.lnMu.Unlock()
		_ = ln.Close()
		return smpp.ErrServerClosed
	}
	f.lns = append(f.lns, ln)
	f.lnMu.Unlock()
	err := f.srv.Serve(ln)
	f.lnMu.Lock()
	closed := f.closed
	f.lnMu.Unlock()
	if closed {
		return smpp.ErrServerClosed
	}
	return err
}

// ListenAndServe listens on addr in plain TCP and serves.
func (f *Front) ListenAndServe(addr string) error {
	ln, err := f.Listen(addr)
	if err != nil {
		return err
	}
	return f.Serve(ln)
}

// ListenAndServeTLS listens on addr with Options.TLS and serves.
func (f *Front) ListenAndServeTLS(addr string) error {
	ln, err := f.ListenTLS(addr)
	if err != nil {
		return err
	}
	return f.Serve(ln)
}

func (f *Front) stopListening() {
	f.lnMu.Lock()
	defer f.lnMu.Unlock()
	if !f.closed {
		f.closed = true
		close(f.shutdown)
	}
	for _, ln := range f.lns {
		_ = ln.Close()
	}
}

// Shutdown stops accepting binds, unbinds every session gracefully (each drains what it
// has in flight, parts waiting for the rest of their message included, until ctx ends),
// and returns when all are closed or ctx ends.
func (f *Front) Shutdown(ctx context.Context) error {
	f.stopListening()
	f.failAssemblies()
	return f.srv.Shutdown(ctx)
}

// Close drops every connection at once.
func (f *Front) Close() error {
	f.stopListening()
	f.failAssemblies()
	return f.srv.Close()
}

// ---- binds ----

func (f *Front) authenticate(ctx context.Context, s *smpp.Session, b *smpp.Bind) smpp.CommandStatus {
	acc := f.accts[b.SystemID]
	st, why := f.check(acc, s, b)
	name := ""
	if acc != nil {
		name = acc.cfg.Name
	}
	if f.opts.Hooks.Bind != nil {
		f.opts.Hooks.Bind(name, b.Mode, st)
	}
	if st == smpp.ESME_ROK {
		return st
	}
	if acc == nil {
		f.unknown.Add(1)
	} else {
		acc.st.bindsRefused.Add(1)
	}
	f.log.Info().Str("system_id", b.SystemID).Str("account", name).Str("remote", s.RemoteAddr().String()).
		Str("status", st.String()).Str("why", why).Msg("bind refused")
	if d := f.opts.RefusalDelay; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
		case <-f.shutdown:
		}
		t.Stop()
	}
	return st
}

// check decides a bind, and reserves the account's bind slot when it accepts.
func (f *Front) check(acc *account, s *smpp.Session, b *smpp.Bind) (smpp.CommandStatus, string) {
	if acc == nil {
		f.dummy.Check(b.Password)
		return smpp.ESME_RINVSYSID, "unknown system_id"
	}
	if !allowed(acc.cfg.AllowedNetworks, s.RemoteAddr()) {
		return smpp.ESME_RBINDFAIL, "address not in the account's allowed networks"
	}
	if !acc.hash.Check(b.Password) {
		return smpp.ESME_RINVPASWD, "wrong password"
	}
	acc.mu.Lock()
	defer acc.mu.Unlock()
	if len(acc.binds) >= acc.cfg.MaxBinds {
		return smpp.ESME_RBINDFAIL, fmt.Sprintf("max binds (%d) reached", acc.cfg.MaxBinds)
	}
	nb := &bind{acc: acc, sess: s, mode: b.Mode}
	acc.binds[nb] = struct{}{}
	f.binds.Store(s, nb)
	return smpp.ESME_ROK, ""
}

func allowed(nets []netip.Prefix, addr net.Addr) bool {
	if len(nets) == 0 {
		return true
	}
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return false
	}
	ip := ap.Addr().Unmap()
	for _, p := range nets {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func (f *Front) onBound(s *smpp.Session) {
	if b := f.bindOf(s); b != nil {
		b.since = f.opts.Now()
		b.acc.st.bindsAccepted.Add(1)
		f.log.Info().Str("account", b.acc.cfg.Name).Str("mode", b.mode.String()).Str("remote", s.RemoteAddr().String()).Msg("client bound")
	}
}

func (f *Front) onClose(s *smpp.Session, reason smpp.CloseReason, err error) {
	v, ok := f.binds.LoadAndDelete(s)
	if !ok {
		return
	}
	b := v.(*bind)
	b.acc.mu.Lock()
	delete(b.acc.binds, b)
	b.acc.mu.Unlock()
}

func (f *Front) bindOf(s *smpp.Session) *bind {
	v, ok := f.binds.Load(s)
	if !ok {
		return nil
	}
	return v.(*bind)
}

// BindInfo describes one bind, for the admin endpoints.
type BindInfo struct {
	ID       string    `json:"id"` // process-unique; Kick takes it
	Account  string    `json:"account"`
	SystemID string    `json:"system_id"`
	Mode     string    `json:"mode"`
	Remote   string    `json:"remote"`
	Since    time.Time `json:"since"`
	// InFlight is the client's requests not answered yet; Delivering the deliver_sm sent
	// to it and not answered yet.
	InFlight   int64 `json:"in_flight"`
	Delivering int64 `json:"delivering"`
}

// Binds lists the bound sessions, oldest first.
func (f *Front) Binds() []BindInfo {
	var out []BindInfo
	f.binds.Range(func(_, v any) bool {
		b := v.(*bind)
		if b.sess.State() != smpp.StateBound {
			return true
		}
		out = append(out, BindInfo{
			ID: strconv.FormatUint(b.sess.ID(), 10), Account: b.acc.cfg.Name, SystemID: b.acc.cfg.SystemID,
			Mode: b.mode.String(), Remote: b.sess.RemoteAddr().String(), Since: b.since,
			InFlight: b.inOpen.Load(), Delivering: b.pending.Load(),
		})
		return true
	})
	sort.Slice(out, func(i, j int) bool {
		a, _ := strconv.ParseUint(out[i].ID, 10, 64)
		b, _ := strconv.ParseUint(out[j].ID, 10, 64)
		return a < b
	})
	return out
}

// Kick unbinds the bind with that id (BindInfo.ID), or every bind of the account of that
// name, and returns how many it kicked. Each gets an unbind and a drain of what it has in
// flight (bounded by the session's drain timeout), then the connection is closed.
func (f *Front) Kick(target string) int {
	var kick []*bind
	f.binds.Range(func(_, v any) bool {
		b := v.(*bind)
		if strconv.FormatUint(b.sess.ID(), 10) == target || b.acc.cfg.Name == target {
			kick = append(kick, b)
		}
		return true
	})
	for _, b := range kick {
		b.acc.st.kicked.Add(1)
		f.log.Info().Str("account", b.acc.cfg.Name).Uint64("session", b.sess.ID()).Msg("bind kicked")
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := b.sess.Unbind(ctx); err != nil {
				b.sess.Abort()
				return
			}
			select {
			case <-b.sess.Done():
			case <-ctx.Done():
				b.sess.Abort()
			}
		}()
	}
	return len(kick)
}

// receivers returns the account's bound sessions that take deliver_sm, in round-robin
// order starting after the last one used.
func (acc *account) receivers() []*bind {
	acc.mu.Lock()
	defer acc.mu.Unlock()
	var out []*bind
	for b := range acc.binds {
		if b.mode.CanReceive() && b.sess.State() == smpp.StateBound {
			out = append(out, b)
		}
	}
	if len(out) == 0 {
		return nil
	}
	sort.Slice(out, func(i, j int) bool { return out[i].sess.ID() < out[j].sess.ID() })
	acc.rr++
	k := int(acc.rr % uint64(len(out)))
	return append(out[k:], out[:k]...)
}
