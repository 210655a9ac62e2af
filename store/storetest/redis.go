package storetest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/smppd/smppd/store/redisstore"
)

// RedisURL is the Redis the tests use: $REDIS_URL, default redis://127.0.0.1:6379/0.
func RedisURL() string {
	if u := os.Getenv("REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// TextKey is the key the tests' Redis stores seal message texts with, as smppd's always do.
var TextKey = func() []byte {
	k, err := redisstore.DeriveTextKey([]byte("storetest text key"))
	if err != nil {
		panic(err)
	}
	return k
}()

// TextKeyBase64 is TextKey as store.text_key takes it: a daemon configured with it reads
// what OpenRedis's stores write, and the other way round.
func TextKeyBase64() string { return base64.StdEncoding.EncodeToString(TextKey) }

// UniquePrefix returns a key prefix no other test uses.
func UniquePrefix(t testing.TB) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := strings.NewReplacer("/", "-", " ", "_", ":", "-").Replace(t.Name())
	return "smppdtest-" + name + "-" + hex.EncodeToString(b[:])
}

// OpenRedis opens the test Redis under prefix, sealing texts with TextKey, and, when the test ends, closes the store
// and deletes every key under the prefix. Several stores may share a prefix (two smppd
// instances); each cleans up after itself. A Redis that does not answer fails the test.
func OpenRedis(t testing.TB, prefix string) *redisstore.Store {
	t.Helper()
	st, err := redisstore.Open(context.Background(), RedisURL(), redisstore.Options{Prefix: prefix, TextKey: TextKey})
	if err != nil {
		t.Fatalf("Redis at %s: %v", RedisURL(), err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c := st.Client()
		iter := c.Scan(ctx, 0, prefix+":*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		_ = st.Close()
	})
	return st
}
