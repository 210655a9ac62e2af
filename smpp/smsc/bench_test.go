package smsc_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/smpp/smsc"
)

// BenchmarkSubmitWithReceipts drives b.N submit_sm over one TRX bind with a window of 100
// (16 concurrent submitters), each asking for a receipt, and waits for every receipt. It
// reports submits/s (until the last response) and receipts/s (until the last receipt).
//
//	go test -run='^$' -bench=SubmitWithReceipts -benchtime=200000x ./smpp/smsc/
func BenchmarkSubmitWithReceipts(b *testing.B) {
	srv := smsc.Start(b, smsc.Options{Window: 100, StoreSize: 200000})
	var receipts atomic.Int64
	h := smpp.DeliverHandlerFunc(func(ctx context.Context, s *smpp.Session, p *smpp.DeliverSM) smpp.CommandStatus {
		receipts.Add(1)
		return smpp.ESME_ROK
	})
	ctx := context.Background()
	s, err := smpp.Dial(ctx, srv.Addr(), smpp.Bind{Mode: smpp.BindTransceiver, SystemID: smsc.DefaultSystemID, Password: smsc.DefaultPassword},
		smpp.Options{Handler: h, WindowSize: 100, InboundWindow: 1000, InboundWorkers: 16})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Abort()
	const submitters = 16
	var next atomic.Int64
	var failed atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range submitters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := &smpp.SubmitSM{
				Source:             smpp.Address{TON: 5, Addr: "ACMEIN"},
				Dest:               smpp.Address{TON: 1, NPI: 1, Addr: "919800000001"},
				RegisteredDelivery: smpp.RegisteredDeliveryAll,
				ShortMessage:       []byte("Your OTP is 123456. Do not share it with anyone."),
			}
			for next.Add(1) <= int64(b.N) {
				if _, err := s.Submit(ctx, p); err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	submitted := time.Since(start)
	want := int64(b.N) - failed.Load()
	deadline := time.Now().Add(time.Minute)
	for receipts.Load() < want && time.Now().Before(deadline) {
		time.Sleep(100 * time.Microsecond)
	}
	total := time.Since(start)
	b.StopTimer()
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d submits failed", f)
	}
	if got := receipts.Load(); got < want {
		b.Fatalf("%d receipts of %d", got, want)
	}
	b.ReportMetric(float64(b.N)/submitted.Seconds(), "submits/s")
	b.ReportMetric(float64(b.N)/total.Seconds(), "receipts/s")
}
