package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/smppd/smppd/dispatch"
	"github.com/smppd/smppd/dispatch/dispatchtest"
	"github.com/smppd/smppd/dlt"
	"github.com/smppd/smppd/otp"
	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/smsc"
	"github.com/smppd/smppd/smsc/smsctest"
	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/redisstore"
	"github.com/smppd/smppd/store/storetest"
)

const tmd = "1702157571346669272"

// pipeline is smppd's HTTP API over a real dispatcher, the simulator and Redis.
type pipeline struct {
	api     *httptest.Server
	simHTTP *httptest.Server
	sim     *smsc.Server
	st      *redisstore.Store
	clock   *testClock
	client  *http.Client
}

func newPipeline(tb testing.TB, scrub bool, mod func(*Options)) *pipeline {
	tb.Helper()
	reg, err := dlt.LoadYAMLFile(testRegistry)
	if err != nil {
		tb.Fatal(err)
	}
	sim := smsctest.Start(tb, smsc.Options{EnquireLinkInterval: -1, DLTRegistryFile: testRegistry, Accounts: []smsc.Account{{
		SystemID: "smppd", Password: "password", DLT: smsc.DLT{Enabled: scrub, RequireChainHash: scrub},
	}}})
	simHTTP := httptest.NewServer(sim.HTTPHandler())
	tb.Cleanup(simHTTP.Close)
	st := storetest.OpenRedis(tb, storetest.UniquePrefix(tb))
	clock := &testClock{}
	clock.set(time.Now())
	d, err := dispatch.New(dispatch.Options{
		Store: st, ClaimWait: 50 * time.Millisecond, PromoteEvery: 20 * time.Millisecond,
		Carriers: []dispatch.CarrierOptions{{
			Name: "jio",
			Binds: []dispatch.BindGroup{{
				Addrs: []string{sim.Addr()}, Count: 2,
				Bind:         smpp.Bind{Mode: smpp.BindTransceiver, SystemID: "smppd", Password: "password"},
				Session:      smpp.Options{WindowSize: 50, ResponseTimeout: 2 * time.Second, EnquireLinkInterval: -1},
				ReconnectMin: 10 * time.Millisecond, ReconnectMax: 100 * time.Millisecond,
			}},
			DLT: dlt.CarrierSpec{TMChain: []string{tmd}},
		}},
		ChainFor: func(pe string) []string {
			if cs := reg.Chains(pe); len(cs) > 0 {
				return append(append([]string{}, cs[0].TMAF...), cs[0].TMD)
			}
			return nil
		},
		Receipts: dispatchtest.AckReceipts{},
	})
	if err != nil {
		tb.Fatal(err)
	}
	d.Start()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = d.Shutdown(ctx)
	})
	svc, err := otp.New(otp.Options{Store: st, Key: []byte("e2e otp hmac key, 32 bytes or more"), Now: clock.now, MaxAttempts: 3})
	if err != nil {
		tb.Fatal(err)
	}
	o := Options{Accounts: testAccounts(), Sender: d, OTP: svc, Credits: st, Records: st,
		Registry: func() *dlt.Registry { return reg }, Now: clock.now, Logger: zerolog.Nop()}
	if mod != nil {
		mod(&o)
	}
	s, err := New(o)
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	tb.Cleanup(srv.Close)
	return &pipeline{api: srv, simHTTP: simHTTP, sim: sim, st: st, clock: clock,
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 512, MaxConnsPerHost: 0}}}
}

func (p *pipeline) call(tb testing.TB, method, path, ctype, body string) (int, map[string]any) {
	tb.Helper()
	req, _ := http.NewRequest(method, p.api.URL+path, strings.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatalf("%s: %q", path, b)
	}
	return resp.StatusCode, m
}

// simMessages reads the simulator's inspection API.
func (p *pipeline) simMessages(tb testing.TB, dest string) []smsc.Message {
	resp, err := http.Get(p.simHTTP.URL + "/api/messages?limit=0&dest=" + url.QueryEscape(dest))
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var ms []smsc.Message
	if err := json.NewDecoder(resp.Body).Decode(&ms); err != nil {
		tb.Fatal(err)
	}
	return ms
}

// codeFromSim waits for the n-th message to dest and returns its OTP.
func (p *pipeline) codeFromSim(t *testing.T, dest string, n int) (string, smsc.Message) {
	t.Helper()
	var ms []smsc.Message
	if !smsc.WaitFor(10*time.Second, func() bool { ms = p.simMessages(t, dest); return len(ms) >= n }) {
		t.Fatalf("the simulator got %d messages for %s, want %d", len(ms), dest, n)
	}
	m := ms[n-1]
	mm := codeInText.FindStringSubmatch(m.Text)
	if mm == nil {
		t.Fatalf("no code in %q", m.Text)
	}
	return mm[1], m
}

func tlvValue(m smsc.Message, tag uint16) string {
	for _, v := range m.TLVs {
		if v.Tag == tag {
			return v.Value
		}
	}
	return ""
}

