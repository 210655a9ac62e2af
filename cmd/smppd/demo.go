package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/rs/zerolog"

	"github.com/smppd/smppd/config"
	"github.com/smppd/smppd/smpp/smsc"
)

// demo is smppd's self-contained mode: a simulated operator in the same process as the
// only carrier, the in-memory store, and one account with a fresh API key.
type demo struct {
	sim    *smsc.Server
	cfg    *config.Config
	apiKey string
}

func startDemo(log zerolog.Logger) (*demo, error) {
	sim, err := smsc.NewServer(smsc.Options{
		SMPPAddr: "127.0.0.1:0",
		Accounts: []smsc.Account{{
			SystemID: "smppd", Password: "password",
			// Realistic enough to watch: receipts a second or two later, 3% undelivered.
			Receipts: smsc.Receipts{DelayMin: 500_000_000, DelayMax: 2_000_000_000,
				Mix: []smsc.Weighted{{Stat: "DELIVRD", Weight: 97}, {Stat: "UNDELIV", Weight: 3}}},
		}},
		Logger: log.With().Str("component", "demo-operator").Logger().Level(zerolog.WarnLevel),
	})
	if err != nil {
		return nil, fmt.Errorf("demo operator: %w", err)
	}
	var key [16]byte
	_, _ = rand.Read(key[:])
	d := &demo{sim: sim, apiKey: hex.EncodeToString(key[:])}
	yaml := fmt.Sprintf(`
log_level: info
http:
  listen: 127.0.0.1:8080
store:
  type: memory
carriers:
  - name: demo
    binds:
      - addrs: [%q]
        system_id: smppd
        password: password
        count: 2
        window: 50
accounts:
  - name: demo
    api_keys: [%q]
    sender_ids: [SMPPDM]
    dlt_entity: "1101234567890123456"
    otp_template: "1107161234567890123"
`, sim.Addr(), d.apiKey)
	if d.cfg, err = config.Parse("demo", []byte(yaml), func(string) (string, bool) { return "", false }); err != nil {
		sim.Close()
		return nil, err
	}
	return d, nil
}

func (d *demo) announce(w io.Writer, httpAddr string) {
	fmt.Fprintf(w, `smppd demo is running.
  HTTP:            http://%s  (health /healthz, readiness /readyz, metrics /metrics)
  demo API key:    %s
  operator (sim):  SMPP %s, account smppd/password
  store:           in memory: nothing survives a restart
Stop with Ctrl-C.
`, httpAddr, d.apiKey, d.sim.Addr())
}

func (d *demo) close() { _ = d.sim.Close() }
