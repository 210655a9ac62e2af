package store

import (
	"context"
	"time"
)

// MessageQuery selects message records for the operator console's search. Exactly one of
// ID, To and ToSuffix is set.
type MessageQuery struct {
	// ID is a session (message) id: at most one record.
	ID string
	// To is a full destination in international digits without '+', e.g. 919812345678.
	To string
	// ToSuffix is the last digits of a destination (4 to 10 of them), e.g. "5678".
	ToSuffix string
	// Account, if set, keeps only that client's messages.
	Account string
	// Since and Until bound the acceptance time, [Since, Until). Zero Since means the
	// records' whole lifetime (DefaultRecordTTL); zero Until means now.
	Since, Until time.Time
	// Limit is the page size: 0 means 50; at most 500.
	Limit int
	// Cursor continues from a previous page's Next; empty starts at the newest.
	Cursor string
}

// MessagePage is one page of a search, newest first. Next is empty on the last page.
type MessagePage struct {
	Records []*Record
	Next    string
}

// EventKind names a step of a message's life.
type EventKind string

const (
	EventAccepted  EventKind = "accepted"  // stored by the API or the SMPP front
	EventQueued    EventKind = "queued"    // waiting in a carrier's queue (or scheduled)
	EventSubmitted EventKind = "submitted" // submit_sm_resp: Carrier, Bind, CarrierID, Part, Err
	EventRetry     EventKind = "retry"     // a temporary failure; sent again later (Err, Detail)
	EventReceipt   EventKind = "receipt"   // a delivery receipt: Part, Stat, Err, Status
	EventWebhook   EventKind = "webhook"   // a webhook attempt: URL, HTTPStatus or Detail, Attempt
	EventFinal     EventKind = "final"     // the record's final status: Status, Err, Detail
)

// Event is one step of a message's timeline, as the console shows it.
type Event struct {
	At         time.Time `json:"at"`
	Kind       EventKind `json:"kind"`
	Carrier    string    `json:"carrier,omitempty"`
	Bind       string    `json:"bind,omitempty"`
	CarrierID  string    `json:"carrier_id,omitempty"`
	Part       int       `json:"part,omitempty"`
	Status     Status    `json:"status,omitempty"`
	Stat       string    `json:"stat,omitempty"` // a receipt's raw stat:
	Err        string    `json:"err,omitempty"`  // a receipt's raw err:, or a command_status
	URL        string    `json:"url,omitempty"`
	HTTPStatus int       `json:"http_status,omitempty"`
	Attempt    int       `json:"attempt,omitempty"`
	Detail     string    `json:"detail,omitempty"` // words a person can act on
}

// MessageSearch finds records for the operator console, through indexes the store keeps
// for that purpose (bounded time and memory per query whatever the number of records).
type MessageSearch interface {
	SearchMessages(ctx context.Context, q MessageQuery) (MessagePage, error)
	// MessageTimeline returns the events of one message, oldest first, or ErrNotFound.
	MessageTimeline(ctx context.Context, id string) ([]Event, error)
}
