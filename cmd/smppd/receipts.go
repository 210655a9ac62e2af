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
//
// SMPP front accounts' receipts and MO go to clients (the front, once it exists): jobs to
// smpp:// targets, and carriers' MO to the account whose smpp.mo_numbers hold the number.
func startReceipts(cfg *config.Config, st store.Store, dopts *dispatch.Options, member *liveness.Keeper, clients dlr.Deliverer, m *metrics, log zerolog.Logger) (*dlr.Correlator, *dlr.Sender, error) {
	copts, err := cfg.CorrelatorOptions()
	if err != nil {
		return nil, nil, err
	}
	copts.Store, copts.Member, copts.OnReceipt = st, member, m.observeReceipt
	if routes := cfg.MORoutes(); len(routes) > 0 {
		copts.RouteMO = func(number string) (string, bool) { a, ok := routes[number]; return a, ok }
	}
	copts.Logger = log.With().Str("component", "dlr").Logger()
	corr, err := dlr.NewCorrelator(copts)
	if err != nil {
		return nil, nil, err
	}
	// One seam: dispatch gives every bind the correlator's handler, indexes submitted parts
	// as it says, and queues the webhooks of messages it makes final.
	dopts.Receipts = corr
	sopts := cfg.SenderOptions()
	sopts.Store, sopts.Member, sopts.OnWebhook = st, member, m.observeWebhook
	sopts.Deliverers = map[string]dlr.Deliverer{dlr.ClientScheme: clients}
	sopts.Logger = log.With().Str("component", "webhooks").Logger()
	sender, err := dlr.NewSender(sopts)
	if err != nil {
		return nil, nil, err
	}
	corr.Start()
	sender.Start()
	return corr, sender, nil
}
