package config

import (
	"crypto/tls"
	"fmt"

	"github.com/smppd/smppd/api/smppfront"
)

// SMPPFrontOptions returns smpp_front and the accounts' smpp sections as smppfront.Options
// (TLS loaded from the PEM files); the caller adds the Acceptor, the records, hooks and the
// logger. Fields the file leaves out stay zero: smppfront's defaults.
func (c *Config) SMPPFrontOptions() (smppfront.Options, error) {
	f := c.SMPPFront
	o := smppfront.Options{SystemID: f.SystemID, DLTStatusCodes: f.DLTStatusCodes, PartTimeout: f.PartTimeout}
	if f.TLSListen != "" {
		cert, err := tls.LoadX509KeyPair(f.TLSCert, f.TLSKey)
		if err != nil {
			return o, c.errAt("smpp_front.tls_cert", "%v", err)
		}
		o.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	for i, a := range c.Accounts {
		if a.SMPP == nil {
			continue
		}
		s := a.SMPP
		acct := smppfront.Account{
			Name: a.Name, SystemID: s.SystemID, PasswordHash: s.PasswordHash,
			MaxBinds: s.MaxBinds, Window: s.Window, Rate: s.Rate, Burst: s.Burst,
			ReceiptParts: s.ReceiptParts, Latin1Default: s.Latin1Default, MONumbers: s.MONumbers,
		}
		var err error
		if acct.AllowedNetworks, err = c.cidrs(fmt.Sprintf("accounts[%d].ip_allow", i), a.IPAllow); err != nil {
			return o, err
		}
		o.Accounts = append(o.Accounts, acct)
	}
	return o, nil
}

// MORoutes maps each MO number of the accounts' smpp sections to its account: which client
// a carrier's mobile-originated message belongs to (dlr.CorrelatorOptions.RouteMO).
func (c *Config) MORoutes() map[string]string {
	routes := map[string]string{}
	for _, a := range c.Accounts {
		if a.SMPP != nil {
			for _, n := range a.SMPP.MONumbers {
				routes[n] = a.Name
			}
		}
	}
	return routes
}
