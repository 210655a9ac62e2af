package dispatchtest

import (
	"time"

	"github.com/smppd/smppd/dispatch"
	"github.com/smppd/smppd/dlt"
	"github.com/smppd/smppd/smpp"
)

// Carrier is a carrier with binds transceiver binds to the simulator (or test SMSC) at addr,
// as system id "smppd" with password "password", each with the given window. Binds answer
// within 2s, send no enquire_link (a test's traffic is its own), and reconnect within
// 10-100ms so a test that drops them does not wait. Its DLT chain is tmChain.
func Carrier(name, addr string, binds, window int, tmChain ...string) dispatch.CarrierOptions {
	return dispatch.CarrierOptions{
		Name: name,
		Binds: []dispatch.BindGroup{{
			Addrs: []string{addr}, Count: binds,
			Bind:         smpp.Bind{Mode: smpp.BindTransceiver, SystemID: "smppd", Password: "password"},
			Session:      smpp.Options{WindowSize: window, ResponseTimeout: 2 * time.Second, EnquireLinkInterval: -1},
			ReconnectMin: 10 * time.Millisecond, ReconnectMax: 100 * time.Millisecond,
		}},
		DLT: dlt.CarrierSpec{TMChain: tmChain},
	}
}
