package api

import (
	"net/url"
	"strings"
	"testing"

	"github.com/smppd/smppd/dlt"
)

// TestPhoneWithNonDigits: letters or other characters in a phone number are named in the
// reply, on every endpoint, instead of a misleading "Length Mismatch".
func TestPhoneWithNonDigits(t *testing.T) {
	e := newEnv(t, nil)
	const want = msgPhoneNotDigits + "'a', 'b'"
	expect(t, e.do("GET", "/API/V1/"+key1+"/SMS/98ab345678/AUTOGEN", "", ""), 400, "Error", want)
	expect(t, e.do("GET", "/API/V1/"+key1+"/SMS/VERIFY3/+91-98a1b/123456", "", ""), 400, "Error", want)
	expect(t, e.do("POST", "/API/R1/", "application/x-www-form-urlencoded",
		form("module", "TRANS_SMS", "apikey", key1, "to", "98ab345678", "from", "ACMEIN", "msg", paymentText)), 200, "Error", want)
	expect(t, e.do("GET", "/API/R1/?"+form("module", "SMS_OTP", "apikey", key1, "to", "9812x45678"), "", ""), 200, "Error", msgPhoneNotDigits+"'x'")
	expect(t, e.do("POST", "/API/V1/"+key1+"/ADDON_SERVICES/SEND/TSMS", "application/x-www-form-urlencoded",
		"From=ACMEIN&To=9812345678,98123456ab&Msg=x"), 400, "Error", want)
	// Separators and a leading + are not complained about; a wrong count of digits is still
	// a length mismatch.
	expect(t, e.do("GET", "/API/V1/"+key1+"/SMS/+91(98)123-4.5/AUTOGEN", "", ""), 400, "Error", msgPhoneLength)
	r := e.do("POST", "/API/R1/Bulk/", "application/json", `{"module":"TRANS_SMS","apikey":"`+key1+`","messages":[
		{"smsFrom":"ACMEIN","smsTo":"+91981234567$","smsText":"`+paymentText+`"}]}`)
	if r.code != 400 || !strings.Contains(r.body, msgPhoneNotDigits+"'$'") {
		t.Fatalf("Bulk: %d %s", r.code, r.body)
	}
}

// TestV1LegacyErrorsNameV1Fields: TSMS and PSMS errors name their own fields (To, From,
// Msg, TemplateName, SendAt) and modules (TSMS, PSMS), never R1's.
func TestV1LegacyErrorsNameV1Fields(t *testing.T) {
	const fu = "application/x-www-form-urlencoded"
	e := newEnv(t, nil)
	tsms, psms := "/API/V1/"+key1+"/ADDON_SERVICES/SEND/TSMS", "/API/V1/"+key1+"/ADDON_SERVICES/SEND/PSMS"
	cases := []struct {
		name, path, body, want string
	}{
		{"no To", tsms, "From=ACMEIN&Msg=x", "Phone number (To) is required"},
		{"no text", tsms, "From=ACMEIN&To=9812345678", "Message text is empty - send Msg or TemplateName"},
		{"bad SendAt", tsms, "From=ACMEIN&To=9812345678&Msg=x&SendAt=tomorrow", `Invalid SendAt "tomorrow"`},
		{"promotional on TSMS", tsms, "From=512345&To=9812345678&Msg=" + url.QueryEscape(promoText), "send it with PSMS"},
		{"transactional on PSMS", psms, "From=ACMEIN&To=9812345678&Msg=" + url.QueryEscape(paymentText), "PSMS sends promotional and service explicit templates, use TSMS"},
	}
	for _, tc := range cases {
		r := e.do("POST", tc.path, fu, tc.body)
		expect(t, r, 400, "Error", "")
		if d := r.str("Details"); !strings.Contains(d, tc.want) || strings.Contains(d, "PROMO_SMS") || strings.Contains(d, "TRANS_SMS") {
			t.Errorf("%s: %q, want it to contain %q and no R1 module", tc.name, d, tc.want)
		}
	}
	// R1 keeps its own names.
	r := e.do("POST", "/API/R1/", fu, form("module", "TRANS_SMS", "apikey", key1, "from", "ACMEIN", "msg", "x"))
	expect(t, r, 200, "Error", "Phone number (to) is required")
	r = e.do("POST", "/API/R1/", fu, form("module", "TRANS_SMS", "apikey", key1, "to", "9812345678", "from", "512345", "msg", promoText))
	expect(t, r, 200, "Error", msgInvalidTemplate)
	if !strings.Contains(r.str("Details"), "send it with PROMO_SMS") {
		t.Errorf("R1: %s", r.body)
	}

	// Without a registry TSMS cannot name a CT ID or a template: it is not told to pass ctid.
	noReg := newEnv(t, func(o *Options) { o.Registry = func() *dlt.Registry { return nil } })
	for body, want := range map[string]string{
		"From=ACMEIN&To=9812345678&Msg=x":               "cannot pass one",
		"From=ACMEIN&To=9812345678&TemplateName=Ticket": "template names need the DLT registry, which is not configured",
	} {
		r := noReg.do("POST", tsms, fu, body)
		expect(t, r, 400, "Error", "")
		if d := r.str("Details"); !strings.Contains(d, want) || strings.Contains(d, "ctid") && !strings.Contains(d, "R1 can") || strings.Contains(d, "peid") {
			t.Errorf("no registry, %s: %q", body, d)
		}
	}
}

