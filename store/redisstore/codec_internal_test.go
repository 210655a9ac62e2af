package redisstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/smppd/smppd/store"
)

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, TextKeySize) }

func codecStore(t testing.TB, cur []byte, old ...[]byte) *Store {
	t.Helper()
	r, err := newTextRing(cur, old)
	if err != nil {
		t.Fatal(err)
	}
	return &Store{text: r}
}

func otpMessage() *store.Message {
	return &store.Message{ID: "6f0c1b9e-0000-4000-8000-000000000001", Account: "acme", Carrier: "jio",
		Priority: store.PriorityOTP, From: "ACMEOT", To: "919812345678",
		Text: "Your OTP is 482913. Do not share it.", AcceptedAt: time.UnixMilli(1700000000000).UTC(),
		Meta: map[string]string{"otp": "1"}}
}

func TestCodecSealsTextAndRoundTrips(t *testing.T) {
	s := codecStore(t, testKey(1))
	m := otpMessage()
	body, err := s.marshalMsg(m)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(body, "482913") || strings.Contains(body, `"text"`) {
		t.Fatalf("plaintext at rest: %s", body)
	}
	if !strings.Contains(body, `"sealed":"v1:`+TextKeyID(testKey(1))+`:`) {
		t.Fatalf("no sealed text with the key id: %s", body)
	}
	// The Lua scripts read id and priority from the JSON: they stay in the clear.
	var env struct {
		ID       string `json:"id"`
		Priority int    `json:"priority"`
	}
	if err := json.Unmarshal([]byte(body), &env); err != nil || env.ID != m.ID || env.Priority != int(m.Priority) {
		t.Fatalf("envelope %+v, %v", env, err)
	}
	got, err := s.decodeMsg(body)
	if err != nil {
		t.Fatal(err)
	}
	if got.Text != m.Text || got.ID != m.ID || got.To != m.To || got.Meta["otp"] != "1" || !got.AcceptedAt.Equal(m.AcceptedAt) {
		t.Fatalf("decoded %+v, want %+v", got, m)
	}
	again, _ := s.marshalMsg(m)
	if again == body {
		t.Fatal("two seals of one text are equal: the nonce is not random")
	}
	if m.Text != "Your OTP is 482913. Do not share it." {
		t.Fatal("marshalMsg changed the caller's message")
	}
}

func TestCodecDecodesPlaintextEntries(t *testing.T) {
	m := otpMessage()
	legacy, _ := json.Marshal(m) // an entry written before sealing
	for _, s := range []*Store{codecStore(t, testKey(1)), {}} {
		got, err := s.decodeMsg(string(legacy))
		if err != nil || got.Text != m.Text {
			t.Fatalf("legacy entry: %+v, %v", got, err)
		}
	}
	// A store without keys writes plaintext (tests, tools), and reads it back.
	plain := &Store{}
	body, _ := plain.marshalMsg(m)
	if !strings.Contains(body, `"text":"Your OTP is 482913`) {
		t.Fatalf("keyless body %s", body)
	}
}

func TestCodecRotation(t *testing.T) {
	old, cur := testKey(1), testKey(2)
	body, _ := codecStore(t, old).marshalMsg(otpMessage())

	got, err := codecStore(t, cur, old).decodeMsg(body)
	if err != nil || got.Text != otpMessage().Text {
		t.Fatalf("old key in the ring: %v", err)
	}
	resealed, _ := codecStore(t, cur, old).marshalMsg(got)
	if !strings.Contains(resealed, ":"+TextKeyID(cur)+":") {
		t.Fatalf("not sealed with the current key: %s", resealed)
	}

	_, err = codecStore(t, cur).decodeMsg(body)
	var uk *UnknownTextKeyError
	if !errors.As(err, &uk) || uk.KeyID != TextKeyID(old) || !strings.Contains(err.Error(), TextKeyID(old)) {
		t.Fatalf("old key dropped: %v, want an UnknownTextKeyError naming %s", err, TextKeyID(old))
	}
	if _, err := (&Store{}).decodeMsg(body); !errors.As(err, &uk) {
		t.Fatalf("keyless store on a sealed entry: %v", err)
	}
}

