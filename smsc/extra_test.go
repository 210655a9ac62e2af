package smsc_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"strings"
	"testing"
	"time"

	gosmpp "github.com/fiorix/go-smpp/smpp"
	"github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/fiorix/go-smpp/smpp/pdu/pdufield"
	"github.com/fiorix/go-smpp/smpp/pdu/pdutext"
	"github.com/fiorix/go-smpp/smpp/pdu/pdutlv"

	"github.com/smppd/smppd/dlt"
	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/smsc"
	"github.com/smppd/smppd/smsc/smsctest"
)

const scenarioFile = "../testdata/smscsim/scenario.yaml"

func TestScenarioFile(t *testing.T) {
	opts, err := smsc.LoadScenario(scenarioFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(opts.Accounts) != 3 || opts.Accounts[0].Receipts.DelayMax != 2*time.Second || len(opts.Accounts[0].Receipts.Rules) != 8 ||
		opts.Accounts[0].MessageID.Kind != "hex" || opts.Accounts[1].DLT.RejectIn != "receipt" || opts.MaxOutstanding != 100 {
		t.Fatalf("scenario decoded as %+v", opts)
	}
	if r := opts.Accounts[0].Receipts; r.Window != 0 || r.Retries != nil {
		t.Errorf("the first account keeps the default delivery policy, got %+v", r)
	}
	if r := opts.Accounts[2].Receipts; r.Window != smsc.NoWindow || r.Retries == nil || *r.Retries != 2 || r.RetryDelay != time.Second || r.ResponseTimeout != 5*time.Second {
		t.Errorf("the rough carrier decoded as %+v", r)
	}
	srv := smsctest.Start(t, opts)
	s := bind(t, srv, nil)
	if st := submitStatus(t, s, sm("333", "x")); st != smpp.ESME_RSUBMITFAIL {
		t.Errorf("magic 333: %s", st)
	}
	if _, err := smsc.ParseScenario([]byte("acounts: []\n")); err == nil || !strings.Contains(err.Error(), "acounts") {
		t.Errorf("a typo must be an error naming the key, got %v", err)
	}
	if _, err := smsc.ParseScenario([]byte("accounts:\n  - system_id: a\n    receipts:\n      mix: [{stat: LOST, weight: 1}]\n")); err == nil ||
		!strings.Contains(err.Error(), "accounts[0].receipts.mix[0].stat") {
		t.Errorf("a bad stat must name the field, got %v", err)
	}
}

const (
	peID    = "1101557290000055412"
	otpTmpl = "1107161234567890123"
	promo   = "1107161234567890124"
)

func dltSubmit(dest, header, tmpl, text string, chain bool) *smpp.SubmitSM {
	p := sm(dest, text)
	p.Source.Addr = header
	p.TLVs = smpp.TLVs{smpp.StringTLV(smpp.TagDLTPEID, peID)}
	if tmpl != "" {
		p.TLVs = append(p.TLVs, smpp.StringTLV(smpp.TagDLTTemplate, tmpl))
	}
	if chain {
		p.TLVs = append(p.TLVs, smpp.StringTLV(smpp.TagDLTChainHash, dlt.ChainHash(peID, "1702157571346669272")))
	}
	return p
}

func TestDLTScrubbing(t *testing.T) {
	// 22:30 IST: promotional traffic is out of its window.
	night := time.Date(2025, 11, 3, 17, 0, 0, 0, time.UTC)
	opts := acct(func(a *smsc.Account) { a.DLT = smsc.DLT{Enabled: true, RequireChainHash: true} })
	opts.DLTRegistryFile = "../testdata/smscsim/dlt_registry.yaml"
	opts.Now = func() time.Time { return night }
	srv := smsctest.Start(t, opts)
	in := newInbox()
	s := bind(t, srv, in)
	otp := "Your OTP for login is 482913. Do not share it with anyone. - ACME"
	noPE := sm("9000", otp)
	for _, tc := range []struct {
		name string
		p    *smpp.SubmitSM
		want smpp.CommandStatus
	}{
		{"passes", dltSubmit("9000", "ACMEIN", otpTmpl, otp, true), smpp.ESME_ROK},
		{"no PE ID", noPE, 604},
		{"no template", dltSubmit("9000", "ACMEIN", "", otp, true), 637},
		{"no chain hash", dltSubmit("9000", "ACMEIN", otpTmpl, otp, false), 614},
		{"unknown template", dltSubmit("9000", "ACMEIN", "1107000000000000000", otp, true), 630},
		{"text off template", dltSubmit("9000", "ACMEIN", otpTmpl, "Your OTP is 1. - ACME", true), 633},
		{"unknown header", dltSubmit("9000", "ACMEXX", otpTmpl, otp, true), 620},
		{"promotional at night", dltSubmit("9000", "512345", promo, "Big sale! 50% off on everything today. - ACME", true), 651},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := submitStatus(t, s, tc.p); got != tc.want {
				t.Errorf("status %d (%s), want %d", got, got, tc.want)
			}
		})
	}
	if c := srv.Counters(); c.DLTRejected != 7 || c.ByStatus["651"] != 1 {
		t.Errorf("counters %+v", c)
	}
	msgs := srv.Messages(smsc.Filter{})
	if last := msgs[len(msgs)-1]; last.DLTError != 651 || last.DLTReason == "" {
		t.Errorf("stored %+v", last)
	}

	// Concatenated: scrubbed on the joined text when the last part arrives.
	parts := []string{"Your OTP for login is 482913. ", "Do not share it with anyone. - ACME"}
	for i, part := range parts {
		p := dltSubmit("9001", "ACMEIN", otpTmpl, "", true)
		p.ESMClass = smpp.ESMClassUDHI
		p.ShortMessage = append([]byte{5, 0, 3, 7, 2, byte(i + 1)}, part...)
		if st := submitStatus(t, s, p); st != smpp.ESME_ROK {
			t.Errorf("part %d: %s", i+1, st)
		}
	}

	// Reported in the receipt instead.
	if err := srv.SetDLT("", smsc.DLT{Enabled: true, RejectIn: "receipt"}); err != nil {
		t.Fatal(err)
	}
	id := submit(t, s, dltSubmit("9002", "ACMEIN", "1107000000000000000", otp, false))
	waitFor(t, "REJECTD receipt", func() bool { return in.receipts()[id] != nil })
	if r := in.receipts()[id]; r.Stat != "REJECTD" || r.ErrCode != 630 {
		t.Errorf("receipt %+v, want REJECTD err 630", r)
	}
}

