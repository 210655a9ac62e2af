package console

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/smppd/smppd/dlt"
	"github.com/smppd/smppd/internal/msisdn"
	"github.com/smppd/smppd/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pageNames are the templates, each rendered inside layout.html.
var pageNames = []string{"login", "messages", "message", "carriers", "queues", "dlt", "clients"}

var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.In(dlt.IST).Format("2006-01-02 15:04:05 IST")
	},
	"rate": func(r float64) string {
		if math.IsInf(r, 1) {
			return "unpaced"
		}
		return strconv.FormatFloat(r, 'f', 1, 64) + "/s"
	},
	"campaignsShown": func() int { return campaignsShown },
	"priority":       func(i int) string { return store.Priority(i).String() },
	"credits": func(n *int64) string {
		if n == nil {
			return "unlimited"
		}
		return strconv.FormatInt(*n, 10)
	},
}

var pages = func() map[string]*template.Template {
	base := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html"))
	m := map[string]*template.Template{}
	for _, n := range pageNames {
		m[n] = template.Must(template.Must(base.Clone()).ParseFS(templateFS, "templates/"+n+".html"))
	}
	// The carriers fragment alone, for the page's refresh.
	m["carriers-fragment"] = m["carriers"]
	return m
}()

// page is what every template gets.
type page struct {
	Title, Nav string
	Operator   string
	Admin      bool
	CSRF       string
	Error      string
	Notice     string
	Data       any
}

func (c *Console) page(s *session, nav, title string, data any) page {
	return page{Title: title, Nav: nav, Operator: s.op.name, Admin: s.op.role == RoleAdmin, CSRF: s.csrf, Data: data}
}

func (c *Console) render(w http.ResponseWriter, status int, name string, p page) {
	var buf bytes.Buffer
	tmpl, exec := pages[name], "layout.html"
	if name == "carriers-fragment" {
		exec = "carriers-table"
	}
	if err := tmpl.ExecuteTemplate(&buf, exec, p); err != nil {
		http.Error(w, "console: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (c *Console) routes() {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /console/static/", http.StripPrefix("/console/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /console/login", c.loginPage)
	mux.HandleFunc("POST /console/login", c.login)
	mux.HandleFunc("POST /console/logout", c.authed(false, c.logout))
	mux.HandleFunc("GET /console/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, Prefix+"messages", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /console/messages", c.authed(false, c.messages))
	mux.HandleFunc("GET /console/messages/{id}", c.authed(false, c.message))
	mux.HandleFunc("GET /console/carriers", c.authed(false, c.carriers))
	mux.HandleFunc("GET /console/carriers/fragment", c.authed(false, c.carriersFragment))
	mux.HandleFunc("GET /console/queues", c.authed(false, c.queues))
	mux.HandleFunc("POST /console/queues/replay", c.authed(true, c.replay))
	mux.HandleFunc("GET /console/dlt", c.authed(false, c.dltPage))
	mux.HandleFunc("POST /console/dlt/upload", c.authed(true, c.dltUpload))
	mux.HandleFunc("GET /console/clients", c.authed(false, c.clients))
	c.mux = mux
}

func ctxTimeout(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), 10*time.Second)
}

// phone shows a number in full to admins, masked to viewers.
func phone(s *session, n string) string {
	if s.op.role == RoleAdmin {
		return n
	}
	return msisdn.Mask(n)
}

// --- messages ---

type recordView struct {
	ID, Account, Carrier, From, To string
	Status                         store.Status
	Final                          bool
	ErrorCode, Reason              string
	AcceptedAt, SentAt, StatusAt   time.Time
	Parts, Attempts                int
}

func view(s *session, r *store.Record) recordView {
	return recordView{ID: r.ID, Account: r.Account, Carrier: r.Carrier, From: r.From, To: phone(s, r.To),
		Status: r.Status, Final: r.Status.Final(), ErrorCode: r.ErrorCode, Reason: r.Reason,
		AcceptedAt: r.AcceptedAt, SentAt: r.SentAt, StatusAt: r.StatusAt, Parts: r.Parts, Attempts: r.Attempts}
}

