package smsc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"github.com/smppd/smppd/smpp"
)

// Server is a running simulator: an SMPP listener, the receipt scheduler and delivery
// queues, and (through HTTPHandler) the control API. Create one with NewServer (or smsctest.Start
// in tests) and Close it when done. All methods are safe for concurrent use.
type Server struct {
	opts  Options
	log   zerolog.Logger
	smpp  *smpp.Server
	ln    net.Listener
	store *store
	sched *scheduler
	ids   *atomic.Uint64
	dlt   dltChecker

	ctx    context.Context // cancelled by Close: stops senders
	cancel context.CancelFunc

	accMu    sync.RWMutex
	accounts map[string]*account
	order    []string // account ids in configuration order

	binds sync.Map // *smpp.Session → *bind
	conns sync.Map // remote address → *filterConn

	serveErr  chan error
	closeOnce sync.Once
	http      http.Handler

	floodMu sync.Mutex
	floods  map[*FloodRun]struct{} // running
}

// NewServer validates opts, starts listening on opts.SMPPAddr and serves in the background.
func NewServer(opts Options) (*Server, error) {
	opts.setDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	srv := &Server{
		opts:     opts,
		log:      opts.Logger,
		store:    newStore(opts.StoreSize),
		sched:    newScheduler(),
		ids:      newCounter(),
		accounts: map[string]*account{},
		floods:   map[*FloodRun]struct{}{},
		serveErr: make(chan error, 1),
	}
	srv.ctx, srv.cancel = context.WithCancel(context.Background())
	if err := srv.loadDLT(); err != nil {
		srv.sched.close()
		return nil, err
	}
	for _, a := range opts.Accounts {
		acc := newAccount(srv, a)
		srv.accounts[a.SystemID] = acc
		srv.order = append(srv.order, a.SystemID)
	}
	srv.smpp = smpp.NewServer(smpp.ServerOptions{
		SystemID: opts.SystemID,
		Session: smpp.Options{
			Handler:             smpp.HandlerFunc(srv.serveSMPP),
			WindowSize:          MaxWindow, // only the ceiling: deliverLoop keeps each account's window
			InboundWindow:       opts.InboundWindow,
			InboundWorkers:      opts.InboundWorkers,
			EnquireLinkInterval: opts.EnquireLinkInterval,
			ResponseTimeout:     opts.ResponseTimeout,
			OnClose:             srv.onClose,
		},
		Authenticator: smpp.AuthenticatorFunc(srv.authenticate),
		OnBound:       srv.onBound,
		Logger:        opts.Logger,
	})
	ln, err := net.Listen("tcp", opts.SMPPAddr)
	if err != nil {
		srv.sched.close()
		return nil, fmt.Errorf("smsc: listen %s: %w", opts.SMPPAddr, err)
	}
	if opts.TLSConfig != nil {
		ln = tls.NewListener(ln, opts.TLSConfig)
	}
	srv.ln = &filterListener{Listener: ln, srv: srv}
	srv.http = srv.newHTTPHandler()
	go func() { srv.serveErr <- srv.smpp.Serve(srv.ln) }()
	srv.log.Debug().Str("addr", srv.Addr()).Msg("smsc simulator listening")
	return srv, nil
}

// Addr returns the SMPP listener's address ("127.0.0.1:40123").
func (srv *Server) Addr() string { return srv.ln.Addr().String() }

// Close drops every bind at once and stops the simulator. Held deliveries are discarded.
func (srv *Server) Close() error {
	srv.closeOnce.Do(func() {
		srv.cancel()
		_ = srv.smpp.Close()
		srv.sched.close()
	})
	return nil
}

// Shutdown unbinds every session gracefully (until ctx ends), then stops like Close.
func (srv *Server) Shutdown(ctx context.Context) error {
	err := srv.smpp.Shutdown(ctx)
	_ = srv.Close()
	return err
}

// ---- accounts ----

// account is one ESME account's run-time state.
type account struct {
	srv      *Server
	id       string
	password string
	cfg      atomic.Pointer[acctConfig]
	limiter  *rate.Limiter
	queue    chan *delivery // due deliveries not yet taken by a bind's sender
	c        counters
	faultN   [nFaultKinds]atomic.Uint64

	mu     sync.Mutex
	nbinds int // reserved or bound
	binds  map[*bind]struct{}
}

// acctConfig is an immutable snapshot of an account's behaviour; changes swap it whole.
type acctConfig struct {
	a         Account
	oc        outcomes
	ids       *idGen
	dp        deliveryPolicy
	refuse    smpp.CommandStatus // 0: accept binds
	maxStatus smpp.CommandStatus
}

