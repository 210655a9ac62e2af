package dlr_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/smppd/smppd/dlr"
	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/store"
)

const hookURL = "https://hooks.example.com/dlr"

var hookMeta = map[string]string{dlr.MetaWebhookURL: hookURL, dlr.MetaCallback1: "order_98765", dlr.MetaCallback2: "cust_1122"}

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
				st := newStores["memory"](t)
				c := newCorrelator(t, dlr.CorrelatorOptions{Store: st, Carriers: []dlr.CarrierIDs{{Name: "jio", Format: tc.format}}})
				msg := fmt.Sprintf("m%d", i)
				submitted(t, st, c, "jio", msg, hookMeta, tc.submit)
				if got := c.HandleDeliver(context.Background(), "jio", receipt(rid, "DELIVRD", "000")); got != smpp.ESME_ROK {
					t.Fatalf("status %v", got)
				}
				if r := record(t, st, msg); r.Status != store.StatusDelivered {
					t.Fatalf("record %+v (stats %+v)", r, c.Stats())
				}
			})
		}
	}
}

func TestIDFormatsDoNotCrossMatch(t *testing.T) {
	st := newStores["memory"](t)
	c := newCorrelator(t, dlr.CorrelatorOptions{Store: st, EarlyWindow: time.Hour, Carriers: []dlr.CarrierIDs{
		{Name: "hexdec", Format: dlr.FormatHexToDecimal}, {Name: "asis"}}})
	// "16" in hex is 22: a decimal receipt "16" is another message's and must not match.
	submitted(t, st, c, "hexdec", "m-hex16", hookMeta, "16")
	c.HandleDeliver(context.Background(), "hexdec", receipt("16", "DELIVRD", "000"))
	if r := record(t, st, "m-hex16"); r.Status != store.StatusSubmitted {
		t.Fatalf("decimal 16 matched hex 16: %+v", r)
	}
	c.HandleDeliver(context.Background(), "hexdec", receipt("22", "DELIVRD", "000"))
	if r := record(t, st, "m-hex16"); r.Status != store.StatusDelivered {
		t.Fatalf("decimal 22 did not match hex 16: %+v", r)
	}
	// as-is is exact: case matters.
	submitted(t, st, c, "asis", "m-asis", hookMeta, "AbC1")
	c.HandleDeliver(context.Background(), "asis", receipt("abc1", "DELIVRD", "000"))
	if r := record(t, st, "m-asis"); r.Status != store.StatusSubmitted {
		t.Fatalf("as-is matched another spelling: %+v", r)
	}
	if _, err := dlr.NewCorrelator(dlr.CorrelatorOptions{Store: st, Carriers: []dlr.CarrierIDs{{Name: "x", Format: "octal"}}}); err == nil {
		t.Fatal("bad format accepted")
	}
}

func TestReceiptStatusErrorAndWebhookJob(t *testing.T) {
	forEachStore(t, func(t *testing.T, st testStore) {
		c := newCorrelator(t, dlr.CorrelatorOptions{Store: st})
		ctx := context.Background()
		submitted(t, st, c, "jio", "ok", hookMeta, "100")
		submitted(t, st, c, "jio", "dlt", hookMeta, "101")
		submitted(t, st, c, "jio", "undeliv", hookMeta, "102")
		submitted(t, st, c, "jio", "expired", hookMeta, "103")
		for id, stat := range map[string][2]string{"100": {"DELIVRD", "000"}, "101": {"REJECTD", "633"}, "102": {"UNDELIV", "001"}, "103": {"EXPIRED", "000"}} {
			if got := c.HandleDeliver(ctx, "jio", textReceipt(id, stat[0], stat[1])); got != smpp.ESME_ROK {
				t.Fatalf("%s: %v", id, got)
			}
		}
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
		if s.Matched != 4 || s.Receipts["jio"][store.StatusDelivered] != 1 || s.Receipts["jio"][store.StatusRejected] != 1 || s.WebhooksQueued != 4 {
			t.Fatalf("stats %+v", s)
		}
	})
}

func TestRepeatedReceiptIsIdempotent(t *testing.T) {
	forEachStore(t, func(t *testing.T, st testStore) {
		c := newCorrelator(t, dlr.CorrelatorOptions{Store: st})
		submitted(t, st, c, "jio", "m1", hookMeta, "77")
		for range 3 {
			if got := c.HandleDeliver(context.Background(), "jio", receipt("77", "DELIVRD", "000")); got != smpp.ESME_ROK {
				t.Fatal(got)
			}
		}
		// A later contradicting receipt does not change a final part.
		c.HandleDeliver(context.Background(), "jio", receipt("77", "UNDELIV", "001"))
		if r := record(t, st, "m1"); r.Status != store.StatusDelivered {
			t.Fatalf("record %+v", r)
		}
		if jobs := queued(t, st); len(jobs) != 1 {
			t.Fatalf("%d jobs for one message", len(jobs))
		}
		if s := c.Stats(); s.Matched != 1 || s.Duplicates != 3 {
			t.Fatalf("stats %+v", s)
		}
	})
}

