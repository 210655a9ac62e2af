package dlr_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smppd/smppd/dlr"
	"github.com/smppd/smppd/dlt"
	"github.com/smppd/smppd/internal/wait"
	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/storetest"
)

const hookURL = "https://hooks.example.com/dlr"

var hookMeta = map[string]string{dlr.MetaWebhookURL: hookURL, dlr.MetaCallback1: "order_98765", dlr.MetaCallback2: "cust_1122"}

// queued returns every webhook job in the queue (leased for a millisecond only, so a later
// call sees them again).
func queued(t *testing.T, st testStore) []*store.WebhookJob {
	t.Helper()
	jobs, err := st.ClaimWebhooks(context.Background(), time.Now().Add(time.Hour), time.Millisecond, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return jobs
}

func TestIDFormats(t *testing.T) {
	huge := "FFFFFFFFFFFFFFFFFFFFFF" // beyond uint64
	n, _ := new(big.Int).SetString(huge, 16)
	cases := []struct {
		format           dlr.Format
		submit, receipts string // receipts: comma-separated spellings that must match
	}{
		{dlr.FormatAsIs, "abc-123", "abc-123, abc-123\x00"},
		{dlr.FormatAsIs, "3f2a9c1e-0b4d-4e6f-8a1b-2c3d4e5f6a7b", "3f2a9c1e-0b4d-4e6f-8a1b-2c3d4e5f6a7b"},
		{dlr.FormatHex, "1A2B", "1A2B,1a2b,00001a2b,00001A2B"},
		{dlr.FormatHex, "00001a2b", "1A2B,1a2b,00001a2b"},
		{dlr.FormatHexUpper, "0000FF", "ff,FF,00ff"},
		{dlr.FormatHexLower, "ff", "FF,0000FF"},
		{dlr.FormatDecimal, "0006699", "6699,0006699,00000000000006699"},
		{dlr.FormatHexToDecimal, "1A2B", "6699,006699"},
		{dlr.FormatHexToDecimal, huge, n.String()},
		{dlr.FormatDecimalToHex, "6699", "1A2B,1a2b,001a2b"},
		{dlr.FormatHex, "SIM-1a2b", "SIM-1a2b"}, // not a number: matched as written
	}
	for i, tc := range cases {
		for _, rid := range strings.Split(tc.receipts, ",") {
			t.Run(fmt.Sprintf("%s/%s/%q", tc.format, tc.submit, rid), func(t *testing.T) {
				st := storetest.OpenMemory(t)
				c := newCorr(t, dlr.CorrelatorOptions{Store: st, Carriers: []dlr.CarrierIDs{{Name: "jio", Format: tc.format}}})
				msg := fmt.Sprintf("m%d", i)
				submitted(t, st, c.Correlator, "jio", msg, hookMeta, tc.submit)
				c.mustSend("jio", receipt(rid, "DELIVRD", "000"))
				c.waitApplied(1)
				if r := record(t, st, msg); r.Status != store.StatusDelivered {
					t.Fatalf("record %+v (stats %+v, events %+v)", r, c.Stats(), c.ev.list())
				}
			})
		}
	}
}

// TestIndexEntries checks what dispatch indexes a submitted part under (the Receipts seam):
// the id as the carrier gave it, plus the normalised key when receipts spell it otherwise.
func TestIndexEntries(t *testing.T) {
	st := storetest.OpenMemory(t)
	c, err := dlr.NewCorrelator(dlr.CorrelatorOptions{Store: st, Carriers: []dlr.CarrierIDs{
		{Name: "hex", Format: dlr.FormatHex}, {Name: "dec", Format: dlr.FormatDecimal},
		{Name: "hexdec", Format: dlr.FormatHexToDecimal}, {Name: "dechex", Format: dlr.FormatDecimalToHex}}})
	if err != nil {
		t.Fatal(err)
	}
	key := func(carrier, id string) store.IndexEntry {
		return store.IndexEntry{IndexKey: store.IndexKey{Carrier: carrier, ID: id}, MsgID: "m", Part: 2}
	}
	for _, tc := range []struct {
		carrier, id string
		want        []store.IndexEntry
	}{
		{"asis", "AbC-1", []store.IndexEntry{key("asis", "AbC-1")}}, // not configured: as-is
		{"hex", "1a2b", []store.IndexEntry{key("hex", "1a2b")}},     // already canonical
		{"hex", "00001A2B", []store.IndexEntry{key("hex", "00001A2B"), key("hex#n", "1a2b")}},
		{"hex", "SIM-1a2b", []store.IndexEntry{key("hex", "SIM-1a2b")}}, // not a number
		{"dec", "0006699", []store.IndexEntry{key("dec", "0006699"), key("dec#n", "6699")}},
		{"dec", "6699", []store.IndexEntry{key("dec", "6699")}},
		{"hexdec", "1A2B", []store.IndexEntry{key("hexdec", "1A2B"), key("hexdec#n", "6699")}},
		{"dechex", "6699", []store.IndexEntry{key("dechex", "6699"), key("dechex#n", "1a2b")}},
	} {
		if got := c.IndexEntries(tc.carrier, tc.id, "m", 2); !slices.Equal(got, tc.want) {
			t.Errorf("IndexEntries(%s, %q) = %+v, want %+v", tc.carrier, tc.id, got, tc.want)
		}
	}
	if k, err := dlr.CanonicalID(dlr.FormatHexToDecimal, "1A2B"); err != nil || k != "6699" {
		t.Fatalf("CanonicalID: %q %v", k, err)
	}
}

func TestIDFormatsDoNotCrossMatch(t *testing.T) {
	st := storetest.OpenMemory(t)
	c := newCorr(t, dlr.CorrelatorOptions{Store: st, EarlyWindow: time.Hour, Carriers: []dlr.CarrierIDs{
		{Name: "hexdec", Format: dlr.FormatHexToDecimal}, {Name: "asis"}}})
	// "16" in hex is 22: a decimal receipt "16" is another message's and must not match.
	submitted(t, st, c.Correlator, "hexdec", "m-hex16", hookMeta, "16")
	c.mustSend("hexdec", receipt("16", "DELIVRD", "000"))
	wait.For(t, 10*time.Second, "the receipt tried and left waiting", func() bool { return c.Stats().Early == 1 })
	if r := record(t, st, "m-hex16"); r.Status != store.StatusSubmitted {
		t.Fatalf("decimal 16 matched hex 16: %+v", r)
	}
	c.mustSend("hexdec", receipt("22", "DELIVRD", "000"))
	wait.For(t, 10*time.Second, "decimal 22 to match hex 16", func() bool { return statusIs(st, "m-hex16", store.StatusDelivered) })
	// as-is is exact: case matters.
	submitted(t, st, c.Correlator, "asis", "m-asis", hookMeta, "AbC1")
	c.mustSend("asis", receipt("abc1", "DELIVRD", "000"))
	wait.For(t, 10*time.Second, "the receipt tried and left waiting", func() bool { return c.Stats().Early == 2 })
	if r := record(t, st, "m-asis"); r.Status != store.StatusSubmitted {
		t.Fatalf("as-is matched another spelling: %+v", r)
	}
	// Waiting receipts stay in the log (the hour of EarlyWindow), not in the unmatched list.
	if cnt, _ := st.ReceiptCounts(context.Background()); cnt.Parked != 2 || cnt.Unmatched != 0 {
		t.Fatalf("counts %+v", cnt)
	}
}

func TestNewCorrelatorChecksOptions(t *testing.T) {
	st := storetest.OpenMemory(t)
	for name, o := range map[string]dlr.CorrelatorOptions{
		"no store":        {},
		"bad format":      {Store: st, Carriers: []dlr.CarrierIDs{{Name: "x", Format: "octal"}}},
		"nameless":        {Store: st, Carriers: []dlr.CarrierIDs{{Format: dlr.FormatHex}}},
		"unknown combine": {Store: st, Combine: "majority"},
	} {
		if _, err := dlr.NewCorrelator(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestReceiptStatusErrorAndWebhookJob(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st testStore) {
		c := newCorr(t, dlr.CorrelatorOptions{Store: st})
		submitted(t, st, c.Correlator, "jio", "ok", hookMeta, "100")
		submitted(t, st, c.Correlator, "jio", "dlt", hookMeta, "101")
		submitted(t, st, c.Correlator, "jio", "undeliv", hookMeta, "102")
		submitted(t, st, c.Correlator, "jio", "expired", hookMeta, "103")
		for id, stat := range map[string][2]string{"100": {"DELIVRD", "000"}, "101": {"REJECTD", "633"}, "102": {"UNDELIV", "001"}, "103": {"EXPIRED", "000"}} {
			c.mustSend("jio", textReceipt(id, stat[0], stat[1]))
		}
		c.waitApplied(4)
		ok := record(t, st, "ok")
		if ok.Status != store.StatusDelivered || ok.ErrorCode != "" || ok.Reason != "" || ok.StatusAt.Before(ok.SentAt) {
			t.Fatalf("delivered: %+v", ok)
		}
		d := record(t, st, "dlt")
		if d.Status != store.StatusRejected || d.ErrorCode != "633" || !strings.Contains(d.Reason, "template_not_matched") {
			t.Fatalf("DLT rejection: %+v", d)
		}
		u := record(t, st, "undeliv")
		if u.Status != store.StatusUndelivered || u.ErrorCode != "001" || !strings.Contains(u.Reason, "UNDELIV") {
			t.Fatalf("undelivered: %+v", u)
		}
		if e := record(t, st, "expired"); e.Status != store.StatusExpired {
			t.Fatalf("expired: %+v", e)
		}
		jobs := queued(t, st)
		if len(jobs) != 4 {
			t.Fatalf("%d jobs", len(jobs))
		}
		for _, j := range jobs {
			if j.ID != dlr.JobID(j.MessageID, record(t, st, j.MessageID).Status) || j.URL != hookURL || j.ContentType != "application/json" {
				t.Fatalf("job %+v", j)
			}
			var p dlr.Payload
			if err := json.Unmarshal([]byte(j.Body), &p); err != nil {
				t.Fatal(err)
			}
			if p.SessionId != j.MessageID || p.SmsTo != "9812345678" || p.SmsFrom != "ACMEIN" || p.CallbackValue1 != "order_98765" ||
				p.CallbackValue2 != "cust_1122" || len(p.SentAt) != 19 || len(p.StatusAt) != 19 {
				t.Fatalf("payload %s", j.Body)
			}
			var keys map[string]any
			_ = json.Unmarshal([]byte(j.Body), &keys)
			if len(keys) != 8 {
				t.Fatalf("payload has %d fields, want the seed document's 8: %s", len(keys), j.Body)
			}
		}
		s := c.Stats()
		if s.Matched != 4 || s.Logged != 4 || s.Receipts["jio"][store.StatusDelivered] != 1 || s.Receipts["jio"][store.StatusRejected] != 1 ||
			s.WebhooksQueued != 4 || s.StoreErrors != 0 {
			t.Fatalf("stats %+v", s)
		}
		// Receipts are reported applied just before their log entries are acknowledged.
		wait.For(t, 10*time.Second, "the receipt log emptied", func() bool { return logLen(t, st) == 0 })
	})
}

// TestDLTReasons: a receipt's err: that is a DLT code reads as the DLT reason, from the
// carrier's own table when it has one.
func TestDLTReasons(t *testing.T) {
	st := storetest.OpenMemory(t)
	c := newCorr(t, dlr.CorrelatorOptions{Store: st, Carriers: []dlr.CarrierIDs{
		{Name: "vi", DLT: dlt.CarrierSpec{Codes: map[int]string{612: "vi_header_blocked"}}}}})
	submitted(t, st, c.Correlator, "vi", "own", hookMeta, "1")
	submitted(t, st, c.Correlator, "vi", "default", hookMeta, "2")
	submitted(t, st, c.Correlator, "jio", "other", hookMeta, "3")
	c.mustSend("vi", receipt("1", "REJECTD", "612"))
	c.mustSend("vi", receipt("2", "REJECTD", "633"))
	c.mustSend("jio", receipt("3", "UNDELIV", "612")) // another carrier: the default table
	c.waitApplied(3)
	if r := record(t, st, "own"); r.Status != store.StatusRejected || r.ErrorCode != "612" || r.Reason != "DLT 612 vi_header_blocked" {
		t.Fatalf("carrier table: %+v", r)
	}
	if r := record(t, st, "default"); !strings.HasPrefix(r.Reason, "DLT 633 template_not_matched") {
		t.Fatalf("default table: %+v", r)
	}
	if r := record(t, st, "other"); r.Reason == "" || strings.Contains(r.Reason, "vi_header_blocked") {
		t.Fatalf("another carrier's table used: %+v", r)
	}
	if name, desc, ok := dlr.DLTReason(" 633 "); !ok || name != "template_not_matched" || desc == "" {
		t.Fatalf("DLTReason: %q %q %v", name, desc, ok)
	}
	if _, _, ok := dlr.DLTReason("abc"); ok {
		t.Fatal("DLTReason of a non-number")
	}
}

func TestRepeatedReceiptIsIdempotent(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st testStore) {
		c := newCorr(t, dlr.CorrelatorOptions{Store: st})
		submitted(t, st, c.Correlator, "jio", "m1", hookMeta, "77")
		for range 3 {
			c.mustSend("jio", receipt("77", "DELIVRD", "000"))
		}
		// A later contradicting receipt does not change a final part.
		c.mustSend("jio", receipt("77", "UNDELIV", "001"))
		c.waitApplied(4)
		if r := record(t, st, "m1"); r.Status != store.StatusDelivered {
			t.Fatalf("record %+v", r)
		}
		if jobs := queued(t, st); len(jobs) != 1 || jobs[0].ID != "m1:DELIVERED" {
			t.Fatalf("jobs for one message: %+v", jobs)
		}
		if s := c.Stats(); s.Matched != 1 || s.Duplicates != 3 || s.WebhooksQueued != 1 {
			t.Fatalf("stats %+v", s)
		}
		evs := c.ev.list()
		if evs[0].Outcome != dlr.OutcomeMatched || evs[0].Status != store.StatusDelivered || evs[0].Carrier != "jio" || evs[0].Latency < 0 {
			t.Fatalf("first event %+v", evs[0])
		}
		if c.ev.count(dlr.OutcomeDuplicate) != 3 || evs[3].Status != store.StatusUndelivered {
			t.Fatalf("events %+v", evs)
		}
	})
}

