package api

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
)

func bulkBody(key string, msgs ...string) string {
	return fmt.Sprintf(`{"module":"TRANS_SMS","apikey":%q,"messages":[%s]}`, key, strings.Join(msgs, ","))
}

func bulkMsg(to, text string) string {
	return fmt.Sprintf(`{"smsFrom":"ACMEIN","smsTo":%q,"smsText":%q,"callback_value1":"order_1","callback_value2":"cust_2","callback_format":"json"}`, to, text)
}

func TestBulk(t *testing.T) {
	many := make([]string, 1001)
	for i := range many {
		many[i] = bulkMsg("+919812345678", paymentText)
	}
	cases := []struct {
		name, body string
		code       int
		success    bool
		errField   string
		sent       int
	}{
		{"two valid", bulkBody(key1, bulkMsg("+919812345678", paymentText), bulkMsg("9812345679", paymentText)), 200, true, "", 2},
		{"one invalid phone, one DLT violation, one valid", bulkBody(key1, bulkMsg("+9198", paymentText), bulkMsg("+919812345678", "spam"), bulkMsg("+919812345678", paymentText)), 200, true, "", 1},
		{"all invalid", bulkBody(key1, bulkMsg("+9198", paymentText)), 400, false, "smsTo", 0},
		{"empty text", bulkBody(key1, bulkMsg("+919812345678", "")), 400, false, "smsText", 0},
		{"text over 1000", bulkBody(key1, bulkMsg("+919812345678", strings.Repeat("a", 1001))), 400, false, "smsText", 0},
		{"invalid JSON", `{"module":"TRANS_SMS","messages":[{]}`, 400, false, "", 0},
		{"invalid key", bulkBody("nope", bulkMsg("+919812345678", paymentText)), 400, false, "apikey", 0},
		{"module", strings.Replace(bulkBody(key1, bulkMsg("+919812345678", paymentText)), "TRANS_SMS", "PROMO_SMS", 1), 400, false, "module", 0},
		{"no messages", bulkBody(key1), 400, false, "messages", 0},
		{"1001 messages", bulkBody(key1, many...), 400, false, "messages", 0},
		{"balance", bulkBody(keyPoor, bulkMsg("+919812345678", paymentText), bulkMsg("+919812345678", paymentText)), 400, false, "apikey", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			r := e.do("POST", "/API/R1/Bulk/", "application/json", tc.body)
			if r.code != tc.code || r.m["success"] != tc.success || !isUUID4(r.str("requestId")) {
				t.Fatalf("%d %s", r.code, r.body)
			}
			if tc.errField != "" {
				d, _ := r.m["details"].([]any)
				if len(d) == 0 || d[0].(map[string]any)["field"] != tc.errField {
					t.Fatalf("details %s", r.body)
				}
			}
			if !tc.success && tc.errField == "" && !strings.Contains(r.body, "Failed to parse request body as JSON") {
				t.Fatal(r.body)
			}
			ms := e.sender.sent()
			if len(ms) != tc.sent {
				t.Fatalf("sent %d, want %d", len(ms), tc.sent)
			}
			if tc.success {
				var rep bulkReply
				_ = json.Unmarshal([]byte(r.body), &rep)
				if rep.MessageCount != tc.sent || len(rep.Messages) != strings.Count(tc.body, "smsFrom") {
					t.Fatal(r.body)
				}
				m := ms[0]
				if m.Meta["callback_value1"] != "order_1" || m.Meta["callback_value2"] != "cust_2" || m.Meta["webhook_mode"] != "json" ||
					!strings.HasPrefix(m.ID, rep.RequestID+"-") {
					t.Fatalf("%+v", m)
				}
			}
		})
	}
	t.Run("GET", func(t *testing.T) {
		e := newEnv(t, nil)
		if r := e.do("GET", "/API/R1/Bulk", "", ""); r.code != 405 {
			t.Fatal(r.body)
		}
	})
}

