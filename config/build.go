package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/smppd/smppd/dispatch"
	"github.com/smppd/smppd/dlt"
	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/smpp/text"
)

// DispatchOptions returns the carriers, routes and pipeline tuning as dispatch.Options; the
// caller adds the store, logger and hooks.
func (c *Config) DispatchOptions() (dispatch.Options, error) {
	o := dispatch.Options{
		Consumer:     c.Instance,
		ClaimBatch:   c.Dispatch.ClaimBatch,
		ClaimWait:    c.Dispatch.ClaimWait,
		ReclaimAfter: c.Dispatch.ReclaimAfter,
		HoldLimit:    c.Dispatch.HoldLimit,
		RetryMin:     c.Dispatch.RetryMin,
		RetryMax:     c.Dispatch.RetryMax,
		MaxAttempts:  c.Dispatch.MaxAttempts,
		PauseMin:     c.Dispatch.PauseMin,
		PauseMax:     c.Dispatch.PauseMax,
		RecordTTL:    c.Dispatch.RecordTTL,
		IndexTTL:     c.Dispatch.IndexTTL,
		LeaseTTL:     c.BindLeases.TTL,
	}
	for _, r := range c.Routes {
		o.Routes = append(o.Routes, dispatch.Route{Prefix: r.Prefix, Carriers: r.Carriers})
	}
	for i, cr := range c.Carriers {
		co, err := carrierOptions(cr)
		if err != nil {
			return o, c.errAt(fmt.Sprintf("carriers[%d]", i), "%v", err)
		}
		o.Carriers = append(o.Carriers, co)
	}
	return o, nil
}

func carrierOptions(cr Carrier) (dispatch.CarrierOptions, error) {
	co := dispatch.CarrierOptions{
		Name: cr.Name, MPS: cr.MPS, NoResponse: dispatch.NoResponsePolicy(cr.NoResponse),
		FailoverAfter: cr.FailoverAfter,
		Text:          dispatch.TextOptions{MaxParts: cr.Text.MaxParts, PackGSM7: cr.Text.PackGSM7, SARFullParts: cr.Text.SARFullParts},
	}
	switch cr.Text.Long {
	case "udh16":
		co.Text.Concat = text.ConcatUDH16
	case "sar":
		co.Text.Concat = text.ConcatSAR
	case "payload":
		co.Text.Concat = text.ConcatPayload
	default:
		co.Text.Concat = text.ConcatUDH8
	}
	var err error
	if co.DLT, err = carrierDLT(cr); err != nil {
		return co, err
	}
	for _, b := range cr.Binds {
		g := dispatch.BindGroup{
			Addrs: b.Addrs, Count: b.Count, MPS: b.MPS,
			Bind: smpp.Bind{
				Mode: bindMode(b.Mode), SystemID: b.SystemID, Password: b.Password, SystemType: b.SystemType,
				InterfaceVersion: uint8(b.InterfaceVersion), AddrTON: uint8(b.AddrTON), AddrNPI: uint8(b.AddrNPI),
				AddressRange: b.AddressRange,
			},
			Session: smpp.Options{
				WindowSize: b.Window, ResponseTimeout: b.ResponseTimeout,
				EnquireLinkInterval: b.EnquireLinkInterval, MaxEnquireLinkOutstanding: b.MaxEnquireLinkOutstanding,
				WriteTimeout: b.WriteTimeout, DialTimeout: b.DialTimeout, BindTimeout: b.BindTimeout,
				MaxPDUSize: b.MaxPDUSize,
			},
			ReconnectMin: b.ReconnectMin, ReconnectMax: b.ReconnectMax, PermanentBackoff: b.PermanentBackoff,
		}
		if b.TLS.Enabled {
			cfg, err := tlsConfig(b.TLS)
			if err != nil {
				return co, err
			}
			g.Session.TLSConfig = cfg
		}
		co.Binds = append(co.Binds, g)
	}
	return co, nil
}

// carrierDLT returns how the carrier wants the DLT data, with the TLV tags read; a tag left
// out stays 0, dlt.CarrierSpec's default.
func carrierDLT(cr Carrier) (dlt.CarrierSpec, error) {
	spec := dlt.CarrierSpec{ChainMode: cr.DLT.ChainMode, TMChain: cr.DLT.TMChain, StatusCodes: cr.DLT.StatusCodes, Codes: cr.DLT.Codes}
	for _, t := range []struct {
		s   string
		dst *uint16
	}{{cr.DLT.PETag, &spec.PETag}, {cr.DLT.TemplateTag, &spec.TemplateTag}, {cr.DLT.ChainTag, &spec.ChainTag}} {
		if t.s != "" {
			v, err := ParseTag(t.s)
			if err != nil {
				return spec, err
			}
			*t.dst = v
		}
	}
	return spec, nil
}

func bindMode(s string) smpp.BindMode {
	switch s {
	case "tx":
		return smpp.BindTransmitter
	case "rx":
		return smpp.BindReceiver
	}
	return smpp.BindTransceiver
}

func tlsConfig(t TLS) (*tls.Config, error) {
	cfg := &tls.Config{ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.ca_file %s: no PEM certificate in it", t.CAFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}
