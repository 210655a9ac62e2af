package storetest

import (
	"testing"

	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/memstore"
)

// OpenMemory opens a fresh in-memory store and closes it when the test ends.
func OpenMemory(t testing.TB) *memstore.Store {
	s := memstore.New()
	t.Cleanup(func() { s.Close() })
	return s
}

// A Kind is one store implementation that the tests of the store's consumers run against.
type Kind struct {
	Name string
	Open func(t testing.TB) store.Store // a fresh, empty store, closed when t ends
}

// Kinds are the stores a consumer is tested against: "memory" (OpenMemory) and "redis"
// (OpenRedis under a UniquePrefix). ForEach runs a test on each; a test that needs a fresh
// store per subtest ranges over Kinds itself.
var Kinds = []Kind{
	{"memory", func(t testing.TB) store.Store { return OpenMemory(t) }},
	{"redis", func(t testing.TB) store.Store { return OpenRedis(t, UniquePrefix(t)) }},
}

// ForEach runs f as one subtest per Kind, named after it, with a fresh store of that kind,
// so a consumer of the store is tested against both implementations the same way. S is the
// view of the store the test needs: store.Store, or an interface of the consumer's own that
// both stores implement (a store that does not fails the test). T is *testing.T or
// *testing.B: benchmarks compare the stores the same way.
func ForEach[T runner[T], S any](t T, f func(t T, st S)) {
	t.Helper()
	for _, kind := range Kinds {
		t.Run(kind.Name, func(t T) {
			st, ok := kind.Open(t).(S)
			if !ok {
				t.Fatalf("the %s store does not implement %T", kind.Name, (*S)(nil))
			}
			f(t, st)
		})
	}
}

// runner is a test or a benchmark: what ForEach needs to run subtests of its own kind.
type runner[T any] interface {
	testing.TB
	Run(name string, f func(T)) bool
}
