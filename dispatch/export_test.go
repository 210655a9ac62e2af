package dispatch

import "time"

// The tests of this package are black-box tests (package dispatch_test), so that they can
// start dispatchers with dispatchtest, which imports dispatch. The few that must look at a
// carrier's bind pool do so through these methods, which exist only in test builds.

// PoolUp reports whether the named carrier has a bind up.
func (d *Dispatcher) PoolUp(carrier string) bool { return d.carriers[carrier].pool.up() }

// PoolDownFor is how long the named carrier has had no bind up, as of now.
func (d *Dispatcher) PoolDownFor(carrier string, now time.Time) time.Duration {
	return d.carriers[carrier].pool.downFor(now)
}

// PoolHeld is how many of the named carrier's sending binds this instance holds.
func (d *Dispatcher) PoolHeld(carrier string) int { return d.carriers[carrier].pool.held() }
