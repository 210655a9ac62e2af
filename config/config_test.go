package config

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/smppd/smppd/dispatch"
	"github.com/smppd/smppd/dlr"
	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/smpp/text"
	"github.com/smppd/smppd/store/redisstore"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestExampleConfigLoadsAndConverts(t *testing.T) {
	data, err := os.ReadFile("../testdata/config/smppd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse("smppd.yaml", data, env(map[string]string{"JIO_PASSWORD": "fromenv"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Carriers[0].Binds[0].Password != "fromenv" || c.Carriers[1].Binds[0].Password != "secret2" {
		t.Fatalf("env expansion: %q %q", c.Carriers[0].Binds[0].Password, c.Carriers[1].Binds[0].Password)
	}
	if c.Store.RedisURL != "redis://127.0.0.1:6379/0" || c.Accounts[0].RateLimit != 200 {
		t.Fatalf("defaults: %+v", c.Store)
	}
	o, err := c.DispatchOptions()
	if err != nil {
		t.Fatal(err)
	}
	jio, airtel := o.Carriers[0], o.Carriers[1]
	if jio.Binds[0].Count != 4 || jio.Binds[0].Session.WindowSize != 50 || jio.Binds[0].Bind.Mode != smpp.BindTransceiver ||
		jio.Binds[0].Session.ResponseTimeout != 10*time.Second || jio.DLT.PETag != 0x1400 || jio.DLT.ChainMode != "sha256" || jio.NoResponse != dispatch.PolicyResubmit {
		t.Fatalf("jio: %+v", jio)
	}
	if airtel.Text.Concat != text.ConcatSAR || airtel.Binds[0].Session.TLSConfig == nil || airtel.Binds[1].Bind.Mode != smpp.BindReceiver ||
		airtel.NoResponse != dispatch.PolicyUnknown {
		t.Fatalf("airtel: %+v", airtel)
	}
	if len(o.Routes) != 2 || o.Routes[0].Prefix != "9198" {
		t.Fatalf("routes %+v", o.Routes)
	}
}

const minimal = `
carriers:
  - name: sim
    binds:
      - addrs: ["127.0.0.1:2775"]
        system_id: smppd
        password: password
`