func selfSigned(t *testing.T) tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "smscsim"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func TestTLS(t *testing.T) {
	srv := smsctest.Start(t, smsc.Options{TLSConfig: &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}}})
	in := newInbox()
	s := bind(t, srv, in, withOpts(func(o *smpp.Options) { o.TLSConfig = &tls.Config{InsecureSkipVerify: true} }))
	id := submit(t, s, sm("9000", "over tls"))
	waitFor(t, "receipt over TLS", func() bool { return in.receipts()[id] != nil })
	// Silence to enquire_link works on TLS binds too (the filter sits above TLS).
	if err := srv.SetFaults("", smsc.Faults{SilentEnquireLink: true}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.EnquireLink(ctx); err == nil {
		t.Error("enquire_link answered despite the fault")
	}
}

// TestGoSMPPClient runs an independent SMPP implementation against the simulator:
// fiorix/go-smpp binds as a transceiver, submits with DLT TLVs and receives the receipt.
func TestGoSMPPClient(t *testing.T) {
	srv := smsctest.Start(t, smsc.Options{})
	receipts := make(chan pdu.Body, 4)
	tx := &gosmpp.Transceiver{
		Addr: srv.Addr(), User: smsc.DefaultSystemID, Passwd: smsc.DefaultPassword, RespTimeout: 2 * time.Second,
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
			pdutlv.Tag(0x1400): pdutlv.String(peID),
			pdutlv.Tag(0x1401): pdutlv.String(otpTmpl),
		},
	})
	if err != nil {
		t.Fatalf("go-smpp submit: %v", err)
	}
	id := sent.RespID()
	if id == "" {
		t.Fatal("no message id")
	}
	m, ok := srv.Message(id)
	tlv := map[uint16]string{}
	for _, v := range m.TLVs {
		tlv[v.Tag] = v.Value
	}
	// go-smpp keeps TLVs in a map, so their order on the wire varies.
	if !ok || m.Text != "hello from go-smpp" || len(m.TLVs) != 2 || tlv[0x1400] != peID || tlv[0x1401] != otpTmpl {
		t.Fatalf("stored %+v", m)
	}
	select {
	case p := <-receipts:
		f := p.Fields()
		txt := f[pdufield.ShortMessage].String()
		if !strings.HasPrefix(txt, "id:"+id+" ") || !strings.Contains(txt, "stat:DELIVRD") {
			t.Errorf("receipt text %q", txt)
		}
		if v := p.TLVFields()[pdutlv.TagReceiptedMessageID]; v == nil || strings.TrimRight(string(v.Bytes()), "\x00") != id {
			t.Errorf("receipted_message_id %v", v)
		}
	case <-time.After(waitLong):
		t.Fatal("no receipt reached go-smpp")
	}
}
