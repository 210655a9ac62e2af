package dlr_test

import (
	"context"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smppd/smppd/dispatch"
	"github.com/smppd/smppd/dispatch/dispatchtest"
	"github.com/smppd/smppd/dlr"
	"github.com/smppd/smppd/internal/wait"
	"github.com/smppd/smppd/smsc"
	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/storetest"
)

// TestTimelineEndToEnd sends one message through the real dispatcher, the simulator, the
// correlator and the webhook sender, finds it by its number and by its last digits, and
// reads its timeline: accepted, queued, submitted (bind and carrier id), the receipt with
// its raw stat, the final status and the webhook's attempts (HTTP 503, then 200), in that
// order.
func TestTimelineEndToEnd(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st testStore) {
		// The receiver answers 503 once, then 200: two attempts on the timeline.
		var ok atomic.Int64
		rv := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) bool {
			if n == 1 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return false
			}
			w.WriteHeader(http.StatusOK)
			ok.Add(1)
			return false
		})
		s := sim(t, func(a *smsc.Account) { a.MessageID = &smsc.MessageIDFormat{Kind: "HEX", Length: 12} })
		c := newCorr(t, dlr.CorrelatorOptions{Store: st, Carriers: []dlr.CarrierIDs{{Name: "jio", Format: dlr.FormatHex}}})
		newSender(t, dlr.SenderOptions{Store: st})
		d := dispatchtest.Start(t, dispatch.Options{Store: st, Receipts: c.Correlator,
			Carriers: []dispatch.CarrierOptions{carrierFor("jio", s, 1, 10)}})
		m := message(4242, rv.srv.URL)
		if err := d.Submit(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		wait.For(t, 20*time.Second, "the webhook", func() bool { return ok.Load() == 1 })

		ctx := context.Background()
		page, err := st.SearchMessages(ctx, store.MessageQuery{To: m.To})
		if err != nil || len(page.Records) != 1 || page.Records[0].ID != m.ID {
			t.Fatalf("search by number: %v %+v", err, page)
		}
		page, err = st.SearchMessages(ctx, store.MessageQuery{ToSuffix: m.To[len(m.To)-7:], Account: "acme"})
		if err != nil || len(page.Records) != 1 || page.Records[0].ID != m.ID {
			t.Fatalf("search by the last 7 digits: %v %+v", err, page)
		}

		want := []store.EventKind{store.EventAccepted, store.EventQueued, store.EventSubmitted,
			store.EventReceipt, store.EventFinal, store.EventWebhook, store.EventWebhook}
		var evs []store.Event
		// The webhook's event is written with its ack, just after the receiver answered.
		wait.For(t, 10*time.Second, "the webhook's timeline event", func() bool {
			evs, err = st.MessageTimeline(ctx, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			return len(evs) == len(want)
		})
		got := make([]store.EventKind, len(evs))
		for i, e := range evs {
			got[i] = e.Kind
		}
		if !slices.Equal(got, want) {
			t.Fatalf("timeline %v, want %v", got, want)
		}
		if sub := evs[2]; sub.Carrier != "jio" || sub.Bind == "" || sub.CarrierID == "" {
			t.Fatalf("submitted %+v", sub)
		}
		if r := evs[3]; r.Stat != "DELIVRD" || r.Status != store.StatusDelivered || r.CarrierID != evs[2].CarrierID {
			t.Fatalf("receipt %+v", r)
		}
		if f := evs[4]; f.Status != store.StatusDelivered {
			t.Fatalf("final %+v", f)
		}
		if w := evs[5]; w.HTTPStatus != 503 || w.Attempt != 1 || w.Detail == "" || w.URL != rv.srv.URL {
			t.Fatalf("first webhook attempt %+v", w)
		}
		if w := evs[6]; w.HTTPStatus != 200 || w.Attempt != 2 || w.Detail != "" {
			t.Fatalf("second webhook attempt %+v", w)
		}
	})
}
