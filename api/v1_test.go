package api

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/smppd/smppd/dispatch"
	"github.com/smppd/smppd/dlt"
	"github.com/smppd/smppd/store"
)

var codeInText = regexp.MustCompile(`login is (\d+)\.`)

func TestV1SendOTP(t *testing.T) {
	cases := []struct {
		name, method, path string
		code               int
		status, details    string
		digits             int    // >0: a message with a code of this many digits was sent
		custom             string // the code sent
		withOTP            bool
	}{
		{"AUTOGEN", "GET", "/API/V1/" + key1 + "/SMS/9812345678/AUTOGEN", 200, "Success", "", 6, "", false},
		{"AUTOGEN POST with template", "POST", "/API/V1/" + key1 + "/SMS/+919812345678/AUTOGEN/OTP1", 200, "Success", "", 6, "", false},
		{"AUTOGEN %2B phone, trailing slash", "GET", "/API/V1/" + key1 + "/SMS/%2B919812345678/AUTOGEN/", 200, "Success", "", 6, "", false},
		{"AUTOGEN lower-case words", "GET", "/api/v1/" + key1 + "/sms/919812345678/autogen", 200, "Success", "", 6, "", false},
		{"AUTOGEN template by registry name", "GET", "/API/V1/" + key1 + "/SMS/919812345678/AUTOGEN/login+otp", 200, "Success", "", 6, "", false},
		{"AUTOGEN unknown template falls back", "GET", "/API/V1/" + key1 + "/SMS/919812345678/AUTOGEN/NOPE%2FX", 200, "Success", "", 6, "", false},
		{"AUTOGEN2 returns the OTP", "GET", "/API/V1/" + key1 + "/SMS/9812345678/AUTOGEN2/OTP1", 200, "Success", "", 6, "", true},
		{"AUTOGEN3 4 digits", "GET", "/API/V1/" + key1 + "/SMS/9812345678/AUTOGEN3", 200, "Success", "", 4, "", false},
		{"custom 5 digits", "POST", "/API/V1/" + key1 + "/SMS/9812345678/12345", 200, "Success", "", 5, "12345", false},
		{"custom 4 digits with template", "GET", "/API/V1/" + key1 + "/SMS/9812345678/0042/OTP1", 200, "Success", "", 4, "0042", false},
		{"custom 7 digits", "GET", "/API/V1/" + key1 + "/SMS/9812345678/1234567", 400, "Error", msgInvalidOTPValue, 0, "", false},
		{"custom letters", "GET", "/API/V1/" + key1 + "/SMS/9812345678/12a45", 400, "Error", msgInvalidOTPValue, 0, "", false},
		{"short phone", "GET", "/API/V1/" + key1 + "/SMS/+9187660/AUTOGEN/OTP1", 400, "Error", msgPhoneLength, 0, "", false},
		{"foreign phone", "GET", "/API/V1/" + key1 + "/SMS/+14155550123/AUTOGEN", 400, "Error", msgPhoneLength, 0, "", false},
		{"landline-like phone", "GET", "/API/V1/" + key1 + "/SMS/2212345678/AUTOGEN", 400, "Error", msgNotIndian, 0, "", false},
		{"AUTOGEND outside sandbox", "GET", "/API/V1/" + key1 + "/SMS/9812345678/AUTOGEND", 400, "Error", msgNotSandbox, 0, "", false},
		{"invalid key", "GET", "/API/V1/not-a-key/SMS/9812345678/AUTOGEN", 400, "Error", msgInvalidKey, 0, "", false},
		{"disabled", "GET", "/API/V1/" + keyDisabled + "/SMS/9812345678/AUTOGEN", 403, "Error", msgDisabled, 0, "", false},
		{"expired", "GET", "/API/V1/" + keyExpired + "/SMS/9812345678/AUTOGEN", 403, "Error", msgExpired, 0, "", false},
		{"IP not allowed", "GET", "/API/V1/" + keyIP + "/SMS/9812345678/AUTOGEN", 403, "Error", msgIPNotAllowed, 0, "", false},
		{"low balance", "GET", "/API/V1/" + keyPoor + "/SMS/9812345678/AUTOGEN", 200, "Success", "", 6, "", false},
		{"DELETE", "DELETE", "/API/V1/" + key1 + "/SMS/9812345678/AUTOGEN", 405, "Error", "HTTP DELETE is not supported", 0, "", false},
		{"unknown path", "GET", "/API/V1/" + key1 + "/FOO", 404, "Error", "Invalid URL", 0, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			r := e.do(tc.method, tc.path, "", "")
			expect(t, r, tc.code, tc.status, tc.details)
			sent := e.sender.sent()
			if tc.digits == 0 {
				if len(sent) != 0 {
					t.Fatalf("sent %d messages", len(sent))
				}
				return
			}
			if len(sent) != 1 {
				t.Fatalf("sent %d messages, want 1", len(sent))
			}
			m := sent[0]
			mm := codeInText.FindStringSubmatch(m.Text)
			if mm == nil || len(mm[1]) != tc.digits || tc.custom != "" && mm[1] != tc.custom {
				t.Fatalf("text %q: want a %d-digit code %s", m.Text, tc.digits, tc.custom)
			}
			if m.ID != r.str("Details") || !isUUID4(m.ID) || m.Priority != store.PriorityOTP || m.From != "ACMEIN" ||
				m.To != "919812345678" || m.PEID != acmePE || m.TemplateID != otpCT || m.Meta["otp"] != "1" ||
				m.Meta["webhook_url"] == "" {
				t.Fatalf("message %+v, reply %s", m, r.body)
			}
			if got := r.str("OTP"); tc.withOTP != (got != "") || tc.withOTP && got != mm[1] {
				t.Fatalf("OTP in reply %q, code sent %s", got, mm[1])
			}
			if !tc.withOTP && len(r.m) != 2 {
				t.Fatalf("reply %s: want exactly Status and Details", r.body)
			}
			if err := e.otp.Verify(t.Context(), m.Account, m.ID, mm[1]); err != nil {
				t.Fatalf("the code sent does not verify: %v", err)
			}
		})
	}
}