func newAccount(srv *Server, a Account) *account {
	acc := &account{
		srv: srv, id: a.SystemID, password: a.Password,
		queue: make(chan *delivery, srv.opts.HeldDeliveries),
		binds: map[*bind]struct{}{},
	}
	acc.limiter = rate.NewLimiter(limitOf(a.Throttle.PerAccount), burstOf(a.Throttle.PerAccount, a.Throttle.Burst))
	acc.store(a)
	return acc
}

func (acc *account) store(a Account) {
	a.DLT.setDefaults()
	c := &acctConfig{a: a, oc: compileOutcomes(a.Receipts), dp: acc.srv.opts.deliveryPolicy(a.Receipts), maxStatus: smpp.ESME_RALYBND}
	f := acc.srv.opts.MessageID
	if a.MessageID != nil {
		f = *a.MessageID
	}
	c.ids = newIDGen(acc.srv.ids, f)
	if a.RefuseBinds != "" {
		c.refuse, _ = parseStatus(a.RefuseBinds)
	}
	if a.MaxBindsStatus != "" {
		c.maxStatus, _ = parseStatus(a.MaxBindsStatus)
	}
	acc.cfg.Store(c)
}

// update applies fn to a copy of the account's settings, validates and installs it.
func (acc *account) update(fn func(a *Account)) error {
	acc.mu.Lock()
	defer acc.mu.Unlock()
	a := acc.cfg.Load().a
	fn(&a)
	if err := a.validate("account " + acc.id); err != nil {
		return err
	}
	acc.store(a)
	acc.limiter.SetLimit(limitOf(a.Throttle.PerAccount))
	acc.limiter.SetBurst(burstOf(a.Throttle.PerAccount, a.Throttle.Burst))
	for b := range acc.binds {
		b.limiter.SetLimit(limitOf(a.Throttle.PerBind))
		b.limiter.SetBurst(burstOf(a.Throttle.PerBind, a.Throttle.Burst))
		b.poke() // a wider window applies at once
		go b.disarmed()
	}
	return nil
}

func limitOf(perSec float64) rate.Limit {
	if perSec <= 0 {
		return rate.Inf
	}
	return rate.Limit(perSec)
}

func burstOf(perSec float64, burst int) int {
	if burst > 0 {
		return burst
	}
	return max(1, int(perSec+0.999))
}

func (srv *Server) account(id string) (*account, error) {
	srv.accMu.RLock()
	defer srv.accMu.RUnlock()
	if id == "" && len(srv.order) == 1 {
		id = srv.order[0]
	}
	acc := srv.accounts[id]
	if acc == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownAccount, id)
	}
	return acc, nil
}

// ErrUnknownAccount is returned for a system_id that is not configured.
var ErrUnknownAccount = errors.New("smsc: unknown account")

func (srv *Server) allAccounts() []*account {
	srv.accMu.RLock()
	defer srv.accMu.RUnlock()
	out := make([]*account, 0, len(srv.order))
	for _, id := range srv.order {
		out = append(out, srv.accounts[id])
	}
	return out
}

// AddAccount adds (or replaces the settings of) an account at run time.
func (srv *Server) AddAccount(a Account) error {
	if a.SystemID == "" {
		return errors.New("smsc: account system_id is empty")
	}
	if err := a.validate("account " + a.SystemID); err != nil {
		return err
	}
	srv.accMu.Lock()
	acc := srv.accounts[a.SystemID]
	if acc == nil {
		srv.accounts[a.SystemID] = newAccount(srv, a)
		srv.order = append(srv.order, a.SystemID)
		srv.accMu.Unlock()
		return nil
	}
	srv.accMu.Unlock()
	acc.mu.Lock()
	acc.password = a.Password
	acc.mu.Unlock()
	return acc.update(func(x *Account) { *x = a })
}

// Account returns an account's current settings.
func (srv *Server) Account(systemID string) (Account, error) {
	acc, err := srv.account(systemID)
	if err != nil {
		return Account{}, err
	}
	return acc.cfg.Load().a, nil
}

// SetOutcomes replaces an account's receipt delay, outcome mix and rules ("" selects the
// only account).
func (srv *Server) SetOutcomes(systemID string, r Receipts) error {
	return srv.updateAccount(systemID, func(a *Account) { a.Receipts = r })
}

// SetLatency replaces an account's response latency.
func (srv *Server) SetLatency(systemID string, l Latency) error {
	return srv.updateAccount(systemID, func(a *Account) { a.Latency = l })
}

// SetThrottle replaces an account's messages-per-second caps; binds pick them up at once.
func (srv *Server) SetThrottle(systemID string, t Throttle) error {
	return srv.updateAccount(systemID, func(a *Account) { a.Throttle = t })
}

