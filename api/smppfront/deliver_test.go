package smppfront

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/smppd/smppd/dlr"
	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/store"
)

func receiptJob(t testing.TB, account, id string) *store.WebhookJob {
	t.Helper()
	return clientJob(t, dlr.ClientReceipt{
		MessageID: id, Account: account, From: "ACMEIN", To: "919812345678",
		Submitted: time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC), Done: time.Date(2026, 12, 6, 10, 1, 0, 0, time.UTC),
		Stat: "DELIVRD", Err: "000", Parts: 1, Delivered: 1, Text: "Your OTP is 123456, valid 5 min",
	})
}

func clientJob(t testing.TB, cr dlr.ClientReceipt) *store.WebhookJob {
	t.Helper()
	b, err := json.Marshal(cr)
	if err != nil {
		t.Fatal(err)
	}
	return &store.WebhookJob{ID: "job-" + cr.MessageID, MessageID: cr.MessageID, Account: cr.Account,
		URL: dlr.ClientTarget(cr.Account), Kind: dlr.ModeSMPP, Body: string(b)}
}

func TestDeliverReceiptAndMO(t *testing.T) {
	f, addr := startFront(t, Options{Accounts: []Account{tAccount("acme")}})
	got := make(chan *smpp.DeliverSM, 4)
	answer := smpp.ESME_ROK
	mustDial(t, addr, "acme", smpp.BindReceiver, smpp.DeliverHandlerFunc(func(_ context.Context, _ *smpp.Session, p *smpp.DeliverSM) smpp.CommandStatus {
		got <- p
		return answer
	}))
	if err := f.Deliver(context.Background(), receiptJob(t, "acme", "msg-7")); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	p := <-got
	txt := string(p.ShortMessage)
	// Dates in IST: 10:00 UTC is 15:30 IST.
	want := "id:msg-7 sub:001 dlvrd:001 submit date:2612061530 done date:2612061531 stat:DELIVRD err:000 text:Your OTP is 123456, "
	if txt != want || p.ESMClass != smpp.ESMClassDeliveryRcpt || p.Source.Addr != "919812345678" || p.Dest.Addr != "ACMEIN" {
		t.Fatalf("receipt %q esm %#x from %s to %s", txt, p.ESMClass, p.Source.Addr, p.Dest.Addr)
	}
	if id, _, _ := p.TLVs.CString(smpp.TagReceiptedMessageID); id != "msg-7" {
		t.Errorf("receipted_message_id %q", id)
	}
	if st, _, _ := p.TLVs.Uint8(smpp.TagMessageState); smpp.MessageState(st) != smpp.StateDelivered {
		t.Errorf("message_state %d", st)
	}
	r, err := smpp.ParseReceipt(p, nil)
	if err != nil || r.MessageID != "msg-7" || r.State != smpp.StateDelivered {
		t.Errorf("our own parser reads %+v, %v", r, err)
	}

	mo := clientJob(t, dlr.ClientReceipt{MO: true, MessageID: "mo-1", Account: "acme", From: "919812345678", To: "56161", Text: "STOP नमस्ते"})
	if err := f.Deliver(context.Background(), mo); err != nil {
		t.Fatalf("Deliver MO: %v", err)
	}
	p = <-got
	if p.ESMClass != 0 || p.DataCoding != 0x08 || p.Source.Addr != "919812345678" || p.Dest.Addr != "56161" {
		t.Fatalf("MO %+v", p)
	}

	answer = smpp.ESME_RX_T_APPN
	err = f.Deliver(context.Background(), receiptJob(t, "acme", "msg-8"))
	<-got
	if err == nil || errors.Is(err, dlr.ErrNotBound) || !strings.Contains(err.Error(), "ESME_RX_T_APPN") {
		t.Fatalf("Deliver answered an error status: %v", err)
	}
	st := f.Stats().Accounts[0]
	if st.ReceiptsSent != 1 || st.MOSent != 1 || st.ReceiptsFailed != 1 || st.ReceiptsInFlight != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestDeliverRoundRobin(t *testing.T) {
	f, addr := startFront(t, Options{Accounts: []Account{tAccount("acme")}})
	counts := make([]int, 2)
	for i := range counts {
		mustDial(t, addr, "acme", smpp.BindTransceiver, smpp.DeliverHandlerFunc(func(context.Context, *smpp.Session, *smpp.DeliverSM) smpp.CommandStatus {
			counts[i]++
			return smpp.ESME_ROK
		}))
	}
	for i := range 10 {
		if err := f.Deliver(context.Background(), receiptJob(t, "acme", "m"+string(rune('a'+i)))); err != nil {
			t.Fatal(err)
		}
	}
	if counts[0] != 5 || counts[1] != 5 {
		t.Errorf("receipts per bind %v, want 5 and 5", counts)
	}
}

func TestDeliverForAnAccountWithoutSMPP(t *testing.T) {
	f, _ := startFront(t, Options{Accounts: []Account{tAccount("acme")}})
	err := f.Deliver(context.Background(), receiptJob(t, "http-only", "m1"))
	if err == nil || errors.Is(err, dlr.ErrNotBound) {
		t.Fatalf("Deliver for an account the front does not have: %v", err)
	}
	bad := receiptJob(t, "acme", "m2")
	bad.Body = "{"
	if err := f.Deliver(context.Background(), bad); err == nil || errors.Is(err, dlr.ErrNotBound) {
		t.Fatalf("Deliver of a broken body: %v", err)
	}
}