func TestV1SendOTPFailures(t *testing.T) {
	t.Run("balance runs out", func(t *testing.T) {
		e := newEnv(t, nil)
		expect(t, e.do("GET", "/API/V1/"+keyPoor+"/SMS/9812345678/AUTOGEN", "", ""), 200, "Success", "")
		expect(t, e.do("GET", "/API/V1/"+keyPoor+"/SMS/9812345678/AUTOGEN", "", ""), 400, "Error", msgLowBalance)
		expect(t, e.do("GET", "/API/V1/"+keyPoor+"/BAL/SMS", "", ""), 200, "Success", "0")
	})
	t.Run("send limit per phone", func(t *testing.T) {
		e := newEnv(t, nil)
		for range 5 {
			expect(t, e.do("GET", "/API/V1/"+key1+"/SMS/9812345678/AUTOGEN", "", ""), 200, "Success", "")
		}
		expect(t, e.do("GET", "/API/V1/"+key1+"/SMS/9812345678/AUTOGEN", "", ""), 429, "Error", msgSendLimit)
		expect(t, e.do("GET", "/API/V1/"+key1+"/SMS/9812345679/AUTOGEN", "", ""), 200, "Success", "")
	})
	t.Run("submit fails: session cancelled, credits refunded", func(t *testing.T) {
		e := newEnv(t, nil)
		e.sender.fail.Store(true)
		expect(t, e.do("GET", "/API/V1/"+key1+"/SMS/9812345678/12345", "", ""), 500, "Error", msgInternal)
		expect(t, e.do("GET", "/API/V1/"+key1+"/BAL/SMS", "", ""), 200, "Success", "1000")
		expect(t, e.do("GET", "/API/V1/"+key1+"/SMS/VERIFY3/9812345678/12345", "", ""), 400, "Error", msgNoPhoneSession)
	})
	t.Run("no route to the number: the client's error, not a 500", func(t *testing.T) {
		e := newEnv(t, nil)
		noRoute := error(&dispatch.SubmitError{Field: "to", Reason: "no route", Err: dispatch.ErrNoRoute})
		e.sender.failAs.Store(&noRoute)
		expect(t, e.do("GET", "/API/V1/"+key1+"/SMS/9812345678/12345", "", ""), 400, "Error", msgNoRoute)
		expect(t, e.do("GET", "/API/R1/?"+form("module", "TRANS_SMS", "apikey", key1, "to", "9812345678", "from", "ACMEIN", "msg", paymentText), "", ""),
			200, "Error", msgNoRoute)
		expect(t, e.do("GET", "/API/V1/"+key1+"/BAL/SMS", "", ""), 200, "Success", "1000") // refunded
	})
	t.Run("DLT: OTP template missing from the registry", func(t *testing.T) {
		e := newEnv(t, func(o *Options) {
			o.Accounts[0].OTPTemplate = "1107169999999999999"
			o.Accounts[0].OTPTemplates = nil
		})
		expect(t, e.do("GET", "/API/V1/"+key1+"/SMS/9812345678/AUTOGEN", "", ""), 400, "Error", msgInvalidTemplate)
	})
	t.Run("DLT: sender not on the template", func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.Accounts[0].SenderIDs = []string{"ACMESV"} })
		expect(t, e.do("GET", "/API/V1/"+key1+"/SMS/9812345678/AUTOGEN", "", ""), 400, "Error", "DLT: header ACMESV is not registered for template")
	})
	t.Run("no registry: account OTP text, ids still required", func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.Registry = nil; o.Accounts[0].OTPText = "Code {#var#} - ACME" })
		r := e.do("GET", "/API/V1/"+key1+"/SMS/9812345678/1234", "", "")
		expect(t, r, 200, "Success", "")
		if m := e.sender.sent()[0]; m.Text != "Code 1234 - ACME" || m.TemplateID != otpCT {
			t.Fatalf("%+v", m)
		}
		e2 := newEnv(t, func(o *Options) { o.Registry = nil; o.Accounts[0].OTPTemplate = "" })
		expect(t, e2.do("GET", "/API/V1/"+key1+"/SMS/9812345678/1234", "", ""), 400, "Error", msgInvalidTemplate)
	})
}

