package main

import (
	"context"
	"fmt"

	"github.com/rs/zerolog"

	"github.com/smppd/smppd/config"
	"github.com/smppd/smppd/dispatch"
	"github.com/smppd/smppd/dlr"
	"github.com/smppd/smppd/store"
)

// startReceipts builds receipt correlation and the webhook sender, and hooks them into the
// dispatcher's options: every receiving bind of a carrier gets that carrier's receipt
// handler, a submitted message's carrier ids meet receipts that came early, and a message
// dispatch settles for good gets its webhook.
func startReceipts(cfg *config.Config, st store.Store, dopts *dispatch.Options, m *metrics, log zerolog.Logger) (*dlr.Correlator, *dlr.Sender, error) {
	ds, ok := st.(dlr.Store)
	if !ok {
		return nil, nil, fmt.Errorf("store %T keeps no receipts or webhooks", st)
	}
	webhooks := map[string][2]string{}
	for _, a := range cfg.Accounts {
		webhooks[a.Name] = [2]string{a.WebhookURL, "json"}
	}
	var carriers []dlr.CarrierIDs
	for i, c := range cfg.Carriers {
		carriers = append(carriers, dlr.CarrierIDs{Name: c.Name, Format: dlr.Format(c.MessageIDFormat), DLT: dopts.Carriers[i].DLT})
	}
	corr, err := dlr.NewCorrelator(dlr.CorrelatorOptions{
		Store: ds, Carriers: carriers, EarlyWindow: cfg.Receipts.EarlyWindow, IndexTTL: dopts.IndexTTL,
		AccountWebhook: func(account string) (string, string) { w := webhooks[account]; return w[0], w[1] },
		OnReceipt:      m.observeReceipt,
		Logger:         log.With().Str("component", "dlr").Logger(),
	})
	if err != nil {
		return nil, nil, err
	}
	for i := range dopts.Carriers {
		for j := range dopts.Carriers[i].Binds {
			dopts.Carriers[i].Binds[j].Session.Handler = corr.Handler(dopts.Carriers[i].Name)
		}
	}
	dopts.OnSubmitted = corr.OnSubmitted
	dopts.OnFinal = func(ctx context.Context, msg *store.Message, _ store.Status) error { return corr.Settled(ctx, msg.ID) }
	sender, err := dlr.NewSender(dlr.SenderOptions{
		Store: ds, Secret: cfg.Webhooks.Secret, RetryFor: cfg.Webhooks.RetryFor, AllowPrivate: cfg.Webhooks.AllowPrivate,
		Timeout: cfg.Webhooks.Timeout, Lease: cfg.Webhooks.Lease, PerHostConcurrency: cfg.Webhooks.PerHostConcurrency,
		OnWebhook: m.observeWebhook,
		Logger:    log.With().Str("component", "webhooks").Logger(),
	})
	if err != nil {
		return nil, nil, err
	}
	corr.Start()
	sender.Start()
	return corr, sender, nil
}
