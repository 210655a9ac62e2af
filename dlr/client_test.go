package dlr_test

import (
	"context"
	"testing"
	"time"

	"github.com/smppd/smppd/dlr"
	"github.com/smppd/smppd/internal/wait"
	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/storetest"
)

const smppText = "Your OTP is 482913 for login to Acme; valid 10 minutes"

func smppMeta(extra ...string) map[string]string {
	m := map[string]string{dlr.MetaWebhookURL: dlr.ClientTarget("agg"), dlr.MetaWebhookMode: dlr.ModeSMPP,
		dlr.MetaReceiptText: smppText}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i]] = extra[i+1]
	}
	return m
}

// clientReceipts returns the queued jobs by id, each checked to be a ModeSMPP job to the
// "agg" account, with its parsed body.
func clientReceipts(t *testing.T, st testStore) map[string]*dlr.ClientReceipt {
	t.Helper()
	out := map[string]*dlr.ClientReceipt{}
	for _, j := range queued(t, st) {
		if j.URL != dlr.ClientTarget("agg") || j.Kind != dlr.ModeSMPP || j.ContentType != "application/json" || j.Account != "agg" {
			t.Fatalf("job %+v", j)
		}
		cr, err := dlr.ParseClientReceipt(j.Body)
		if err != nil {
			t.Fatal(err)
		}
		if cr.MessageID != j.MessageID {
			t.Fatalf("job %s for %s carries receipt of %s", j.ID, j.MessageID, cr.MessageID)
		}
		out[j.ID] = cr
	}
	return out
}

// TestClientReceiptOnFinal: a ModeSMPP message that receipts make final queues one job to
// its client target whose body is the ClientReceipt the front writes its deliver_sm from.
func TestClientReceiptOnFinal(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st testStore) {
		c := newCorr(t, dlr.CorrelatorOptions{Store: st})
		submitted(t, st, c.Correlator, "jio", "ok", smppMeta(), "200")
		submitted(t, st, c.Correlator, "jio", "dlt", smppMeta(), "201")
		submitted(t, st, c.Correlator, "jio", "del", smppMeta(), "202")
		submitted(t, st, c.Correlator, "jio", "acc", smppMeta(dlr.MetaOTP, "1"), "203")
		c.mustSend("jio", receipt("200", "DELIVRD", "000"))
		c.mustSend("jio", receipt("201", "REJECTD", "633"))
		c.mustSend("jio", receipt("202", "DELETED", "5"))
		c.mustSend("jio", receipt("203", "ACCEPTD", "000"))
		c.waitApplied(4)
		got := clientReceipts(t, st)
		if len(got) != 4 {
			t.Fatalf("%d jobs: %+v", len(got), got)
		}
		want := map[string]struct {
			st        store.Status
			stat, err string
			delivered int
		}{
			"ok": {store.StatusDelivered, "DELIVRD", "000", 1}, "dlt": {store.StatusRejected, "REJECTD", "633", 0},
			"del": {store.StatusUndelivered, "DELETED", "005", 0}, "acc": {store.StatusDelivered, "ACCEPTD", "000", 1},
		}
		for id, w := range want {
			rec := record(t, st, id)
			cr := got[dlr.JobID(id, w.st)]
			if rec.Status != w.st || cr == nil {
				t.Fatalf("%s: record %+v, receipts %+v", id, rec, got)
			}
			if cr.MO || cr.Account != "agg" || cr.From != "ACMEIN" || cr.To != "919812345678" || cr.Stat != w.stat ||
				cr.Err != w.err || cr.Parts != 1 || cr.Delivered != w.delivered || cr.Part != 0 ||
				cr.Text != "Your OTP is 482913 f" || !cr.Submitted.Equal(rec.SentAt) || !cr.Done.Equal(rec.StatusAt) {
				t.Fatalf("%s: receipt %+v for record %+v", id, cr, rec)
			}
		}
		if s := c.Stats(); s.WebhooksQueued != 4 {
			t.Fatalf("stats %+v", s)
		}
	})
}

// TestClientReceiptOfMultipart: the combined receipt of a long message counts its parts and
// the delivered ones, and reports the part that decided.
func TestClientReceiptOfMultipart(t *testing.T) {
	st := storetest.OpenMemory(t)
	c := newCorr(t, dlr.CorrelatorOptions{Store: st})
	submitted(t, st, c.Correlator, "jio", "long", smppMeta(), "p0", "p1", "p2")
	c.mustSend("jio", receipt("p0", "DELIVRD", "000"))
	c.mustSend("jio", receipt("p2", "UNDELIV", "001"))
	c.mustSend("jio", receipt("p1", "DELIVRD", "000"))
	c.waitApplied(3)
	got := clientReceipts(t, st)
	cr := got[dlr.JobID("long", store.StatusUndelivered)]
	if len(got) != 1 || cr == nil || cr.Parts != 3 || cr.Delivered != 2 || cr.Stat != "UNDELIV" || cr.Err != "001" || cr.Part != 0 {
		t.Fatalf("receipts %+v", got)
	}
}