func TestMinimalConfigTakesDefaults(t *testing.T) {
	c, err := Parse("m.yaml", []byte(minimal), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Listen != "127.0.0.1:8080" || c.Store.Type != "memory" {
		t.Fatalf("%+v", c)
	}
	// The bind's mode, window and count are left to the components: a transceiver, 10 and 1.
	o, err := c.DispatchOptions()
	if err != nil {
		t.Fatal(err)
	}
	b := o.WithDefaults().Carriers[0].Binds[0]
	if b.Bind.Mode != smpp.BindTransceiver || b.Session.WithDefaults().WindowSize != 10 || b.Count != 1 {
		t.Fatalf("%+v", b)
	}
}

func TestErrorsNameKeyAndLine(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string // substrings, each expected in the error text
	}{
		{"unknown key with suggestion", minimal + "log_levle: debug\n", []string{"m.yaml:8: log_levle: unknown key (did you mean log_level?)"}},
		{"window zero", strings.Replace(minimal, "password: password", "password: password\n        window: -1", 1), []string{"m.yaml:8: carriers[0].binds[0].window: -1 is not allowed"}},
		{"bad type", strings.Replace(minimal, "password: password", "password: password\n        count: ten", 1), []string{"m.yaml:8:", "cannot unmarshal !!str `ten`"}},
		{"unset env", strings.Replace(minimal, "password: password", "password: ${NOPE}", 1), []string{"m.yaml:7: environment variable NOPE is not set"}},
		{"long system id", strings.Replace(minimal, "system_id: smppd", "system_id: abcdefghijklmnopq", 1), []string{"m.yaml:6: carriers[0].binds[0].system_id: 17 characters; SMPP allows 15"}},
		{"no carriers", "log_level: info\n", []string{"carriers: no carriers"}},
		{"route to unknown carrier", minimal + "routes:\n  - prefix: \"91\"\n    carriers: [jio]\n", []string{"m.yaml:10: routes[0].carriers[0]: unknown carrier \"jio\""}},
		{"bad tag", strings.Replace(minimal, "  - name: sim", "  - name: sim\n    dlt:\n      pe_tag: 0x1FFFF", 1), []string{"m.yaml:5: carriers[0].dlt.pe_tag:", "not a 16-bit tag"}},
		{"short api key", minimal + "accounts:\n  - name: a\n    api_keys: [short]\n", []string{"m.yaml:10: accounts[0].api_keys[0]: 5 characters", "otp.key: 0 characters"}},
		{"bad enc key", minimal + "otp:\n  key: 0123456789abcdef0123456789abcdef\naccounts:\n  - name: a\n    api_keys: [0123456789abcdef0]\n    enc_key: c2hvcnQ=\n", []string{"m.yaml:13: accounts[0].enc_key: want the base64 of 32 random bytes"}},
		{"bad cidr", minimal + "accounts:\n  - name: a\n    api_keys: [0123456789abcdef0]\n    ip_allow: [10.0.0.0/33]\n", []string{"accounts[0].ip_allow[0]: \"10.0.0.0/33\" is not a CIDR"}},
		{"bad tm id", minimal + "otp:\n  key: 0123456789abcdef0123456789abcdef\naccounts:\n  - name: a\n    api_keys: [0123456789abcdef0]\n    tm_id: 1702-15\n", []string{"m.yaml:13: accounts[0].tm_id: \"1702-15\": a TM id is digits only"}},
		{"several at once", minimal + "log_level: loud\nstore:\n  type: disk\n", []string{"log_level: \"loud\"", "store.type: \"disk\""}},
		{"broken yaml", "carriers: [\n", []string{"m.yaml:"}},
		{"pprof without internal listener", minimal + "http:\n  pprof: true\n", []string{"m.yaml:9: http.pprof: needs http.metrics_listen"}},
		{"console operator", minimal + "http:\n  metrics_listen: 127.0.0.1:9090\nconsole:\n  session_ttl: 10s\n  operators:\n    - name: ops\n      password_hash: hunter22\n      role: root\n    - password_hash: " + testConsoleHash + "\n      role: viewer\n",
			[]string{"m.yaml:14: console.operators[0].password_hash: not a hash made by `smppd passwd -console`", "m.yaml:15: console.operators[0].role: \"root\": want admin or viewer",
				"console.operators[1].name: required", "console.session_ttl: 10s is below 1m"}},
		{"shortlinks without listen", minimal + "shortlinks:\n  base_url: https://e.1rp.in\n", []string{"shortlinks.listen: required with shortlinks.base_url"}},
		{"shortlinks bad base", minimal + "shortlinks:\n  base_url: e.1rp.in\n  listen: 0.0.0.0:8090\n  ttl: 1m\n  trusted_proxies: [1.2.3.4/40]\n",
			[]string{"shortlinks.base_url: \"e.1rp.in\" is not an absolute http:// or https:// URL", "shortlinks.ttl: 1m0s is below 1h", "shortlinks.trusted_proxies[0]"}},
		{"shortlinks on the API port", minimal + "shortlinks:\n  base_url: https://e.1rp.in\n  listen: 127.0.0.1:8080\n", []string{"shortlinks.listen: \"127.0.0.1:8080\" is already http.listen"}},
		{"shortlinks listen without base", minimal + "shortlinks:\n  listen: 0.0.0.0:8090\n", []string{"shortlinks.base_url: required with shortlinks.listen"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("m.yaml", []byte(tc.yaml), env(nil))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nwant it to contain %q", err, w)
				}
			}
		})
	}
}

// TestPProfNeedsInternalListener: profiles are off by default, and on only with an
// internal listener to serve them.
func TestPProfNeedsInternalListener(t *testing.T) {
	c, err := Parse("m.yaml", []byte(minimal), env(nil))
	if err != nil || c.HTTP.PProf {
		t.Fatalf("default pprof %v, err %v", c.HTTP.PProf, err)
	}
	c, err = Parse("m.yaml", []byte(minimal+"http:\n  metrics_listen: 127.0.0.1:9090\n  pprof: true\n"), env(nil))
	if err != nil || !c.HTTP.PProf {
		t.Fatalf("pprof with metrics_listen: %v, err %v", c.HTTP.PProf, err)
	}
}

// testConsoleHash is a well-formed hash (of "correct horse", 1000 iterations).
const testConsoleHash = "pbkdf2-sha256$1000$c2FsdHNhbHRzYWx0c2FsdA$3q2+796tvu/erb7v3q2+796tvu/erb7v3q2+796tvu8"

