package api

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/smppd/smppd/internal/wait"
	"github.com/smppd/smppd/smsc"
	"github.com/smppd/smppd/store"
)

// Cancel withdraws a scheduled message of the account: its record becomes CANCELLED, its
// credits come back and the carrier never gets it. Another account's id is unknown; a
// message already sent cannot be cancelled.
func TestCancelScheduled(t *testing.T) {
	e := startAccept(t)
	// Records and the queue are the dispatcher's store here.
	e.srv.o.Records, e.srv.o.Withdrawer = e.dst, e.dst
	ctx := context.Background()
	balance := func() int64 {
		n, _, err := e.st.GetCredits(ctx, "agg", store.CreditsTransactional)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := balance()
	later := frontSub("7012345621", shipped)
	later.From, later.SendAt = "ACMESV", time.Now().Add(time.Hour)
	ids, err := e.srv.Accept(ctx, later)
	if err != nil {
		t.Fatal(err)
	}
	if balance() >= before {
		t.Fatalf("accepting took no credits: %d, was %d", balance(), before)
	}
	if err := e.srv.Cancel(ctx, "acme", ids[0]); !errors.Is(err, ErrUnknownMessage) {
		t.Fatalf("Cancel by another account: %v, want ErrUnknownMessage", err)
	}
	if err := e.srv.Cancel(ctx, "agg", ids[0]); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	r, err := e.dst.GetRecord(ctx, ids[0])
	if err != nil || r.Status != store.StatusCancelled || r.Rev != 1 || r.StatusAt.IsZero() {
		t.Fatalf("record after Cancel: %+v, %v; want CANCELLED at rev 1", r, err)
	}
	if got := balance(); got != before {
		t.Fatalf("credits after Cancel: %d, want %d back", got, before)
	}
	if err := e.srv.Cancel(ctx, "agg", ids[0]); !errors.Is(err, ErrNotCancellable) {
		t.Fatalf("second Cancel: %v, want ErrNotCancellable", err)
	}
	if got := balance(); got != before {
		t.Fatalf("credits after a second Cancel: %d, want %d (refunded once)", got, before)
	}
	if d, err := e.dst.Depth(ctx, "jio"); err != nil || d.Scheduled != 0 {
		t.Fatalf("depth after Cancel: %+v, %v", d, err)
	}

	now := frontSub("7012345622", shipped)
	now.From = "ACMESV"
	sent, err := e.srv.Accept(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	wait.For(t, 10*time.Second, "the message due now at the carrier", func() bool {
		return len(e.sim.Messages(smsc.Filter{Dest: "917012345622"})) == 1
	})
	if err := e.srv.Cancel(ctx, "agg", sent[0]); !errors.Is(err, ErrNotCancellable) {
		t.Fatalf("Cancel of a sent message: %v, want ErrNotCancellable", err)
	}
	if ms := e.sim.Messages(smsc.Filter{Dest: "917012345621"}); len(ms) != 0 {
		t.Fatalf("the cancelled message reached the carrier: %+v", ms)
	}
}
