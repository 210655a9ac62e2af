package storetest

import (
	"context"
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

// Receipt log tests (part of RunDLR). Idle times are the store's (for Redis: the server's
// clock), so the tests only ever check them with generous margins and by polling.

func logged(carrier, body string, at time.Time) *store.LoggedPDU {
	return &store.LoggedPDU{Carrier: carrier, Bind: carrier + "-rx-1", Body: []byte(body), At: at}
}

func bodies(ps []*store.LoggedPDU) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = string(p.Body)
	}
	return out
}

func tokens(ps []*store.LoggedPDU) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Token
	}
	return out
}

func wantLogLen(t *testing.T, s DLRStore, want int64) {
	t.Helper()
	ctx := ctxT(t)
	n, err := s.ReceiptLogLen(ctx)
	if err != nil {
		t.Fatalf("ReceiptLogLen: %v", err)
	}
	c, err := s.ReceiptCounts(ctx)
	if err != nil {
		t.Fatalf("ReceiptCounts: %v", err)
	}
	if n != want || c.Parked != want {
		t.Fatalf("ReceiptLogLen = %d, ReceiptCounts.Parked = %d; want %d", n, c.Parked, want)
	}
}

func mustRead(t *testing.T, s DLRStore, consumer string, n int, wait time.Duration) []*store.LoggedPDU {
	t.Helper()
	ps, err := s.ReadReceiptLog(ctxT(t), consumer, n, wait)
	if err != nil {
		t.Fatalf("ReadReceiptLog(%s, %d): %v", consumer, n, err)
	}
	return ps
}

func mustReclaim(t *testing.T, s DLRStore, consumer string, minIdle time.Duration, n int) []*store.LoggedPDU {
	t.Helper()
	ps, err := s.ReclaimReceiptLog(ctxT(t), consumer, minIdle, n)
	if err != nil {
		t.Fatalf("ReclaimReceiptLog(%s, %v, %d): %v", consumer, minIdle, n, err)
	}
	return ps
}

func testReceiptLogAppendRead(t *testing.T, s DLRStore) {
	ctx := ctxT(t)
	at := time.Now().Truncate(time.Millisecond)
	first := []*store.LoggedPDU{logged("jio", "pdu-0", at), logged("jio", "pdu-1", at.Add(time.Millisecond)), logged("airtel", "pdu-2", at)}
	must(t, s.AppendReceipts(ctx, first...))
	must(t, s.AppendReceipts(ctx, logged("jio", "pdu-3", at), logged("vi", "pdu-4", at)))
	must(t, s.AppendReceipts(ctx))
	first[0].Body[4] = 'X' // the store has its own copy
	wantLogLen(t, s, 5)

	got := mustRead(t, s, "c1", 2, 0)
	if want := []string{"pdu-0", "pdu-1"}; !slices.Equal(bodies(got), want) {
		t.Fatalf("read %q, want %q (oldest first)", bodies(got), want)
	}
	p := got[0]
	if p.Carrier != "jio" || p.Bind != "jio-rx-1" || !p.At.Equal(at) || p.Deliveries != 1 || p.Token == "" {
		t.Fatalf("entry %+v", p)
	}
	got[1].Body[0] = 'X' // nor does the reader's copy change the stored one
	rest := mustRead(t, s, "c2", 10, 0)
	if want := []string{"pdu-2", "pdu-3", "pdu-4"}; !slices.Equal(bodies(rest), want) {
		t.Fatalf("second read %q, want %q", bodies(rest), want)
	}
	if rest[0].Carrier != "airtel" || rest[2].Carrier != "vi" {
		t.Fatalf("carriers %q, %q", rest[0].Carrier, rest[2].Carrier)
	}
	all := append(got, rest...)
	seen := map[string]bool{}
	for _, p := range all {
		if p.Token == "" || seen[p.Token] || p.Deliveries != 1 {
			t.Fatalf("entry %q: token %q (empty or repeated) deliveries %d", p.Body, p.Token, p.Deliveries)
		}
		seen[p.Token] = true
	}
	// Read entries belong to their readers: no consumer reads them again.
	for _, c := range []string{"c1", "c2", "c3"} {
		if again := mustRead(t, s, c, 10, 0); len(again) != 0 {
			t.Fatalf("%s read %q again", c, bodies(again))
		}
	}
	if none := mustRead(t, s, "c1", 0, 0); len(none) != 0 {
		t.Fatalf("ReadReceiptLog(n=0) read %q", bodies(none))
	}
	wantLogLen(t, s, 5) // read is not applied

	// The stored copies were not changed by either side.
	must(t, s.AppendReceipts(ctx, logged("jio", "pdu-5", at)))
	if p := mustRead(t, s, "c1", 10, 0); len(p) != 1 || string(p[0].Body) != "pdu-5" {
		t.Fatalf("read after a new append: %q", bodies(p))
	}
	if re := mustReclaim(t, s, "c4", 0, 2); !slices.Equal(bodies(re), []string{"pdu-0", "pdu-1"}) {
		t.Fatalf("reclaimed %q, want the stored pdu-0, pdu-1", bodies(re))
	}
}

