package memstore_test

import (
	"testing"

	"github.com/smppd/smppd/store/memstore"
	"github.com/smppd/smppd/store/storetest"
)

func TestOTPConformance(t *testing.T) {
	storetest.RunOTP(t, func(t *testing.T) storetest.OTPStore {
		s := memstore.New()
		t.Cleanup(func() { s.Close() })
		return s
	})
}
