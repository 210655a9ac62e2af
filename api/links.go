package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/smppd/smppd/api/shortlink"
	"github.com/smppd/smppd/dlt"
	"github.com/smppd/smppd/internal/msisdn"
	"github.com/smppd/smppd/store"
)

// ShortlinkOptions configure dynamic short links (issue #15): with shortenurl=1 or a
// campaignname, every URL of a message's text is replaced by <Base>/<HEADER>/<code>, a code
// of its own per recipient, so a click says who clicked (the redirector is package
// api/shortlink, on its own listener).
type ShortlinkOptions struct {
	// Base is the short links' base URL, e.g. https://e.1rp.in ("" = shortening is off and
	// requests asking for it are refused).
	Base string
	// TTL is how long links live; 0: store.DefaultLinkTTL.
	TTL time.Duration
	// Store keeps the links; required with Base.
	Store store.Links
}

func (o ShortlinkOptions) enabled() bool { return o.Base != "" && o.Store != nil }

// linkSpec is what a request asks of the short links of its message(s).
type linkSpec struct {
	asked    bool   // shortenurl=1 (or true)
	shorten  bool   // asked, or a campaign name (which turns shortening on)
	campaign string // campaignname
	webhook  string // campaignwebhook, else shortenurlwebhook: where clicks are posted
	callback string // shortenurlcallback, echoed in the click webhook as callback
}

// linkParams reads the short-link parameters through get (a request's or a Bulk
// message's): shortenurl (1 or true), campaignname, campaignwebhook, shortenurlwebhook and
// shortenurlcallback. campaignwebhook wins when both webhooks are given.
func linkParams(get func(string) string) linkSpec {
	v := strings.ToLower(get("shortenurl"))
	ls := linkSpec{campaign: get("campaignname"), webhook: get("campaignwebhook"), callback: get("shortenurlcallback")}
	ls.asked = v == "1" || v == "true"
	ls.shorten = ls.asked || ls.campaign != ""
	if ls.webhook == "" {
		ls.webhook = get("shortenurlwebhook")
	}
	return ls
}

// shorten replaces the URLs of the text by short links when the request asks for it, so
// that the DLT check, the length check and the credits see the text as it will be sent.
// It refuses when the text has links but shortening is not configured, when a webhook is not an http(s) URL, and
// when the entity's URL whitelist (if it has one) does not admit the short links of the
// message's header, saying what to whitelist.
func (d *draft) shorten() *apiError {
	ls := d.sp.links
	if !ls.shorten || len(shortlink.FindURLs(d.body)) == 0 {
		return nil // nothing to shorten: a campaign name on a text without links is no error
	}
	if !d.short.enabled() {
		return msgErr("URL shortening (shortenurl=1 or campaignname) is not available - this server has no short link domain configured (shortlinks.base_url)")
	}
	if ls.webhook != "" {
		if u, err := url.Parse(ls.webhook); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return msgErr("Invalid click webhook " + fmt.Sprintf("%q", ls.webhook) + " - campaignwebhook / shortenurlwebhook must be an http:// or https:// URL")
		}
	}
	base := strings.TrimRight(d.short.Base, "/")
	d.linkPrefix = base + "/" + url.PathEscape(d.from) + "/"
	codes := map[string]string{} // one code per distinct URL of the message
	body, n := shortlink.Rewrite(d.body, func(u string) string {
		if len(u) >= len(base) && strings.EqualFold(u[:len(base)], base) {
			return "" // already a short link
		}
		if c, ok := codes[u]; ok {
			return d.linkPrefix + c
		}
		c := shortlink.NewCode()
		codes[u] = c
		d.links = append(d.links, &store.Link{Code: c, URL: u, Header: d.from, Phone: d.sp.to, Account: d.a.Name,
			Campaign: ls.campaign, Webhook: ls.webhook, Callback: ls.callback, Created: d.now})
		return d.linkPrefix + c
	})
	if n == 0 {
		return nil
	}
	d.body = body
	limit := d.match.MaxVarLen
	if limit == 0 {
		limit = dlt.DefaultMaxVarLen
	}
	if size := utf8.RuneCountInString(d.linkPrefix) + shortlink.CodeLength; limit > 0 && size > limit {
		return dltErr(dlt.CodeTemplateVariableTooLong, fmt.Sprintf("DLT: short links %s<code> are %d characters and a DLT variable holds at most %d - the operator must configure a shorter shortlinks.base_url (or dlt.max_var_len, if every DLT on the route accepts longer values) (%d %s)",
			d.linkPrefix, size, limit, int(dlt.CodeTemplateVariableTooLong), dlt.CodeTemplateVariableTooLong))
	}
	if d.reg == nil {
		return nil
	}
	wl := d.match.URLWhitelist
	if wl == nil {
		if ent, ok := d.reg.Entity(d.peid); ok {
			wl = ent.URLWhitelist
		}
	}
	if len(wl) > 0 && !dlt.URLWhitelisted(d.linkPrefix+shortlink.NewCode(), wl) {
		return dltErr(dlt.CodeURLCTANotMatched, fmt.Sprintf("DLT: shortened links %s... are not whitelisted for PE %s: whitelist %s** on the DLT portal (CTA whitelisting) or send without shortenurl (%d %s)",
			d.linkPrefix, d.peid, d.linkPrefix, int(dlt.CodeURLCTANotMatched), dlt.CodeURLCTANotMatched))
	}
	return nil
}

