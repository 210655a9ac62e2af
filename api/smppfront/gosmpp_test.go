package smppfront

import (
	"context"
	"strings"
	"testing"
	"time"

	gosmpp "github.com/fiorix/go-smpp/smpp"
	"github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/fiorix/go-smpp/smpp/pdu/pdufield"
	"github.com/fiorix/go-smpp/smpp/pdu/pdutext"
	"github.com/fiorix/go-smpp/smpp/pdu/pdutlv"

	"github.com/smppd/smppd/api"
	"github.com/smppd/smppd/dlr"
	"github.com/smppd/smppd/internal/wait"
)

// An independent client, fiorix/go-smpp, binds as a transceiver, submits with the DLT TLVs,
// gets smppd's id, and receives the receipt for that id.
func TestGoSMPPClient(t *testing.T) {
	acc := &fakeAcceptor{}
	f, addr := startFront(t, Options{Accounts: []Account{tAccount("gosmpp")}, Acceptor: acc})
	receipts := make(chan pdu.Body, 4)
	tx := &gosmpp.Transceiver{
		Addr: addr, User: "gosmpp", Passwd: tPassword, RespTimeout: 5 * time.Second,
		Handler: func(p pdu.Body) {
			if p.Header().ID == pdu.DeliverSMID {
				receipts <- p
			}
		},
	}
	status := tx.Bind()
	defer tx.Close()
	select {
	case st := <-status:
		if st.Error() != nil {
			t.Fatalf("go-smpp bind: %v", st.Error())
		}
	case <-time.After(waitLong):
		t.Fatal("go-smpp did not bind")
	}
	sent, err := tx.Submit(&gosmpp.ShortMessage{
		Src: "ACMEIN", Dst: "919800000001", Text: pdutext.Raw("hello from go-smpp"),
		Register: pdufield.FinalDeliveryReceipt,
		TLVFields: pdutlv.Fields{
			pdutlv.Tag(0x1400): pdutlv.String("1201159100000000001"),
			pdutlv.Tag(0x1401): pdutlv.String("1207161000000000001"),
		},
	})
	if err != nil {
		t.Fatalf("go-smpp submit: %v", err)
	}
	id := sent.RespID()
	subs := acc.submissions()
	if id != "msg-1" || len(subs) != 1 || subs[0].Text != "hello from go-smpp" || subs[0].PEID != "1201159100000000001" ||
		subs[0].TemplateID != "1207161000000000001" || !subs[0].Receipt {
		t.Fatalf("id %q, submissions %+v", id, subs)
	}
	wait.For(t, waitLong, "the transceiver listed", func() bool { return len(f.Binds()) == 1 })
	job := clientJob(t, dlr.ClientReceipt{
		MessageID: id, Account: "gosmpp", From: "ACMEIN", To: "919800000001",
		Submitted: time.Now(), Done: time.Now(), Stat: "DELIVRD", Err: "000", Text: "hello from go-smpp",
	})
	if err := f.Deliver(context.Background(), job); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	select {
	case p := <-receipts:
		fl := p.Fields()
		txt := fl[pdufield.ShortMessage].String()
		if !strings.HasPrefix(txt, "id:"+id+" sub:001 dlvrd:001 ") || !strings.Contains(txt, "stat:DELIVRD err:000") {
			t.Errorf("receipt text %q", txt)
		}
		if esm := fl[pdufield.ESMClass].Raw(); esm != uint8(0x04) {
			t.Errorf("esm_class %v", esm)
		}
		if v := p.TLVFields()[pdutlv.TagReceiptedMessageID]; v == nil || strings.TrimRight(string(v.Bytes()), "\x00") != id {
			t.Errorf("receipted_message_id %v", v)
		}
		if v := p.TLVFields()[pdutlv.TagMessageStateOption]; v == nil || len(v.Bytes()) != 1 || v.Bytes()[0] != 2 {
			t.Errorf("message_state %v", v)
		}
	case <-time.After(waitLong):
		t.Fatal("no receipt reached go-smpp")
	}
}

// The api server is what the front accepts through.
var _ Acceptor = (*api.Server)(nil)
