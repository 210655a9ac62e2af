// Package storetest is the conformance suite that every store.Store implementation passes.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store {
//			s := mystore.New()
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// newStore must return an empty store that no other test uses (for Redis: a fresh key
// prefix) and arrange its Close and clean-up with t.Cleanup. Subtests run in parallel.
//
// SwapRecords and Settle queue webhooks, so Run expects the store to implement store.Webhooks
// too, to check them.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smppd/smppd/internal/wait"
	"github.com/smppd/smppd/store"
)

// Run runs every conformance test against stores made by newStore.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"EnqueueClaimOrder", testEnqueueClaimOrder},
		{"DepthByPriority", testDepthByPriority},
		{"ClaimRespectsN", testClaimRespectsN},
		{"ClaimEmpty", testClaimEmpty},
		{"ClaimWakesOnEnqueue", testClaimWakesOnEnqueue},
		{"ClaimContextCancel", testClaimContextCancel},
		{"ClaimIsolatesCarriers", testClaimIsolatesCarriers},
		{"StoredCopy", testStoredCopy},
		{"Ack", testAck},
		{"DeferAndPromote", testDeferAndPromote},
		{"DeferAfterAckIsNoop", testDeferAfterAckIsNoop},
		{"EnqueueScheduled", testEnqueueScheduled},
		{"PromoteDueOrderAndLimit", testPromoteDueOrderAndLimit},
		{"CancelScheduled", testCancelScheduled},
		{"CancelRacesPromote", testCancelRacesPromote},
		{"Move", testMove},
		{"Reclaim", testReclaim},
		{"ReclaimOrder", testReclaimOrder},
		{"ConcurrentConsumers", testConcurrentConsumers},
		{"InvalidInput", testInvalidInput},
		{"DepthUnknownCarrier", testDepthUnknownCarrier},
		{"Ping", testPing},
		{"RecordPutGet", testRecordPutGet},
		{"RecordNotFound", testRecordNotFound},
		{"RecordUpdate", testRecordUpdate},
		{"RecordUpdateConcurrent", testRecordUpdateConcurrent},
		{"RecordTTL", testRecordTTL},
		{"CarrierIndex", testCarrierIndex},
		{"CarrierIndexTTL", testCarrierIndexTTL},
		{"GetRecords", testGetRecords},
		{"LookupCarrierIDs", testLookupCarrierIDs},
		{"Accept", testAccept},
		{"Settle", testSettle},
		{"SettleRecordGone", testSettleRecordGone},
		{"SettleBatch", testSettleBatch},
		{"SettleConcurrent", testSettleConcurrent},
		{"SwapRecords", testSwapRecords},
		{"SwapRecordsBatch", testSwapRecordsBatch},
		{"SwapRecordsMoreWebhooks", testSwapRecordsMoreWebhooks},
		{"SwapRecordsConcurrent", testSwapRecordsConcurrent},
		{"BindLeaseExclusive", testBindLeaseExclusive},
		{"BindLeaseTokensGrow", testBindLeaseTokensGrow},
		{"BindLeaseReacquireKeepsToken", testBindLeaseReacquireKeepsToken},
		{"BindLeaseLapses", testBindLeaseLapses},
		{"BindLeaseRenewAfterTakeover", testBindLeaseRenewAfterTakeover},
		{"BindLeaseRenewMany", testBindLeaseRenewMany},
		{"BindLeaseReleaseOnlyByHolder", testBindLeaseReleaseOnlyByHolder},
		{"BindLeasesList", testBindLeasesList},
		{"BindLeaseInvalid", testBindLeaseInvalid},
		{"Liveness", testLiveness},
		{"TakeOver", testTakeOver},
		{"FencedSettle", testFencedSettle},
		{"ReclaimFences", testReclaimFences},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t))
		})
	}
}

