package dlr

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
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
// (written by dispatch), the receipt log, unmatched receipts, and the webhook queue.
// *memstore.Store and *redisstore.Store implement it.
type Store interface {
	store.Records
	store.Receipts
	store.Webhooks
	store.ReceiptLog
}

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
	// MO handles deliver_sm that are not receipts (mobile-originated messages), from the
	// log, after the carrier was answered; its status is only logged. Nil: they are counted.
	MO smpp.DeliverHandlerFunc
	// Location is the zone receipt dates are read in. Default: IST.
	Location *time.Location
	// OnReceipt, if set, is called once per receipt applied (metrics).
	OnReceipt func(ReceiptEvent)
	Logger    zerolog.Logger
	// Now is the clock. Default: time.Now.
	Now func() time.Time
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

// Handler returns the deliver_sm handler for the binds of one carrier (dispatch's Receipts
// seam): each deliver_sm is appended to the receipt log and answered ESME_ROK once stored;
// ESME_RX_T_APPN only if the store fails, so the carrier sends it again. The handler returns
// at once (the answer comes from the append), so a session's workers never wait on the
// store; it waits only for room (MaxPending, MaxLag), and then its session stops reading.
func (c *Correlator) Handler(carrier string) smpp.Handler {
	return smpp.HandlerFunc(func(ctx context.Context, r *smpp.Request) {
		p, ok := r.PDU.(*smpp.DeliverSM)
		if !ok {
			_ = r.Respond(smpp.ESME_RINVCMDID, nil)
			return
		}
		body, err := smpp.EncodePDU(r.Header.Sequence, 0, p)
		if err != nil {
			// Decoded, so it encodes; if not, say so rather than acknowledge.
			c.log.Error().Err(err).Str("carrier", carrier).Msg("cannot log a deliver_sm; refused with a temporary error")
			_ = r.Respond(smpp.ESME_RX_T_APPN, nil)
			return
		}
		if !c.waitForRoom(ctx) {
			_ = r.Respond(smpp.ESME_RX_T_APPN, nil) // the session is closing: the carrier sends it again
			return
		}
		bind := ""
		if s := r.Session(); s != nil {
			bind = strconv.FormatUint(s.ID(), 10)
		}
		entry := &store.LoggedPDU{Carrier: carrier, Bind: bind, Body: body, At: c.o.Now()}
		r.Detach()
		go c.append(r, entry)
	})
}

