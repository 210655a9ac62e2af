package memstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/memstore"
	"github.com/smppd/smppd/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s := memstore.New()
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestCloseWakesClaim(t *testing.T) {
	s := memstore.New()
	time.AfterFunc(100*time.Millisecond, func() { s.Close() })
	start := time.Now()
	_, err := s.Claim(context.Background(), "jio", "c1", 1, time.Minute)
	if !errors.Is(err, store.ErrClosed) || time.Since(start) > 5*time.Second {
		t.Fatalf("Claim across Close: %v after %v", err, time.Since(start))
	}
	if err := s.Ping(context.Background()); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Ping after Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestCloseWakesReadReceiptLog(t *testing.T) {
	s := memstore.New()
	time.AfterFunc(100*time.Millisecond, func() { s.Close() })
	start := time.Now()
	_, err := s.ReadReceiptLog(context.Background(), "c1", 1, time.Minute)
	if !errors.Is(err, store.ErrClosed) || time.Since(start) > 5*time.Second {
		t.Fatalf("ReadReceiptLog across Close: %v after %v", err, time.Since(start))
	}
	if err := s.AppendReceipts(context.Background(), &store.LoggedPDU{Carrier: "jio"}); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("AppendReceipts after Close: %v", err)
	}
}

// TestExpirySweep checks that expired records are removed by later writes, not only hidden.
func TestExpirySweep(t *testing.T) {
	s := memstore.New()
	defer s.Close()
	ctx := context.Background()
	for i := range 100 {
		if err := s.IndexCarrierID(ctx, "jio", string(rune('a'+i%26))+string(rune('0'+i/26)), "m", i, time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(5 * time.Millisecond)
	for range 10 { // 10 writes × 32 sweeps ≥ 100
		if err := s.PutRecord(ctx, &store.Record{ID: "r"}, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.Counts(); n.Index != 0 || n.Records != 1 {
		t.Fatalf("after sweep: %+v", n)
	}
}

func BenchmarkEnqueueClaimAck(b *testing.B) {
	s := memstore.New()
	defer s.Close()
	storetest.BenchEnqueueClaimAck(b, s)
}