func testReceiptLogAck(t *testing.T, s DLRStore) {
	ctx := ctxT(t)
	now := time.Now()
	for i := range 4 {
		must(t, s.AppendReceipts(ctx, logged("jio", fmt.Sprint("a", i), now)))
	}
	got := mustRead(t, s, "c1", 10, 0)
	if len(got) != 4 {
		t.Fatalf("read %d, want 4", len(got))
	}
	must(t, s.AckReceiptLog(ctx, got[0].Token, got[2].Token, "garbage", ""))
	wantLogLen(t, s, 2)
	must(t, s.AckReceiptLog(ctx, got[0].Token)) // twice: nothing more happens
	must(t, s.AckReceiptLog(ctx))
	wantLogLen(t, s, 2)
	// Acked entries are gone for good: only the other two can be reclaimed.
	re := mustReclaim(t, s, "c2", 0, 10)
	if want := []string{got[1].Token, got[3].Token}; !slices.Equal(tokens(re), want) {
		t.Fatalf("reclaimed %q (%q), want the tokens %q", tokens(re), bodies(re), want)
	}
	must(t, s.AckReceiptLog(ctx, tokens(re)...))
	wantLogLen(t, s, 0)
	if re := mustReclaim(t, s, "c2", 0, 10); len(re) != 0 {
		t.Fatalf("reclaimed acked entries %q", bodies(re))
	}
	if again := mustRead(t, s, "c2", 10, 0); len(again) != 0 {
		t.Fatalf("read acked entries %q", bodies(again))
	}
}

func testReceiptLogWait(t *testing.T, s DLRStore) {
	start := time.Now()
	if got := mustRead(t, s, "c1", 10, 0); len(got) != 0 {
		t.Fatalf("empty log gave %q", bodies(got))
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("ReadReceiptLog with wait 0 took %v", d)
	}
	start = time.Now()
	if got := mustRead(t, s, "c1", 10, 300*time.Millisecond); len(got) != 0 {
		t.Fatalf("empty log gave %q", bodies(got))
	}
	if d := time.Since(start); d < 250*time.Millisecond || d > 5*time.Second {
		t.Fatalf("ReadReceiptLog with wait 300ms returned after %v", d)
	}

	// A waiting reader wakes when an entry is appended.
	go func() {
		time.Sleep(150 * time.Millisecond)
		_ = s.AppendReceipts(context.Background(), logged("jio", "late", time.Now()))
	}()
	start = time.Now()
	got := mustRead(t, s, "c1", 10, 20*time.Second)
	if d := time.Since(start); len(got) != 1 || string(got[0].Body) != "late" || d > 5*time.Second {
		t.Fatalf("waiting read got %q after %v; want \"late\", as soon as it was appended", bodies(got), d)
	}
}

func testReceiptLogContextCancel(t *testing.T, s DLRStore) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(150*time.Millisecond, cancel)
	start := time.Now()
	got, err := s.ReadReceiptLog(ctx, "c1", 10, time.Minute)
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("ReadReceiptLog took %v to notice the cancel", d)
	}
	if len(got) != 0 || (err != nil && !errors.Is(err, context.Canceled)) {
		t.Fatalf("ReadReceiptLog after cancel: %q, %v; want nothing and nil or context.Canceled", bodies(got), err)
	}

	ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start = time.Now()
	got, err = s.ReadReceiptLog(ctx, "c1", 10, time.Minute)
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("ReadReceiptLog ran %v past its ctx deadline", d)
	}
	if len(got) != 0 || (err != nil && !errors.Is(err, context.DeadlineExceeded)) {
		t.Fatalf("ReadReceiptLog past ctx deadline: %q, %v; want nothing and nil or DeadlineExceeded", bodies(got), err)
	}

	// Nothing was lost meanwhile.
	must(t, s.AppendReceipts(ctxT(t), logged("jio", "after", time.Now())))
	if got := mustRead(t, s, "c1", 10, 0); len(got) != 1 || string(got[0].Body) != "after" {
		t.Fatalf("after cancelled reads got %q", bodies(got))
	}
}

