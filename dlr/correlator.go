package dlr

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/smppd/smppd/dispatch"
	"github.com/smppd/smppd/dlt"
	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/store"
)

// The correlator is dispatch's one seam to receipts: it serves the carriers' deliver_sm,
// indexes submitted parts, and builds the webhooks of messages dispatch makes final.
var _ dispatch.Receipts = (*Correlator)(nil)

// Store is what the correlator keeps its state in: status records and the carrier id index
// (written by dispatch), the receipt log, unmatched receipts, and the webhook queue. Every
// store.Store is one.
type Store interface {
	store.Records
	store.Receipts
	store.Webhooks
	store.ReceiptLog
}

var _ Store = store.Store(nil)

// CarrierIDs says how one carrier writes message ids, and how its receipts' err: codes read.
type CarrierIDs struct {
	Name   string
	Format Format
	// DLT is the carrier's DLT spec: its Codes table names err: values (default table
	// otherwise).
	DLT dlt.CarrierSpec
}

// CorrelatorOptions configure a Correlator. Zero values give the documented defaults.
type CorrelatorOptions struct {
	Store Store
	// Carriers lists the carriers' id formats. A carrier not listed is FormatAsIs.
	Carriers []CarrierIDs
	// EarlyWindow is how long a receipt that matches no message waits in the log for its
	// submit_sm_resp to be stored before it is filed as unmatched. Default: 2 minutes.
	EarlyWindow time.Duration
	// Combine is the multipart rule. Default: CombineAllDelivered.
	Combine Combine
	// UnmatchedTTL is how long unmatched receipts are kept for inspection. Default: 7 days.
	UnmatchedTTL time.Duration
	// StoreTimeout bounds the append of one receipt to the log; past it (the store is down)
	// the receipt is refused with ESME_RX_T_APPN and the carrier sends it again. The append
	// runs on its own context: a link that closes meanwhile does not cancel it. Default: 5s.
	StoreTimeout time.Duration
	// RetryEvery is how often receipts waiting for their message (and entries a dead
	// instance read and never finished) are taken from the log again. Default: 500ms.
	RetryEvery time.Duration
	// Batch is how many log entries are correlated together (one round trip for the index,
	// one for the records, one for the changes). Default: 512.
	Batch int
	// MaxPending bounds the receipts being appended to the log at once, over all binds. A
	// receipt beyond it waits for room before it is read further: the session stops reading
	// (its peer's window fills) instead of refusing anything. Default: 16384.
	MaxPending int
	// MaxLag bounds the log entries not yet applied (correlation far behind, or the store
	// slow to apply): past it, receipt handlers wait — and their sessions stop reading —
	// until the backlog is below it again. It is overload protection, metered as LagPauses;
	// nothing is refused. Default: 1,000,000.
	MaxLag int64
	// Member, if set, gives the name to read the receipt log under: the instance's current
	// incarnation (store/liveness.Keeper), so that a dead incarnation's unfinished entries
	// are taken over at once and its name leaves the group. Nil: Consumer.
	Member interface{ Consumer() string }
	// Consumer names this correlator in the receipt log's consumer group. Default: host
	// name, process id and a random suffix.
	Consumer string
	// MO handles deliver_sm that are not receipts (mobile-originated messages) that
	// RouteMO does not route to a client, from the log, after the carrier was answered; its
	// status is only logged. Nil: they are counted (Stats.MOUnrouted).
	MO smpp.DeliverHandlerFunc
	// RouteMO says which client account owns an MO's destination (a short code or long
	// number of an SMPP front account: dest is the deliver_sm's destination address as the
	// carrier wrote it). When it answers ok, the MO becomes a job to ClientTarget(account)
	// with a ClientReceipt{MO: true} body, queued before its log entry is acked — the
	// carrier was answered once the entry was stored, so the MO is durable throughout; an
	// entry applied twice (a crash between the two) queues the job again under the same id.
	// Nil, or not ok: the MO goes to MO, as before.
	RouteMO func(dest string) (account string, ok bool)
	// Location is the zone receipt dates are read in. Default: IST.
	Location *time.Location
	// OnReceipt, if set, is called once per receipt applied (metrics).
	OnReceipt func(ReceiptEvent)
	Logger    zerolog.Logger
	// Now is the clock. Default: time.Now.
	Now func() time.Time
}

// WithDefaults returns o with every zero field that has a documented default set to it:
// what NewCorrelator runs with.
func (o CorrelatorOptions) WithDefaults() CorrelatorOptions {
	o.setDefaults()
	return o
}