type searchData struct {
	Q, Since, Until, Account string
	Searched                 bool
	Results                  []recordView
	Next                     string
	Unavailable              bool
}

// formTime is the search form's datetime-local value, read in India's time like every time
// the console shows: the operators' clock, the DLT send window's and the receipts'.
const formTime = "2006-01-02T15:04"

// parseQuery turns the search form into a store.MessageQuery: a UUID-looking value is a
// session id, digits (with an optional +) are a number — 11 or more a full one, 4 to 10
// the last digits.
func parseQuery(q, since, until string) (store.MessageQuery, error) {
	var mq store.MessageQuery
	q = strings.TrimSpace(q)
	digits := strings.TrimPrefix(strings.NewReplacer(" ", "", "-", "").Replace(q), "+")
	switch {
	case q == "":
		return mq, errors.New("give a session id, a phone number or its last digits")
	case strings.Trim(digits, "0123456789") == "" && len(digits) >= 11:
		n, err := msisdn.Normalise(digits)
		if err != nil {
			return mq, err
		}
		mq.To = n
	case strings.Trim(digits, "0123456789") == "" && len(digits) >= 4:
		mq.ToSuffix = digits
	case strings.Trim(digits, "0123456789") == "":
		return mq, errors.New("give at least the last 4 digits of a number")
	default:
		mq.ID = q
	}
	var err error
	if since != "" {
		if mq.Since, err = time.ParseInLocation(formTime, since, dlt.IST); err != nil {
			return mq, errors.New("from: not a date and time")
		}
	}
	if until != "" {
		if mq.Until, err = time.ParseInLocation(formTime, until, dlt.IST); err != nil {
			return mq, errors.New("until: not a date and time")
		}
	}
	return mq, nil
}

func (c *Console) messages(w http.ResponseWriter, r *http.Request, s *session) {
	f := r.URL.Query()
	d := searchData{Q: f.Get("q"), Since: f.Get("since"), Until: f.Get("until"), Account: f.Get("account"), Unavailable: c.o.Search == nil}
	p := c.page(s, "messages", "Messages", &d)
	if d.Q == "" || c.o.Search == nil {
		c.render(w, http.StatusOK, "messages", p)
		return
	}
	mq, err := parseQuery(d.Q, d.Since, d.Until)
	if err != nil {
		p.Error = err.Error()
		c.render(w, http.StatusBadRequest, "messages", p)
		return
	}
	mq.Account, mq.Cursor, mq.Limit = d.Account, f.Get("cursor"), 50
	ctx, cancel := ctxTimeout(r)
	defer cancel()
	res, err := c.o.Search.SearchMessages(ctx, mq)
	if err != nil {
		p.Error = "search failed: " + err.Error()
		c.render(w, http.StatusServiceUnavailable, "messages", p)
		return
	}
	d.Searched, d.Next = true, res.Next
	for _, rec := range res.Records {
		d.Results = append(d.Results, view(s, rec))
	}
	c.render(w, http.StatusOK, "messages", p)
}

type messageData struct {
	Record   recordView
	Events   []eventView
	EventErr string
	DLT      [][2]string // label, value
	Refusal  string
}

type eventView struct {
	store.Event
	Words string
}

// dltRows is the message's DLT data: the record's PE, template and the TM-AF ids it came
// through (store.Record), and the chain TLV it went out with (its submitted event).
func dltRows(rec *store.Record, chain string) [][2]string {
	var out [][2]string
	add := func(label, v string) {
		if v != "" {
			out = append(out, [2]string{label, v})
		}
	}
	add("PE (entity)", rec.PEID)
	add("Template (CT ID)", rec.TemplateID)
	add("TM chain (from the client)", strings.Join(rec.TMIDs, " → "))
	add("Chain TLV sent", chain)
	return out
}