func testReceiptLogReclaim(t *testing.T, s DLRStore) {
	ctx := ctxT(t)
	const minIdle = 300 * time.Millisecond
	must(t, s.AppendReceipts(ctx, logged("jio", "e0", time.Now()), logged("jio", "e1", time.Now()), logged("jio", "e2", time.Now())))
	before := time.Now()
	read := mustRead(t, s, "dead", 10, 0)
	if len(read) != 3 {
		t.Fatalf("read %d, want 3", len(read))
	}
	if re := mustReclaim(t, s, "c2", time.Hour, 10); len(re) != 0 {
		t.Fatalf("Reclaim(minIdle 1h) right after the read: %q", bodies(re))
	}
	if re := mustReclaim(t, s, "c2", minIdle, 10); len(re) != 0 && time.Since(before) < minIdle*2/3 {
		t.Fatalf("Reclaim before minIdle took %q", bodies(re))
	}
	if re := mustReclaim(t, s, "c2", minIdle, 0); len(re) != 0 {
		t.Fatalf("Reclaim(n=0) took %q", bodies(re))
	}

	// deliveries[token] is how many times each entry has been handed out so far.
	deliveries := map[string]int64{}
	for _, p := range read {
		deliveries[p.Token] = 1
	}
	check := func(what string, ps []*store.LoggedPDU) {
		t.Helper()
		for _, p := range ps {
			want, ok := deliveries[p.Token]
			if !ok {
				t.Fatalf("%s: unknown token %q (%q)", what, p.Token, p.Body)
			}
			if p.Deliveries != want+1 {
				t.Fatalf("%s: %s has Deliveries %d, want %d", what, p.Body, p.Deliveries, want+1)
			}
			deliveries[p.Token] = p.Deliveries
		}
	}

	var re []*store.LoggedPDU
	wait.For(t, 10*time.Second, "read entries become reclaimable", func() bool {
		re = mustReclaim(t, s, "c2", minIdle, 2)
		return len(re) > 0
	})
	reclaimed := time.Now()
	if time.Since(before) < minIdle-50*time.Millisecond {
		t.Fatalf("reclaimed after %v idle, minIdle %v", time.Since(before), minIdle)
	}
	if !slices.Equal(bodies(re), []string{"e0", "e1"}) || !slices.Equal(tokens(re), tokens(read[:2])) {
		t.Fatalf("Reclaim(n=2) got %q (tokens %q), want e0, e1 (oldest first) with their tokens %q", bodies(re), tokens(re), tokens(read[:2]))
	}
	check("first reclaim", re)

	// Reclaimed entries are fresh again; the third is still idle.
	if again := mustReclaim(t, s, "c3", time.Hour, 10); len(again) != 0 {
		t.Fatalf("Reclaim(1h) after a reclaim: %q", bodies(again))
	}
	re = mustReclaim(t, s, "c3", minIdle, 10)
	if !slices.Contains(bodies(re), "e2") || len(re) > 1 && time.Since(reclaimed) < minIdle*2/3 {
		t.Fatalf("Reclaim of the rest got %q, want e2 alone (e0 and e1 were reclaimed just now)", bodies(re))
	}
	check("second reclaim", re)
	// Still nobody's to read.
	if got := mustRead(t, s, "c4", 10, 0); len(got) != 0 {
		t.Fatalf("reclaimed entries read again: %q", bodies(got))
	}

	// Every one comes back once more, after minIdle, each with one more delivery.
	got := map[string]bool{}
	wait.For(t, 10*time.Second, "every entry reclaimed again", func() bool {
		for _, p := range mustReclaim(t, s, "c4", minIdle, 10) {
			if got[p.Token] {
				deliveries[p.Token] = p.Deliveries // handed out once more since: fine
				continue
			}
			check("third reclaim", []*store.LoggedPDU{p})
			got[p.Token] = true
		}
		return len(got) == 3
	})
	wantLogLen(t, s, 3)

	// Acks go by token, whoever holds the entry now.
	must(t, s.AckReceiptLog(ctx, tokens(read)...))
	wantLogLen(t, s, 0)
	if re := mustReclaim(t, s, "c5", 0, 10); len(re) != 0 {
		t.Fatalf("acked entries reclaimed: %q", bodies(re))
	}
}

func testReceiptLogConcurrent(t *testing.T, s DLRStore) {
	const appenders, each, readers = 4, 150, 4
	const total = appenders * each
	ctx := ctxT(t)
	var mu sync.Mutex
	seen := map[string]int{}
	var toks []string
	redelivered := 0
	var count atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, appenders+readers)
	for r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprint("r", r)
			for count.Load() < total {
				ps, err := s.ReadReceiptLog(ctx, name, 13, 50*time.Millisecond)
				if err != nil {
					errc <- fmt.Errorf("%s: %w (read %d of %d in all)", name, err, count.Load(), total)
					return
				}
				mu.Lock()
				for _, p := range ps {
					seen[string(p.Body)]++
					toks = append(toks, p.Token)
					if p.Deliveries != 1 {
						redelivered++
					}
				}
				mu.Unlock()
				count.Add(int64(len(ps)))
			}
		}()
	}
	for a := range appenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; {
				var batch []*store.LoggedPDU
				for k := 0; k < 1+i%5 && i < each; k++ {
					batch = append(batch, logged("jio", fmt.Sprintf("a%d-%d", a, i), time.Now()))
					i++
				}
				if err := s.AppendReceipts(ctx, batch...); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	waitNoErr(t, &wg, errc)
	if redelivered != 0 {
		t.Fatalf("%d entries read with Deliveries other than 1", redelivered)
	}
	if len(seen) != total || count.Load() != total {
		t.Fatalf("read %d entries, %d distinct; want %d", count.Load(), len(seen), total)
	}
	for b, n := range seen {
		if n != 1 {
			t.Fatalf("%s read %d times", b, n)
		}
	}
	wantLogLen(t, s, total)
	if more := mustRead(t, s, "late", 10, 0); len(more) != 0 {
		t.Fatalf("read %q after every entry was read", bodies(more))
	}
	must(t, s.AckReceiptLog(ctx, toks...))
	wantLogLen(t, s, 0)
}
