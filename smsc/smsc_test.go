package smsc_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/smsc"
	"github.com/smppd/smppd/smsc/smsctest"
)

func TestDefaultsJustWork(t *testing.T) {
	srv := smsctest.Start(t, smsc.Options{})
	in := newInbox()
	s := bind(t, srv, in)
	p := sm("919800000001", "hello world, this is a test")
	p.TLVs = smpp.TLVs{smpp.StringTLV(smpp.TagDLTPEID, "1101557290000055412")}
	id := submit(t, s, p)
	if id == "" {
		t.Fatal("empty message id")
	}
	in.wait(t, 1)
	d := in.list()[0]
	if d.ESMClass != smpp.ESMClassDeliveryRcpt {
		t.Errorf("esm_class %#x, want receipt", d.ESMClass)
	}
	if d.Source.Addr != "919800000001" || d.Dest.Addr != "ACMEIN" {
		t.Errorf("receipt addresses %v -> %v, want the handset to the sender", d.Source, d.Dest)
	}
	r, err := smpp.ParseReceipt(d, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.MessageID != id || r.TextID != id || r.Stat != "DELIVRD" || r.State != smpp.StateDelivered || r.ErrCode != 0 {
		t.Errorf("receipt %+v, want DELIVRD for %s", r, id)
	}
	if !r.HasNetworkError || r.NetworkErrorType != 3 {
		t.Errorf("network_error_code missing: %+v", r)
	}
	if !strings.Contains(string(d.ShortMessage), "sub:001 dlvrd:001") || !strings.HasSuffix(string(d.ShortMessage), "text:hello world, this is") {
		t.Errorf("receipt text %q", d.ShortMessage)
	}

	msgs := srv.Messages(smsc.Filter{})
	if len(msgs) != 1 {
		t.Fatalf("%d messages stored, want 1", len(msgs))
	}
	m := msgs[0]
	if m.ID != id || m.Text != "hello world, this is a test" || m.Command != "submit_sm" || m.SystemID != smsc.DefaultSystemID {
		t.Errorf("stored %+v", m)
	}
	if len(m.TLVs) != 1 || m.TLVs[0].Tag != 0x1400 || m.TLVs[0].Value != "1101557290000055412" || m.TLVs[0].Name != "dlt_pe_id" {
		t.Errorf("stored TLVs %+v", m.TLVs)
	}
	waitFor(t, "receipt marked sent", func() bool { m, _ := srv.Message(id); return m.Receipt == "sent" })
	got, _ := srv.Message(id)
	if got.State != "DELIVRD" || got.DoneAt == nil {
		t.Errorf("state %q done %v", got.State, got.DoneAt)
	}
	c := srv.Counters()
	if c.Received != 1 || c.Accepted != 1 || c.ReceiptsSent != 1 || c.BindsActive != 1 || c.ByStatus["ESME_ROK"] != 1 {
		t.Errorf("counters %+v", c)
	}
}

func TestBindRules(t *testing.T) {
	srv := smsctest.Start(t, smsc.Options{Accounts: []smsc.Account{
		{SystemID: "acme", Password: "secret", MaxBinds: 2},
		{SystemID: "capped", Password: "pw", MaxBinds: 1, MaxBindsStatus: "ESME_RBINDFAIL"},
		{SystemID: "refused", Password: "pw", RefuseBinds: "ESME_RBINDFAIL"},
	}})
	bind(t, srv, nil, withCreds("acme", "secret"))
	bind(t, srv, nil, withCreds("acme", "secret"), withMode(smpp.BindReceiver))
	bind(t, srv, nil, withCreds("capped", "pw"))
	for _, tc := range []struct {
		name, id, pw string
		want         smpp.CommandStatus
	}{
		{"wrong password", "acme", "nope", smpp.ESME_RINVPASWD},
		{"unknown system_id", "ghost", "pw", smpp.ESME_RINVSYSID},
		{"beyond max binds", "acme", "secret", smpp.ESME_RALYBND},
		{"beyond max binds, custom status", "capped", "pw", smpp.ESME_RBINDFAIL},
		{"refused on demand", "refused", "pw", smpp.ESME_RBINDFAIL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tryBind(srv, nil, withCreds(tc.id, tc.pw))
			if got := statusOf(t, err); got != tc.want {
				t.Errorf("bind: %s, want %s", got, tc.want)
			}
		})
	}
	// Refusal is switched at run time, and a freed slot can be bound again.
	if err := srv.RefuseBinds("refused", ""); err != nil {
		t.Fatal(err)
	}
	bind(t, srv, nil, withCreds("refused", "pw"))
	if err := srv.RefuseBinds("acme", "ESME_RBINDFAIL"); err != nil {
		t.Fatal(err)
	}
	if len(srv.Binds()) != 4 {
		t.Errorf("%d binds, want 4", len(srv.Binds()))
	}
	c, _ := srv.AccountCounters("acme")
	if c.BindsAccepted != 2 || c.BindsRefused != 2 || c.BindsActive != 2 {
		t.Errorf("acme counters %+v", c)
	}
}

