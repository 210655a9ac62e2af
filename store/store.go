// Package store keeps what smppd must not lose: accepted messages waiting to be sent, their
// status records, the index from carrier message ids back to our messages, the receipt log
// and unmatched receipts, the webhook queue, bind leases, OTP sessions and credits. Each
// concern is a small interface (Queue, Records, Settler, ReceiptLog, Webhooks, …) so that a
// component asks only for what it uses; Store is all of them, because both implementations
// keep all of it and the daemon hands one Store to every component. It has two
// implementations behind the same interfaces: Redis (production; many smppd instances
// share it) and an in-process one (the demo and unit tests; it keeps nothing across
// restarts). One conformance suite (storetest) runs against both.
//
// The durability rule of the product lives here: every method that accepts or changes
// state returns only once the change is stored (for Redis: acknowledged by the server, which
// the operator configures to persist with appendfsync; see the operations guide).
package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"
)

// NewID returns a random UUID v4. smppd's message ids and OTP session ids take this form
// because 2Factor clients store and parse their session ids as UUIDs.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// ConsumerName returns a name for this process in a consumer group (dispatch's queues, the
// receipt log, the webhook queue): host name, process id and a random suffix, so that no two
// processes, nor two incarnations of one, share a name.
func ConsumerName() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), NewID()[:8])
}

// ErrNotFound is returned when a record or index entry does not exist (or has expired).
var ErrNotFound = errors.New("store: not found")

// ErrClosed is returned by every method of a store after its Close; a Claim that is waiting
// when Close is called returns it too.
var ErrClosed = errors.New("store: closed")

// Default lifetimes, used by every implementation when PutRecord or IndexCarrierID is given a
// ttl <= 0.
const (
	DefaultRecordTTL = 90 * 24 * time.Hour // 2160h
	DefaultIndexTTL  = 72 * time.Hour
)

// Priority orders the send queues: every ready OTP message goes before any transactional
// one, and those before promotional ones.
type Priority uint8

const (
	PriorityOTP           Priority = 0
	PriorityTransactional Priority = 1
	PriorityPromotional   Priority = 2
	numPriorities                  = 3
)

// Priorities lists every priority, highest first.
func Priorities() []Priority {
	return []Priority{PriorityOTP, PriorityTransactional, PriorityPromotional}
}

func (p Priority) String() string {
	switch p {
	case PriorityOTP:
		return "otp"
	case PriorityTransactional:
		return "transactional"
	case PriorityPromotional:
		return "promotional"
	}
	return "unknown"
}

// Message is one accepted SMS to one destination, as the sending pipeline needs it. A long
// text stays one message here; dispatch splits it into parts when it sends.
type Message struct {
	ID         string    `json:"id"`       // smppd's id (UUID v4): the 2Factor session id
	Account    string    `json:"account"`  // the client account that sent it
	Carrier    string    `json:"carrier"`  // the carrier routing chose; the queue it waits in
	Priority   Priority  `json:"priority"` // which queue of the carrier
	From       string    `json:"from"`     // sender id (DLT header)
	To         string    `json:"to"`       // destination, international digits without '+', e.g. 919812345678
	Text       string    `json:"text"`     // UTF-8; dispatch picks GSM-7 or UCS-2
	PEID       string    `json:"pe_id,omitempty"`
	TemplateID string    `json:"template_id,omitempty"`
	SendAt     time.Time `json:"send_at,omitzero"` // not before; zero means now
	// Windowed messages (promotional and service-explicit DLT categories) may only go out
	// 10:00–21:00 IST; one that comes up for sending outside the window, a retry say, waits
	// for the next window.
	Windowed   bool      `json:"windowed,omitempty"`
	AcceptedAt time.Time `json:"accepted_at"`
	Attempts   int       `json:"attempts,omitempty"` // submit attempts made before this one was queued
	// Duplicates counts earlier sends of this message that may have delivered a copy (a
	// resend after an unknown outcome, or after a consumer died mid-send).
	Duplicates int               `json:"duplicates,omitempty"`
	Meta       map[string]string `json:"meta,omitempty"` // callback values, campaign, webhook URL …
	// TMIDs are the telemarketer (TM-AF) ids the message passed through before smppd, in
	// chain order from the PE on: the chain a client aggregator named, then its own TM id.
	// Dispatch puts them between the PE and smppd's own chain (dlt.Chain) in the chain TLV.
	TMIDs []string `json:"tm_ids,omitempty"`
}

