package api

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/smppd/smppd/dispatch"
	"github.com/smppd/smppd/dispatch/dispatchtest"
	"github.com/smppd/smppd/dlr"
	"github.com/smppd/smppd/dlt"
	"github.com/smppd/smppd/internal/wait"
	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/smsc"
	"github.com/smppd/smppd/smsc/smsctest"
	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/storetest"
)

const (
	aggTM   = "1102000000000000001" // the registry's TM-AF of acme's second chain
	testTMD = "1702157571346669272" // the registry's telemarketer.tm_d
	keyAgg  = "7e825d24-bbbb-11ef-8b17-0200cd936042"
	shipped = "Dear Ravi, your order A123 has been shipped. Track it at https://acme.in/t/1 - ACME"
	shipCT  = "1107161234567890002"
	wishCT  = "1107161234567890006"
	wishTxt = "Hi Ravi, the blue shoes from your wishlist is back in stock. Open the app: https://acme.in/app - ACME"
)

// aggAccount is an aggregator (TM-AF) account with its own HTTP webhook, which its
// messages from the front must not get.
func aggAccount() Account {
	return Account{Name: "agg", APIKeys: []string{keyAgg}, SenderIDs: []string{"ACMEIN", "ACMESV", "ACMEXP", "512345"},
		DLTEntity: acmePE, TMID: aggTM, WebhookURL: "https://hooks.example.com/agg",
		TransactionalCredits: i64(1000), PromotionalCredits: i64(50)}
}

// recorder is the api's Sender in front of a real dispatcher: it keeps a copy of what
// Submit accepted.
type recorder struct {
	d    *dispatch.Dispatcher
	mu   sync.Mutex
	msgs map[string]store.Message
}

func (r *recorder) Submit(ctx context.Context, msgs ...*store.Message) error {
	if err := r.d.Submit(ctx, msgs...); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range msgs {
		r.msgs[m.ID] = *m
	}
	return nil
}

func (r *recorder) get(id string) (store.Message, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.msgs[id]
	return m, ok
}

type acceptEnv struct {
	*env
	sim  *smsc.Server
	rec  *recorder
	dst  store.Store // the dispatcher's store
	tmd  string
	done int // messages the simulator has been sent so far
}

// startAccept runs the api on the real clock in front of a real dispatcher that routes
// 9170… to a simulator checking DLT like an operator (template, header, the chain hash
// among the registered chains); 98… has no route.
func startAccept(t *testing.T) *acceptEnv {
	t.Helper()
	reg, err := dlt.LoadYAMLFile(testRegistry)
	if err != nil {
		t.Fatal(err)
	}
	sim := smsctest.Start(t, smsc.Options{EnquireLinkInterval: -1, DLTRegistryFile: testRegistry, Accounts: []smsc.Account{{
		SystemID: "smppd", Password: "password", DLT: smsc.DLT{Enabled: true, RequireChainHash: true, SkipPromoWindow: true},
	}}})
	dst := storetest.OpenMemory(t)
	d := dispatchtest.Start(t, dispatch.Options{
		Store:    dst,
		Carriers: []dispatch.CarrierOptions{dispatchtest.Carrier("jio", sim.Addr(), 1, 10, testTMD)},
		Routes:   []dispatch.Route{{Prefix: "9170", Carriers: []string{"jio"}}},
		ChainFor: func(pe string) []string { // the registry's first chain, like dlt.Engine.ChainFor
			cs := reg.Chains(pe)
			if len(cs) == 0 {
				return nil
			}
			return append(slices.Clone(cs[0].TMAF), cs[0].TMD)
		},
	})
	rec := &recorder{d: d, msgs: map[string]store.Message{}}
	e := newEnv(t, func(o *Options) {
		o.Sender, o.Now = rec, time.Now
		o.Accounts = append(o.Accounts, aggAccount())
	})
	return &acceptEnv{env: e, sim: sim, rec: rec, dst: dst, tmd: testTMD}
}

