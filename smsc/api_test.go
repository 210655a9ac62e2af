package smsc_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/smpp/text"
	"github.com/smppd/smppd/smsc"
	"github.com/smppd/smppd/smsc/smsctest"
)

func TestInjectMO(t *testing.T) {
	srv := smsctest.Start(t, smsc.Options{})
	long := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 9) // 405 chars: 3 parts
	// Queued before any bind: held until one comes.
	n, err := srv.InjectMO(smsc.MO{Source: "919800000001", Dest: "56161", Text: long, OrderName: "reverse"})
	if err != nil || n != 3 {
		t.Fatalf("inject: %d parts, %v", n, err)
	}
	in := newInbox()
	bind(t, srv, in, withMode(smpp.BindReceiver))
	got := in.wait(t, 3)
	var seqs []int
	var joined [4]string
	for _, p := range got {
		if p.ESMClass&smpp.ESMClassUDHI == 0 || p.Source.Addr != "919800000001" || p.Dest.Addr != "56161" {
			t.Fatalf("MO part %+v", p)
		}
		udh := p.ShortMessage[:p.ShortMessage[0]+1]
		seq := int(udh[5])
		seqs = append(seqs, seq)
		s, err := text.Decode(text.DataCoding(p.DataCoding), p.ShortMessage[len(udh):])
		if err != nil {
			t.Fatal(err)
		}
		joined[seq] = s
	}
	if joined[1]+joined[2]+joined[3] != long {
		t.Errorf("parts do not join to the text")
	}
	slices.Sort(seqs)
	if !slices.Equal(seqs, []int{1, 2, 3}) {
		t.Errorf("part numbers %v", seqs)
	}

	// SAR, UCS-2, explicit order.
	if _, err := srv.InjectMO(smsc.MO{Source: "919800000002", Dest: "56161", Text: strings.Repeat("नमस्ते ", 20), Concat: "sar", Order: []int{2, 3, 1}}); err != nil {
		t.Fatal(err)
	}
	got = in.wait(t, 6)[3:]
	for _, p := range got {
		if p.DataCoding != 8 || !p.TLVs.Has(smpp.TagSARMsgRefNum) || !p.TLVs.Has(smpp.TagSARSegmentSeqnum) {
			t.Errorf("SAR part %+v", p)
		}
	}
	// A short plain MO.
	if n, err := srv.InjectMO(smsc.MO{Source: "919800000003", Dest: "56161", Text: "STOP"}); err != nil || n != 1 {
		t.Fatal(n, err)
	}
	got = in.wait(t, 7)
	if last := got[6]; string(last.ShortMessage) != "STOP" || last.ESMClass != 0 {
		t.Errorf("plain MO %+v", last)
	}
	waitFor(t, "mo counted", func() bool { return srv.Counters().MOSent == 7 })

	for _, bad := range []smsc.MO{{Dest: "1", Text: "x"}, {Source: "1", Dest: "2", Text: "x", Encoding: "ebcdic"}, {SystemID: "ghost", Source: "1", Dest: "2"}} {
		if _, err := srv.InjectMO(bad); err == nil {
			t.Errorf("InjectMO(%+v) accepted", bad)
		}
	}
}

type api struct {
	t  *testing.T
	ts *httptest.Server
}

func (a api) do(method, path, body string, wantCode int, out any) {
	a.t.Helper()
	req, _ := http.NewRequest(method, a.ts.URL+path, strings.NewReader(body))
	resp, err := a.ts.Client().Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantCode {
		a.t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, data, wantCode)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			a.t.Fatalf("%s %s: %v in %s", method, path, err, data)
		}
	}
}