func TestENC(t *testing.T) {
	kid := EncKeyID(encKey)
	send := func(mode string) string {
		return fmt.Sprintf(`{"module":"TRANS_SMS","apikey":%q,"to":"91XXXXXXXXXX","from":"ACMEIN","msg":%q}`, key1, paymentText)
	}
	for _, mode := range []string{EncGCM, EncCBC} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, nil)
			payload, err := Encrypt(mode, encKey, []byte(strings.Replace(send(mode), "91XXXXXXXXXX", "919812345678", 1)))
			if err != nil {
				t.Fatal(err)
			}
			target := "/API/R1?module=ENC&encmode=" + mode
			if mode == EncCBC {
				target = "/API/R1/?module=ENC" // CBC is the default
			}
			r := e.do("POST", target, "application/x-www-form-urlencoded", payload, "Secret-Key", kid)
			if r.code != 200 {
				t.Fatal(r.body)
			}
			pt, err := Decrypt(mode, encKey, r.body)
			if err != nil {
				t.Fatalf("reply %q: %v", r.body, err)
			}
			var rep map[string]string
			if json.Unmarshal(pt, &rep) != nil || rep["Status"] != "Success" || !isUUID4(rep["Details"]) || len(e.sender.sent()) != 1 {
				t.Fatalf("%s", pt)
			}
			// status lookup through ENC
			dlr, _ := Encrypt(mode, encKey, []byte(fmt.Sprintf(`{"module":"TRANS_SMS_DLR","apikey":%q,"sessionid":%q}`, key1, rep["Details"])))
			r = e.do("POST", target, "", dlr, "Secret-Key", kid)
			pt, err = Decrypt(mode, encKey, r.body)
			if err != nil || !strings.Contains(string(pt), msgNoRecords) { // the fake sender stores no record
				t.Fatalf("%s %v", pt, err)
			}
			// tampering is refused
			raw, _ := decodeBase64(payload)
			raw[len(raw)/2] ^= 1
			tampered := strings.TrimSpace(fmt.Sprint(encodeStd(raw)))
			expect(t, e.do("POST", target, "", tampered, "Secret-Key", kid), 400, "Error", "Decryption failed")
			other := mode
			if mode == EncGCM {
				other = EncCBC
			} else {
				other = EncGCM
			}
			expect(t, e.do("POST", "/API/R1?module=ENC&encmode="+other, "", payload, "Secret-Key", kid), 400, "Error", "Decryption failed")
		})
	}
	e := newEnv(t, nil)
	good, _ := Encrypt(EncGCM, encKey, []byte(send(EncGCM)))
	wrongKey, _ := Encrypt(EncGCM, encKey, []byte(fmt.Sprintf(`{"module":"TRANS_SMS","apikey":%q}`, keyDefer)))
	otherModule, _ := Encrypt(EncGCM, encKey, []byte(fmt.Sprintf(`{"module":"PROMO_SMS","apikey":%q}`, key1)))
	badPhone, _ := Encrypt(EncGCM, encKey, []byte(send(EncGCM)))
	cases := []struct {
		name, method, target, body, kid string
		code                            int
		details                         string
	}{
		{"no Secret-Key", "POST", "/API/R1?module=ENC&encmode=GCM", good, "", 400, "Secret-Key is missing in the request header"},
		{"unknown Secret-Key", "POST", "/API/R1?module=ENC&encmode=GCM", good, "deadbeef", 400, "Invalid Secret-Key"},
		{"not base64", "POST", "/API/R1?module=ENC&encmode=GCM", "%%%", kid, 400, "Decryption failed"},
		{"GET", "GET", "/API/R1?module=ENC&encmode=GCM", "", kid, 400, "HTTP GET is not supported on this endpoint"},
		{"bad encmode", "POST", "/API/R1?module=ENC&encmode=ECB", good, kid, 400, "Invalid encmode"},
		{"key of another account", "POST", "/API/R1?module=ENC&encmode=GCM", wrongKey, kid, 400, msgInvalidKey},
		{"module not allowed", "POST", "/API/R1?module=ENC&encmode=GCM", otherModule, kid, 400, "Invalid module name"},
		{"message-level error in plain text", "POST", "/API/R1?module=ENC&encmode=GCM", badPhone, kid, 200, msgPhoneNotDigits + "'X'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.kid != "" {
				hdr = []string{"Secret-Key", tc.kid}
			}
			expect(t, e.do(tc.method, tc.target, "", tc.body, hdr...), tc.code, "Error", tc.details)
		})
	}
}

