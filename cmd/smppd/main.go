// Command smppd is the carrier connector daemon: it holds SMPP binds to the carriers,
// sends every accepted message with its DLT data, and serves health, readiness and
// Prometheus metrics.
//
//	smppd -config /etc/smppd/smppd.yaml
//
// Without -config it starts a self-contained demo: an in-process store (which keeps
// nothing across restarts), an in-process simulated operator as the only carrier, and one
// demo account whose API key it prints.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/smppd/smppd/api"
	"github.com/smppd/smppd/api/smppfront"
	"github.com/smppd/smppd/config"
	"github.com/smppd/smppd/dispatch"
	"github.com/smppd/smppd/dlr"
	"github.com/smppd/smppd/dlt"
	"github.com/smppd/smppd/otp"
	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/liveness"
	"github.com/smppd/smppd/store/memstore"
	"github.com/smppd/smppd/store/redisstore"
)

// defaultGCPercent is the garbage collector's target when GOGC is not set. smppd's live heap
// is small and flat (queues live in the store; it holds only the windows), so letting the
// heap grow to 5× the live data before collecting costs a few tens of MiB and saves most of
// the CPU the collector would spend at Go's default of 100 (measured: about 15% of smppd's
// CPU under load). GOGC and GOMEMLIMIT in the environment win.
const defaultGCPercent = 400

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if len(os.Args) > 1 && os.Args[1] == "passwd" {
		err = passwd(os.Args[2:], os.Stdin, os.Stdout)
	} else {
		err = run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil)
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "smppd:", err)
		os.Exit(1)
	}
}

// daemon is a running smppd.
type daemon struct {
	cfg    *config.Config
	log    zerolog.Logger
	store  store.Store
	disp   *dispatch.Dispatcher
	corr   *dlr.Correlator
	sender *dlr.Sender
	member *liveness.Keeper
	reg    *prometheus.Registry
	demo   *demo
	// front is the SMPP front (nil without smpp_front); clients hands it the sender's
	// smpp:// jobs once it exists.
	front   *smppfront.Front
	clients clientDeliverer
	// linkErrs keeps each bind's last error for the operator console.
	linkErrs *linkErrors
}

