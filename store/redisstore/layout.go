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

// keyspace names every key of one store: it is the key prefix (Options.Prefix), and its
// methods, the only code that spells key names, add the rest. A value, not the Store, so
// that the layout reads as what it is: a pure function of the prefix and the names.
type keyspace string

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
func (ks keyspace) shardKey(k int, name string) string {
	return string(ks) + ":{" + shardTags[k] + "}:" + name
}

// carrierKey is a key of a carrier's queue: P:{q:<carrier>}:name. A carrier's streams and
// scheduled set share the tag, so Claim, Defer, Depth and the promotion of scheduled
// messages are single-slot.
func (ks keyspace) carrierKey(carrier, name string) string {
	return string(ks) + ":{q:" + carrier + "}:" + name
}

func (ks keyspace) streamKey(carrier string, p store.Priority) string {
	return ks.carrierKey(carrier, strconv.Itoa(int(p)))
}

func (ks keyspace) streamKeys(carrier string) []string {
	return []string{ks.streamKey(carrier, 0), ks.streamKey(carrier, 1), ks.streamKey(carrier, 2)}
}

func (ks keyspace) schedKey(carrier string) string { return ks.carrierKey(carrier, "sched") }

// schedIdxKey maps the ids of a carrier's client-scheduled messages (Enqueue with a future
// SendAt, not Defer's retries) to their members in the scheduled set, so CancelScheduled
// finds one without scanning. Written in the MULTI that schedules the message, deleted by
// the promotion and by the cancel.
func (ks keyspace) schedIdxKey(carrier string) string { return ks.carrierKey(carrier, "schedidx") }

// schedSetKey names the carriers that may have scheduled messages: a slot of its own.
func (ks keyspace) schedSetKey() string { return string(ks) + ":sched" }

func (ks keyspace) recKey(id string) string { return ks.shardKey(shardOf(id), "rec:"+id) }

// badKey is the quarantine list: a slot of its own, written before the bad entry is finished.
func (ks keyspace) badKey() string { return string(ks) + ":bad" }

func (ks keyspace) cidKey(carrier, cmid string) string {
	return string(ks) + ":cid:" + carrier + ":" + cmid
}

// The webhook queue of each message shard.
func (ks keyspace) whStreamKey(k int) string { return ks.shardKey(k, "wh") }
func (ks keyspace) whRetryKey(k int) string  { return ks.shardKey(k, "wh:retry") }
func (ks keyspace) deadKey(k int) string     { return ks.shardKey(k, "wh:dead") }
func (ks keyspace) deadIdxKey(k int) string  { return ks.shardKey(k, "wh:deadidx") }

// whShardPattern matches the given webhook key of every shard (for ownedKeys).
func (ks keyspace) whShardPattern(name string) string { return string(ks) + ":{m*}:" + name }

// Unmatched receipts: the index and the data under one tag (one script files and prunes).
func (ks keyspace) unmatchedKey() string     { return string(ks) + ":{dlr}:unmatched" }
func (ks keyspace) unmatchedDataKey() string { return string(ks) + ":{dlr}:unmatched:data" }

// OTP keys of an account share its tag: creating a session touches the session, the
// phone's latest-session pointer and its send counter in one script.
func (ks keyspace) otpSessionKey(account, id string) string {
	return string(ks) + ":otp:{" + account + "}:s:" + id
}
func (ks keyspace) otpPhoneKey(account, phone string) string {
	return string(ks) + ":otp:{" + account + "}:p:" + phone
}
func (ks keyspace) otpSendsKey(account, phone string) string {
	return string(ks) + ":otp:{" + account + "}:n:" + phone
}

func (ks keyspace) registryKeys() (doc, version string) {
	return string(ks) + ":{dlt}:registry", string(ks) + ":{dlt}:version"
}

// Keys of the bind leases: one tag, so that acquiring a slot and its fence is one script.
func (ks keyspace) leaseSlotKey(slot string) string { return string(ks) + ":{lease}:bind:" + slot }
func (ks keyspace) leaseFenceKey() string           { return string(ks) + ":{lease}:fence" }
func (ks keyspace) leaseIndexKey() string           { return string(ks) + ":{lease}:binds" }

// liveKey is the hash of live members (store.Liveness).
func (ks keyspace) liveKey() string { return string(ks) + ":{live}" }

// receiptLogKey is the receipt log's stream (store.ReceiptLog).
func (ks keyspace) receiptLogKey() string { return string(ks) + ":rlog" }

// creditsKey is an account's balance of one category (store.Credits).
func (ks keyspace) creditsKey(account string, cat store.CreditCategory) string {
	return string(ks) + ":credits:" + account + ":" + string(cat)
}

// Short links (links.go) live in the message shards, by their code: a link, the counts of
// its campaign in that shard and the shard's webhook queue share a tag, so a click is
// counted and its webhook queued in one script. A campaign's counts are the sum over the
// shards (CampaignStats reads all sixteen).
func (ks keyspace) linkKey(code string) string { return ks.shardKey(shardOf(code), "ln:"+code) }

// campaignKey is the counts of an account's campaign in shard k; account and campaign are
// length-prefixed, so no two pairs share a key whatever characters they contain.
func (ks keyspace) campaignKey(k int, account, campaign string) string {
	return ks.shardKey(k, "lc:"+strconv.Itoa(len(account))+":"+account+":"+campaign)
}

// campaignsKey indexes an account's campaigns in shard k (Links.Campaigns): a zset of
// campaign names scored by the time (ms) of their newest link in the shard, written in
// PutLinks' MULTI beside the counts, with the links' TTL and trimmed of campaigns whose
// links have all expired.
func (ks keyspace) campaignsKey(k int, account string) string {
	return ks.shardKey(k, "lz:"+strconv.Itoa(len(account))+":"+account)
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
