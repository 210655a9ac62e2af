package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// DumpRedis returns every key under prefix with everything it holds, whatever its type
// (string, hash, list, set, zset, stream: fields, members, scores and entries), one key
// per line group, so that a test can assert what is, or is not, at rest in Redis.
func DumpRedis(t testing.TB, c redis.UniversalClient, prefix string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var keys []string
	iter := c.Scan(ctx, 0, prefix+":*", 10000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatalf("scan %s: %v", prefix, err)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		typ, err := c.Type(ctx, k).Result()
		if err != nil {
			t.Fatalf("type %s: %v", k, err)
		}
		fmt.Fprintf(&b, "%s (%s):", k, typ)
		switch typ {
		case "string":
			fmt.Fprintf(&b, " %s", c.Get(ctx, k).Val())
		case "hash":
			for f, v := range c.HGetAll(ctx, k).Val() {
				fmt.Fprintf(&b, " %s=%s", f, v)
			}
		case "list":
			fmt.Fprintf(&b, " %q", c.LRange(ctx, k, 0, -1).Val())
		case "set":
			fmt.Fprintf(&b, " %q", c.SMembers(ctx, k).Val())
		case "zset":
			for _, z := range c.ZRangeWithScores(ctx, k, 0, -1).Val() {
				fmt.Fprintf(&b, " %v:%v", z.Score, z.Member)
			}
		case "stream":
			for _, e := range c.XRange(ctx, k, "-", "+").Val() {
				fmt.Fprintf(&b, " %s:%v", e.ID, e.Values)
			}
		case "none": // expired meanwhile
		default:
			t.Fatalf("key %s of type %s: DumpRedis does not read it", k, typ)
		}
		b.WriteByte('\n')
	}
	return b.String()
}