func sendOTP(t *testing.T, e *env, key, phone string) (id, code string) {
	t.Helper()
	r := e.do("GET", "/API/V1/"+key+"/SMS/"+phone+"/AUTOGEN2", "", "")
	expect(t, r, 200, "Success", "")
	return r.str("Details"), r.str("OTP")
}

func wrong(code string) string {
	if code == "000000" {
		return "111111"
	}
	return "000000"
}

func TestV1Verify(t *testing.T) {
	type step struct {
		path            func(id, code string) string
		code            int
		status, details string
	}
	v := func(key string) func(id, code string) string {
		return func(id, code string) string { return "/API/V1/" + key + "/SMS/VERIFY/" + id + "/" + code }
	}
	verify, legacy := v(key1), v(keyLegacy)
	wrongCode := func(id, code string) string { return verify(id, wrong(code)) }
	cases := []struct {
		name  string
		key   string
		after time.Duration
		steps []step
	}{
		{"match then already used", key1, 0, []step{{verify, 200, "Success", msgOTPMatched}, {verify, 400, "Error", msgOTPExpired}}},
		{"POST works", key1, 0, []step{{func(id, c string) string { return "POST " + verify(id, c) }, 200, "Success", msgOTPMatched}}},
		{"VERIFY2 outside sandbox verifies", key1, 0, []step{{func(id, c string) string { return "/API/V1/" + key1 + "/SMS/VERIFY2/" + id + "/" + c }, 200, "Success", msgOTPMatched}}},
		{"mismatch then match", key1, 0, []step{{wrongCode, 400, "Error", msgOTPMismatch}, {verify, 200, "Success", msgOTPMatched}}},
		{"attempts run out", key1, 0, []step{{wrongCode, 400, "Error", msgOTPMismatch}, {wrongCode, 400, "Error", msgOTPMismatch},
			{wrongCode, 400, "Error", msgOTPMismatch}, {verify, 400, "Error", msgOTPLocked}}},
		{"expired", key1, 10 * time.Minute, []step{{verify, 400, "Error", msgOTPExpired}}},
		{"expired, legacy reply", keyLegacy, 10 * time.Minute, []step{{legacy, 200, "Success", msgOTPExpired}}},
		{"mismatch, legacy account still an error", keyLegacy, 0, []step{{func(id, c string) string { return legacy(id, wrong(c)) }, 400, "Error", msgOTPMismatch}}},
		{"unknown session", key1, 0, []step{{func(_, c string) string { return verify("9a34f389-e538-47a6-bf3a-80d097b29504", c) }, 400, "Error", msgNoSession}}},
		{"another account's session", key1, 0, []step{{func(id, c string) string { return v(keyDefer)(id, c) }, 400, "Error", msgNoSession}}},
		{"Dummy session outside sandbox", key1, 0, []step{{func(_, _ string) string { return verify("Dummy-12345", "12345") }, 400, "Error", msgNoSession}}},
		{"VERIFY3 +91", key1, 0, []step{{func(_, c string) string { return "/API/V1/" + key1 + "/SMS/VERIFY3/+919812345678/" + c }, 200, "Success", msgOTPMatched}}},
		{"VERIFY3 %2B91", key1, 0, []step{{func(_, c string) string { return "/API/V1/" + key1 + "/SMS/VERIFY3/%2B919812345678/" + c }, 200, "Success", msgOTPMatched}}},
		{"VERIFY3 10 digits, wrong then right", key1, 0, []step{{func(_, c string) string { return "/API/V1/" + key1 + "/SMS/VERIFY3/9812345678/" + wrong(c) }, 400, "Error", msgOTPMismatch},
			{func(_, c string) string { return "/API/V1/" + key1 + "/SMS/VERIFY3/919812345678/" + c }, 200, "Success", msgOTPMatched}}},
		{"VERIFY3 unknown phone", key1, 0, []step{{func(_, c string) string { return "/API/V1/" + key1 + "/SMS/VERIFY3/9812345670/" + c }, 400, "Error", msgNoPhoneSession}}},
		{"VERIFY3 bad phone", key1, 0, []step{{func(_, c string) string { return "/API/V1/" + key1 + "/SMS/VERIFY3/98123/" + c }, 400, "Error", msgPhoneLength}}},
		{"invalid key", key1, 0, []step{{func(id, c string) string { return v("nope")(id, c) }, 400, "Error", msgInvalidKey}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			id, code := sendOTP(t, e, tc.key, "9812345678")
			e.clock.add(tc.after)
			for i, s := range tc.steps {
				p := s.path(id, code)
				method := "GET"
				if m, rest, ok := strings.Cut(p, " "); ok {
					method, p = m, rest
				}
				r := e.do(method, p, "", "")
				if r.code != s.code || r.str("Status") != s.status || r.str("Details") != s.details {
					t.Fatalf("step %d %s: %d %s, want %d %s %q", i, p, r.code, r.body, s.code, s.status, s.details)
				}
			}
		})
	}
}

