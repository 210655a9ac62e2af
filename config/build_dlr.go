package config

import (
	"fmt"

	"github.com/smppd/smppd/dlr"
)

// CorrelatorOptions returns the receipts section and each carrier's message id format and
// DLT spec as dlr.CorrelatorOptions; the caller adds the store, the member, the hooks and
// the logger. Fields the file leaves out stay zero: dlr's defaults.
func (c *Config) CorrelatorOptions() (dlr.CorrelatorOptions, error) {
	o := dlr.CorrelatorOptions{
		EarlyWindow: c.Receipts.EarlyWindow, RetryEvery: c.Receipts.RetryEvery,
		MaxPending: c.Receipts.MaxPending, MaxLag: c.Receipts.MaxLag,
	}
	for i, cr := range c.Carriers {
		spec, err := carrierDLT(cr)
		if err != nil {
			return o, c.errAt(fmt.Sprintf("carriers[%d]", i), "%v", err)
		}
		o.Carriers = append(o.Carriers, dlr.CarrierIDs{Name: cr.Name, Format: dlr.Format(cr.MessageIDFormat), DLT: spec})
	}
	return o, nil
}

// SenderOptions returns the webhooks section as dlr.SenderOptions; the caller adds the
// store, the member, the hooks and the logger. Fields the file leaves out stay zero: dlr's
// defaults.
func (c *Config) SenderOptions() dlr.SenderOptions {
	w := c.Webhooks
	return dlr.SenderOptions{
		Secret: w.Secret, RetryFor: w.RetryFor, AllowPrivate: w.AllowPrivate,
		Timeout: w.Timeout, Lease: w.Lease, PerHostConcurrency: w.PerHostConcurrency,
	}
}