// Claim is a message taken from a send queue by one consumer. Until it is acked, deferred or
// moved, the message stays in the store as pending for that consumer; if the consumer dies,
// another one reclaims it after a while.
type Claim struct {
	Message *Message
	// Token identifies the queue entry (for Redis: the priority and the stream entry id);
	// opaque to callers. It is only meaningful for the carrier the claim came from.
	Token string
	// Deliveries is how many times this entry has been handed to a consumer, this time
	// included. More than one means an earlier consumer took it and never finished: if that
	// consumer had written the submit_sm, sending again may deliver it twice.
	Deliveries int64
	// Event, if set, is written to the message's timeline by Defer, in the same step (a
	// retry and its error, or a wait for the promotional window). Not stored in the queue.
	Event *Event `json:"-"`
}

// Queue holds the messages waiting to be sent, one queue per carrier and priority, plus the
// scheduled set (future sends and retries).
type Queue interface {
	// Enqueue stores messages durably: in the carrier's ready queue, or in the scheduled
	// set when SendAt is in the future. It returns only once every message is stored.
	// Every message needs an ID, a Carrier and a known Priority; if one is invalid, none is
	// stored. The store keeps its own copy: changing a message afterwards changes nothing.
	Enqueue(ctx context.Context, msgs ...*Message) error

	// Claim hands consumer up to n ready messages of the carrier, highest priority first and
	// in enqueue order within a priority. It waits up to wait for the first one; with none it
	// returns an empty slice and no error. If ctx ends while it waits, it returns promptly
	// with ctx's error (errors.Is(err, context.Canceled) or context.DeadlineExceeded).
	// n <= 0 claims nothing.
	Claim(ctx context.Context, carrier, consumer string, n int, wait time.Duration) ([]Claim, error)

	// Ack finishes claims: the message was sent or failed for good. Acking an unknown or
	// already acked claim is not an error, and neither is acking a claim that was taken
	// over (TakeOver, Reclaim) since: it does nothing, the message is its new holder's.
	Ack(ctx context.Context, carrier string, claims ...Claim) error

	// Defer finishes a claim and schedules its message (as updated by the caller, e.g. with
	// Attempts incremented) to be ready again at `at`, atomically: the message is never in
	// neither place nor in both. The message goes back to c.Message.Carrier's queue (carrier
	// when that is empty) with c.Message.Priority. If the claim is no longer pending (it was
	// acked, deferred or moved already, by this or another consumer) Defer does nothing and
	// returns nil, so a finished message is never scheduled again.
	Defer(ctx context.Context, carrier string, c Claim, at time.Time) error

	// Move finishes a claim and enqueues the (updated) message on another carrier's ready
	// queue, atomically, at the tail of its priority (c.Message.Priority); the stored message's
	// Carrier is set to `to`. Failover uses it. Like Defer, it does nothing and returns nil
	// when the claim is no longer pending.
	Move(ctx context.Context, from string, c Claim, to string) error

	// Reclaim hands consumer up to n messages of the carrier that other consumers claimed
	// more than minIdle ago and never finished, highest priority first, whoever holds them:
	// the last resort for holders whose liveness is unknown (TakeOver handles members that
	// died). Each returned claim has Deliveries incremented and its idle time restarted;
	// the earlier holder's claim is fenced as with TakeOver.
	Reclaim(ctx context.Context, carrier, consumer string, minIdle time.Duration, n int) ([]Claim, error)

	// TakeOver hands consumer up to n messages of the carrier that consumers of dead
	// members hold (see Liveness: a member whose heartbeat lapsed, or an earlier
	// incarnation of a restarted instance), highest priority first, at once: no idle time
	// is waited for. Each returned claim has Deliveries incremented. The dead holder's own
	// claims on those messages are fenced from then on: Ack, Settle, Defer and Move with
	// them do nothing.
	TakeOver(ctx context.Context, carrier, consumer string, n int) ([]Claim, error)

	// PromoteDue moves up to n scheduled messages whose time is not after now into their
	// carriers' ready queues, and returns how many it moved.
	PromoteDue(ctx context.Context, now time.Time, n int) (int, error)

	// CancelScheduled withdraws message id from the carrier's scheduled set if a client's
	// future send (Enqueue with SendAt in the future) is still there, atomically with
	// respect to PromoteDue: of the two, exactly one gets the message. It returns the
	// withdrawn message, or nil (and no error) when the message is not scheduled there: due
	// and promoted already, never scheduled, or scheduled again by Defer (a retry, which
	// is on its way and cannot be withdrawn). It does not touch the message's record.
	CancelScheduled(ctx context.Context, carrier, id string) (*Message, error)

	// Depth counts the carrier's messages: ready (not yet claimed), pending (claimed, not
	// finished) and scheduled (for this carrier).
	Depth(ctx context.Context, carrier string) (Depth, error)
}

// Depth is a queue's size, for metrics and readiness.
type Depth struct {
	Ready     int64
	Pending   int64
	Scheduled int64
	// ByPriority splits Ready and Pending by priority, indexed by Priority (OTP,
	// transactional, promotional): it sums to them. Scheduled messages have no queue yet.
	ByPriority [3]PriorityDepth
}