// run starts smppd and serves until ctx ends, then drains. ready, if set, learns the HTTP
// address once it listens (tests use it).
func run(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(httpAddr string)) error {
	fs := flag.NewFlagSet("smppd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "configuration file (YAML; see docs/config.md); without it smppd runs its demo")
	httpAddr := fs.String("http", "", "override http.listen (e.g. 127.0.0.1:0)")
	check := fs.Bool("check", false, "validate the configuration and exit")
	migrateKeys := fs.Bool("migrate-keys", false, "rename the Redis keys of versions before Redis Cluster support to the present layout (every instance stopped), report, and exit")
	dltImport := fs.Bool("dlt-import", false, "import the configured DLT registry files into the store (every instance reloads them) and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}

	var cfg *config.Config
	var err error
	if *cfgPath != "" {
		if cfg, err = config.Load(*cfgPath); err != nil {
			return err
		}
		if *check {
			e, err := dlt.NewEngine(ctx, cfg.DLTOptions())
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s: OK (%d carriers, %d accounts, DLT registry with %d entities)\n",
				*cfgPath, len(cfg.Carriers), len(cfg.Accounts), len(e.Registry().Entities()))
			return nil
		}
	}
	level := zerolog.InfoLevel
	if cfg != nil {
		level, _ = zerolog.ParseLevel(cfg.LogLevel)
	}
	log := zerolog.New(stderr).Level(level).With().Timestamp().Str("service", "smppd").Logger()

	d := &daemon{log: log, reg: prometheus.NewRegistry()}
	if cfg == nil {
		if d.demo, err = startDemo(log); err != nil {
			return err
		}
		defer d.demo.close()
		cfg = d.demo.cfg
	}
	d.cfg = cfg
	if *httpAddr != "" {
		cfg.HTTP.Listen = *httpAddr
	}
	if d.store, err = openStore(ctx, cfg, log); err != nil {
		return err
	}
	defer d.store.Close()
	if *migrateKeys {
		rs, ok := d.store.(*redisstore.Store)
		if !ok {
			return errors.New("-migrate-keys: store.type is not redis: nothing to migrate")
		}
		r, err := rs.MigrateKeys(ctx)
		fmt.Fprintf(stdout, "keys renamed: %d, webhook jobs re-queued: %d, skipped (new name taken): %d, not recognised: %d\n",
			r.Renamed, r.Jobs, r.Skipped, r.Leftover)
		return err
	}

	// The heartbeat first: claims are made under this incarnation's name, and a restarted
	// instance's previous incarnation is dead (its claims taken over) from this join on.
	lopts := cfg.LivenessOptions()
	lopts.Logger = log.With().Str("component", "liveness").Logger()
	if d.member, err = liveness.Start(ctx, d.store, lopts); err != nil {
		return err
	}

	eopts := cfg.DLTOptions()
	eopts.Store = registryStore(d.store)
	eopts.Logger = log.With().Str("component", "dlt").Logger()
	if *dltImport {
		e, err := dlt.Import(ctx, eopts)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "DLT registry imported: version %d, %d entities\n", e.Version(), len(e.Registry().Entities()))
		return nil
	}
	engine, err := dlt.NewEngine(ctx, eopts)
	if err != nil {
		return err
	}
	go engine.Run(ctx)
	go reloadOnHUP(ctx, engine, log)

	m := newMetrics(d.reg)
	dopts, err := cfg.DispatchOptions()
	if err != nil {
		return err
	}
	dopts.Store = d.store
	dopts.Membership = d.member
	if cfg.LeasesEnabled() {
		dopts.Leases = d.store
	}
	dopts.Logger = log
	dopts.OnSubmit = m.observeSubmit
	d.linkErrs = &linkErrors{}
	dopts.OnLinkEvent = func(carrier string, e smpp.Event) { m.observeLink(carrier, e); d.linkErrs.observe(carrier, e) }
	dopts.ChainFor = engine.ChainFor
	if d.corr, d.sender, err = startReceipts(cfg, d.store, &dopts, d.member, &d.clients, m, log); err != nil {
		return err
	}
	if d.disp, err = dispatch.New(dopts); err != nil {
		return err
	}
	d.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	d.reg.MustRegister(&dispatchCollector{d: d.disp}, &dlrCollector{c: d.corr, s: d.sender, st: d.store}, &livenessCollector{k: d.member})
	d.disp.Start()

	// The API listener's root is the api package's handler itself: no ServeMux in front to
	// clean paths into redirects or answer in text, so every reply there is JSON. Without
	// http.metrics_listen the operator's /healthz, /readyz and /metrics are dispatched before
	// it by exact path (opsOnAPI); with it they, the admin endpoints and the profiles
	// (http.pprof) live on that internal listener only.
	opsMux := http.NewServeMux()
	d.routes(opsMux)
	if d.demo != nil { // the simulated operator's inspection API: what it was sent
		opsMux.Handle("/demo/operator/", http.StripPrefix("/demo/operator", d.demo.sim.HTTPHandler()))
	}
	var frontAddrs []string
	apiRoot := api.NotFoundHandler()
	if len(cfg.Accounts) > 0 {
		srv, h, err := d.apiHandler(engine)
		if err != nil {
			return err
		}
		apiRoot = h
		if cfg.SMPPFront.Enabled() {
			if frontAddrs, err = d.startFront(srv); err != nil {
				return err
			}
		}
	}
	servers := []*http.Server{}
	serve := func(addr string, h http.Handler, wrap func(net.Listener) net.Listener) (net.Addr, error) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, err
		}
		srv := api.NewHTTPServer(addr, h)
		servers = append(servers, srv)
		go func() { _ = srv.Serve(wrap(ln)) }()
		return ln.Addr(), nil
	}
	bare := func(ln net.Listener) net.Listener { return ln }
	short, err := d.startShortlinks()
	if err != nil {
		return err
	}
	var shortAddr net.Addr
	if short != nil {
		if shortAddr, err = serve(cfg.Shortlinks.Listen, short, api.JSONErrors); err != nil {
			return fmt.Errorf("shortlinks.listen %s: %w", cfg.Shortlinks.Listen, err)
		}
		log.Info().Str("shortlinks", shortAddr.String()).Str("base_url", short.Base()).Msg("short-link redirector listening")
	}
	var apiAddr, opsAddr net.Addr
	if cfg.HTTP.MetricsListen == "" {
		if apiAddr, err = serve(cfg.HTTP.Listen, opsOnAPI(opsMux, apiRoot), api.JSONErrors); err != nil {
			return fmt.Errorf("http.listen %s: %w", cfg.HTTP.Listen, err)
		}
		opsAddr = apiAddr
		if cfg.ConsoleEnabled() {
			log.Warn().Msg("console: off: http.metrics_listen is not set, and the console is served on the internal listener only, never on the API's")
		}
	} else {
		d.adminRoutes(opsMux)
		if cfg.HTTP.PProf {
			pprofRoutes(opsMux)
		}
		if cfg.ConsoleEnabled() {
			if err := d.mountConsole(opsMux, engine); err != nil {
				return err
			}
		}
		if apiAddr, err = serve(cfg.HTTP.Listen, apiRoot, api.JSONErrors); err != nil {
			return fmt.Errorf("http.listen %s: %w", cfg.HTTP.Listen, err)
		}
		if opsAddr, err = serve(cfg.HTTP.MetricsListen, opsMux, bare); err != nil {
			return fmt.Errorf("http.metrics_listen %s: %w", cfg.HTTP.MetricsListen, err)
		}
	}
	log.Info().Str("http", apiAddr.String()).Str("metrics", opsAddr.String()).Strs("smpp_front", frontAddrs).
		Strs("carriers", d.disp.Carriers()).Str("store", cfg.Store.Type).Msg("smppd started")
	if d.demo != nil {
		d.demo.announce(stdout, apiAddr.String(), opsAddr.String())
	}
	if ready != nil {
		ready(apiAddr.String())
	}

	<-ctx.Done()
	log.Info().Msg("shutting down: no new requests, draining windows")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, srv := range servers {
		_ = srv.Shutdown(sctx)
	}
	d.stopFront(sctx)
	d.stopShortlinks(sctx, short)
	if err := d.disp.Shutdown(sctx); err != nil {
		log.Warn().Err(err).Msg("shutdown incomplete; what was not sent stays in the store")
	}
	// Receipts stopped with the binds; webhooks still queued stay in the store for the
	// next start.
	_ = d.sender.Shutdown(sctx)
	_ = d.corr.Shutdown(sctx)
	// Leaving last lets the others take over at once whatever is still claimed here.
	if err := d.member.Stop(sctx); err != nil {
		log.Warn().Err(err).Msg("could not remove the heartbeat; others take over when it lapses")
	}
	log.Info().Msg("stopped")
	return nil
}

