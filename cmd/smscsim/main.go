// Command smscsim is an operator SMSC simulator: an SMPP 3.4 server with scripted receipts,
// throttling, faults, DLT scrubbing and MO injection, and an HTTP control and inspection API
// with Prometheus metrics at /metrics (wired here, in metrics.go: package smsc links no
// metrics library).
//
// Run with no arguments it listens for SMPP on 127.0.0.1:2775 and HTTP on 127.0.0.1:8025,
// with one account (system_id "smppd", password "password") that accepts everything and
// sends a DELIVRD receipt at once. See docs/smscsim.md.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/smppd/smppd/smsc"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr, nil); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "smscsim:", err)
		os.Exit(1)
	}
}

// run starts the simulator and serves until ctx ends; ready, if set, learns the listening
// addresses.
func run(ctx context.Context, args []string, logOut io.Writer, ready func(smppAddr, httpAddr string)) error {
	fs := flag.NewFlagSet("smscsim", flag.ContinueOnError)
	fs.SetOutput(logOut)
	smppAddr := fs.String("smpp-addr", "127.0.0.1:2775", "SMPP listen address (overrides the scenario's smpp_addr)")
	httpAddr := fs.String("http-addr", "127.0.0.1:8025", "HTTP control API and /metrics listen address; empty disables")
	scenario := fs.String("scenario", "", "scenario YAML file (see testdata/smscsim/scenario.yaml)")
	tlsCert := fs.String("tls-cert", "", "PEM certificate: serve SMPP over TLS (with -tls-key)")
	tlsKey := fs.String("tls-key", "", "PEM private key for -tls-cert")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	systemID := fs.String("system-id", smsc.DefaultSystemID, "system_id of the default account (used when the scenario has no accounts)")
	password := fs.String("password", smsc.DefaultPassword, "password of the default account")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	level, err := zerolog.ParseLevel(strings.ToLower(*logLevel))
	if err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	log := zerolog.New(logOut).Level(level).With().Timestamp().Str("service", "smscsim").Logger()

	var opts smsc.Options
	if *scenario != "" {
		if opts, err = smsc.LoadScenario(*scenario); err != nil {
			return err
		}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["smpp-addr"] || opts.SMPPAddr == "" {
		opts.SMPPAddr = *smppAddr
	}
	if len(opts.Accounts) == 0 {
		opts.Accounts = []smsc.Account{{SystemID: *systemID, Password: *password}}
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return errors.New("-tls-cert and -tls-key go together")
	}
	if *tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey)
		if err != nil {
			return fmt.Errorf("tls: %w", err)
		}
		opts.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	opts.Logger = log

	srv, err := smsc.NewServer(opts)
	if err != nil {
		return err
	}
	defer srv.Close()

	var hs *http.Server
	var hln net.Listener
	httpErr := make(chan error, 1)
	if *httpAddr != "" {
		hln, err = net.Listen("tcp", *httpAddr)
		if err != nil {
			return fmt.Errorf("http listen %s: %w", *httpAddr, err)
		}
		hs = &http.Server{Handler: httpHandler(srv), ReadHeaderTimeout: 10 * time.Second}
		go func() { httpErr <- hs.Serve(hln) }()
	}
	ev := log.Info().Str("smpp_addr", srv.Addr()).Bool("tls", opts.TLSConfig != nil)
	if hln != nil {
		ev = ev.Str("http_addr", hln.Addr().String())
	}
	for _, a := range opts.Accounts {
		ev = ev.Str("system_id", a.SystemID)
		if a.SystemID == *systemID && a.Password == *password {
			ev = ev.Str("password", a.Password) // only the well-known default is ever logged
		}
		break
	}
	ev.Int("accounts", len(opts.Accounts)).Msg("smscsim ready")
	if ready != nil {
		h := ""
		if hln != nil {
			h = hln.Addr().String()
		}
		ready(srv.Addr(), h)
	}

	select {
	case <-ctx.Done():
	case err := <-httpErr:
		return fmt.Errorf("http: %w", err)
	}
	log.Info().Msg("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if hs != nil {
		_ = hs.Shutdown(sctx)
	}
	_ = srv.Shutdown(sctx)
	return nil
}
