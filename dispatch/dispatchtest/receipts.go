// Package dispatchtest has helpers for tests that run a dispatch.Dispatcher.
package dispatchtest

import (
	"context"

	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/store"
)

// AckReceipts is the dispatch.Receipts seam of tests that do not correlate receipts (that is
// package dlr's business): every deliver_sm is acknowledged, so the simulator does not send
// it again over the binds under test; carrier ids are indexed as given; no webhooks.
type AckReceipts struct{}

// Handler acknowledges every deliver_sm.
func (AckReceipts) Handler(string) smpp.Handler {
	return smpp.DeliverHandlerFunc(func(context.Context, *smpp.Session, *smpp.DeliverSM) smpp.CommandStatus {
		return smpp.ESME_ROK
	})
}

// IndexEntries indexes the carrier message id as given.
func (AckReceipts) IndexEntries(carrier, carrierMsgID, msgID string, part int) []store.IndexEntry {
	return []store.IndexEntry{{IndexKey: store.IndexKey{Carrier: carrier, ID: carrierMsgID}, MsgID: msgID, Part: part}}
}

// FinalWebhook queues none.
func (AckReceipts) FinalWebhook(*store.Record) *store.WebhookJob { return nil }
