package storetest_test

import (
	"testing"

	"github.com/smppd/smppd/store/storetest"
)

// TestLinks runs the store.Links conformance suite against both stores (one store per kind;
// the tests use codes and campaigns of their own).
func TestLinks(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s storetest.LinkStore) {
		storetest.RunLinks(t, func(*testing.T) storetest.LinkStore { return s })
	})
}