func TestIntermediateReceiptIsNotFinal(t *testing.T) {
	st := storetest.OpenMemory(t)
	c := newCorr(t, dlr.CorrelatorOptions{Store: st})
	submitted(t, st, c.Correlator, "jio", "m1", hookMeta, "5")
	p := receipt("5", "ENROUTE", "000")
	p.ESMClass = smpp.ESMClassIntermediate
	c.mustSend("jio", p)
	c.waitApplied(1)
	if r := record(t, st, "m1"); r.Status != store.StatusSubmitted || len(queued(t, st)) != 0 || !strings.Contains(r.Meta[dlr.MetaParts], `"SUBMITTED"`) {
		t.Fatalf("after ENROUTE: %+v", r)
	}
	c.mustSend("jio", receipt("5", "DELIVRD", "000"))
	c.waitApplied(2)
	if r := record(t, st, "m1"); r.Status != store.StatusDelivered || len(queued(t, st)) != 1 {
		t.Fatalf("after DELIVRD: %+v", r)
	}
	if s := c.Stats(); s.Matched != 2 || s.Receipts["jio"][store.StatusSubmitted] != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// TestEarlyReceiptIsAppliedOnceSettled: a receipt that comes before dispatch settled its
// message is acknowledged at once (never refused), waits in the log, and is applied within
// about RetryEvery of the settlement.
func TestEarlyReceiptIsAppliedOnceSettled(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st testStore) {
		const retry = 100 * time.Millisecond
		c := newCorr(t, dlr.CorrelatorOptions{Store: st, RetryEvery: retry, Carriers: []dlr.CarrierIDs{{Name: "airtel", Format: dlr.FormatHexToDecimal}}})
		ctx := context.Background()
		// The receipt comes before the submit_sm_resp: nothing is indexed yet.
		if got := c.send("airtel", receipt("6699", "DELIVRD", "000")); got != smpp.ESME_ROK {
			t.Fatalf("early receipt answered %v", got)
		}
		wait.For(t, 10*time.Second, "the receipt tried and left waiting", func() bool { return c.Stats().Early == 1 })
		if n, _ := st.ReceiptCounts(ctx); n.Parked != 1 || n.Unmatched != 0 {
			t.Fatalf("counts %+v", n)
		}
		settled := time.Now()
		submitted(t, st, c.Correlator, "airtel", "m1", hookMeta, "1A2B") // dispatch settles the message
		wait.For(t, 10*time.Second, "the early receipt applied", func() bool { return statusIs(st, "m1", store.StatusDelivered) })
		if d := time.Since(settled); d > 2*retry+3*time.Second { // generous: a loaded machine
			t.Fatalf("applied %v after the settlement, RetryEvery %v", d, retry)
		}
		c.waitApplied(1)
		wait.For(t, 10*time.Second, "the log emptied", func() bool { n, _ := st.ReceiptCounts(ctx); return n.Parked == 0 })
		if n, _ := st.ReceiptCounts(ctx); n.Unmatched != 0 {
			t.Fatalf("counts %+v", n)
		}
		if s := c.Stats(); s.Early != 1 || s.EarlyMatched != 1 || s.Unmatched != 0 || s.Matched != 1 || s.Logged != 1 {
			t.Fatalf("stats %+v", s)
		}
		if jobs := queued(t, st); len(jobs) != 1 || jobs[0].ID != "m1:DELIVERED" {
			t.Fatalf("jobs %+v", jobs)
		}
	})
}

