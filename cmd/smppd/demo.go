package main

import (
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"

	"github.com/rs/zerolog"

	"github.com/smppd/smppd/config"
	pwhash "github.com/smppd/smppd/internal/passwd"
	"github.com/smppd/smppd/smsc"
)

// demoRegistry is the DLT registry of the demo: the ACME entity with its headers and
// templates (the same as testdata/dlt/registry.yaml).
//
//go:embed demo_registry.yaml
var demoRegistry []byte

// demo is smppd's self-contained mode: a simulated operator in the same process as the
// only carrier, the in-memory store, and one account with a fresh API key.
type demo struct {
	sim       *smsc.Server
	cfg       *config.Config
	apiKey    string
	dir       string
	shortAddr string // the short-link listener's address
	opsAddr   string // the internal listener: health, metrics, the console, the operator's copy
	// consolePass is the console login "admin"'s password, fresh each start.
	consolePass string
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
	d := &demo{sim: sim, apiKey: randomHex(16), shortAddr: demoAddr("127.0.0.1:8090"),
		opsAddr: demoAddr("127.0.0.1:8081"), consolePass: randomHex(8)}
	hash, err := pwhash.Hash(d.consolePass)
	if err != nil {
		sim.Close()
		return nil, err
	}
	if d.dir, err = os.MkdirTemp("", "smppd-demo"); err != nil {
		sim.Close()
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(d.dir, "registry.yaml"), demoRegistry, 0o600); err != nil {
		d.close()
		return nil, err
	}
	yaml := fmt.Sprintf(`
log_level: info
http:
  listen: 127.0.0.1:8080
  metrics_listen: %[6]s   # the internal listener: health, metrics, the console
store:
  type: memory
carriers:
  - name: demo
    binds:
      - addrs: [%[1]q]
        system_id: smppd
        password: password
        count: 2
        window: 50
accounts:
  - name: demo
    api_keys: [%[2]q]
    sender_ids: [ACMEIN]
    dlt_entity: "1101557290000055412"
    otp_template: "1107161234567890001"
    otp_templates: {OTP1: "1107161234567890001"}
otp:
  key: %[3]q
shortlinks:
  base_url: %[5]s   # *.localhost is the loopback for browsers and curl; DLT wants a host name
  listen: %[4]s
dlt:
  registry: registry.yaml
  max_var_len: 45   # the demo's short links (http://sl.localhost:8090/ACMEIN/<code>) are 42 characters
console:
  operators:
    - {name: admin, password_hash: %[7]q, role: admin}
`, sim.Addr(), d.apiKey, randomHex(32), d.shortAddr, d.shortBase(), d.opsAddr, hash)
	if d.cfg, err = config.Parse(filepath.Join(d.dir, "demo.yaml"), []byte(yaml), func(string) (string, bool) { return "", false }); err != nil {
		d.close()
		return nil, err
	}
	return d, nil
}

// shortBase is the demo's short-link base: sl.localhost on the listener's port.
func (d *demo) shortBase() string {
	_, port, _ := net.SplitHostPort(d.shortAddr)
	return "http://sl.localhost:" + port
}

// demoAddr is addr if nothing listens there, else a free port of its host.
func demoAddr(addr string) string {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		host, _, _ := net.SplitHostPort(addr)
		if ln, err = net.Listen("tcp", net.JoinHostPort(host, "0")); err != nil {
			return addr
		}
	}
	defer ln.Close()
	return ln.Addr().String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (d *demo) announce(w io.Writer, httpAddr, opsAddr string) {
	base, ops := "http://"+httpAddr, "http://"+opsAddr
	fmt.Fprintf(w, `smppd demo is running.
  API:             %[1]s  (the 2Factor API)
  internal:        %[5]s  (health /healthz, readiness /readyz, metrics /metrics)
  console:         %[5]s/console/  login admin / %[6]s
  demo API key:    %[2]s
  operator (sim):  SMPP %[3]s, account smppd/password, receipts after 0.5–2 s
  DLT:             entity 1101557290000055412, header ACMEIN, templates of testdata/dlt/registry.yaml
  store:           in memory: nothing survives a restart

Try it:
  # an OTP (AUTOGEN2 also returns the code, so you can verify it)
  curl '%[1]s/API/V1/%[2]s/SMS/+919812345678/AUTOGEN2/OTP1'
  curl '%[1]s/API/V1/%[2]s/SMS/VERIFY/<session id>/<otp>'
  # a transactional message, then its status (and its timeline in the console)
  curl -d module=TRANS_SMS -d apikey=%[2]s -d to=919812345678 -d from=ACMEIN \
       -d 'msg=Rs.500 received for order A123. Thank you for shopping with ACME.' %[1]s/API/R1/
  curl -d module=TRANS_SMS_DLR -d apikey=%[2]s -d sessionid=<session id> %[1]s/API/R1/
  # a message off its template is refused before sending, with the reason
  curl -d module=TRANS_SMS -d apikey=%[2]s -d to=919812345678 -d from=ACMEIN -d 'msg=Hello' %[1]s/API/R1/
  # short links and click tracking: the SMS carries %[4]s/ACMEIN/<code> instead
  # of the URL (the operator's copy: %[5]s/demo/operator/api/messages); open it, then
  # read the campaign's counts
  curl -d module=TRANS_SMS -d apikey=%[2]s -d to=919812345678 -d from=ACMEIN -d shortenurl=1 -d campaignname=demo \
       -d 'msg=Your ACME order A123 is on its way. Track it at https://example.com/track/A123 - ACME' %[1]s/API/R1/
  curl %[1]s/API/V1/%[2]s/SHORTLINK/STATS/demo
Stop with Ctrl-C.
`, base, d.apiKey, d.sim.Addr(), d.shortBase(), ops, d.consolePass)
}

func (d *demo) close() {
	_ = d.sim.Close()
	if d.dir != "" {
		_ = os.RemoveAll(d.dir)
	}
}
