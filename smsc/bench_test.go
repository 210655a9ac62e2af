package smsc_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/smsc"
	"github.com/smppd/smppd/smsc/smsctest"
)

// BenchmarkSubmitWithReceipts drives b.N submit_sm over one TRX bind with a window of 100
// (16 concurrent submitters), each asking for a receipt, and waits for every receipt. It
// reports submits/s (until the last response) and receipts/s (until the last receipt).
//
//	go test -run='^$' -bench=SubmitWithReceipts -benchtime=200000x ./smsc/
func BenchmarkSubmitWithReceipts(b *testing.B) {
	srv := smsctest.Start(b, smsc.Options{Window: 100, StoreSize: 200000})
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

// BenchmarkFlood replays b.N receipts with Server.Flood to one fast ESME (one RX bind that
// answers every deliver_sm at once) and reports receipts/s until the last
// deliver_sm_resp. "rate=20000" paces the storm at 20 000/s, so its figure says whether the
// simulator keeps up with that rate (it cannot exceed it); "rate=max" queues everything at
// once, so its figure is what the delivery path sustains, with the default window of 64
// and with no window.
//
//	go test -run='^$' -bench=Flood -benchtime=200000x ./smsc/
func BenchmarkFlood(b *testing.B) {
	for _, bc := range []struct {
		name   string
		window int
		rate   int
	}{
		{"window=64/rate=20000", 0, 20000},
		{"window=64/rate=max", 0, 100_000_000},
		{"nowindow/rate=max", smsc.NoWindow, 100_000_000},
	} {
		b.Run(bc.name, func(b *testing.B) {
			srv := smsctest.Start(b, smsc.Options{HeldDeliveries: max(b.N, 100000), Accounts: []smsc.Account{{
				SystemID: smsc.DefaultSystemID, Password: smsc.DefaultPassword, Receipts: smsc.Receipts{Window: bc.window},
			}}})
			h := smpp.DeliverHandlerFunc(func(ctx context.Context, s *smpp.Session, p *smpp.DeliverSM) smpp.CommandStatus {
				return smpp.ESME_ROK
			})
			ctx := context.Background()
			s, err := smpp.Dial(ctx, srv.Addr(), smpp.Bind{Mode: smpp.BindTransceiver, SystemID: smsc.DefaultSystemID, Password: smsc.DefaultPassword},
				smpp.Options{Handler: h, WindowSize: 100, InboundWindow: 100000, InboundWorkers: 16})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Abort()
			p := &smpp.SubmitSM{Source: smpp.Address{TON: 5, Addr: "ACMEIN"}, Dest: smpp.Address{TON: 1, NPI: 1, Addr: "919800000001"},
				ShortMessage: []byte("Your OTP is 123456. Do not share it with anyone.")}
			for range 1000 { // the messages whose receipts the storm replays; no receipts of their own
				if _, err := s.Submit(ctx, p); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			run, err := srv.Flood(smsc.FloodOptions{Rate: bc.rate, Duration: time.Duration(float64(b.N) / float64(bc.rate) * float64(time.Second))})
			if err != nil {
				b.Fatal(err)
			}
			want := uint64(run.Status().Receipts)
			deadline := time.Now().Add(time.Minute)
			for srv.Counters().FloodSent < want && time.Now().Before(deadline) {
				time.Sleep(200 * time.Microsecond)
			}
			el := time.Since(start)
			b.StopTimer()
			if c := srv.Counters(); c.FloodSent != want || c.DeliveriesDropped != 0 || c.ReceiptsRefused != 0 {
				b.Fatalf("%d of %d flood receipts acknowledged, %d dropped, %d refused", c.FloodSent, want, c.DeliveriesDropped, c.ReceiptsRefused)
			}
			b.ReportMetric(float64(want)/el.Seconds(), "receipts/s")
		})
	}
}
