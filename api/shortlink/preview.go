package shortlink

import (
	"net/http"
	"strings"
)

// previewAgents are lower-cased User-Agent fragments of link-preview fetchers and crawlers:
// messengers fetch a link to draw its card as soon as the SMS text is shared or even
// received, and search engines follow links they find. None of them is a person clicking.
// In-app browsers (Facebook's FBAN, Instagram, Snapchat, LINE) open a link a person tapped,
// so their own marks are not listed.
var previewAgents = []string{
	"whatsapp", "facebookexternalhit", "facebot", "facebookcatalog", "meta-externalagent", "twitterbot",
	"telegrambot", "slackbot", "slack-imgproxy", "discordbot", "linkedinbot", "skypeuripreview",
	"applebot", "googlebot", "google-inspectiontool", "storebot-google", "adsbot-google", "bingbot",
	"bingpreview", "msnbot", "yandex", "baiduspider", "duckduckbot", "truecaller", "pinterest",
	"redditbot", "embedly", "vkshare", "quora link preview", "iframely", "outbrain", "mastodon",
	"line-poker", "kakaotalk-scrap", "microsoftpreview", "chatgpt-user", "gptbot", "petalbot",
	"semrushbot", "ahrefsbot", "headlesschrome",
}

// IsPreview reports whether a request for a short link comes from a link-preview fetcher
// rather than a person: a HEAD request, a prefetch (Sec-Purpose or Purpose: prefetch, or
// X-Purpose / X-Moz: preview or prefetch), no User-Agent at all, or a User-Agent of a
// known fetcher (previewAgents).
func IsPreview(r *http.Request) bool {
	if r.Method == http.MethodHead {
		return true
	}
	for _, h := range []string{"Sec-Purpose", "Purpose", "X-Purpose", "X-Moz"} {
		v := strings.ToLower(r.Header.Get(h))
		if strings.Contains(v, "prefetch") || strings.Contains(v, "preview") || strings.Contains(v, "prerender") {
			return true
		}
	}
	ua := strings.ToLower(r.Header.Get("User-Agent"))
	if strings.TrimSpace(ua) == "" {
		return true
	}
	for _, a := range previewAgents {
		if strings.Contains(ua, a) {
			return true
		}
	}
	return false
}