func TestCodecRefusesMovedOrAlteredText(t *testing.T) {
	s := codecStore(t, testKey(1))
	a, b := otpMessage(), otpMessage()
	b.ID = "6f0c1b9e-0000-4000-8000-000000000002"
	ba, _ := s.marshalMsg(a)
	bb, _ := s.marshalMsg(b)
	sealedOf := func(body string) string {
		var w wireMsg
		_ = json.Unmarshal([]byte(body), &w)
		return w.Sealed
	}
	moved := strings.Replace(bb, sealedOf(bb), sealedOf(ba), 1) // a's text on b
	if _, err := s.decodeMsg(moved); err == nil || !strings.Contains(err.Error(), "does not open") {
		t.Fatalf("a text moved to another message opened: %v", err)
	}
	sa := sealedOf(ba)
	flip := sa[:len(sa)-2] + map[bool]string{true: "A", false: "B"}[sa[len(sa)-2] != 'A'] + sa[len(sa)-1:]
	if _, err := s.decodeMsg(strings.Replace(ba, sa, flip, 1)); err == nil {
		t.Fatal("an altered text opened")
	}
	for _, bad := range []string{"v2:abcd:xx", "nonsense", "v1:" + TextKeyID(testKey(1)) + ":!!!"} {
		if _, err := s.decodeMsg(strings.Replace(ba, sa, bad, 1)); err == nil {
			t.Fatalf("%q opened", bad)
		}
	}
}

func TestTextRingOptions(t *testing.T) {
	if r, err := newTextRing(nil, nil); r != nil || err != nil {
		t.Fatalf("no keys: %v, %v", r, err)
	}
	for _, c := range []struct {
		cur  []byte
		old  [][]byte
		want string
	}{
		{[]byte("short"), nil, "TextKey is 5 bytes"},
		{testKey(1), [][]byte{[]byte("x")}, "TextKeysOld[0] is 1 bytes"},
		{nil, [][]byte{testKey(1)}, "TextKeysOld without TextKey"},
	} {
		if _, err := newTextRing(c.cur, c.old); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.cur, err, c.want)
		}
	}
	d1, _ := DeriveTextKey([]byte("an otp key of at least thirty-two characters"))
	d2, _ := DeriveTextKey([]byte("an otp key of at least thirty-two characters"))
	d3, _ := DeriveTextKey([]byte("another otp key of at least thirty-two chars"))
	if len(d1) != TextKeySize || !bytes.Equal(d1, d2) || bytes.Equal(d1, d3) {
		t.Fatal("DeriveTextKey is not a deterministic 32-byte derivation")
	}
}

func TestSealRawSealsQuarantinedText(t *testing.T) {
	s := codecStore(t, testKey(1))
	m := otpMessage()
	m.Carrier = "" // invalid: a plaintext entry that does not decode
	legacy, _ := json.Marshal(m)
	for _, body := range []string{string(legacy), "not json, OTP 482913"} {
		got := s.sealRaw("1-0", body)
		if strings.Contains(got, "482913") {
			t.Fatalf("quarantined in plaintext: %s", got)
		}
	}
	sealed, _ := s.marshalMsg(otpMessage())
	if s.sealRaw("1-0", sealed) != sealed {
		t.Fatal("a sealed entry was changed")
	}
}

func FuzzDecodeMsg(f *testing.F) {
	s := codecStore(f, testKey(1))
	b, _ := s.marshalMsg(otpMessage())
	l, _ := json.Marshal(otpMessage())
	f.Add(b)
	f.Add(string(l))
	f.Add(`{"id":"x","sealed":"v1:zz:"}`)
	f.Fuzz(func(t *testing.T, body string) {
		m, err := s.decodeMsg(body)
		if err == nil && m == nil {
			t.Fatal("nil message without error")
		}
	})
}

func BenchmarkCodec(b *testing.B) {
	m := otpMessage()
	for _, c := range []struct {
		name string
		s    *Store
	}{{"plaintext", &Store{}}, {"sealed", codecStore(b, testKey(1))}} {
		b.Run(c.name+"/marshal", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.s.marshalMsg(m); err != nil {
					b.Fatal(err)
				}
			}
		})
		body, _ := c.s.marshalMsg(m)
		b.Run(c.name+"/decode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.s.decodeMsg(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