// BenchEnqueueClaimAck measures the queue's round trip: Enqueue a batch of 100 messages,
// Claim them, Ack them. It reports msgs/s.
func BenchEnqueueClaimAck(b *testing.B, s store.Store) {
	const batch = 100
	ctx := context.Background()
	carrier := "bench"
	now := time.Now()
	msgs := make([]*store.Message, batch)
	b.ReportAllocs()
	b.ResetTimer()
	seq := 0
	for done := 0; done < b.N; {
		k := min(batch, b.N-done)
		for i := range k {
			seq++
			msgs[i] = &store.Message{
				ID: fmt.Sprintf("bench-%d", seq), Account: "acct", Carrier: carrier,
				Priority: store.PriorityTransactional, From: "SMPPDX", To: "919812345678",
				Text: "Your OTP is 123456. Do not share it with anyone.", AcceptedAt: now,
			}
		}
		if err := s.Enqueue(ctx, msgs[:k]...); err != nil {
			b.Fatal(err)
		}
		for got := 0; got < k; {
			claims, err := s.Claim(ctx, carrier, "c1", k-got, 0)
			if err != nil {
				b.Fatal(err)
			}
			if len(claims) == 0 {
				b.Fatalf("claimed %d of %d", got, k)
			}
			if err := s.Ack(ctx, carrier, claims...); err != nil {
				b.Fatal(err)
			}
			got += len(claims)
		}
		done += k
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

var idSeq atomic.Int64

func msg(carrier string, p store.Priority) *store.Message {
	n := idSeq.Add(1)
	return &store.Message{
		ID:         fmt.Sprintf("m%06d", n),
		Account:    "acct1",
		Carrier:    carrier,
		Priority:   p,
		From:       "SMPPDX",
		To:         "919812345678",
		Text:       fmt.Sprintf("message %d: नमस्ते {€}", n),
		PEID:       "1101234567890123456",
		TemplateID: "1107161234567890123",
		AcceptedAt: time.Now().Truncate(time.Millisecond),
		Meta:       map[string]string{"campaign": "c1"},
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustEnqueue(t *testing.T, s store.Store, msgs ...*store.Message) {
	t.Helper()
	if err := s.Enqueue(ctxT(t), msgs...); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
}

func mustClaim(t *testing.T, s store.Store, carrier, consumer string, n int, wait time.Duration) []store.Claim {
	t.Helper()
	claims, err := s.Claim(ctxT(t), carrier, consumer, n, wait)
	if err != nil {
		t.Fatalf("Claim(%s, %d): %v", carrier, n, err)
	}
	return claims
}

func wantDepth(t *testing.T, s store.Store, carrier string, want store.Depth) {
	t.Helper()
	got, err := s.Depth(ctxT(t), carrier)
	if err != nil {
		t.Fatalf("Depth(%s): %v", carrier, err)
	}
	var sum store.PriorityDepth
	for _, p := range got.ByPriority {
		sum.Ready += p.Ready
		sum.Pending += p.Pending
	}
	if sum.Ready != got.Ready || sum.Pending != got.Pending {
		t.Fatalf("Depth(%s) = %+v: the priorities do not sum to the totals", carrier, got)
	}
	if want.ByPriority == ([3]store.PriorityDepth{}) {
		got.ByPriority = want.ByPriority // the caller checks the totals only
	}
	if got != want {
		t.Fatalf("Depth(%s) = %+v, want %+v", carrier, got, want)
	}
}

func js(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// sameMessage compares through JSON, which is what crosses the wire to Redis (times lose
// their monotonic reading and may change location, not their instant).
func sameMessage(t *testing.T, got, want *store.Message) {
	t.Helper()
	if got == nil {
		t.Fatalf("got nil message, want %s", js(want))
	}
	if g, w := js(got), js(want); g != w {
		t.Fatalf("message differs:\n got %s\nwant %s", g, w)
	}
}

func ids(claims []store.Claim) []string {
	out := make([]string, len(claims))
	for i, c := range claims {
		out[i] = c.Message.ID
	}
	return out
}

func testDepthByPriority(t *testing.T, s store.Store) {
	var msgs []*store.Message
	for _, p := range []store.Priority{2, 0, 1, 0, 2, 1, 1, 2} {
		msgs = append(msgs, msg("jio", p))
	}
	mustEnqueue(t, s, msgs...)
	wantDepth(t, s, "jio", store.Depth{Ready: 8, ByPriority: [3]store.PriorityDepth{{Ready: 2}, {Ready: 3}, {Ready: 3}}})
	// Claim takes the highest priority first: both OTPs and two of the transactional.
	mustClaim(t, s, "jio", "c1", 4, 0)
	wantDepth(t, s, "jio", store.Depth{Ready: 4, Pending: 4,
		ByPriority: [3]store.PriorityDepth{{Pending: 2}, {Ready: 1, Pending: 2}, {Ready: 3}}})
	wantDepth(t, s, "airtel", store.Depth{ByPriority: [3]store.PriorityDepth{}})
}

func testEnqueueClaimOrder(t *testing.T, s store.Store) {
	prios := []store.Priority{2, 0, 1, 0, 2, 1, 1, 0, 2}
	var msgs []*store.Message
	for _, p := range prios {
		msgs = append(msgs, msg("jio", p))
	}
	mustEnqueue(t, s, msgs[:4]...)
	mustEnqueue(t, s, msgs[4:]...)
	wantDepth(t, s, "jio", store.Depth{Ready: int64(len(msgs))})

	var want []*store.Message
	for _, p := range store.Priorities() {
		for _, m := range msgs {
			if m.Priority == p {
				want = append(want, m)
			}
		}
	}
	claims := mustClaim(t, s, "jio", "c1", 100, 0)
	if len(claims) != len(want) {
		t.Fatalf("claimed %d, want %d", len(claims), len(want))
	}
	tokens := map[string]bool{}
	for i, c := range claims {
		sameMessage(t, c.Message, want[i])
		if c.Deliveries != 1 {
			t.Errorf("claim %d: Deliveries = %d, want 1", i, c.Deliveries)
		}
		if c.Token == "" || tokens[c.Token] {
			t.Errorf("claim %d: token %q empty or repeated", i, c.Token)
		}
		tokens[c.Token] = true
	}
	wantDepth(t, s, "jio", store.Depth{Pending: int64(len(msgs))})
	if more := mustClaim(t, s, "jio", "c1", 100, 0); len(more) != 0 {
		t.Fatalf("second claim got %v", ids(more))
	}
}

func testClaimRespectsN(t *testing.T, s store.Store) {
	var msgs []*store.Message
	for i := range 10 {
		msgs = append(msgs, msg("jio", store.Priority(i%3)))
	}
	mustEnqueue(t, s, msgs...)
	var all []string
	for _, n := range []int{3, 3, 3, 3} {
		claims := mustClaim(t, s, "jio", "c1", n, 0)
		want := min(n, 10-len(all))
		if len(claims) != want {
			t.Fatalf("Claim(n=%d) got %d, want %d", n, len(claims), want)
		}
		all = append(all, ids(claims)...)
	}
	// Priority order across batches: 4 OTP, then 3 transactional, then 3 promotional.
	var want []string
	for _, p := range store.Priorities() {
		for _, m := range msgs {
			if m.Priority == p {
				want = append(want, m.ID)
			}
		}
	}
	if !slices.Equal(all, want) {
		t.Fatalf("claimed %v, want %v", all, want)
	}
	if claims := mustClaim(t, s, "jio", "c1", 0, 0); len(claims) != 0 {
		t.Fatalf("Claim(n=0) got %d", len(claims))
	}
}

func testClaimEmpty(t *testing.T, s store.Store) {
	start := time.Now()
	if claims := mustClaim(t, s, "jio", "c1", 10, 0); len(claims) != 0 {
		t.Fatalf("empty queue gave %d", len(claims))
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Claim with wait 0 took %v", d)
	}
	start = time.Now()
	if claims := mustClaim(t, s, "jio", "c1", 10, 300*time.Millisecond); len(claims) != 0 {
		t.Fatalf("empty queue gave %d", len(claims))
	}
	if d := time.Since(start); d < 250*time.Millisecond || d > 5*time.Second {
		t.Fatalf("Claim with wait 300ms returned after %v", d)
	}
}

func testClaimWakesOnEnqueue(t *testing.T, s store.Store) {
	m := msg("jio", store.PriorityOTP)
	go func() {
		time.Sleep(150 * time.Millisecond)
		_ = s.Enqueue(context.Background(), m)
	}()
	start := time.Now()
	claims := mustClaim(t, s, "jio", "c1", 10, 20*time.Second)
	d := time.Since(start)
	if len(claims) != 1 {
		t.Fatalf("got %d claims, want 1", len(claims))
	}
	sameMessage(t, claims[0].Message, m)
	if d > 5*time.Second {
		t.Fatalf("Claim returned after %v; it should wake when the message arrives", d)
	}

	// A scheduled message becoming due also wakes a waiting Claim (through PromoteDue).
	m2 := msg("jio", store.PriorityPromotional)
	m2.SendAt = time.Now().Add(time.Hour)
	mustEnqueue(t, s, m2)
	go func() {
		time.Sleep(150 * time.Millisecond)
		_, _ = s.PromoteDue(context.Background(), m2.SendAt, 10)
	}()
	start = time.Now()
	claims = mustClaim(t, s, "jio", "c1", 10, 20*time.Second)
	if d := time.Since(start); len(claims) != 1 || d > 5*time.Second {
		t.Fatalf("after PromoteDue got %d claims in %v", len(claims), d)
	}
	sameMessage(t, claims[0].Message, m2)
}

func testClaimContextCancel(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(150*time.Millisecond, cancel)
	start := time.Now()
	claims, err := s.Claim(ctx, "jio", "c1", 10, time.Minute)
	d := time.Since(start)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Claim after cancel: %d claims, err %v; want context.Canceled", len(claims), err)
	}
	if d > 3*time.Second {
		t.Fatalf("Claim took %v to notice the cancel", d)
	}

	ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = s.Claim(ctx, "jio", "c1", 10, time.Minute)
	if d := time.Since(start); !errors.Is(err, context.DeadlineExceeded) || d > 3*time.Second {
		t.Fatalf("Claim past ctx deadline: err %v after %v; want DeadlineExceeded", err, d)
	}

	// Nothing was lost meanwhile.
	m := msg("jio", store.PriorityOTP)
	mustEnqueue(t, s, m)
	if claims := mustClaim(t, s, "jio", "c1", 10, 0); len(claims) != 1 {
		t.Fatalf("after cancelled claims got %d, want 1", len(claims))
	}
}

func testClaimIsolatesCarriers(t *testing.T, s store.Store) {
	a, b := msg("jio", store.PriorityOTP), msg("airtel", store.PriorityOTP)
	mustEnqueue(t, s, a, b)
	claims := mustClaim(t, s, "jio", "c1", 10, 0)
	if len(claims) != 1 || claims[0].Message.ID != a.ID {
		t.Fatalf("jio claims %v", ids(claims))
	}
	// Acking with the wrong carrier finishes nothing.
	if err := s.Ack(ctxT(t), "airtel", claims...); err != nil {
		t.Fatal(err)
	}
	wantDepth(t, s, "jio", store.Depth{Pending: 1})
	wantDepth(t, s, "airtel", store.Depth{Ready: 1})
}

func testStoredCopy(t *testing.T, s store.Store) {
	m := msg("jio", store.PriorityOTP)
	want := *m
	want.Meta = map[string]string{"campaign": "c1"}
	mustEnqueue(t, s, m)
	m.Text, m.Meta["campaign"] = "changed", "changed"
	claims := mustClaim(t, s, "jio", "c1", 1, 0)
	sameMessage(t, claims[0].Message, &want)
	claims[0].Message.Text = "changed by consumer"
	time.Sleep(20 * time.Millisecond)
	re, err := s.Reclaim(ctxT(t), "jio", "c2", 0, 10)
	if err != nil || len(re) != 1 {
		t.Fatalf("Reclaim: %d, %v", len(re), err)
	}
	sameMessage(t, re[0].Message, &want)
}

func testAck(t *testing.T, s store.Store) {
	msgs := []*store.Message{msg("jio", 0), msg("jio", 1), msg("jio", 2)}
	mustEnqueue(t, s, msgs...)
	claims := mustClaim(t, s, "jio", "c1", 10, 0)
	if len(claims) != 3 {
		t.Fatalf("claimed %d", len(claims))
	}
	ctx := ctxT(t)
	if err := s.Ack(ctx, "jio", claims[0]); err != nil {
		t.Fatal(err)
	}
	wantDepth(t, s, "jio", store.Depth{Pending: 2})
	if err := s.Ack(ctx, "jio", claims...); err != nil {
		t.Fatal(err)
	}
	wantDepth(t, s, "jio", store.Depth{})
	if err := s.Ack(ctx, "jio", claims...); err != nil {
		t.Fatalf("second Ack: %v", err)
	}
	if err := s.Ack(ctx, "jio", store.Claim{Token: "garbage", Message: msgs[0]}, store.Claim{}); err != nil {
		t.Fatalf("Ack of unknown claims: %v", err)
	}
	if err := s.Ack(ctx, "jio"); err != nil {
		t.Fatalf("Ack of nothing: %v", err)
	}
	if err := s.Ack(ctx, "nosuch", claims...); err != nil {
		t.Fatalf("Ack on unknown carrier: %v", err)
	}
	wantDepth(t, s, "jio", store.Depth{})
	if claims := mustClaim(t, s, "jio", "c1", 10, 0); len(claims) != 0 {
		t.Fatalf("acked messages came back: %v", ids(claims))
	}
	if re, err := s.Reclaim(ctx, "jio", "c2", 0, 10); err != nil || len(re) != 0 {
		t.Fatalf("acked messages reclaimable: %d, %v", len(re), err)
	}
}

func testDeferAndPromote(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	m := msg("jio", store.PriorityTransactional)
	mustEnqueue(t, s, m)
	claims := mustClaim(t, s, "jio", "c1", 10, 0)
	if len(claims) != 1 {
		t.Fatalf("claimed %d", len(claims))
	}
	c := claims[0]
	c.Message.Attempts++
	c.Message.Meta["last_error"] = "0x58"
	at := time.Now().Add(time.Hour)
	if err := s.Defer(ctx, "jio", c, at); err != nil {
		t.Fatal(err)
	}
	wantDepth(t, s, "jio", store.Depth{Scheduled: 1})
	if claims := mustClaim(t, s, "jio", "c1", 10, 0); len(claims) != 0 {
		t.Fatalf("deferred message claimable: %v", ids(claims))
	}
	if n, err := s.PromoteDue(ctx, at.Add(-time.Second), 10); err != nil || n != 0 {
		t.Fatalf("PromoteDue before due: %d, %v", n, err)
	}
	wantDepth(t, s, "jio", store.Depth{Scheduled: 1})
	if n, err := s.PromoteDue(ctx, at, 10); err != nil || n != 1 {
		t.Fatalf("PromoteDue at due time: %d, %v; want 1", n, err)
	}
	wantDepth(t, s, "jio", store.Depth{Ready: 1})
	if n, err := s.PromoteDue(ctx, at.Add(time.Hour), 10); err != nil || n != 0 {
		t.Fatalf("second PromoteDue: %d, %v", n, err)
	}
	claims = mustClaim(t, s, "jio", "c1", 10, 0)
	if len(claims) != 1 {
		t.Fatalf("claimed %d after promotion", len(claims))
	}
	sameMessage(t, claims[0].Message, c.Message)
	if claims[0].Message.Attempts != 1 || claims[0].Deliveries != 1 {
		t.Fatalf("Attempts %d Deliveries %d, want 1 and 1", claims[0].Message.Attempts, claims[0].Deliveries)
	}
	if err := s.Ack(ctx, "jio", claims...); err != nil {
		t.Fatal(err)
	}
	wantDepth(t, s, "jio", store.Depth{})
}

func testDeferAfterAckIsNoop(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	mustEnqueue(t, s, msg("jio", 0), msg("jio", 1))
	claims := mustClaim(t, s, "jio", "c1", 10, 0)
	if err := s.Ack(ctx, "jio", claims...); err != nil {
		t.Fatal(err)
	}
	if err := s.Defer(ctx, "jio", claims[0], time.Now()); err != nil {
		t.Fatalf("Defer after Ack: %v", err)
	}
	if err := s.Move(ctx, "jio", claims[1], "airtel"); err != nil {
		t.Fatalf("Move after Ack: %v", err)
	}
	wantDepth(t, s, "jio", store.Depth{})
	wantDepth(t, s, "airtel", store.Depth{})
	if n, err := s.PromoteDue(ctx, time.Now().Add(time.Hour), 10); err != nil || n != 0 {
		t.Fatalf("PromoteDue: %d, %v; want 0", n, err)
	}
}

func testEnqueueScheduled(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	later := msg("jio", store.PriorityPromotional)
	later.SendAt = time.Now().Add(2 * time.Hour)
	past := msg("jio", store.PriorityPromotional)
	past.SendAt = time.Now().Add(-time.Minute)
	other := msg("airtel", store.PriorityOTP)
	other.SendAt = later.SendAt.Add(-time.Minute)
	mustEnqueue(t, s, later, past, other)
	wantDepth(t, s, "jio", store.Depth{Ready: 1, Scheduled: 1})
	wantDepth(t, s, "airtel", store.Depth{Scheduled: 1})
	claims := mustClaim(t, s, "jio", "c1", 10, 0)
	if len(claims) != 1 || claims[0].Message.ID != past.ID {
		t.Fatalf("claimed %v, want only %s", ids(claims), past.ID)
	}
	if n, err := s.PromoteDue(ctx, time.Now(), 10); err != nil || n != 0 {
		t.Fatalf("PromoteDue now: %d, %v", n, err)
	}
	if n, err := s.PromoteDue(ctx, later.SendAt, 10); err != nil || n != 2 {
		t.Fatalf("PromoteDue at SendAt: %d, %v; want 2", n, err)
	}
	wantDepth(t, s, "jio", store.Depth{Ready: 1, Pending: 1})
	wantDepth(t, s, "airtel", store.Depth{Ready: 1})
	claims = mustClaim(t, s, "jio", "c1", 10, 0)
	if len(claims) != 1 {
		t.Fatalf("claimed %d", len(claims))
	}
	sameMessage(t, claims[0].Message, later)
	claims = mustClaim(t, s, "airtel", "c1", 10, 0)
	if len(claims) != 1 {
		t.Fatalf("claimed %d", len(claims))
	}
	sameMessage(t, claims[0].Message, other)
}

func testPromoteDueOrderAndLimit(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	base := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	var msgs []*store.Message
	for i, off := range []int{5, 1, 4, 2, 3} { // seconds after base
		m := msg([]string{"jio", "vi"}[i%2], store.PriorityTransactional)
		m.SendAt = base.Add(time.Duration(off) * time.Second)
		msgs = append(msgs, m)
	}
	mustEnqueue(t, s, msgs...)
	// Due: offsets 1, 2, 3 (not 4, 5). Limit 2 takes the two earliest (1: vi, 2: vi).
	due := base.Add(3 * time.Second)
	if n, err := s.PromoteDue(ctx, due, 2); err != nil || n != 2 {
		t.Fatalf("PromoteDue limit 2: %d, %v", n, err)
	}
	wantDepth(t, s, "vi", store.Depth{Ready: 2})
	wantDepth(t, s, "jio", store.Depth{Scheduled: 3})
	if n, err := s.PromoteDue(ctx, due, 10); err != nil || n != 1 {
		t.Fatalf("PromoteDue rest: %d, %v; want 1", n, err)
	}
	wantDepth(t, s, "jio", store.Depth{Ready: 1, Scheduled: 2})
	if n, err := s.PromoteDue(ctx, due, 0); err != nil || n != 0 {
		t.Fatalf("PromoteDue n=0: %d, %v", n, err)
	}
	claims := mustClaim(t, s, "vi", "c1", 10, 0)
	if got, want := ids(claims), []string{msgs[1].ID, msgs[3].ID}; !slices.Equal(got, want) {
		t.Fatalf("vi order %v, want %v", got, want)
	}
}

func testMove(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	m := msg("jio", store.PriorityOTP)
	mustEnqueue(t, s, m, msg("airtel", store.PriorityOTP))
	claims := mustClaim(t, s, "jio", "c1", 10, 0)
	if len(claims) != 1 {
		t.Fatalf("claimed %d", len(claims))
	}
	claims[0].Message.Attempts = 2
	if err := s.Move(ctx, "jio", claims[0], "airtel"); err != nil {
		t.Fatal(err)
	}
	wantDepth(t, s, "jio", store.Depth{})
	wantDepth(t, s, "airtel", store.Depth{Ready: 2})
	got := mustClaim(t, s, "airtel", "c2", 10, 0)
	if len(got) != 2 {
		t.Fatalf("airtel claimed %d", len(got))
	}
	want := *m
	want.Carrier, want.Attempts = "airtel", 2
	sameMessage(t, got[1].Message, &want) // behind airtel's own message
	if err := s.Ack(ctx, "airtel", got...); err != nil {
		t.Fatal(err)
	}
	wantDepth(t, s, "airtel", store.Depth{})
	if err := s.Move(ctx, "jio", claims[0], "bad:name"); err == nil {
		t.Fatal("Move to an invalid carrier name: no error")
	}
}

func testReclaim(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	msgs := []*store.Message{msg("jio", 2), msg("jio", 0), msg("jio", 1)}
	mustEnqueue(t, s, msgs...)
	claimed := time.Now()
	claims := mustClaim(t, s, "jio", "dead", 10, 0)
	if len(claims) != 3 {
		t.Fatalf("claimed %d", len(claims))
	}
	const minIdle = 300 * time.Millisecond
	re, err := s.Reclaim(ctx, "jio", "c2", time.Hour, 10)
	if err != nil || len(re) != 0 {
		t.Fatalf("Reclaim(minIdle 1h) right after the claim: %d, %v", len(re), err)
	}
	re, err = s.Reclaim(ctx, "jio", "c2", minIdle, 10)
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(claimed) < minIdle*2/3 && len(re) != 0 {
		t.Fatalf("Reclaim before minIdle took %v", ids(re))
	}
	time.Sleep(minIdle + 50*time.Millisecond)
	re, err = s.Reclaim(ctx, "jio", "c2", minIdle, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(re), []string{msgs[1].ID, msgs[2].ID}; !slices.Equal(got, want) {
		t.Fatalf("Reclaim(n=2) got %v, want %v (highest priority first)", got, want)
	}
	for i, c := range re {
		if c.Deliveries != 2 {
			t.Errorf("reclaimed %d: Deliveries %d, want 2", i, c.Deliveries)
		}
		sameMessage(t, c.Message, claims[i].Message)
	}
	wantDepth(t, s, "jio", store.Depth{Pending: 3})
	// Reclaimed entries are fresh again for c2: not reclaimable before minIdle.
	re2, err := s.Reclaim(ctx, "jio", "c3", time.Hour, 10)
	if err != nil || len(re2) != 0 {
		t.Fatalf("second Reclaim(1h): %v, %v", ids(re2), err)
	}
	rest, err := s.Reclaim(ctx, "jio", "c2", minIdle, 10)
	if err != nil || len(rest) != 1 || rest[0].Message.ID != msgs[0].ID {
		t.Fatalf("Reclaim of the rest: %v, %v", ids(rest), err)
	}
	time.Sleep(minIdle + 50*time.Millisecond)
	third, err := s.Reclaim(ctx, "jio", "c3", minIdle, 10)
	if err != nil || len(third) != 3 {
		t.Fatalf("third Reclaim: %v, %v", ids(third), err)
	}
	for _, c := range third {
		if c.Deliveries != 3 {
			t.Errorf("%s: Deliveries %d, want 3", c.Message.ID, c.Deliveries)
		}
	}
	if err := s.Ack(ctx, "jio", third...); err != nil {
		t.Fatal(err)
	}
	wantDepth(t, s, "jio", store.Depth{})
	// The dead consumer's stale Ack and Defer change nothing.
	if err := s.Defer(ctx, "jio", claims[0], time.Now()); err != nil {
		t.Fatal(err)
	}
	wantDepth(t, s, "jio", store.Depth{})
}

func testReclaimOrder(t *testing.T, s store.Store) {
	msgs := []*store.Message{msg("jio", 1), msg("jio", 0), msg("jio", 0), msg("jio", 2), msg("jio", 0)}
	mustEnqueue(t, s, msgs...)
	if claims := mustClaim(t, s, "jio", "dead", 10, 0); len(claims) != len(msgs) {
		t.Fatalf("claimed %d", len(claims))
	}
	time.Sleep(20 * time.Millisecond)
	re, err := s.Reclaim(ctxT(t), "jio", "c2", 10*time.Millisecond, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{msgs[1].ID, msgs[2].ID, msgs[4].ID, msgs[0].ID, msgs[3].ID}
	if got := ids(re); !slices.Equal(got, want) {
		t.Fatalf("Reclaim order %v, want %v (priority, then enqueue order)", got, want)
	}
}

func testConcurrentConsumers(t *testing.T, s store.Store) {
	const total, consumers = 2000, 4
	ctx := ctxT(t)
	var msgs []*store.Message
	for i := range total {
		msgs = append(msgs, msg("jio", store.Priority(i%3)))
	}
	var seen sync.Map
	var count, dups atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, consumers+1)
	for c := range consumers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("c%d", c)
			for count.Load() < total {
				claims, err := s.Claim(ctx, "jio", name, 37, 50*time.Millisecond)
				if err != nil {
					errc <- err
					return
				}
				for _, cl := range claims {
					if _, dup := seen.LoadOrStore(cl.Message.ID, name); dup {
						dups.Add(1)
					}
				}
				count.Add(int64(len(claims)))
				if err := s.Ack(ctx, "jio", claims...); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	// Enqueue while the consumers run, in batches.
	for i := 0; i < total; i += 100 {
		if err := s.Enqueue(ctx, msgs[i:i+100]...); err != nil {
			t.Fatal(err)
		}
	}
	waitNoErr(t, &wg, errc)
	if dups.Load() != 0 || count.Load() != total {
		t.Fatalf("claimed %d (want %d), %d twice", count.Load(), total, dups.Load())
	}
	for _, m := range msgs {
		if _, ok := seen.Load(m.ID); !ok {
			t.Fatalf("%s never claimed", m.ID)
		}
	}
	wantDepth(t, s, "jio", store.Depth{})
}

func testInvalidInput(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	good := msg("jio", store.PriorityOTP)
	bad := []*store.Message{nil, {Carrier: "jio"}, {ID: "x"}, {ID: "x", Carrier: "a:b"}, {ID: "x", Carrier: "jio", Priority: 3}}
	for i, b := range bad {
		if err := s.Enqueue(ctx, good, b); err == nil {
			t.Errorf("bad message %d accepted", i)
		}
	}
	wantDepth(t, s, "jio", store.Depth{}) // the good one in each batch was not stored either
	if err := s.Enqueue(ctx); err != nil {
		t.Errorf("Enqueue of nothing: %v", err)
	}
	if _, err := s.Claim(ctx, "", "c1", 1, 0); err == nil {
		t.Error("Claim with empty carrier: no error")
	}
	if err := s.PutRecord(ctx, &store.Record{}, time.Hour); err == nil {
		t.Error("PutRecord without id: no error")
	}
}

func testDepthUnknownCarrier(t *testing.T, s store.Store) {
	wantDepth(t, s, "nosuch", store.Depth{})
	if re, err := s.Reclaim(ctxT(t), "nosuch", "c1", 0, 10); err != nil || len(re) != 0 {
		t.Fatalf("Reclaim on unknown carrier: %d, %v", len(re), err)
	}
}

func testPing(t *testing.T, s store.Store) {
	if err := s.Ping(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}

func record(id string) *store.Record {
	return &store.Record{
		ID: id, Account: "acct1", Carrier: "jio", From: "SMPPDX", To: "919812345678",
		Status: store.StatusSubmitted, Parts: 2, CarrierIDs: []string{"a1", "a2"},
		AcceptedAt: time.Now().Truncate(time.Millisecond), SentAt: time.Now(),
		Meta: map[string]string{"webhook": "https://example.com/h"},
		PEID: "1101234567890123456", TemplateID: "1107161234567890123", TMIDs: []string{"1702123456789012345"},
	}
}

func sameRecord(t *testing.T, got, want *store.Record) {
	t.Helper()
	if g, w := js(got), js(want); g != w {
		t.Fatalf("record differs:\n got %s\nwant %s", g, w)
	}
}

func testRecordPutGet(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	r := record("r1")
	if err := s.PutRecord(ctx, r, time.Hour); err != nil {
		t.Fatal(err)
	}
	want := *r
	want.CarrierIDs = []string{"a1", "a2"}
	r.CarrierIDs[0] = "changed" // the store has its own copy
	got, err := s.GetRecord(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	sameRecord(t, got, &want)
	got.Status = store.StatusDelivered
	again, _ := s.GetRecord(ctx, "r1")
	sameRecord(t, again, &want)

	r2 := record("r1")
	r2.Status = store.StatusFailed
	if err := s.PutRecord(ctx, r2, 0); err != nil { // replaces; default TTL
		t.Fatal(err)
	}
	got, err = s.GetRecord(ctx, "r1")
	if err != nil || got.Status != store.StatusFailed {
		t.Fatalf("after replace: %+v, %v", got, err)
	}
}

func testRecordNotFound(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	if _, err := s.GetRecord(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetRecord: %v, want ErrNotFound", err)
	}
	called := false
	_, err := s.UpdateRecord(ctx, "nope", func(*store.Record) error { called = true; return nil })
	if !errors.Is(err, store.ErrNotFound) || called {
		t.Fatalf("UpdateRecord: %v (fn called %v), want ErrNotFound", err, called)
	}
	if _, _, err := s.LookupCarrierID(ctx, "jio", "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("LookupCarrierID: %v, want ErrNotFound", err)
	}
}

func testRecordUpdate(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	if err := s.PutRecord(ctx, record("r1"), time.Hour); err != nil {
		t.Fatal(err)
	}
	got, err := s.UpdateRecord(ctx, "r1", func(r *store.Record) error {
		r.Status = store.StatusDelivered
		r.StatusAt = time.Now()
		r.CarrierIDs = append(r.CarrierIDs, "a3")
		r.ID = "hijack"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "r1" || got.Status != store.StatusDelivered || len(got.CarrierIDs) != 3 || got.Rev != 1 {
		t.Fatalf("UpdateRecord returned %+v, want Rev 1", got)
	}
	stored, err := s.GetRecord(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	sameRecord(t, stored, got)
	if _, err := s.GetRecord(ctx, "hijack"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("fn changed the id: %v", err)
	}

	boom := errors.New("boom")
	_, err = s.UpdateRecord(ctx, "r1", func(r *store.Record) error {
		r.Status = store.StatusFailed
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("UpdateRecord with failing fn: %v, want boom", err)
	}
	stored, _ = s.GetRecord(ctx, "r1")
	if stored.Status != store.StatusDelivered || stored.Rev != 1 {
		t.Fatalf("failed update was stored: %s, Rev %d", stored.Status, stored.Rev)
	}
	got, err = s.UpdateRecord(ctx, "r1", func(r *store.Record) error {
		if r.Rev != 1 {
			return fmt.Errorf("fn got Rev %d, want the stored 1", r.Rev)
		}
		r.Reason = "again"
		return nil
	})
	if err != nil || got.Rev != 2 {
		t.Fatalf("second UpdateRecord: %+v, %v; want Rev 2", got, err)
	}
	if stored, _ = s.GetRecord(ctx, "r1"); stored.Rev != 2 || stored.Reason != "again" {
		t.Fatalf("stored after the second update: %+v", stored)
	}
}

func testRecordUpdateConcurrent(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	if err := s.PutRecord(ctx, &store.Record{ID: "r1", Status: store.StatusAccepted}, time.Hour); err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if _, err := s.UpdateRecord(ctx, "r1", func(r *store.Record) error {
					r.Attempts++
					return nil
				}); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	waitNoErr(t, &wg, errc)
	r, err := s.GetRecord(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if r.Attempts != workers*each || r.Rev != workers*each {
		t.Fatalf("Attempts = %d, Rev = %d, want %d: updates were lost", r.Attempts, r.Rev, workers*each)
	}
}

// testRecordTTL: records expire after their TTL, and UpdateRecord, SwapRecords and Settle
// keep the remaining time (a record they had given a new TTL would outlive the test).
func testRecordTTL(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	const ttl = 1200 * time.Millisecond
	if err := s.PutRecord(ctx, record("short"), ttl); err != nil {
		t.Fatal(err)
	}
	if err := s.PutRecord(ctx, record("swapped"), ttl); err != nil {
		t.Fatal(err)
	}
	m := msg("jio", store.PriorityOTP)
	if err := s.Accept(ctx, []*store.Record{record(m.ID)}, ttl, m); err != nil {
		t.Fatal(err)
	}
	if err := s.PutRecord(ctx, record("long"), time.Hour); err != nil {
		t.Fatal(err)
	}
	put := time.Now()
	if _, err := s.UpdateRecord(ctx, "short", func(r *store.Record) error {
		r.Status = store.StatusDelivered
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sw := record("swapped")
	sw.Rev, sw.Status = 1, store.StatusDelivered
	if res, err := s.SwapRecords(ctx, store.RecordChange{Record: sw}); err != nil || len(res) != 1 || !res[0].Stored {
		t.Fatalf("SwapRecords: %+v, %v", res, err)
	}
	claims := mustClaim(t, s, "jio", "c1", 1, 0)
	if len(claims) != 1 {
		t.Fatalf("claimed %d", len(claims))
	}
	settled := record(m.ID)
	settled.Rev = 1
	if err := s.Settle(ctx, store.Settlement{Carrier: "jio", Claim: claims[0], Record: settled}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"short", "swapped", m.ID} {
		if _, err := s.GetRecord(ctx, id); err != nil && time.Since(put) < ttl/2 {
			t.Fatalf("record %s gone early: %v", id, err)
		}
	}
	for _, id := range []string{"short", "swapped", m.ID} {
		wait.For(t, 10*time.Second, "record "+id+" expires", func() bool {
			_, err := s.GetRecord(ctx, id)
			return errors.Is(err, store.ErrNotFound)
		})
		if d := time.Since(put); d < ttl-100*time.Millisecond {
			t.Fatalf("record %s expired after %v, TTL %v", id, d, ttl)
		}
	}
	if _, err := s.UpdateRecord(ctx, "short", func(*store.Record) error { return nil }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UpdateRecord of expired record: %v", err)
	}
	sw.Rev = 2
	if res, err := s.SwapRecords(ctx, store.RecordChange{Record: sw}); err != nil || len(res) != 1 || res[0].Stored || !errors.Is(res[0].Err, store.ErrNotFound) {
		t.Fatalf("SwapRecords of expired record: %+v, %v", res, err)
	}
	if _, err := s.GetRecord(ctx, "long"); err != nil {
		t.Fatalf("long-lived record: %v", err)
	}
}

func testCarrierIndex(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	if err := s.IndexCarrierID(ctx, "jio", "0A1B2C", "msg-1", 1, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.IndexCarrierID(ctx, "jio", "0A1B2D", "msg-1", 2, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.IndexCarrierID(ctx, "airtel", "0A1B2C", "msg-2", 0, time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		carrier, cid, id string
		part             int
	}{{"jio", "0A1B2C", "msg-1", 1}, {"jio", "0A1B2D", "msg-1", 2}, {"airtel", "0A1B2C", "msg-2", 0}} {
		id, part, err := s.LookupCarrierID(ctx, tc.carrier, tc.cid)
		if err != nil || id != tc.id || part != tc.part {
			t.Errorf("Lookup(%s, %s) = %q, %d, %v; want %q, %d", tc.carrier, tc.cid, id, part, err, tc.id, tc.part)
		}
	}
	if _, _, err := s.LookupCarrierID(ctx, "vi", "0A1B2C"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Lookup on another carrier: %v", err)
	}
	// Re-indexing replaces.
	if err := s.IndexCarrierID(ctx, "jio", "0A1B2C", "msg-3", 4, time.Hour); err != nil {
		t.Fatal(err)
	}
	if id, part, err := s.LookupCarrierID(ctx, "jio", "0A1B2C"); err != nil || id != "msg-3" || part != 4 {
		t.Errorf("after re-index: %q, %d, %v", id, part, err)
	}
}

func testCarrierIndexTTL(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	if err := s.IndexCarrierID(ctx, "jio", "short", "msg-1", 1, time.Second); err != nil {
		t.Fatal(err)
	}
	put := time.Now()
	if err := s.IndexCarrierID(ctx, "jio", "long", "msg-1", 2, time.Hour); err != nil {
		t.Fatal(err)
	}
	wait.For(t, 10*time.Second, "index entry expires", func() bool {
		_, _, err := s.LookupCarrierID(ctx, "jio", "short")
		return errors.Is(err, store.ErrNotFound)
	})
	if d := time.Since(put); d < 900*time.Millisecond {
		t.Fatalf("index entry expired after %v, TTL 1s", d)
	}
	if _, _, err := s.LookupCarrierID(ctx, "jio", "long"); err != nil {
		t.Fatal(err)
	}
	got, err := s.LookupCarrierIDs(ctx, store.IndexKey{Carrier: "jio", ID: "short"}, store.IndexKey{Carrier: "jio", ID: "long"})
	if err != nil || len(got) != 2 || got[0].MsgID != "" || got[1].MsgID != "msg-1" || got[1].Part != 2 {
		t.Fatalf("LookupCarrierIDs(expired, live) = %+v, %v", got, err)
	}
}

func testAccept(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	now := time.Now().Truncate(time.Millisecond)
	msgs := []*store.Message{
		{ID: "acc-1", Carrier: "acc", Priority: store.PriorityOTP, From: "ACMEIN", To: "919800000001", Text: "a", AcceptedAt: now},
		{ID: "acc-2", Carrier: "acc", Priority: store.PriorityOTP, From: "ACMEIN", To: "919800000002", Text: "b", AcceptedAt: now, SendAt: now.Add(time.Hour)},
	}
	recs := []*store.Record{
		{ID: "acc-1", Status: store.StatusAccepted, To: "919800000001", AcceptedAt: now, Meta: map[string]string{"k": "v"}},
		{ID: "acc-2", Status: store.StatusScheduled, To: "919800000002", AcceptedAt: now},
	}
	if err := s.Accept(ctx, recs, time.Hour, msgs...); err != nil {
		t.Fatal(err)
	}
	want := copyRecord(recs[0])
	recs[0].Meta["k"], msgs[0].Text = "changed", "changed" // the store has its own copies
	for i, r := range recs {
		got, err := s.GetRecord(ctx, r.ID)
		if err != nil {
			t.Fatalf("record %s: %v", r.ID, err)
		}
		if i == 0 {
			sameRecord(t, got, want)
		}
		if got.Status != r.Status || got.Rev != 0 {
			t.Fatalf("record %s: %+v", r.ID, got)
		}
	}
	wantDepth(t, s, "acc", store.Depth{Ready: 1, Scheduled: 1})
	cl := mustClaim(t, s, "acc", "c1", 10, 0)
	if len(cl) != 1 || cl[0].Message.ID != "acc-1" || cl[0].Message.Text != "a" {
		t.Fatalf("claim %v", ids(cl))
	}

	// A bad message refuses the whole call: no record, and the good message is not queued.
	good := &store.Message{ID: "acc-4", Carrier: "acc", Priority: store.PriorityOTP, To: "91", Text: "x", AcceptedAt: now}
	bad := &store.Message{ID: "", Carrier: "acc", To: "91", Text: "x"}
	if err := s.Accept(ctx, []*store.Record{{ID: "acc-3"}, {ID: "acc-4"}}, time.Hour, good, bad); err == nil {
		t.Fatal("a message without id was accepted")
	}
	for _, id := range []string{"acc-3", "acc-4"} {
		if _, err := s.GetRecord(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("record %s of a refused call stored: %v", id, err)
		}
	}
	wantDepth(t, s, "acc", store.Depth{Pending: 1, Scheduled: 1})
	if err := s.Accept(ctx, nil, time.Hour); err != nil {
		t.Fatalf("Accept of nothing: %v", err)
	}
}

// waitNoErr waits for the workers of a concurrency test and fails the test with the first
// error they reported on errc.
func waitNoErr(t *testing.T, wg *sync.WaitGroup, errc chan error) {
	t.Helper()
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
}