func frontSub(to, text string) Submission {
	return Submission{Account: "agg", To: to, Text: text, Receipt: true,
		Meta: map[string]string{dlr.MetaWebhookURL: dlr.ClientTarget("agg"), dlr.MetaWebhookMode: dlr.ModeSMPP}}
}

// An accepted message gets its id only once durable, reaches the carrier with the PE, CT
// and the chain hash of PE → the aggregator's TM id → smppd's TM-D (a chain the simulator
// finds registered), goes at the priority its template's category means, and carries the
// front's receipt routing, not the account's HTTP webhook — or none when the client asked
// for no receipt.
func TestAcceptThroughTheDispatcher(t *testing.T) {
	e := startAccept(t)
	withIDs := func(s Submission, pe, ct string) Submission { s.PEID, s.TemplateID = pe, ct; return s }
	noReceipt := func(s Submission) Submission { s.Receipt = false; return s }
	withChain := func(s Submission, c string) Submission { s.Chain = c; return s }
	cases := []struct {
		name     string
		sub      Submission
		ct       string
		prio     store.Priority
		receipt  bool
		chainTMs []string // between the PE and the TM-D
	}{
		{"PE and CT given", withIDs(frontSub("7012345601", fmt.Sprintf(otpText, "482913")), acmePE, otpCT), otpCT, store.PriorityOTP, true, []string{aggTM}},
		{"template by content match", frontSub("7012345602", shipped), shipCT, store.PriorityTransactional, true, []string{aggTM}},
		{"no receipt asked", noReceipt(frontSub("7012345603", shipped)), shipCT, store.PriorityTransactional, false, []string{aggTM}},
		{"client chain ending with the aggregator", withChain(frontSub("7012345604", shipped), acmePE+","+aggTM), shipCT, store.PriorityTransactional, true, []string{aggTM}},
	}
	for i, c := range cases {
		c.sub.From = []string{"ACMEIN", "ACMESV", "ACMESV", "ACMESV"}[i]
		ids, err := e.srv.Accept(context.Background(), c.sub)
		if err != nil || len(ids) != 1 {
			t.Fatalf("%s: Accept %v %v", c.name, ids, err)
		}
		m, ok := e.rec.get(ids[0])
		if !ok {
			t.Fatalf("%s: id %s returned but not submitted", c.name, ids[0])
		}
		if r, err := e.dst.GetRecord(context.Background(), ids[0]); err != nil || r.Account != "agg" {
			t.Fatalf("%s: no durable record for the returned id: %v %v", c.name, r, err)
		}
		if m.Priority != c.prio || m.TemplateID != c.ct || m.PEID != acmePE || !slices.Equal(m.TMIDs, []string{aggTM}) {
			t.Errorf("%s: message %+v", c.name, m)
		}
		wantMeta := map[string]string{dlr.MetaWebhookURL: "smpp://agg", dlr.MetaWebhookMode: dlr.ModeSMPP}
		if !c.receipt {
			wantMeta = nil
		}
		if len(m.Meta) != len(wantMeta) || m.Meta[dlr.MetaWebhookURL] != wantMeta[dlr.MetaWebhookURL] || m.Meta[dlr.MetaWebhookMode] != wantMeta[dlr.MetaWebhookMode] {
			t.Errorf("%s: Meta %v, want %v", c.name, m.Meta, wantMeta)
		}
		var got smsc.Message
		wait.For(t, 10*time.Second, c.name+" at the carrier", func() bool {
			ms := e.sim.Messages(smsc.Filter{Dest: m.To})
			if len(ms) == 1 {
				got = ms[0]
			}
			return len(ms) == 1
		})
		hash := dlt.ChainHash(acmePE, append(slices.Clone(c.chainTMs), e.tmd)...)
		pe, _ := got.RawTLV.String(smpp.TagDLTPEID)
		ct, _ := got.RawTLV.String(smpp.TagDLTTemplate)
		chain, _ := got.RawTLV.String(smpp.TagDLTChainHash)
		if pe != acmePE || ct != c.ct || chain != hash || got.Status != "ESME_ROK" {
			t.Errorf("%s: at the carrier PE %q CT %q chain %q status %s (DLT error %d); want %s %s %s ESME_ROK",
				c.name, pe, ct, chain, got.Status, got.DLTError, acmePE, c.ct, hash)
		}
	}
	// The same account over HTTP: its TM id is in the chain too, and its own webhook is used.
	r := e.do("GET", "/API/R1/?"+form("module", "TRANS_SMS", "apikey", keyAgg, "to", "7012345605", "from", "ACMESV", "msg", shipped), "", "")
	expect(t, r, 200, "Success", "")
	var m store.Message
	wait.For(t, 5*time.Second, "the HTTP message submitted", func() bool {
		var ok bool
		m, ok = e.rec.get(r.str("Details") + "-1")
		return ok
	})
	if !slices.Equal(m.TMIDs, []string{aggTM}) || m.Meta[dlr.MetaWebhookURL] != "https://hooks.example.com/agg" {
		t.Errorf("HTTP message %+v", m)
	}
}

