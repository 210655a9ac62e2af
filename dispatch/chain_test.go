package dispatch_test

import (
	"context"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/smppd/smppd/dispatch"
	"github.com/smppd/smppd/dispatch/dispatchtest"
	"github.com/smppd/smppd/internal/wait"
	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/smsc"
	"github.com/smppd/smppd/smsc/smsctest"
	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/storetest"
)

// The TM-AF ids a message came through (store.Message.TMIDs: a client aggregator's chain and
// TM id) go between the PE and smppd's own chain, in the bytes of the chain TLV the carrier
// gets: the SHA-256 of "PE,TMAF…,TMD" (the vectors of dlt-smpp.md §1.3) or the raw list,
// ending with the registered chain's TM-D (not its TM-AF ids, which are some path's) or the
// carrier's TMChain. A message without TM-AF ids keeps the registered chain as before. On
// both stores: the ids survive the queue (Redis keeps messages as JSON).
func TestAggregatorTMIDsInTheChainTLV(t *testing.T) {
	storetest.ForEach(t, testTMIDsInTheChainTLV)
}

func testTMIDsInTheChainTLV(t *testing.T, st store.Store) {
	const (
		pe   = "1101172974420810001"
		af1  = "1101172974420820002"
		af2  = "1101172974420820003"
		tmd  = "1101172974420830004"
		ctid = "1107161234567890001"
	)
	sim := smsctest.Start(t, smsc.Options{EnquireLinkInterval: -1, Accounts: []smsc.Account{{SystemID: "smppd", Password: "password"}}})
	raw := dispatchtest.Carrier("raw", sim.Addr(), 1, 10, tmd)
	raw.DLT.ChainMode = "raw"
	registered := map[string][]string{} // PE → the chain the registry has for it
	d := dispatchtest.Start(t, dispatch.Options{
		Store:    st,
		Carriers: []dispatch.CarrierOptions{dispatchtest.Carrier("hash", sim.Addr(), 1, 10, tmd), raw},
		Routes:   []dispatch.Route{{Prefix: "9170", Carriers: []string{"hash"}}, {Prefix: "9180", Carriers: []string{"raw"}}},
		ChainFor: func(peID string) []string { return registered[peID] },
	})
	const regPE = "1101172974420810009" // an entity whose registered chain goes through af1
	registered[regPE] = []string{af1, tmd}
	const otherPE = "1101172974420810008" // an entity whose (first) registered chain goes through af2
	registered[otherPE] = []string{af2, tmd}
	cases := []struct {
		name, pe, to string
		tms          []string
		want         string // the TLV's bytes as text
	}{
		{"direct", pe, "917000000001", nil, "c0c951afca257c5b87c3da535c09112080483f35b7e6faf35e2428b3b526b694"},
		{"one aggregator", pe, "917000000002", []string{af1}, "ba38bbe4ab3780a70aad6071c006e720eed8efc1ff70b00691d3b6844e6497e2"},
		{"two aggregators", pe, "917000000003", []string{af1, af2}, "d3133e436040034d9e95932ea93a1f82c37e1d98803229f835d8f3124e77e07f"},
		{"raw, two aggregators", pe, "918000000004", []string{af1, af2}, pe + "," + af1 + "," + af2 + "," + tmd},
		{"raw, registered chain names the aggregator", regPE, "918000000005", []string{af1}, regPE + "," + af1 + "," + tmd},
		{"raw, registered chain, none from the message", regPE, "918000000006", nil, regPE + "," + af1 + "," + tmd},
		{"raw, registered chain through another aggregator", otherPE, "918000000007", []string{af1}, otherPE + "," + af1 + "," + tmd},
	}
	ids := make([]string, len(cases))
	for i, c := range cases {
		m := &store.Message{Account: "agg", From: "ACMEIN", To: c.to, Priority: store.PriorityTransactional,
			Text: "chain " + c.name, PEID: c.pe, TemplateID: ctid, TMIDs: c.tms}
		if err := d.Submit(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		ids[i] = m.ID
	}
	wait.For(t, 10*time.Second, "every message at the simulator", func() bool { return sim.Received() >= len(cases) })
	for _, c := range cases {
		ms := sim.Messages(smsc.Filter{Dest: c.to})
		if len(ms) != 1 {
			t.Fatalf("%s: %d submits", c.name, len(ms))
		}
		v, ok := ms[0].RawTLV.Get(smpp.TagDLTChainHash)
		if !ok || string(v.Value) != c.want {
			t.Errorf("%s: chain TLV %q (%s), want %q", c.name, v.Value, hex.EncodeToString(v.Value), c.want)
		}
		if pe, _ := ms[0].RawTLV.String(smpp.TagDLTPEID); pe != c.pe {
			t.Errorf("%s: PE TLV %q", c.name, pe)
		}
	}
	// The record keeps the message's DLT data and the timeline the chain TLV it went out
	// with, for the console's message page.
	ctx := context.Background()
	for i, c := range cases {
		wait.For(t, 10*time.Second, c.name+" submitted", func() bool {
			r, err := st.GetRecord(ctx, ids[i])
			return err == nil && r.Status == store.StatusSubmitted
		})
		r, _ := st.GetRecord(ctx, ids[i])
		if r.PEID != c.pe || r.TemplateID != ctid || strings.Join(r.TMIDs, ",") != strings.Join(c.tms, ",") {
			t.Errorf("%s: record DLT data %q %q %q", c.name, r.PEID, r.TemplateID, r.TMIDs)
		}
		evs, err := st.MessageTimeline(ctx, ids[i])
		if err != nil {
			t.Fatal(err)
		}
		chain := ""
		for _, e := range evs {
			if e.Kind == store.EventSubmitted && e.Chain != "" {
				chain = e.Chain
			}
		}
		if chain != c.want {
			t.Errorf("%s: submitted event's chain %q, want %q", c.name, chain, c.want)
		}
	}
}