func TestEarlyReceiptWhileRecordNotYetSubmitted(t *testing.T) {
	// An index entry whose record does not know its parts (written outside a settlement,
	// or stale): the receipt waits like an early one.
	st := storetest.OpenMemory(t)
	c := newCorr(t, dlr.CorrelatorOptions{Store: st})
	ctx := context.Background()
	_ = st.PutRecord(ctx, &store.Record{ID: "m1", Status: store.StatusAccepted, Meta: hookMeta}, 0)
	_ = st.IndexCarrierID(ctx, "jio", "9", "m1", 0, 0)
	c.mustSend("jio", receipt("9", "DELIVRD", "000"))
	wait.For(t, 10*time.Second, "the receipt tried and left waiting", func() bool { return c.Stats().Early == 1 })
	if r := record(t, st, "m1"); r.Status != store.StatusAccepted {
		t.Fatalf("applied to an unsubmitted record: %+v", r)
	}
	_, err := st.UpdateRecord(ctx, "m1", func(r *store.Record) error {
		r.Status, r.Parts, r.CarrierIDs, r.SentAt = store.StatusSubmitted, 1, []string{"9"}, time.Now()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wait.For(t, 10*time.Second, "the receipt applied", func() bool { return statusIs(st, "m1", store.StatusDelivered) })
	if s := c.Stats(); s.EarlyMatched != 1 || s.Unmatched != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestUnmatchedReceiptsAreKeptAndCounted(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st testStore) {
		c := newCorr(t, dlr.CorrelatorOptions{Store: st, EarlyWindow: 150 * time.Millisecond, RetryEvery: 20 * time.Millisecond})
		ctx := context.Background()
		c.mustSend("jio", receipt("nobody", "DELIVRD", "000"))
		// Unreadable: neither an id nor a stat. Acknowledged all the same.
		c.mustSend("jio", &smpp.DeliverSM{ESMClass: smpp.ESMClassDeliveryRcpt, ShortMessage: []byte("garbage without keys")})
		// A stat without any id: nothing to wait for.
		c.mustSend("jio", &smpp.DeliverSM{ESMClass: smpp.ESMClassDeliveryRcpt, ShortMessage: []byte("stat:DELIVRD err:000")})
		wait.For(t, 10*time.Second, "all three unmatched", func() bool {
			n, _ := st.ReceiptCounts(ctx)
			return n.Unmatched == 3 && n.Parked == 0
		})
		list, err := c.Unmatched(ctx, 10)
		if err != nil || len(list) != 3 {
			t.Fatalf("unmatched %v %v", list, err)
		}
		notes := map[string]*store.Receipt{}
		for _, r := range list {
			notes[r.Note] = r
		}
		if r := notes["no message with this carrier message id"]; r == nil || r.MessageID != "nobody" || r.Stat != "DELIVRD" ||
			r.Carrier != "jio" || !strings.Contains(r.Text, "id:nobody") || r.ReceivedAt.IsZero() {
			t.Fatalf("unmatched list %+v", list)
		}
		if r := notes["receipt without a message id"]; r == nil || r.Stat != "DELIVRD" {
			t.Fatalf("unmatched list %+v", list)
		}
		var garbage *store.Receipt
		for _, r := range list {
			if strings.HasPrefix(r.Note, "unreadable receipt") {
				garbage = r
			}
		}
		if garbage == nil || garbage.Text != "garbage without keys" {
			t.Fatalf("unreadable receipt not kept: %+v", list)
		}
		if s := c.Stats(); s.Unmatched != 2 || s.Malformed != 1 || s.Early != 1 || s.Matched != 0 || s.Logged != 3 {
			t.Fatalf("stats %+v", s)
		}
		if n := c.ev.count(dlr.OutcomeUnmatched); n != 2 {
			t.Fatalf("events %+v", c.ev.list())
		}
	})
}

// TestUnreadableLogEntryIsKeptAsUnmatched: an entry that is not a deliver_sm at all (written
// by something else, or damaged) is filed as unmatched with its bytes, not retried forever.
func TestUnreadableLogEntryIsKeptAsUnmatched(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st testStore) {
		ctx := context.Background()
		if err := st.AppendReceipts(ctx, &store.LoggedPDU{Carrier: "jio", Body: []byte{0, 0, 0, 3, 1}, At: time.Now()}); err != nil {
			t.Fatal(err)
		}
		c := newCorr(t, dlr.CorrelatorOptions{Store: st})
		wait.For(t, 10*time.Second, "the entry filed", func() bool {
			n, _ := st.ReceiptCounts(ctx)
			return n.Unmatched == 1 && n.Parked == 0
		})
		list, _ := c.Unmatched(ctx, 10)
		if len(list) != 1 || list[0].Carrier != "jio" || list[0].Text != "0000000301" || !strings.Contains(list[0].Note, "not a deliver_sm") {
			t.Fatalf("unmatched %+v", list)
		}
		if s := c.Stats(); s.Malformed != 1 {
			t.Fatalf("stats %+v", s)
		}
	})
}

