package smppfront

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smppd/smppd/api"
	"github.com/smppd/smppd/dlr"
	"github.com/smppd/smppd/dlt"
	"github.com/smppd/smppd/internal/wait"
	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/smpp/text"
	"github.com/smppd/smppd/store"
)

func TestSubmitReachesAcceptor(t *testing.T) {
	acc := &fakeAcceptor{}
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	a := tAccount("acme")
	a.ReceiptParts = true
	_, addr := startFront(t, Options{Accounts: []Account{a}, Acceptor: acc, Now: func() time.Time { return now }})
	s := mustDial(t, addr, "acme", smpp.BindTransmitter, nil)
	p := sm("919812345678", "Your OTP is 123456")
	p.RegisteredDelivery = smpp.RegisteredDeliveryAll
	p.ScheduleDeliveryTime = "000001020000000R" // in a day and two hours
	p.ValidityPeriod = "261207153000022+"       // 7 Dec 15:30 IST
	p.TLVs = smpp.TLVs{
		smpp.StringTLV(smpp.TagDLTPEID, "1201159100000000001"),
		smpp.CStringTLV(smpp.TagDLTTemplate, "1207161000000000001"), // a NUL some clients add
		smpp.StringTLV(smpp.TagDLTChainHash, "1201159100000000001,1302157200000000001"),
	}
	id, st := submit(t, s, p)
	if st != smpp.ESME_ROK || id != "msg-1" {
		t.Fatalf("submit: %q %s", id, st)
	}
	subs := acc.submissions()
	if len(subs) != 1 {
		t.Fatalf("%d submissions", len(subs))
	}
	got := subs[0]
	want := api.Submission{
		Account: "acme", From: "ACMEIN", To: "919812345678", Text: "Your OTP is 123456",
		PEID: "1201159100000000001", TemplateID: "1207161000000000001", Chain: "1201159100000000001,1302157200000000001",
		SendAt: now.Add(26 * time.Hour), ValidUntil: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC), Receipt: true,
	}
	if got.Account != want.Account || got.From != want.From || got.To != want.To || got.Text != want.Text ||
		got.PEID != want.PEID || got.TemplateID != want.TemplateID || got.Chain != want.Chain ||
		!got.SendAt.Equal(want.SendAt) || !got.ValidUntil.Equal(want.ValidUntil) || !got.Receipt {
		t.Errorf("submission\n got %+v\nwant %+v", got, want)
	}
	if got.Meta[dlr.MetaWebhookURL] != "smpp://acme" || got.Meta[dlr.MetaWebhookMode] != dlr.ModeSMPP || got.Meta[dlr.MetaReceiptParts] != "1" {
		t.Errorf("meta %v", got.Meta)
	}

	// No receipt asked: no receipt route in Meta.
	if _, st := submit(t, s, sm("919812345678", "plain")); st != smpp.ESME_ROK {
		t.Fatal(st)
	}
	if m := acc.submissions()[1].Meta; m[dlr.MetaWebhookURL] != "" || acc.submissions()[1].Receipt {
		t.Errorf("meta without registered_delivery: %v", m)
	}
	if got.Meta[dlr.MetaReceiptFailureOnly] != "" {
		t.Errorf("registered_delivery 1 asked for failures only: %v", got.Meta)
	}

	// registered_delivery 2: a receipt only if the message fails.
	p = sm("919812345678", "failures only")
	p.RegisteredDelivery = 2
	if _, st := submit(t, s, p); st != smpp.ESME_ROK {
		t.Fatal(st)
	}
	if sub := acc.submissions()[2]; !sub.Receipt || sub.Meta[dlr.MetaReceiptFailureOnly] != "1" || sub.Meta[dlr.MetaWebhookURL] != "smpp://acme" {
		t.Errorf("registered_delivery 2: receipt %v, meta %v", sub.Receipt, sub.Meta)
	}
}