func TestV1Sandbox(t *testing.T) {
	e := newEnv(t, nil)
	base := "/API/V1/" + keySandbox + "/SMS/"
	cases := []struct {
		path            string
		status, details string
		otp             bool
	}{
		{base + "+919920123456/AUTOGEND/T1", "Success", "", false},
		{base + "+919920123456/AUTOGEND", "Success", "", false},
		{base + "+919920123456/AUTOGEND2", "Success", "", true},
		{base + "+919920123456/AUTOGEND2/T1", "Success", "", true},
		{base + "+919920123456/AUTOGEN", "Success", "", false},
		{base + "+919920123456/SomeTemplate", "Success", "", false},
		{base + "VERIFY/Dummy-12345/12345", "Success", msgOTPMatched, false},
		{base + "VERIFY/Dummy-12345/12346", "Error", msgOTPMismatch, false},
		{base + "VERIFY/mf2ddmr-x/521983", "Error", msgOTPMismatch, false},
		{base + "VERIFY2/Dummy-12345/12345", "Error", msgOTPMismatch, false},
		{base + "VERIFY3/919920123456/12345", "Error", msgOTPMismatch, false},
	}
	for _, tc := range cases {
		r := e.do("GET", tc.path, "", "")
		expect(t, r, 200, tc.status, tc.details)
		if tc.details == "" && !isUUID4(r.str("Details")) || tc.otp != (len(r.str("OTP")) == 6) {
			t.Fatalf("%s: %s", tc.path, r.body)
		}
	}
	if n := len(e.sender.sent()); n != 0 {
		t.Fatalf("sandbox sent %d messages", n)
	}
}

