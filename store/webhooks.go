package store

import (
	"context"
	"time"
)

// WebhookJob is one HTTP request to deliver: its body is fixed when it is queued, so every
// attempt sends the same bytes under the same idempotency key (ID).
type WebhookJob struct {
	// ID is the job's identity and the Idempotency-Key the receiver sees: dlr makes it from
	// the message id and the status reported.
	ID        string `json:"id"`
	MessageID string `json:"message_id,omitempty"`
	Account   string `json:"account,omitempty"`
	// URL, ContentType and Body are the request (always a POST).
	URL         string `json:"url"`
	ContentType string `json:"content_type"`
	Body        string `json:"body"`
	// Kind says what the payload is ("json", "form", "otp"), for logs and metrics.
	Kind string `json:"kind,omitempty"`

	// CreatedAt is when the job was first queued; Since starts the current retry window
	// (CreatedAt, or when it was last replayed from the dead-letter list).
	CreatedAt time.Time `json:"created_at"`
	Since     time.Time `json:"since"`
	// NextAt is when it is due; zero means now.
	NextAt time.Time `json:"next_at,omitzero"`
	// Attempts counts the requests made; LastError and LastStatus describe the last one.
	Attempts   int    `json:"attempts,omitempty"`
	LastError  string `json:"last_error,omitempty"`
	LastStatus int    `json:"last_status,omitempty"`
	// DeadAt is when it went to the dead-letter list (zero while it is queued).
	DeadAt time.Time `json:"dead_at,omitzero"`

	// Token identifies the claim (the store's queue entry); set by ClaimWebhooks, needed by
	// AckWebhooks, RetryWebhook and DeadWebhook. Not stored.
	Token string `json:"-"`
	// Event, if set, is the attempt's outcome for the message's timeline (MessageID's),
	// written by AckWebhooks, RetryWebhook or DeadWebhook in the same step. Not stored.
	Event *Event `json:"-"`
}

// Webhooks is the durable webhook queue: jobs due at a time, leased to one sender at a time,
// and a dead-letter list for those that never got through.
//
// A claim is a lease, not a removal: the job stays stored, due again when the lease ends, so
// a sender that dies mid-request loses nothing (the job is sent again, with the same ID).
//
// The queue does not deduplicate: a job is queued once per change worth reporting, because
// its producers queue it in the same atomic step as that change (SwapRecords, Settle). A job
// may still be sent twice (a sender that dies after the request, before the ack), always under
// the same ID, which receivers use as an idempotency key.
type Webhooks interface {
	// EnqueueWebhooks stores the jobs, each due at its NextAt (zero: now), and returns how
	// many it stored.
	EnqueueWebhooks(ctx context.Context, jobs ...*WebhookJob) (int, error)

	// ClaimWebhooks leases up to n jobs due by now, earliest first: none of them is handed
	// out again before now+lease. Leases run in real time (the Redis store measures them
	// with the server's clock), so callers pass time.Now().
	ClaimWebhooks(ctx context.Context, now time.Time, lease time.Duration, n int) ([]*WebhookJob, error)

	// AckWebhooks finishes delivered jobs (claimed ones: their Token says which), even when
	// the claim's lease ran out and another sender holds the job now: it was delivered, and
	// the other sender's attempt is a duplicate the receiver drops by the job's ID. Acking a
	// job that is no longer queued, or a token that names no job, does nothing. Acks from
	// concurrent callers share round trips.
	AckWebhooks(ctx context.Context, jobs ...*WebhookJob) error

	// RetryWebhook stores job (its Attempts, LastError, … as updated by the sender) due
	// again at `at`. It does nothing when the claim is no longer held (another sender took
	// the job over, or finished it).
	RetryWebhook(ctx context.Context, job *WebhookJob, at time.Time) error

	// DeadWebhook moves job (as updated) to the dead-letter list. It does nothing when the
	// claim is no longer held.
	DeadWebhook(ctx context.Context, job *WebhookJob) error

	// DeadWebhooks returns up to n dead letters, oldest first.
	DeadWebhooks(ctx context.Context, n int) ([]*WebhookJob, error)

	// ReplayWebhooks moves the dead letters with the given IDs (every dead letter when none
	// is given) back to the queue, due now, with a new retry window starting now. It returns
	// how many it moved.
	ReplayWebhooks(ctx context.Context, now time.Time, ids ...string) (int, error)

	// WebhookCounts counts queued (due or not, leased or not) and dead jobs.
	WebhookCounts(ctx context.Context) (WebhookCounts, error)
}

// WebhookCounts is the size of the webhook queue and dead-letter list.
type WebhookCounts struct {
	Queued int64
	Dead   int64
}
