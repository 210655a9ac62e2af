package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smppd/smppd/internal/wait"
	"github.com/smppd/smppd/smsc"
	"github.com/smppd/smppd/smsc/smsctest"
)

// TestR1CallbackValuesInWebhook: callback_value1/2 of a single-message R1 send come back in
// that message's delivery webhook, in the callback_format asked for, through the whole
// daemon: API, dispatcher, carrier receipt, correlator, webhook sender. (PROMO_SMS takes
// them the same way — api's TestR1CallbackValues — but may not go out at night.)
func TestR1CallbackValuesInWebhook(t *testing.T) {
	var mu sync.Mutex
	got := map[string]map[string]string{} // SmsTo (national in JSON, 91… in the form) → the payload
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := map[string]string{}
		b, _ := io.ReadAll(r.Body)
		if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
			v, _ := url.ParseQuery(string(b))
			for k := range v {
				s[k] = v.Get(k)
			}
			s["format"] = "form"
		} else {
			var m map[string]any
			_ = json.Unmarshal(b, &m)
			for k, v := range m {
				s[k] = fmt.Sprint(v)
			}
			s["format"] = "json"
		}
		mu.Lock()
		got[s["SmsTo"]] = s
		mu.Unlock()
	}))
	defer hooks.Close()
	sim := smsctest.Start(t, smsc.Options{EnquireLinkInterval: -1, Accounts: []smsc.Account{{
		SystemID: "smppd", Password: "password", Receipts: smsc.Receipts{DelayMin: time.Millisecond, DelayMax: 5 * time.Millisecond},
	}}})
	reg, err := filepath.Abs("../../testdata/dlt/registry.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "smppd.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`
log_level: error
http:
  listen: 127.0.0.1:0
carriers:
  - name: sim
    binds:
      - addrs: [%q]
        system_id: smppd
        password: password
otp:
  key: 0123456789abcdef0123456789abcdef
webhooks:
  allow_private: true
dlt:
  registry: %s
accounts:
  - name: acme
    api_keys: [0123456789abcdef0123]
    sender_ids: [ACMEIN]
    dlt_entity: "1101557290000055412"
    webhook_url: %s/dlr
`, sim.Addr(), reg, hooks.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	api := startDaemonInProcess(t, cfg)
	for _, c := range [][]string{
		{"json", "9812345671", "order_98765", "cust_1122"},
		{"form", "9812345672", "order_1", ""},
	} {
		v := url.Values{"module": {"TRANS_SMS"}, "apikey": {"0123456789abcdef0123"}, "to": {c[1]}, "from": {"ACMEIN"},
			"msg":             {"Rs.500 received for order A123. Thank you for shopping with ACME."},
			"callback_value1": {c[2]}, "callback_value2": {c[3]}, "callback_format": {c[0]}}
		resp, err := http.PostForm("http://"+api+"/API/R1/", v)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), `"Success"`) {
			t.Fatalf("%s: %d %s", c[0], resp.StatusCode, b)
		}
	}
	wait.For(t, 20*time.Second, "both delivery webhooks", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 2 })
	mu.Lock()
	defer mu.Unlock()
	for to, want := range map[string][3]string{"9812345671": {"order_98765", "cust_1122", "json"}, "919812345672": {"order_1", "", "form"}} {
		p := got[to]
		if p["callback_value1"] != want[0] || p["callback_value2"] != want[1] || p["format"] != want[2] || p["SmsStatus"] != "DELIVERED" {
			t.Errorf("webhook for %s: %v", to, p)
		}
	}
}
