package api

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/smppd/smppd/store"
)

func form(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v.Encode()
}

func multipartBody(kv ...string) (string, string) {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for i := 0; i+1 < len(kv); i += 2 {
		_ = w.WriteField(kv[i], kv[i+1])
	}
	_ = w.Close()
	return w.FormDataContentType(), b.String()
}

func TestR1(t *testing.T) {
	fu := "application/x-www-form-urlencoded"
	mpType, mpBody := multipartBody("module", "TRANS_SMS", "apikey", key1, "to", "9812345678", "from", "ACMEIN", "msg", paymentText)
	cases := []struct {
		name, method, target, ctype, body string
		code                              int
		status, details                   string
		sent                              int
		check                             func(t *testing.T, r resp, ms []*store.Message)
	}{
		{"TRANS_SMS urlencoded", "POST", "/API/R1/", fu, form("module", "TRANS_SMS", "apikey", key1, "to", "91XXXXXXXXXX"[:0]+"919812345678,9812345679", "from", "ACMEIN", "msg", paymentText,
			"campaignname", "diwali", "campaignwebhook", "https://c.example.com/h", "shortenurl", "1"), 200, "Success", "", 2,
			func(t *testing.T, r resp, ms []*store.Message) {
				m := ms[0]
				if !isUUID4(r.str("Details")) || m.ID != r.str("Details")+"-1" || m.Priority != store.PriorityTransactional || m.TemplateID != paymentCT ||
					m.Meta["campaign"] != "diwali" || m.Meta["campaign_webhook"] != "https://c.example.com/h" || m.Meta["shorten_url"] != "1" || m.Meta["webhook_url"] == "" {
					t.Fatalf("%s %+v", r.body, m)
				}
			}},
		{"TRANS_SMS GET query, no slash", "GET", "/API/R1?" + form("module", "TRANS_SMS", "apikey", key1, "to", "9812345678", "from", "ACMEIN", "msg", paymentText), "", "", 200, "Success", "", 1, nil},
		{"module in query, rest in body", "POST", "/API/R1/?module=TRANS_SMS", fu, form("apikey", key1, "to", "9812345678", "from", "ACMEIN", "msg", paymentText), 200, "Success", "", 1, nil},
		{"everything in the query, empty POST", "POST", "/API/R1/?" + form("module", "TRANS_SMS", "apikey", key1, "to", "9812345678", "from", "ACMEIN", "msg", paymentText), "", "", 200, "Success", "", 1, nil},
		{"multipart", "POST", "/API/R1/", mpType, mpBody, 200, "Success", "", 1, nil},
		{"JSON", "POST", "/API/R1/", "application/json", fmt.Sprintf(`{"module":"TRANS_SMS","apikey":%q,"to":[9812345678],"from":"ACMEIN","msg":%q}`, key1, paymentText), 200, "Success", "", 1, nil},
		{"braces around numbers", "POST", "/API/R1/", fu, form("module", "TRANS_SMS", "apikey", key1, "to", "{9812345678,9812345679}", "from", "ACMEIN", "msg", paymentText), 200, "Success", "", 2, nil},
		{"templatename and vars", "POST", "/API/R1/", fu, form("module", "TRANS_SMS", "apikey", key1, "to", "9812345678", "from", "ACMEIN", "templatename", "payment received", "var1", "500", "var2", "A123"), 200, "Success", "", 1,
			func(t *testing.T, _ resp, ms []*store.Message) {
				if ms[0].Text != paymentText {
					t.Fatalf("%q", ms[0].Text)
				}
			}},
		{"run-time peid and ctid", "POST", "/API/R1/", fu, form("module", "TRANS_SMS", "apikey", key1, "to", "9812345678", "from", "ACMEIN", "msg", paymentText, "peid", acmePE, "ctid", paymentCT), 200, "Success", "", 1, nil},
		{"ctid of another template", "POST", "/API/R1/", fu, form("module", "TRANS_SMS", "apikey", key1, "to", "9812345678", "from", "ACMEIN", "msg", paymentText, "ctid", otpCT), 200, "Error", "DLT:", 0, nil},
		{"unknown peid", "POST", "/API/R1/", fu, form("module", "TRANS_SMS", "apikey", key1, "to", "9812345678", "from", "ACMEIN", "msg", paymentText, "peid", "1101000000000000000"), 200, "Error", "DLT: entity 1101000000000000000 is not registered", 0, nil},
		{"text off every template", "POST", "/API/R1/", fu, form("module", "TRANS_SMS", "apikey", key1, "to", "9812345678", "from", "ACMEIN", "msg", "Free money!"), 200, "Error", "DLT: text matches none", 0, nil},
		{"variable too long", "POST", "/API/R1/", fu, form("module", "TRANS_SMS", "apikey", key1, "to", "9812345678", "from", "ACMEIN", "msg", "Rs.500 received for order "+strings.Repeat("A", 31)+". Thank you for shopping with ACME."), 200, "Error", "DLT:", 0, nil},
		{"unknown template name", "POST", "/API/R1/", fu, form("module", "TRANS_SMS", "apikey", key1, "to", "9812345678", "from", "ACMEIN", "templatename", "nope"), 200, "Error", msgInvalidTemplate, 0, nil},
		{"sender not approved", "POST", "/API/R1/", fu, form("module", "TRANS_SMS", "apikey", key1, "to", "9812345678", "from", "ZZZZZZ", "msg", paymentText), 200, "Error", "Access Denied - Sender Id", 0, nil},
		{"bad number", "POST", "/API/R1/", fu, form("module", "TRANS_SMS", "apikey", key1, "to", "98123", "from", "ACMEIN", "msg", paymentText), 200, "Error", msgPhoneLength, 0, nil},
		{"scheduletime", "POST", "/API/R1/", fu, form("module", "TRANS_SMS", "apikey", key1, "to", "9812345678", "from", "ACMEIN", "msg", paymentText, "scheduletime", "2026-11-23 12:05:00"), 200, "Success", "", 1,
			func(t *testing.T, _ resp, ms []*store.Message) {
				if !ms[0].SendAt.Equal(noon.Add(5 * time.Minute)) {
					t.Fatalf("%v", ms[0].SendAt)
				}
			}},
		{"scheduletime too soon", "POST", "/API/R1/", fu, form("module", "TRANS_SMS", "apikey", key1, "to", "9812345678", "from", "ACMEIN", "msg", paymentText, "scheduletime", "2026-11-23 12:04:59"), 200, "Error", "Schedule time must be", 0, nil},
		{"scheduletime malformed", "POST", "/API/R1/", fu, form("module", "TRANS_SMS", "apikey", key1, "to", "9812345678", "from", "ACMEIN", "msg", paymentText, "scheduletime", "tomorrow"), 200, "Error", "Invalid schedule time", 0, nil},
		{"PROMO_SMS", "POST", "/API/R1/", fu, form("module", "PROMO_SMS", "apikey", key1, "to", "9812345678", "from", "512345", "msg", promoText), 200, "Success", "", 1,
			func(t *testing.T, _ resp, ms []*store.Message) {
				if ms[0].Priority != store.PriorityPromotional || !ms[0].Windowed {
					t.Fatalf("%+v", ms[0])
				}
			}},
		{"PROMO_SMS with transactional template", "POST", "/API/R1/", fu, form("module", "PROMO_SMS", "apikey", key1, "to", "9812345678", "from", "ACMEIN", "msg", paymentText), 200, "Error", msgInvalidTemplate, 0, nil},
		{"TRANS_SMS with promotional template", "POST", "/API/R1/", fu, form("module", "TRANS_SMS", "apikey", key1, "to", "9812345678", "from", "512345", "msg", promoText), 200, "Error", msgInvalidTemplate, 0, nil},
		{"PROMO_SMS beyond promotional credits", "POST", "/API/R1/", fu, form("module", "PROMO_SMS", "apikey", key1, "to", strings.TrimSuffix(strings.Repeat("9812345678,", 51), ","), "from", "512345", "msg", promoText), 200, "Error", msgLowBalance, 0, nil},
		{"SMS_OTP", "GET", "/API/R1/?" + form("module", "SMS_OTP", "apikey", key1, "to", "9812345678", "otpvalue", "4321", "templatename", "OTP1"), "", "", 200, "Success", "", 1,
			func(t *testing.T, r resp, ms []*store.Message) {
				if ms[0].ID != r.str("Details") || !strings.Contains(ms[0].Text, " 4321.") || ms[0].Priority != store.PriorityOTP {
					t.Fatalf("%+v", ms[0])
				}
			}},
		{"SMS_OTP generated", "GET", "/API/R1/?" + form("module", "SMS_OTP", "apikey", key1, "to", "+919812345678"), "", "", 200, "Success", "", 1, nil},
		{"SMS_OTP bad otpvalue", "GET", "/API/R1/?" + form("module", "SMS_OTP", "apikey", key1, "to", "9812345678", "otpvalue", "12"), "", "", 200, "Error", msgInvalidOTPValue, 0, nil},
		{"SMS_OTP bad phone", "GET", "/API/R1/?" + form("module", "SMS_OTP", "apikey", key1, "to", "12"), "", "", 200, "Error", msgPhoneLength, 0, nil},
		{"sandbox sends nothing", "POST", "/API/R1/", fu, form("module", "TRANS_SMS", "apikey", keySandbox, "to", "9812345678", "from", "ACMEIN", "msg", paymentText), 200, "Success", "", 0, nil},
		{"missing module", "POST", "/API/R1/", fu, form("apikey", key1), 400, "Error", msgMissingModule, 0, nil},
		{"JSON posted with urlencoded header", "POST", "/API/R1/", fu, fmt.Sprintf(`{"module":"TRANS_SMS","apikey":%q,"to":"9812345678","from":"ACMEIN","msg":%q}`, key1, paymentText), 200, "Success", "", 1, nil},
		{"unknown module", "POST", "/API/R1/", fu, form("module", "VOICE", "apikey", key1), 400, "Error", "Invalid module name", 0, nil},
		{"invalid key", "POST", "/API/R1/", fu, form("module", "TRANS_SMS", "apikey", "nope"), 400, "Error", msgInvalidKey, 0, nil},
		{"disabled", "POST", "/API/R1/", fu, form("module", "TRANS_SMS", "apikey", keyDisabled), 403, "Error", msgDisabled, 0, nil},
		{"ENC module in body", "POST", "/API/R1/", fu, form("module", "ENC"), 400, "Error", "module=ENC must be given in the query", 0, nil},
		{"PUT", "PUT", "/API/R1/", fu, "", 405, "Error", "HTTP PUT is not supported", 0, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			r := e.do(tc.method, tc.target, tc.ctype, tc.body)
			expect(t, r, tc.code, tc.status, tc.details)
			ms := e.sender.sent()
			if len(ms) != tc.sent {
				t.Fatalf("sent %d, want %d", len(ms), tc.sent)
			}
			if tc.check != nil {
				tc.check(t, r, ms)
			}
			if strings.Contains(r.body, "true") || strings.Contains(r.body, "null") {
				t.Fatalf("%s: not a Python literal", r.body)
			}
		})
	}
}

