package dlr_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smppd/smppd/dlr"
	"github.com/smppd/smppd/internal/wait"
	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/storetest"
)

// settleMany stores n settled messages b0…b(n-1), carrier ids in hex, as dispatch leaves
// them, in batches.
func settleMany(b *testing.B, st testStore, c *dlr.Correlator, n int) {
	b.Helper()
	ctx := context.Background()
	now := time.Now()
	for lo := 0; lo < n; lo += 1000 {
		hi := min(lo+1000, n)
		var recs []*store.Record
		var sets []store.Settlement
		for i := lo; i < hi; i++ {
			id, cid := fmt.Sprint("b", i), fmt.Sprintf("%x", i)
			recs = append(recs, &store.Record{ID: id, Status: store.StatusAccepted, AcceptedAt: now, Meta: hookMeta})
			sets = append(sets, store.Settlement{Carrier: "jio",
				Record: &store.Record{ID: id, Status: store.StatusSubmitted, Parts: 1, CarrierIDs: []string{cid}, AcceptedAt: now, SentAt: now, Meta: hookMeta},
				Index:  c.IndexEntries("jio", cid, id, 0)})
		}
		if err := st.Accept(ctx, recs, time.Hour); err != nil {
			b.Fatal(err)
		}
		if err := st.Settle(ctx, sets...); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReceipt measures receipts through the whole path: sent by the carrier over TCP
// on parallel goroutines (as over many binds), logged and acknowledged by the handler, and
// applied by the applier (record updated, webhook queued). acks/s is how fast carriers are
// answered; receipts/s counts until the last one is applied.
func BenchmarkReceipt(b *testing.B) {
	storetest.ForEach(b, func(b *testing.B, st testStore) {
		c := newCorr(b, dlr.CorrelatorOptions{Store: st, Carriers: []dlr.CarrierIDs{{Name: "jio", Format: dlr.FormatHex}}})
		settleMany(b, st, c.Correlator, b.N)
		l := c.link("jio")
		var next atomic.Int64
		b.ReportAllocs()
		b.SetParallelism(8)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := next.Add(1) - 1
				if got, err := l.deliver(receipt(fmt.Sprintf("%X", i), "DELIVRD", "000")); err != nil || got != smpp.ESME_ROK {
					b.Errorf("receipt %d: %v %v", i, got, err)
					return
				}
			}
		})
		acked := b.Elapsed()
		wait.For(b, 5*time.Minute, "every receipt applied", func() bool { return c.ev.len() >= b.N })
		b.StopTimer()
		b.ReportMetric(float64(b.N)/acked.Seconds(), "acks/s")
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "receipts/s")
	})
}

// BenchmarkApply measures the applier alone: batches read from the receipt log and applied
// (one index lookup, one record read and one compare-and-set per batch).
func BenchmarkApply(b *testing.B) {
	storetest.ForEach(b, func(b *testing.B, st testStore) {
		c, err := dlr.NewCorrelator(dlr.CorrelatorOptions{Store: st, Carriers: []dlr.CarrierIDs{{Name: "jio", Format: dlr.FormatHex}}})
		if err != nil {
			b.Fatal(err)
		}
		settleMany(b, st, c, b.N)
		ctx := context.Background()
		for lo := 0; lo < b.N; lo += 1000 {
			var ps []*store.LoggedPDU
			for i := lo; i < min(lo+1000, b.N); i++ {
				ps = append(ps, logged(b, "jio", receipt(fmt.Sprintf("%X", i), "DELIVRD", "000")))
			}
			if err := st.AppendReceipts(ctx, ps...); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		b.ResetTimer()
		for done := 0; done < b.N; {
			batch, err := st.ReadReceiptLog(ctx, "bench", 512, 0)
			if err != nil {
				b.Fatal(err)
			}
			if err := c.Apply(ctx, batch); err != nil {
				b.Fatal(err)
			}
			done += len(batch)
		}
		b.StopTimer()
		if s := c.Stats(); s.Matched != uint64(b.N) {
			b.Fatalf("stats %+v", s)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "receipts/s")
	})
}

// BenchmarkWebhookDelivery measures jobs delivered per second to one local receiver.
func BenchmarkWebhookDelivery(b *testing.B) {
	storetest.ForEach(b, func(b *testing.B, st testStore) {
		rv := newReceiver(b, nil)
		ids := make([]string, b.N)
		for i := range ids {
			ids[i] = fmt.Sprint("j", i)
		}
		for i := 0; i < len(ids); i += 1000 {
			enqueue(b, st, rv.srv.URL, ids[i:min(i+1000, len(ids))]...)
		}
		b.ResetTimer()
		newSender(b, dlr.SenderOptions{Store: st, PerHostConcurrency: 32, MaxInFlight: 512})
		wait.For(b, 5*time.Minute, "every webhook delivered", func() bool { return rv.delivered() >= b.N })
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "webhooks/s")
	})
}
