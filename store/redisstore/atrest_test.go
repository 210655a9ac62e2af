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

	if err := before.Enqueue(ctx, m2); err != nil {
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