// TestReceiptForVanishedRecordIsUnmatched: the index still names a message whose record is
// gone (expired): the receipt is filed as unmatched, not retried.
func TestReceiptForVanishedRecordIsUnmatched(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st testStore) {
		ctx := context.Background()
		if err := st.IndexCarrierID(ctx, "jio", "42", "gone", 0, 0); err != nil {
			t.Fatal(err)
		}
		c := newCorr(t, dlr.CorrelatorOptions{Store: st, EarlyWindow: time.Hour})
		c.mustSend("jio", receipt("42", "DELIVRD", "000"))
		c.waitApplied(1)
		list, _ := c.Unmatched(ctx, 10)
		if len(list) != 1 || list[0].MessageID != "42" || !strings.Contains(list[0].Note, "gone") {
			t.Fatalf("unmatched %+v", list)
		}
		// Receipts are reported applied just before their log entries are acknowledged.
		wait.For(t, 10*time.Second, "the receipt log emptied", func() bool { return logLen(t, st) == 0 })
	})
}

func TestMultipartCombine(t *testing.T) {
	type rc struct{ part, stat, err string }
	cases := []struct {
		rule     dlr.Combine
		receipts []rc
		want     store.Status // after all receipts
		wantAt   int          // receipts after which the record is first final (1-based)
		wantErr  string
	}{
		{dlr.CombineAllDelivered, []rc{{"p0", "DELIVRD", "000"}, {"p1", "DELIVRD", "000"}, {"p2", "DELIVRD", "000"}}, store.StatusDelivered, 3, ""},
		{dlr.CombineAllDelivered, []rc{{"p0", "DELIVRD", "000"}, {"p2", "UNDELIV", "001"}, {"p1", "EXPIRED", "000"}}, store.StatusUndelivered, 3, "001"},
		{dlr.CombineAllDelivered, []rc{{"p0", "REJECTD", "633"}, {"p1", "UNDELIV", "001"}, {"p2", "DELIVRD", "000"}}, store.StatusRejected, 3, "633"},
		{dlr.CombineFirst, []rc{{"p1", "UNDELIV", "002"}, {"p0", "DELIVRD", "000"}, {"p2", "DELIVRD", "000"}}, store.StatusUndelivered, 1, "002"},
		{dlr.CombineLast, []rc{{"p1", "UNDELIV", "002"}, {"p0", "DELIVRD", "000"}, {"p2", "DELIVRD", "000"}}, store.StatusDelivered, 3, ""},
	}
	for i, tc := range cases {
		t.Run(fmt.Sprintf("%s-%d", tc.rule, i), func(t *testing.T) {
			st := storetest.OpenMemory(t)
			c := newCorr(t, dlr.CorrelatorOptions{Store: st, Combine: tc.rule})
			submitted(t, st, c.Correlator, "jio", "long", hookMeta, "p0", "p1", "p2")
			for n, r := range tc.receipts {
				c.mustSend("jio", receipt(r.part, r.stat, r.err))
				c.waitApplied(n + 1)
				rec := record(t, st, "long")
				if final := rec.Status != store.StatusSubmitted; final != (n+1 >= tc.wantAt) {
					t.Fatalf("after %d receipts: %+v", n+1, rec)
				}
			}
			rec := record(t, st, "long")
			if rec.Status != tc.want || rec.ErrorCode != tc.wantErr {
				t.Fatalf("record %+v", rec)
			}
			if jobs := queued(t, st); len(jobs) != 1 {
				t.Fatalf("%d webhooks for one multipart message", len(jobs))
			}
		})
	}
}