func (c *Console) message(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	ctx, cancel := ctxTimeout(r)
	defer cancel()
	var rec *store.Record
	var err error
	if c.o.Records != nil {
		rec, err = c.o.Records.GetRecord(ctx, id)
	} else {
		err = errors.New("no record store")
	}
	if err != nil {
		p := c.page(s, "messages", "Message", &searchData{Q: id})
		p.Error = "message " + id + ": " + err.Error()
		if errors.Is(err, store.ErrNotFound) {
			p.Error = "no message " + id + " (unknown, or its record has expired)"
		}
		c.render(w, http.StatusNotFound, "messages", p)
		return
	}
	d := messageData{Record: view(s, rec)}
	var chain string
	d.Refusal = refusal(rec)
	if c.o.Search != nil {
		evs, err := c.o.Search.MessageTimeline(ctx, id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			d.EventErr = err.Error()
		}
		for _, e := range evs {
			d.Events = append(d.Events, eventView{Event: e, Words: eventWords(e)})
			if e.Kind == store.EventSubmitted && e.Chain != "" {
				chain = e.Chain // the latest send's
			}
		}
	}
	d.DLT = dltRows(rec, chain)
	c.render(w, http.StatusOK, "message", c.page(s, "messages", "Message "+id, &d))
}

// refusal says in words why a message did not get through, when it did not.
func refusal(r *store.Record) string {
	switch r.Status {
	case store.StatusRejected, store.StatusFailed, store.StatusUndelivered, store.StatusExpired:
	default:
		return ""
	}
	why := r.Reason
	if why == "" {
		why = "the carrier gave no reason"
	}
	if r.ErrorCode != "" {
		code := r.ErrorCode
		if n, err := strconv.Atoi(code); err == nil {
			if dc := dlt.Code(n); !strings.HasPrefix(dc.String(), "dlt_") {
				code += " (DLT: " + dc.Description() + ")"
			}
		}
		why += " — error " + code
	}
	return string(r.Status) + ": " + why
}

func eventWords(e store.Event) string {
	var b []string
	if e.Carrier != "" {
		b = append(b, "carrier "+e.Carrier)
	}
	if e.Bind != "" {
		b = append(b, "bind "+e.Bind)
	}
	if e.CarrierID != "" {
		b = append(b, "carrier id "+e.CarrierID)
	}
	if e.Part > 0 {
		b = append(b, "part "+strconv.Itoa(e.Part))
	}
	if e.Stat != "" {
		b = append(b, "stat "+e.Stat)
	}
	if e.Status != "" {
		b = append(b, "status "+string(e.Status))
	}
	if e.Err != "" {
		b = append(b, "err "+e.Err)
	}
	if e.URL != "" {
		b = append(b, e.URL)
	}
	if e.HTTPStatus != 0 {
		b = append(b, "HTTP "+strconv.Itoa(e.HTTPStatus))
	}
	if e.Attempt > 0 {
		b = append(b, "attempt "+strconv.Itoa(e.Attempt))
	}
	if e.Detail != "" {
		b = append(b, e.Detail)
	}
	return strings.Join(b, " · ")
}

// --- carriers ---

// throughput turns the carriers' submitted counters into a rate between two looks.
type throughput struct {
	mu   sync.Mutex
	last map[string]sample
}

type sample struct {
	at time.Time
	n  uint64
	r  float64
}

func newThroughput() *throughput { return &throughput{last: map[string]sample{}} }

func (t *throughput) rate(name string, n uint64, now time.Time) float64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.last[name]
	if !ok || n < s.n {
		t.last[name] = sample{at: now, n: n}
		return 0
	}
	dt := now.Sub(s.at).Seconds()
	if dt < 1 { // too close to the last look to say: keep its figure
		return s.r
	}
	r := float64(n-s.n) / dt
	t.last[name] = sample{at: now, n: n, r: r}
	return r
}

