package dlt

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// ChainHash returns the PE→TM chain hash that TRAI's Direction of 20 Aug 2024 requires on
// every message: the lowercase hex SHA-256 of the IDs joined by commas with no spaces, in
// order from the principal entity through any TM-AF aggregators to the TM-D last
// ("PE,TMAF1,…,TMD", dlt-smpp.md §1.3). The IDs are used exactly as given; callers must not
// reorder or percent-encode them, or the operator answers PE_TM_HASH_NOT_REGISTERED.
func ChainHash(peID string, tmIDs ...string) string {
	h := sha256.New()
	h.Write([]byte(peID))
	for _, id := range tmIDs {
		h.Write([]byte{','})
		h.Write([]byte(id))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Chain is one PE→TM path registered on a DLT portal: the principal entity, the TM-AF
// aggregators it passes through (in order, possibly none) and the TM-D that binds to the
// operator.
type Chain struct {
	PEID string
	TMAF []string
	TMD  string
}

// Hash returns the chain's hash (see ChainHash).
func (c Chain) Hash() string {
	ids := make([]string, 0, len(c.TMAF)+1)
	ids = append(ids, c.TMAF...)
	ids = append(ids, c.TMD)
	return ChainHash(c.PEID, ids...)
}

// String returns the comma-joined ID list the hash is computed over.
func (c Chain) String() string {
	parts := append([]string{c.PEID}, c.TMAF...)
	return strings.Join(append(parts, c.TMD), ",")
}
