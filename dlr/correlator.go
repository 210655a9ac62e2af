package dlr

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/smppd/smppd/dlt"
	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/store"
)

// Store is what the correlator keeps its state in: status records and the carrier id index
// (written by dispatch), parked and unmatched receipts, and the webhook queue.
// *memstore.Store and *redisstore.Store implement it.
type Store interface {
	store.Records
	store.Receipts
	store.Webhooks
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
	// EarlyWindow is how long a receipt that matches no message yet is parked, waiting for
	// its submit_sm_resp, before it is filed as unmatched. Default: 2 minutes.
	EarlyWindow time.Duration
	// Combine is the multipart rule. Default: CombineAllDelivered.
	Combine Combine
	// IndexTTL is how long normalised ids indexed by OnSubmitted live. Default: 72h, as
	// dispatch's own index.
	IndexTTL time.Duration
	// UnmatchedTTL is how long unmatched receipts are kept for inspection. Default: 7 days.
	UnmatchedTTL time.Duration
	// StoreTimeout bounds the store work for one receipt; past it the receipt is refused
	// with ESME_RX_T_APPN and the carrier sends it again. Default: 5s.
	StoreTimeout time.Duration
	// SweepEvery is how often parked receipts whose window ran out are looked at again.
	// Default: 1s.
	SweepEvery time.Duration
	// AccountWebhook returns an account's default webhook URL and mode ("json" or "form");
	// a message's MetaWebhookURL wins over it. Nil: only messages that name a URL get one.
	AccountWebhook func(account string) (url, mode string)
	// CarrierOf names the carrier of a session, for DeliverHandler (the one handler for
	// every carrier). Not needed with Handler(carrier).
	CarrierOf func(*smpp.Session) string
	// MO handles deliver_sm that are not receipts (mobile-originated messages). Nil: they
	// are acknowledged and counted, nothing else.
	MO smpp.DeliverHandlerFunc
	// Location is the zone receipt dates are read in. Default: IST.
	Location *time.Location
	// OnReceipt, if set, is called once per receipt handled (metrics).
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
	if o.IndexTTL <= 0 {
		o.IndexTTL = store.DefaultIndexTTL
	}
	if o.UnmatchedTTL <= 0 {
		o.UnmatchedTTL = store.DefaultUnmatchedTTL
	}
	if o.StoreTimeout <= 0 {
		o.StoreTimeout = 5 * time.Second
	}
	if o.SweepEvery <= 0 {
		o.SweepEvery = time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// ReceiptEvent describes one handled receipt.
type ReceiptEvent struct {
	Carrier string
	// Status is what the receipt said (DELIVERED, UNDELIVERED, …; SUBMITTED for an
	// intermediate one); empty for an unreadable receipt.
	Status store.Status
	// Outcome is "matched", "duplicate", "early" (parked), "unmatched", "malformed" or
	// "error" (store trouble: refused with ESME_RX_T_APPN).
	Outcome string
	// Latency is the time from the deliver_sm to its answer.
	Latency time.Duration
}

// Outcomes of ReceiptEvent.
const (
	OutcomeMatched   = "matched"
	OutcomeDuplicate = "duplicate"
	OutcomeEarly     = "early"
	OutcomeUnmatched = "unmatched"
	OutcomeMalformed = "malformed"
	OutcomeError     = "error"
)

// Correlator matches delivery receipts to messages, keeps their status, and queues their
// webhooks. It is safe for concurrent use by every bind of every carrier, on any number of
// smppd instances sharing a store.
type Correlator struct {
	o        CorrelatorOptions
	carriers map[string]*carrierIDs
	log      zerolog.Logger
	stats    corrStats

	runMu  sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

type carrierIDs struct {
	name  string
	space idSpace
	spec  dlt.CarrierSpec
}

// NewCorrelator checks o and returns a correlator; Start runs its sweeper.
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
	c := &Correlator{o: o, carriers: map[string]*carrierIDs{}, log: o.Logger.With().Str("component", "dlr").Logger()}
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

// Handler returns the deliver_sm handler for the binds of one carrier: receipts are stored
// (status and webhook job) before deliver_sm_resp says ESME_ROK; when the store cannot take
// them the answer is ESME_RX_T_APPN, so the carrier sends them again.
func (c *Correlator) Handler(carrier string) smpp.Handler {
	return smpp.DeliverHandlerFunc(func(ctx context.Context, _ *smpp.Session, p *smpp.DeliverSM) smpp.CommandStatus {
		return c.HandleDeliver(ctx, carrier, p)
	})
}

// DeliverHandler returns one handler for every carrier, naming the carrier of each session
// with CorrelatorOptions.CarrierOf. Without CarrierOf it refuses every deliver_sm with a
// temporary error (nothing is lost: carriers send again).
func (c *Correlator) DeliverHandler() smpp.Handler {
	return smpp.DeliverHandlerFunc(func(ctx context.Context, s *smpp.Session, p *smpp.DeliverSM) smpp.CommandStatus {
		if c.o.CarrierOf == nil {
			c.log.Error().Msg("DeliverHandler without CorrelatorOptions.CarrierOf: refusing deliver_sm")
			return smpp.ESME_RX_T_APPN
		}
		return c.HandleDeliver(ctx, c.o.CarrierOf(s), p)
	})
}

// errStore marks store failures: the receipt is refused with a temporary error.
type errStore struct{ err error }

func (e errStore) Error() string { return e.err.Error() }
func (e errStore) Unwrap() error { return e.err }

// HandleDeliver handles one deliver_sm from carrier and returns the deliver_sm_resp status.
func (c *Correlator) HandleDeliver(ctx context.Context, carrier string, p *smpp.DeliverSM) smpp.CommandStatus {
	start := time.Now()
	if !smpp.IsReceipt(p) {
		c.stats.mo.Add(1)
		if c.o.MO != nil {
			return c.o.MO(ctx, nil, p)
		}
		return smpp.ESME_ROK
	}
	ctx, cancel := context.WithTimeout(ctx, c.o.StoreTimeout)
	defer cancel()
	now := c.o.Now()
	ci := c.carrier(carrier)
	ev := ReceiptEvent{Carrier: carrier}
	rc, err := smpp.ParseReceipt(p, c.o.Location)
	var outcome string
	if err != nil {
		r := &store.Receipt{ID: receiptID(carrier, p), Carrier: carrier, Text: payloadText(p), ReceivedAt: now,
			Note: "unreadable receipt: " + err.Error()}
		if err := c.o.Store.Unmatch(ctx, r, c.o.UnmatchedTTL); err != nil {
			outcome = OutcomeError
			c.storeError(err, carrier, "")
		} else {
			outcome = OutcomeMalformed
			c.stats.malformed.Add(1)
			c.log.Warn().Str("carrier", carrier).Str("receipt", r.ID).Msg("unreadable receipt kept as unmatched")
		}
	} else {
		r := toStored(ci, rc, p, now)
		ev.Status = store.Status(r.State)
		outcome, err = c.correlate(ctx, ci, r, false)
		if err != nil {
			outcome = OutcomeError
			c.storeError(err, carrier, r.MessageID)
		}
		c.stats.count(carrier, ev.Status)
	}
	ev.Outcome, ev.Latency = outcome, time.Since(start)
	if c.o.OnReceipt != nil {
		c.o.OnReceipt(ev)
	}
	if outcome == OutcomeError {
		return smpp.ESME_RX_T_APPN
	}
	return smpp.ESME_ROK
}

func (c *Correlator) storeError(err error, carrier, id string) {
	c.stats.storeErrors.Add(1)
	c.log.Error().Err(err).Str("carrier", carrier).Str("carrier_msg_id", id).Msg("receipt refused with a temporary error: store unavailable")
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

// lookup finds the message of a receipt id: ErrNotFound when nothing matches.
func (c *Correlator) lookup(ctx context.Context, ci *carrierIDs, id string) (string, int, error) {
	if id == "" {
		return "", 0, store.ErrNotFound
	}
	for _, k := range ci.space.candidates(ci.name, id) {
		msgID, part, err := c.o.Store.LookupCarrierID(ctx, k.ns, k.key)
		if err == nil {
			return msgID, part, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return "", 0, errStore{err}
		}
	}
	return "", 0, store.ErrNotFound
}

// errNotSubmitted: the index has the id but the record does not know its parts yet
// (dispatch is between indexing and updating it). The receipt is parked like an early one.
var errNotSubmitted = errors.New("dlr: message not marked submitted yet")

// errUnchanged aborts a record update that would change nothing (a repeated receipt).
var errUnchanged = errors.New("dlr: receipt changes nothing")

// correlate finds r's message and applies r, or parks it (fresh receipts) or files it as
// unmatched (parked receipts whose time ran out). Every outcome is stored before it returns
// nil; an error means nothing may be acknowledged.
func (c *Correlator) correlate(ctx context.Context, ci *carrierIDs, r *store.Receipt, parked bool) (string, error) {
	msgID, part, err := c.lookup(ctx, ci, r.MessageID)
	if err == nil {
		outcome, err := c.apply(ctx, ci, msgID, part, r)
		switch {
		case err == nil:
			if parked {
				return outcome, c.unpark(ctx, r)
			}
			return outcome, nil
		case errors.Is(err, store.ErrNotFound):
			return c.unmatch(ctx, r, "the message's record is gone (expired?)")
		case !errors.Is(err, errNotSubmitted):
			return "", err
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	if r.Key == "" {
		return c.unmatch(ctx, r, "receipt without a message id")
	}
	now := c.o.Now()
	if parked {
		// Its window ran out. Give a message stuck between indexing and being marked
		// submitted (its sender died; err is the lookup's, nil: the id is indexed) a while
		// longer; else it matches nothing.
		if err == nil && now.Sub(r.ReceivedAt) < 10*c.o.EarlyWindow {
			return OutcomeEarly, c.park(ctx, r, now.Add(c.o.EarlyWindow))
		}
		return c.unmatch(ctx, r, "no message with this carrier message id")
	}
	if err := c.park(ctx, r, now.Add(c.o.EarlyWindow)); err != nil {
		return "", err
	}
	c.stats.early.Add(1)
	// The submit response may have landed between the lookup and the parking, and its
	// OnSubmitted may have looked for parked receipts before this one was there: look again.
	msgID, part, err = c.lookup(ctx, ci, r.MessageID)
	if err != nil {
		return OutcomeEarly, nil // parked (stored), so it may be acknowledged
	}
	outcome, err := c.apply(ctx, ci, msgID, part, r)
	if err != nil {
		return OutcomeEarly, nil // still parked: OnSubmitted or the sweeper applies it
	}
	c.stats.earlyMatched.Add(1)
	if err := c.unpark(ctx, r); err != nil {
		c.log.Warn().Err(err).Str("receipt", r.ID).Msg("applied receipt left parked; the sweeper removes it")
	}
	return outcome, nil
}

func (c *Correlator) park(ctx context.Context, r *store.Receipt, until time.Time) error {
	if err := c.o.Store.Park(ctx, r, until); err != nil {
		return errStore{err}
	}
	return nil
}

func (c *Correlator) unpark(ctx context.Context, r *store.Receipt) error {
	if err := c.o.Store.Unpark(ctx, r.Carrier, r.Key, r.ID); err != nil {
		return errStore{err}
	}
	return nil
}

func (c *Correlator) unmatch(ctx context.Context, r *store.Receipt, note string) (string, error) {
	r.Note = note
	if err := c.o.Store.Unmatch(ctx, r, c.o.UnmatchedTTL); err != nil {
		return "", errStore{err}
	}
	c.stats.unmatched.Add(1)
	c.log.Warn().Str("carrier", r.Carrier).Str("carrier_msg_id", r.MessageID).Str("stat", r.Stat).Str("note", note).
		Msg("receipt matched no message; kept as unmatched")
	return OutcomeUnmatched, nil
}

// apply stores r's effect on part `part` of message msgID, then queues the message's webhook
// if the message is now final. Both steps are idempotent, so applying a receipt twice (a
// carrier retransmission, a crash between the steps, a parked receipt seen by two
// instances) changes nothing more and sends one webhook.
func (c *Correlator) apply(ctx context.Context, ci *carrierIDs, msgID string, part int, r *store.Receipt) (string, error) {
	var unchanged *store.Record
	rec, err := c.o.Store.UpdateRecord(ctx, msgID, func(rec *store.Record) error {
		if rec.Parts == 0 && len(rec.CarrierIDs) == 0 {
			return errNotSubmitted
		}
		parts := decodeParts(rec)
		for len(parts) <= part {
			parts = append(parts, partState{})
		}
		old := parts[part]
		if old.Final || !r.Final && old.S != "" {
			unchanged = rec
			return errUnchanged
		}
		_, wasFinal, _ := combine(parts, c.o.Combine)
		parts[part] = stateOf(r)
		encodeParts(rec, parts)
		// Once receipts made the message final its status stays (its webhook is queued);
		// later parts only fill in their own state.
		if st, final, i := combine(parts, c.o.Combine); final && !wasFinal {
			rec.Status = st
			rec.StatusAt = timeMax(time.UnixMilli(parts[i].At), rec.SentAt)
			rec.ErrorCode, rec.Reason = errorCode(parts[i]), reason(ci.spec, parts[i])
		}
		return nil
	})
	outcome := OutcomeMatched
	switch {
	case errors.Is(err, errUnchanged):
		rec, outcome = unchanged, OutcomeDuplicate
		c.stats.duplicates.Add(1)
	case errors.Is(err, errNotSubmitted), errors.Is(err, store.ErrNotFound):
		return "", err
	case err != nil:
		return "", errStore{err}
	default:
		c.stats.matched.Add(1)
	}
	if receiptFinal(rec, c.o.Combine) {
		if err := c.enqueue(ctx, rec); err != nil {
			return "", err
		}
	}
	return outcome, nil
}

// enqueue queues the webhook reporting rec's status (a no-op if that job exists or was
// delivered).
func (c *Correlator) enqueue(ctx context.Context, rec *store.Record) error {
	target, mode := c.webhookOf(rec)
	if target == "" {
		c.stats.noWebhook.Add(1)
		return nil
	}
	n, err := c.o.Store.EnqueueWebhooks(ctx, BuildJob(rec, target, mode, c.o.Now()))
	if err != nil {
		return errStore{err}
	}
	c.stats.webhooksQueued.Add(uint64(n))
	return nil
}

// webhookOf returns where and how rec's webhook goes.
func (c *Correlator) webhookOf(rec *store.Record) (string, string) {
	target, mode := rec.Meta[MetaWebhookURL], rec.Meta[MetaWebhookMode]
	if target == "" && c.o.AccountWebhook != nil {
		var amode string
		target, amode = c.o.AccountWebhook(rec.Account)
		if mode == "" {
			mode = amode
		}
	}
	if rec.Meta[MetaOTP] == "1" {
		mode = ModeOTP
	}
	if mode != ModeForm && mode != ModeOTP {
		mode = ModeJSON
	}
	return target, mode
}

// OnSubmitted is dispatch's after-submit hook (dispatch.Options.OnSubmitted): it indexes the
// message's carrier ids under their normalised form when that differs from the raw id, and
// applies the receipts that arrived before the submit_sm_resp and were parked.
func (c *Correlator) OnSubmitted(ctx context.Context, carrier string, m *store.Message, carrierIDs []string) error {
	ci := c.carrier(carrier)
	var errs []error
	for i, id := range carrierIDs {
		key, numeric := ci.space.submitKey(id)
		if numeric && (ci.space.cross() || key != trimID(id)) {
			if err := c.o.Store.IndexCarrierID(ctx, canonicalNamespace(carrier), key, m.ID, i, c.o.IndexTTL); err != nil {
				errs = append(errs, fmt.Errorf("dlr: index %s %s: %w", carrier, key, err))
				continue
			}
		}
		parked, err := c.o.Store.ParkedReceipts(ctx, carrier, key)
		if err != nil {
			errs = append(errs, fmt.Errorf("dlr: parked receipts %s %s: %w", carrier, key, err))
			continue
		}
		for _, r := range parked {
			if _, err := c.apply(ctx, ci, m.ID, i, r); err != nil {
				errs = append(errs, fmt.Errorf("dlr: early receipt %s: %w", r.ID, err))
				continue
			}
			c.stats.earlyMatched.Add(1)
			if err := c.unpark(ctx, r); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Settled queues the webhook of a message that dispatch finished without a receipt (FAILED
// or REJECTED at submit). It does nothing for a record that is not final, and queues the
// job once however often it is called.
func (c *Correlator) Settled(ctx context.Context, msgID string) error {
	rec, err := c.o.Store.GetRecord(ctx, msgID)
	if err != nil {
		return fmt.Errorf("dlr: settled %s: %w", msgID, err)
	}
	if !rec.Status.Final() {
		return nil
	}
	return c.enqueue(ctx, rec)
}

// Start runs the sweeper: parked receipts whose window ran out are looked up once more and
// applied, or filed as unmatched. Any number of instances may sweep the same store.
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
		t := time.NewTicker(c.o.SweepEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				c.Sweep(ctx)
			}
		}
	}()
}

// Shutdown stops the sweeper. Nothing is lost by stopping at any point.
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
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Sweep handles parked receipts whose window ran out (Start calls it every SweepEvery) and
// returns how many it handled.
func (c *Correlator) Sweep(ctx context.Context) int {
	n := 0
	for {
		due, err := c.o.Store.DueParked(ctx, c.o.Now(), 100)
		if err != nil {
			if ctx.Err() == nil {
				c.log.Warn().Err(err).Msg("sweep: store unavailable")
			}
			return n
		}
		progress := false
		for _, r := range due {
			sctx, cancel := context.WithTimeout(ctx, c.o.StoreTimeout)
			outcome, err := c.correlate(sctx, c.carrier(r.Carrier), r, true)
			cancel()
			if err != nil {
				c.log.Warn().Err(err).Str("receipt", r.ID).Msg("sweep: could not settle a parked receipt; will retry")
				continue
			}
			if outcome != OutcomeEarly {
				progress = true
			}
			n++
		}
		if len(due) < 100 || !progress {
			return n
		}
	}
}

// Unmatched returns up to n receipts that matched nothing, newest first, for inspection.
func (c *Correlator) Unmatched(ctx context.Context, n int) ([]*store.Receipt, error) {
	return c.o.Store.Unmatched(ctx, n)
}