// Every refusal is a *Refusal of the right class (with the DLT code for DLT refusals), or
// ErrUnknownAccount; nothing refused reaches the carrier, and credits taken for a message
// the dispatcher refuses are given back.
func TestAcceptRefusals(t *testing.T) {
	e := startAccept(t)
	ctx := context.Background()
	sub := func(mod func(*Submission)) Submission {
		s := frontSub("7012345678", fmt.Sprintf(otpText, "482913"))
		s.From = "ACMEIN"
		if mod != nil {
			mod(&s)
		}
		return s
	}
	// poor has one transactional credit: the first message takes it.
	if _, err := e.srv.Accept(ctx, sub(func(s *Submission) { s.Account = "poor" })); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		sub    Submission
		unk    bool // ErrUnknownAccount
		reason RefusalReason
		code   dlt.Code
	}{
		{"unknown account", sub(func(s *Submission) { s.Account = "nobody" }), true, 0, 0},
		{"disabled account", sub(func(s *Submission) { s.Account = "disabled" }), true, 0, 0},
		{"sender not approved", sub(func(s *Submission) { s.From = "ACMEXX" }), false, RefusedSender, 0},
		{"text off the template given", sub(func(s *Submission) {
			s.PEID, s.TemplateID, s.Text = acmePE, otpCT, "Your PIN for login is 482913. Do not share it with anyone. - ACME"
		}), false, RefusedDLT, dlt.CodeTemplateNotMatched},
		{"text matching no template", sub(func(s *Submission) { s.Text = "Hello from ACME" }), false, RefusedDLT, dlt.CodeErrorIdentifyingTemplate},
		{"unknown entity", sub(func(s *Submission) { s.PEID = "1101557290000099999" }), false, RefusedDLT, dlt.CodeEntityNotFound},
		{"chain of another PE", sub(func(s *Submission) { s.Chain = "1201158039515302745," + aggTM }), false, RefusedDLT, dlt.CodePETMHashNotRegistered},
		{"chain with a bad id", sub(func(s *Submission) { s.Chain = acmePE + ",TM-1" }), false, RefusedDLT, dlt.CodeInvalidTMID},
		{"header of another template", sub(func(s *Submission) { s.From, s.Text = "ACMEIN", shipped }), false, RefusedDLT, dlt.CodeHeaderNotRegisteredForTmpl},
		{"no credits", sub(func(s *Submission) { s.Account = "poor" }), false, RefusedCredits, 0},
		{"no route", sub(func(s *Submission) { s.To = "9812345678" }), false, RefusedDestination, 0},
		{"not a mobile number", sub(func(s *Submission) { s.To = "12345" }), false, RefusedDestination, 0},
		{"empty text", sub(func(s *Submission) { s.Text = " " }), false, RefusedInvalid, 0},
		{"validity over before the schedule", sub(func(s *Submission) {
			s.SendAt, s.ValidUntil = time.Now().Add(time.Hour), time.Now().Add(30*time.Minute)
		}), false, RefusedValidity, 0},
	}
	for _, c := range cases {
		ids, err := e.srv.Accept(ctx, c.sub)
		var r *Refusal
		switch {
		case ids != nil:
			t.Errorf("%s: accepted %v", c.name, ids)
		case c.unk && !errors.Is(err, ErrUnknownAccount):
			t.Errorf("%s: %v, want ErrUnknownAccount", c.name, err)
		case !c.unk && (!errors.As(err, &r) || r.Reason != c.reason || r.DLTCode != c.code || r.Detail == ""):
			t.Errorf("%s: %#v, want a refusal %d with DLT code %d", c.name, err, c.reason, c.code)
		}
	}
	// The no-route message's credit, taken before Submit refused it, came back.
	if n, _, err := e.st.GetCredits(ctx, "agg", store.CreditsTransactional); err != nil || n != 1000 {
		t.Errorf("agg's balance %d %v, want 1000 (refunded)", n, err)
	}
	wait.For(t, 10*time.Second, "poor's message at the carrier", func() bool { return e.sim.Received() >= 1 })
	if n := e.sim.Received(); n != 1 {
		t.Errorf("the carrier got %d messages, want only poor's first", n)
	}
}