func TestSubmitFieldRefusals(t *testing.T) {
	acc := &fakeAcceptor{}
	_, addr := startFront(t, Options{Accounts: []Account{tAccount("acme")}, Acceptor: acc})
	s := mustDial(t, addr, "acme", smpp.BindTransceiver, nil)
	for _, c := range []struct {
		name string
		edit func(p *smpp.SubmitSM)
		want smpp.CommandStatus
	}{
		{"bad schedule", func(p *smpp.SubmitSM) { p.ScheduleDeliveryTime = "261340000000000+" }, smpp.ESME_RINVSCHED},
		{"bad validity", func(p *smpp.SubmitSM) { p.ValidityPeriod = "2612061530000XX+" }, smpp.ESME_RINVEXPIRY},
		{"binary data_coding", func(p *smpp.SubmitSM) { p.DataCoding = 0x04 }, smpp.ESME_RINVMSGLEN},
		{"odd UCS-2", func(p *smpp.SubmitSM) { p.DataCoding = 0x08; p.ShortMessage = []byte{0, 'a', 0} }, smpp.ESME_RINVMSGLEN},
		{"UDHI without a header", func(p *smpp.SubmitSM) { p.ESMClass = smpp.ESMClassUDHI; p.ShortMessage = []byte{9, 0} }, smpp.ESME_RINVMSGLEN},
		{"SAR part 3 of 2", func(p *smpp.SubmitSM) {
			p.TLVs = smpp.TLVs{smpp.Uint16TLV(smpp.TagSARMsgRefNum, 7), smpp.Uint8TLV(smpp.TagSARTotalSegments, 2), smpp.Uint8TLV(smpp.TagSARSegmentSeqnum, 3)}
		}, smpp.ESME_RINVOPTPARAMVAL},
		{"empty destination", func(p *smpp.SubmitSM) { p.Dest.Addr = "" }, smpp.ESME_RINVDSTADR},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := sm("919812345678", "hello")
			c.edit(p)
			if _, st := submit(t, s, p); st != c.want {
				t.Fatalf("answered %s, want %s", st, c.want)
			}
		})
	}
	if n := len(acc.submissions()); n != 0 {
		t.Errorf("%d refused messages reached Accept", n)
	}
}

// refusalCases is the mapping of Accept's errors to command_status, the table the docs
// repeat.
var refusalCases = []struct {
	name string
	err  error
	hex  bool
	want smpp.CommandStatus
}{
	{"DLT template not matched, decimal", &api.Refusal{Reason: api.RefusedDLT, DLTCode: dlt.CodeTemplateNotMatched}, false, 0x279},
	{"DLT template not matched, hex", &api.Refusal{Reason: api.RefusedDLT, DLTCode: dlt.CodeTemplateNotMatched}, true, 0x633},
	{"DLT Vi hash invalid, decimal", &api.Refusal{Reason: api.RefusedDLT, DLTCode: dlt.CodeViPETMHashInvalid}, false, 5601},
	{"DLT without a code", &api.Refusal{Reason: api.RefusedDLT}, false, smpp.ESME_RSUBMITFAIL},
	{"sender", &api.Refusal{Reason: api.RefusedSender}, false, smpp.ESME_RINVSRCADR},
	{"destination", &api.Refusal{Reason: api.RefusedDestination}, false, smpp.ESME_RINVDSTADR},
	{"credits", &api.Refusal{Reason: api.RefusedCredits}, false, smpp.ESME_RSUBMITFAIL},
	{"throttled", &api.Refusal{Reason: api.RefusedThrottled}, false, smpp.ESME_RTHROTTLED},
	{"invalid", &api.Refusal{Reason: api.RefusedInvalid}, false, smpp.ESME_RINVMSGLEN},
	{"unavailable", &api.Refusal{Reason: api.RefusedUnavailable}, false, smpp.ESME_RSYSERR},
	{"wrapped refusal", fmt.Errorf("accept: %w", &api.Refusal{Reason: api.RefusedSender}), false, smpp.ESME_RINVSRCADR},
	{"account disabled or expired in the api", fmt.Errorf("%w: acme is disabled", api.ErrUnknownAccount), false, smpp.ESME_RSUBMITFAIL},
	{"validity over before it could be sent", &api.Refusal{Reason: api.RefusedValidity}, false, smpp.ESME_RINVEXPIRY},
	{"store down", errors.New("redis: connection refused"), false, smpp.ESME_RSYSERR},
}