func TestMaxBindsSlotFreedOnUnbind(t *testing.T) {
	srv := smsctest.Start(t, smsc.Options{Accounts: []smsc.Account{{SystemID: "one", Password: "pw", MaxBinds: 1}}})
	s := bind(t, srv, nil, withCreds("one", "pw"))
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "slot freed", func() bool { return len(srv.Binds()) == 0 })
	bind(t, srv, nil, withCreds("one", "pw"))
}

func TestMessageIDFormats(t *testing.T) {
	for _, tc := range []struct {
		f    smsc.MessageIDFormat
		want string
	}{
		{smsc.MessageIDFormat{}, `^[1-9][0-9]{9,19}$`},
		{smsc.MessageIDFormat{Kind: "hex"}, `^[0-9a-f]+$`},
		{smsc.MessageIDFormat{Kind: "HEX"}, `^[0-9A-F]+$`},
		{smsc.MessageIDFormat{Kind: "uuid"}, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`},
		{smsc.MessageIDFormat{Kind: "decimal", Length: 10}, `^[0-9]{10}$`},
		{smsc.MessageIDFormat{Kind: "hex", Length: 24}, `^[0-9a-f]{24}$`},
		{smsc.MessageIDFormat{Kind: "HEX", Length: 8, Prefix: "AIR"}, `^AIR[0-9A-F]{8}$`},
	} {
		t.Run(fmt.Sprintf("%s/%d/%s", tc.f.Kind, tc.f.Length, tc.f.Prefix), func(t *testing.T) {
			f := tc.f
			srv := smsctest.Start(t, smsc.Options{Accounts: []smsc.Account{{SystemID: smsc.DefaultSystemID, Password: smsc.DefaultPassword, MessageID: &f}}})
			s := bind(t, srv, nil)
			re := regexp.MustCompile(tc.want)
			seen := map[string]bool{}
			for i := range 200 {
				p := sm("9198000000"+fmt.Sprint(i%10), "x")
				p.RegisteredDelivery = 0
				id := submit(t, s, p)
				if !re.MatchString(id) {
					t.Fatalf("id %q does not match %s", id, tc.want)
				}
				if seen[id] {
					t.Fatalf("id %q repeated", id)
				}
				seen[id] = true
			}
		})
	}
}

func intp(n int) *int { return &n }

func TestOutcomes(t *testing.T) {
	rules := []smsc.Rule{
		{Dest: "919800000333", SubmitStatus: "ESME_RSUBMITFAIL"},
		{Dest: "919800000444", SubmitStatus: "ESME_RTHROTTLED"},
		{Dest: "919800000666", Stat: "UNDELIV", Err: intp(35)},
		{Prefix: "9177", Stat: "EXPIRED"},
		{Suffix: "99", Stat: "REJECTD", Err: intp(53)},
	}
	srv := smsctest.Start(t, smsc.Options{Accounts: []smsc.Account{{SystemID: smsc.DefaultSystemID, Password: smsc.DefaultPassword,
		Receipts: smsc.Receipts{Rules: rules, Mix: []smsc.Weighted{{Stat: "UNDELIV", Weight: 100, Err: intp(7)}}}}}})
	in := newInbox()
	s := bind(t, srv, in)
	for _, tc := range []struct {
		dest    string
		status  smpp.CommandStatus
		stat    string
		errCode int
	}{
		{"919800000333", smpp.ESME_RSUBMITFAIL, "", 0},
		{"919800000444", smpp.ESME_RTHROTTLED, "", 0},
		{"919800000666", 0, "UNDELIV", 35},
		{"917700000001", 0, "EXPIRED", 1},
		{"919800000199", 0, "REJECTD", 53},
		{"919800000123", 0, "UNDELIV", 7}, // the mix
	} {
		t.Run(tc.dest, func(t *testing.T) {
			resp, err := s.Submit(context.Background(), sm(tc.dest, "hi"))
			if got := statusOf(t, err); got != tc.status {
				t.Fatalf("status %s, want %s", got, tc.status)
			}
			if tc.status != 0 {
				return
			}
			waitFor(t, "receipt", func() bool { return in.receipts()[resp.MessageID] != nil })
			r := in.receipts()[resp.MessageID]
			if r.Stat != tc.stat || r.ErrCode != tc.errCode || int(r.NetworkErrorCode) != tc.errCode {
				t.Errorf("receipt stat %s err %d nerr %d, want %s %d", r.Stat, r.ErrCode, r.NetworkErrorCode, tc.stat, tc.errCode)
			}
		})
	}
}

func TestFirstDigitRule(t *testing.T) {
	srv := smsctest.Start(t, smsc.Options{Accounts: []smsc.Account{{SystemID: smsc.DefaultSystemID, Receipts: smsc.Receipts{FirstDigit: true}}}})
	in := newInbox()
	s := bind(t, srv, in)
	want := map[string]string{"1000": "EXPIRED", "2000": "DELETED", "3000": "UNDELIV", "4000": "ACCEPTD", "5000": "REJECTD", "6000": "DELIVRD", "+3000": "UNDELIV"}
	ids := map[string]string{}
	for dest := range want {
		ids[dest] = submit(t, s, sm(dest, "x"))
	}
	in.wait(t, len(want))
	got := in.receipts()
	for dest, stat := range want {
		if r := got[ids[dest]]; r == nil || r.Stat != stat {
			t.Errorf("%s: receipt %+v, want %s", dest, r, stat)
		}
	}
}

func TestRegisteredDelivery(t *testing.T) {
	srv := smsctest.Start(t, smsc.Options{Accounts: []smsc.Account{{SystemID: smsc.DefaultSystemID, Password: smsc.DefaultPassword,
		Receipts: smsc.Receipts{Rules: []smsc.Rule{{Prefix: "5", Stat: "UNDELIV"}, {Dest: "7000", NoReceipt: true}}}}}})
	in := newInbox()
	s := bind(t, srv, in)
	none := sm("1000", "no receipt asked")
	none.RegisteredDelivery = 0
	okOnFailure := sm("1001", "delivered, failure-only receipt")
	okOnFailure.RegisteredDelivery = smpp.RegisteredDeliveryErr
	failOnFailure := sm("5000", "failed, failure-only receipt")
	failOnFailure.RegisteredDelivery = smpp.RegisteredDeliveryErr
	submit(t, s, none)
	submit(t, s, okOnFailure)
	submit(t, s, sm("7000", "rule says no receipt"))
	id := submit(t, s, failOnFailure)
	in.wait(t, 1)
	waitFor(t, "all completed", func() bool {
		for _, m := range srv.Messages(smsc.Filter{}) {
			if m.DoneAt == nil {
				return false
			}
		}
		return true
	})
	if got := in.list(); len(got) != 1 {
		t.Fatalf("%d receipts, want only the failure's", len(got))
	}
	if in.receipts()[id] == nil {
		t.Errorf("no receipt for %s", id)
	}
}

func TestReceiptDelayAndEnroute(t *testing.T) {
	srv := smsctest.Start(t, smsc.Options{Accounts: []smsc.Account{{SystemID: smsc.DefaultSystemID, Password: smsc.DefaultPassword,
		Receipts: smsc.Receipts{DelayMin: 80 * time.Millisecond, DelayMax: 120 * time.Millisecond, Enroute: true}}}})
	in := newInbox()
	s := bind(t, srv, in)
	start := time.Now()
	id := submit(t, s, sm("919800000001", "x"))
	got := in.wait(t, 1)
	if got[0].ESMClass != smpp.ESMClassIntermediate {
		t.Fatalf("first deliver_sm esm_class %#x, want ENROUTE intermediate", got[0].ESMClass)
	}
	r, _ := smpp.ParseReceipt(got[0], nil)
	if r.Stat != "ENROUTE" || r.MessageID != id {
		t.Errorf("first receipt %+v", r)
	}
	if q := querySM(t, s, id); q.MessageState != smpp.StateEnroute {
		t.Errorf("query before the delay: %s", q.MessageState)
	}
	in.wait(t, 2)
	if el := time.Since(start); el < 80*time.Millisecond {
		t.Errorf("final receipt after %s, want at least 80ms", el)
	}
	if r := in.receipts()[id]; r == nil || r.Stat != "DELIVRD" {
		t.Errorf("final receipt %+v", r)
	}
}

func querySM(t testing.TB, s *smpp.Session, id string) *smpp.QuerySMResp {
	t.Helper()
	resp, err := s.Send(context.Background(), &smpp.QuerySM{MessageID: id})
	if err != nil {
		t.Fatalf("query_sm %s: %v", id, err)
	}
	return resp.(*smpp.QuerySMResp)
}

func TestQueryCancelReplace(t *testing.T) {
	srv := smsctest.Start(t, smsc.Options{Accounts: []smsc.Account{{SystemID: smsc.DefaultSystemID, Password: smsc.DefaultPassword,
		Receipts: smsc.Receipts{Rules: []smsc.Rule{{Prefix: "1", ReceiptDelay: time.Hour}}}}}})
	in := newInbox()
	s := bind(t, srv, in)
	pending := submit(t, s, sm("1000", "original"))
	done := submit(t, s, sm("2000", "delivered at once"))
	in.wait(t, 1)
	waitFor(t, "completion", func() bool { return querySM(t, s, done).MessageState == smpp.StateDelivered })
	q := querySM(t, s, done)
	if q.FinalDate == "" || q.MessageID != done {
		t.Errorf("query of delivered: %+v", q)
	}
	if q := querySM(t, s, pending); q.MessageState != smpp.StateEnroute {
		t.Errorf("pending: %s", q.MessageState)
	}
	ctx := context.Background()
	if _, err := s.Send(ctx, &smpp.ReplaceSM{MessageID: pending, ShortMessage: []byte("replaced")}); err != nil {
		t.Fatalf("replace_sm: %v", err)
	}
	if m, _ := srv.Message(pending); m.Text != "replaced" || !m.Replaced {
		t.Errorf("after replace: %+v", m)
	}
	if _, err := s.Send(ctx, &smpp.ReplaceSM{MessageID: done, ShortMessage: []byte("late")}); statusOf(t, err) != smpp.ESME_RREPLACEFAIL {
		t.Errorf("replace of delivered: %v", err)
	}
	if _, err := s.Send(ctx, &smpp.CancelSM{MessageID: pending}); err != nil {
		t.Fatalf("cancel_sm: %v", err)
	}
	if q := querySM(t, s, pending); q.MessageState != smpp.StateDeleted {
		t.Errorf("after cancel: %s", q.MessageState)
	}
	for _, id := range []string{pending, done, "nope"} {
		if _, err := s.Send(ctx, &smpp.CancelSM{MessageID: id}); statusOf(t, err) != smpp.ESME_RCANCELFAIL {
			t.Errorf("cancel %s: %v, want ESME_RCANCELFAIL", id, err)
		}
	}
	if _, err := s.Send(ctx, &smpp.QuerySM{MessageID: "nope"}); statusOf(t, err) != smpp.ESME_RQUERYFAIL {
		t.Errorf("query unknown: %v", err)
	}
}

func TestDataSMAndSubmitMulti(t *testing.T) {
	srv := smsctest.Start(t, smsc.Options{Accounts: []smsc.Account{{SystemID: smsc.DefaultSystemID, Password: smsc.DefaultPassword,
		Receipts: smsc.Receipts{Rules: []smsc.Rule{{Dest: "333", SubmitStatus: "ESME_RINVDSTADR"}}}}}})
	in := newInbox()
	s := bind(t, srv, in)
	ctx := context.Background()
	resp, err := s.Send(ctx, &smpp.DataSM{Source: smpp.Address{Addr: "ACMEIN"}, Dest: smpp.Address{Addr: "9000"},
		RegisteredDelivery: 1, TLVs: smpp.TLVs{smpp.StringTLV(smpp.TagMessagePayload, "payload text")}})
	if err != nil {
		t.Fatal(err)
	}
	dataID := resp.(*smpp.DataSMResp).MessageID
	resp, err = s.Send(ctx, &smpp.SubmitMulti{Source: smpp.Address{Addr: "ACMEIN"}, RegisteredDelivery: 1,
		Dests:        []smpp.DestAddress{{Address: smpp.Address{Addr: "111"}}, {Address: smpp.Address{Addr: "222"}}, {Address: smpp.Address{Addr: "333"}}},
		ShortMessage: []byte("to many")})
	if err != nil {
		t.Fatal(err)
	}
	mr := resp.(*smpp.SubmitMultiResp)
	if len(mr.Unsuccess) != 1 || mr.Unsuccess[0].Address.Addr != "333" || mr.Unsuccess[0].Status != smpp.ESME_RINVDSTADR {
		t.Errorf("unsuccess %+v", mr.Unsuccess)
	}
	got := in.wait(t, 3)
	dests := map[string]bool{}
	for _, d := range got {
		dests[d.Source.Addr] = true
	}
	if !dests["9000"] || !dests["111"] || !dests["222"] {
		t.Errorf("receipts from %v", dests)
	}
	if m, _ := srv.Message(dataID); m.Text != "payload text" || m.Command != "data_sm" {
		t.Errorf("data_sm stored as %+v", m)
	}
	if m, _ := srv.Message(mr.MessageID); len(m.MoreDests) != 2 || m.Command != "submit_multi" {
		t.Errorf("submit_multi stored as %+v", m)
	}
}

func TestMultipartReceiptPerPart(t *testing.T) {
	srv := smsctest.Start(t, smsc.Options{})
	in := newInbox()
	s := bind(t, srv, in)
	var ids []string
	for i := 1; i <= 3; i++ {
		p := sm("919800000001", "")
		p.ESMClass = smpp.ESMClassUDHI
		p.ShortMessage = append([]byte{5, 0, 3, 0x42, 3, byte(i)}, fmt.Sprintf("part %d ", i)...)
		ids = append(ids, submit(t, s, p))
	}
	in.wait(t, 3)
	got := in.receipts()
	for _, id := range ids {
		if got[id] == nil {
			t.Errorf("no receipt for part %s", id)
		}
	}
	m, _ := srv.Message(ids[1])
	if m.Concat == nil || *m.Concat != (smsc.Concat{Ref: 0x42, Total: 3, Seq: 2, Via: "udh8"}) || m.Text != "part 2 " || m.UDH != "0500034203"+"02" {
		t.Errorf("part 2 stored as %+v concat %+v", m, m.Concat)
	}
}

func TestRoundRobinOverBinds(t *testing.T) {
	srv := smsctest.Start(t, smsc.Options{})
	a, b, tx := newInbox(), newInbox(), newInbox()
	bind(t, srv, a)
	bind(t, srv, b, withMode(smpp.BindReceiver))
	sender := bind(t, srv, tx, withMode(smpp.BindTransmitter))
	const n = 40
	for i := range n {
		submit(t, sender, sm(fmt.Sprint(9100+i), "x"))
	}
	waitFor(t, "all receipts", func() bool { return a.len()+b.len() == n })
	if a.len() < n/4 || b.len() < n/4 {
		t.Errorf("receipts split %d/%d over two idle binds, want both used", a.len(), b.len())
	}
	if tx.len() != 0 {
		t.Errorf("transmitter got %d deliveries", tx.len())
	}
}

func TestReceiptsHeldWhileNoReceiver(t *testing.T) {
	srv := smsctest.Start(t, smsc.Options{})
	tx := bind(t, srv, nil, withMode(smpp.BindTransmitter))
	for i := range 5 {
		submit(t, tx, sm(fmt.Sprint(9100+i), "x"))
	}
	waitFor(t, "held", func() bool { return srv.Counters().Held == 5 })
	in := newInbox()
	bind(t, srv, in, withMode(smpp.BindReceiver))
	in.wait(t, 5)
	waitFor(t, "counted", func() bool { c := srv.Counters(); return c.Held == 0 && c.ReceiptsSent == 5 })
}

func TestReceiptRetriedOnTemporaryError(t *testing.T) {
	srv := smsctest.Start(t, smsc.Options{RetryDelay: 10 * time.Millisecond})
	in := newInbox()
	in.answer = func(p *smpp.DeliverSM, n int) smpp.CommandStatus {
		if strings.Contains(string(p.ShortMessage), "text:flaky") {
			return smpp.ESME_RX_T_APPN
		}
		return 0
	}
	s := bind(t, srv, in)
	id := submit(t, s, sm("9000", "flaky"))
	waitFor(t, "retries", func() bool { return srv.Counters().DeliveriesRetried >= 2 })
	in.mu.Lock()
	in.answer = nil
	in.mu.Unlock()
	waitFor(t, "receipt", func() bool { return in.receipts()[id] != nil })
	if m, _ := srv.Message(id); m.Receipt != "sent" {
		waitFor(t, "marked sent", func() bool { m, _ := srv.Message(id); return m.Receipt == "sent" })
	}
}

func TestReceiptGivenUpOnPermanentError(t *testing.T) {
	srv := smsctest.Start(t, smsc.Options{RetryDelay: 10 * time.Millisecond})
	in := newInbox()
	in.answer = func(*smpp.DeliverSM, int) smpp.CommandStatus { return smpp.ESME_RX_P_APPN }
	s := bind(t, srv, in)
	id := submit(t, s, sm("9000", "x"))
	waitFor(t, "failed", func() bool { return srv.Counters().DeliveriesFailed == 1 })
	if m, _ := srv.Message(id); m.Receipt != "failed" {
		t.Errorf("receipt state %q", m.Receipt)
	}
}

func TestReceiptRedeliveredWhenBindDies(t *testing.T) {
	srv := smsctest.Start(t, smsc.Options{ResponseTimeout: 5 * time.Second})
	// This ESME never answers deliver_sm: the receipt sits in the window until the bind dies.
	stuck := smpp.HandlerFunc(func(ctx context.Context, r *smpp.Request) { r.Detach() })
	dead := bind(t, srv, nil, withOpts(func(o *smpp.Options) { o.Handler = stuck }))
	id := submit(t, dead, sm("9000", "x"))
	waitFor(t, "in flight", func() bool { b := srv.Binds(); return len(b) == 1 && b[0].WindowUsed == 1 })
	dead.Abort()
	in := newInbox()
	bind(t, srv, in, withMode(smpp.BindReceiver))
	waitFor(t, "redelivered", func() bool { return in.receipts()[id] != nil })
}