func openStore(ctx context.Context, cfg *config.Config, log zerolog.Logger) (store.Store, error) {
	switch cfg.Store.Type {
	case "redis":
		redis.SetLogger(redisLogger{log.With().Str("component", "redis").Logger()})
		url, opts := cfg.RedisStore()
		s, err := redisstore.Open(ctx, url, opts)
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		if id := s.TextKeyID(); id != "" {
			log.Info().Str("key_id", id).Str("source", cfg.TextKeySource()).Int("old_keys", len(opts.TextKeysOld)).Msg("message texts sealed at rest")
		} else {
			log.Warn().Msg("message texts stored in plaintext: no store.text_key and no otp.key")
		}
		return s, nil
	default:
		log.Warn().Msg("in-memory store: nothing is kept across restarts; use store.type redis in production")
		return memstore.New(), nil
	}
}

// apiHandler builds the 2Factor-compatible API (the server, which the SMPP front accepts
// through, and its HTTP handler) over the dispatcher, the OTP service, the
// store's credits and records, and the current DLT registry.
func (d *daemon) apiHandler(engine *dlt.Engine) (*api.Server, http.Handler, error) {
	oopts := d.cfg.OTPOptions()
	oopts.Store = d.store
	svc, err := otp.New(oopts)
	if err != nil {
		return nil, nil, err
	}
	aopts, err := d.cfg.APIOptions()
	if err != nil {
		return nil, nil, err
	}
	aopts.Sender, aopts.OTP, aopts.Credits, aopts.Records = d.disp, svc, d.store, d.store
	aopts.Withdrawer = d.store
	if aopts.Shortlinks.Base != "" {
		aopts.Shortlinks.Store = d.store
	}
	aopts.Registry = engine.Registry
	aopts.Logger = d.log.With().Str("component", "api").Logger()
	srv, err := api.New(aopts)
	if err != nil {
		return nil, nil, err
	}
	return srv, srv.Handler(), nil
}

