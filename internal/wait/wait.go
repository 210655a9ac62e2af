// Package wait is the one way a test waits for something to happen: it polls a condition
// instead of sleeping a guessed time, so tests are fast on a quiet machine and still pass on a
// loaded one. Only tests import it (internal/layering checks that).
package wait

import (
	"testing"
	"time"
)

// Interval is how often a condition is polled: short enough that a test does not idle, long
// enough that polling does not steal the CPU the code under test needs on a 2-core machine.
const Interval = 2 * time.Millisecond

// Until polls cond until it holds or d has passed, and reports whether it held. Use it where
// the caller decides what a timeout means; use For where a timeout fails the test.
func Until(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(Interval)
	}
	return true
}

// For polls cond until it holds; after d it fails the test, saying what it waited for.
func For(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Until(d, cond) {
		t.Fatalf("timed out after %s waiting for %s", d, what)
	}
}

// ForNoError polls f until it returns nil; after d it fails the test with f's last error, which
// says more than "timed out" does.
func ForNoError(t testing.TB, d time.Duration, what string, f func() error) {
	t.Helper()
	var last error
	if !Until(d, func() bool { last = f(); return last == nil }) {
		t.Fatalf("timed out after %s waiting for %s: %v", d, what, last)
	}
}
