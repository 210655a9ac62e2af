package main

import (
	"github.com/rs/zerolog"

	"github.com/smppd/smppd/config"
	"github.com/smppd/smppd/dispatch"
	"github.com/smppd/smppd/dlr"
	"github.com/smppd/smppd/store"
	"github.com/smppd/smppd/store/liveness"
)

// startReceipts builds receipt correlation and the webhook sender over st (every store.Store
// is a dlr.Store), and hooks the correlator into the dispatcher's options (dispatch.Receipts).
func startReceipts(cfg *config.Config, st store.Store, dopts *dispatch.Options, member *liveness.Keeper, m *metrics, log zerolog.Logger) (*dlr.Correlator, *dlr.Sender, error) {
	var carriers []dlr.CarrierIDs
	for i, c := range cfg.Carriers {
		carriers = append(carriers, dlr.CarrierIDs{Name: c.Name, Format: dlr.Format(c.MessageIDFormat), DLT: dopts.Carriers[i].DLT})
	}
	corr, err := dlr.NewCorrelator(dlr.CorrelatorOptions{
		Store: st, Carriers: carriers, EarlyWindow: cfg.Receipts.EarlyWindow, RetryEvery: cfg.Receipts.RetryEvery,
		MaxPending: cfg.Receipts.MaxPending, MaxLag: cfg.Receipts.MaxLag, Member: member,
		OnReceipt: m.observeReceipt, // webhook URLs travel in each message's Meta (set by api)
		Logger:    log.With().Str("component", "dlr").Logger(),
	})
	if err != nil {
		return nil, nil, err
	}
	// One seam: dispatch gives every bind the correlator's handler, indexes submitted parts
	// as it says, and queues the webhooks of messages it makes final.
	dopts.Receipts = corr
	sender, err := dlr.NewSender(dlr.SenderOptions{
		Store: st, Secret: cfg.Webhooks.Secret, RetryFor: cfg.Webhooks.RetryFor, AllowPrivate: cfg.Webhooks.AllowPrivate,
		Timeout: cfg.Webhooks.Timeout, Lease: cfg.Webhooks.Lease, PerHostConcurrency: cfg.Webhooks.PerHostConcurrency,
		OnWebhook: m.observeWebhook, Member: member,
		Logger: log.With().Str("component", "webhooks").Logger(),
	})
	if err != nil {
		return nil, nil, err
	}
	corr.Start()
	sender.Start()
	return corr, sender, nil
}
