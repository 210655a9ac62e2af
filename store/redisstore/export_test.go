package redisstore

import (
	"path"

	"github.com/smppd/smppd/store"
)

// StreamKey is the queue stream of a carrier and priority.
func (s *Store) StreamKey(carrier string, p store.Priority) string { return s.streamKey(carrier, p) }

// OwnedKey reports whether key may live without a TTL, and why.
func (s *Store) OwnedKey(key string) (string, bool) {
	for _, o := range s.ownedKeys() {
		if ok, _ := path.Match(o.pattern, key); ok {
			return o.owner, true
		}
	}
	return "", false
}
