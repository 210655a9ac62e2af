package api

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/smppd/smppd/dlt"
	"github.com/smppd/smppd/store"
)

const (
	// shortBase is on acme.in, which the test entity whitelists.
	shortBase = "https://s.acme.in"
	trackCT   = "1107161234567890099"
	trackText = "Your ACME order A123 is on its way. Track it at %s - ACME"
)

var shortRE = regexp.MustCompile(`https://s\.acme\.in/([A-Za-z0-9]+)/([0-9A-Za-z]{10})`)

// withTracking adds a transactional template with a {#url#} for ACMEIN to the registry,
// and lets variables hold 40 characters (the test's short links are 35).
func withTracking(t *testing.T) func(*Options) {
	return func(o *Options) {
		o.Match.MaxVarLen = 40
		if err := o.Registry().AddTemplate(dlt.Template{ID: trackCT, EntityID: acmePE, Name: "order tracking",
			Category: dlt.Transactional, Headers: []string{"ACMEIN"}, Text: "Your ACME order {#alphanumeric#} is on its way. Track it at {#url#} - ACME"}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestShortenR1(t *testing.T) {
	e := newEnv(t, withTracking(t))
	long := "https://shop.example.com/track?o=A123&utm=sms"
	r := e.do("POST", "/API/R1/", "application/x-www-form-urlencoded", form("module", "TRANS_SMS", "apikey", key1,
		"to", "9812345678,9812345679", "from", "ACMEIN", "msg", fmt.Sprintf(trackText, long), "shortenurl", "1",
		"campaignwebhook", "https://hooks.example.com/clicks", "shortenurlwebhook", "https://other.example.com/x", "shortenurlcallback", "cb-9"))
	expect(t, r, 200, "Success", "")
	ms := e.sender.sent()
	if len(ms) != 2 {
		t.Fatalf("%d messages", len(ms))
	}
	codes := map[string]bool{}
	for _, m := range ms {
		sm := shortRE.FindStringSubmatch(m.Text)
		if sm == nil || sm[1] != "ACMEIN" || m.Text != fmt.Sprintf(trackText, sm[0]) || m.TemplateID != trackCT {
			t.Fatalf("text %q (template %s)", m.Text, m.TemplateID)
		}
		codes[sm[2]] = true
		l, err := e.st.ResolveLink(context.Background(), sm[2])
		if err != nil {
			t.Fatal(err)
		}
		if l.URL != long || l.Phone != m.To || l.MessageID != m.ID || l.Webhook != "https://hooks.example.com/clicks" ||
			l.Callback != "cb-9" || l.Account != "acme" || l.Header != "ACMEIN" {
			t.Fatalf("link %+v for message %+v", l, m)
		}
	}
	if len(codes) != 2 {
		t.Fatal("the two recipients share a code")
	}
}

func TestShortenCampaignEnablesAndCounts(t *testing.T) {
	e := newEnv(t, withTracking(t))
	text := fmt.Sprintf(trackText, "www.shop.example.com/t/1")
	r := e.do("POST", "/API/R1/", "application/x-www-form-urlencoded", form("module", "TRANS_SMS", "apikey", key1,
		"to", "9812345678", "from", "ACMEIN", "msg", text, "campaignname", "diwali"))
	expect(t, r, 200, "Success", "")
	if m := e.sender.sent()[0]; !shortRE.MatchString(m.Text) {
		t.Fatalf("campaignname did not shorten: %q", m.Text)
	}
	// Stats: only the account's own campaign, JSON in the 2Factor envelope.
	w := e.do("GET", "/API/V1/"+key1+"/SHORTLINK/STATS/diwali", "", "")
	if w.code != 200 || !strings.Contains(w.body, `"Status":"Success"`) || !strings.Contains(w.body, `"links":1`) ||
		!strings.Contains(w.body, `"clicks":0`) || !strings.Contains(w.body, `"unique_clicks":0`) || !strings.Contains(w.body, `"previews":0`) {
		t.Fatalf("stats: %d %s", w.code, w.body)
	}
	if w := e.do("GET", "/API/V1/"+keyLegacy+"/SHORTLINK/STATS/diwali", "", ""); !strings.Contains(w.body, `"links":0`) {
		t.Fatalf("another account sees the campaign: %s", w.body)
	}
	if w := e.do("GET", "/API/V1/nokey/SHORTLINK/STATS/diwali", "", ""); w.code == 200 {
		t.Fatalf("bad key: %d %s", w.code, w.body)
	}
}

func TestShortenRefusals(t *testing.T) {
	text := fmt.Sprintf(trackText, "https://shop.example.com/t/1")
	send := func(e *env, extra ...string) resp {
		return e.do("POST", "/API/R1/", "application/x-www-form-urlencoded", form(append([]string{"module", "TRANS_SMS", "apikey", key1,
			"to", "9812345678", "from", "ACMEIN", "msg", text, "shortenurl", "1"}, extra...)...))
	}
	off := newEnv(t, func(o *Options) { withTracking(t)(o); o.Shortlinks = ShortlinkOptions{} })
	expect(t, send(off), 200, "Error", "URL shortening (shortenurl=1 or campaignname) is not available")
	// A campaign name on a text without links has nothing to shorten: sent as before.
	expect(t, off.do("POST", "/API/R1/", "application/x-www-form-urlencoded", form("module", "TRANS_SMS", "apikey", key1,
		"to", "9812345678", "from", "ACMEIN", "msg", paymentText, "campaignname", "x", "shortenurl", "1")), 200, "Success", "")
	if w := off.do("GET", "/API/V1/"+key1+"/SHORTLINK/STATS/x", "", ""); w.code != http.StatusNotFound {
		t.Fatalf("stats without shortlinks: %d", w.code)
	}

	other := newEnv(t, func(o *Options) { withTracking(t)(o); o.Shortlinks.Base = "https://e.1rp.in" })
	r := send(other)
	expect(t, r, 200, "Error", "DLT: shortened links https://e.1rp.in/ACMEIN/... are not whitelisted for PE "+acmePE+": whitelist https://e.1rp.in/ACMEIN/** on the DLT portal")
	if len(other.sender.sent()) != 0 {
		t.Fatal("a refused message was sent")
	}

	long := newEnv(t, func(o *Options) { withTracking(t)(o); o.Match.MaxVarLen = 0 })
	expect(t, send(long), 200, "Error", "DLT: short links https://s.acme.in/ACMEIN/<code> are 35 characters and a DLT variable holds at most 30")

	e := newEnv(t, withTracking(t))
	expect(t, send(e, "campaignwebhook", "ftp://x"), 200, "Error", "Invalid click webhook")
	// A template without a {#url#} where the link is: the refusal says the text was shortened.
	r = e.do("POST", "/API/R1/", "application/x-www-form-urlencoded", form("module", "TRANS_SMS", "apikey", key1,
		"to", "9812345678", "from", "ACMEIN", "msg", "Rs.500 received for order A123. Thank you for shopping with ACME. https://acme.in/o", "shortenurl", "1"))
	if !strings.Contains(r.str("Details"), "with its links shortened to https://s.acme.in/ACMEIN/<code>") {
		t.Fatalf("%s", r.body)
	}
}

func TestShortenBulkPerMessageAndTSMS(t *testing.T) {
	e := newEnv(t, withTracking(t))
	body := fmt.Sprintf(`{"module":"TRANS_SMS","apikey":%q,"messages":[
		{"smsFrom":"ACMEIN","smsTo":"9812345678","smsText":%q,"shortenurl":"1","campaignname":"bulk1"},
		{"smsFrom":"ACMEIN","smsTo":"9812345679","smsText":%q}]}`, key1, fmt.Sprintf(trackText, "https://shop.example.com/a"), fmt.Sprintf(trackText, "https://acme.in/b"))
	r := e.do("POST", "/API/R1/Bulk/", "application/json", body)
	if r.code != 200 {
		t.Fatalf("%d %s", r.code, r.body)
	}
	ms := e.sender.sent()
	if len(ms) != 2 || !shortRE.MatchString(ms[0].Text) || ms[1].Text != fmt.Sprintf(trackText, "https://acme.in/b") {
		t.Fatalf("bulk texts: %q / %q", ms[0].Text, ms[1].Text)
	}
	st, err := e.st.CampaignStats(context.Background(), "acme", "bulk1")
	if err != nil || st.Links != 1 {
		t.Fatalf("bulk campaign %+v %v", st, err)
	}
	r = e.do("GET", "/API/V1/"+key1+"/ADDON_SERVICES/SEND/TSMS?"+form("From", "ACMEIN", "To", "9812345678", "Msg", fmt.Sprintf(trackText, "https://shop.example.com/c"), "shortenurl", "1"), "", "")
	if r.code != 200 {
		t.Fatalf("TSMS %d %s", r.code, r.body)
	}
	if ms := e.sender.sent(); len(ms) != 3 || !shortRE.MatchString(ms[2].Text) {
		t.Fatalf("TSMS: %d messages", len(ms))
	}
}

func TestShortenSegmentsCountTheShortText(t *testing.T) {
	e := newEnv(t, withTracking(t))
	long := "https://shop.example.com/" + strings.Repeat("x", 150) // 2 parts as written, 1 shortened
	before, _, _ := e.st.GetCredits(context.Background(), "acme", store.CreditsTransactional)
	r := e.do("POST", "/API/R1/", "application/x-www-form-urlencoded", form("module", "TRANS_SMS", "apikey", key1,
		"to", "9812345678", "from", "ACMEIN", "msg", fmt.Sprintf(trackText, long), "shortenurl", "1"))
	expect(t, r, 200, "Success", "")
	after, _, _ := e.st.GetCredits(context.Background(), "acme", store.CreditsTransactional)
	if before-after != 1 {
		t.Fatalf("took %d credits, want 1 (the shortened text is one SMS)", before-after)
	}
}
