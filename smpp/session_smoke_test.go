package smpp

import (
	"context"
	"testing"
)

func TestSmokeSubmit(t *testing.T) {
	ts := startSMSC(t, nil, nil)
	s := dialTest(t, ts.addr, BindTransceiver, Options{})
	if s.PeerSystemID() != "testsmsc" {
		t.Fatalf("peer %q", s.PeerSystemID())
	}
	resp, err := s.Submit(context.Background(), &SubmitSM{Source: Address{5, 0, "ABCDEF"}, Dest: Address{1, 1, "919812345678"}, ShortMessage: []byte("hi")})
	if err != nil || resp.MessageID != "m1" {
		t.Fatalf("resp %+v err %v", resp, err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s.CloseReason() != CloseLocalUnbind {
		t.Fatalf("reason %v", s.CloseReason())
	}
}