func TestRefusalStatuses(t *testing.T) {
	for _, mode := range []string{"decimal", "hex"} {
		acc := &fakeAcceptor{}
		_, addr := startFront(t, Options{Accounts: []Account{tAccount("acme")}, Acceptor: acc, DLTStatusCodes: mode})
		s := mustDial(t, addr, "acme", smpp.BindTransceiver, nil)
		for i, c := range refusalCases {
			if c.hex != (mode == "hex") {
				continue
			}
			t.Run(c.name, func(t *testing.T) {
				to := fmt.Sprintf("9198000000%02d", i)
				acc.mu.Lock()
				acc.refuse = func(s api.Submission) error {
					if s.To == to {
						return c.err
					}
					return nil
				}
				acc.mu.Unlock()
				id, st := submit(t, s, sm(to, "hello"))
				if st != c.want || id != "" {
					t.Fatalf("answered %s (%#x) id %q, want %s", st, uint32(st), id, c.want)
				}
			})
		}
	}
}

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want time.Time
		bad  bool
	}{
		{"", time.Time{}, false},
		{"261206153000022+", time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC), false},
		{"261206100000000+", time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC), false},
		{"261206080000508-", time.Date(2026, 12, 6, 10, 0, 0, 500e6, time.UTC), false},
		{"000000003000000R", now.Add(30 * time.Minute), false},
		{"010203040506000R", now.AddDate(1, 2, 3).Add(4*time.Hour + 5*time.Minute + 6*time.Second), false},
		{"261306100000000+", time.Time{}, true}, // month 13
		{"260230100000000+", time.Time{}, true}, // 30 February
		{"261206100000049+", time.Time{}, true}, // offset beyond 12 hours
		{"261206100000000X", time.Time{}, true},
		{"2612061000", time.Time{}, true},
		{"26120610000000-+", time.Time{}, true},
	} {
		got, err := parseTime(c.in, now)
		if (err != nil) != c.bad || !got.Equal(c.want) {
			t.Errorf("parseTime(%q) = %v, %v; want %v (error %v)", c.in, got, err, c.want, c.bad)
		}
	}
	if got := formatTime(time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)); got != "261206153000022+" {
		t.Errorf("formatTime %q", got)
	}
}

func TestRateThrottleDoesNotStallOthers(t *testing.T) {
	flood := tAccount("flood")
	flood.Rate, flood.Burst = 5, 5
	var throttled sync.Map
	f, addr := startFront(t, Options{
		Accounts: []Account{flood, tAccount("calm")},
		Hooks:    Hooks{Throttled: func(a, why string) { throttled.Store(a+"/"+why, true) }},
	})
	fs := mustDial(t, addr, "flood", smpp.BindTransmitter, nil)
	cs := mustDial(t, addr, "calm", smpp.BindTransmitter, nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[smpp.CommandStatus]int{}
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, st := submit(t, fs, sm("919812345678", "flood"))
			mu.Lock()
			got[st]++
			mu.Unlock()
		}()
	}
	// The other account goes on meanwhile, at full speed.
	for range 20 {
		if _, st := submit(t, cs, sm("919812345678", "calm")); st != smpp.ESME_ROK {
			t.Fatalf("calm account answered %s", st)
		}
	}
	wg.Wait()
	if got[smpp.ESME_RTHROTTLED] < 30 || got[smpp.ESME_ROK] < 5 || got[smpp.ESME_ROK]+got[smpp.ESME_RTHROTTLED] != 40 {
		t.Errorf("flood answered %v", got)
	}
	st := f.Stats()
	for _, a := range st.Accounts {
		if a.Account == "flood" && (a.ThrottledRate != uint64(got[smpp.ESME_RTHROTTLED]) || a.Submits["ESME_RTHROTTLED"] != a.ThrottledRate) {
			t.Errorf("flood stats %+v", a)
		}
		if a.Account == "calm" && (a.ThrottledRate != 0 || a.Submits["ESME_ROK"] != 20) {
			t.Errorf("calm stats %+v", a)
		}
	}
	if _, ok := throttled.Load("flood/rate"); !ok {
		t.Error("no throttled hook")
	}
}

