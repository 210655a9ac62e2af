package smppfront

import (
	"bufio"
	"context"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/smppd/smppd/smpp"
)

// FuzzSession feeds arbitrary bytes into a live, bound session of the front, then checks
// that the front still serves another client at once: no input may panic the process,
// stall the server or hold another client's requests. Run it with
//
//	go test -run='^$' -fuzz=FuzzSession -fuzztime=60s ./api/smppfront/
//
// Inputs that ever failed are kept as named rows of TestSessionRegressions.
func FuzzSession(f *testing.F) {
	for _, s := range sessionSeeds(f) {
		f.Add(s.in)
	}
	h := newSessionHarness(f)
	f.Fuzz(func(t *testing.T, in []byte) { h.run(t, in) })
}

// TestSessionRegressions replays inputs worth keeping: the fuzz seeds, each named for what
// it exercises, and any crasher found since (none so far).
func TestSessionRegressions(t *testing.T) {
	h := newSessionHarness(t)
	for _, s := range sessionSeeds(t) {
		t.Run(s.name, func(t *testing.T) { h.run(t, s.in) })
	}
}

type sessionHarness struct {
	addr    string
	healthy *smpp.Session
}

func newSessionHarness(tb testing.TB) *sessionHarness {
	fuzz := tAccount("fuzz")
	fuzz.Rate, fuzz.Window, fuzz.MaxBinds = -1, 16, 1000
	healthy := tAccount("healthy")
	healthy.Rate = -1 // the check runs once per input, thousands of times a second
	f, addr := startFront(tb, Options{
		Accounts:    []Account{fuzz, healthy},
		PartTimeout: 200 * time.Millisecond, MaxAssemblies: 50,
	})
	_ = f
	return &sessionHarness{addr: addr, healthy: mustDial(tb, addr, "healthy", smpp.BindTransceiver, nil)}
}

// run binds a raw connection as the fuzz account, writes in after the bind, reads what
// comes back for a moment, and closes; then the healthy client must be served at once.
func (h *sessionHarness) run(t *testing.T, in []byte) {
	conn, err := net.DialTimeout("tcp", h.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	bind, _ := smpp.AppendPDU(nil, 1, smpp.ESME_ROK, &smpp.Bind{Mode: smpp.BindTransceiver, SystemID: "fuzz", Password: tPassword, InterfaceVersion: 0x34})
	if _, err := conn.Write(bind); err != nil {
		t.Fatal(err)
	}
	fr := smpp.NewFrameReader(bufio.NewReader(conn), smpp.DefaultMaxPDUSize)
	frame, err := fr.ReadFrame()
	if err != nil {
		t.Fatalf("no bind_resp: %v", err)
	}
	if st := smpp.CommandStatus(binary.BigEndian.Uint32(frame[8:])); st != smpp.ESME_ROK {
		t.Fatalf("bind answered %s", st)
	}
	_, _ = conn.Write(in)
	// Read answers for a moment (the session may also close on us, which is fine).
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	for {
		if _, err := fr.ReadFrame(); err != nil {
			break
		}
	}
	_ = conn.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.healthy.EnquireLink(ctx); err != nil {
		t.Fatalf("another client's enquire_link after the input: %v", err)
	}
	if _, err := h.healthy.Submit(ctx, sm("919812345678", "still served")); err != nil {
		t.Fatalf("another client's submit after the input: %v", err)
	}
}

type sessionSeed struct {
	name string
	in   []byte
}

func sessionSeeds(tb testing.TB) []sessionSeed {
	tb.Helper()
	enc := func(seq uint32, pdus ...smpp.PDU) []byte {
		var b []byte
		for i, p := range pdus {
			var err error
			if b, err = smpp.AppendPDU(b, seq+uint32(i), smpp.ESME_ROK, p); err != nil {
				tb.Fatal(err)
			}
		}
		return b
	}
	part := func(ref, total, seq byte, txt string) *smpp.SubmitSM {
		p := sm("919812345678", "")
		p.ESMClass = smpp.ESMClassUDHI
		p.ShortMessage = append([]byte{5, 0, 3, ref, total, seq}, txt...)
		return p
	}
	header := func(length, id uint32) []byte {
		b := make([]byte, 16)
		binary.BigEndian.PutUint32(b, length)
		binary.BigEndian.PutUint32(b[4:], id)
		binary.BigEndian.PutUint32(b[12:], 9)
		return b
	}
	payload := sm("919812345678", "")
	payload.ShortMessage = nil
	payload.TLVs = smpp.TLVs{smpp.StringTLV(smpp.TagMessagePayload, "long text in the payload")}
	return []sessionSeed{
		{"submit_sm", enc(2, sm("919812345678", "hello"))},
		{"submit_sm with DLT TLVs", enc(2, &smpp.SubmitSM{Dest: smpp.Address{Addr: "91"}, ShortMessage: []byte("x"),
			TLVs: smpp.TLVs{smpp.StringTLV(smpp.TagDLTPEID, "1"), smpp.StringTLV(smpp.TagDLTTemplate, "2")}})},
		{"message_payload", enc(2, payload)},
		{"first part only, then close", enc(2, part(1, 3, 1, "one"))},
		{"whole UDH message", enc(2, part(2, 2, 1, "one "), part(2, 2, 2, "two"))},
		{"UDH part 0 of 0", enc(2, part(3, 0, 0, "zero"))},
		{"UDH part 255 of 255", enc(2, part(4, 255, 255, "last"))},
		{"UDH length beyond the message", enc(2, &smpp.SubmitSM{Dest: smpp.Address{Addr: "91"}, ESMClass: smpp.ESMClassUDHI, ShortMessage: []byte{200, 0}})},
		{"data_sm", enc(2, &smpp.DataSM{Dest: smpp.Address{Addr: "91"}, TLVs: smpp.TLVs{smpp.StringTLV(smpp.TagMessagePayload, "d")}})},
		{"submit_multi with a list", enc(2, &smpp.SubmitMulti{Dests: []smpp.DestAddress{{DLName: "x"}, {Address: smpp.Address{Addr: "91"}}}, ShortMessage: []byte("m")})},
		{"query, cancel, replace", enc(2, &smpp.QuerySM{MessageID: "1"}, &smpp.CancelSM{MessageID: "1"}, &smpp.ReplaceSM{MessageID: "1"})},
		{"a second bind on the bound session", enc(2, &smpp.Bind{Mode: smpp.BindTransmitter, SystemID: "fuzz", Password: tPassword})},
		{"deliver_sm from the client", enc(2, &smpp.DeliverSM{Dest: smpp.Address{Addr: "91"}})},
		{"unbind, then a submit", enc(2, &smpp.Unbind{}, sm("91", "late"))},
		{"window flood", func() []byte {
			var b []byte
			for i := range 40 {
				b = append(b, enc(uint32(10+i), sm("91", "flood"))...)
			}
			return b
		}()},
		{"length below a header", header(8, uint32(smpp.SubmitSMID))},
		{"length beyond the limit", header(1<<30, uint32(smpp.SubmitSMID))},
		{"unknown command", header(16, 0x00001234)},
		{"truncated body", header(40, uint32(smpp.SubmitSMID))},
		{"garbage", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")},
	}
}