func TestV1Balances(t *testing.T) {
	e := newEnv(t, nil)
	cases := []struct {
		key, path string
		code      int
		status    string
		details   string
	}{
		{key1, "/BAL/SMS", 200, "Success", "1000"},
		{key1, "/ADDON_SERVICES/BAL/TRANSACTIONAL_SMS", 200, "Success", "1000"},
		{key1, "/ADDON_SERVICES/BAL/PROMOTIONAL_SMS", 200, "Success", "50"},
		{keyLegacy, "/BAL/SMS", 200, "Success", "-1"},
		{key1, "/BAL/ALL", 400, "Error", msgInvalidService},
		{key1, "/BAL/VOICE", 400, "Error", msgInvalidService},
		{key1, "/ADDON_SERVICES/BAL/SMS", 400, "Error", msgInvalidService},
		{"abc123", "/BAL/SMS", 400, "Error", msgInvalidKey},
	}
	for _, tc := range cases {
		r := e.do("GET", "/API/V1/"+tc.key+tc.path, "application/json", "")
		if r.code != tc.code || r.str("Status") != tc.status || r.str("Details") != tc.details || len(r.m) != 2 {
			t.Fatalf("%s: %d %s", tc.path, r.code, r.body)
		}
	}
	// Sending consumes per segment: a 2-part text takes 2.
	long := "Rs." + strings.Repeat("9", 20) + " received for order " + strings.Repeat("A", 29) + ". Thank you for shopping with ACME."
	long += ""
	expect(t, e.do("POST", "/API/V1/"+key1+"/ADDON_SERVICES/SEND/TSMS", "application/x-www-form-urlencoded",
		"From=ACMEIN&To=9812345678&Msg="+strings.ReplaceAll(long, " ", "+")), 200, "Success", "")
	expect(t, e.do("GET", "/API/V1/"+key1+"/BAL/SMS", "", ""), 200, "Success", "999")
	uni := "Rs.500 received for order " + strings.Repeat("अ", 29) + ". Thank you for shopping with ACME."
	expect(t, e.do("POST", "/API/V1/"+key1+"/ADDON_SERVICES/SEND/TSMS", "application/json",
		fmt.Sprintf(`{"From":"ACMEIN","To":"9812345678","Msg":%q}`, uni)), 200, "Success", "")
	expect(t, e.do("GET", "/API/V1/"+key1+"/BAL/SMS", "", ""), 200, "Success", "997")
}

