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
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/smppd/smppd/config"
	"github.com/smppd/smppd/dispatch"
	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/memstore"
	"github.com/smppd/smppd/store/redisstore"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "smppd:", err)
		os.Exit(1)
	}
}

// daemon is a running smppd.
type daemon struct {
	cfg   *config.Config
	log   zerolog.Logger
	store store.Store
	disp  *dispatch.Dispatcher
	reg   *prometheus.Registry
	demo  *demo
}

// run starts smppd and serves until ctx ends, then drains. ready, if set, learns the HTTP
// address once it listens (tests use it).
func run(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(httpAddr string)) error {
	fs := flag.NewFlagSet("smppd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "configuration file (YAML; see docs/config.md); without it smppd runs its demo")
	httpAddr := fs.String("http", "", "override http.listen (e.g. 127.0.0.1:0)")
	check := fs.Bool("check", false, "validate the configuration and exit")
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
			fmt.Fprintf(stdout, "%s: OK (%d carriers, %d accounts)\n", *cfgPath, len(cfg.Carriers), len(cfg.Accounts))
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

	m := newMetrics(d.reg)
	dopts, err := cfg.DispatchOptions()
	if err != nil {
		return err
	}
	dopts.Store = d.store
	dopts.Logger = log
	dopts.OnSubmit = m.observeSubmit
	dopts.OnLinkEvent = m.observeLink
	// No DeliverHandler yet: receipts are answered with a temporary error, so carriers keep
	// them until receipt correlation (the dlr package) can store them first.
	if d.disp, err = dispatch.New(dopts); err != nil {
		return err
	}
	d.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	d.reg.MustRegister(&dispatchCollector{d: d.disp})
	d.disp.Start()

	mux := http.NewServeMux()
	d.routes(mux)
	ln, err := net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("http.listen %s: %w", cfg.HTTP.Listen, err)
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
	go func() { _ = srv.Serve(ln) }()
	log.Info().Str("http", ln.Addr().String()).Strs("carriers", d.disp.Carriers()).Str("store", cfg.Store.Type).Msg("smppd started")
	if d.demo != nil {
		d.demo.announce(stdout, ln.Addr().String())
	}
	if ready != nil {
		ready(ln.Addr().String())
	}

	<-ctx.Done()
	log.Info().Msg("shutting down: no new requests, draining windows")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	if err := d.disp.Shutdown(sctx); err != nil {
		log.Warn().Err(err).Msg("shutdown incomplete; what was not sent stays in the store")
	}
	log.Info().Msg("stopped")
	return nil
}

func openStore(ctx context.Context, cfg *config.Config, log zerolog.Logger) (store.Store, error) {
	switch cfg.Store.Type {
	case "redis":
		s, err := redisstore.Open(ctx, cfg.Store.RedisURL, redisstore.Options{Prefix: cfg.Store.Prefix})
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		return s, nil
	default:
		log.Warn().Msg("in-memory store: nothing is kept across restarts; use store.type redis in production")
		return memstore.New(), nil
	}
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
		if err := d.disp.Ready(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "not ready:", err)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.reg, promhttp.HandlerOpts{Registry: d.reg}))
}