func TestModesOTPAndForm(t *testing.T) {
	st := storetest.OpenMemory(t)
	c := newCorr(t, dlr.CorrelatorOptions{Store: st})
	const legacy = "https://acme.example.com/legacy"
	submitted(t, st, c.Correlator, "jio", "otp", map[string]string{dlr.MetaOTP: "1", dlr.MetaWebhookURL: hookURL}, "1")
	submitted(t, st, c.Correlator, "jio", "form", map[string]string{dlr.MetaWebhookURL: legacy, dlr.MetaWebhookMode: dlr.ModeForm}, "2")
	submitted(t, st, c.Correlator, "jio", "json", map[string]string{dlr.MetaWebhookURL: legacy, dlr.MetaWebhookMode: dlr.ModeJSON}, "3")
	c.mustSend("jio", receipt("1", "UNDELIV", "001"))
	c.mustSend("jio", receipt("2", "DELIVRD", "000"))
	c.mustSend("jio", receipt("3", "DELIVRD", "000"))
	c.waitApplied(3)
	got := map[string]*store.WebhookJob{}
	for _, j := range queued(t, st) {
		got[j.MessageID] = j
	}
	if j := got["otp"]; j == nil || j.URL != hookURL || j.Body != "SessionId=otp&Status=FAILED&To=9812345678&mode=SMS_OTP" {
		t.Fatalf("otp job %+v", j)
	}
	if j := got["form"]; j == nil || j.URL != legacy || !strings.Contains(j.Body, "SmsStatus=DELIVERED") ||
		!strings.Contains(j.Body, "SmsTo=919812345678") || j.ContentType != "application/x-www-form-urlencoded" {
		t.Fatalf("form job %+v", j)
	}
	if j := got["json"]; j == nil || j.ContentType != "application/json" || j.URL != legacy {
		t.Fatalf("json job %+v", j)
	}
}

