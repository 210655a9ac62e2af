package dlt

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// genRegistry builds one entity with n templates shaped like real DLT templates: a
// greeting, 8–20 words of body drawn from a vocabulary of a few thousand words, 1–4
// variables of mixed kinds, and a sign-off, many sharing the same greeting and sign-off.
// It returns the registry and, for each of the first m templates, a message filled in with
// plausible values.
func genRegistry(tb testing.TB, n, m int) (*Registry, string, []string, []string) {
	rng := rand.New(rand.NewPCG(1, 2))
	syll := []string{"ka", "ra", "mo", "ti", "sen", "dor", "pu", "li", "van", "ex", "ord", "ship", "pay", "ment", "ac", "count", "ser", "vice", "up", "date"}
	vocab := []string{"your", "the", "is", "has", "been", "for", "on", "to", "of", "and", "with", "order", "account", "payment", "due", "today", "please", "thank", "you"}
	for len(vocab) < 4000 {
		w := ""
		for k := 1 + rng.IntN(3); k >= 0; k-- {
			w += syll[rng.IntN(len(syll))]
		}
		vocab = append(vocab, w)
	}
	greet := []string{"Dear {#var#},", "Hi {#var#},", "Dear Customer,", "Hello {#var#}!", "Greetings from ACME!"}
	sign := []string{"- ACME", "Team ACME", "T&C apply. - ACME", "Regards, ACME Bank", "- ACME {#url#}"}
	vars := []struct{ tag, val string }{
		{"{#var#}", "Asha Rao"}, {"{#numeric#}", "482913"}, {"{#alphanumeric#}", "OD12AB9"},
		{"{#url#}", "https://acme.in/t/9Xa"}, {"{#cbn#}", "18001234567"}, {"{#var#}", "12-Nov-2025"},
	}
	fill := func(s string) string {
		for _, v := range vars {
			s = strings.ReplaceAll(s, v.tag, v.val)
		}
		return s
	}
	const pe = "1101557290000055412"
	r := NewRegistry()
	if err := r.AddEntity(Entity{ID: pe, URLWhitelist: []string{"acme.in"}}); err != nil {
		tb.Fatal(err)
	}
	var msgs, ids []string
	for i := 0; i < n; i++ {
		var b strings.Builder
		b.WriteString(greet[rng.IntN(len(greet))])
		words := 8 + rng.IntN(13)
		nv := 1 + rng.IntN(4)
		for w := 0; w < words; w++ {
			b.WriteByte(' ')
			if rng.IntN(words) < nv {
				b.WriteString(vars[rng.IntN(len(vars))].tag)
				continue
			}
			b.WriteString(vocab[rng.IntN(len(vocab))])
		}
		b.WriteString(". ")
		b.WriteString(sign[rng.IntN(len(sign))])
		id := fmt.Sprintf("11071612345%08d", i)
		t := Template{ID: id, EntityID: pe, Category: ServiceImplicit, Text: b.String()}
		if err := r.AddTemplate(t); err != nil {
			tb.Fatal(err)
		}
		if i < m {
			msgs = append(msgs, fill(t.Text))
			ids = append(ids, id)
		}
	}
	return r, pe, msgs, ids
}

func TestGeneratedTemplatesMatch(t *testing.T) {
	r, pe, msgs, ids := genRegistry(t, 10000, 2000)
	for i, msg := range msgs {
		tm, _, err := r.MatchContent(pe, msg, MatchOptions{})
		if err != nil {
			t.Fatalf("message %d %q: %v", i, msg, err)
		}
		// Another template may match the same text only if it is at least as specific.
		if tm.ID != ids[i] {
			want, _ := r.Template(ids[i])
			if moreSpecific(want, tm) {
				t.Fatalf("message %q matched %s (%q), want %s (%q)", msg, tm.ID, tm.Text, want.ID, want.Text)
			}
		}
	}
}

// BenchmarkMatchContent10k identifies the template of a message among 10,000 templates of
// one entity, as an SMSC does for a submit without a CT ID.
func BenchmarkMatchContent10k(b *testing.B) {
	r, pe, msgs, _ := genRegistry(b, 10000, 1000)
	if _, _, err := r.MatchContent(pe, msgs[0], MatchOptions{}); err != nil { // builds the index
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := r.MatchContent(pe, msgs[i%len(msgs)], MatchOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMatchContent10kMiss is the failure path: a message that matches none of the
// 10,000 templates but shares many words with them.
func BenchmarkMatchContent10kMiss(b *testing.B) {
	r, pe, msgs, _ := genRegistry(b, 10000, 1000)
	for i := range msgs {
		msgs[i] += " ZZ"
	}
	if _, _, err := r.MatchContent(pe, "x", MatchOptions{}); err == nil { // builds the index
		b.Fatal("matched")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := r.MatchContent(pe, msgs[i%len(msgs)], MatchOptions{}); err == nil {
			b.Fatal("matched")
		}
	}
}

func BenchmarkBuildIndex10k(b *testing.B) {
	r, pe, _, _ := genRegistry(b, 10000, 0)
	ts := r.TemplatesFor(pe)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		buildIndex(ts)
	}
}

func BenchmarkTemplateMatchOTP(b *testing.B) {
	tm := &Template{ID: "1", Text: otpText}
	if err := tm.Compile(); err != nil {
		b.Fatal(err)
	}
	text := "Your OTP for login is 482913. Do not share it with anyone. - ACME"
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := tm.Match(text, MatchOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheck(b *testing.B) {
	r := loadTestRegistry(b)
	m := Message{PEID: peACME, TemplateID: tShipped, Header: "ACMESV", ChainHash: ChainHash(peACME, tmD),
		Text: "Dear Asha Rao, your order OD1234 has been shipped. Track it at https://acme.in/t/OD1234 - ACME"}
	now := time.Date(2025, 11, 3, 12, 0, 0, 0, IST)
	opt := CheckOptions{RequireChainHash: true}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if v := r.Check(m, now, opt); v != nil {
			b.Fatal(v)
		}
	}
}
