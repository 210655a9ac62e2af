// Package dlr turns delivery receipts into message statuses and JSON webhooks, and loses
// none of them.
//
// A Correlator serves deliver_sm on the carriers' binds (Handler per carrier, wired by
// dispatch through its Receipts seam) in two decoupled halves. The handler appends each
// deliver_sm, as received, to the store's receipt log and answers ESME_ROK once it is stored
// — one XADD, group-committed with every other receipt of the moment — and ESME_RX_T_APPN
// only when the store fails, so the carrier sends it again. The applier (Start) reads the log
// in batches on any instance: it finds each receipt's message by (carrier, normalised carrier
// message id) — Format says how a carrier spells its ids in submit_sm_resp and in receipts —,
// reads the records, applies the receipts (status, StatusAt, ErrorCode, Reason with the DLT
// reason, per-part state of multipart messages), and stores each changed record by
// compare-and-set together with its webhook job, queued in the same step only when the
// message became final. Then it acks the log entries. A crash anywhere leaves entries in
// the log to be applied again, which changes nothing twice and queues one webhook.
//
// A receipt that arrives before its submit_sm_resp is stored waits in the log (no write),
// tried again every RetryEvery, up to EarlyWindow (2m); then it is kept in the unmatched list
// and counted. Correlation falling behind never refuses a receipt: past MaxPending appends
// in flight or a MaxLag backlog the handler waits, and its session stops reading.
//
// A Sender POSTs queued jobs: signed (SignatureHeader), with an Idempotency-Key, retried with
// exponential backoff and jitter for RetryFor (24h), at most PerHostConcurrency at a time per
// host, to public addresses only unless AllowPrivate; what never gets through goes to a
// dead-letter list that Replay queues again. docs/webhooks.md is the receiver's guide.
//
// Clients that are not reached over HTTP — the accounts of the SMPP front — get their
// receipts through the same queue (client.go): a message whose Meta says ModeSMPP gets, when
// it becomes final, a job to ClientTarget(account) whose body is a ClientReceipt (or one per
// part, MetaReceiptParts), and MO from carriers whose destination RouteMO gives to an account
// become such jobs too. The Sender hands these jobs to the Deliverer of their URL scheme
// (the front), which answers ErrNotBound while the client has no receiver bound: the job is
// held, without counting an attempt, until the client binds (HoldFor at most).
//
// Neither logs through a global logger nor imports Prometheus: Stats and the OnReceipt and
// OnWebhook hooks feed cmd/smppd's metrics.
package dlr