// PriorityDepth is the ready and pending messages of one priority of a carrier's queue.
type PriorityDepth struct {
	Ready   int64
	Pending int64
}

// Status is where a message is in its life.
type Status string

const (
	StatusAccepted    Status = "ACCEPTED"    // stored, waiting to be sent
	StatusScheduled   Status = "SCHEDULED"   // stored, to be sent later
	StatusSubmitted   Status = "SUBMITTED"   // the carrier answered submit_sm_resp OK
	StatusDelivered   Status = "DELIVERED"   // final: handset received it
	StatusUndelivered Status = "UNDELIVERED" // final
	StatusExpired     Status = "EXPIRED"     // final: validity ran out
	StatusRejected    Status = "REJECTED"    // final: the carrier (or DLT scrubbing) refused it
	StatusFailed      Status = "FAILED"      // final: we could not send it (permanent error)
	StatusUnknown     Status = "UNKNOWN"     // the carrier may or may not have it (no response)
	// StatusCancelled is final: the client withdrew the message (SMPP cancel_sm) while it
	// was still scheduled, so it was never sent. Only a message that Queue.CancelScheduled
	// took out of the scheduled set gets it; one already due, queued or sent cannot be.
	StatusCancelled Status = "CANCELLED"
)

// Final reports whether no further change is expected.
func (s Status) Final() bool {
	switch s {
	case StatusDelivered, StatusUndelivered, StatusExpired, StatusRejected, StatusFailed, StatusCancelled:
		return true
	}
	return false
}

// Record is a message's status as clients query it and webhooks report it.
type Record struct {
	// Rev counts the stored changes of the record (0 when accepted). SwapRecords changes a
	// record only if its stored Rev is still the one the writer read, so concurrent writers
	// never lose each other's change. It is the first field on purpose: the Redis store reads
	// it from the front of the stored JSON without decoding the rest.
	Rev        int64             `json:"rev,omitempty"`
	ID         string            `json:"id"`
	Account    string            `json:"account"`
	Carrier    string            `json:"carrier,omitempty"`
	From       string            `json:"from"`
	To         string            `json:"to"`
	Status     Status            `json:"status"`
	Parts      int               `json:"parts,omitempty"`       // segments sent
	CarrierIDs []string          `json:"carrier_ids,omitempty"` // submit_sm_resp message ids, one per part
	Attempts   int               `json:"attempts,omitempty"`
	Duplicates int               `json:"duplicates,omitempty"` // resends after an unknown outcome
	ErrorCode  string            `json:"error_code,omitempty"` // carrier command_status or receipt err
	Reason     string            `json:"reason,omitempty"`     // words a person can act on
	AcceptedAt time.Time         `json:"accepted_at"`
	SentAt     time.Time         `json:"sent_at,omitzero"`
	StatusAt   time.Time         `json:"status_at,omitzero"`
	Meta       map[string]string `json:"meta,omitempty"`
	// The message's DLT data (Message's PEID, TemplateID and TMIDs), for the operator
	// console's message page: some 70 bytes of JSON a record when set.
	PEID       string   `json:"pe_id,omitempty"`
	TemplateID string   `json:"template_id,omitempty"`
	TMIDs      []string `json:"tm_ids,omitempty"`
}

// Records stores status records and the carrier message id index.
type Records interface {
	// PutRecord stores r, replacing any record with its id, kept for ttl (ttl <= 0:
	// DefaultRecordTTL).
	PutRecord(ctx context.Context, r *Record, ttl time.Duration) error

	// GetRecord returns the record, or ErrNotFound.
	GetRecord(ctx context.Context, id string) (*Record, error)

	// GetRecords returns the records of many ids at once (one round trip for Redis), in the
	// ids' order; an id with no record gets nil.
	GetRecords(ctx context.Context, ids ...string) ([]*Record, error)

	// UpdateRecord applies fn to the stored record atomically (retrying fn if another writer
	// got there first), adds one to its Rev and keeps the record's remaining time to live.
	// ErrNotFound if absent; an error from fn aborts the update and is returned. fn gets a
	// private copy and may run more than once, so it must only change the record; the
	// record's ID cannot be changed. It is for the cold paths (tools, tests); the hot paths
	// use Settle and SwapRecords, which batch.
	UpdateRecord(ctx context.Context, id string, fn func(*Record) error) (*Record, error)

	// SwapRecords stores each change whose record is still at the revision the writer read
	// (change.Record.Rev - 1), keeping the record's time to live, and queues the change's
	// webhook in the same atomic step. The result for each change says whether it was
	// stored; when it was not, Current is the record as stored now (nil and ErrNotFound when
	// it is gone) and the caller applies its change again on top of it. Many changes go to
	// the store together (one round trip for Redis).
	SwapRecords(ctx context.Context, changes ...RecordChange) ([]SwapResult, error)

	// IndexCarrierID maps (carrier, carrier message id) to our message id and part number,
	// kept for ttl (ttl <= 0: DefaultIndexTTL). Receipts find their message through it.
	IndexCarrierID(ctx context.Context, carrier, carrierMsgID, msgID string, part int, ttl time.Duration) error

	// LookupCarrierID returns the message id and part for a carrier message id, or
	// ErrNotFound.
	LookupCarrierID(ctx context.Context, carrier, carrierMsgID string) (msgID string, part int, err error)

	// LookupCarrierIDs looks up many keys at once (one round trip for Redis); a key with no
	// entry gets a zero IndexEntry (MsgID empty).
	LookupCarrierIDs(ctx context.Context, keys ...IndexKey) ([]IndexEntry, error)
}

