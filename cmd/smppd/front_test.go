package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	gosmpp "github.com/fiorix/go-smpp/smpp"
	"github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/fiorix/go-smpp/smpp/pdu/pdufield"
	"github.com/fiorix/go-smpp/smpp/pdu/pdutext"
	"github.com/fiorix/go-smpp/smpp/pdu/pdutlv"

	"github.com/smppd/smppd/api/smppfront"
	"github.com/smppd/smppd/dlt"
	"github.com/smppd/smppd/internal/wait"
	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/smsc"
	"github.com/smppd/smppd/smsc/smsctest"
	"github.com/smppd/smppd/store/storetest"
)

// The DLT data every client message of these tests carries (demo_registry.yaml's ACME login
// OTP template), and the chain smppd must build for the aggregator: the PE, the aggregator
// account's TM id (TM-AF, registered in one of ACME's chains), then the registry's TM-D.
const (
	frontPE   = "1101557290000055412"
	frontCT   = "1107161234567890001"
	frontText = "Your OTP for login is %06d. Do not share it with anyone. - ACME"
	frontTMAF = "1102000000000000001"
	frontTMD  = "1702157571346669272"
	frontPass = "s3cret"
)

// frontDaemon runs smppd in-process on Redis with the SMPP front on and one simulator
// carrier, with three client accounts: agg (an aggregator with a TM id, for our client),
// ent (for fiorix/go-smpp) and late (binds its receiver only after its receipts are due).
// It returns the front's address.
func frontDaemon(t *testing.T, sim *smsc.Server) string {
	t.Helper()
	hash, err := smppfront.HashPassword(frontPass)
	if err != nil {
		t.Fatal(err)
	}
	front := freeAddr(t)
	account := func(name, tmID string) string {
		return fmt.Sprintf(`
  - name: %[1]s
    sender_ids: [ACMEIN]
    dlt_entity: %[2]q
    tm_id: %[3]q
    smpp:
      system_id: %[1]s
      password_hash: %[4]q
      window: 512
      rate: -1`, name, frontPE, tmID, hash)
	}
	yaml := fmt.Sprintf(`
log_level: error
http:
  listen: 127.0.0.1:0
store:
  type: redis
  redis_url: %s
  prefix: %s
smpp_front:
  listen: %s
otp:
  key: 0123456789abcdef0123456789abcdef
dlt:
  registry: registry.yaml
dispatch:
  claim_wait: 100ms
carriers:
  - name: sim
    binds:
      - addrs: [%q]
        system_id: smppd
        password: password
        count: 2
        window: 100
accounts:%s%s%s
`, storetest.RedisURL(), storetest.UniquePrefix(t), front, sim.Addr(),
		account("agg", frontTMAF), account("ent", ""), account("late", ""))
	path := writeConfig(t, yaml)
	startDaemonInProcess(t, path)
	return front
}

// receiptBox collects the receipts a client gets, by receipted_message_id.
type receiptBox struct {
	mu  sync.Mutex
	ids map[string]int
}

func (b *receiptBox) handler() smpp.Handler {
	return smpp.DeliverHandlerFunc(func(_ context.Context, _ *smpp.Session, p *smpp.DeliverSM) smpp.CommandStatus {
		id, _ := p.TLVs.String(smpp.TagReceiptedMessageID)
		id = strings.TrimRight(id, "\x00") // a C-octet string: NUL-terminated on the wire
		if p.ESMClass&0x04 != 0 && id != "" {
			b.mu.Lock()
			b.ids[id]++
			b.mu.Unlock()
		}
		return smpp.ESME_ROK
	})
}

// missing returns how many of ids have no receipt yet, and any receipt for an id not in ids.
func (b *receiptBox) missing(ids []string) (n int, strangers []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
		if b.ids[id] == 0 {
			n++
		}
	}
	for id := range b.ids {
		if !want[id] {
			strangers = append(strangers, id)
		}
	}
	return n, strangers
}

func frontSubmit(to string, i int) *smpp.SubmitSM {
	return &smpp.SubmitSM{
		Source: smpp.Address{TON: 5, NPI: 0, Addr: "ACMEIN"}, Dest: smpp.Address{TON: 1, NPI: 1, Addr: to},
		RegisteredDelivery: 1, ShortMessage: []byte(fmt.Sprintf(frontText, i)),
		TLVs: smpp.TLVs{smpp.StringTLV(smpp.TagDLTPEID, frontPE), smpp.StringTLV(smpp.TagDLTTemplate, frontCT)},
	}
}

