package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smppd/smppd/api/smppfront"
	"github.com/smppd/smppd/internal/wait"
	"github.com/smppd/smppd/smpp"
	"github.com/smppd/smppd/smsc"
	"github.com/smppd/smppd/smsc/smsctest"
	"github.com/smppd/smppd/store/storetest"
)

// Issue #15: no OTP code rests in Redis in plaintext. With the carrier down, OTPs sent
// through the HTTP API and a message scheduled through the SMPP front (which also goes to
// the cancel index) wait in Redis; every key of the deployment's prefix, whatever its type,
// is read back and holds none of the codes nor the texts. Then the carrier comes up: each
// OTP reaches it with its code (the texts open again), and the scheduled message is
// withdrawn by cancel_sm through the index.
func TestNoOTPCodeAtRestWhileTheCarrierIsDown(t *testing.T) {
	hash, err := smppfront.HashPassword(frontPass)
	if err != nil {
		t.Fatal(err)
	}
	carrier := freeAddr(t) // nothing listens: connections are refused
	front := freeAddr(t)
	prefix := storetest.UniquePrefix(t)
	const apiKey = "atrest-key-0123456789abcdef"
	yaml := fmt.Sprintf(`
log_level: error
http:
  listen: 127.0.0.1:0
store:
  type: redis
  redis_url: %s
  prefix: %s
smpp_front:
  listen: %s
otp:
  key: 0123456789abcdef0123456789abcdef
dlt:
  registry: registry.yaml
dispatch:
  claim_wait: 100ms
carriers:
  - name: sim
    binds:
      - addrs: [%q]
        system_id: smppd
        password: password
        reconnect_min: 50ms
        reconnect_max: 200ms
accounts:
  - name: agg
    api_keys: [%s]
    sender_ids: [ACMEIN]
    dlt_entity: %q
    tm_id: %q
    otp_template: %q
    smpp:
      system_id: agg
      password_hash: %q
      rate: -1
`, storetest.RedisURL(), prefix, front, carrier, apiKey, frontPE, frontTMAF, frontCT, hash)
	path := writeConfig(t, yaml)
	// Registered first, so it runs after smppd has stopped.
	rc := redis.NewClient(mustRedisOpts(t))
	t.Cleanup(func() {
		c := context.Background()
		iter := rc.Scan(c, 0, prefix+":*", 1000).Iterator()
		for iter.Next(c) {
			rc.Del(c, iter.Val())
		}
		_ = rc.Close()
	})

	httpAddr := startDaemonInProcess(t, path)
	// OTPs through the 2Factor API: two custom codes, one generated.
	send := func(p string) string {
		t.Helper()
		resp, err := http.Get("http://" + httpAddr + "/API/V1/" + apiKey + p)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]string
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != 200 || m["Status"] != "Success" {
			t.Fatalf("GET %s: %d %v %v", p, resp.StatusCode, m, err)
		}
		return m["Details"]
	}
	codes := map[string]string{"919700000001": "583920", "919700000002": "583921"}
	for phone, code := range codes {
		send("/SMS/" + phone + "/" + code)
	}
	send("/SMS/919700000003/AUTOGEN")

	// A message scheduled an hour ahead through the SMPP front: scheduled set and cancel index.
	s, err := smpp.Dial(context.Background(), front, smpp.Bind{Mode: smpp.BindTransceiver, SystemID: "agg", Password: frontPass},
		smpp.Options{EnquireLinkInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	sched := frontSubmit("919700000009", 777111)
	sched.ScheduleDeliveryTime = "000000010000000R"
	sresp, err := s.Submit(context.Background(), sched)
	if err != nil {
		t.Fatal(err)
	}

	// Everything waits in Redis: the OTP stream holds the three, the scheduled set the fourth.
	wait.For(t, 30*time.Second, "the messages waiting in Redis", func() bool {
		c := context.Background()
		return rc.XLen(c, prefix+":{q:sim}:0").Val() == 3 && rc.ZCard(c, prefix+":{q:sim}:sched").Val() == 1 &&
			rc.HLen(c, prefix+":{q:sim}:schedidx").Val() == 1
	})
	dump := storetest.DumpRedis(t, rc, prefix)
	// (The DLT registry in Redis holds the templates' text, "Your OTP for login is
	// {#numeric#}…": the codes are what must not be there.)
	for _, secret := range []string{"583920", "583921", "777111"} {
		if strings.Contains(dump, secret) {
			t.Fatalf("%q at rest in plaintext under %s:\n%s", secret, prefix, dump)
		}
	}

	// The carrier comes up on its address: each OTP arrives with its code.
	sim := smsctest.Start(t, smsc.Options{SMPPAddr: carrier, EnquireLinkInterval: -1,
		Accounts: []smsc.Account{{SystemID: "smppd", Password: "password"}}})
	got := map[string]string{}
	wait.For(t, 60*time.Second, "the three OTPs at the carrier", func() bool {
		for _, m := range sim.Messages(smsc.Filter{SystemID: "smppd"}) {
			got[m.Dest.Addr] = m.Text
		}
		return len(got) >= 3
	})
	for phone, code := range codes {
		if !strings.Contains(got[phone], "Your OTP for login is "+code+".") {
			t.Errorf("the carrier got %q for %s, want the code %s", got[phone], phone, code)
		}
	}
	autogen := strings.TrimPrefix(got["919700000003"], "Your OTP for login is ")
	if len(autogen) < 4 || strings.Contains(dump, autogen[:strings.IndexByte(autogen, '.')]) {
		t.Errorf("generated OTP %q: missing, or at rest in plaintext", got["919700000003"])
	}
	if _, ok := got["919700000009"]; ok {
		t.Error("the message scheduled an hour ahead was sent")
	}
	// cancel_sm finds the scheduled message through the index and opens it.
	if st := cancelStatus(t, s, sresp.MessageID); st != smpp.ESME_ROK {
		t.Fatalf("cancel_sm of the scheduled message: %v", st)
	}
}

func mustRedisOpts(t *testing.T) *redis.Options {
	o, err := redis.ParseURL(storetest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	return o
}