// TestNoWebhookWithoutURL: a final message nobody asked a webhook for is counted, not queued.
func TestNoWebhookWithoutURL(t *testing.T) {
	st := storetest.OpenMemory(t)
	c := newCorr(t, dlr.CorrelatorOptions{Store: st})
	submitted(t, st, c.Correlator, "jio", "quiet", nil, "1")
	c.mustSend("jio", receipt("1", "DELIVRD", "000"))
	c.waitApplied(1)
	if r := record(t, st, "quiet"); r.Status != store.StatusDelivered {
		t.Fatalf("record %+v", r)
	}
	if jobs := queued(t, st); len(jobs) != 0 {
		t.Fatalf("jobs %+v", jobs)
	}
	if s := c.Stats(); s.NoWebhook != 1 || s.WebhooksQueued != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// TestFinalWebhook: the webhook of a message dispatch makes final itself (FAILED, REJECTED at
// submit), which dispatch queues in its settlement.
func TestFinalWebhook(t *testing.T) {
	st := storetest.OpenMemory(t)
	c, err := dlr.NewCorrelator(dlr.CorrelatorOptions{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	j := c.FinalWebhook(&store.Record{ID: "f", Account: "acme", From: "ACMEIN", To: "919812345678", Status: store.StatusFailed,
		ErrorCode: "0xb", Reason: "ESME_RINVDSTADR", AcceptedAt: now, StatusAt: now, Meta: hookMeta})
	if j == nil || j.ID != "f:FAILED" || j.URL != hookURL || j.MessageID != "f" || j.ContentType != "application/json" {
		t.Fatalf("job %+v", j)
	}
	var p dlr.Payload
	if err := json.Unmarshal([]byte(j.Body), &p); err != nil || p.SessionId != "f" || p.SmsStatus != "FAILED" || p.CallbackValue1 != "order_98765" {
		t.Fatalf("payload %s: %v", j.Body, err)
	}
	if j := c.FinalWebhook(&store.Record{ID: "l", Account: "legacy", Status: store.StatusRejected,
		Meta: map[string]string{dlr.MetaWebhookURL: "https://legacy.example.com/dlr", dlr.MetaWebhookMode: dlr.ModeForm}}); j == nil ||
		j.URL != "https://legacy.example.com/dlr" || j.ID != "l:REJECTED" || !strings.Contains(j.Body, "SmsStatus=REJECTED") {
		t.Fatalf("account job %+v", j)
	}
	if j := c.FinalWebhook(&store.Record{ID: "n", Account: "acme", Status: store.StatusFailed}); j != nil {
		t.Fatalf("job for a message without a webhook: %+v", j)
	}
	if s := c.Stats(); s.WebhooksQueued != 2 || s.NoWebhook != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// TestMOIsHandedOnFromTheLog: deliver_sm that are not receipts are acknowledged like
// receipts (logged first) and handed to Options.MO from the log; a failing MO handler is
// only logged: the carrier was answered already.
func TestMOIsHandedOnFromTheLog(t *testing.T) {
	st := storetest.OpenMemory(t)
	var mu sync.Mutex
	var texts []string
	c := newCorr(t, dlr.CorrelatorOptions{Store: st, MO: func(_ context.Context, _ *smpp.Session, p *smpp.DeliverSM) smpp.CommandStatus {
		mu.Lock()
		defer mu.Unlock()
		texts = append(texts, string(p.ShortMessage))
		if strings.HasPrefix(string(p.ShortMessage), "fail") {
			return smpp.ESME_RSYSERR
		}
		return smpp.ESME_ROK
	}})
	mo := &smpp.DeliverSM{Source: smpp.Address{TON: 1, NPI: 1, Addr: "919812345678"}, Dest: smpp.Address{Addr: "56161"},
		ShortMessage: []byte("id:1 stat:DELIVRD looks like a receipt but is MO")}
	c.mustSend("jio", mo)
	c.mustSend("jio", &smpp.DeliverSM{Source: mo.Source, Dest: mo.Dest, ShortMessage: []byte("fail me")})
	wait.For(t, 10*time.Second, "both MO handed on", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(texts) == 2
	})
	wait.For(t, 10*time.Second, "the log emptied", func() bool { return logLen(t, st) == 0 })
	mu.Lock()
	defer mu.Unlock()
	if texts[0] != string(mo.ShortMessage) || texts[1] != "fail me" {
		t.Fatalf("MO texts %q", texts)
	}
	if s := c.Stats(); s.MO != 2 || s.Matched != 0 || s.Unmatched != 0 || s.Logged != 2 {
		t.Fatalf("stats %+v", s)
	}
}

// TestOtherRequestsAreRefused: the receipt handler serves deliver_sm only.
func TestOtherRequestsAreRefused(t *testing.T) {
	st := storetest.OpenMemory(t)
	c := newCorr(t, dlr.CorrelatorOptions{Store: st})
	l := c.link("jio")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := l.smsc.Send(ctx, &smpp.DataSM{Source: smpp.Address{Addr: "919812345678"}, Dest: smpp.Address{Addr: "56161"}})
	var se *smpp.StatusError
	if !errors.As(err, &se) || se.Status != smpp.ESME_RINVCMDID {
		t.Fatalf("data_sm: %v", err)
	}
	if n := logLen(t, st); n != 0 {
		t.Fatalf("%d entries logged", n)
	}
}

func TestClosedStoreRefusesWithTemporaryError(t *testing.T) {
	st := storetest.OpenMemory(t)
	c := newCorr(t, dlr.CorrelatorOptions{Store: st})
	submitted(t, st, c.Correlator, "jio", "m1", hookMeta, "1")
	c.link("jio")
	st.Close()
	if got := c.send("jio", receipt("1", "DELIVRD", "000")); got != smpp.ESME_RX_T_APPN {
		t.Fatalf("closed store: %v", got)
	}
	if s := c.Stats(); s.StoreErrors == 0 || s.Logged != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// TestStoreFailureAtAppendAnswersTemporaryError: a receipt the log cannot take is refused
// with ESME_RX_T_APPN, nothing of it stored; the carrier's retransmission is taken.
func TestStoreFailureAtAppendAnswersTemporaryError(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st testStore) {
		fs := &faultyStore{testStore: st}
		c := newCorr(t, dlr.CorrelatorOptions{Store: fs})
		submitted(t, st, c.Correlator, "jio", "m1", hookMeta, "1")
		fs.failAppend.Store(true)
		if got := c.send("jio", receipt("1", "DELIVRD", "000")); got != smpp.ESME_RX_T_APPN {
			t.Fatalf("failed append answered %v", got)
		}
		if n := logLen(t, st); n != 0 {
			t.Fatalf("%d entries logged", n)
		}
		if s := c.Stats(); s.StoreErrors != 1 || s.Logged != 0 {
			t.Fatalf("stats %+v", s)
		}
		if r := record(t, st, "m1"); r.Status != store.StatusSubmitted || len(queued(t, st)) != 0 {
			t.Fatalf("record %+v", r)
		}
		fs.failAppend.Store(false)
		c.mustSend("jio", receipt("1", "DELIVRD", "000")) // the carrier sends it again
		c.waitApplied(1)
		if r := record(t, st, "m1"); r.Status != store.StatusDelivered {
			t.Fatalf("record %+v", r)
		}
		if jobs := queued(t, st); len(jobs) != 1 {
			t.Fatalf("jobs %+v", jobs)
		}
	})
}

// TestReceiptsAcknowledgedWhileApplierStopped: correlation falling behind (here: not running
// at all) never makes the handler refuse; what was logged is applied once it runs.
func TestReceiptsAcknowledgedWhileApplierStopped(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st testStore) {
		c := newIdleCorr(t, dlr.CorrelatorOptions{Store: st})
		const n = 20
		for i := range n {
			submitted(t, st, c.Correlator, "jio", fmt.Sprint("m", i), hookMeta, fmt.Sprint("c", i))
		}
		for i := range n {
			c.mustSend("jio", receipt(fmt.Sprint("c", i), "DELIVRD", "000"))
		}
		if s := c.Stats(); s.Logged != n || s.Matched != 0 {
			t.Fatalf("stats %+v", s)
		}
		if got := logLen(t, st); got != n {
			t.Fatalf("log holds %d entries, want %d", got, n)
		}
		for i := range n {
			if r := record(t, st, fmt.Sprint("m", i)); r.Status != store.StatusSubmitted {
				t.Fatalf("applied without an applier: %+v", r)
			}
		}
		c.Start()
		c.waitApplied(n)
		for i := range n {
			if r := record(t, st, fmt.Sprint("m", i)); r.Status != store.StatusDelivered {
				t.Fatalf("record %+v", r)
			}
		}
		wait.For(t, 10*time.Second, "the log emptied", func() bool { return logLen(t, st) == 0 })
		if jobs := queued(t, st); len(jobs) != n {
			t.Fatalf("%d jobs", len(jobs))
		}
	})
}

