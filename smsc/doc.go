// Package smsc is an operator SMSC simulator for integration tests, used in-process like
// net/http/httptest or as the cmd/smscsim binary.
//
// Start one with NewServer (or Start in a test), point an ESME at Addr, and script what the
// "operator" does: accounts and bind limits, message id formats, delivery receipts (delay,
// outcome mix, rules by destination, SMPPSim's first-digit rule, ENROUTE first), per-bind
// and per-account throttling, a server-side window, response latency, injected faults
// (ESME_RMSGQFUL, ESME_RSYSERR, generic_nack, no or slow response, disconnects, silence to
// enquire_link, unbind with submits in flight that are answered afterwards), DLT scrubbing
// with package dlt, MO injection, and receipt handling as rough carriers do it (no delivery
// window, few or no retries of a refused receipt, receipt storms with Server.Flood).
// Everything received is kept (bounded) with decoded text and every TLV, for Messages, and
// the HTTP API (HTTPHandler) exposes the same inspection and control plus Prometheus
// metrics.
//
// See docs/smscsim.md for the scenario keys, the HTTP API and examples.
package smsc
