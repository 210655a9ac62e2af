package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/smppd/smppd/internal/wait"
	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/smsc"
	"github.com/smppd/smppd/smsc/smsctest"
)

// cancelStatus sends cancel_sm for id and returns the command_status it got.
func cancelStatus(t *testing.T, s *smpp.Session, id string) smpp.CommandStatus {
	t.Helper()
	_, err := s.Send(context.Background(), &smpp.CancelSM{MessageID: id})
	if err == nil {
		return smpp.ESME_ROK
	}
	var se *smpp.StatusError
	if !errors.As(err, &se) {
		t.Fatalf("cancel_sm %s: %v", id, err)
	}
	return se.Status
}

// queryState sends query_sm for id and returns the message_state.
func queryState(t *testing.T, s *smpp.Session, id string) smpp.MessageState {
	t.Helper()
	resp, err := s.Send(context.Background(), &smpp.QuerySM{MessageID: id})
	if err != nil {
		t.Fatalf("query_sm %s: %v", id, err)
	}
	return resp.(*smpp.QuerySMResp).MessageState
}

// cancel_sm through the SMPP front withdraws a message that is still scheduled: the client
// gets ESME_ROK, query_sm says DELETED and the carrier never sees it, while a message
// scheduled for the same moment and not cancelled goes out. A message already delivered
// answers ESME_RCANCELFAIL, and another account's id ESME_RINVMSGID.
func TestSMPPFrontCancelScheduled(t *testing.T) {
	sim := smsctest.Start(t, smsc.Options{EnquireLinkInterval: -1, Accounts: []smsc.Account{{
		SystemID: "smppd", Password: "password",
		Receipts: smsc.Receipts{DelayMin: time.Millisecond, DelayMax: 5 * time.Millisecond},
	}}})
	front := frontDaemon(t, sim)
	ctx := context.Background()
	s, err := smpp.Dial(ctx, front, smpp.Bind{Mode: smpp.BindTransceiver, SystemID: "agg", Password: frontPass},
		smpp.Options{EnquireLinkInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	other, err := smpp.Dial(ctx, front, smpp.Bind{Mode: smpp.BindTransceiver, SystemID: "ent", Password: frontPass},
		smpp.Options{EnquireLinkInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)

	submit := func(to string, i int, sched string) string {
		t.Helper()
		p := frontSubmit(to, i)
		p.ScheduleDeliveryTime = sched
		resp, err := s.Submit(ctx, p)
		if err != nil {
			t.Fatalf("submit_sm to %s: %v", to, err)
		}
		return resp.MessageID
	}
	reached := func(to string) bool {
		for _, m := range sim.Messages(smsc.Filter{SystemID: "smppd"}) {
			if m.Dest.Addr == to {
				return true
			}
		}
		return false
	}

	// An hour ahead: cancelled, DELETED, and cancelling again fails.
	hour := submit("919500000001", 1, "000000010000000R")
	if st := queryState(t, s, hour); st != smpp.StateEnroute {
		t.Fatalf("query_sm of a scheduled message: %v, want ENROUTE", st)
	}
	if st := cancelStatus(t, other, hour); st != smpp.ESME_RINVMSGID {
		t.Fatalf("cancel_sm of another account's message: %v, want ESME_RINVMSGID", st)
	}
	if st := cancelStatus(t, s, hour); st != smpp.ESME_ROK {
		t.Fatalf("cancel_sm of a message scheduled in an hour: %v, want ESME_ROK", st)
	}
	if st := queryState(t, s, hour); st != smpp.StateDeleted {
		t.Fatalf("query_sm after cancel_sm: %v, want DELETED", st)
	}
	if st := cancelStatus(t, s, hour); st != smpp.ESME_RCANCELFAIL {
		t.Fatalf("second cancel_sm: %v, want ESME_RCANCELFAIL", st)
	}

	// Two messages due in 2 seconds; one cancelled. The other reaches the carrier and is
	// delivered; the cancelled one never does, and a delivered one cannot be cancelled.
	soon := "000000000002000R"
	gone := submit("919500000002", 2, soon)
	kept := submit("919500000003", 3, soon)
	if st := cancelStatus(t, s, gone); st != smpp.ESME_ROK {
		t.Fatalf("cancel_sm of a message due in 2s: %v, want ESME_ROK", st)
	}
	wait.For(t, 30*time.Second, "the kept message delivered", func() bool {
		return queryState(t, s, kept) == smpp.StateDelivered
	})
	if st := cancelStatus(t, s, kept); st != smpp.ESME_RCANCELFAIL {
		t.Fatalf("cancel_sm of a delivered message: %v, want ESME_RCANCELFAIL", st)
	}
	if !reached("919500000003") {
		t.Fatal("the kept message never reached the carrier")
	}
	for _, to := range []string{"919500000001", "919500000002"} {
		if reached(to) {
			t.Fatalf("cancelled message to %s reached the carrier", to)
		}
	}
	if st := queryState(t, s, gone); st != smpp.StateDeleted {
		t.Fatalf("query_sm of the cancelled message after its due time: %v, want DELETED", st)
	}
	if st := cancelStatus(t, s, "no-such-id"); st != smpp.ESME_RINVMSGID {
		t.Fatalf("cancel_sm of an unknown id: %v, want ESME_RINVMSGID", st)
	}
}