// TestEntryOfDeadConsumerIsReclaimed: an entry another instance read and never acked (it
// died) is applied by a live correlator once it has been idle RetryEvery.
func TestEntryOfDeadConsumerIsReclaimed(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st testStore) {
		ctx := context.Background()
		const retry = 200 * time.Millisecond
		submitted(t, st, nil, "jio", "m1", hookMeta, "77")
		if err := st.AppendReceipts(ctx, logged(t, "jio", receipt("77", "DELIVRD", "000"))); err != nil {
			t.Fatal(err)
		}
		read := time.Now() // at most when the store saw the read
		got, err := st.ReadReceiptLog(ctx, "dead-instance", 10, 0)
		if err != nil || len(got) != 1 {
			t.Fatalf("read %d entries: %v", len(got), err)
		}
		c := newCorr(t, dlr.CorrelatorOptions{Store: st, Consumer: "live", RetryEvery: retry})
		wait.For(t, 10*time.Second, "the dead consumer's entry applied", func() bool { return statusIs(st, "m1", store.StatusDelivered) })
		if d := time.Since(read); d < retry-5*time.Millisecond { // Redis counts idle time in whole ms
			t.Fatalf("taken from a consumer after %v idle, RetryEvery %v", d, retry)
		}
		c.waitApplied(1)
		wait.For(t, 10*time.Second, "the log emptied", func() bool { return logLen(t, st) == 0 })
		if jobs := queued(t, st); len(jobs) != 1 {
			t.Fatalf("jobs %+v", jobs)
		}
	})
}

// casStore lines two correlators' record reads up: the first `parties` GetRecords calls
// return only once all of them have read, so that they all change the same revision and
// all but one compare-and-set fails. It counts the failed swaps.
type casStore struct {
	testStore
	parties   int32
	arrived   atomic.Int32
	all       chan struct{}
	conflicts atomic.Int32
}

func (s *casStore) GetRecords(ctx context.Context, ids ...string) ([]*store.Record, error) {
	recs, err := s.testStore.GetRecords(ctx, ids...)
	if n := s.arrived.Add(1); n <= s.parties {
		if n == s.parties {
			close(s.all)
		}
		select {
		case <-s.all:
		case <-time.After(10 * time.Second):
			return nil, errors.New("casStore: the other correlator never read")
		}
	}
	return recs, err
}

func (s *casStore) SwapRecords(ctx context.Context, changes ...store.RecordChange) ([]store.SwapResult, error) {
	res, err := s.testStore.SwapRecords(ctx, changes...)
	for _, r := range res {
		if !r.Stored && r.Current != nil {
			s.conflicts.Add(1)
		}
	}
	return res, err
}

// raceOneMessage settles message "long" with the given number of parts, logs a DELIVRD
// receipt per part, and has two correlators (not started) apply half each at the same time,
// from the same revision of the record (casStore), so that one compare-and-set fails.
func raceOneMessage(t *testing.T, st testStore, parts int) (c1, c2 *dlr.Correlator, ev *events) {
	t.Helper()
	ctx := context.Background()
	cs := &casStore{testStore: st, parties: 2, all: make(chan struct{})}
	ev = &events{}
	mk := func(name string) *dlr.Correlator {
		c, err := dlr.NewCorrelator(dlr.CorrelatorOptions{Store: cs, Consumer: name, OnReceipt: ev.record})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c1, c2 = mk("c1"), mk("c2")
	var cids []string
	for i := range parts {
		cids = append(cids, fmt.Sprint("p", i))
	}
	submitted(t, st, c1, "jio", "long", hookMeta, cids...)
	for _, cid := range cids {
		if err := st.AppendReceipts(ctx, logged(t, "jio", receipt(cid, "DELIVRD", "000"))); err != nil {
			t.Fatal(err)
		}
	}
	b1, err1 := st.ReadReceiptLog(ctx, "c1", parts/2, 0)
	b2, err2 := st.ReadReceiptLog(ctx, "c2", parts-parts/2, 0)
	if err1 != nil || err2 != nil || len(b1) != parts/2 || len(b2) != parts-parts/2 {
		t.Fatalf("batches %d %d: %v %v", len(b1), len(b2), err1, err2)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Add(2)
	go func() { defer wg.Done(); errs[0] = c1.Apply(ctx, b1) }()
	go func() { defer wg.Done(); errs[1] = c2.Apply(ctx, b2) }()
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("apply: %v, %v", errs[0], errs[1])
	}
	if cs.conflicts.Load() == 0 {
		t.Fatal("no compare-and-set failed: the test did not race the two correlators")
	}
	return c1, c2, ev
}

// TestConcurrentCorrelatorsLoseNoPart: two correlators apply receipts of different parts of
// one message from the same revision of its record; the compare-and-set makes the loser
// apply again on top of the winner's change, so no part is lost and one webhook is queued.
func TestConcurrentCorrelatorsLoseNoPart(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st testStore) {
		const parts = 6
		_, _, ev := raceOneMessage(t, st, parts)
		r := record(t, st, "long")
		var ps []struct {
			S string `json:"s"`
			F bool   `json:"f"`
		}
		if err := json.Unmarshal([]byte(r.Meta[dlr.MetaParts]), &ps); err != nil {
			t.Fatal(err)
		}
		if r.Status != store.StatusDelivered || len(ps) != parts {
			t.Fatalf("record %+v", r)
		}
		for i, p := range ps {
			if p.S != string(store.StatusDelivered) || !p.F {
				t.Fatalf("part %d lost: %s", i, r.Meta[dlr.MetaParts])
			}
		}
		if jobs := queued(t, st); len(jobs) != 1 || jobs[0].ID != "long:DELIVERED" {
			t.Fatalf("jobs %+v", jobs)
		}
		if n := ev.count(dlr.OutcomeMatched); n != parts {
			t.Fatalf("%d receipts applied, want %d: %+v", n, parts, ev.list())
		}
		// Receipts are reported applied just before their log entries are acknowledged.
		wait.For(t, 10*time.Second, "the receipt log emptied", func() bool { return logLen(t, st) == 0 })
	})
}

