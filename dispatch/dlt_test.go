package dispatch

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smppd/smppd/dlt"
	"github.com/smppd/smppd/smsc"
	"github.com/smppd/smppd/smsc/smsctest"
	"github.com/smppd/smppd/store"
)

// With DLT scrubbing on at the simulator, compliant traffic goes through and non-compliant
// traffic (sent as if smppd's registry were switched off) is refused with the DLT code, which
// smppd records as REJECTED under the code's name.
func TestDLTScrubbingAtTheCarrier(t *testing.T) {
	const (
		pe       = "1101557290000055412"
		otpTmpl  = "1107161234567890001"
		tmd      = "1702157571346669272"
		registry = "../testdata/dlt/registry.yaml"
	)
	reg, err := dlt.LoadYAMLFile(registry)
	if err != nil {
		t.Fatal(err)
	}
	forEachStore(t, func(t *testing.T, st store.Store) {
		sim := smsctest.Start(t, smsc.Options{EnquireLinkInterval: -1, DLTRegistryFile: registry, Accounts: []smsc.Account{{
			SystemID: "smppd", Password: "password",
			DLT: smsc.DLT{Enabled: true, RequireChainHash: true},
		}}})
		c := carrierFor("jio", sim, 1, 10)
		c.DLT = dlt.CarrierSpec{TMChain: []string{tmd}}
		d := start(t, Options{Store: st, Carriers: []CarrierOptions{c}, ChainFor: func(peID string) []string {
			chains := reg.Chains(peID)
			if len(chains) == 0 {
				return nil
			}
			return append(append([]string{}, chains[0].TMAF...), chains[0].TMD)
		}})
		cases := []struct {
			name, from, text, template string
			status                     store.Status
			code                       string
			reason                     string
		}{
			{"compliant", "ACMEIN", "Your OTP for login is 482913. Do not share it with anyone. - ACME", otpTmpl, store.StatusSubmitted, "", ""},
			{"text off template", "ACMEIN", "Your PIN for login is 482913. Do not share it with anyone. - ACME", otpTmpl, store.StatusRejected, "633", "template_not_matched"},
			{"unknown template", "ACMEIN", "Your OTP for login is 482913. Do not share it with anyone. - ACME", "1107169999999999999", store.StatusRejected, "630", "template_not_found"},
			{"unregistered header", "ACMEXX", "Your OTP for login is 482913. Do not share it with anyone. - ACME", otpTmpl, store.StatusRejected, "620", "header_not_found"},
		}
		ids := map[string]string{}
		for _, tc := range cases {
			m := &store.Message{Account: "acme", From: tc.from, To: "919812345678", Priority: store.PriorityOTP,
				Text: tc.text, PEID: pe, TemplateID: tc.template}
			if err := d.Submit(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			ids[tc.name] = m.ID
		}
		for _, tc := range cases {
			var r *store.Record
			waitFor(t, 10*time.Second, tc.name+" settled", func() bool {
				r, _ = st.GetRecord(context.Background(), ids[tc.name])
				return r != nil && (r.Status == store.StatusSubmitted || r.Status.Final())
			})
			if r.Status != tc.status || r.ErrorCode != tc.code || !strings.Contains(r.Reason, tc.reason) {
				t.Errorf("%s: status %s code %q reason %q; want %s %q containing %q", tc.name, r.Status, r.ErrorCode, r.Reason, tc.status, tc.code, tc.reason)
			}
		}
		if n := sim.Counters().DLTRejected; n != 3 {
			t.Fatalf("simulator rejected %d for DLT, want 3", n)
		}
	})
}

// Promotional traffic waits for 10:00–21:00 IST, whether it is accepted outside the window or
// comes up for sending outside it.
func TestPromotionalWaitsForTheWindow(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		sim := smsctest.Start(t, smsc.Options{EnquireLinkInterval: -1})
		var clock atomic.Int64
		night := time.Date(2026, 11, 22, 21, 30, 0, 0, dlt.IST)
		clock.Store(night.UnixNano())
		now := func() time.Time { return time.Unix(0, clock.Load()) }
		d := start(t, Options{Store: st, Carriers: []CarrierOptions{carrierFor("jio", sim, 1, 10)}, Now: now})
		promo := msg(1, "919812345678", store.PriorityPromotional)
		promo.Windowed = true
		trans := msg(2, "919812345679", store.PriorityTransactional)
		if err := d.Submit(context.Background(), promo, trans); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "the transactional one sent", func() bool { return sim.Received() == 1 })
		r, _ := st.GetRecord(context.Background(), promo.ID)
		if r.Status != store.StatusScheduled || sim.Received() != 1 {
			t.Fatalf("promotional at 21:30 IST: status %s, sent %d", r.Status, sim.Received())
		}
		if want := time.Date(2026, 11, 23, 10, 0, 0, 0, dlt.IST); !promo.SendAt.Equal(want) {
			t.Fatalf("send at %s, want %s", promo.SendAt, want)
		}
		clock.Store(time.Date(2026, 11, 23, 10, 0, 1, 0, dlt.IST).UnixNano())
		waitFor(t, 10*time.Second, "the promotional one sent in the window", func() bool { return sim.Received() == 2 })
	})
}
