package dlr_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smppd/smppd/dlr"
	"github.com/smppd/smppd/internal/wait"
	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/smpp/text"
	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/storetest"
)

func routeAgg(dest string) (string, bool) {
	if dest == "56161" || dest == "919000012345" {
		return "agg", true
	}
	return "", false
}

// TestMORoutedToClient: an MO whose destination an account owns becomes a ClientReceipt{MO}
// job to that account; the others go to the MO handler as before; all are counted.
func TestMORoutedToClient(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st testStore) {
		var mu sync.Mutex
		var unrouted []string
		c := newCorr(t, dlr.CorrelatorOptions{Store: st, RouteMO: routeAgg,
			MO: func(_ context.Context, _ *smpp.Session, p *smpp.DeliverSM) smpp.CommandStatus {
				mu.Lock()
				defer mu.Unlock()
				unrouted = append(unrouted, p.Dest.Addr+":"+string(p.ShortMessage))
				return smpp.ESME_ROK
			}})
		src := smpp.Address{TON: 1, NPI: 1, Addr: "919812345678"}
		hindi, err := text.Encode(text.UCS2, "नमस्ते STOP")
		if err != nil {
			t.Fatal(err)
		}
		c.mustSend("jio", &smpp.DeliverSM{Source: src, Dest: smpp.Address{Addr: "56161"}, ShortMessage: []byte("STOP")})
		c.mustSend("jio", &smpp.DeliverSM{Source: src, Dest: smpp.Address{Addr: "56161"}, ShortMessage: []byte("STOP")}) // the same text again: another MO
		c.mustSend("jio", &smpp.DeliverSM{Source: src, Dest: smpp.Address{Addr: "919000012345"}, DataCoding: uint8(text.DataCodingUCS2),
			ESMClass: smpp.ESMClassUDHI, ShortMessage: append([]byte{5, 0, 3, 7, 1, 1}, hindi...)})
		c.mustSend("jio", &smpp.DeliverSM{Source: src, Dest: smpp.Address{Addr: "56999"}, ShortMessage: []byte("HELP")})
		wait.For(t, 10*time.Second, "the log emptied", func() bool { return logLen(t, st) == 0 })
		got := clientReceipts(t, st)
		if len(got) != 3 {
			t.Fatalf("%d MO jobs: %+v", len(got), got)
		}
		texts := map[string]int{}
		for id, cr := range got {
			if !cr.MO || !strings.HasPrefix(id, "mo-") || cr.MessageID != id || cr.Account != "agg" || cr.From != "919812345678" ||
				cr.Done.IsZero() || cr.Stat != "" || cr.Err != "" {
				t.Fatalf("MO %s: %+v", id, cr)
			}
			texts[cr.To+":"+cr.Text]++
		}
		if texts["56161:STOP"] != 2 || texts["919000012345:नमस्ते STOP"] != 1 {
			t.Fatalf("MO texts %v", texts)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(unrouted) != 1 || unrouted[0] != "56999:HELP" {
			t.Fatalf("unrouted MO %q", unrouted)
		}
		if s := c.Stats(); s.MO != 4 || s.MORouted != 3 || s.MOUnrouted != 1 || s.Matched != 0 || s.Unmatched != 0 {
			t.Fatalf("stats %+v", s)
		}
	})
}

// failQueue fails EnqueueWebhooks while fail is set.
type failQueue struct {
	testStore
	fail atomic.Bool
}

func (f *failQueue) EnqueueWebhooks(ctx context.Context, jobs ...*store.WebhookJob) (int, error) {
	if f.fail.Load() {
		return 0, errors.New("injected: webhook queue unavailable")
	}
	return f.testStore.EnqueueWebhooks(ctx, jobs...)
}

// TestRoutedMODurableBeforeAck: the carrier's deliver_sm_resp comes once the MO is in the
// receipt log; its entry is acked only once its job is queued, so a queue that fails keeps
// the MO in the log until it can be queued — once.
func TestRoutedMODurableBeforeAck(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st testStore) {
		fq := &failQueue{testStore: st}
		fq.fail.Store(true)
		c := newIdleCorr(t, dlr.CorrelatorOptions{Store: fq, RouteMO: routeAgg})
		c.mustSend("jio", &smpp.DeliverSM{Source: smpp.Address{Addr: "919812345678"}, Dest: smpp.Address{Addr: "56161"}, ShortMessage: []byte("YES")})
		if n := logLen(t, st); n != 1 {
			t.Fatalf("answered with %d log entries", n)
		}
		c.Start()
		wait.For(t, 10*time.Second, "a failed attempt to queue", func() bool { return c.Stats().StoreErrors > 0 })
		if n := logLen(t, st); n != 1 {
			t.Fatalf("the MO left the log (%d entries) though its job was not queued", n)
		}
		fq.fail.Store(false)
		wait.For(t, 10*time.Second, "the log emptied", func() bool { return logLen(t, st) == 0 })
		got := clientReceipts(t, st)
		if len(got) != 1 {
			t.Fatalf("%d jobs: %+v", len(got), got)
		}
		for _, cr := range got {
			if !cr.MO || cr.Text != "YES" || cr.To != "56161" {
				t.Fatalf("MO %+v", cr)
			}
		}
		if s := c.Stats(); s.MO != 1 || s.MORouted != 1 {
			t.Fatalf("stats %+v", s)
		}
	})
}