type carrierRow struct {
	CarrierView
	Throughput float64
}

type carriersData struct {
	Carriers    []carrierRow
	At          time.Time
	Unavailable bool
}

func (c *Console) carriersData(r *http.Request) *carriersData {
	d := &carriersData{At: c.o.Now(), Unavailable: c.o.Carriers == nil}
	if c.o.Carriers == nil {
		return d
	}
	ctx, cancel := ctxTimeout(r)
	defer cancel()
	for _, cv := range c.o.Carriers.Carriers(ctx) {
		d.Carriers = append(d.Carriers, carrierRow{CarrierView: cv, Throughput: c.tp.rate(cv.Name, cv.Submitted, d.At)})
	}
	return d
}

func (c *Console) carriers(w http.ResponseWriter, r *http.Request, s *session) {
	c.render(w, http.StatusOK, "carriers", c.page(s, "carriers", "Carriers", c.carriersData(r)))
}

func (c *Console) carriersFragment(w http.ResponseWriter, r *http.Request, s *session) {
	c.render(w, http.StatusOK, "carriers-fragment", c.page(s, "carriers", "Carriers", c.carriersData(r)))
}

// --- queues and webhooks ---

type deadView struct {
	ID, MessageID, Account, URL, LastError string
	LastStatus, Attempts                   int
	CreatedAt, DeadAt                      time.Time
}

type deadGroup struct {
	Account string
	Jobs    []deadView
}

type unmatchedView struct {
	Carrier, MessageID, Stat, Err, Note string
	ReceivedAt                          time.Time
}

type queuesData struct {
	Carriers      []carrierRow
	Dead          []deadGroup
	DeadErr       string
	Unmatched     []unmatchedView
	UnmatchedErr  string
	Webhooks      *WebhookStats
	NoWebhooks    bool
	Replayed      int
	ReplayedShown bool
}

func (c *Console) queuesData(r *http.Request) *queuesData {
	d := &queuesData{NoWebhooks: c.o.Webhooks == nil}
	d.Carriers = c.carriersData(r).Carriers
	if c.o.Webhooks == nil {
		return d
	}
	ctx, cancel := ctxTimeout(r)
	defer cancel()
	st := c.o.Webhooks.Stats()
	d.Webhooks = &st
	jobs, err := c.o.Webhooks.DeadLetters(ctx, 500)
	if err != nil {
		d.DeadErr = err.Error()
	}
	by := map[string]*deadGroup{}
	for _, j := range jobs {
		g := by[j.Account]
		if g == nil {
			g = &deadGroup{Account: j.Account}
			by[j.Account] = g
		}
		g.Jobs = append(g.Jobs, deadView{ID: j.ID, MessageID: j.MessageID, Account: j.Account, URL: j.URL,
			LastError: j.LastError, LastStatus: j.LastStatus, Attempts: j.Attempts, CreatedAt: j.CreatedAt, DeadAt: j.DeadAt})
	}
	for _, g := range by {
		d.Dead = append(d.Dead, *g)
	}
	slices.SortFunc(d.Dead, func(a, b deadGroup) int { return strings.Compare(a.Account, b.Account) })
	recs, err := c.o.Webhooks.Unmatched(ctx, 100)
	if err != nil {
		d.UnmatchedErr = err.Error()
	}
	for _, u := range recs {
		d.Unmatched = append(d.Unmatched, unmatchedView{Carrier: u.Carrier, MessageID: u.MessageID, Stat: u.Stat, Err: u.Err, Note: u.Note, ReceivedAt: u.ReceivedAt})
	}
	return d
}

func (c *Console) queues(w http.ResponseWriter, r *http.Request, s *session) {
	d := c.queuesData(r)
	if n := r.URL.Query().Get("replayed"); n != "" {
		d.Replayed, _ = strconv.Atoi(n)
		d.ReplayedShown = true
	}
	c.render(w, http.StatusOK, "queues", c.page(s, "queues", "Queues and webhooks", d))
}

