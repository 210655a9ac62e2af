package dlr_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smppd/smppd/dlr"
	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/storetest"
)

// BenchmarkReceipt measures receipt handling against Redis: lookup, record update and
// webhook job, all stored before the answer. Parallel, as receipts arrive on many binds.
func BenchmarkReceipt(b *testing.B) {
	for _, name := range []string{"memory", "redis"} {
		b.Run(name, func(b *testing.B) {
			st := newStores[name](b)
			c, err := dlr.NewCorrelator(dlr.CorrelatorOptions{Store: st, Carriers: []dlr.CarrierIDs{{Name: "jio", Format: dlr.FormatHex}}})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			now := time.Now()
			for i := range b.N {
				id := fmt.Sprint("b", i)
				_ = st.PutRecord(ctx, &store.Record{ID: id, Status: store.StatusSubmitted, Parts: 1, CarrierIDs: []string{fmt.Sprintf("%x", i)},
					SentAt: now, Meta: hookMeta}, time.Hour)
				_ = st.IndexCarrierID(ctx, "jio", fmt.Sprintf("%x", i), id, 0, time.Hour)
			}
			var next atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := next.Add(1) - 1
					if got := c.HandleDeliver(ctx, "jio", receipt(fmt.Sprintf("%X", i), "DELIVRD", "000")); got != smpp.ESME_ROK {
						b.Fatal(got)
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "receipts/s")
		})
	}
}

// BenchmarkWebhookDelivery measures jobs delivered per second to one local receiver.
func BenchmarkWebhookDelivery(b *testing.B) {
	for _, name := range []string{"memory", "redis"} {
		b.Run(name, func(b *testing.B) {
			var st dlr.Store = newStores[name](b)
			if name == "redis" {
				st = storetest.OpenRedis(b, storetest.UniquePrefix(b))
			}
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
			for rv.delivered() < b.N {
				time.Sleep(time.Millisecond)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "webhooks/s")
		})
	}
}