func TestWindow(t *testing.T) {
	gate := make(chan struct{})
	acc := &fakeAcceptor{gate: gate}
	a := tAccount("acme")
	a.Window = 3
	f, addr := startFront(t, Options{Accounts: []Account{a}, Acceptor: acc})
	s := mustDial(t, addr, "acme", smpp.BindTransceiver, nil)
	results := make(chan smpp.CommandStatus, 3)
	for range 3 {
		go func() {
			_, st := submit(t, s, sm("919812345678", "hello"))
			results <- st
		}()
	}
	wait.For(t, waitLong, "the window full", func() bool { b := f.Binds(); return len(b) == 1 && b[0].InFlight == 3 })
	// A fourth request finds the window full: throttled at once, the others still wait.
	if _, st := submit(t, s, sm("919812345678", "one too many")); st != smpp.ESME_RTHROTTLED {
		t.Fatalf("beyond the window: %s", st)
	}
	// query_sm counts in the window too.
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	if _, err := s.Send(ctx, &smpp.QuerySM{MessageID: "x"}); statusOf(t, err) != smpp.ESME_RTHROTTLED {
		t.Fatalf("query beyond the window: %v", err)
	}
	close(gate)
	for range 3 {
		if st := <-results; st != smpp.ESME_ROK {
			t.Errorf("waiting submit answered %s", st)
		}
	}
	if _, st := submit(t, s, sm("919812345678", "room again")); st != smpp.ESME_ROK {
		t.Fatalf("after the window drained: %s", st)
	}
	if st := f.Stats().Accounts[0]; st.ThrottledWindow != 2 {
		t.Errorf("stats %+v", st)
	}
}

// udhParts splits txt as a client would, with the UDH reference and method given.
func udhParts(t *testing.T, txt string, enc text.Encoding, concat text.Concat, ref uint16) []*smpp.SubmitSM {
	t.Helper()
	parts, err := text.Split(txt, enc, text.Options{Concat: concat, Ref: ref})
	if err != nil {
		t.Fatal(err)
	}
	var out []*smpp.SubmitSM
	for _, p := range parts {
		s := sm("919812345678", "")
		s.ShortMessage = p.Data
		s.DataCoding = uint8(enc.DataCoding())
		if p.UDHLen > 0 {
			s.ESMClass = smpp.ESMClassUDHI
		}
		if concat == text.ConcatSAR && p.Total > 1 {
			s.TLVs = smpp.TLVs{smpp.Uint16TLV(smpp.TagSARMsgRefNum, p.Ref), smpp.Uint8TLV(smpp.TagSARTotalSegments, p.Total), smpp.Uint8TLV(smpp.TagSARSegmentSeqnum, p.Seq)}
		}
		out = append(out, s)
	}
	return out
}