// TestRetryAfterOn429: every 429 says when to come back.
func TestRetryAfterOn429(t *testing.T) {
	e := newEnv(t, nil)
	bal := "/API/V1/" + keySlow + "/BAL/SMS"
	var r resp
	hdr := func() string { return "" }
	for i := 0; i < 3; i++ { // keySlow: 2 requests/s, a burst of 2
		rec := e.doRec("GET", bal, "", "")
		r, hdr = rec.resp, func() string { return rec.retryAfter }
	}
	expect(t, r, 429, "Error", msgRateLimited)
	if hdr() != "1" {
		t.Errorf("V1 Retry-After %q, want 1", hdr())
	}
	rec := e.doRec("POST", "/API/R1/", "application/x-www-form-urlencoded", form("module", "TRANS_SMS", "apikey", keySlow))
	if rec.code != 429 || rec.retryAfter != "1" {
		t.Errorf("R1: %d %q %s", rec.code, rec.retryAfter, rec.body)
	}
	rec = e.doRec("POST", "/API/R1/Bulk/", "application/json", `{"module":"TRANS_SMS","apikey":"`+keySlow+`","messages":[]}`)
	if rec.code != 429 || rec.retryAfter != "1" || rec.m["success"] != false {
		t.Errorf("Bulk: %d %q %s", rec.code, rec.retryAfter, rec.body)
	}
	// The OTP send limit per phone (5 in this env): its window is an hour at most.
	for i := 0; i < 6; i++ {
		rec = e.doRec("GET", "/API/V1/"+key1+"/SMS/9812345678/AUTOGEN", "", "")
	}
	if rec.code != 429 || rec.retryAfter != "3600" {
		t.Errorf("send limit: %d %q %s", rec.code, rec.retryAfter, rec.body)
	}
	// Other replies carry none.
	if rec = e.doRec("GET", "/API/V1/"+key1+"/BAL/SMS", "", ""); rec.retryAfter != "" {
		t.Errorf("Retry-After on a %d", rec.code)
	}
}

