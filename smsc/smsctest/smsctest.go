// Package smsctest starts the SMSC simulator (package smsc) inside a Go test, the way
// net/http/httptest starts an HTTP server: one call, and the simulator is closed when the
// test ends.
//
// It is a package of its own so that package smsc, which the daemon's demo mode and the
// cmd/smscsim binary link, never imports testing; only test binaries import smsctest.
//
//	sim := smsctest.Start(t, smsc.Options{Accounts: []smsc.Account{{SystemID: "esme", Password: "secret"}}})
//	// bind an ESME to sim.Addr(), submit, then inspect:
//	msgs, err := sim.WaitForMessages(1, 5*time.Second)
package smsctest

import (
	"testing"

	"github.com/smppd/smppd/smsc"
)

// Start is smsc.NewServer for tests: it fails the test at once if the simulator cannot start
// (a bad option or a busy address is a broken test, not a condition to handle), and closes
// the simulator with t.Cleanup so no test leaks a listener or its goroutines.
//
// Leave opts.SMPPAddr empty to listen on a free loopback port (read it back with Addr).
func Start(t testing.TB, opts smsc.Options) *smsc.Server {
	t.Helper()
	srv, err := smsc.NewServer(opts)
	if err != nil {
		t.Fatalf("smsctest.Start: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}