// IndexKey names a carrier message id in the index: the namespace (a carrier name, or a
// namespace dlr derives from it for normalised ids) and the id.
type IndexKey struct {
	Carrier string
	ID      string
}

// IndexEntry is one carrier message id mapped to part Part of our message MsgID.
type IndexEntry struct {
	IndexKey
	MsgID string
	Part  int
}

// RecordChange is one compare-and-set of a record (see SwapRecords).
type RecordChange struct {
	// Record is the new content; its Rev is one more than the revision the writer read.
	Record *Record
	// Webhook, if set, is queued in the same step as the record changes, and only if it does.
	Webhook *WebhookJob
	// MoreWebhooks are further jobs queued with Webhook, in the same step and only if the
	// record changes: one change may report several things (dlr's receipts per part of a
	// long message). Like Webhook they belong to the record's message (MessageID = its id),
	// which is where the Redis store queues them.
	MoreWebhooks []*WebhookJob
	// Events are appended to the message's timeline in the same step, only if the record
	// changes (a receipt's raw stat and err, say).
	Events []Event
}

// Jobs returns the change's webhook jobs: Webhook, if set, then MoreWebhooks.
func (c RecordChange) Jobs() []*WebhookJob {
	if c.Webhook == nil {
		return c.MoreWebhooks
	}
	if len(c.MoreWebhooks) == 0 {
		return []*WebhookJob{c.Webhook}
	}
	return append([]*WebhookJob{c.Webhook}, c.MoreWebhooks...)
}

// SwapResult is the outcome of one RecordChange.
type SwapResult struct {
	Stored  bool
	Current *Record // when not stored: the record as it is now (nil when gone)
	Err     error   // ErrNotFound when the record is gone
}

// Settlement is what dispatch stores when a claimed message is finished (sent, or failed
// for good): the message's record as it now stands, the carrier ids receipts will look it up
// by, and for a message that is final without any receipt its webhook; and the claim is
// acked, all in one atomic step.
type Settlement struct {
	Carrier string // the carrier the claim came from
	Claim   Claim
	// Record replaces the stored record, keeping its time to live, but only while the stored
	// one is unchanged since Accept (Rev 0); nothing is written when the record is gone.
	// Dispatch is the only writer of a record between Accept and Settle, and receipts can
	// find the record only through Index, written in the same step, so the replacement never
	// loses a receipt's change; a stale settlement (a slow consumer whose claim another one
	// took over and settled, after which receipts changed the record) leaves it alone.
	Record *Record
	// Index entries are kept for the store's index TTL.
	Index []IndexEntry
	// Webhook, if set, is queued in the same step.
	Webhook *WebhookJob
	// Events are appended to the message's timeline in the same step (submitted per part,
	// the final status), only if Record is stored.
	Events []Event
}

// Accepter stores new messages: their records and queue entries in one atomic step, many
// callers' messages together (a group commit: one Redis round trip for all the HTTP requests
// arriving within about a round trip). A message is never queued without its record or
// recorded without being queued.
type Accepter interface {
	Accept(ctx context.Context, recs []*Record, ttl time.Duration, msgs ...*Message) error
}

// Settler finishes claims in batches.
type Settler interface {
	// Settle stores every settlement (each atomically; see Settlement) and returns once all
	// are stored. Settlements from concurrent callers share round trips.
	Settle(ctx context.Context, ss ...Settlement) error
}

// Store is everything the daemon keeps; both implementations (redisstore, memstore) have all
// of it, so a component that needs a capability takes the small interface it needs (dlr.Store,
// dispatch's BindLeases) and the daemon hands it the one Store without asking at run time.
type Store interface {
	Queue
	Records
	Accepter
	Settler
	Liveness
	ReceiptLog
	Receipts
	Webhooks
	BindLeases
	OTPs
	Credits
	MessageSearch
	Links
	// Ping reports whether the store answers; readiness uses it.
	Ping(ctx context.Context) error
	Close() error
}
