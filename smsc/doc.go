// Package smsc is an operator SMSC simulator for integration tests, used in-process like
// net/http/httptest or as the cmd/smscsim binary.
//
// In a Go test, start one with smsctest.Start (package smsc/smsctest), which fails the test
// if it cannot start and closes it when the test ends; elsewhere (smppd's demo mode, a
// harness of your own) use NewServer and Close:
//
//	sim := smsctest.Start(t, smsc.Options{Accounts: []smsc.Account{{
//		SystemID: "acme", Password: "secret",
//		Receipts: smsc.Receipts{Rules: []smsc.Rule{{Dest: "919800000333", SubmitStatus: "ESME_RSUBMITFAIL"}}},
//	}}})
//	// bind your ESME to sim.Addr(), submit, then:
//	msgs, err := sim.WaitForMessages(1, 5*time.Second)
//
// Point an ESME at Addr and script what the "operator" does: accounts and bind limits,
// message id formats, delivery receipts (delay, outcome mix, rules by destination,
// SMPPSim's first-digit rule, ENROUTE first), per-bind and per-account throttling, a
// server-side window, response latency, injected faults (ESME_RMSGQFUL, ESME_RSYSERR,
// generic_nack, no or slow response, disconnects, silence to enquire_link, unbind with
// submits in flight that are answered afterwards), DLT scrubbing with package dlt, MO
// injection, and receipt handling as rough carriers do it (no delivery window, few or no
// retries of a refused receipt, receipt storms with Server.Flood). Everything received is
// kept (bounded) with decoded text and every TLV, for Messages, and the HTTP API
// (HTTPHandler) exposes the same inspection and control.
//
// The package imports neither testing nor a metrics library, so a program that embeds the
// simulator links neither. Counters, AccountCounters and Stats report what it counted;
// cmd/smscsim turns Stats into Prometheus metrics and serves them at /metrics next to
// HTTPHandler.
//
// See docs/smscsim.md for the scenario keys, the HTTP API and examples.
package smsc