// A message scheduled for later is durable and held: its record is SCHEDULED and the
// carrier does not get it, while one due now goes through.
func TestAcceptScheduled(t *testing.T) {
	e := startAccept(t)
	later := frontSub("7012345611", shipped)
	later.From, later.SendAt, later.ValidUntil = "ACMESV", time.Now().Add(time.Hour), time.Now().Add(2*time.Hour)
	ids, err := e.srv.Accept(context.Background(), later)
	if err != nil {
		t.Fatal(err)
	}
	now := frontSub("7012345612", shipped)
	now.From = "ACMESV"
	if _, err := e.srv.Accept(context.Background(), now); err != nil {
		t.Fatal(err)
	}
	wait.For(t, 10*time.Second, "the message due now at the carrier", func() bool { return e.sim.Received() >= 1 })
	r, err := e.dst.GetRecord(context.Background(), ids[0])
	if err != nil || r.Status != store.StatusScheduled {
		t.Fatalf("scheduled record %+v %v", r, err)
	}
	if ms := e.sim.Messages(smsc.Filter{Dest: "917012345611"}); len(ms) != 0 || e.sim.Received() != 1 {
		t.Fatalf("the scheduled message reached the carrier: %+v", ms)
	}
	if m, _ := e.rec.get(ids[0]); !m.SendAt.Equal(later.SendAt) {
		t.Fatalf("SendAt %v, want %v", m.SendAt, later.SendAt)
	}
}