func (c *Console) replay(w http.ResponseWriter, r *http.Request, s *session) {
	if c.o.Webhooks == nil {
		http.Error(w, "no webhook sender", http.StatusServiceUnavailable)
		return
	}
	ids := r.PostForm["id"]
	if len(ids) == 0 && r.PostFormValue("all") != "1" {
		http.Error(w, "no dead letter chosen", http.StatusBadRequest)
		return
	}
	ctx, cancel := ctxTimeout(r)
	defer cancel()
	n, err := c.o.Webhooks.Replay(ctx, ids...)
	if err != nil {
		http.Error(w, "replay: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	c.o.Log("console: dead letters replayed", "operator", s.op.name, "count", n)
	http.Redirect(w, r, Prefix+"queues?replayed="+strconv.Itoa(n), http.StatusSeeOther)
}

// --- DLT registry ---

type dltData struct {
	Q          string
	Entities   []entityView
	Shown, All int
	Test       *testResult
	TestIn     testInput
	Upload     *uploadResult
	Entity     string
	Unavail    bool
}

type entityView struct {
	dlt.Entity
	Headers   []dlt.Header
	Templates []*dlt.Template
}

type testInput struct{ Entity, Header, Template, Text string }

type testResult struct {
	Pass     bool
	Template string
	Name     string
	Vars     []string
	Code     string
	Reason   string
}

type uploadResult struct {
	Added  int
	Errors []string
}

func (c *Console) dltData(r *http.Request) *dltData {
	d := &dltData{Unavail: c.o.Registry == nil}
	if c.o.Registry == nil {
		return d
	}
	q := r.URL.Query()
	d.Q = strings.TrimSpace(q.Get("q"))
	reg := c.o.Registry.Registry()
	lq := strings.ToLower(d.Q)
	for _, e := range reg.Entities() {
		ev := entityView{Entity: e, Headers: reg.HeadersFor(e.ID)}
		for _, t := range reg.TemplatesFor(e.ID) {
			d.All++
			if lq == "" || strings.Contains(t.ID, lq) || strings.Contains(strings.ToLower(t.Name), lq) ||
				strings.Contains(strings.ToLower(t.Text), lq) || strings.Contains(e.ID, lq) || strings.Contains(strings.ToLower(e.Name), lq) {
				ev.Templates = append(ev.Templates, t)
				d.Shown++
			}
		}
		if lq == "" || len(ev.Templates) > 0 {
			d.Entities = append(d.Entities, ev)
		}
	}
	in := testInput{Entity: q.Get("entity"), Header: q.Get("header"), Template: q.Get("template"), Text: q.Get("text")}
	d.TestIn = in
	if in.Text != "" || in.Entity != "" {
		d.Test = tryText(reg, in, c.o.Now())
	}
	return d
}

// tryText answers "would this text pass?": with a header, the whole scrub (dlt's Check,
// without the send window); then the template that matched, or why none did.
func tryText(reg *dlt.Registry, in testInput, now time.Time) *testResult {
	res := &testResult{}
	fail := func(v *dlt.Violation) *testResult {
		res.Code, res.Reason, res.Template = strconv.Itoa(int(v.Code))+" "+v.Code.String(), v.Reason, v.Template
		return res
	}
	if in.Header != "" {
		if v := reg.Check(dlt.Message{PEID: in.Entity, TemplateID: in.Template, Header: in.Header, Text: in.Text}, now, dlt.CheckOptions{SkipSendWindow: true}); v != nil {
			return fail(v)
		}
	}
	var t *dlt.Template
	var vars []string
	var err error
	if in.Template != "" {
		var ok bool
		if t, ok = reg.Template(in.Template); !ok {
			return fail(&dlt.Violation{Code: dlt.CodeTemplateNotFound, Reason: "template " + in.Template + " is not registered"})
		}
		vars, err = t.Match(in.Text, dlt.MatchOptions{})
	} else {
		t, vars, err = reg.MatchContent(in.Entity, in.Text, dlt.MatchOptions{})
	}
	if err != nil {
		if v := dlt.AsViolation(err); v != nil {
			return fail(v)
		}
		res.Reason = err.Error()
		return res
	}
	res.Pass, res.Template, res.Name, res.Vars = true, t.ID, t.Name, vars
	return res
}

func (c *Console) dltPage(w http.ResponseWriter, r *http.Request, s *session) {
	c.render(w, http.StatusOK, "dlt", c.page(s, "dlt", "DLT registry", c.dltData(r)))
}

func (c *Console) dltUpload(w http.ResponseWriter, r *http.Request, s *session) {
	if c.o.Registry == nil {
		http.Error(w, "no DLT registry", http.StatusServiceUnavailable)
		return
	}
	d := c.dltData(r)
	p := c.page(s, "dlt", "DLT registry", d)
	entity := r.PostFormValue("entity")
	d.Entity = entity
	f, _, err := r.FormFile("file")
	if err != nil {
		p.Error = "choose the portal's CSV export to upload"
		c.render(w, http.StatusBadRequest, "dlt", p)
		return
	}
	defer f.Close()
	ctx, cancel := ctxTimeout(r)
	defer cancel()
	n, err := c.o.Registry.ImportCSV(ctx, f, entity)
	d.Upload = &uploadResult{Added: n}
	status := http.StatusOK
	if err != nil {
		for _, l := range strings.Split(err.Error(), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				d.Upload.Errors = append(d.Upload.Errors, l)
			}
		}
		if n == 0 {
			status = http.StatusUnprocessableEntity
		}
	}
	c.o.Log("console: DLT export uploaded", "operator", s.op.name, "entity", entity, "added", n, "errors", len(d.Upload.Errors))
	// The listing now shows the registry with the upload.
	nd := c.dltData(r)
	d.Entities, d.Shown, d.All = nd.Entities, nd.Shown, nd.All
	c.render(w, status, "dlt", p)
}

// --- clients ---

type clientsData struct {
	Accounts []clientRow
	Webhooks *WebhookStats
	Unavail  bool
	NoLinks  bool // short links are off
}

// clientRow is an account with its short links: the totals over its newest campaigns
// (at most campaignsShown) and those campaigns, newest first.
type clientRow struct {
	AccountView
	Links     store.LinkStats
	Campaigns []store.CampaignStats
	LinksErr  string
}

// campaignsShown is how many campaigns of an account the clients page reads and shows.
const campaignsShown = 20

func (c *Console) clients(w http.ResponseWriter, r *http.Request, s *session) {
	d := &clientsData{Unavail: c.o.Accounts == nil}
	if c.o.Accounts != nil {
		ctx, cancel := ctxTimeout(r)
		defer cancel()
		for _, a := range c.o.Accounts.Accounts(ctx) {
			row := clientRow{AccountView: a}
			if c.o.Links != nil {
				camps, err := c.o.Links.Campaigns(ctx, a.Name, campaignsShown)
				if err != nil {
					row.LinksErr = err.Error()
				}
				row.Campaigns = camps
				for _, cs := range camps {
					row.Links.Links += cs.Links
					row.Links.Clicks += cs.Clicks
					row.Links.UniqueClicks += cs.UniqueClicks
					row.Links.Previews += cs.Previews
				}
			}
			d.Accounts = append(d.Accounts, row)
		}
	}
	d.NoLinks = c.o.Links == nil
	if c.o.Webhooks != nil {
		st := c.o.Webhooks.Stats()
		d.Webhooks = &st
	}
	c.render(w, http.StatusOK, "clients", c.page(s, "clients", "Clients", d))
}
