package store

import (
	"context"
	"time"
)

// DefaultUnmatchedTTL is how long a receipt that matched no message is kept for inspection
// when Unmatch is given a ttl <= 0.
const DefaultUnmatchedTTL = 7 * 24 * time.Hour

// Receipt is a delivery receipt as the store keeps it after it matched nothing (kept for an
// operator to inspect). Package dlr fills it; the store only files it by Carrier and Key and
// never reads the other fields.
type Receipt struct {
	// ID identifies this receipt (dlr derives it from the receipt's content, so a carrier's
	// retransmission of the same receipt has the same ID): storing the same ID twice under one
	// (Carrier, Key) keeps one.
	ID string `json:"id"`
	// Carrier is the carrier it came from; Key the normalised carrier message id it is filed
	// under (empty for a receipt that could not be read at all).
	Carrier string `json:"carrier"`
	Key     string `json:"key"`
	// MessageID is the carrier message id as the receipt gave it.
	MessageID string `json:"message_id,omitempty"`
	// Stat, State, Err and DoneAt are what the receipt said: stat: as written, the dlr status
	// it maps to, err: as written, done date:.
	Stat         string    `json:"stat,omitempty"`
	State        string    `json:"state,omitempty"`
	Err          string    `json:"err,omitempty"`
	NetworkError string    `json:"network_error,omitempty"`
	Final        bool      `json:"final,omitempty"`
	DoneAt       time.Time `json:"done_at,omitzero"`
	// Text is the receipt text as received (for inspection; it holds the first characters of
	// the message, so it lives only as long as the unmatched entry, and the Redis store
	// keeps it sealed).
	Text string `json:"text,omitempty"`
	// ReceivedAt is when smppd got it; Note says why it is unmatched.
	ReceivedAt time.Time `json:"received_at"`
	Note       string    `json:"note,omitempty"`
}

// Receipts keeps receipts that matched no message (or could not be read at all), for an
// operator to inspect. Receipts whose message is not known yet (they came before the
// submit_sm_resp was stored) wait in the receipt log (ReceiptLog), not here.
type Receipts interface {
	// Unmatch files r in the unmatched list for ttl (<= 0: DefaultUnmatchedTTL). An ID
	// already in the list is replaced.
	Unmatch(ctx context.Context, r *Receipt, ttl time.Duration) error

	// Unmatched returns up to n unmatched receipts, newest first.
	Unmatched(ctx context.Context, n int) ([]*Receipt, error)

	// ReceiptCounts counts receipts in the log not yet applied and (unexpired) unmatched ones.
	ReceiptCounts(ctx context.Context) (ReceiptCounts, error)
}

// ReceiptCounts is the size of the receipt log's backlog and of the unmatched list.
type ReceiptCounts struct {
	// Parked counts receipt log entries not applied yet: new ones, and those waiting for
	// their message's submit_sm_resp to be stored.
	Parked    int64
	Unmatched int64
}
