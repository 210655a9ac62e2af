package dlr

// The intake half of the Correlator: the deliver_sm handler, which appends each receipt to
// the store's log and answers the carrier once it is stored, and its flow control.

import (
	"context"
	"strconv"
	"time"

	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/store"
)

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