// TestSandboxIsHTTP200AndNotRateLimited: once the key is a sandbox account's, every reply
// is HTTP 200 (Status tells), and no rate limit applies (2Factor's sandbox section).
func TestSandboxIsHTTP200AndNotRateLimited(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		for i := range o.Accounts {
			if o.Accounts[i].Sandbox {
				o.Accounts[i].RateLimit = 1
			}
		}
	})
	for i := 0; i < 10; i++ {
		expect(t, e.do("GET", "/API/V1/"+keySandbox+"/SMS/9812345678/AUTOGEND", "", ""), 200, "Success", "")
	}
	const fu = "application/x-www-form-urlencoded"
	for _, c := range []struct{ method, path, ctype, body, details string }{
		{"GET", "/API/V1/" + keySandbox + "/SMS/98ab345678/AUTOGEN", "", "", msgPhoneNotDigits},
		{"GET", "/API/V1/" + keySandbox + "/SMS/98123/AUTOGEND2", "", "", msgPhoneLength},
		{"GET", "/API/V1/" + keySandbox + "/SMS/VERIFY3/98123/123456", "", "", msgPhoneLength},
		{"GET", "/API/V1/" + keySandbox + "/SMS/VERIFY2/Dummy-12345/12345", "", "", msgOTPMismatch},
		{"GET", "/API/V1/" + keySandbox + "/BAL/NOPE", "", "", msgInvalidService},
		{"POST", "/API/V1/" + keySandbox + "/ADDON_SERVICES/SEND/TSMS", fu, "From=ACMEIN&Msg=x", "Phone number (To) is required"},
		{"POST", "/API/R1/", fu, form("module", "NOPE", "apikey", keySandbox), "Invalid module name"},
	} {
		expect(t, e.do(c.method, c.path, c.ctype, c.body), 200, "Error", c.details)
	}
	r := e.do("POST", "/API/R1/Bulk/", "application/json", `{"module":"TRANS_SMS","apikey":"`+keySandbox+`","messages":[]}`)
	if r.code != 200 || r.m["success"] != false {
		t.Errorf("sandbox Bulk error: %d %s", r.code, r.body)
	}
	expect(t, e.do("POST", "/API/R1/", fu, form("module", "TRANS_SMS", "apikey", keySandbox, "to", "9812345678", "from", "ACMEIN", "msg", paymentText)), 200, "Success", "")
	if n := len(e.sender.sent()); n != 0 {
		t.Errorf("the sandbox sent %d messages", n)
	}
	// Before the key is known nothing is a sandbox's: an unknown key stays 400.
	expect(t, e.do("GET", "/API/V1/nokey/SMS/98ab345678/AUTOGEN", "", ""), 400, "Error", msgInvalidKey)
}

// TestR1CallbackValues: single-message sends take callback_value1/2 (and callback_format)
// as Bulk does, into the message's Meta that dlr echoes in the delivery webhook.
func TestR1CallbackValues(t *testing.T) {
	e := newEnv(t, nil)
	const fu = "application/x-www-form-urlencoded"
	expect(t, e.do("POST", "/API/R1/", fu, form("module", "TRANS_SMS", "apikey", key1, "to", "9812345678,9812345679", "from", "ACMEIN",
		"msg", paymentText, "callback_value1", "order_98765", "callback_value2", "cust_1122")), 200, "Success", "")
	expect(t, e.do("POST", "/API/R1/", fu, form("module", "PROMO_SMS", "apikey", key1, "to", "9812345670", "from", "512345",
		"msg", promoText, "callback_value1", "promo_1", "callback_format", "form")), 200, "Success", "")
	ms := e.sender.sent()
	if len(ms) != 3 {
		t.Fatalf("%d messages", len(ms))
	}
	for i, want := range []map[string]string{
		{"callback_value1": "order_98765", "callback_value2": "cust_1122", "webhook_mode": "json"},
		{"callback_value1": "order_98765", "callback_value2": "cust_1122", "webhook_mode": "json"},
		{"callback_value1": "promo_1", "webhook_mode": "form"},
	} {
		for k, v := range want {
			if ms[i].Meta[k] != v {
				t.Errorf("message %d: Meta[%s] = %q, want %q (%v)", i, k, ms[i].Meta[k], v, ms[i].Meta)
			}
		}
	}
}
