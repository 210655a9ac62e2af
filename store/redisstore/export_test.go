package redisstore

import (
	"path"

	"github.com/smppd/smppd/store"
)

// StreamKey is the queue stream of a carrier and priority.
func (s *Store) StreamKey(carrier string, p store.Priority) string {
	return s.keys.streamKey(carrier, p)
}

// OwnedKey reports whether key may live without a TTL, and why.
func (s *Store) OwnedKey(key string) (string, bool) {
	for _, o := range s.ownedKeys() {
		if ok, _ := path.Match(o.pattern, key); ok {
			return o.owner, true
		}
	}
	return "", false
}

// RecordKey is the key of a message's record.
func (s *Store) RecordKey(id string) string { return s.keys.recKey(id) }

// WebhookStreams are the webhook queue streams of every message shard.
func (s *Store) WebhookStreams() []string {
	out := make([]string, messageShards)
	for k := range out {
		out[k] = s.keys.whStreamKey(k)
	}
	return out
}

// ShardTags are the message shards' hash tags; KeySlot is a key's cluster slot.
var (
	ShardTags = shardTags[:]
	KeySlot   = keySlot
)

// TimelineKey, NumberIndexKey and SuffixIndexKey are the message search keys (search.go).
func (s *Store) TimelineKey(id string) string        { return s.keys.evKey(id) }
func (s *Store) NumberIndexKey(to string) string     { return s.keys.toIdxKey(to) }
func (s *Store) SuffixIndexKey(bucket string) string { return s.keys.sfxIdxKey(bucket) }
