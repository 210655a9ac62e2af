package dlr

// The applier half of the Correlator: it reads the receipt log in batches, matches receipts
// to messages, changes their records and queues their webhooks.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/smpp/text"
	"github.com/smppd/smppd/store"
)

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
	mo      *store.WebhookJob // a routed MO's job: the entry is done once it is queued
	done    bool              // finished: ack the entry
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
	c.queueMO(ctx, items)
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
		if e.Deliveries <= 1 {
			c.stats.mo.Add(1)
		}
		if c.o.RouteMO != nil {
			if acc, ok := c.o.RouteMO(p.Dest.Addr); ok && acc != "" {
				it.mo = moJob(e, p, acc)
				return it // done once its job is queued (Apply)
			}
		}
		if e.Deliveries <= 1 {
			c.stats.moUnrouted.Add(1)
		}
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
			next, jobs, final, evs := c.applyAll(rec, byMsg[id])
			if next == nil {
				delete(current, id) // nothing changes: duplicates, or not submitted yet
				continue
			}
			ch := store.RecordChange{Record: next, Events: evs}
			if len(jobs) > 0 {
				ch.Webhook, ch.MoreWebhooks = jobs[0], jobs[1:]
			}
			changes = append(changes, ch)
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
				if n := len(changes[i].Jobs()); n > 0 {
					c.stats.webhooksQueued.Add(uint64(n))
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
// returns the changed record (Rev+1), or nil when nothing changes; the webhook jobs to queue
// with it: the message's one job once it became final (none when nobody wants one), or, for
// a ModeSMPP message of several parts that asked for receipts per part (MetaReceiptParts),
// one job per part that became final; whether the message became final; and the timeline
// events of the change: each receipt applied, with its raw stat and err, and the final
// status when it became final.
func (c *Correlator) applyAll(rec *store.Record, its []*item) (*store.Record, []*store.WebhookJob, bool, []store.Event) {
	if rec.Parts == 0 && len(rec.CarrierIDs) == 0 {
		// Not settled as submitted (the index entry is stale, or the record was replaced):
		// leave the receipts waiting; they become unmatched after EarlyWindow.
		for _, it := range its {
			it.msgID = ""
		}
		return nil, nil, false, nil
	}
	next := *rec
	next.Meta = maps.Clone(rec.Meta) // encodeParts makes one if there is none
	parts := decodeParts(&next)
	_, wasFinal, _ := combine(parts, c.o.Combine)
	changed := false
	var partsFinal []int // parts that became final, in the order their receipts came
	var evs []store.Event
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
		if it.r.Final {
			partsFinal = append(partsFinal, it.part)
		}
		it.outcome, it.done = OutcomeMatched, true
		changed = true
		evs = append(evs, store.Event{At: it.r.ReceivedAt, Kind: store.EventReceipt, Carrier: it.r.Carrier,
			CarrierID: it.r.MessageID, Part: it.part, Status: store.Status(it.r.State), Stat: it.r.Stat, Err: it.r.Err,
			Detail: it.r.NetworkError})
	}
	if !changed {
		return nil, nil, false, nil
	}
	encodeParts(&next, parts)
	var jobs []*store.WebhookJob
	// Once receipts made the message final its status stays (its webhook is queued); later
	// parts only fill in their own state.
	st, final, i := combine(parts, c.o.Combine)
	becameFinal := final && !wasFinal
	if becameFinal {
		next.Status = st
		next.StatusAt = timeMax(time.UnixMilli(parts[i].At), rec.SentAt)
		next.ErrorCode, next.Reason = errorCode(parts[i]), reason(its[0].carrier.spec, parts[i])
		evs = append(evs, store.Event{At: c.o.Now(), Kind: store.EventFinal, Status: next.Status,
			Err: next.ErrorCode, Detail: next.Reason})
	}
	target, mode := c.webhookOf(&next)
	switch {
	case target == "":
	case mode == ModeSMPP && next.Meta[MetaReceiptParts] == "1" && len(parts) > 1:
		for _, p := range partsFinal {
			cr := partReceiptOf(&next, target, p, parts[p])
			if wantsReceipt(next.Meta, parts[p].S == store.StatusDelivered) {
				jobs = append(jobs, clientJob(PartJobID(next.ID, p+1, parts[p].S), cr, target, c.o.Now()))
			}
		}
	case becameFinal && mode == ModeSMPP && !wantsReceipt(next.Meta, next.Status == store.StatusDelivered):
		// Failures only, and it was delivered: counted as a final message nobody wants a
		// receipt for.
	case becameFinal:
		jobs = append(jobs, BuildJob(&next, target, mode, c.o.Now()))
	}
	next.Rev = rec.Rev + 1
	return &next, jobs, becameFinal, evs
}

// queueMO queues the jobs of the routed MO in the batch (one round trip) and marks their
// entries done; if the store fails they stay in the log, taken again after RetryEvery.
func (c *Correlator) queueMO(ctx context.Context, items []*item) {
	var jobs []*store.WebhookJob
	for _, it := range items {
		if it.mo != nil {
			jobs = append(jobs, it.mo)
		}
	}
	if len(jobs) == 0 {
		return
	}
	if _, err := c.o.Store.EnqueueWebhooks(ctx, jobs...); err != nil {
		c.stats.storeErrors.Add(1)
		c.log.Warn().Err(err).Int("mo", len(jobs)).Msg("could not queue routed MO; they stay in the log")
		return
	}
	for _, it := range items {
		if it.mo != nil {
			it.done = true
			c.stats.moRouted.Add(1)
		}
	}
}

// moJob is the job taking an MO to the client account that owns its destination. Its id
// names the log entry (its token, arrival time and content), so applying the entry again
// queues the same id, and two identical texts are still two messages.
func moJob(e *store.LoggedPDU, p *smpp.DeliverSM, account string) *store.WebhookJob {
	h := sha256.New()
	for _, s := range []string{e.Carrier, e.Token, strconv.FormatInt(e.At.UnixNano(), 10)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	h.Write(e.Body)
	id := "mo-" + hex.EncodeToString(h.Sum(nil)[:16])
	cr := ClientReceipt{MO: true, MessageID: id, Account: account, From: p.Source.Addr, To: p.Dest.Addr,
		Done: e.At, Text: moText(p)}
	return clientJob(id, cr, ClientTarget(account), e.At)
}

// moText decodes an MO's text by its data_coding (its UDH, if any, left out: each part of a
// long MO is its own job); bytes that do not decode are passed as they are, made valid UTF-8.
func moText(p *smpp.DeliverSM) string {
	b := p.Payload()
	if p.ESMClass&smpp.ESMClassUDHI != 0 {
		_, b, _, _ = text.ParseUDH(b)
	}
	if s, err := text.Decode(text.DataCoding(p.DataCoding), b); err == nil {
		return s
	}
	return strings.ToValidUTF8(strings.TrimRight(string(b), "\x00"), "\uFFFD")
}
