package smppfront

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/smppd/smppd/internal/wait"
	"github.com/smppd/smppd/smpp"
)

func TestAdminListAndKick(t *testing.T) {
	f, addr := startFront(t, Options{Accounts: []Account{tAccount("acme"), tAccount("other")}})
	a1 := mustDial(t, addr, "acme", smpp.BindTransmitter, nil)
	a2 := mustDial(t, addr, "acme", smpp.BindReceiver, nil)
	o := mustDial(t, addr, "other", smpp.BindTransceiver, nil)
	wait.For(t, waitLong, "three binds", func() bool { return len(f.Binds()) == 3 })
	hs := httptest.NewServer(http.StripPrefix("/admin/smpp", f.AdminHandler()))
	defer hs.Close()

	var binds []BindInfo
	getJSON(t, hs.URL+"/admin/smpp/binds", &binds)
	if len(binds) != 3 || binds[0].Account != "acme" || binds[0].Mode != "transmitter" || binds[2].Account != "other" {
		t.Fatalf("binds %+v", binds)
	}
	var st Stats
	getJSON(t, hs.URL+"/admin/smpp/stats", &st)
	if len(st.Accounts) != 2 || st.Accounts[0].Binds["receiver"] != 1 {
		t.Fatalf("stats %+v", st)
	}

	// Kick one bind by id, then a whole account.
	kick := func(form url.Values) (int, map[string]int) {
		resp, err := http.PostForm(hs.URL+"/admin/smpp/kick", form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]int
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	if code, out := kick(url.Values{"id": {binds[2].ID}}); code != 200 || out["kicked"] != 1 {
		t.Fatalf("kick by id: %d %v", code, out)
	}
	wait.For(t, waitLong, "the kicked client closed", func() bool { return o.State() == smpp.StateClosed })
	if code, out := kick(url.Values{"account": {"acme"}}); code != 200 || out["kicked"] != 2 {
		t.Fatalf("kick by account: %d %v", code, out)
	}
	wait.For(t, waitLong, "acme's clients closed", func() bool { return a1.State() == smpp.StateClosed && a2.State() == smpp.StateClosed })
	wait.For(t, waitLong, "no binds left", func() bool { return len(f.Binds()) == 0 })
	if code, _ := kick(url.Values{"account": {"nobody"}}); code != http.StatusNotFound {
		t.Errorf("kick of nothing: %d", code)
	}
	if code, _ := kick(url.Values{}); code != http.StatusBadRequest {
		t.Errorf("kick without a target: %d", code)
	}
	getJSON(t, hs.URL+"/admin/smpp/binds", &binds)
	if len(binds) != 0 {
		t.Errorf("binds after kicks %+v", binds)
	}
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func TestTLSListener(t *testing.T) {
	cert, pool := selfSigned(t)
	acc := &fakeAcceptor{}
	f, err := New(Options{Accounts: []Account{tAccount("acme")}, Acceptor: acc, Logger: testLogger,
		TLS: &tls.Config{Certificates: []tls.Certificate{cert}}})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := f.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	secure, err := f.ListenTLS("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 2)
	go func() { errs <- f.Serve(plain) }()
	go func() { errs <- f.Serve(secure) }()
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	s, err := smpp.Dial(ctx, secure.Addr().String(), smpp.Bind{Mode: smpp.BindTransceiver, SystemID: "acme", Password: tPassword},
		smpp.Options{TLSConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}})
	if err != nil {
		t.Fatalf("TLS bind: %v", err)
	}
	if _, st := submit(t, s, sm("919812345678", "over TLS")); st != smpp.ESME_ROK {
		t.Fatalf("submit over TLS: %s", st)
	}
	p := mustDial(t, plain.Addr().String(), "acme", smpp.BindTransmitter, nil)
	if _, st := submit(t, p, sm("919812345678", "in plain")); st != smpp.ESME_ROK {
		t.Fatalf("submit in plain: %s", st)
	}
	// Shutdown unbinds both and stops both listeners.
	if err := f.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for range 2 {
		if err := <-errs; !errors.Is(err, smpp.ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
	}
	if s.State() != smpp.StateClosed {
		<-s.Done()
	}
	if _, err := net.DialTimeout("tcp", secure.Addr().String(), time.Second); err == nil {
		t.Error("TLS listener still open")
	}
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