func TestV1Legacy(t *testing.T) {
	form := "application/x-www-form-urlencoded"
	cases := []struct {
		name, path, ctype, body string
		code                    int
		status, details         string
		sent                    int
		check                   func(t *testing.T, ms []*store.Message)
	}{
		{"TSMS form", "TSMS", form, "From=ACMEIN&To=9812345678,9812345679,&Msg=" + strings.ReplaceAll(paymentText, " ", "+"), 200, "Success", "", 2,
			func(t *testing.T, ms []*store.Message) {
				if ms[0].Priority != store.PriorityTransactional || ms[0].TemplateID != paymentCT || ms[1].To != "919812345679" || !strings.HasSuffix(ms[1].ID, "-2") {
					t.Fatalf("%+v", ms[1])
				}
			}},
		{"TSMS template and VARs", "TSMS", form, "From=ACMEIN&To=9812345678&TemplateName=payment+received&VAR1=500&VAR2=A123", 200, "Success", "", 1,
			func(t *testing.T, ms []*store.Message) {
				if ms[0].Text != paymentText {
					t.Fatalf("text %q", ms[0].Text)
				}
			}},
		{"TSMS JSON", "TSMS", "application/json", `{"From":"ACMEIN","To":"9812345678","Msg":"` + paymentText + `"}`, 200, "Success", "", 1, nil},
		{"TSMS python dict on GET", "TSMS", "", `{'From':'ACMEIN','To':'9812345678','Msg':'Rs.5 received for order X. Thank you for shopping with ACME.'}`, 200, "Success", "", 1, nil},
		{"TSMS past SendAt is now", "TSMS", form, "From=ACMEIN&To=9812345678&SendAt=2019-01-01+00:00:01&Msg=" + strings.ReplaceAll(paymentText, " ", "+"), 200, "Success", "", 1,
			func(t *testing.T, ms []*store.Message) {
				if !ms[0].SendAt.IsZero() {
					t.Fatalf("send at %v", ms[0].SendAt)
				}
			}},
		{"TSMS future SendAt", "TSMS", form, "From=ACMEIN&To=9812345678&SendAt=2026-11-23+13:00:00&Msg=" + strings.ReplaceAll(paymentText, " ", "+"), 200, "Success", "", 1,
			func(t *testing.T, ms []*store.Message) {
				if !ms[0].SendAt.Equal(noon.Add(time.Hour)) {
					t.Fatalf("send at %v", ms[0].SendAt)
				}
			}},
		{"TSMS SendAt too soon", "TSMS", form, "From=ACMEIN&To=9812345678&SendAt=2026-11-23+12:02:00&Msg=x", 400, "Error", "SendAt must be at least 5 minutes", 0, nil},
		{"TSMS text off template", "TSMS", form, "From=ACMEIN&To=9812345678&Msg=hello", 400, "Error", "DLT:", 0, nil},
		{"TSMS unknown template name", "TSMS", form, "From=ACMEIN&To=9812345678&TemplateName=nope", 400, "Error", msgInvalidTemplate, 0, nil},
		{"TSMS sender not approved", "TSMS", form, "From=OTHERX&To=9812345678&Msg=x", 400, "Error", "Access Denied - Sender Id 'OTHERX' not approved", 0, nil},
		{"TSMS bad number in list", "TSMS", form, "From=ACMEIN&To=9812345678,123&Msg=x", 400, "Error", msgPhoneLength, 0, nil},
		{"TSMS no To", "TSMS", form, "From=ACMEIN&Msg=x", 400, "Error", "Phone number (To) is required", 0, nil},
		{"TSMS promotional template refused", "TSMS", form, "From=512345&To=9812345678&Msg=" + url.QueryEscape(promoText), 400, "Error", msgInvalidTemplate, 0, nil},
		{"PSMS promotional", "PSMS", form, "From=512345&To=9812345678&Msg=" + url.QueryEscape(promoText), 200, "Success", "", 1,
			func(t *testing.T, ms []*store.Message) {
				if ms[0].Priority != store.PriorityPromotional || !ms[0].Windowed || ms[0].TemplateID != promoCT {
					t.Fatalf("%+v", ms[0])
				}
			}},
		{"PSMS transactional template refused", "PSMS", form, "From=ACMEIN&To=9812345678&Msg=" + strings.ReplaceAll(paymentText, " ", "+"), 400, "Error", msgInvalidTemplate, 0, nil},
		{"malformed JSON", "TSMS", "application/json", `{"From":`, 400, "Error", "Invalid request body", 0, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			method := "POST"
			if tc.ctype == "" {
				method = "GET"
			}
			r := e.do(method, "/API/V1/"+key1+"/ADDON_SERVICES/SEND/"+tc.path, tc.ctype, tc.body)
			expect(t, r, tc.code, tc.status, tc.details)
			ms := e.sender.sent()
			if len(ms) != tc.sent {
				t.Fatalf("sent %d, want %d", len(ms), tc.sent)
			}
			if tc.check != nil {
				tc.check(t, ms)
			}
		})
	}
}

func TestV1OutsidePromoWindow(t *testing.T) {
	e := newEnv(t, nil)
	e.clock.set(time.Date(2026, 11, 23, 22, 0, 0, 0, dlt.IST))
	body := "From=512345&To=9812345678&Msg=" + url.QueryEscape(promoText)
	expect(t, e.do("POST", "/API/V1/"+key1+"/ADDON_SERVICES/SEND/PSMS", "application/x-www-form-urlencoded", body), 400, "Error", "DLT: template "+promoCT+" is promotional")
	expect(t, e.do("POST", "/API/V1/"+keyDefer+"/ADDON_SERVICES/SEND/PSMS", "application/x-www-form-urlencoded", body), 200, "Success", "")
	ms := e.sender.sent()
	if len(ms) != 1 || !ms[0].SendAt.Equal(time.Date(2026, 11, 24, 10, 0, 0, 0, dlt.IST)) {
		t.Fatalf("%+v", ms)
	}
	_ = http.StatusOK
}
