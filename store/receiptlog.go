package store

import (
	"context"
	"time"
)

// LoggedPDU is a deliver_sm (a delivery receipt or an MO message) as a carrier sent it,
// appended to the receipt log before smppd acknowledges it. The log is the receipt's durable
// home until dlr has applied it: appending is the cheapest durable write there is, so a
// carrier's receipt never waits for correlation, and correlation runs from the log in
// batches, on any instance.
type LoggedPDU struct {
	Carrier string    // the carrier whose bind it came on
	Bind    string    // which bind (for logs and inspection)
	Body    []byte    // the PDU as received, encoded (header included); opaque to the store
	At      time.Time // when smppd received it

	// Token identifies the log entry; set by ReadReceiptLog and ReclaimReceiptLog.
	Token string
	// Deliveries is how many times the entry has been handed to a reader, this time included.
	Deliveries int64
}

// ReceiptLog is the durable log of received deliver_sm.
//
// An entry read by a consumer stays the consumer's until it is acked; one that is not acked
// (a receipt whose message is not known yet — it came before its submit_sm_resp was stored —
// or one whose reader died) is handed out again by ReclaimReceiptLog once it has been idle
// long enough, to any consumer.
type ReceiptLog interface {
	// AppendReceipts stores the entries durably and returns once every one is stored.
	// Appends from concurrent callers share round trips (group commit).
	AppendReceipts(ctx context.Context, ps ...*LoggedPDU) error

	// ReadReceiptLog hands consumer up to n entries no consumer has read yet, oldest first,
	// waiting up to wait for the first one (none: an empty slice, no error).
	ReadReceiptLog(ctx context.Context, consumer string, n int, wait time.Duration) ([]*LoggedPDU, error)

	// ReclaimReceiptLog hands consumer up to n entries read before (by anyone) and not acked
	// for minIdle, oldest first; each has Deliveries incremented and its idle time restarted.
	ReclaimReceiptLog(ctx context.Context, consumer string, minIdle time.Duration, n int) ([]*LoggedPDU, error)

	// AckReceiptLog removes the entries: their effect is stored. Unknown tokens are ignored.
	AckReceiptLog(ctx context.Context, tokens ...string) error

	// ReceiptLogLen counts the entries not yet acked: what correlation still has to do.
	ReceiptLogLen(ctx context.Context) (int64, error)
}
