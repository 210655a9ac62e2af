package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
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

// Search limits.
const (
	DefaultSearchLimit = 50
	MaxSearchLimit     = 500
	MinSuffixDigits    = 4
	MaxSuffixDigits    = 10
)

// ErrBadQuery wraps every reason SearchMessages refuses a query (callers answer 400).
var ErrBadQuery = errors.New("store: bad search query")

// MessagePage is one page of a search, newest first. Next is empty on the last page. A
// page may hold fewer than Limit records and still have a Next: a store examines a bounded
// number of index entries per page (so a query costs bounded time whatever the number of
// records), and when the filters (account, a suffix longer than the store's bucket) drop
// most of them, the page ends early; Next continues where it stopped.
type MessagePage struct {
	Records []*Record
	Next    string
}

// SearchScan is how many index entries a store examines at most for one page, per record
// asked for (Limit), and in all.
const (
	SearchScanPerRecord = 20
	SearchScanMax       = 10000
)

// SearchPlan is a checked MessageQuery, as both stores execute it: the bounds in Unix
// milliseconds, [MinMs, MaxMs] inclusive, and the cursor's position.
type SearchPlan struct {
	MessageQuery
	MinMs, MaxMs int64
	// After is set when the query continues a page: entries at or after (CursorMs,
	// CursorID) in newest-first order were returned already.
	After    bool
	CursorMs int64
	CursorID string
	Budget   int // index entries to examine at most
}

// PlanSearch checks q against now and the records' lifetime ttl (<= 0: DefaultRecordTTL).
func PlanSearch(q MessageQuery, now time.Time, ttl time.Duration) (SearchPlan, error) {
	if ttl <= 0 {
		ttl = DefaultRecordTTL
	}
	set := 0
	for _, s := range []string{q.ID, q.To, q.ToSuffix} {
		if s != "" {
			set++
		}
	}
	if set != 1 {
		return SearchPlan{}, fmt.Errorf("%w: exactly one of id, to and suffix", ErrBadQuery)
	}
	if q.To != "" && !allDigits(q.To) {
		return SearchPlan{}, fmt.Errorf("%w: to must be digits", ErrBadQuery)
	}
	if q.ToSuffix != "" && (!allDigits(q.ToSuffix) || len(q.ToSuffix) < MinSuffixDigits || len(q.ToSuffix) > MaxSuffixDigits) {
		return SearchPlan{}, fmt.Errorf("%w: suffix must be %d to %d digits", ErrBadQuery, MinSuffixDigits, MaxSuffixDigits)
	}
	switch {
	case q.Limit < 0 || q.Limit > MaxSearchLimit:
		return SearchPlan{}, fmt.Errorf("%w: limit must be 0 to %d", ErrBadQuery, MaxSearchLimit)
	case q.Limit == 0:
		q.Limit = DefaultSearchLimit
	}
	p := SearchPlan{MessageQuery: q, MinMs: now.Add(-ttl).UnixMilli(), MaxMs: now.UnixMilli()}
	if !q.Since.IsZero() {
		p.MinMs = max(p.MinMs, q.Since.UnixMilli())
	}
	if !q.Until.IsZero() {
		p.MaxMs = min(p.MaxMs, q.Until.UnixMilli()-1)
	}
	if q.Cursor != "" {
		ms, id, ok := ParseCursor(q.Cursor)
		if !ok {
			return SearchPlan{}, fmt.Errorf("%w: malformed cursor", ErrBadQuery)
		}
		p.After, p.CursorMs, p.CursorID = true, ms, id
		p.MaxMs = min(p.MaxMs, ms)
	}
	p.Budget = min(q.Limit*SearchScanPerRecord, SearchScanMax)
	return p, nil
}

// Seen reports whether an index entry (acceptance ms, id) was on an earlier page.
func (p *SearchPlan) Seen(ms int64, id string) bool {
	return p.After && (ms > p.CursorMs || ms == p.CursorMs && id >= p.CursorID)
}

// Keep reports whether a record matches the query's filters (the index found it by number
// or bucket; this checks the rest: id, account, full suffix, time range).
func (p *SearchPlan) Keep(r *Record) bool {
	if r == nil {
		return false
	}
	ms := r.AcceptedAt.UnixMilli()
	switch {
	case p.ID != "" && r.ID != p.ID,
		p.To != "" && r.To != p.To,
		p.ToSuffix != "" && !strings.HasSuffix(r.To, p.ToSuffix),
		p.Account != "" && r.Account != p.Account,
		ms < p.MinMs || ms > p.MaxMs,
		p.Seen(ms, r.ID):
		return false
	}
	return true
}

// Cursor is the opaque position of a page's last entry: its acceptance time and id.
func Cursor(acceptedMs int64, id string) string {
	return strconv.FormatInt(acceptedMs, 10) + "." + id
}

