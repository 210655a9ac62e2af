package dlt

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	peACME = "1101557290000055412"
	peSGB  = "1201158039515302745"
	tmD    = "1702157571346669272"
	tmAF   = "1102000000000000001"

	tOTP      = "1107161234567890001"
	tShipped  = "1107161234567890002"
	tDelivery = "1107161234567890003"
	tPayment  = "1107161234567890004"
	tSale     = "1107161234567890005"
	tWishlist = "1107161234567890006"
	tAnyHdr   = "1107161234567890007"
	tHindi    = "1207161234567890008"
	tBalance  = "1207161234567890009"
	tSGBOTP   = "1207161234567890010"
)

func testdata(name string) string { return filepath.Join("..", "testdata", "dlt", name) }

func loadTestRegistry(t testing.TB) *Registry {
	t.Helper()
	r, err := LoadYAMLFile(testdata("registry.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestLoadYAMLFile(t *testing.T) {
	r := loadTestRegistry(t)
	if r.TMD() != tmD {
		t.Errorf("TMD = %q", r.TMD())
	}
	ents := r.Entities()
	if len(ents) != 2 || ents[0].ID != peACME || ents[1].ID != peSGB || ents[1].Name != "Sahyog Gramin Bank" {
		t.Fatalf("entities = %+v", ents)
	}
	if e, _ := r.Entity(peACME); !reflect.DeepEqual(e.URLWhitelist, []string{"acme.in", "https://l.ex.in/acme?"}) {
		t.Errorf("whitelist = %q", e.URLWhitelist)
	}
	wantHeaders := map[string]Category{"ACMEIN": Transactional, "ACMESV": ServiceImplicit, "ACMEXP": ServiceExplicit, "512345": Promotional, "SGBANK": ServiceImplicit}
	for name, cat := range wantHeaders {
		if h, ok := r.Header(name); !ok || h.Category != cat {
			t.Errorf("Header(%s) = %+v, %v", name, h, ok)
		}
	}
	if len(r.HeadersFor(peACME)) != 4 {
		t.Errorf("HeadersFor(ACME) = %v", r.HeadersFor(peACME))
	}
	if n := len(r.TemplatesFor(peACME)); n != 7 {
		t.Errorf("ACME has %d templates, want 7", n)
	}
	if n := len(r.TemplatesFor(peSGB)); n != 3 {
		t.Errorf("SGB has %d templates, want 3", n)
	}
	tm, ok := r.Template(tOTP)
	if !ok || tm.Name != "login otp" || tm.Category != Transactional || !reflect.DeepEqual(tm.Headers, []string{"ACMEIN"}) {
		t.Fatalf("Template(%s) = %+v", tOTP, tm)
	}
	if tm.Text != otpText {
		t.Errorf("OTP template text = %q", tm.Text)
	}
	// Chains: ACME lists two, SGB gets the default direct one.
	acme := r.Chains(peACME)
	if len(acme) != 2 || acme[0].TMD != tmD || len(acme[0].TMAF) != 0 || !reflect.DeepEqual(acme[1].TMAF, []string{tmAF}) {
		t.Errorf("ACME chains = %+v", acme)
	}
	if !r.ChainRegistered(peACME, ChainHash(peACME, tmAF, tmD)) || !r.ChainRegistered(peSGB, ChainHash(peSGB, tmD)) {
		t.Error("registered chains not found")
	}
	if r.ChainRegistered(peSGB, ChainHash(peSGB, tmAF, tmD)) {
		t.Error("unregistered chain found")
	}
}

func TestLoadYAMLErrors(t *testing.T) {
	const base = `
entities:
  - id: "1101557290000055412"
headers:
  - {name: ACMEIN, entity_id: "1101557290000055412", category: transactional}
`
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown section", "entitys: []\n", []string{`line 1: unknown key "entitys"`}},
		{"unknown key", base + "templates:\n  - {id: \"1\", entity_id: \"1101557290000055412\", category: t, txt: hi}\n",
			[]string{`line 7: templates[0]: unknown key "txt"`}},
		{"bad placeholder", base + "templates:\n  - id: \"1107\"\n    entity_id: \"1101557290000055412\"\n    category: transactional\n    text: \"Hi {#nmae#}\"\n",
			[]string{"line 7: templates[0]: template 1107: unknown placeholder {#nmae#} at character 4"}},
		{"bad category", base + "templates:\n  - {id: \"1107\", entity_id: \"1101557290000055412\", category: service, text: hi}\n",
			[]string{"line 7: templates[0] (template 1107):", "ambiguous"}},
		{"unknown header", base + "templates:\n  - {id: \"1107\", entity_id: \"1101557290000055412\", category: t, headers: [ACMEXX], text: hi}\n",
			[]string{`template 1107: header "ACMEXX" is not registered`}},
		{"header format", base + "  - {name: acmein, entity_id: \"1101557290000055412\", category: transactional}\n  - {name: ACME12, entity_id: \"1101557290000055412\", category: promotional}\n",
			[]string{`line 6: headers[1]: header "acmein": a transactional header is exactly 6 upper-case letters A-Z`,
				`line 7: headers[2]: header "ACME12": a promotional header is exactly 6 digits`}},
		{"duplicate template", base + "templates:\n  - {id: \"1107\", entity_id: \"1101557290000055412\", category: t, text: a}\n  - {id: \"1107\", entity_id: \"1101557290000055412\", category: t, text: b}\n",
			[]string{"line 8: templates[1]: template 1107: already registered"}},
		{"entity id", "entities:\n  - id: ABC\n", []string{`line 2: entities[0]: entity "ABC": PE ID must be 1 to 30 digits`}},
		{"bad yaml", "entities: [\n", []string{"dlt: registry: yaml:"}},
		{"unknown entity", "headers:\n  - {name: ACMEIN, entity_id: \"42\", category: t}\n", []string{`header ACMEIN: entity "42" is not registered`}},
		{"list wanted", "entities: {id: 1}\n", []string{"line 1: entities: want a list"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadYAML(strings.NewReader(tt.yaml))
			if err == nil {
				t.Fatal("LoadYAML succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
	if r, err := LoadYAML(strings.NewReader("")); err != nil || len(r.Entities()) != 0 {
		t.Errorf("empty document: %v", err)
	}
	if _, err := LoadYAMLFile(testdata("nope.yaml")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.yaml")
	os.WriteFile(path, []byte("entities:\n  - id: X\n"), 0o644)
	if _, err := LoadYAMLFile(path); err == nil || !strings.HasPrefix(err.Error(), path+": ") {
		t.Errorf("error does not start with the path: %v", err)
	}
}

func TestRegistryAddErrors(t *testing.T) {
	r := NewRegistry()
	if err := r.AddEntity(Entity{ID: peACME, URLWhitelist: []string{"https:///x"}}); err == nil {
		t.Error("whitelist entry without host accepted")
	}
	must(t, r.AddEntity(Entity{ID: peACME}))
	must(t, r.AddEntity(Entity{ID: peSGB}))
	if err := r.AddEntity(Entity{ID: peACME}); !errors.Is(err, ErrDuplicate) {
		t.Errorf("duplicate entity: %v", err)
	}
	must(t, r.AddHeader(Header{Name: "ACMEIN", EntityID: peACME, Category: Transactional}))
	must(t, r.AddHeader(Header{Name: "512345", EntityID: peACME, Category: Promotional}))
	must(t, r.AddHeader(Header{Name: "SGBANK", EntityID: peSGB, Category: ServiceImplicit}))
	if err := r.AddHeader(Header{Name: "ACMEIN", EntityID: peSGB, Category: Transactional}); !errors.Is(err, ErrDuplicate) || !strings.Contains(err.Error(), peACME) {
		t.Errorf("header registered twice: %v", err)
	}
	for _, tc := range []struct {
		tm   Template
		want string
	}{
		{Template{ID: "x1", EntityID: peACME, Category: Transactional, Text: "a"}, "CT ID must be 1 to 30 digits"},
		{Template{ID: "1", EntityID: peACME, Category: "otp", Text: "a"}, `unknown category "otp"`},
		{Template{ID: "1", EntityID: "9", Category: Transactional, Text: "a"}, `entity "9" is not registered`},
		{Template{ID: "1", EntityID: peACME, Category: Transactional, Text: "  "}, "template 1: template text is empty"},
		{Template{ID: "1", EntityID: peACME, Category: Transactional, Headers: []string{"SGBANK"}, Text: "a"}, "header SGBANK belongs to entity " + peSGB},
		{Template{ID: "1", EntityID: peACME, Category: Transactional, Headers: []string{"512345"}, Text: "a"}, "transactional template cannot use promotional header 512345"},
	} {
		if err := r.AddTemplate(tc.tm); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("AddTemplate(%+v) = %v, want %q", tc.tm, err, tc.want)
		}
	}
	if err := r.SetTMD("T1"); err == nil {
		t.Error("bad TM-D accepted")
	}
	if err := r.AddChain(Chain{PEID: peACME}); err == nil {
		t.Error("chain without TM-D accepted")
	}
	must(t, r.SetTMD(tmD))
	must(t, r.AddChain(Chain{PEID: peACME}))
	if err := r.AddChain(Chain{PEID: peACME, TMD: tmD}); !errors.Is(err, ErrDuplicate) {
		t.Errorf("duplicate chain: %v", err)
	}
	if err := r.AddChain(Chain{PEID: "77", TMD: tmD}); err == nil {
		t.Error("chain of unknown entity accepted")
	}
	if err := r.AddChain(Chain{PEID: peACME, TMAF: []string{"x"}}); err == nil {
		t.Error("bad TM-AF accepted")
	}
	// The registry keeps its own copy of what it is given.
	hdrs := []string{"ACMEIN"}
	must(t, r.AddTemplate(Template{ID: "5", EntityID: peACME, Category: Transactional, Headers: hdrs, Text: "x {#var#}"}))
	hdrs[0] = "CHANGED"
	if tm, _ := r.Template("5"); tm.Headers[0] != "ACMEIN" {
		t.Error("registry shares the caller's Headers slice")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestLoadTemplatesCSV(t *testing.T) {
	r := loadTestRegistry(t)
	f, err := os.Open(testdata("templates.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n, err := r.LoadTemplatesCSV(f, peACME)
	if err != nil || n != 4 {
		t.Fatalf("LoadTemplatesCSV = %d, %v; want 4 (one rejected row skipped)", n, err)
	}
	tm, ok := r.Template("1107173398907267115")
	if !ok || tm.Category != ServiceExplicit || !reflect.DeepEqual(tm.Headers, []string{"ACMESV", "ACMEXP"}) || tm.Name != "cart reminder" {
		t.Fatalf("cart reminder = %+v", tm)
	}
	if _, ok := r.Template("1107173398907267117"); ok {
		t.Error("rejected template was imported")
	}
	// The cell's line break matches a space.
	vars, err := tm.Match("Hi Asha, items in your cart are waiting. Complete your order: https://acme.in/c/1 - ACME", MatchOptions{})
	if err != nil || !reflect.DeepEqual(vars, []string{"Asha", "https://acme.in/c/1"}) {
		t.Errorf("Match = %q, %v", vars, err)
	}
}

func TestReadTemplatesCSVVariants(t *testing.T) {
	// Semicolons, other column names, an entity column, no BOM, CRLF.
	in := "dlt_entity_id;dlt_template_id;t_type;t_content;Sender ID\r\n" +
		peACME + ";1107000000000000001;Service Implicit;Dear {#var#}, hello;ACMESV\r\n" +
		peACME + ";1107000000000000002;SI;Hi {#var#};ACMESV ACMEXP\r\n"
	ts, err := ReadTemplatesCSV(strings.NewReader(in), "")
	if err != nil || len(ts) != 2 {
		t.Fatalf("ReadTemplatesCSV = %+v, %v", ts, err)
	}
	if ts[1].EntityID != peACME || ts[1].Category != ServiceImplicit || !reflect.DeepEqual(ts[1].Headers, []string{"ACMESV", "ACMEXP"}) {
		t.Errorf("row 2 = %+v", ts[1])
	}

	// Stencil-style JSON keys as CSV columns; communication-type wins over a language "type".
	in = "\ufeffDLT-ID,header,communication-type,type,content,status\n" +
		"1107000000000000003,SGBANK,Service Implicit,unicode,प्रिय {#var#} जी,REGISTERED VIA AIRTEL\n"
	ts, err = ReadTemplatesCSV(strings.NewReader(in), peSGB)
	if err != nil || len(ts) != 1 || ts[0].Category != ServiceImplicit || ts[0].Text != "प्रिय {#var#} जी" {
		t.Fatalf("stencil style = %+v, %v", ts, err)
	}

	// Bad rows are reported by line; good rows still come back.
	in = "Template ID,Template Content,Template Type,Variable Count,Entity ID\n" +
		"1107000000000000004,Good {#var#},Transactional,1,\n" +
		"ABC,Bad id,Transactional,0,\n" +
		"1107000000000000006,Bad {#tag#},Transactional,1,\n" +
		"1107000000000000007,Count {#var#},Transactional,2,\n" +
		"1107000000000000008,Other entity,Transactional,0,999\n" +
		"1107000000000000009,No type,,0,\n" +
		",,,,\n"
	ts, err = ReadTemplatesCSV(strings.NewReader(in), peACME)
	if len(ts) != 1 || ts[0].ID != "1107000000000000004" {
		t.Errorf("good rows = %+v", ts)
	}
	for _, w := range []string{
		`line 3: template "ABC": template ID is not 1 to 30 digits`,
		`line 4: template "1107000000000000006": unknown placeholder {#tag#}`,
		`line 5: template "1107000000000000007": the text has 1 variables but the Variable Count column says 2`,
		`line 6: template "1107000000000000008": entity 999, not ` + peACME,
		`line 7: template "1107000000000000009": unknown category ""`,
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v\ndoes not contain %q", err, w)
		}
	}

	// Missing required columns are named.
	_, err = ReadTemplatesCSV(strings.NewReader("id,body\n1,x\n"), peACME)
	if err == nil || !strings.Contains(err.Error(), "no column for text (e.g. templatecontent") || !strings.Contains(err.Error(), "; category") {
		t.Errorf("missing columns: %v", err)
	}
	if _, err = ReadTemplatesCSV(strings.NewReader(""), peACME); err == nil {
		t.Error("empty CSV accepted")
	}

	// Rows naming unregistered headers fail at AddTemplate, by line.
	r := loadTestRegistry(t)
	n, err := r.LoadTemplatesCSV(strings.NewReader("TEMPLATE_ID,TEMPLATE_CONTENT,TEMPLATE_TYPE,HEADER\n1107000000000000010,x {#var#},Transactional,NOSUCH\n1107000000000000011,y {#var#},Transactional,ACMEIN\n"), peACME)
	if n != 1 || err == nil || !strings.Contains(err.Error(), `line 2: template 1107000000000000010: header "NOSUCH" is not registered`) {
		t.Errorf("LoadTemplatesCSV = %d, %v", n, err)
	}
}

func TestMatchContent(t *testing.T) {
	r := loadTestRegistry(t)
	tests := []struct {
		name   string
		entity string
		text   string
		tmpl   string
		vars   []string
		code   Code
		why    string
	}{
		{"otp", peACME, "Your OTP for login is 123456. Do not share it with anyone. - ACME", tOTP, []string{"123456"}, 0, ""},
		{"shipped", peACME, "Dear Asha Rao, your order OD1234 has been shipped. Track it at https://acme.in/t/OD1234 - ACME",
			tShipped, []string{"Asha Rao", "OD1234", "https://acme.in/t/OD1234"}, 0, ""},
		{"delivery multi-line", peACME, "Dear Asha, we could not deliver your order OD9 today.\nCall us on +918000000000 or write to care@acme.in to reschedule. - ACME",
			tDelivery, []string{"Asha", "OD9", "+918000000000", "care@acme.in"}, 0, ""},
		{"payment glued", peACME, "Rs.499 received for order OD77. Thank you for shopping with ACME.", tPayment, []string{"499", "OD77"}, 0, ""},
		{"hindi", peSGB, "प्रिय ग्राहक, आपके खाते XX1234 से रु 5000 की निकासी हुई है। - सहयोग ग्रामीण बैंक", tHindi, []string{"XX1234", "5000"}, 0, ""},
		{"starts with var", peSGB, "482913 is your OTP for net banking. Valid for 10 minutes. - SGB", tSGBOTP, []string{"482913", "net banking"}, 0, ""},
		{"url off whitelist", peACME, "Dear Asha, your order OD1 has been shipped. Track it at https://bit.ly/x - ACME", "", nil,
			CodeURLCTANotMatched, "not on the entity's URL whitelist"},
		{"too long", peACME, "Dear " + strings.Repeat("A", 31) + ", your order OD1 has been shipped. Track it at https://acme.in/ - ACME", "", nil,
			CodeTemplateVariableTooLong, "variable 1 is 31 characters, template allows 30"},
		{"no template", peACME, "Your account has been credited. - ACME", "", nil, CodeErrorIdentifyingTemplate, "matches none of the 7 templates of entity " + peACME},
		{"other entity's template", peSGB, "Your OTP for login is 123456. Do not share it with anyone. - ACME", "", nil, CodeErrorIdentifyingTemplate, ""},
		{"nearest", peACME, "Your OTP for signin is 1234. Do not share it with anyone. - ACME", "", nil, CodeErrorIdentifyingTemplate,
			`(nearest: text does not match template ` + tOTP + `: expected "login is " at character 14, found "signin is`},
		{"unknown entity", "42", "hi", "", nil, CodeEntityNotFound, "entity 42 is not registered"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tm, vars, err := r.MatchContent(tt.entity, tt.text, MatchOptions{})
			if tt.code == 0 {
				if err != nil {
					t.Fatalf("MatchContent: %v", err)
				}
				if tm.ID != tt.tmpl || !reflect.DeepEqual(vars, tt.vars) {
					t.Fatalf("MatchContent = %s %q, want %s %q", tm.ID, vars, tt.tmpl, tt.vars)
				}
				return
			}
			v := AsViolation(err)
			if v == nil || v.Code != tt.code || !strings.Contains(v.Reason, tt.why) {
				t.Fatalf("MatchContent = %v, want code %d with %q", err, tt.code, tt.why)
			}
		})
	}
}

// TestMatchContentMostSpecific checks the choice between templates that both match.
func TestMatchContentMostSpecific(t *testing.T) {
	r := NewRegistry()
	must(t, r.AddEntity(Entity{ID: "1"}))
	must(t, r.AddTemplate(Template{ID: "10", EntityID: "1", Category: Transactional, Text: "Your order {#var#} is ready"}))
	must(t, r.AddTemplate(Template{ID: "11", EntityID: "1", Category: Transactional, Text: "Your order {#var#} is ready for pickup"}))
	must(t, r.AddTemplate(Template{ID: "12", EntityID: "1", Category: Transactional, Text: "{#var#}"}))
	tm, vars, err := r.MatchContent("1", "Your order 42 is ready for pickup", MatchOptions{})
	if err != nil || tm.ID != "11" || vars[0] != "42" {
		t.Fatalf("got %v %q %v, want template 11", tm, vars, err)
	}
	tm, _, err = r.MatchContent("1", "Your order 42 is ready", MatchOptions{})
	if err != nil || tm.ID != "10" {
		t.Fatalf("got %v %v, want template 10", tm, err)
	}
	tm, _, err = r.MatchContent("1", "anything at all", MatchOptions{})
	if err != nil || tm.ID != "12" {
		t.Fatalf("got %v %v, want the catch-all template 12", tm, err)
	}
	// Adding a template after the index was built rebuilds it.
	must(t, r.AddTemplate(Template{ID: "13", EntityID: "1", Category: Transactional, Text: "Your order {#var#} is ready for pickup today"}))
	tm, _, err = r.MatchContent("1", "Your order 42 is ready for pickup today", MatchOptions{})
	if err != nil || tm.ID != "13" {
		t.Fatalf("got %v %v, want template 13", tm, err)
	}
}

func TestCheck(t *testing.T) {
	r := loadTestRegistry(t)
	noon := time.Date(2025, 11, 3, 12, 0, 0, 0, IST)
	otp := "Your OTP for login is 123456. Do not share it with anyone. - ACME"
	sale := "Big Diwali sale! Flat 50% off on shoes. Shop now at https://acme.in/sale T&C apply - ACME"
	wish := "Hi Asha, Red shoes from your wishlist is back in stock. Open the app: https://app.acme.in/w - ACME"
	direct := ChainHash(peACME, tmD)
	viaAF := ChainHash(peACME, tmAF, tmD)
	req := CheckOptions{RequireChainHash: true}
	tests := []struct {
		name string
		m    Message
		at   time.Time
		opt  CheckOptions
		code Code // 0: passes
		why  string
	}{
		{"otp", Message{PEID: peACME, TemplateID: tOTP, Header: "ACMEIN", Text: otp}, noon, CheckOptions{}, 0, ""},
		{"otp at night", Message{PEID: peACME, TemplateID: tOTP, Header: "ACMEIN", Text: otp}, noon.Add(11 * time.Hour), CheckOptions{}, 0, ""},
		{"otp by content", Message{PEID: peACME, Header: "ACMEIN", Text: otp}, noon, CheckOptions{}, 0, ""},
		{"no PE ID", Message{TemplateID: tOTP, Header: "ACMEIN", Text: otp}, noon, CheckOptions{}, CodeInvalidEntityID, "no PE ID"},
		{"bad PE ID", Message{PEID: "11015572900000554AB", Header: "ACMEIN", Text: otp}, noon, CheckOptions{}, CodeInvalidEntityID, "not 1 to 30 digits"},
		{"unknown PE", Message{PEID: "1101557290000055499", Header: "ACMEIN", Text: otp}, noon, CheckOptions{}, CodeEntityNotFound, "entity 1101557290000055499 is not registered"},
		{"no header", Message{PEID: peACME, TemplateID: tOTP, Text: otp}, noon, CheckOptions{}, CodeHeaderNotFound, "no header"},
		{"header case", Message{PEID: peACME, TemplateID: tOTP, Header: "AcmeIN", Text: otp}, noon, CheckOptions{}, CodeHeaderNotFound,
			"header AcmeIN is not registered for entity " + peACME + " (headers are case sensitive)"},
		{"header with suffix", Message{PEID: peACME, TemplateID: tOTP, Header: "ACMEIN-T", Text: otp}, noon, CheckOptions{}, CodeHeaderNotFound, ""},
		{"other entity's header", Message{PEID: peACME, TemplateID: tOTP, Header: "SGBANK", Text: otp}, noon, CheckOptions{}, CodePEIDNotMatchedWithHeader,
			"header SGBANK is registered for entity " + peSGB + ", not " + peACME},
		{"bad template ID", Message{PEID: peACME, TemplateID: "1107-16", Header: "ACMEIN", Text: otp}, noon, CheckOptions{}, CodeInvalidTemplateID, ""},
		{"unknown template", Message{PEID: peACME, TemplateID: "1107161234567899999", Header: "ACMEIN", Text: otp}, noon, CheckOptions{}, CodeTemplateNotFound, "not registered"},
		{"other entity's template", Message{PEID: peACME, TemplateID: tBalance, Header: "ACMEIN", Text: otp}, noon, CheckOptions{}, CodeTemplateNotFound,
			"template " + tBalance + " belongs to entity " + peSGB},
		{"header not for template", Message{PEID: peACME, TemplateID: tOTP, Header: "ACMESV", Text: otp}, noon, CheckOptions{}, CodeHeaderNotRegisteredForTmpl,
			"header ACMESV is not registered for template " + tOTP},
		{"header not for content", Message{PEID: peACME, Header: "ACMESV", Text: otp}, noon, CheckOptions{}, CodeHeaderNotRegisteredForTmpl,
			"text matches template " + tOTP + ", which is not registered for header ACMESV"},
		{"template any header", Message{PEID: peACME, TemplateID: tAnyHdr, Header: "ACMESV", Text: "Your ACME account password was changed on 3 Nov. Not you? Call 18001234567."}, noon, CheckOptions{}, 0, ""},
		{"numeric header for transactional", Message{PEID: peACME, TemplateID: tAnyHdr, Header: "512345", Text: "Your ACME account password was changed on 3 Nov. Not you? Call 18001234567."}, noon, CheckOptions{},
			CodeSMSTypeHeaderMismatch, "template " + tAnyHdr + " is transactional, so its header must be 6 letters; 512345 is a promotional header"},
		{"text mismatch", Message{PEID: peACME, TemplateID: tOTP, Header: "ACMEIN", Text: "Your OTP is 123456"}, noon, CheckOptions{}, CodeTemplateNotMatched,
			`text does not match template ` + tOTP + `: expected "for login is " at character 10`},
		{"var too long", Message{PEID: peACME, TemplateID: tOTP, Header: "ACMEIN", Text: "Your OTP for login is " + strings.Repeat("1", 31) + ". Do not share it with anyone. - ACME"}, noon, CheckOptions{},
			CodeTemplateVariableTooLong, "variable 1 is 31 characters, template allows 30"},
		{"var limit option", Message{PEID: peACME, TemplateID: tOTP, Header: "ACMEIN", Text: otp}, noon, CheckOptions{Match: MatchOptions{MaxVarLen: 4}},
			CodeTemplateVariableTooLong, "variable 1 is 6 characters, template allows 4"},
		{"promo in window", Message{PEID: peACME, TemplateID: tSale, Header: "512345", Text: sale}, noon, CheckOptions{}, 0, ""},
		{"promo 09:59:59", Message{PEID: peACME, TemplateID: tSale, Header: "512345", Text: sale}, time.Date(2025, 11, 3, 9, 59, 59, 0, IST), CheckOptions{},
			CodeInvalidPromoTime, "template " + tSale + " is promotional, which may only be delivered 10:00-21:00 IST; it is 09:59:59 IST"},
		{"promo 10:00:00", Message{PEID: peACME, TemplateID: tSale, Header: "512345", Text: sale}, time.Date(2025, 11, 3, 10, 0, 0, 0, IST), CheckOptions{}, 0, ""},
		{"promo 21:00:00", Message{PEID: peACME, TemplateID: tSale, Header: "512345", Text: sale}, time.Date(2025, 11, 3, 21, 0, 0, 0, IST), CheckOptions{}, CodeInvalidPromoTime, "it is 21:00:00 IST"},
		{"promo 15:30 UTC", Message{PEID: peACME, Header: "512345", Text: sale}, time.Date(2025, 11, 3, 15, 30, 0, 0, time.UTC), CheckOptions{}, CodeInvalidPromoTime, "it is 21:00:00 IST"},
		{"promo window skipped", Message{PEID: peACME, TemplateID: tSale, Header: "512345", Text: sale}, time.Date(2025, 11, 3, 23, 0, 0, 0, IST), CheckOptions{SkipSendWindow: true}, 0, ""},
		{"service explicit 21:00", Message{PEID: peACME, TemplateID: tWishlist, Header: "ACMEXP", Text: wish}, time.Date(2025, 11, 3, 21, 0, 0, 0, IST), CheckOptions{}, CodeInvalidPromoTime, "service_explicit"},
		{"service explicit 20:59:59", Message{PEID: peACME, TemplateID: tWishlist, Header: "ACMEXP", Text: wish}, time.Date(2025, 11, 3, 20, 59, 59, 0, IST), CheckOptions{}, 0, ""},
		{"url whitelist", Message{PEID: peACME, TemplateID: tSale, Header: "512345", Text: strings.Replace(sale, "https://acme.in/sale", "https://evil.in/sale", 1)}, noon, CheckOptions{},
			CodeURLCTANotMatched, "not on the entity's URL whitelist"},
		{"url whitelist override", Message{PEID: peACME, TemplateID: tSale, Header: "512345", Text: strings.Replace(sale, "https://acme.in/sale", "https://evil.in/sale", 1)}, noon,
			CheckOptions{Match: MatchOptions{URLWhitelist: []string{"evil.in"}}}, 0, ""},
		{"chain ignored by default", Message{PEID: peACME, TemplateID: tOTP, Header: "ACMEIN", Text: otp, ChainHash: "junk"}, noon, CheckOptions{}, 0, ""},
		{"chain direct", Message{PEID: peACME, TemplateID: tOTP, Header: "ACMEIN", Text: otp, ChainHash: direct}, noon, req, 0, ""},
		{"chain via TM-AF", Message{PEID: peACME, TemplateID: tOTP, Header: "ACMEIN", Text: otp, ChainHash: viaAF}, noon, req, 0, ""},
		{"chain missing", Message{PEID: peACME, TemplateID: tOTP, Header: "ACMEIN", Text: otp}, noon, req, CodePETMHashNotReceived, "no PE-TM chain hash"},
		{"chain unregistered", Message{PEID: peACME, TemplateID: tOTP, Header: "ACMEIN", Text: otp, ChainHash: ChainHash(peACME, "1102000000000000009", tmD)}, noon, req,
			CodePETMHashNotRegistered, "is not registered for entity " + peACME},
		{"chain raw TM ID", Message{PEID: peACME, TemplateID: tOTP, Header: "ACMEIN", Text: otp, ChainHash: tmD}, noon, req, CodePETMHashNotRegistered, ""},
		{"chain uppercase", Message{PEID: peACME, TemplateID: tOTP, Header: "ACMEIN", Text: otp, ChainHash: strings.ToUpper(direct)}, noon, req, CodePETMHashNotRegistered, ""},
		{"chain expected", Message{PEID: peACME, TemplateID: tOTP, Header: "ACMEIN", Text: otp, ChainHash: viaAF}, noon, CheckOptions{ExpectedChainHash: viaAF}, 0, ""},
		{"chain not expected", Message{PEID: peACME, TemplateID: tOTP, Header: "ACMEIN", Text: otp, ChainHash: direct}, noon, CheckOptions{ExpectedChainHash: viaAF},
			CodePETMHashNotRegistered, "is not the expected " + viaAF},
		{"hindi by content", Message{PEID: peSGB, Header: "SGBANK", Text: "प्रिय ग्राहक, आपके खाते XX1234 से रु 5000 की निकासी हुई है। - सहयोग ग्रामीण बैंक"}, noon, CheckOptions{}, 0, ""},
		{"no template matches", Message{PEID: peSGB, Header: "SGBANK", Text: "Win a free phone!"}, noon, CheckOptions{}, CodeErrorIdentifyingTemplate, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := r.Check(tt.m, tt.at, tt.opt)
			if tt.code == 0 {
				if v != nil {
					t.Fatalf("Check: %v", v)
				}
				return
			}
			if v == nil || v.Code != tt.code || !strings.Contains(v.Reason, tt.why) {
				t.Fatalf("Check = %v\nwant code %d with %q", v, tt.code, tt.why)
			}
		})
	}
}

// TestRegistryConcurrent runs matches and checks while templates are being added; run it
// with -race.
func TestRegistryConcurrent(t *testing.T) {
	r := loadTestRegistry(t)
	otp := "Your OTP for login is 123456. Do not share it with anyone. - ACME"
	noon := time.Date(2025, 11, 3, 12, 0, 0, 0, IST)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				if _, _, err := r.MatchContent(peACME, otp, MatchOptions{}); err != nil {
					t.Error(err)
					return
				}
				if v := r.Check(Message{PEID: peACME, Header: "ACMEIN", Text: otp}, noon, CheckOptions{}); v != nil {
					t.Error(v)
					return
				}
			}
		}()
	}
	for i := 0; i < 100; i++ {
		id := "1107999" + strings.Repeat("0", 8) + string(rune('0'+i/10)) + string(rune('0'+i%10))
		must(t, r.AddTemplate(Template{ID: id, EntityID: peACME, Category: Transactional, Text: "Generated notice " + id + " {#var#}"}))
	}
	wg.Wait()
}