// An aggregator binds to smppd's SMPP front with our client and sends 10,000 messages with
// their DLT TLVs; each reaches the carrier once with PE, CT and the chain hash of PE → the
// aggregator's TM id → smppd's TM-D, and each id submit_sm_resp gave comes back in a receipt.
// fiorix/go-smpp, an independent client, does the same for its account; and an account
// whose receiver binds only after its messages were delivered gets every receipt it missed.
func TestSMPPFrontEndToEnd(t *testing.T) {
	sim := smsctest.Start(t, smsc.Options{EnquireLinkInterval: -1, Accounts: []smsc.Account{{
		SystemID: "smppd", Password: "password",
		Receipts: smsc.Receipts{DelayMin: time.Millisecond, DelayMax: 20 * time.Millisecond},
	}}})
	front := frontDaemon(t, sim)
	ctx := context.Background()

	// 1. Our client: one transceiver, 10,000 submits from 32 goroutines.
	box := &receiptBox{ids: map[string]int{}}
	s, err := smpp.Dial(ctx, front, smpp.Bind{Mode: smpp.BindTransceiver, SystemID: "agg", Password: frontPass},
		smpp.Options{WindowSize: 64, Handler: box.handler(), EnquireLinkInterval: -1})
	if err != nil {
		t.Fatalf("bind to the front: %v", err)
	}
	defer s.Close(ctx)
	const n = 10000
	ids := make([]string, n)
	var wg sync.WaitGroup
	var failMu sync.Mutex
	var failures []string
	for w := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 32 {
				resp, err := s.Submit(ctx, frontSubmit(fmt.Sprintf("9198%08d", i), i))
				if err != nil || resp.MessageID == "" {
					failMu.Lock()
					failures = append(failures, fmt.Sprintf("message %d: %v", i, err))
					failMu.Unlock()
					continue
				}
				ids[i] = resp.MessageID
			}
		}()
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d submits failed, first: %s", len(failures), failures[0])
	}
	wait.For(t, 120*time.Second, "a receipt for every message", func() bool { m, _ := box.missing(ids); return m == 0 })
	if _, strangers := box.missing(ids); len(strangers) > 0 {
		t.Fatalf("receipts for ids the client was never given: %v", strangers[:min(5, len(strangers))])
	}
	chain := dlt.ChainHash(frontPE, frontTMAF, frontTMD)
	seen := map[string]bool{}
	for _, m := range sim.Messages(smsc.Filter{SystemID: "smppd"}) {
		if !strings.HasPrefix(m.Dest.Addr, "9198") {
			continue
		}
		pe, _ := m.RawTLV.String(smpp.TagDLTPEID)
		ct, _ := m.RawTLV.String(smpp.TagDLTTemplate)
		ch, _ := m.RawTLV.String(smpp.TagDLTChainHash)
		if pe != frontPE || ct != frontCT || ch != chain {
			t.Fatalf("submit_sm to %s carries PE %q CT %q chain %q; want %q %q %q", m.Dest.Addr, pe, ct, ch, frontPE, frontCT, chain)
		}
		if seen[m.Dest.Addr] {
			t.Fatalf("%s reached the carrier twice", m.Dest.Addr)
		}
		seen[m.Dest.Addr] = true
	}
	if len(seen) != n {
		t.Fatalf("the carrier got %d of the %d messages", len(seen), n)
	}

	// 2. fiorix/go-smpp as a transceiver: its receipt carries the id it was given.
	got := make(chan string, 16)
	tx := &gosmpp.Transceiver{Addr: front, User: "ent", Passwd: frontPass, RespTimeout: 10 * time.Second,
		Handler: func(p pdu.Body) {
			if p.Header().ID == pdu.DeliverSMID {
				if v := p.TLVFields()[pdutlv.TagReceiptedMessageID]; v != nil {
					got <- strings.TrimRight(string(v.Bytes()), "\x00")
				}
			}
		}}
	status := tx.Bind()
	defer tx.Close()
	if st := <-status; st.Error() != nil {
		t.Fatalf("go-smpp bind: %v", st.Error())
	}
	sm, err := tx.Submit(&gosmpp.ShortMessage{Src: "ACMEIN", Dst: "919700000001", Text: pdutext.Raw(fmt.Sprintf(frontText, 424242)),
		Register:  pdufield.FinalDeliveryReceipt,
		TLVFields: pdutlv.Fields{pdutlv.Tag(0x1400): pdutlv.String(frontPE), pdutlv.Tag(0x1401): pdutlv.String(frontCT)}})
	if err != nil || sm.RespID() == "" {
		t.Fatalf("go-smpp submit: %v", err)
	}
	select {
	case id := <-got:
		if id != sm.RespID() {
			t.Fatalf("go-smpp got a receipt for %q, was given %q", id, sm.RespID())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no receipt reached go-smpp")
	}

	// 3. A transmitter-only client sends and leaves; its receipts wait in the store until it
	// binds a receiver.
	late, err := smpp.Dial(ctx, front, smpp.Bind{Mode: smpp.BindTransmitter, SystemID: "late", Password: frontPass},
		smpp.Options{EnquireLinkInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	var lateIDs []string
	for i := range 50 {
		resp, err := late.Submit(ctx, frontSubmit(fmt.Sprintf("9196%08d", i), i))
		if err != nil {
			t.Fatalf("late submit %d: %v", i, err)
		}
		lateIDs = append(lateIDs, resp.MessageID)
	}
	if err := late.Close(ctx); err != nil {
		t.Fatal(err)
	}
	wait.For(t, 30*time.Second, "the carrier's receipts for the late client", func() bool {
		done := 0
		for _, m := range sim.Messages(smsc.Filter{SystemID: "smppd"}) {
			if strings.HasPrefix(m.Dest.Addr, "9196") && m.State != "ENROUTE" {
				done++
			}
		}
		return done == len(lateIDs)
	})
	lateBox := &receiptBox{ids: map[string]int{}}
	rx, err := smpp.Dial(ctx, front, smpp.Bind{Mode: smpp.BindReceiver, SystemID: "late", Password: frontPass},
		smpp.Options{Handler: lateBox.handler(), EnquireLinkInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close(ctx)
	wait.For(t, 60*time.Second, "the receipts the late client missed", func() bool { m, _ := lateBox.missing(lateIDs); return m == 0 })
	if _, strangers := lateBox.missing(lateIDs); len(strangers) > 0 {
		t.Fatalf("the late client got receipts for ids it was never given: %v", strangers)
	}
}