// registryStore returns the store as a dlt.RegistryStore when it can share the registry
// between instances (Redis), else nil: an in-memory store serves one process only.
func registryStore(s store.Store) dlt.RegistryStore {
	if rs, ok := s.(dlt.RegistryStore); ok {
		return rs
	}
	return nil
}

// reloadOnHUP re-imports the DLT registry files on SIGHUP.
func reloadOnHUP(ctx context.Context, e *dlt.Engine, log zerolog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if err := e.ImportFiles(ctx); err != nil {
				log.Error().Err(err).Msg("SIGHUP: DLT registry not reloaded; the current one stays")
			}
		}
	}
}

// readyJSON answers /readyz?verbose=1: readiness, this instance's member name, and every
// bind slot with the instance holding it, for operators and load balancers that want more
// than the status code.
func (d *daemon) readyJSON(ctx context.Context, w http.ResponseWriter, readyErr error) {
	type slot struct {
		Carrier string    `json:"carrier"`
		Slot    string    `json:"slot"`
		Holder  string    `json:"holder"`
		Token   int64     `json:"token,omitempty"`
		Expires time.Time `json:"expires,omitzero"`
		Local   bool      `json:"local"`
		Bound   bool      `json:"bound"`
	}
	out := struct {
		Ready      bool   `json:"ready"`
		Error      string `json:"error,omitempty"`
		Member     string `json:"member"`
		Members    int    `json:"live_members"`
		Binds      []slot `json:"binds"`
		BindsError string `json:"binds_error,omitempty"`
	}{Ready: readyErr == nil, Member: d.member.Consumer(), Members: d.member.LiveMembers(), Binds: []slot{}}
	if readyErr != nil {
		out.Error = readyErr.Error()
	}
	slots, err := d.disp.BindSlots(ctx)
	if err != nil {
		out.BindsError = err.Error()
	}
	for _, s := range slots {
		out.Binds = append(out.Binds, slot(s))
	}
	w.Header().Set("Content-Type", "application/json")
	if readyErr != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(out)
}

// redisLogger sends go-redis's own messages (connection retries) to our log.
type redisLogger struct{ log zerolog.Logger }

func (l redisLogger) Printf(_ context.Context, format string, v ...any) {
	l.log.Warn().Msgf(format, v...)
}

// routes mounts health, readiness and metrics.
func (d *daemon) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		err := d.disp.Ready(ctx)
		if st := d.member.Stats(); err == nil && !st.Valid {
			err = fmt.Errorf("heartbeat of %s not renewed in time; claiming nothing until it is", st.Member)
		}
		if r.URL.Query().Get("verbose") != "" {
			d.readyJSON(ctx, w, err)
			return
		}
		if err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "not ready:", err)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.reg, promhttp.HandlerOpts{Registry: d.reg}))
}

// opsPaths are the operator's endpoints the API listener also answers when there is no
// internal listener.
var opsPaths = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// opsOnAPI serves GET (and HEAD) of exactly /healthz, /readyz and /metrics with ops and
// everything else with the API's handler, which answers it in JSON.
func opsOnAPI(ops, apiRoot http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && opsPaths[r.URL.EscapedPath()] {
			ops.ServeHTTP(w, r)
			return
		}
		apiRoot.ServeHTTP(w, r)
	})
}

// pprofRoutes mounts Go's profiles for diagnosing a live instance (http.pprof): on the
// internal listener only, which config validation guarantees exists when they are on.
func pprofRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
}
