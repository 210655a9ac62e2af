package redisstore

import (
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/smppd/smppd/store"
)

// The key names, one layout for a single Redis and a Redis Cluster (see the package doc's
// key layout). A Redis Cluster hashes only the part of a key between the first '{' and the
// next '}' (the hash tag) when there is one, so keys with equal tags share a slot: every
// script and MULTI here gets keys of one tag. The prefix may not contain braces
// (Options.setDefaults), so it never supplies the tag; carrier and account names may, which
// only makes two of them share a slot.

// messageShards is how many message shards there are. A message's record and the webhook
// jobs queued with its changes live in shard shardOf(id), under one hash tag, so the
// compare-and-set of a record and the queueing of its job stay one script on a cluster;
// records spread over this many slots. It is part of the key names: changing it loses every
// stored record (see docs/operations.md, upgrading).
const messageShards = 16

// shardTags are the hash tags of the shards, "m<k>.<j>": for each shard k the first j for
// which the tag's slot lies in [k·1024, (k+1)·1024), so the shards spread evenly over any
// cluster whose masters serve equal ranges of slots (redis-cli --cluster create and
// rebalance make those).
var shardTags = func() [messageShards]string {
	var tags [messageShards]string
	width := clusterSlots / messageShards
	for k := range tags {
		for j := 0; ; j++ {
			t := "m" + strconv.Itoa(k) + "." + strconv.Itoa(j)
			if int(keySlot(t))/width == k {
				tags[k] = t
				break
			}
		}
	}
	return tags
}()

// shardOf is the message shard of a message (or record, or webhook job) id: FNV-1a.
func shardOf(id string) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % messageShards)
}

// shardKey is a key of message shard k: P:{m<k>.<j>}:name.
func (s *Store) shardKey(k int, name string) string {
	return s.opts.Prefix + ":{" + shardTags[k] + "}:" + name
}

// carrierKey is a key of a carrier's queue: P:{q:<carrier>}:name. A carrier's streams and
// scheduled set share the tag, so Claim, Defer, Depth and the promotion of scheduled
// messages are single-slot.
func (s *Store) carrierKey(carrier, name string) string {
	return s.opts.Prefix + ":{q:" + carrier + "}:" + name
}

func (s *Store) streamKey(carrier string, p store.Priority) string {
	return s.carrierKey(carrier, strconv.Itoa(int(p)))
}

func (s *Store) streamKeys(carrier string) []string {
	return []string{s.streamKey(carrier, 0), s.streamKey(carrier, 1), s.streamKey(carrier, 2)}
}

func (s *Store) schedKey(carrier string) string { return s.carrierKey(carrier, "sched") }

// schedSetKey names the carriers that may have scheduled messages: a slot of its own.
func (s *Store) schedSetKey() string { return s.opts.Prefix + ":sched" }

func (s *Store) recKey(id string) string { return s.shardKey(shardOf(id), "rec:"+id) }

// badKey is the quarantine list: a slot of its own, written before the bad entry is finished.
func (s *Store) badKey() string { return s.opts.Prefix + ":bad" }

func (s *Store) cidKey(carrier, cmid string) string {
	return s.opts.Prefix + ":cid:" + carrier + ":" + cmid
}

// The webhook queue of each message shard.
func (s *Store) whStreamKey(k int) string { return s.shardKey(k, "wh") }
func (s *Store) whRetryKey(k int) string  { return s.shardKey(k, "wh:retry") }
func (s *Store) deadKey(k int) string     { return s.shardKey(k, "wh:dead") }
func (s *Store) deadIdxKey(k int) string  { return s.shardKey(k, "wh:deadidx") }

// whShardPattern matches the given webhook key of every shard (for ownedKeys).
func (s *Store) whShardPattern(name string) string { return s.opts.Prefix + ":{m*}:" + name }

// Unmatched receipts: the index and the data under one tag (one script files and prunes).
func (s *Store) unmatchedKey() string     { return s.opts.Prefix + ":{dlr}:unmatched" }
func (s *Store) unmatchedDataKey() string { return s.opts.Prefix + ":{dlr}:unmatched:data" }

// OTP keys of an account share its tag: creating a session touches the session, the
// phone's latest-session pointer and its send counter in one script.
func (s *Store) otpSessionKey(account, id string) string {
	return s.opts.Prefix + ":otp:{" + account + "}:s:" + id
}
func (s *Store) otpPhoneKey(account, phone string) string {
	return s.opts.Prefix + ":otp:{" + account + "}:p:" + phone
}
func (s *Store) otpSendsKey(account, phone string) string {
	return s.opts.Prefix + ":otp:{" + account + "}:n:" + phone
}

func (s *Store) registryKeys() (doc, version string) {
	return s.opts.Prefix + ":{dlt}:registry", s.opts.Prefix + ":{dlt}:version"
}

// clusterSlots is the number of Redis Cluster hash slots.
const clusterSlots = 16384

// keySlot is the Redis Cluster slot of key: CRC16 (XMODEM) of its hash tag, or of the
// whole key when it has none, modulo 16384.
func keySlot(key string) uint16 {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	var crc uint16
	for k := 0; k < len(key); k++ {
		crc ^= uint16(key[k]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc % clusterSlots
}