// TestClientFinalWebhook: a ModeSMPP message dispatch makes final (FAILED, REJECTED at
// submit) gets the same kind of job, in its settlement.
func TestClientFinalWebhook(t *testing.T) {
	st := storetest.OpenMemory(t)
	c, err := dlr.NewCorrelator(dlr.CorrelatorOptions{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	acc := time.Now().Add(-time.Second).Round(0)
	now := time.Now().Round(0)
	for _, tc := range []struct {
		st         store.Status
		code, stat string
		err        string
	}{
		{store.StatusRejected, "633", "REJECTD", "633"},
		{store.StatusFailed, "0xb", "UNDELIV", "011"},
		{store.StatusFailed, "", "UNDELIV", "000"},
	} {
		rec := &store.Record{ID: "f", Account: "agg", From: "ACMEIN", To: "919812345678", Status: tc.st, ErrorCode: tc.code,
			AcceptedAt: acc, StatusAt: now, Meta: smppMeta(dlr.MetaReceiptParts, "1")}
		j := c.FinalWebhook(rec)
		if j == nil || j.ID != dlr.JobID("f", tc.st) || j.URL != "smpp://agg" || j.Kind != dlr.ModeSMPP || j.ContentType != "application/json" || j.MessageID != "f" {
			t.Fatalf("%s: job %+v", tc.st, j)
		}
		cr, err := dlr.ParseClientReceipt(j.Body)
		if err != nil || cr.MessageID != "f" || cr.Stat != tc.stat || cr.Err != tc.err || cr.Parts != 1 || cr.Delivered != 0 ||
			!cr.Submitted.Equal(acc) || !cr.Done.Equal(now) || cr.Text != "Your OTP is 482913 f" || cr.Part != 0 {
			t.Fatalf("%s %s: receipt %+v (%v)", tc.st, tc.code, cr, err)
		}
	}
}

// TestClientReceiptsPerPart: a long ModeSMPP message that asked for receipts per part
// (MetaReceiptParts) gets one job per part as each part becomes final, instead of the
// combined one; intermediate and repeated receipts add none; a one-part message gets its
// combined receipt.
func TestClientReceiptsPerPart(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st testStore) {
		c := newCorr(t, dlr.CorrelatorOptions{Store: st})
		submitted(t, st, c.Correlator, "jio", "pp", smppMeta(dlr.MetaReceiptParts, "1"), "q0", "q1", "q2")
		submitted(t, st, c.Correlator, "jio", "one", smppMeta(dlr.MetaReceiptParts, "1"), "q9")
		c.mustSend("jio", receipt("q0", "DELIVRD", "000"))
		c.waitApplied(1)
		got := clientReceipts(t, st)
		if cr := got[dlr.PartJobID("pp", 1, store.StatusDelivered)]; len(got) != 1 || cr == nil || cr.Part != 1 || cr.Parts != 1 ||
			cr.Delivered != 1 || cr.Stat != "DELIVRD" || cr.Err != "000" || cr.Text != "Your OTP is 482913 f" || cr.Done.IsZero() {
			t.Fatalf("after part 1: %+v", got)
		}
		c.mustSend("jio", receipt("q1", "ENROUTE", "000")) // intermediate: no receipt yet
		c.mustSend("jio", receipt("q0", "DELIVRD", "000")) // repeated
		c.waitApplied(3)
		if n, err := st.WebhookCounts(context.Background()); err != nil || n.Queued != 1 {
			t.Fatalf("intermediate or repeated receipts queued jobs: %+v (%v)", n, err)
		}
		c.mustSend("jio", receipt("q2", "UNDELIV", "001"))
		c.mustSend("jio", receipt("q1", "DELIVRD", "000"))
		c.mustSend("jio", receipt("q9", "DELIVRD", "000"))
		c.waitApplied(6)
		wait.For(t, 5*time.Second, "the first job's lease over", func() bool { got = clientReceipts(t, st); return len(got) >= 4 })
		p2, p3 := got[dlr.PartJobID("pp", 2, store.StatusDelivered)], got[dlr.PartJobID("pp", 3, store.StatusUndelivered)]
		if len(got) != 4 || p2 == nil || p2.Part != 2 || p2.Stat != "DELIVRD" || p3 == nil || p3.Part != 3 || p3.Stat != "UNDELIV" ||
			p3.Err != "001" || p3.Delivered != 0 {
			t.Fatalf("part receipts %+v", got)
		}
		if _, ok := got[dlr.JobID("pp", store.StatusUndelivered)]; ok {
			t.Fatal("a combined receipt besides the parts'")
		}
		if r := record(t, st, "pp"); r.Status != store.StatusUndelivered || r.ErrorCode != "001" {
			t.Fatalf("record %+v", r)
		}
		if cr := got[dlr.JobID("one", store.StatusDelivered)]; cr == nil || cr.Part != 0 || cr.Parts != 1 || cr.Delivered != 1 {
			t.Fatalf("one-part message: %+v", got)
		}
		if s := c.Stats(); s.WebhooksQueued != 4 || s.NoWebhook != 0 {
			t.Fatalf("stats %+v", s)
		}
	})
}

// TestClientReceiptFailureOnly: a client that asked for receipts on failure only
// (registered_delivery 2) gets none for a delivered message or part, and the usual one for
// a failed message or part.
func TestClientReceiptFailureOnly(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, st testStore) {
		c := newCorr(t, dlr.CorrelatorOptions{Store: st})
		only := smppMeta(dlr.MetaReceiptFailureOnly, "1")
		submitted(t, st, c.Correlator, "jio", "good", only, "300")
		submitted(t, st, c.Correlator, "jio", "bad", only, "301")
		c.mustSend("jio", receipt("300", "DELIVRD", "000"))
		c.mustSend("jio", receipt("301", "UNDELIV", "001"))
		c.waitApplied(2)
		got := clientReceipts(t, st)
		if len(got) != 1 || got[dlr.JobID("bad", store.StatusUndelivered)] == nil {
			t.Fatalf("jobs %+v, want only the failed message's", got)
		}
		if r := record(t, st, "good"); r.Status != store.StatusDelivered {
			t.Fatalf("the delivered message's record %+v", r)
		}
		if s := c.Stats(); s.WebhooksQueued != 1 || s.NoWebhook != 1 {
			t.Fatalf("stats %+v", s)
		}
	})
}