func TestEndToEndOTP(t *testing.T) {
	p := newPipeline(t, true, nil)
	const phone = "919812345678"
	v1 := "/API/V1/" + key1

	code, m := p.call(t, "GET", v1+"/SMS/+"+phone+"/AUTOGEN/OTP1", "", "")
	if code != 200 || m["Status"] != "Success" {
		t.Fatal(code, m)
	}
	session := m["Details"].(string)
	otpCode, sm := p.codeFromSim(t, phone, 1)
	if sm.Status != "ESME_ROK" || sm.Source.Addr != "ACMEIN" || tlvValue(sm, 0x1400) != acmePE || tlvValue(sm, 0x1401) != otpCT ||
		tlvValue(sm, 0x1402) != dlt.ChainHash(acmePE, tmd) || sm.DLTError != 0 {
		t.Fatalf("at the carrier: %+v", sm)
	}
	if code, m := p.call(t, "GET", v1+"/SMS/VERIFY/"+session+"/"+wrong(otpCode), "", ""); code != 400 || m["Details"] != msgOTPMismatch {
		t.Fatal(code, m)
	}
	if code, m := p.call(t, "POST", v1+"/SMS/VERIFY/"+session+"/"+otpCode, "", ""); code != 200 || m["Details"] != msgOTPMatched {
		t.Fatal(code, m)
	}
	if code, m := p.call(t, "GET", v1+"/SMS/VERIFY/"+session+"/"+otpCode, "", ""); code != 400 || m["Details"] != msgOTPExpired {
		t.Fatalf("a consumed session: %d %v", code, m)
	}
	// the status record, through TRANS_SMS_DLR
	if !smsc.WaitFor(10*time.Second, func() bool {
		r, err := p.st.GetRecord(context.Background(), session)
		return err == nil && r.Status == store.StatusSubmitted
	}) {
		t.Fatal("record not SUBMITTED")
	}
	if code, m := p.call(t, "POST", "/API/R1/", "application/x-www-form-urlencoded", form("module", "TRANS_SMS_DLR", "apikey", key1, "sessionid", session)); code != 200 || m["DeliveryStatus"] != "SUBMITTED" {
		t.Fatal(code, m)
	}

	// attempts run out
	_, m = p.call(t, "GET", v1+"/SMS/"+phone+"/AUTOGEN3", "", "")
	session = m["Details"].(string)
	otpCode, _ = p.codeFromSim(t, phone, 2)
	if len(otpCode) != 4 {
		t.Fatalf("AUTOGEN3 sent %q", otpCode)
	}
	for range 3 {
		if code, m := p.call(t, "GET", v1+"/SMS/VERIFY/"+session+"/"+wrong(otpCode)[:4], "", ""); code != 400 || m["Details"] != msgOTPMismatch {
			t.Fatal(code, m)
		}
	}
	if code, m := p.call(t, "GET", v1+"/SMS/VERIFY/"+session+"/"+otpCode, "", ""); code != 400 || m["Details"] != msgOTPLocked {
		t.Fatal(code, m)
	}

	// expiry, with the injected clock; VERIFY3 by phone
	if code, _ := p.call(t, "GET", v1+"/SMS/"+phone+"/AUTOGEN", "", ""); code != 200 {
		t.Fatal(code)
	}
	otpCode, _ = p.codeFromSim(t, phone, 3)
	p.clock.add(10*time.Minute + time.Second)
	if code, m := p.call(t, "GET", v1+"/SMS/VERIFY3/%2B"+phone+"/"+otpCode, "", ""); code != 400 || m["Details"] != msgOTPExpired {
		t.Fatal(code, m)
	}
	if code, _ := p.call(t, "GET", v1+"/SMS/"+phone+"/AUTOGEN", "", ""); code != 200 {
		t.Fatal(code)
	}
	otpCode, _ = p.codeFromSim(t, phone, 4)
	if code, m := p.call(t, "GET", v1+"/SMS/VERIFY3/"+phone[2:]+"/"+otpCode, "", ""); code != 200 || m["Details"] != msgOTPMatched {
		t.Fatal(code, m)
	}
	if n := p.sim.Counters().DLTRejected; n != 0 {
		t.Fatalf("the carrier's DLT scrub rejected %d", n)
	}
}

func TestEndToEndTransAndBulk(t *testing.T) {
	p := newPipeline(t, true, nil)
	fu := "application/x-www-form-urlencoded"
	// DLT violations are caught before sending.
	for _, msg := range []string{"Free money!", "Rs.500 received for order " + strings.Repeat("A", 31) + ". Thank you for shopping with ACME."} {
		code, m := p.call(t, "POST", "/API/R1/", fu, form("module", "TRANS_SMS", "apikey", key1, "to", "9812345670", "from", "ACMEIN", "msg", msg))
		if code != 200 || m["Status"] != "Error" || !strings.HasPrefix(m["Details"].(string), "DLT:") {
			t.Fatal(code, m)
		}
	}
	code, m := p.call(t, "POST", "/API/R1/", fu, form("module", "TRANS_SMS", "apikey", key1, "to", "9812345670,9812345671", "from", "ACMEIN", "msg", paymentText))
	if code != 200 || m["Status"] != "Success" {
		t.Fatal(code, m)
	}
	body := bulkBody(key1, bulkMsg("+919812345672", paymentText), bulkMsg("+91981234", paymentText), bulkMsg("+919812345673", "spam spam"), bulkMsg("+919812345674", paymentText))
	code, m = p.call(t, "POST", "/API/R1/Bulk/", "application/json", body)
	if code != 200 || m["success"] != true || m["messageCount"] != float64(2) {
		t.Fatal(code, m)
	}
	if !smsc.WaitFor(10*time.Second, func() bool { return p.sim.Received() >= 4 }) {
		t.Fatalf("simulator got %d", p.sim.Received())
	}
	for _, d := range []string{"919812345670", "919812345671", "919812345672", "919812345674"} {
		ms := p.simMessages(t, d)
		if len(ms) != 1 || ms[0].Text != paymentText || tlvValue(ms[0], 0x1401) != paymentCT {
			t.Fatalf("%s: %+v", d, ms)
		}
	}
	if n := p.sim.Received(); n != 4 {
		t.Fatalf("simulator got %d messages, want 4", n)
	}
	if code, m := p.call(t, "GET", "/API/V1/"+key1+"/BAL/SMS", "", ""); code != 200 || m["Details"] != "996" {
		t.Fatal(code, m)
	}
	_ = fmt.Sprint
}
