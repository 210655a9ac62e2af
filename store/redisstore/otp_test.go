package redisstore_test

import (
	"testing"

	"github.com/smppd/smppd/store/storetest"
)

func TestOTPConformance(t *testing.T) {
	storetest.RunOTP(t, func(t *testing.T) storetest.OTPStore {
		return storetest.OpenRedis(t, storetest.UniquePrefix(t))
	})
}