func TestSecurity(t *testing.T) {
	t.Run("IP allow-list and trusted proxies", func(t *testing.T) {
		e := newEnv(t, nil)
		p := "/API/V1/" + keyIP + "/BAL/SMS"
		cases := []struct {
			remote, xff string
			ok          bool
		}{
			{"203.0.113.7:1000", "", true},
			{"192.0.2.1:1000", "203.0.113.7", false},         // XFF from an untrusted peer is ignored
			{"10.0.0.1:1000", "203.0.113.7", true},           // from the trusted proxy
			{"10.0.0.1:1000", "203.0.113.7, 10.0.0.1", true}, // proxy chain: right-most untrusted
			{"10.0.0.1:1000", "203.0.113.7, 198.51.100.1", false},
			{"10.0.0.1:1000", "garbage", false},
			{"[::ffff:203.0.113.9]:1000", "", true},
		}
		for _, c := range cases {
			hdr := []string{"X-Test-Remote", c.remote}
			if c.xff != "" {
				hdr = append(hdr, "X-Forwarded-For", c.xff)
			}
			r := e.do("GET", p, "", "", hdr...)
			if (r.code == 200) != c.ok {
				t.Fatalf("%+v: %d %s", c, r.code, r.body)
			}
		}
	})
	t.Run("rate limit per key", func(t *testing.T) {
		e := newEnv(t, nil)
		codes := map[int]int{}
		for range 5 {
			r := e.do("GET", "/API/V1/"+keySlow+"/BAL/SMS", "", "")
			codes[r.code]++
			if r.code == 429 {
				expect(t, r, 429, "Error", msgRateLimited)
			}
		}
		if codes[200] != 2 || codes[429] != 3 {
			t.Fatalf("%v", codes)
		}
		expect(t, e.do("GET", "/API/V1/"+key1+"/BAL/SMS", "", ""), 200, "Success", "1000") // other keys unaffected
	})
	t.Run("bounded body", func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.MaxBodyBytes = 100; o.MaxBulkBytes = 100 })
		big := "msg=" + strings.Repeat("a", 200)
		expect(t, e.do("POST", "/API/R1/", "application/x-www-form-urlencoded", big), 413, "Error", msgBodyTooLarge)
		mpType, mpBody := multipartBody("msg", strings.Repeat("a", 200))
		expect(t, e.do("POST", "/API/R1/", mpType, mpBody), 413, "Error", msgBodyTooLarge)
		if r := e.do("POST", "/API/R1/Bulk/", "application/json", bulkBody(key1, bulkMsg("+919812345678", paymentText))); r.code != 413 || r.m["success"] != false {
			t.Fatal(r.body)
		}
	})
	t.Run("HTTP server timeouts", func(t *testing.T) {
		s := NewHTTPServer(":0", nil)
		if s.ReadHeaderTimeout == 0 || s.ReadTimeout == 0 || s.WriteTimeout == 0 || s.IdleTimeout == 0 || s.MaxHeaderBytes == 0 {
			t.Fatalf("%+v", s)
		}
	})
	t.Run("options", func(t *testing.T) {
		if _, err := New(Options{}); err == nil {
			t.Fatal("no sender accepted")
		}
		dup := testAccounts()
		dup[1].APIKeys = dup[0].APIKeys
		if _, err := New(Options{Sender: &fakeSender{}, Accounts: dup}); err == nil {
			t.Fatal("a key shared by two accounts accepted")
		}
		bad := testAccounts()
		bad[0].EncKey = []byte("short")
		if _, err := New(Options{Sender: &fakeSender{}, Accounts: bad}); err == nil {
			t.Fatal("short ENC key accepted")
		}
	})
}

func encodeStd(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// The worked example of docs/api.md (made with openssl) decrypts.
func TestENCVectors(t *testing.T) {
	b, err := os.ReadFile("../testdata/api/enc_vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]string
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	key, _ := hex.DecodeString(v["key_hex"])
	if EncKeyID(key) != v["key_id"] {
		t.Fatalf("key id %s, want %s", EncKeyID(key), v["key_id"])
	}
	ek, mk := cbcKeys(key)
	if hex.EncodeToString(ek) != v["cbc_kenc_hex"] || hex.EncodeToString(mk) != v["cbc_kmac_hex"] {
		t.Fatal("derived CBC keys differ")
	}
	for mode, payload := range map[string]string{EncGCM: v["gcm_payload"], EncCBC: v["cbc_payload"]} {
		pt, err := Decrypt(mode, key, payload)
		if err != nil || string(pt) != v["plaintext"] {
			t.Fatalf("%s: %q %v", mode, pt, err)
		}
	}
}