// The template's category sets the priority and the credits (and the window): on the test
// clock at noon, inside the promotional window, and at 23:00, outside it.
func TestAcceptPriorityFromCategory(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		a := aggAccount()
		o.Accounts = append(o.Accounts, a)
		a.Name, a.APIKeys, a.DeferPromotional = "aggdefer", nil, true
		o.Accounts = append(o.Accounts, a)
	})
	ctx := context.Background()
	cases := []struct {
		name, account, from, text string
		at                        time.Time
		prio                      store.Priority
		cat                       store.CreditCategory
		windowed                  bool
		code                      dlt.Code // a refusal's
	}{
		{"transactional (OTP)", "agg", "ACMEIN", fmt.Sprintf(otpText, "1234"), noon, store.PriorityOTP, store.CreditsTransactional, false, 0},
		{"service implicit", "agg", "ACMESV", shipped, noon, store.PriorityTransactional, store.CreditsTransactional, false, 0},
		{"promotional", "agg", "512345", promoText, noon, store.PriorityPromotional, store.CreditsPromotional, true, 0},
		{"service explicit", "agg", "ACMEXP", wishTxt, noon, store.PriorityPromotional, store.CreditsPromotional, true, 0},
		{"promotional at night", "agg", "512345", promoText, noon.Add(11 * time.Hour), 0, "", false, dlt.CodeInvalidPromoTime},
		{"promotional at night, deferred", "aggdefer", "512345", promoText, noon.Add(11 * time.Hour), store.PriorityPromotional, store.CreditsPromotional, true, 0},
	}
	for _, c := range cases {
		e.clock.set(c.at)
		before, _, _ := e.st.GetCredits(ctx, c.account, c.cat)
		s := frontSub("7012345678", c.text)
		s.Account, s.From = c.account, c.from
		ids, err := e.srv.Accept(ctx, s)
		if c.code != 0 {
			var r *Refusal
			if !errors.As(err, &r) || r.Reason != RefusedDLT || r.DLTCode != c.code {
				t.Errorf("%s: %v, want DLT code %d", c.name, err, c.code)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		sent := e.sender.sent()
		m := sent[len(sent)-1]
		if !isUUID4(ids[0]) || m.ID != ids[0] || m.Priority != c.prio || m.Windowed != c.windowed || m.Meta[dlr.MetaOTP] != "" {
			t.Errorf("%s: message %+v", c.name, m)
		}
		if c.name == "promotional at night, deferred" && !m.SendAt.Equal(time.Date(2026, 11, 24, 10, 0, 0, 0, dlt.IST)) {
			t.Errorf("%s: SendAt %v, want the window's opening", c.name, m.SendAt)
		}
		if after, _, _ := e.st.GetCredits(ctx, c.account, c.cat); after != before-1 {
			t.Errorf("%s: %s credits %d → %d, want one taken", c.name, c.cat, before, after)
		}
	}
	// A sandbox account's message gets an id and goes nowhere.
	n := len(e.sender.sent())
	s := frontSub("7012345678", shipped)
	s.Account, s.From = "sandbox", "ACMESV"
	if _, err := e.srv.Accept(ctx, s); err == nil {
		t.Fatal("sandbox: the checks do not run") // sandbox may not send from ACMESV
	}
	s.From, s.Text = "ACMEIN", fmt.Sprintf(otpText, "1234")
	if ids, err := e.srv.Accept(ctx, s); err != nil || len(ids) != 1 || len(e.sender.sent()) != n {
		t.Fatalf("sandbox: %v %v, %d sent", ids, err, len(e.sender.sent())-n)
	}
}

// The TM-AF ids a message carries: the client's chain, then the aggregator account's TM id
// (not twice), completed by the shortest registered chain of the entity that starts with
// them; left as they are when none does.
func TestAcceptChain(t *testing.T) {
	const (
		agg2    = "1102000000000000002" // an aggregator whose registered path goes on through smppdAF
		smppdAF = "1102000000000000099"
		inner   = "1102000000000000003" // the client's own upstream TM-AF
	)
	e := newEnv(t, func(o *Options) {
		a := aggAccount()
		o.Accounts = append(o.Accounts, a)
		a.Name, a.APIKeys, a.TMID = "agg2", nil, agg2
		o.Accounts = append(o.Accounts, a)
		a.Name, a.TMID = "direct", ""
		o.Accounts = append(o.Accounts, a)
	})
	if err := e.srv.o.Registry().AddChain(dlt.Chain{PEID: acmePE, TMAF: []string{agg2, smppdAF}}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, account, chain string
		want                 []string
	}{
		{"aggregator, registered", "agg", "", []string{aggTM}},
		{"aggregator, client chain ending with it", "agg", acmePE + "," + aggTM, []string{aggTM}},
		{"aggregator behind another TM-AF, unregistered", "agg", acmePE + ", " + inner, []string{inner, aggTM}},
		{"registered path going on through smppd's TM-AF", "agg2", "", []string{agg2, smppdAF}},
		{"no TM id, no chain", "direct", "", nil},
		{"no TM id, client chain", "direct", acmePE + "," + inner, []string{inner}},
	}
	for _, c := range cases {
		s := frontSub("7012345678", fmt.Sprintf(otpText, "1234"))
		s.Account, s.From, s.Chain = c.account, "ACMEIN", c.chain
		ids, err := e.srv.Accept(context.Background(), s)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		sent := e.sender.sent()
		if m := sent[len(sent)-1]; !isUUID4(ids[0]) || m.ID != ids[0] || !slices.Equal(m.TMIDs, c.want) {
			t.Errorf("%s: TMIDs %q, want %q", c.name, m.TMIDs, c.want)
		}
	}
}
