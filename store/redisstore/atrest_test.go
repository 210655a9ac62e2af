package redisstore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/redisstore"
	"github.com/smppd/smppd/store/storetest"
)

func keyOf(b byte) []byte { return bytes.Repeat([]byte{b}, redisstore.TextKeySize) }

func storeWithKeys(t *testing.T, c *redis.Client, prefix string, cur []byte, old ...[]byte) *redisstore.Store {
	t.Helper()
	s, err := redisstore.New(c, redisstore.Options{Prefix: prefix, MaxBlock: 50 * time.Millisecond, TextKey: cur, TextKeysOld: old})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestTextKeyRotation: an entry sealed with the old key is sent by an instance that has it
// as an old key; an instance that lacks it quarantines the entry with the key's id as the
// reason (never sends garbled text, never drops the message silently), and the quarantined
// body keeps its text sealed.
func TestTextKeyRotation(t *testing.T) {
	c := newClient(t)
	p := uniquePrefix()
	deleteKeys(t, c, p)
	ctx := context.Background()
	oldKey, newKey := keyOf(7), keyOf(8)
	before := storeWithKeys(t, c, p, oldKey)
	m1, m2 := msg("rot-1", "jio", store.PriorityOTP), msg("rot-2", "jio", store.PriorityOTP)
	m1.Text, m2.Text = "Your OTP is 735190", "Your OTP is 735191"
	if err := before.Enqueue(ctx, m1); err != nil {
		t.Fatal(err)
	}
	rotated := storeWithKeys(t, c, p, newKey, oldKey)
	cl, err := rotated.Claim(ctx, "jio", "c1", 10, time.Second)
	if err != nil || len(cl) != 1 || cl[0].Message.Text != m1.Text {
		t.Fatalf("rotated instance: %v, %v", cl, err)
	}
	if err := rotated.Ack(ctx, "jio", cl...); err != nil {
		t.Fatal(err)
	}

	rec := &store.Record{ID: m2.ID, Account: "a", Carrier: "jio", To: m2.To, Status: store.StatusAccepted, AcceptedAt: time.Now()}
	if err := before.Accept(ctx, []*store.Record{rec}, time.Hour, m2); err != nil {
		t.Fatal(err)
	}
	dropped := storeWithKeys(t, c, p, newKey) // the old key dropped too soon
	cl, err = dropped.Claim(ctx, "jio", "c1", 10, 200*time.Millisecond)
	if err != nil || len(cl) != 0 {
		t.Fatalf("undecodable entry handed out: %v, %v", cl, err)
	}
	bad, err := c.LRange(ctx, p+":bad", 0, -1).Result()
	if err != nil || len(bad) != 1 {
		t.Fatalf("quarantine: %v, %v", bad, err)
	}
	var q struct {
		Err  string `json:"err"`
		M    string `json:"m"`
		AtMS int64  `json:"at_ms"`
	}
	if err := json.Unmarshal([]byte(bad[0]), &q); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(q.Err, redisstore.TextKeyID(oldKey)) || !strings.Contains(q.Err, "rot-2") || q.AtMS == 0 {
		t.Fatalf("quarantine reason %q (at_ms %d), want the key id %s and the message", q.Err, q.AtMS, redisstore.TextKeyID(oldKey))
	}
	if strings.Contains(bad[0], "735191") {
		t.Fatalf("quarantined in plaintext: %s", bad[0])
	}
	if ttl := c.PTTL(ctx, p+":bad").Val(); ttl <= 0 || ttl > redisstore.DefaultQuarantineRetention {
		t.Fatalf("P:bad TTL %v, want at most %v", ttl, redisstore.DefaultQuarantineRetention)
	}
	// The client's status query says why it was never sent.
	if got, err := dropped.GetRecord(ctx, m2.ID); err != nil || got.Status != store.StatusFailed || !strings.Contains(got.Reason, redisstore.TextKeyID(oldKey)) {
		t.Fatalf("record of the unopenable message: %+v, %v", got, err)
	}

	// The sweep drops quarantined entries past their age.
	if err := dropped.Sweep(ctx, time.Now().Add(redisstore.DefaultQuarantineRetention-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := c.LLen(ctx, p+":bad").Val(); n != 1 {
		t.Fatalf("a young entry was swept: %d left", n)
	}
	if err := dropped.Sweep(ctx, time.Now().Add(redisstore.DefaultQuarantineRetention+time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := c.LLen(ctx, p+":bad").Val(); n != 0 {
		t.Fatalf("an aged entry survived the sweep: %d left", n)
	}
}

// TestNoTextAtRest: every value the queue keys hold (ready stream, scheduled set, cancel
// index, a deferred retry) is free of the text.
func TestNoTextAtRest(t *testing.T) {
	c := newClient(t)
	p := uniquePrefix()
	deleteKeys(t, c, p)
	ctx := context.Background()
	s := storeWithKeys(t, c, p, keyOf(9))
	now, later := msg("nt-1", "jio", store.PriorityOTP), msg("nt-2", "jio", store.PriorityTransactional)
	now.Text, later.Text = "code 918273", "code 918274"
	later.SendAt = time.Now().Add(time.Hour)
	retry := msg("nt-3", "jio", store.PriorityOTP)
	retry.Text = "code 918275"
	if err := s.Enqueue(ctx, now, later, retry); err != nil {
		t.Fatal(err)
	}
	cl, err := s.Claim(ctx, "jio", "c1", 10, time.Second)
	if err != nil || len(cl) != 2 {
		t.Fatalf("claim: %v, %v", cl, err)
	}
	for _, x := range cl {
		if x.Message.ID == "nt-3" {
			if err := s.Defer(ctx, "jio", x, time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
	}
	dump := storetest.DumpRedis(t, c, p)
	for _, code := range []string{"918273", "918274", "918275"} {
		if strings.Contains(dump, code) {
			t.Fatalf("%s at rest in plaintext:\n%s", code, dump)
		}
	}
	got, err := s.CancelScheduled(ctx, "jio", "nt-2")
	if err != nil || got == nil || got.Text != later.Text {
		t.Fatalf("cancel: %+v, %v", got, err)
	}
}

// TestNoBodyAtRest: the receipt log's PDUs and the webhook jobs' bodies (queued, retried,
// dead) are sealed, and come back whole; dead letters expire with their retention.
func TestNoBodyAtRest(t *testing.T) {
	c := newClient(t)
	p := uniquePrefix()
	deleteKeys(t, c, p)
	ctx := context.Background()
	s := storeWithKeys(t, c, p, keyOf(9))
	pdu := []byte("id:abc stat:DELIVRD text:Your OTP is 612345")
	if err := s.AppendReceipts(ctx, &store.LoggedPDU{Carrier: "jio", Bind: "b1", Body: pdu}); err != nil {
		t.Fatal(err)
	}
	jobs := []*store.WebhookJob{
		{ID: "j1", URL: "https://example.com/a", ContentType: "application/json", Body: `{"SmsTo":"9812345678","text":"code 612346"}`, CreatedAt: time.Now()},
		{ID: "j2", URL: "https://example.com/b", ContentType: "application/json", Body: `{"text":"code 612347"}`, CreatedAt: time.Now()},
	}
	if _, err := s.EnqueueWebhooks(ctx, jobs...); err != nil {
		t.Fatal(err)
	}
	claimed, err := s.ClaimWebhooks(ctx, time.Now(), time.Minute, 10)
	if err != nil || len(claimed) != 2 {
		t.Fatalf("claim webhooks: %v, %v", claimed, err)
	}
	for _, j := range claimed {
		want := jobs[0].Body
		if j.ID == "j2" {
			want = jobs[1].Body
			if err := s.DeadWebhook(ctx, j); err != nil {
				t.Fatal(err)
			}
		} else if err := s.RetryWebhook(ctx, j, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if j.Body != want {
			t.Fatalf("job %s body %q, want %q", j.ID, j.Body, want)
		}
	}
	dump := storetest.DumpRedis(t, c, p)
	for _, secret := range []string{"612345", "612346", "612347", "9812345678"} {
		if strings.Contains(dump, secret) {
			t.Fatalf("%s at rest in plaintext:\n%s", secret, dump)
		}
	}
	got, err := s.ReadReceiptLog(ctx, "r1", 10, time.Second)
	if err != nil || len(got) != 1 || string(got[0].Body) != string(pdu) {
		t.Fatalf("receipt log: %v, %v", got, err)
	}
	dead, err := s.DeadWebhooks(ctx, 10)
	if err != nil || len(dead) != 1 || dead[0].Body != jobs[1].Body {
		t.Fatalf("dead letters: %v, %v", dead, err)
	}
	// The dead letters' keys expire by themselves, at most the retention after the last one.
	deadKeys := dumpKeys(dump, ":wh:dead")
	if len(deadKeys) != 2 {
		t.Fatalf("dead letter keys %q, want the hash and its index", deadKeys)
	}
	for _, k := range deadKeys {
		if ttl := c.PTTL(ctx, k).Val(); ttl <= 0 || ttl > redisstore.DefaultDeadRetention {
			t.Fatalf("%s TTL %v, want at most %v", k, ttl, redisstore.DefaultDeadRetention)
		}
	}
	// The sweep drops a dead letter past its retention even when no new one arrives.
	if err := s.Sweep(ctx, time.Now().Add(redisstore.DefaultDeadRetention+time.Minute)); err != nil {
		t.Fatal(err)
	}
	if dead, err := s.DeadWebhooks(ctx, 10); err != nil || len(dead) != 0 {
		t.Fatalf("dead letters after their retention: %v, %v", dead, err)
	}
}

// dumpKeys returns the keys of a DumpRedis output that contain part.
func dumpKeys(dump, part string) []string {
	var out []string
	for _, line := range strings.Split(dump, "\n") {
		k, _, _ := strings.Cut(line, " (")
		if strings.Contains(k, part) {
			out = append(out, k)
		}
	}
	return out
}

// TestUnmatchedReceiptTextSealed: an unmatched receipt's text (the start of its message)
// rests sealed and reads back whole; its keys expire with the receipt.
func TestUnmatchedReceiptTextSealed(t *testing.T) {
	c := newClient(t)
	p := uniquePrefix()
	deleteKeys(t, c, p)
	ctx := context.Background()
	s := storeWithKeys(t, c, p, keyOf(9))
	r := &store.Receipt{ID: "r1", Carrier: "jio", Key: "k1", Text: "id:1 stat:DELIVRD text:Your OTP is 644321", ReceivedAt: time.Now()}
	if err := s.Unmatch(ctx, r, time.Hour); err != nil {
		t.Fatal(err)
	}
	dump := storetest.DumpRedis(t, c, p)
	if strings.Contains(dump, "644321") {
		t.Fatalf("receipt text at rest in plaintext:\n%s", dump)
	}
	for _, k := range dumpKeys(dump, "unmatched") {
		if ttl := c.PTTL(ctx, k).Val(); ttl <= 0 || ttl > time.Hour {
			t.Fatalf("%s TTL %v, want at most 1h", k, ttl)
		}
	}
	got, err := s.Unmatched(ctx, 10)
	if err != nil || len(got) != 1 || got[0].Text != r.Text {
		t.Fatalf("unmatched: %+v, %v", got, err)
	}
}