func TestConsoleBuilder(t *testing.T) {
	c, err := Parse("m.yaml", []byte(minimal+"http:\n  metrics_listen: 127.0.0.1:9090\nconsole:\n  session_ttl: 1h\n  lockout: 1m\n  operators:\n    - name: ops\n      password_hash: "+testConsoleHash+"\n      role: viewer\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	o := c.ConsoleOptions()
	if !c.ConsoleEnabled() || o.SessionTTL != time.Hour || o.Lockout != time.Minute || len(o.Operators) != 1 || o.Operators[0].Role != "viewer" || o.Operators[0].PasswordHash != testConsoleHash {
		t.Fatalf("%+v", o)
	}
}

func TestErrorsAreTyped(t *testing.T) {
	_, err := Parse("m.yaml", []byte(minimal+"log_level: loud\n"), env(nil))
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 1 || errs[0].Key != "log_level" || errs[0].Line != 8 {
		t.Fatalf("%#v", err)
	}
}

func TestEnvExpansionKeepsTypes(t *testing.T) {
	y := strings.Replace(minimal, "password: password", "password: password\n        window: ${W}", 1)
	c, err := Parse("m.yaml", []byte(y), env(map[string]string{"W": "25"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Carriers[0].Binds[0].Window != 25 {
		t.Fatalf("window %d", c.Carriers[0].Binds[0].Window)
	}
	// A secret with YAML-special characters stays one string.
	y = strings.Replace(minimal, "password: password", "password: ${P}", 1)
	c, err = Parse("m.yaml", []byte(y), env(map[string]string{"P": "a#b: c"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Carriers[0].Binds[0].Password != "a#b: c" {
		t.Fatalf("password %q", c.Carriers[0].Binds[0].Password)
	}
}

// The builders hand each component its Options, with the file's strings parsed (CIDRs, keys,
// tags, id formats) and what the file leaves out left zero for the component's default.
func TestBuildersHandOptionsDown(t *testing.T) {
	data, err := os.ReadFile("../testdata/config/smppd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse("smppd.yaml", data, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	ao, err := c.APIOptions()
	if err != nil {
		t.Fatal(err)
	}
	if len(ao.TrustedProxies) != 1 || ao.TrustedProxies[0] != netip.MustParsePrefix("10.0.0.0/8") {
		t.Errorf("trusted proxies %v", ao.TrustedProxies)
	}
	acme := ao.Accounts[0]
	if acme.Name != "acme" || len(acme.IPAllow) != 2 || acme.IPAllow[0] != netip.MustParsePrefix("203.0.113.0/24") ||
		acme.IPAllow[1] != netip.MustParsePrefix("198.51.100.7/32") || len(acme.EncKey) != 32 || acme.RateLimit != 200 {
		t.Errorf("acme %+v", acme)
	}
	if o := c.OTPOptions(); string(o.Key) != c.OTP.Key || o.MaxAttempts != 5 || o.Store != nil {
		t.Errorf("otp %+v", o)
	}
	co, err := c.CorrelatorOptions()
	if err != nil {
		t.Fatal(err)
	}
	if len(co.Carriers) != 2 || co.Carriers[0].Format != dlr.FormatHex || co.Carriers[1].Format != dlr.FormatDecimal ||
		co.Carriers[0].DLT.PETag != 0x1400 || co.EarlyWindow != 0 {
		t.Errorf("correlator %+v", co)
	}
	// The one route of an account's webhook URL: into api's account, which writes it into
	// each message's Meta for dlr.
	if acme.WebhookURL == "" || acme.WebhookURL != c.Accounts[0].WebhookURL {
		t.Errorf("acme's webhook %q", acme.WebhookURL)
	}
	if so := c.SenderOptions(); so.Secret != "change-me" || so.Timeout != 0 {
		t.Errorf("sender %+v", so)
	}
	if url, ro := c.RedisStore(); url != c.Store.RedisURL || ro.Prefix != "smppd" {
		t.Errorf("redis %q %+v", url, ro)
	}
	if lo := c.LivenessOptions(); lo.Instance != "smppd-1" || lo.TTL != 0 {
		t.Errorf("liveness %+v", lo)
	}
}

// An aggregator account's TM id reaches api's account, which carries it on every message
// for the chain.
func TestShortlinkOptions(t *testing.T) {
	c, err := Parse("m.yaml", []byte(minimal+"dlt:\n  max_var_len: 40\nshortlinks:\n  base_url: https://e.1rp.in\n  listen: 0.0.0.0:8090\n  ttl: 720h\n  trusted_proxies: [10.0.0.0/8]\n  durable_clicks: true\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	o, ok, err := c.ShortlinkOptions()
	if err != nil || !ok || o.BaseURL != "https://e.1rp.in" || o.TTL != 720*time.Hour || len(o.TrustedProxies) != 1 || !o.Durable {
		t.Fatalf("%+v %v %v", o, ok, err)
	}
	ao, err := c.APIOptions()
	if err != nil || ao.Shortlinks.Base != "https://e.1rp.in" || ao.Shortlinks.TTL != 720*time.Hour || ao.Match.MaxVarLen != 40 {
		t.Fatalf("%+v %v", ao.Shortlinks, err)
	}
	off, _ := Parse("m.yaml", []byte(minimal), env(nil))
	if _, ok, _ := off.ShortlinkOptions(); ok {
		t.Fatal("short links on without base_url")
	}
}

func TestAccountTMID(t *testing.T) {
	c, err := Parse("m.yaml", []byte(minimal+"otp:\n  key: 0123456789abcdef0123456789abcdef\naccounts:\n  - name: agg\n    api_keys: [0123456789abcdef0]\n    tm_id: \"1702157571346669272\"\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	ao, err := c.APIOptions()
	if err != nil {
		t.Fatal(err)
	}
	if got := ao.Accounts[0].TMID; got != "1702157571346669272" {
		t.Fatalf("TMID %q", got)
	}
}

func TestParseCIDR(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"10.0.0.0/8", "10.0.0.0/8", ""},
		{"10.1.2.3/8", "10.0.0.0/8", ""},
		{"198.51.100.7", "198.51.100.7/32", ""},
		{"::ffff:198.51.100.7", "198.51.100.7/32", ""},
		{"2001:db8::1", "2001:db8::1/128", ""},
		{"2001:db8::/32", "2001:db8::/32", ""},
		{"10.0.0.0/33", "", `"10.0.0.0/33" is not a CIDR`},
		{"example.com", "", `"example.com" is not an IP address or CIDR`},
	} {
		p, err := ParseCIDR(tc.in)
		switch {
		case tc.err != "" && (err == nil || err.Error() != tc.err):
			t.Errorf("%s: error %v, want %s", tc.in, err, tc.err)
		case tc.err == "" && (err != nil || p.String() != tc.want):
			t.Errorf("%s: %v %v, want %s", tc.in, p, err, tc.want)
		}
	}
}

func TestTextKeys(t *testing.T) {
	const otpKey = "0123456789abcdef0123456789abcdef"
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	old := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32))
	vars := map[string]string{"SMPPD_TEXT_KEY": key}

	c, err := Parse("m.yaml", []byte(minimal+"otp:\n  key: "+otpKey+"\n"), env(vars))
	if err != nil {
		t.Fatal(err)
	}
	derived, _ := redisstore.DeriveTextKey([]byte(otpKey))
	if _, o := c.RedisStore(); !bytes.Equal(o.TextKey, derived) || c.TextKeySource() != "derived from otp.key" {
		t.Fatalf("no text_key: %x from %s, want the key derived from otp.key", o.TextKey, c.TextKeySource())
	}

	c, err = Parse("m.yaml", []byte(minimal+"store:\n  text_key: ${SMPPD_TEXT_KEY}\n  text_keys_old: ["+old+"]\nwebhooks:\n  dead_letter_ttl: 240h\n"), env(vars))
	if err != nil {
		t.Fatal(err)
	}
	if _, o := c.RedisStore(); !bytes.Equal(o.TextKey, bytes.Repeat([]byte{1}, 32)) || len(o.TextKeysOld) != 1 ||
		o.TextKeysOld[0][0] != 2 || c.TextKeySource() != "store.text_key" || o.DeadRetention != 240*time.Hour {
		t.Fatalf("text_key: %+v from %s", o, c.TextKeySource())
	}

	c, err = Parse("m.yaml", []byte(minimal+"otp:\n  key: "+otpKey+"\nstore:\n  text_key: "+key+"\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, o := c.RedisStore(); len(o.TextKeysOld) != 1 || !bytes.Equal(o.TextKeysOld[0], derived) {
		t.Fatalf("text_key with otp.key: old keys %x, want the derived key", o.TextKeysOld)
	}

	for _, tc := range []struct{ yaml, want string }{
		{"store:\n  text_key: c2hvcnQ=\n", "store.text_key: want the base64 of 32 random bytes"},
		{"store:\n  text_key: " + key + "\n  text_keys_old: [nope]\n", "store.text_keys_old[0]: want the base64 of 32 random bytes"},
		{"store:\n  text_keys_old: [" + old + "]\n", "store.text_keys_old: set with no store.text_key"},
		{"webhooks:\n  dead_letter_ttl: -1h\n", "dead_letter_ttl must not be negative"},
	} {
		if _, err := Parse("m.yaml", []byte(minimal+tc.yaml), env(nil)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.yaml, err, tc.want)
		}
	}
}
