package memstore_test

import (
	"testing"

	"github.com/smppd/smppd/store/memstore"
	"github.com/smppd/smppd/store/storetest"
)

func TestDLRConformance(t *testing.T) {
	storetest.RunDLR(t, func(t *testing.T) storetest.DLRStore {
		s := memstore.New()
		t.Cleanup(func() { s.Close() })
		return s
	})
}