// waitForRoom takes a pending token, first waiting while the log's backlog is past MaxLag.
// It reports false when ctx (the session) ended.
func (c *Correlator) waitForRoom(ctx context.Context) bool {
	if c.lagging() {
		c.stats.lagPauses.Add(1)
		c.log.Warn().Int64("backlog", c.lag.Load()).Int64("max_lag", c.o.MaxLag).Msg("receipt log backlog past max_lag: pausing receipt reading")
		t := time.NewTicker(100 * time.Millisecond)
		for c.lagging() {
			select {
			case <-ctx.Done():
				t.Stop()
				return false
			case <-t.C:
			}
		}
		t.Stop()
	}
	select {
	case c.pending <- struct{}{}:
		return true
	default:
	}
	c.stats.pendingPauses.Add(1)
	select {
	case c.pending <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

// lagging reports whether the backlog is past MaxLag, measuring it at most every 100ms.
func (c *Correlator) lagging() bool {
	c.lagMu.Lock()
	if time.Since(c.lagAt) >= 100*time.Millisecond {
		c.lagAt = time.Now()
		c.lagMu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		n, err := c.o.Store.ReceiptLogLen(ctx)
		cancel()
		if err == nil {
			c.lag.Store(n)
		}
	} else {
		c.lagMu.Unlock()
	}
	return c.lag.Load() > c.o.MaxLag
}

// append stores one entry and answers its deliver_sm.
func (c *Correlator) append(r *smpp.Request, e *store.LoggedPDU) {
	defer func() { <-c.pending }()
	ctx, cancel := context.WithTimeout(context.Background(), c.o.StoreTimeout)
	err := c.o.Store.AppendReceipts(ctx, e)
	cancel()
	if err != nil {
		c.stats.storeErrors.Add(1)
		c.log.Error().Err(err).Str("carrier", e.Carrier).Msg("receipt refused with a temporary error: store unavailable")
		_ = r.Respond(smpp.ESME_RX_T_APPN, nil)
		return
	}
	c.stats.logged.Add(1)
	_ = r.Respond(smpp.ESME_ROK, nil)
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
// (FAILED, REJECTED at submit), or nil when nobody wants one.
func (c *Correlator) FinalWebhook(rec *store.Record) *store.WebhookJob {
	target, mode := c.webhookOf(rec)
	if target == "" {
		c.stats.noWebhook.Add(1)
		return nil
	}
	c.stats.webhooksQueued.Add(1)
	return BuildJob(rec, target, mode, c.o.Now())
}

// toStored turns a parsed receipt into the form the store keeps.
func toStored(ci *carrierIDs, rc *smpp.Receipt, p *smpp.DeliverSM, now time.Time) *store.Receipt {
	st, final := statusOf(rc)
	r := &store.Receipt{ID: receiptID(ci.name, p), Carrier: ci.name, MessageID: trimID(rc.MessageID),
		Stat: rc.Stat, State: string(st), Err: rc.Err, Final: final, DoneAt: rc.DoneDate,
		Text: payloadText(p), ReceivedAt: now}
	if r.Stat == "" {
		r.Stat = rc.State.ReceiptStat()
	}
	if rc.HasNetworkError {
		r.NetworkError = fmt.Sprintf("%d/%d", rc.NetworkErrorType, rc.NetworkErrorCode)
		if r.Err == "" && st != store.StatusDelivered {
			r.Err = fmt.Sprintf("%03d", rc.NetworkErrorCode)
		}
	}
	if r.MessageID != "" {
		r.Key = ci.space.receiptKey(r.MessageID)
	}
	return r
}

// receiptID identifies a receipt by its content: a carrier's retransmission has the same id.
func receiptID(carrier string, p *smpp.DeliverSM) string {
	h := sha256.New()
	h.Write([]byte(carrier))
	h.Write([]byte{0})
	h.Write(p.Payload())
	for _, t := range p.TLVs {
		h.Write([]byte{0, byte(t.Tag >> 8), byte(t.Tag)})
		h.Write(t.Value)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func payloadText(p *smpp.DeliverSM) string {
	return strings.TrimRight(string(p.Payload()), "\x00")
}

// Start runs the applier: it reads the receipt log in batches and applies them. Any number of
// instances may apply the same log; each entry is applied by one (or, after a crash, again
// by another, which changes nothing twice).
func (c *Correlator) Start() {
	c.runMu.Lock()
	defer c.runMu.Unlock()
	if c.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel, c.done = cancel, make(chan struct{})
	go func() {
		defer close(c.done)
		c.run(ctx)
	}()
}

func (c *Correlator) run(ctx context.Context) {
	lastRetry := time.Time{}
	for ctx.Err() == nil {
		var batch []*store.LoggedPDU
		if time.Since(lastRetry) >= c.o.RetryEvery {
			lastRetry = time.Now()
			old, err := c.o.Store.ReclaimReceiptLog(ctx, c.consumer(), c.o.RetryEvery, c.o.Batch)
			if err != nil {
				c.storeTrouble(ctx, "taking waiting receipts from the log", err)
				continue
			}
			batch = old
		}
		if len(batch) < c.o.Batch {
			wait := c.o.RetryEvery / 2
			if len(batch) > 0 {
				wait = 0
			}
			fresh, err := c.o.Store.ReadReceiptLog(ctx, c.consumer(), c.o.Batch-len(batch), wait)
			if err != nil {
				c.storeTrouble(ctx, "reading the receipt log", err)
				continue
			}
			batch = append(batch, fresh...)
		}
		if len(batch) > 0 {
			if err := c.Apply(ctx, batch); err != nil {
				c.storeTrouble(ctx, "applying receipts", err)
			}
		}
	}
}

func (c *Correlator) storeTrouble(ctx context.Context, what string, err error) {
	if ctx.Err() != nil {
		return
	}
	c.stats.storeErrors.Add(1)
	c.log.Warn().Err(err).Msg(what + " failed: store unavailable; retrying")
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// Shutdown stops the applier after the batch in hand. Nothing is lost by stopping at any
// point: what is not acked stays in the log for any instance.
func (c *Correlator) Shutdown(ctx context.Context) error {
	c.runMu.Lock()
	cancel, done := c.cancel, c.done
	c.runMu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		c.runMu.Lock()
		c.cancel, c.done = nil, nil // Start may run it again
		c.runMu.Unlock()
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// item is one log entry being applied.
type item struct {
	e       *store.LoggedPDU
	r       *store.Receipt // nil for MO and unreadable entries
	carrier *carrierIDs
	keys    []store.IndexKey
	msgID   string
	part    int
	outcome string
	done    bool // finished: ack the entry
}

// Apply applies a batch of log entries and acks those whose effect is stored; the rest (a
// receipt whose message is not known yet, or a change the store refused) stay in the log
// for a later batch. Its error is a store failure: nothing of the failed step was acked.
func (c *Correlator) Apply(ctx context.Context, batch []*store.LoggedPDU) error {
	now := c.o.Now()
	items := make([]*item, 0, len(batch))
	var keys []store.IndexKey
	for _, e := range batch {
		it := c.decode(ctx, e, now)
		items = append(items, it)
		keys = append(keys, it.keys...)
	}
	// One round trip: every candidate key of every receipt.
	found, err := c.o.Store.LookupCarrierIDs(ctx, keys...)
	if err != nil {
		return fmt.Errorf("dlr: look up carrier ids: %w", err)
	}
	k := 0
	var ids []string
	seen := map[string]bool{}
	for _, it := range items {
		for _, f := range found[k : k+len(it.keys)] {
			if f.MsgID != "" && it.msgID == "" {
				it.msgID, it.part = f.MsgID, f.Part
			}
		}
		k += len(it.keys)
		if it.msgID != "" && !seen[it.msgID] {
			seen[it.msgID] = true
			ids = append(ids, it.msgID)
		}
	}
	if err := c.applyMatched(ctx, items, ids); err != nil {
		return err
	}
	var acks []string
	for _, it := range items {
		if it.r != nil && !it.done && it.msgID == "" {
			c.unknownYet(ctx, it, now)
		}
		if !it.done {
			continue
		}
		acks = append(acks, it.e.Token)
		// Counted here, once the outcome is stored (a change that lost a compare-and-set
		// was applied again).
		switch it.outcome {
		case OutcomeMatched:
			c.stats.matched.Add(1)
			if it.e.Deliveries > 1 {
				c.stats.earlyMatched.Add(1)
			}
		case OutcomeDuplicate:
			c.stats.duplicates.Add(1)
		}
		if c.o.OnReceipt != nil && it.outcome != "" {
			ev := ReceiptEvent{Carrier: it.carrier.name, Outcome: it.outcome, Latency: now.Sub(it.e.At)}
			if it.r != nil {
				ev.Status = store.Status(it.r.State)
			}
			c.o.OnReceipt(ev)
		}
	}
	if err := c.o.Store.AckReceiptLog(ctx, acks...); err != nil {
		return fmt.Errorf("dlr: ack receipt log: %w", err)
	}
	return nil
}

// decode reads one log entry: a receipt to correlate (with its lookup keys), or an MO or
// unreadable entry finished here.
func (c *Correlator) decode(ctx context.Context, e *store.LoggedPDU, now time.Time) *item {
	it := &item{e: e, carrier: c.carrier(e.Carrier)}
	_, pdu, err := smpp.DecodePDU(e.Body)
	p, ok := pdu.(*smpp.DeliverSM)
	if err != nil || !ok {
		c.malformed(ctx, it, &smpp.DeliverSM{}, fmt.Errorf("log entry is not a deliver_sm: %v", err))
		return it
	}
	if !smpp.IsReceipt(p) {
		c.stats.mo.Add(1)
		if c.o.MO != nil {
			if st := c.o.MO(ctx, nil, p); st != smpp.ESME_ROK {
				c.log.Warn().Str("carrier", e.Carrier).Str("status", st.String()).Msg("MO handler failed after the carrier was answered")
			}
		}
		it.done = true
		return it
	}
	rc, err := smpp.ParseReceipt(p, c.o.Location)
	if err != nil {
		c.malformed(ctx, it, p, err)
		return it
	}
	it.r = toStored(it.carrier, rc, p, e.At)
	if e.Deliveries <= 1 {
		c.stats.count(e.Carrier, store.Status(it.r.State))
	}
	for _, lk := range it.carrier.space.candidates(it.carrier.name, it.r.MessageID) {
		it.keys = append(it.keys, store.IndexKey{Carrier: lk.ns, ID: lk.key})
	}
	if it.r.MessageID == "" {
		it.keys = nil
	}
	return it
}

// malformed files an unreadable receipt as unmatched (finished), or leaves it in the log if
// the store cannot take it.
func (c *Correlator) malformed(ctx context.Context, it *item, p *smpp.DeliverSM, why error) {
	r := &store.Receipt{ID: receiptID(it.carrier.name, p), Carrier: it.carrier.name, Text: payloadText(p),
		ReceivedAt: it.e.At, Note: "unreadable receipt: " + why.Error()}
	if len(it.e.Body) > 0 && p.ShortMessage == nil {
		r.Text = fmt.Sprintf("%x", it.e.Body)
	}
	if err := c.o.Store.Unmatch(ctx, r, c.o.UnmatchedTTL); err != nil {
		c.log.Warn().Err(err).Msg("could not file an unreadable receipt; it stays in the log")
		return
	}
	c.stats.malformed.Add(1)
	c.log.Warn().Str("carrier", it.carrier.name).Str("receipt", r.ID).Msg("unreadable receipt kept as unmatched")
	it.outcome, it.done = OutcomeMalformed, true
}

// unknownYet handles a receipt no index entry matched: it waits in the log while it is
// younger than EarlyWindow (its submit_sm_resp may not be stored yet), then it is filed as
// unmatched.
func (c *Correlator) unknownYet(ctx context.Context, it *item, now time.Time) {
	switch {
	case it.r.MessageID == "":
		c.unmatch(ctx, it, "receipt without a message id")
	case now.Sub(it.e.At) < c.o.EarlyWindow:
		if it.e.Deliveries <= 1 {
			c.stats.early.Add(1)
		}
	default:
		c.unmatch(ctx, it, "no message with this carrier message id")
	}
}

func (c *Correlator) unmatch(ctx context.Context, it *item, note string) {
	r := *it.r
	r.Note = note
	if err := c.o.Store.Unmatch(ctx, &r, c.o.UnmatchedTTL); err != nil {
		c.log.Warn().Err(err).Str("receipt", r.ID).Msg("could not file an unmatched receipt; it stays in the log")
		return
	}
	c.stats.unmatched.Add(1)
	c.log.Warn().Str("carrier", r.Carrier).Str("carrier_msg_id", r.MessageID).Str("stat", r.Stat).Str("note", note).
		Msg("receipt matched no message; kept as unmatched")
	it.outcome, it.done = OutcomeUnmatched, true
}

// applyMatched reads the records of the matched receipts (one round trip), applies each
// message's receipts in log order, and stores the changed records with their webhooks by
// compare-and-set (one round trip), applying again on top of what another writer stored.
func (c *Correlator) applyMatched(ctx context.Context, items []*item, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	recs, err := c.o.Store.GetRecords(ctx, ids...)
	if err != nil {
		return fmt.Errorf("dlr: read records: %w", err)
	}
	byMsg := make(map[string][]*item, len(ids))
	for _, it := range items {
		if it.msgID != "" {
			byMsg[it.msgID] = append(byMsg[it.msgID], it)
		}
	}
	current := make(map[string]*store.Record, len(ids))
	for i, id := range ids {
		current[id] = recs[i]
	}
	becameFinal := map[string]bool{} // counted (webhook queued, or none wanted) once stored
	for round := 0; len(current) > 0 && round < 8; round++ {
		var changes []store.RecordChange
		var changed []string
		for _, id := range ids {
			rec, ok := current[id]
			if !ok {
				continue
			}
			if rec == nil {
				for _, it := range byMsg[id] {
					c.unmatch(ctx, it, "the message's record is gone (expired?)")
				}
				delete(current, id)
				continue
			}
			next, job, final := c.applyAll(rec, byMsg[id])
			if next == nil {
				delete(current, id) // nothing changes: duplicates, or not submitted yet
				continue
			}
			changes = append(changes, store.RecordChange{Record: next, Webhook: job})
			changed = append(changed, id)
			becameFinal[id] = final
		}
		if len(changes) == 0 {
			return nil
		}
		res, err := c.o.Store.SwapRecords(ctx, changes...)
		if err != nil {
			for _, id := range changed {
				for _, it := range byMsg[id] {
					it.done, it.outcome = false, ""
				}
			}
			return fmt.Errorf("dlr: store receipts: %w", err)
		}
		for i, r := range res {
			id := changed[i]
			switch {
			case r.Stored:
				if changes[i].Webhook != nil {
					c.stats.webhooksQueued.Add(1)
				} else if becameFinal[id] {
					c.stats.noWebhook.Add(1)
				}
				delete(current, id)
			case r.Current != nil:
				current[id] = r.Current // another writer was first: apply again on top
				for _, it := range byMsg[id] {
					it.done, it.outcome = false, ""
				}
			default:
				for _, it := range byMsg[id] {
					it.done, it.outcome = false, ""
					c.unmatch(ctx, it, "the message's record is gone (expired?)")
				}
				delete(current, id)
			}
		}
	}
	return nil
}

// applyAll applies a message's receipts to a copy of rec, marking each item's outcome. It
// returns the changed record (Rev+1), or nil when nothing changes; whether the message became
// final; and then its webhook job (nil when nobody wants one).
func (c *Correlator) applyAll(rec *store.Record, its []*item) (*store.Record, *store.WebhookJob, bool) {
	if rec.Parts == 0 && len(rec.CarrierIDs) == 0 {
		// Not settled as submitted (the index entry is stale, or the record was replaced):
		// leave the receipts waiting; they become unmatched after EarlyWindow.
		for _, it := range its {
			it.msgID = ""
		}
		return nil, nil, false
	}
	next := *rec
	next.Meta = maps.Clone(rec.Meta) // encodeParts makes one if there is none
	parts := decodeParts(&next)
	_, wasFinal, _ := combine(parts, c.o.Combine)
	changed := false
	for _, it := range its {
		for len(parts) <= it.part {
			parts = append(parts, partState{})
		}
		old := parts[it.part]
		if old.Final || !it.r.Final && old.S != "" {
			it.outcome, it.done = OutcomeDuplicate, true
			continue
		}
		parts[it.part] = stateOf(it.r)
		it.outcome, it.done = OutcomeMatched, true
		changed = true
	}
	if !changed {
		return nil, nil, false
	}
	encodeParts(&next, parts)
	var job *store.WebhookJob
	// Once receipts made the message final its status stays (its webhook is queued); later
	// parts only fill in their own state.
	st, final, i := combine(parts, c.o.Combine)
	becameFinal := final && !wasFinal
	if becameFinal {
		next.Status = st
		next.StatusAt = timeMax(time.UnixMilli(parts[i].At), rec.SentAt)
		next.ErrorCode, next.Reason = errorCode(parts[i]), reason(its[0].carrier.spec, parts[i])
		if target, mode := c.webhookOf(&next); target != "" {
			job = BuildJob(&next, target, mode, c.o.Now())
		}
	}
	next.Rev = rec.Rev + 1
	return &next, job, becameFinal
}

// webhookOf returns where and how rec's webhook goes: the message carries both (the api
// sets them at accept, from the account and the request), so a receipt needs no lookup and
// a message keeps the webhook it was accepted with.
func (c *Correlator) webhookOf(rec *store.Record) (string, string) {
	target, mode := rec.Meta[MetaWebhookURL], rec.Meta[MetaWebhookMode]
	if rec.Meta[MetaOTP] == "1" {
		mode = ModeOTP
	}
	if mode != ModeForm && mode != ModeOTP {
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