// checkDLTAsSent is checkDLT on the text as it will be sent; a refusal of a text whose
// links were shortened says so, since the template must admit the short links.
func (d *draft) checkDLTAsSent() *apiError {
	e := d.checkDLT()
	if e != nil && len(d.links) > 0 {
		e.details += " - checked on the text as sent, with its links shortened to " + d.linkPrefix + "<code>: the template needs a {#url#} where each link is"
	}
	return e
}

// putLinks stores the short links of the messages (one round trip) before they are
// submitted: a link must resolve before its SMS can arrive. The links learn their
// message's id here (build does not know it yet).
func (s *Server) putLinks(ctx context.Context, a *account, bs []*built) *apiError {
	var links []*store.Link
	for _, b := range bs {
		for _, l := range b.links {
			l.MessageID = b.msg.ID
			links = append(links, l)
		}
	}
	if len(links) == 0 {
		return nil
	}
	if err := s.o.Shortlinks.Store.PutLinks(ctx, links, s.o.Shortlinks.TTL); err != nil {
		s.o.Logger.Error().Err(err).Str("account", a.Name).Str("to", msisdn.Mask(bs[0].msg.To)).Int("links", len(links)).Msg("storing short links failed")
		return unavailable()
	}
	return nil
}

// linkStatsReply is the SHORTLINK/STATS answer: the 2Factor envelope with counts as Details.
type linkStatsReply struct {
	Status  string         `json:"Status"`
	Details linkStatsCount `json:"Details"`
}

type linkStatsCount struct {
	Campaign string `json:"campaign"`
	store.LinkStats
}

// v1LinkStats serves /API/V1/{api_key}/SHORTLINK/STATS/{campaign_name}: the account's links
// of the campaign and their clicks, unique clicks and previews.
func (s *Server) v1LinkStats(w http.ResponseWriter, r *http.Request, v vars) {
	a := s.v1Auth(w, r, v)
	if a == nil {
		return
	}
	if !s.o.Shortlinks.enabled() {
		writeV1Error(w, errorf(http.StatusNotFound, "Short links are not configured on this server"))
		return
	}
	name := strings.TrimSpace(v["campaign_name"])
	st, err := s.o.Shortlinks.Store.CampaignStats(r.Context(), a.Name, name)
	if err != nil {
		s.o.Logger.Error().Err(err).Str("account", a.Name).Msg("reading campaign stats failed")
		writeV1Error(w, errorf(http.StatusInternalServerError, msgInternal))
		return
	}
	writeReply(w, http.StatusOK, linkStatsReply{Status: "Success", Details: linkStatsCount{Campaign: name, LinkStats: st}})
}