// SetFaults replaces an account's injected faults.
func (srv *Server) SetFaults(systemID string, f Faults) error {
	return srv.updateAccount(systemID, func(a *Account) { a.Faults = f })
}

// SetDLT replaces an account's DLT scrubbing settings.
func (srv *Server) SetDLT(systemID string, d DLT) error {
	return srv.updateAccount(systemID, func(a *Account) { a.DLT = d })
}

// RefuseBinds makes new binds of the account fail with status (a name such as
// "ESME_RBINDFAIL"); "" accepts them again.
func (srv *Server) RefuseBinds(systemID, status string) error {
	return srv.updateAccount(systemID, func(a *Account) { a.RefuseBinds = status })
}

// SetMaxBinds changes an account's bind cap (0: none); existing binds are kept.
func (srv *Server) SetMaxBinds(systemID string, n int) error {
	return srv.updateAccount(systemID, func(a *Account) { a.MaxBinds = n })
}

func (srv *Server) updateAccount(id string, fn func(a *Account)) error {
	acc, err := srv.account(id)
	if err != nil {
		return err
	}
	return acc.update(fn)
}

// ---- binds ----

// bind is one bound session.
type bind struct {
	acc     *account
	sess    *smpp.Session
	mode    smpp.BindMode
	boundAt atomic.Int64 // unix nanoseconds; 0 until bound
	limiter *rate.Limiter
	reqs    atomic.Uint64
	rxOK    atomic.Uint64 // deliveries acknowledged
	// outstanding counts submits received and not yet answered (Options.MaxOutstanding).
	outstanding atomic.Int64
	// inflight counts deliver_sm taken from the account queue and not yet settled (the
	// delivery window); freed wakes deliverLoop when one settles.
	inflight atomic.Int64
	freed    chan struct{}
	conn     *filterConn
	timer    *time.Timer

	// Unbinding mid-window (unbind.go): phase says whether submit responses are held back;
	// held are those waiting for the ESME's unbind_resp.
	phase  atomic.Int32 // holdNone, holdHolding, holdReleased; changed under holdMu
	holdMu sync.Mutex
	held   []*respJob
}

// BindInfo describes one bound session.
type BindInfo struct {
	ID         uint64    `json:"id"`
	SystemID   string    `json:"system_id"`
	Mode       string    `json:"mode"`
	Remote     string    `json:"remote"`
	BoundAt    time.Time `json:"bound_at"`
	Requests   uint64    `json:"requests"`
	Delivered  uint64    `json:"delivered"`
	WindowUsed int       `json:"window_used"`
}