func TestR1TransSMSDLR(t *testing.T) {
	e := newEnv(t, nil)
	sent, delivered := noon.Add(time.Second), noon.Add(3*time.Second)
	recs := []*store.Record{
		{ID: "b1-1", Account: "acme", Status: store.StatusDelivered, AcceptedAt: noon, SentAt: sent, StatusAt: delivered},
		{ID: "b2", Account: "acme", Status: store.StatusSubmitted, AcceptedAt: noon, SentAt: sent, StatusAt: sent},
		{ID: "b3", Account: "other", Status: store.StatusDelivered, AcceptedAt: noon},
	}
	for _, r := range recs {
		if err := e.st.PutRecord(context.Background(), r, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	q := func(id, date string) string {
		return "/API/R1/?" + form("module", "TRANS_SMS_DLR", "apikey", key1, "sessionid", id, "smsdate", date)
	}
	r := e.do("POST", q("b1", "2026-11-23"), "", "")
	expect(t, r, 200, "Success", msgOneRecord)
	if r.str("DeliveryStatus") != "DELIVERED" || r.str("SentAt") != "2026-11-23 12:00:01" || r.str("DeliveredAt") != "2026-11-23 12:00:03" {
		t.Fatal(r.body)
	}
	r = e.do("POST", q("b2", ""), "", "")
	if r.str("DeliveryStatus") != "SUBMITTED" || r.str("DeliveredAt") != "" {
		t.Fatal(r.body)
	}
	for _, c := range [][2]string{{"b1-1", "2026-11-22"}, {"b3", ""}, {"nope", ""}} {
		expect(t, e.do("POST", q(c[0], c[1]), "", ""), 200, "Success", msgNoRecords)
	}
	expect(t, e.do("POST", q("b1", "23-11-2026"), "", ""), 200, "Error", "Invalid smsdate")
	expect(t, e.do("POST", q("", ""), "", ""), 200, "Error", "sessionid is required")
}