// TestMaxPendingPausesTheSession: with MaxPending appends in flight, the handler waits for
// room instead of refusing; its session stops reading meanwhile (InboundPauses), and every
// receipt is acknowledged and applied once the store catches up.
func TestMaxPendingPausesTheSession(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st testStore) {
		fs := &faultyStore{testStore: st, gate: make(chan struct{})}
		c := newCorr(t, dlr.CorrelatorOptions{Store: fs, MaxPending: 1, StoreTimeout: time.Minute})
		c.session = func(o *smpp.Options) { o.InboundWorkers, o.InboundWindow = 1, 1 }
		const n = 20
		for i := range n {
			submitted(t, st, c.Correlator, "jio", fmt.Sprint("m", i), hookMeta, fmt.Sprint("c", i))
		}
		l := c.link("jio")
		answered, ok, wg := deliverAll(l, 0, n)
		wait.For(t, 10*time.Second, "the handler waiting for room and the session pausing", func() bool {
			return c.Stats().PendingPauses > 0 && l.esme.Stats().InboundPauses > 0
		})
		if a := answered.Load(); a != 0 {
			t.Fatalf("%d receipts answered while the store held the only append", a)
		}
		close(fs.gate)
		wg.Wait()
		if ok.Load() != n {
			t.Fatalf("%d of %d receipts acknowledged", ok.Load(), n)
		}
		c.waitApplied(n)
		if s := l.esme.Stats(); s.InboundThrottled != 0 {
			t.Fatalf("session stats %+v", s)
		}
		if s := c.Stats(); s.Logged != n || s.StoreErrors != 0 {
			t.Fatalf("stats %+v", s)
		}
	})
}

// TestMaxLagPausesUntilApplied: past MaxLag entries not yet applied, the handler waits (and
// its session stops reading) until the applier brings the backlog down; nothing is refused.
func TestMaxLagPausesUntilApplied(t *testing.T) {
	st := storetest.OpenMemory(t)
	ctx := context.Background()
	c := newIdleCorr(t, dlr.CorrelatorOptions{Store: st, MaxLag: 3})
	c.session = func(o *smpp.Options) { o.InboundWorkers, o.InboundWindow = 1, 1 }
	const backlog, n = 5, 3
	for i := range backlog + n {
		submitted(t, st, c.Correlator, "jio", fmt.Sprint("m", i), hookMeta, fmt.Sprint("c", i))
	}
	for i := range backlog {
		if err := st.AppendReceipts(ctx, logged(t, "jio", receipt(fmt.Sprint("c", i), "DELIVRD", "000"))); err != nil {
			t.Fatal(err)
		}
	}
	l := c.link("jio")
	answered, ok, wg := deliverAll(l, backlog, backlog+n)
	wait.For(t, 10*time.Second, "the handler pausing on the backlog and the session pausing", func() bool {
		return c.Stats().LagPauses > 0 && l.esme.Stats().InboundPauses > 0
	})
	if a := answered.Load(); a != 0 {
		t.Fatalf("%d receipts answered past MaxLag", a)
	}
	c.Start()
	wg.Wait()
	if ok.Load() != n {
		t.Fatalf("%d of %d receipts acknowledged", ok.Load(), n)
	}
	c.waitApplied(backlog + n)
	for i := range backlog + n {
		if r := record(t, st, fmt.Sprint("m", i)); r.Status != store.StatusDelivered {
			t.Fatalf("record %+v", r)
		}
	}
}

// deliverAll sends DELIVRD receipts for carrier ids c<from> … c<to-1> over l, each from its
// own goroutine (as a carrier with no window would), counting the answers and the ESME_ROKs.
func deliverAll(l *link, from, to int) (answered, ok *atomic.Int32, wg *sync.WaitGroup) {
	answered, ok, wg = new(atomic.Int32), new(atomic.Int32), new(sync.WaitGroup)
	for i := from; i < to; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := l.deliver(receipt(fmt.Sprint("c", i), "DELIVRD", "000"))
			answered.Add(1)
			if err == nil && st == smpp.ESME_ROK {
				ok.Add(1)
			}
		}()
	}
	return answered, ok, wg
}

// Regressions: unreadable receipts were not reported, and a receipt applied again after a
// lost compare-and-set was counted twice.

// TestMalformedReceiptIsReported: ReceiptEvent documents OutcomeMalformed (with an empty
// Status) for unreadable receipts, so that metrics count them with the others.
func TestMalformedReceiptIsReported(t *testing.T) {
	st := storetest.OpenMemory(t)
	c := newCorr(t, dlr.CorrelatorOptions{Store: st})
	c.mustSend("jio", &smpp.DeliverSM{ESMClass: smpp.ESMClassDeliveryRcpt, ShortMessage: []byte("garbage without keys")})
	c.waitApplied(1)
	if ev := c.ev.list()[0]; ev.Outcome != dlr.OutcomeMalformed || ev.Status != "" || ev.Carrier != "jio" {
		t.Fatalf("event %+v", ev)
	}
}

// TestStatsCountAppliedReceiptsOnce: Matched counts receipts that changed a message, so a
// receipt applied again after a failed compare-and-set is still one.
func TestStatsCountAppliedReceiptsOnce(t *testing.T) {
	st := storetest.OpenMemory(t)
	const parts = 6
	c1, c2, _ := raceOneMessage(t, st, parts)
	if m := c1.Stats().Matched + c2.Stats().Matched; m != parts {
		t.Fatalf("Matched %d for %d receipts", m, parts)
	}
}
