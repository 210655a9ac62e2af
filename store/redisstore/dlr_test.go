package redisstore_test

import (
	"testing"

	"github.com/smppd/smppd/store/storetest"
)

func TestDLRConformance(t *testing.T) {
	c := newClient(t)
	storetest.RunDLR(t, func(t *testing.T) storetest.DLRStore {
		p := uniquePrefix()
		deleteKeys(t, c, p)
		return newStore(t, c, p)
	})
}