// Binds lists the bound sessions, oldest first.
func (srv *Server) Binds() []BindInfo {
	var out []BindInfo
	srv.binds.Range(func(_, v any) bool {
		b := v.(*bind)
		if b.boundAt.Load() == 0 {
			return true
		}
		out = append(out, BindInfo{
			ID: b.sess.ID(), SystemID: b.acc.id, Mode: b.mode.String(), Remote: b.sess.RemoteAddr().String(),
			BoundAt: time.Unix(0, b.boundAt.Load()), Requests: b.reqs.Load(), Delivered: b.rxOK.Load(), WindowUsed: b.sess.WindowInUse(),
		})
		return true
	})
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Disconnect drops the TCP connection of bind id (from Binds) without unbinding.
func (srv *Server) Disconnect(id uint64) bool {
	var found *bind
	srv.binds.Range(func(_, v any) bool {
		if b := v.(*bind); b.sess.ID() == id {
			found = b
			return false
		}
		return true
	})
	if found == nil {
		return false
	}
	found.acc.c.disconnects.Add(1)
	found.sess.Abort()
	return true
}

func (srv *Server) authenticate(ctx context.Context, s *smpp.Session, b *smpp.Bind) smpp.CommandStatus {
	acc, err := srv.account(b.SystemID)
	if err != nil || b.SystemID == "" {
		srv.log.Info().Str("system_id", b.SystemID).Msg("bind refused: unknown system_id")
		return smpp.ESME_RINVSYSID
	}
	acc.mu.Lock()
	defer acc.mu.Unlock()
	cfg := acc.cfg.Load()
	switch {
	case acc.password != "" && b.Password != acc.password:
		acc.c.bindsRefused.Add(1)
		return smpp.ESME_RINVPASWD
	case cfg.refuse != smpp.ESME_ROK:
		acc.c.bindsRefused.Add(1)
		return cfg.refuse
	case cfg.a.MaxBinds > 0 && acc.nbinds >= cfg.a.MaxBinds:
		acc.c.bindsRefused.Add(1)
		return cfg.maxStatus
	}
	acc.nbinds++
	nb := &bind{acc: acc, sess: s, mode: b.Mode, freed: make(chan struct{}, 1)}
	p := cfg.a.Throttle.PerBind
	nb.limiter = rate.NewLimiter(limitOf(p), burstOf(p, cfg.a.Throttle.Burst))
	if v, ok := srv.conns.Load(s.RemoteAddr().String()); ok {
		nb.conn = v.(*filterConn)
		nb.conn.acc.Store(acc)
	}
	acc.binds[nb] = struct{}{}
	srv.binds.Store(s, nb)
	return smpp.ESME_ROK
}

func (srv *Server) onBound(s *smpp.Session) {
	v, ok := srv.binds.Load(s)
	if !ok {
		return
	}
	b := v.(*bind)
	b.boundAt.Store(srv.opts.Now().UnixNano())
	b.acc.c.bindsAccepted.Add(1)
	if b.mode.CanReceive() {
		go b.deliverLoop()
	}
	if d := b.acc.cfg.Load().a.Faults.DisconnectEvery; d > 0 {
		b.timer = time.AfterFunc(d, func() {
			b.acc.c.disconnects.Add(1)
			b.acc.c.faults.Add(1)
			s.Abort()
		})
	}
}

func (srv *Server) onClose(s *smpp.Session, reason smpp.CloseReason, err error) {
	srv.conns.Delete(s.RemoteAddr().String())
	v, ok := srv.binds.LoadAndDelete(s)
	if !ok {
		return
	}
	b := v.(*bind)
	if b.timer != nil {
		b.timer.Stop()
	}
	b.acc.mu.Lock()
	delete(b.acc.binds, b)
	b.acc.nbinds--
	b.acc.mu.Unlock()
}

func (srv *Server) bindOf(s *smpp.Session) *bind {
	v, ok := srv.binds.Load(s)
	if !ok {
		return nil
	}
	return v.(*bind)
}

// ---- inspection ----

// Messages returns the stored messages matching f, oldest first.
func (srv *Server) Messages(f Filter) []Message { return srv.store.list(f) }

// Message returns the stored message with the given id.
func (srv *Server) Message(id string) (Message, bool) {
	r := srv.store.get(id)
	if r == nil {
		return Message{}, false
	}
	srv.store.mu.RLock()
	defer srv.store.mu.RUnlock()
	return r.export(), true
}

// Received returns how many submits (of any outcome) have been stored since the start or
// the last Reset.
func (srv *Server) Received() int { return int(srv.store.count()) }

// WaitForMessages waits until at least n messages have been received (since the start or
// the last Reset) or timeout passes, and returns them.
func (srv *Server) WaitForMessages(n int, timeout time.Duration) ([]Message, error) {
	deadline := time.Now().Add(timeout)
	for srv.Received() < n {
		if time.Now().After(deadline) {
			return srv.Messages(Filter{}), fmt.Errorf("smsc: %d messages received, want %d, after %s", srv.Received(), n, timeout)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return srv.Messages(Filter{}), nil
}

// Counters returns the totals over every account.
func (srv *Server) Counters() Counters {
	var out Counters
	for _, acc := range srv.allAccounts() {
		acc.addCounters(&out)
	}
	return out
}

// AccountCounters returns one account's counters.
func (srv *Server) AccountCounters(systemID string) (Counters, error) {
	acc, err := srv.account(systemID)
	if err != nil {
		return Counters{}, err
	}
	var out Counters
	acc.addCounters(&out)
	return out, nil
}

func (acc *account) addCounters(out *Counters) {
	acc.c.addTo(out)
	out.Held += len(acc.queue)
	acc.mu.Lock()
	for b := range acc.binds {
		if b.boundAt.Load() != 0 {
			out.BindsActive++
		}
	}
	acc.mu.Unlock()
	if out.ByStatus == nil {
		out.ByStatus = map[string]uint64{}
	}
}

// Reset forgets stored messages, counters and scheduled receipts, and stops running floods;
// binds and settings stay.
func (srv *Server) Reset() {
	srv.stopFloods()
	srv.sched.clear()
	srv.store.reset()
	srv.store.mu.Lock()
	srv.store.next = 0
	srv.store.mu.Unlock()
	for _, acc := range srv.allAccounts() {
		acc.c.reset()
		for i := range acc.faultN {
			acc.faultN[i].Store(0)
		}
	drain:
		for {
			select {
			case <-acc.queue:
			default:
				break drain
			}
		}
	}
}

func statusName(st uint32) string {
	if st >= 256 {
		return strconv.FormatUint(uint64(st), 10)
	}
	return smpp.CommandStatus(st).String()
}