func TestIntermediateReceiptIsNotFinal(t *testing.T) {
	st := newStores["memory"](t)
	c := newCorrelator(t, dlr.CorrelatorOptions{Store: st})
	submitted(t, st, c, "jio", "m1", hookMeta, "5")
	p := receipt("5", "ENROUTE", "000")
	p.ESMClass = smpp.ESMClassIntermediate
	c.HandleDeliver(context.Background(), "jio", p)
	if r := record(t, st, "m1"); r.Status != store.StatusSubmitted || len(queued(t, st)) != 0 {
		t.Fatalf("after ENROUTE: %+v", r)
	}
	c.HandleDeliver(context.Background(), "jio", receipt("5", "DELIVRD", "000"))
	if r := record(t, st, "m1"); r.Status != store.StatusDelivered || len(queued(t, st)) != 1 {
		t.Fatalf("after DELIVRD: %+v", r)
	}
}

func TestEarlyReceiptIsParkedThenMatched(t *testing.T) {
	forEachStore(t, func(t *testing.T, st testStore) {
		c := newCorrelator(t, dlr.CorrelatorOptions{Store: st, Carriers: []dlr.CarrierIDs{{Name: "airtel", Format: dlr.FormatHexToDecimal}}})
		ctx := context.Background()
		// The receipt comes before the submit_sm_resp: nothing is indexed yet.
		if got := c.HandleDeliver(ctx, "airtel", receipt("6699", "DELIVRD", "000")); got != smpp.ESME_ROK {
			t.Fatalf("early receipt answered %v", got)
		}
		if n, _ := st.ReceiptCounts(ctx); n.Parked != 1 {
			t.Fatalf("counts %+v", n)
		}
		submitted(t, st, c, "airtel", "m1", hookMeta, "1A2B") // submit_sm_resp lands; OnSubmitted runs
		if r := record(t, st, "m1"); r.Status != store.StatusDelivered {
			t.Fatalf("record %+v", r)
		}
		if n, _ := st.ReceiptCounts(ctx); n.Parked != 0 || n.Unmatched != 0 {
			t.Fatalf("counts %+v", n)
		}
		if s := c.Stats(); s.Early != 1 || s.EarlyMatched != 1 || s.Unmatched != 0 {
			t.Fatalf("stats %+v", s)
		}
		if len(queued(t, st)) != 1 {
			t.Fatal("no webhook for the early receipt")
		}
	})
}

func TestEarlyReceiptWhileRecordNotYetSubmitted(t *testing.T) {
	// The index is written but the record not yet updated (dispatch is between the two):
	// the receipt waits like an early one.
	st := newStores["memory"](t)
	c := newCorrelator(t, dlr.CorrelatorOptions{Store: st})
	ctx := context.Background()
	_ = st.PutRecord(ctx, &store.Record{ID: "m1", Status: store.StatusAccepted, Meta: hookMeta}, 0)
	_ = st.IndexCarrierID(ctx, "jio", "9", "m1", 0, 0)
	c.HandleDeliver(ctx, "jio", receipt("9", "DELIVRD", "000"))
	if r := record(t, st, "m1"); r.Status != store.StatusAccepted {
		t.Fatalf("applied to an unsubmitted record: %+v", r)
	}
	_, _ = st.UpdateRecord(ctx, "m1", func(r *store.Record) error {
		r.Status, r.Parts, r.CarrierIDs, r.SentAt = store.StatusSubmitted, 1, []string{"9"}, time.Now()
		return nil
	})
	if err := c.OnSubmitted(ctx, "jio", &store.Message{ID: "m1"}, []string{"9"}); err != nil {
		t.Fatal(err)
	}
	if r := record(t, st, "m1"); r.Status != store.StatusDelivered {
		t.Fatalf("record %+v", r)
	}
}