func TestLongMessages(t *testing.T) {
	gsm := "Dear customer, your account ending 1234 was debited with INR 5,000.00 on 06-12-2026 at 10:00. " +
		"Available balance is INR 12,345.67. If this was not you, call 1800-000-000 at once. -ACME Bank {ref: 42}"
	// 'विशेष' and an emoji: the emoji is a surrogate pair that the split may cut.
	ucs := ""
	for range 12 {
		ucs += "नमस्ते 😀 आपका "
	}
	for _, c := range []struct {
		name   string
		parts  func(t *testing.T) []*smpp.SubmitSM
		text   string
		order  []int
		spread bool // parts over two binds
	}{
		{"UDH 8-bit GSM", func(t *testing.T) []*smpp.SubmitSM { return udhParts(t, gsm, text.GSM7, text.ConcatUDH8, 17) }, gsm, nil, false},
		{"UDH 16-bit UCS-2", func(t *testing.T) []*smpp.SubmitSM { return udhParts(t, ucs, text.UCS2, text.ConcatUDH16, 4242) }, ucs, nil, false},
		{"SAR GSM", func(t *testing.T) []*smpp.SubmitSM { return udhParts(t, gsm, text.GSM7, text.ConcatSAR, 9) }, gsm, nil, false},
		{"UDH out of order over two binds", func(t *testing.T) []*smpp.SubmitSM { return udhParts(t, gsm, text.GSM7, text.ConcatUDH8, 18) }, gsm, []int{1, 0}, true},
		{"message_payload", func(t *testing.T) []*smpp.SubmitSM {
			b, _ := text.Encode(text.UCS2, ucs)
			p := sm("919812345678", "")
			p.ShortMessage, p.DataCoding = nil, 0x08
			p.TLVs = smpp.TLVs{smpp.BytesTLV(smpp.TagMessagePayload, b)}
			return []*smpp.SubmitSM{p}
		}, ucs, nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			acc := &fakeAcceptor{}
			f, addr := startFront(t, Options{Accounts: []Account{tAccount("acme")}, Acceptor: acc})
			s1 := mustDial(t, addr, "acme", smpp.BindTransmitter, nil)
			s2 := s1
			if c.spread {
				s2 = mustDial(t, addr, "acme", smpp.BindTransmitter, nil)
			}
			parts := c.parts(t)
			if len(parts) < 2 && len(parts[0].TLVs) == 0 {
				t.Fatalf("the test text makes %d parts", len(parts))
			}
			order := c.order
			if order == nil {
				for i := range parts {
					order = append(order, i)
				}
			}
			type res struct {
				id string
				st smpp.CommandStatus
			}
			results := make(chan res, len(parts))
			for k, i := range order {
				s := s1
				if k%2 == 1 {
					s = s2
				}
				go func() {
					id, st := submit(t, s, parts[i])
					results <- res{id, st}
				}()
				if k < len(order)-1 {
					// Every part but the last waits: nothing is answered before the whole is durable.
					wait.For(t, waitLong, "the part to arrive", func() bool { return f.Stats().Accounts[0].PartsWaiting == 1 || len(parts) == 1 })
					select {
					case r := <-results:
						t.Fatalf("part answered %v before the message was complete", r)
					default:
					}
				}
			}
			for range parts {
				if r := <-results; r.st != smpp.ESME_ROK || r.id != "msg-1" {
					t.Fatalf("part answered %+v", r)
				}
			}
			subs := acc.submissions()
			if len(subs) != 1 || subs[0].Text != c.text {
				t.Fatalf("submissions %+v", subs)
			}
			if st := f.Stats().Accounts[0]; st.PartsWaiting != 0 || st.Submits["ESME_ROK"] != uint64(len(parts)) {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestPartsTimeout(t *testing.T) {
	acc := &fakeAcceptor{}
	f, addr := startFront(t, Options{Accounts: []Account{tAccount("acme")}, Acceptor: acc, PartTimeout: 100 * time.Millisecond})
	s := mustDial(t, addr, "acme", smpp.BindTransmitter, nil)
	parts := udhParts(t, "a long message "+string(make([]byte, 0))+fmt.Sprintf("%0200d", 7), text.GSM7, text.ConcatUDH8, 3)
	if _, st := submit(t, s, parts[0]); st != smpp.ESME_RSYSERR {
		t.Fatalf("lonely part answered %s", st)
	}
	// Resending every part completes the message.
	for i := len(parts) - 1; i >= 0; i-- {
		go submit(t, s, parts[i])
	}
	wait.For(t, waitLong, "the message accepted", func() bool { return len(acc.submissions()) == 1 })
	if st := f.Stats().Accounts[0]; st.PartsTimedOut != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestDataSMAndSubmitMulti(t *testing.T) {
	acc := &fakeAcceptor{refuse: func(s api.Submission) error {
		if s.To == "919800000002" {
			return &api.Refusal{Reason: api.RefusedDLT, DLTCode: dlt.CodeHeaderNotFound}
		}
		return nil
	}}
	_, addr := startFront(t, Options{Accounts: []Account{tAccount("acme")}, Acceptor: acc})
	s := mustDial(t, addr, "acme", smpp.BindTransceiver, nil)
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	resp, err := s.Send(ctx, &smpp.DataSM{
		Source: smpp.Address{Addr: "ACMEIN"}, Dest: smpp.Address{Addr: "919800000001"}, RegisteredDelivery: 1,
		TLVs: smpp.TLVs{smpp.StringTLV(smpp.TagMessagePayload, "data sm text"), smpp.StringTLV(smpp.TagDLTPEID, "1201")},
	})
	if err != nil || resp.(*smpp.DataSMResp).MessageID != "msg-1" {
		t.Fatalf("data_sm: %v %+v", err, resp)
	}
	resp, err = s.Send(ctx, &smpp.SubmitMulti{
		Source: smpp.Address{Addr: "ACMEIN"},
		Dests: []smpp.DestAddress{
			{Address: smpp.Address{Addr: "919800000001"}}, {Address: smpp.Address{Addr: "919800000002"}},
			{DLName: "friends"}, {Address: smpp.Address{Addr: "919800000003"}},
		},
		ShortMessage: []byte("to many"),
	})
	if err != nil {
		t.Fatalf("submit_multi: %v", err)
	}
	mr := resp.(*smpp.SubmitMultiResp)
	if mr.MessageID != "msg-2" || len(mr.Unsuccess) != 2 || mr.Unsuccess[0].Status != 620 || mr.Unsuccess[0].Address.Addr != "919800000002" ||
		mr.Unsuccess[1].Status != smpp.ESME_RCNTSUBDL {
		t.Fatalf("submit_multi_resp %+v", mr)
	}
	subs := acc.submissions()
	if len(subs) != 3 || subs[0].Text != "data sm text" || subs[0].PEID != "1201" || !subs[0].Receipt || subs[2].To != "919800000003" || subs[2].Text != "to many" {
		t.Errorf("submissions %+v", subs)
	}
}

// fakeRecords is a Records over a map.
type fakeRecords map[string]*store.Record

func (r fakeRecords) GetRecords(_ context.Context, ids ...string) ([]*store.Record, error) {
	out := make([]*store.Record, len(ids))
	for i, id := range ids {
		out[i] = r[id]
	}
	return out, nil
}

func TestQueryAndCancel(t *testing.T) {
	done := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	recs := fakeRecords{
		"m1": {ID: "m1", Account: "acme", Status: store.StatusDelivered, StatusAt: done, ErrorCode: "0"},
		"m2": {ID: "m2", Account: "acme", Status: store.StatusSubmitted},
		"m3": {ID: "m3", Account: "other", Status: store.StatusDelivered},
	}
	_, addr := startFront(t, Options{Accounts: []Account{tAccount("acme")}, Records: recs})
	s := mustDial(t, addr, "acme", smpp.BindTransceiver, nil)
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	for _, c := range []struct {
		id    string
		st    smpp.CommandStatus
		state smpp.MessageState
		final string
	}{
		{"m1", smpp.ESME_ROK, smpp.StateDelivered, "261206153000022+"},
		{"m2", smpp.ESME_ROK, smpp.StateEnroute, ""},
		{"m3", smpp.ESME_RINVMSGID, 0, ""},
		{"nope", smpp.ESME_RINVMSGID, 0, ""},
	} {
		resp, err := s.Send(ctx, &smpp.QuerySM{MessageID: c.id})
		if st := statusOf(t, err); st != c.st {
			t.Errorf("query %s: %s", c.id, st)
			continue
		}
		if c.st == smpp.ESME_ROK {
			r := resp.(*smpp.QuerySMResp)
			if r.MessageState != c.state || r.FinalDate != c.final || r.MessageID != c.id {
				t.Errorf("query %s: %+v", c.id, r)
			}
		}
	}
	if _, err := s.Send(ctx, &smpp.CancelSM{MessageID: "m2"}); statusOf(t, err) != smpp.ESME_RCANCELFAIL {
		t.Errorf("cancel_sm: %v", err)
	}
	if _, err := s.Send(ctx, &smpp.ReplaceSM{MessageID: "m2", ShortMessage: []byte("x")}); statusOf(t, err) != smpp.ESME_RREPLACEFAIL {
		t.Errorf("replace_sm: %v", err)
	}
}

// The DLT TLVs and registered_delivery often ride on the first part only; the message gets
// them whatever order the parts come in.
func TestPartsShareTheFirstPartsFields(t *testing.T) {
	acc := &fakeAcceptor{}
	var hookedOK atomic.Int64
	_, addr := startFront(t, Options{Accounts: []Account{tAccount("acme")}, Acceptor: acc,
		Hooks: Hooks{Submit: func(a string, st smpp.CommandStatus, _ time.Duration) {
			if a == "acme" && st == smpp.ESME_ROK {
				hookedOK.Add(1)
			}
		}}})
	s := mustDial(t, addr, "acme", smpp.BindTransceiver, nil)
	parts := udhParts(t, fmt.Sprintf("%0300d", 1), text.GSM7, text.ConcatUDH8, 77)
	parts[0].TLVs = smpp.TLVs{smpp.StringTLV(smpp.TagDLTPEID, "1201"), smpp.StringTLV(smpp.TagDLTTemplate, "1207")}
	parts[0].RegisteredDelivery = 1
	done := make(chan smpp.CommandStatus, len(parts))
	for i := len(parts) - 1; i >= 0; i-- {
		go func() { _, st := submit(t, s, parts[i]); done <- st }()
		if i > 0 {
			wait.For(t, waitLong, "the part filed", func() bool { return len(parts)-i == s.WindowInUse() })
		}
	}
	for range parts {
		if st := <-done; st != smpp.ESME_ROK {
			t.Fatal(st)
		}
	}
	subs := acc.submissions()
	if len(subs) != 1 || subs[0].PEID != "1201" || subs[0].TemplateID != "1207" || !subs[0].Receipt || subs[0].Text != fmt.Sprintf("%0300d", 1) {
		t.Fatalf("submissions %+v", subs)
	}
	// The hook runs just after each answer went out.
	wait.For(t, waitLong, "the submit hook to count every part", func() bool { return hookedOK.Load() == int64(len(parts)) })
}

func TestDataCodingZero(t *testing.T) {
	acc := &fakeAcceptor{}
	ascii := tAccount("ascii")
	ascii.Latin1Default = true
	_, addr := startFront(t, Options{Accounts: []Account{tAccount("gsm"), ascii}, Acceptor: acc})
	for _, c := range []struct{ account, want string }{
		{"gsm", "mail¡acme.in §1"}, // GSM 03.38: 0x40 is ¡, 0x5F is §
		{"ascii", "mail@acme.in _1"},
	} {
		s := mustDial(t, addr, c.account, smpp.BindTransmitter, nil)
		if _, st := submit(t, s, sm("919812345678", "mail@acme.in _1")); st != smpp.ESME_ROK {
			t.Fatal(st)
		}
		subs := acc.submissions()
		if got := subs[len(subs)-1].Text; got != c.want {
			t.Errorf("%s: text %q, want %q", c.account, got, c.want)
		}
	}
}

// cancelFunc adapts a function to Canceller.
type cancelFunc func(ctx context.Context, account, id string) error

func (c cancelFunc) Cancel(ctx context.Context, account, id string) error { return c(ctx, account, id) }

func TestCancelThroughACanceller(t *testing.T) {
	var got []string
	var mu sync.Mutex
	_, addr := startFront(t, Options{Accounts: []Account{tAccount("acme")}, Canceller: cancelFunc(func(_ context.Context, account, id string) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, account+"/"+id)
		if id == "sent" {
			return errors.New("already with the carrier")
		}
		return nil
	})})
	s := mustDial(t, addr, "acme", smpp.BindTransceiver, nil)
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	if _, err := s.Send(ctx, &smpp.CancelSM{MessageID: "queued"}); err != nil {
		t.Errorf("cancel of a queued message: %v", err)
	}
	if _, err := s.Send(ctx, &smpp.CancelSM{MessageID: "sent"}); statusOf(t, err) != smpp.ESME_RCANCELFAIL {
		t.Errorf("cancel of a sent message: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[0] != "acme/queued" {
		t.Errorf("cancels %v", got)
	}
}