func TestHTTPAPI(t *testing.T) {
	srv := smsctest.Start(t, smsc.Options{})
	ts := httptest.NewServer(srv.HTTPHandler())
	defer ts.Close()
	a := api{t, ts}
	in := newInbox()
	s := bind(t, srv, in)

	var health map[string]string
	a.do("GET", "/healthz", "", 200, &health)
	if health["status"] != "ok" || health["smpp_addr"] != srv.Addr() {
		t.Errorf("healthz %v", health)
	}

	p := sm("919800000001", "hello")
	p.TLVs = smpp.TLVs{smpp.StringTLV(smpp.TagDLTPEID, "1101557290000055412"), smpp.StringTLV(smpp.TagDLTTemplate, "1107161234567890123")}
	id := submit(t, s, p)
	submit(t, s, sm("919800000002", "other"))
	in.wait(t, 2)

	var msgs []smsc.Message
	a.do("GET", "/api/messages?dest=919800000001", "", 200, &msgs)
	if len(msgs) != 1 || msgs[0].ID != id || msgs[0].Text != "hello" || len(msgs[0].TLVs) != 2 || msgs[0].TLVs[1].Value != "1107161234567890123" {
		t.Fatalf("messages %+v", msgs)
	}
	a.do("GET", "/api/messages?limit=1", "", 200, &msgs)
	if len(msgs) != 1 || msgs[0].Dest.Addr != "919800000002" {
		t.Errorf("limit=1 gave %+v", msgs)
	}
	var m smsc.Message
	a.do("GET", "/api/messages/"+id, "", 200, &m)
	if m.ID != id || m.Source.Addr != "ACMEIN" {
		t.Errorf("message %+v", m)
	}
	a.do("GET", "/api/messages/nope", "", 404, nil)

	var binds []smsc.BindInfo
	a.do("GET", "/api/binds", "", 200, &binds)
	if len(binds) != 1 || binds[0].Mode != smpp.BindTransceiver.String() || binds[0].Requests != 2 {
		t.Errorf("binds %+v", binds)
	}
	var counters struct {
		Total    smsc.Counters            `json:"total"`
		Accounts map[string]smsc.Counters `json:"accounts"`
	}
	a.do("GET", "/api/counters", "", 200, &counters)
	if counters.Total.Accepted != 2 || counters.Accounts[smsc.DefaultSystemID].Accepted != 2 {
		t.Errorf("counters %+v", counters)
	}

	// Run-time changes.
	var acc smsc.Account
	a.do("PUT", "/api/accounts/smppd/outcomes", `{"delay_min":"1ms","mix":[{"stat":"UNDELIV","weight":100,"err":42}],"rules":[{"dest":"333","submit_status":"ESME_RSUBMITFAIL","delay":"5ms"}]}`, 200, &acc)
	if acc.Receipts.DelayMin != time.Millisecond || acc.Receipts.Rules[0].Delay != 5*time.Millisecond {
		t.Errorf("outcomes now %+v", acc.Receipts)
	}
	id = submit(t, s, sm("919800000003", "x"))
	waitFor(t, "UNDELIV receipt", func() bool { r := in.receipts()[id]; return r != nil && r.Stat == "UNDELIV" && r.ErrCode == 42 })
	if st := submitStatus(t, s, sm("333", "x")); st != smpp.ESME_RSUBMITFAIL {
		t.Errorf("333: %s", st)
	}
	a.do("PUT", "/api/accounts/smppd/latency", `{"min":"30ms"}`, 200, nil)
	start := time.Now()
	submit(t, s, sm("919800000004", "x"))
	if el := time.Since(start); el < 30*time.Millisecond {
		t.Errorf("latency not applied: %s", el)
	}
	a.do("PUT", "/api/accounts/smppd/latency", `{"min":0}`, 200, nil)
	a.do("PUT", "/api/accounts/smppd/faults", `{"msgqfull":{"every":1}}`, 200, nil)
	if st := submitStatus(t, s, sm("919800000004", "x")); st != smpp.ESME_RMSGQFUL {
		t.Errorf("fault not applied: %s", st)
	}
	a.do("PUT", "/api/accounts/smppd/faults", `{}`, 200, nil)
	a.do("PUT", "/api/accounts/smppd/throttle", `{"per_bind":1,"burst":1}`, 200, nil)
	submitStatus(t, s, sm("919800000004", "x"))
	if st := submitStatus(t, s, sm("919800000004", "x")); st != smpp.ESME_RTHROTTLED {
		t.Errorf("throttle not applied: %s", st)
	}
	a.do("PUT", "/api/accounts/smppd/throttle", `{"per_bind":-1}`, 400, nil)
	a.do("PUT", "/api/accounts/smppd/binds/refuse", `{"status":"ESME_RBINDFAIL"}`, 200, nil)
	if _, err := tryBind(srv, nil); statusOf(t, err) != smpp.ESME_RBINDFAIL {
		t.Errorf("bind while refused: %v", err)
	}
	a.do("PUT", "/api/accounts/smppd/binds/refuse", `{"status":""}`, 200, nil)
	a.do("PUT", "/api/accounts/ghost/latency", `{}`, 404, nil)
	a.do("PUT", "/api/accounts/smppd/outcomes", `{"mix":[{"stat":"NOPE","weight":1}]}`, 400, nil)

	var mo map[string]int
	a.do("POST", "/api/mo", `{"source":"919800000009","dest":"56161","text":"HELP"}`, 202, &mo)
	if mo["parts"] != 1 {
		t.Errorf("mo %v", mo)
	}
	waitFor(t, "MO", func() bool {
		for _, p := range in.list() {
			if string(p.ShortMessage) == "HELP" {
				return true
			}
		}
		return false
	})
	a.do("POST", "/api/mo", `{"source":"1"}`, 400, nil)

	// Stats is what cmd/smscsim exports as metrics (its metrics_test checks the series).
	st := srv.Stats()
	if len(st.Accounts) != 1 || st.Accounts[0].SystemID != "smppd" || st.Accounts[0].Received == 0 ||
		st.Accounts[0].ByStatus["ESME_ROK"] == 0 || st.Accounts[0].BindsActive != 1 || st.Stored == 0 {
		t.Errorf("stats %+v", st)
	}

	a.do("POST", "/api/reset", "", 204, nil)
	a.do("GET", "/api/messages", "", 200, &msgs)
	if len(msgs) != 0 || srv.Counters().Received != 0 {
		t.Errorf("after reset: %d messages, counters %+v", len(msgs), srv.Counters())
	}
	a.do("DELETE", "/api/binds/"+itoa(binds[0].ID), "", 204, nil)
	<-s.Done()
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

func TestStoreIsBounded(t *testing.T) {
	srv := smsctest.Start(t, smsc.Options{StoreSize: 10})
	s := bind(t, srv, nil)
	var ids []string
	for range 25 {
		p := sm("9000", "x")
		p.RegisteredDelivery = 0
		ids = append(ids, submit(t, s, p))
	}
	msgs := srv.Messages(smsc.Filter{})
	if len(msgs) != 10 || msgs[0].ID != ids[15] || msgs[9].ID != ids[24] || msgs[9].Seq != 25 {
		t.Fatalf("kept %d, first %s", len(msgs), msgs[0].ID)
	}
	if _, ok := srv.Message(ids[0]); ok {
		t.Error("evicted message still found")
	}
	if srv.Received() != 25 {
		t.Errorf("received %d", srv.Received())
	}
	if got, err := srv.WaitForMessages(25, time.Second); err != nil || len(got) != 10 {
		t.Errorf("WaitForMessages: %d %v", len(got), err)
	}
}