func TestUnmatchedReceiptsAreKeptAndCounted(t *testing.T) {
	forEachStore(t, func(t *testing.T, st testStore) {
		c := newCorrelator(t, dlr.CorrelatorOptions{Store: st, EarlyWindow: 50 * time.Millisecond, SweepEvery: 20 * time.Millisecond})
		ctx := context.Background()
		if got := c.HandleDeliver(ctx, "jio", receipt("nobody", "DELIVRD", "000")); got != smpp.ESME_ROK {
			t.Fatal(got)
		}
		bad := &smpp.DeliverSM{ESMClass: smpp.ESMClassDeliveryRcpt, ShortMessage: []byte("garbage without keys")}
		if got := c.HandleDeliver(ctx, "jio", bad); got != smpp.ESME_ROK {
			t.Fatal(got)
		}
		waitFor(t, 5*time.Second, "both unmatched", func() bool {
			n, _ := st.ReceiptCounts(ctx)
			return n.Unmatched == 2 && n.Parked == 0
		})
		list, err := c.Unmatched(ctx, 10)
		if err != nil || len(list) != 2 {
			t.Fatalf("unmatched %v %v", list, err)
		}
		var sawID bool
		for _, r := range list {
			if r.MessageID == "nobody" && r.Stat == "DELIVRD" && strings.Contains(r.Text, "id:nobody") && r.Note != "" {
				sawID = true
			}
		}
		if !sawID {
			t.Fatalf("unmatched list %+v", list)
		}
		if s := c.Stats(); s.Unmatched != 1 || s.Malformed != 1 || s.Early != 1 {
			t.Fatalf("stats %+v", s)
		}
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
			st := newStores["memory"](t)
			c := newCorrelator(t, dlr.CorrelatorOptions{Store: st, Combine: tc.rule})
			submitted(t, st, c, "jio", "long", hookMeta, "p0", "p1", "p2")
			for n, r := range tc.receipts {
				c.HandleDeliver(context.Background(), "jio", receipt(r.part, r.stat, r.err))
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
	st := newStores["memory"](t)
	c := newCorrelator(t, dlr.CorrelatorOptions{Store: st, AccountWebhook: func(acc string) (string, string) {
		return "https://acme.example.com/legacy", dlr.ModeForm
	}})
	submitted(t, st, c, "jio", "otp", map[string]string{dlr.MetaOTP: "1", dlr.MetaWebhookURL: hookURL}, "1")
	submitted(t, st, c, "jio", "form", nil, "2")
	submitted(t, st, c, "jio", "json", map[string]string{dlr.MetaWebhookMode: dlr.ModeJSON}, "3")
	c.HandleDeliver(context.Background(), "jio", receipt("1", "UNDELIV", "001"))
	c.HandleDeliver(context.Background(), "jio", receipt("2", "DELIVRD", "000"))
	c.HandleDeliver(context.Background(), "jio", receipt("3", "DELIVRD", "000"))
	got := map[string]*store.WebhookJob{}
	for _, j := range queued(t, st) {
		got[j.MessageID] = j
	}
	if j := got["otp"]; j == nil || j.URL != hookURL || j.Body != "SessionId=otp&Status=FAILED&To=9812345678&mode=SMS_OTP" {
		t.Fatalf("otp job %+v", j)
	}
	if j := got["form"]; j == nil || j.URL != "https://acme.example.com/legacy" || !strings.Contains(j.Body, "SmsStatus=DELIVERED") ||
		!strings.Contains(j.Body, "SmsTo=919812345678") || j.ContentType != "application/x-www-form-urlencoded" {
		t.Fatalf("form job %+v", j)
	}
	if j := got["json"]; j == nil || j.ContentType != "application/json" || j.URL != "https://acme.example.com/legacy" {
		t.Fatalf("json job %+v", j)
	}
}

func TestClosedStoreRefusesWithTemporaryError(t *testing.T) {
	st := newStores["memory"](t)
	c := newCorrelator(t, dlr.CorrelatorOptions{Store: st})
	submitted(t, st, c, "jio", "m1", hookMeta, "1")
	st.Close()
	if got := c.HandleDeliver(context.Background(), "jio", receipt("1", "DELIVRD", "000")); got != smpp.ESME_RX_T_APPN {
		t.Fatalf("closed store: %v", got)
	}
	if s := c.Stats(); s.StoreErrors != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestSettledQueuesFailedMessages(t *testing.T) {
	st := newStores["memory"](t)
	c := newCorrelator(t, dlr.CorrelatorOptions{Store: st})
	ctx := context.Background()
	_ = st.PutRecord(ctx, &store.Record{ID: "f", Status: store.StatusFailed, Meta: hookMeta}, 0)
	_ = st.PutRecord(ctx, &store.Record{ID: "s", Status: store.StatusSubmitted, Meta: hookMeta}, 0)
	for range 2 {
		if err := c.Settled(ctx, "f"); err != nil {
			t.Fatal(err)
		}
	}
	_ = c.Settled(ctx, "s")
	if jobs := queued(t, st); len(jobs) != 1 || jobs[0].ID != "f:FAILED" {
		t.Fatalf("jobs %+v", jobs)
	}
}

func TestMOIsAcknowledged(t *testing.T) {
	st := newStores["memory"](t)
	c := newCorrelator(t, dlr.CorrelatorOptions{Store: st})
	mo := &smpp.DeliverSM{ShortMessage: []byte("id:1 stat:DELIVRD looks like a receipt but is MO")}
	if got := c.HandleDeliver(context.Background(), "jio", mo); got != smpp.ESME_ROK || c.Stats().MO != 1 || c.Stats().Matched != 0 {
		t.Fatalf("MO: %v %+v", got, c.Stats())
	}
}