// ParseCursor reads a Cursor.
func ParseCursor(c string) (ms int64, id string, ok bool) {
	i := strings.IndexByte(c, '.')
	if i <= 0 || i == len(c)-1 {
		return 0, "", false
	}
	ms, err := strconv.ParseInt(c[:i], 10, 64)
	if err != nil || ms < 0 {
		return 0, "", false
	}
	return ms, c[i+1:], true
}

// SuffixBucket is the index bucket of a destination: its last MinSuffixDigits digits, or ""
// for a shorter one (not indexed by suffix).
func SuffixBucket(to string) string {
	if len(to) < MinSuffixDigits {
		return ""
	}
	return to[len(to)-MinSuffixDigits:]
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// EventKind names a step of a message's life.
type EventKind string

const (
	EventAccepted  EventKind = "accepted"  // stored by the API or the SMPP front
	EventQueued    EventKind = "queued"    // waiting in a carrier's queue (or scheduled; or deferred: Detail)
	EventSubmitted EventKind = "submitted" // submit_sm_resp: Carrier, Bind, CarrierID, Part, Err
	EventRetry     EventKind = "retry"     // a temporary failure; sent again later (Err, Detail, Attempt)
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
	Part       int       `json:"part,omitempty"` // 0-based, as in the carrier id index: 0 is the first (or only) part
	Status     Status    `json:"status,omitempty"`
	Stat       string    `json:"stat,omitempty"` // a receipt's raw stat:
	Err        string    `json:"err,omitempty"`  // a receipt's raw err:, or a command_status
	URL        string    `json:"url,omitempty"`
	HTTPStatus int       `json:"http_status,omitempty"`
	Attempt    int       `json:"attempt,omitempty"`
	Detail     string    `json:"detail,omitempty"` // words a person can act on
	// Chain is the chain TLV's value the message went out with (the PE-TM chain hash in
	// hex, or the raw chain), on the submitted event of its first part.
	Chain string `json:"chain,omitempty"`
}

// MaxTimelineEvents bounds a message's timeline: the stores keep the accepting events and
// the newest events up to this many in all.
const MaxTimelineEvents = 64

// AcceptEvents are the events a store writes for a record it accepts (Accepter.Accept):
// accepted, then queued (with the scheduled time when the message waits for one).
func AcceptEvents(r *Record, m *Message, now time.Time) []Event {
	evs := []Event{{At: r.AcceptedAt, Kind: EventAccepted, Status: StatusAccepted}}
	if evs[0].At.IsZero() {
		evs[0].At = now
	}
	q := Event{At: now, Kind: EventQueued, Carrier: r.Carrier, Status: r.Status}
	if m != nil && m.SendAt.After(now) {
		q.Detail = "scheduled for " + m.SendAt.UTC().Format(time.RFC3339)
	}
	return append(evs, q)
}

// RecordEvents is the timeline a store shows for a record that has no events of its own
// (written before timelines existed): its acceptance and its current status.
func RecordEvents(r *Record) []Event {
	evs := []Event{{At: r.AcceptedAt, Kind: EventAccepted, Status: StatusAccepted}}
	if r.Status != StatusAccepted && !r.StatusAt.IsZero() {
		kind := EventQueued
		switch {
		case r.Status.Final():
			kind = EventFinal
		case r.Status == StatusSubmitted:
			kind = EventSubmitted
		}
		evs = append(evs, Event{At: r.StatusAt, Kind: kind, Status: r.Status, Carrier: r.Carrier, Err: r.ErrorCode, Detail: r.Reason})
	}
	return evs
}

// CompleteTimeline returns a message's stored events completed from its record: a record
// without events gets RecordEvents; a final record whose timeline has no final event (its
// writer wrote none: a cancel, a tool's UpdateRecord) gets one from the record.
func CompleteTimeline(evs []Event, r *Record) []Event {
	if len(evs) == 0 {
		return RecordEvents(r)
	}
	if r.Status.Final() {
		for _, e := range evs {
			if e.Kind == EventFinal {
				return evs
			}
		}
		evs = append(evs, Event{At: r.StatusAt, Kind: EventFinal, Status: r.Status, Carrier: r.Carrier, Err: r.ErrorCode, Detail: r.Reason})
	}
	return evs
}

// MessageSearch finds records for the operator console, through indexes the store keeps
// for that purpose (bounded time and memory per query whatever the number of records).
//
// Events are written by the store operations that change a message, in the same atomic step
// (no extra round trip): Accept writes accepted and queued; Settle its Settlement.Events;
// SwapRecords each RecordChange's Events when the change is stored; Defer the Claim's Event;
// AckWebhooks, RetryWebhook and DeadWebhook the job's Event.
type MessageSearch interface {
	// SearchMessages returns one page of records, newest first by acceptance time (then
	// by id). A query that is not valid returns an error wrapping ErrBadQuery.
	SearchMessages(ctx context.Context, q MessageQuery) (MessagePage, error)
	// MessageTimeline returns the events of one message, oldest first, or ErrNotFound.
	MessageTimeline(ctx context.Context, id string) ([]Event, error)
}
