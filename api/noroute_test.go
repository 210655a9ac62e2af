package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/smppd/smppd/dispatch"
	"github.com/smppd/smppd/dispatch/dispatchtest"
	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/smsc"
	"github.com/smppd/smppd/smsc/smsctest"
	"github.com/smppd/smppd/store/memstore"
)

// A number no route covers reaches the client as 2Factor's invalid-number reply, not as a
// server error: the dispatcher's ErrNoRoute keeps its type through SubmitError, over real
// HTTP and a real dispatcher that routes only 9170… to its one carrier. A routed number on
// the same server goes through, so the refusal is the route's and not a broken dispatcher.
func TestNoRouteOverHTTP(t *testing.T) {
	sim := smsctest.Start(t, smsc.Options{EnquireLinkInterval: -1, Accounts: []smsc.Account{{SystemID: "smppd", Password: "password"}}})
	st := memstore.New()
	t.Cleanup(func() { st.Close() })
	d, err := dispatch.New(dispatch.Options{
		Store: st,
		Carriers: []dispatch.CarrierOptions{{
			Name: "jio",
			Binds: []dispatch.BindGroup{{
				Addrs: []string{sim.Addr()}, Count: 1,
				Bind:    smpp.Bind{Mode: smpp.BindTransceiver, SystemID: "smppd", Password: "password"},
				Session: smpp.Options{EnquireLinkInterval: -1},
			}},
		}},
		Routes:   []dispatch.Route{{Prefix: "9170", Carriers: []string{"jio"}}},
		Receipts: dispatchtest.AckReceipts{},
	})
	if err != nil {
		t.Fatal(err)
	}
	d.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = d.Shutdown(ctx)
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
