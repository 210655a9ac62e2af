package api

import (
	"encoding/json"
	"io"
	"net/http/httptest"
	"testing"

	"github.com/smppd/smppd/dispatch"
	"github.com/smppd/smppd/dispatch/dispatchtest"
	"github.com/smppd/smppd/smsc"
	"github.com/smppd/smppd/smsc/smsctest"
	"github.com/smppd/smppd/store/storetest"
)

// A number no route covers reaches the client as 2Factor's invalid-number reply, not as a
// server error: the dispatcher's ErrNoRoute keeps its type through SubmitError, over real
// HTTP and a real dispatcher that routes only 9170… to its one carrier. A routed number on
// the same server goes through, so the refusal is the route's and not a broken dispatcher.
func TestNoRouteOverHTTP(t *testing.T) {
	sim := smsctest.Start(t, smsc.Options{EnquireLinkInterval: -1, Accounts: []smsc.Account{{SystemID: "smppd", Password: "password"}}})
	d := dispatchtest.Start(t, dispatch.Options{
		Store:    storetest.OpenMemory(t),
		Carriers: []dispatch.CarrierOptions{dispatchtest.Carrier("jio", sim.Addr(), 1, 10)},
		Routes:   []dispatch.Route{{Prefix: "9170", Carriers: []string{"jio"}}},
	})
	e := newEnv(t, func(o *Options) { o.Sender = d })
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)

	get := func(path string) (int, reply) {
		t.Helper()
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var r reply
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("%s: %q", path, b)
		}
		return resp.StatusCode, r
	}
	cases := []struct {
		name, path      string
		code            int
		status, details string
	}{
		{"V1 OTP, unrouted", "/API/V1/" + key1 + "/SMS/9812345678/12345", 400, "Error", msgNoRoute},
		{"R1 TRANS_SMS, unrouted", "/API/R1/?" + form("module", "TRANS_SMS", "apikey", key1, "to", "9812345678", "from", "ACMEIN", "msg", paymentText), 200, "Error", msgNoRoute},
		{"credits refunded", "/API/V1/" + key1 + "/BAL/SMS", 200, "Success", "1000"},
		{"V1 OTP, routed", "/API/V1/" + key1 + "/SMS/7012345678/12345", 200, "Success", ""},
	}
	for _, c := range cases {
		code, r := get(c.path)
		if code != c.code || r.Status != c.status || c.details != "" && r.Details != c.details {
			t.Errorf("%s: HTTP %d %+v, want %d %s %q", c.name, code, r, c.code, c.status, c.details)
		}
	}
}