func (o *CorrelatorOptions) setDefaults() {
	if o.EarlyWindow <= 0 {
		o.EarlyWindow = 2 * time.Minute
	}
	if o.Combine == "" {
		o.Combine = CombineAllDelivered
	}
	if o.UnmatchedTTL <= 0 {
		o.UnmatchedTTL = store.DefaultUnmatchedTTL
	}
	if o.StoreTimeout <= 0 {
		o.StoreTimeout = 5 * time.Second
	}
	if o.RetryEvery <= 0 {
		o.RetryEvery = 500 * time.Millisecond
	}
	if o.Batch <= 0 {
		o.Batch = 512
	}
	if o.MaxPending <= 0 {
		o.MaxPending = 16384
	}
	if o.MaxLag <= 0 {
		o.MaxLag = 1_000_000
	}
	if o.Consumer == "" {
		o.Consumer = store.ConsumerName()
	}
	if o.Location == nil {
		o.Location = dlt.IST
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// ReceiptEvent describes one receipt applied from the log.
type ReceiptEvent struct {
	Carrier string
	// Status is what the receipt said (DELIVERED, UNDELIVERED, …; SUBMITTED for an
	// intermediate one); empty for an unreadable receipt.
	Status store.Status
	// Outcome is "matched", "duplicate", "unmatched" or "malformed".
	Outcome string
	// Latency is the time from the deliver_sm's arrival to its effect being stored.
	Latency time.Duration
}

// Outcomes of ReceiptEvent.
const (
	OutcomeMatched   = "matched"
	OutcomeDuplicate = "duplicate"
	OutcomeUnmatched = "unmatched"
	OutcomeMalformed = "malformed"
)

// Correlator matches delivery receipts to messages, keeps their status, and queues their
// webhooks, in two decoupled halves:
//
//   - The handler (Handler) appends each deliver_sm, as received, to the store's receipt log
//     and answers ESME_ROK once it is stored — the cheapest durable write there is, shared
//     by many receipts in one round trip. A receipt is refused (ESME_RX_T_APPN) only when the
//     store is down.
//   - The applier (Start) reads the log in batches, on any instance: it looks the receipts'
//     carrier ids up (one round trip), reads their records (one), changes them by
//     compare-and-set together with their webhook jobs (one), and acks the log entries. A
//     receipt whose message is not known yet (it came before the submit_sm_resp was stored)
//     stays in the log and is tried again every RetryEvery, until EarlyWindow.
//
// Correlation falling behind never makes a carrier wait, except past MaxLag.
type Correlator struct {
	o        CorrelatorOptions
	carriers map[string]*carrierIDs
	log      zerolog.Logger
	stats    corrStats

	pending chan struct{} // a token per receipt being appended (MaxPending)
	lag     atomic.Int64  // last measured backlog of the log
	lagMu   sync.Mutex
	lagAt   time.Time

	runMu  sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

type carrierIDs struct {
	name  string
	space idSpace
	spec  dlt.CarrierSpec
}

// NewCorrelator checks o and returns a correlator; Start runs its applier.
func NewCorrelator(o CorrelatorOptions) (*Correlator, error) {
	o.setDefaults()
	if o.Store == nil {
		return nil, errors.New("dlr: CorrelatorOptions.Store is required")
	}
	switch o.Combine {
	case CombineAllDelivered, CombineFirst, CombineLast:
	default:
		return nil, fmt.Errorf("dlr: combine rule %q: want %s, %s or %s", o.Combine, CombineAllDelivered, CombineFirst, CombineLast)
	}
	c := &Correlator{o: o, carriers: map[string]*carrierIDs{}, log: o.Logger.With().Str("component", "dlr").Logger(),
		pending: make(chan struct{}, o.MaxPending)}
	for i, ci := range o.Carriers {
		if ci.Name == "" {
			return nil, fmt.Errorf("dlr: carriers[%d]: name is required", i)
		}
		sb, rb, err := ci.Format.bases()
		if err != nil {
			return nil, fmt.Errorf("dlr: carrier %s: %w", ci.Name, err)
		}
		c.carriers[ci.Name] = &carrierIDs{name: ci.Name, space: idSpace{sb, rb}, spec: ci.DLT}
	}
	return c, nil
}

func (c *Correlator) carrier(name string) *carrierIDs {
	if ci := c.carriers[name]; ci != nil {
		return ci
	}
	return &carrierIDs{name: name}
}

// IndexEntries implements dispatch.Receipts: a submitted part is indexed under the carrier
// message id as given and, when the carrier's receipts spell ids differently (another base,
// leading zeros, case), under the normalised form receipts are looked up by.
func (c *Correlator) IndexEntries(carrier, carrierMsgID, msgID string, part int) []store.IndexEntry {
	out := []store.IndexEntry{{IndexKey: store.IndexKey{Carrier: carrier, ID: carrierMsgID}, MsgID: msgID, Part: part}}
	ci := c.carrier(carrier)
	if key, numeric := ci.space.submitKey(carrierMsgID); numeric && (ci.space.cross() || key != trimID(carrierMsgID)) {
		out = append(out, store.IndexEntry{IndexKey: store.IndexKey{Carrier: canonicalNamespace(carrier), ID: key}, MsgID: msgID, Part: part})
	}
	return out
}

// FinalWebhook implements dispatch.Receipts: the webhook of a message dispatch made final
// (FAILED, REJECTED at submit), or nil when nobody wants one. A ModeSMPP message gets its
// combined ClientReceipt job (REJECTD or UNDELIV), also when it asked for receipts per part:
// no part of it reached a carrier.
func (c *Correlator) FinalWebhook(rec *store.Record) *store.WebhookJob {
	target, mode := c.webhookOf(rec)
	if target == "" {
		c.stats.noWebhook.Add(1)
		return nil
	}
	c.stats.webhooksQueued.Add(1)
	return BuildJob(rec, target, mode, c.o.Now())
}

// webhookOf returns where and how rec's webhook goes: the message carries both (the api
// sets them at accept, from the account and the request), so a receipt needs no lookup and
// a message keeps the webhook it was accepted with.
func (c *Correlator) webhookOf(rec *store.Record) (string, string) {
	target, mode := rec.Meta[MetaWebhookURL], rec.Meta[MetaWebhookMode]
	switch {
	case mode == ModeSMPP:
		// The front's messages: the receipt goes back over SMPP whatever else Meta says.
	case rec.Meta[MetaOTP] == "1":
		mode = ModeOTP
	case mode != ModeForm:
		mode = ModeJSON
	}
	return target, mode
}

// Unmatched returns up to n receipts that matched nothing, newest first, for inspection.
func (c *Correlator) Unmatched(ctx context.Context, n int) ([]*store.Receipt, error) {
	return c.o.Store.Unmatched(ctx, n)
}

// consumer is the name to read the receipt log under now.
func (c *Correlator) consumer() string {
	if c.o.Member != nil {
		return c.o.Member.Consumer()
	}
	return c.o.Consumer
}
