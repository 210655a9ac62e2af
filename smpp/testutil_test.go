package smpp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// testSMSC is a minimal in-process SMSC: it accepts any bind with password "secret" and
// answers submit_sm with message ids "m1", "m2", …
type testSMSC struct {
	srv   *Server
	addr  string
	count atomic.Uint64
	bound chan *Session
}

func startSMSC(t testing.TB, handler Handler, mod func(*ServerOptions)) *testSMSC {
	t.Helper()
	ts := &testSMSC{bound: make(chan *Session, 16)}
	if handler == nil {
		handler = HandlerFunc(func(ctx context.Context, r *Request) {
			if _, ok := r.PDU.(*SubmitSM); ok {
				n := ts.count.Add(1)
				_ = r.Respond(ESME_ROK, &SubmitSMResp{MessageID: "m" + itoa(n)})
				return
			}
			_ = r.Respond(ESME_ROK, nil)
		})
	}
	opts := ServerOptions{
		SystemID: "testsmsc",
		Session:  Options{Handler: handler},
		Authenticator: AuthenticatorFunc(func(ctx context.Context, s *Session, b *Bind) CommandStatus {
			if b.Password != "secret" {
				return ESME_RINVPASWD
			}
			return ESME_ROK
		}),
		OnBound: func(s *Session) {
			select {
			case ts.bound <- s:
			default:
			}
		},
	}
	if mod != nil {
		mod(&opts)
	}
	ts.srv = NewServer(opts)
	ln, err := ts.srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = ln.Addr().String()
	go ts.srv.Serve(ln)
	t.Cleanup(func() { ts.srv.Close() })
	return ts
}

func itoa(n uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

func dialTest(t testing.TB, addr string, mode BindMode, opts Options) *Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := Dial(ctx, addr, Bind{Mode: mode, SystemID: "esme", Password: "secret"}, opts)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { s.Abort() })
	return s
}

// rawPeer is a TCP peer that speaks frames by hand, for asserting exact protocol behaviour.
type rawPeer struct {
	t    testing.TB
	conn net.Conn
	fr   *FrameReader
}

func (p *rawPeer) send(seq uint32, st CommandStatus, pdu PDU) {
	p.t.Helper()
	b, err := EncodePDU(seq, st, pdu)
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.conn.Write(b); err != nil {
		p.t.Fatal(err)
	}
}

func (p *rawPeer) read() (Header, PDU) {
	p.t.Helper()
	_ = p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	f, err := p.fr.ReadFrame()
	if err != nil {
		p.t.Fatalf("read: %v", err)
	}
	h, pdu, err := DecodePDU(f)
	if err != nil {
		p.t.Fatalf("decode: %v", err)
	}
	return h, pdu
}

// rawSMSC accepts one connection, answers its bind (unless answerBind is false) and hands
// the raw peer to the test, which then plays the SMSC by hand.
func rawSMSC(t testing.TB, answerBind bool) (addr string, peer <-chan *rawPeer) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan *rawPeer, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		t.Cleanup(func() { conn.Close() })
		p := &rawPeer{t: t, conn: conn, fr: NewFrameReader(conn, 0)}
		if answerBind {
			f, err := p.fr.ReadFrame()
			if err != nil {
				return
			}
			h, b, err := DecodePDU(f)
			if err != nil {
				return
			}
			resp, _ := EncodePDU(h.Sequence, ESME_ROK, &BindResp{Mode: b.(*Bind).Mode, SystemID: "raw"})
			conn.Write(resp)
		}
		ch <- p
	}()
	return ln.Addr().String(), ch
}

// rawConn connects to a server without binding.
func rawConn(t testing.TB, addr string) *rawPeer {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &rawPeer{t: t, conn: conn, fr: NewFrameReader(conn, 0)}
}

// rawESME connects to a server and binds by hand.
func rawESME(t testing.TB, addr string, b Bind) (*rawPeer, CommandStatus) {
	t.Helper()
	p := rawConn(t, addr)
	p.send(1, ESME_ROK, &b)
	h, _ := p.read()
	return p, h.Status
}

// selfSignedCert makes a throwaway certificate for 127.0.0.1.
func selfSignedCert(t testing.TB) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "smpp test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
