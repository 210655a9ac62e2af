package redisstore

// Every key smppd writes either has a TTL or an owner that deletes it. ownedKeys lists the
// keys that live without a TTL, each with the reason its size is bounded and who deletes it;
// keys_test.go runs a workload through every part of the store and fails on any key without
// a TTL that is not listed here. The operations guide's key table is this list. Every key
// holding personal data (phone numbers, sealed texts) states the bound on its entries' age.

// ownedKey is a key pattern (as path.Match reads it, '*' standing for any carrier, account or
// id) that lives without a TTL, and its owner.
type ownedKey struct {
	pattern string
	owner   string
}

func (s *Store) ownedKeys() []ownedKey {
	const anyOne = "*"
	keys := []ownedKey{}
	for _, k := range s.keys.streamKeys(anyOne) {
		keys = append(keys, ownedKey{k, "dispatch: a carrier's queue stream; entries are deleted when finished (Ack, Settle, Defer, Move), so it holds only live messages; the empty stream and its consumer group stay while the carrier is configured"})
	}
	doc, version := s.keys.registryKeys()
	return append(keys,
		ownedKey{s.keys.schedKey(anyOne), "dispatch: scheduled messages (texts sealed); promoted when due, so no entry outlives its send time, and Redis deletes the set with its last member"},
		ownedKey{s.keys.schedIdxKey(anyOne), "dispatch: id to member of the client-scheduled messages in the scheduled set (cancel_sm finds them through it); an entry is deleted when its message is promoted or cancelled, and Redis deletes the hash with its last field"},
		ownedKey{s.keys.schedSetKey(), "dispatch: carriers that have scheduled messages; a carrier leaves it when its set empties"},
		ownedKey{s.keys.receiptLogKey(), "dlr: the receipt log; entries are deleted once applied (or after receipts.early_window when their message never appears)"},
		ownedKey{s.keys.whShardPattern("wh"), "dlr: webhook jobs; deleted when delivered, retried (to the retry set) or dead"},
		ownedKey{s.keys.whShardPattern("wh:retry"), "dlr: webhook jobs waiting to be retried; moved back to the queue when due"},
		ownedKey{s.keys.whShardPattern("wh:dead"), "dlr: dead webhook jobs (bodies sealed), for inspection and replay; kept Options.DeadRetention (90 days): older ones swept every minute and dropped as new ones arrive, and the key expires DeadRetention after the last one; replay deletes"},
		ownedKey{s.keys.whShardPattern("wh:deadidx"), "dlr: the dead jobs' index by time (see the dead jobs)"},
		ownedKey{s.keys.unmatchedKey(), "dlr: receipts that matched no message (texts sealed), by expiry; expired ones swept every minute and dropped as new ones arrive, and the key expires with the newest"},
		ownedKey{s.keys.unmatchedDataKey(), "dlr: the unmatched receipts themselves (see their index)"},
		ownedKey{s.keys.badKey(), "dispatch: queue entries that could not be decoded (texts sealed, with the reason); the newest 10,000, none older than Options.QuarantineRetention (30 days): swept every minute, and the list expires QuarantineRetention after its last entry"},
		ownedKey{s.keys.liveKey(), "liveness: one field per running instance; a field is deleted when its heartbeat lapses or the instance leaves"},
		ownedKey{s.keys.leaseFenceKey(), "bind leases: the fencing counter, one small integer that must never go back"},
		ownedKey{s.keys.creditsKey(anyOne, "*"), "accounts: the account's credit balance, set from the configuration and the admin API"},
		ownedKey{doc, "dlt: the registry document, replaced by every import"},
		ownedKey{version, "dlt: the registry's version counter"},
	)
}
