// Package dlr turns delivery receipts into message statuses and JSON webhooks, and loses
// none of them.
//
// A Correlator serves deliver_sm on the carriers' receiver binds (Handler per carrier, or
// DeliverHandler with CorrelatorOptions.CarrierOf). For each receipt it finds the message by
// (carrier, normalised carrier message id) — Format says how a carrier spells its ids in
// submit_sm_resp and in receipts — updates the message's record (status, StatusAt,
// ErrorCode, Reason with the DLT reason, per-part state of multipart messages) and queues
// the webhook job, all in the store, and only then answers ESME_ROK. If the store fails, the
// answer is ESME_RX_T_APPN and the carrier sends the receipt again. Every step is
// idempotent (job ids are message id + status), so a retransmission or a crash between two
// steps changes nothing twice and sends one webhook.
//
// A receipt that arrives before its submit_sm_resp is parked (EarlyWindow, default 2m) and
// applied by OnSubmitted, dispatch's after-submit hook, when the response lands; one that
// matches nothing by the end of its window is kept in the unmatched list and counted.
//
// A Sender POSTs queued jobs: signed (SignatureHeader), with an Idempotency-Key, retried with
// exponential backoff and jitter for RetryFor (24h), at most PerHostConcurrency at a time per
// host, to public addresses only unless AllowPrivate; what never gets through goes to a
// dead-letter list that Replay queues again. docs/webhooks.md is the receiver's guide.
//
// Neither logs through a global logger nor imports Prometheus: Stats and the OnReceipt and
// OnWebhook hooks feed cmd/smppd's metrics.
package dlr
