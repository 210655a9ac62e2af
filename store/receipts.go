package store

import (
	"context"
	"time"
)

// DefaultUnmatchedTTL is how long a receipt that matched no message is kept for inspection
// when Unmatch is given a ttl <= 0.
const DefaultUnmatchedTTL = 7 * 24 * time.Hour

// Receipt is a delivery receipt as the store keeps it while it waits for its message (parked:
// it arrived before the submit_sm_resp it belongs to) or after it matched nothing (kept for an
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
	// the message, so it lives only as long as the parked or unmatched entry).
	Text string `json:"text,omitempty"`
	// ReceivedAt is when smppd got it; Note says why it is unmatched.
	ReceivedAt time.Time `json:"received_at"`
	Note       string    `json:"note,omitempty"`
}

// Receipts keeps receipts that could not be applied yet (parked) or at all (unmatched).
//
// Parking is not a claim: ParkedReceipts and DueParked only read, and a receipt leaves the
// parked set only by Unpark or Unmatch, after its effect is stored. A process that dies in
// between leaves it parked, and the next reader applies it again, which dlr makes harmless.
type Receipts interface {
	// Park files r under (r.Carrier, r.Key) until `until`, when DueParked starts returning
	// it. Parking an ID that is already parked under that key keeps the stored copy and
	// moves its time to until (so a parked receipt can be given more time in one step).
	Park(ctx context.Context, r *Receipt, until time.Time) error

	// ParkedReceipts returns the receipts parked under (carrier, key), oldest first, without
	// removing them. None is not an error.
	ParkedReceipts(ctx context.Context, carrier, key string) ([]*Receipt, error)

	// DueParked returns up to n parked receipts whose time ran out by now, earliest first,
	// without removing them.
	DueParked(ctx context.Context, now time.Time, n int) ([]*Receipt, error)

	// Unpark removes the receipts with the given IDs parked under (carrier, key). Unknown IDs
	// are ignored.
	Unpark(ctx context.Context, carrier, key string, ids ...string) error

	// Unmatch files r in the unmatched list for ttl (<= 0: DefaultUnmatchedTTL) and, in the
	// same step, removes it from the parked set if it is parked under (r.Carrier, r.Key).
	// An ID already in the list is replaced.
	Unmatch(ctx context.Context, r *Receipt, ttl time.Duration) error

	// Unmatched returns up to n unmatched receipts, newest first.
	Unmatched(ctx context.Context, n int) ([]*Receipt, error)

	// ReceiptCounts counts parked and (unexpired) unmatched receipts.
	ReceiptCounts(ctx context.Context) (ReceiptCounts, error)
}

// ReceiptCounts is the size of the parked set and the unmatched list.
type ReceiptCounts struct {
	Parked    int64
	Unmatched int64
}
