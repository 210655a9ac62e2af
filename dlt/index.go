package dlt

import (
	"cmp"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// contentIndex finds the few templates of one entity that can possibly match a message.
//
// Every word of a template's fixed text that has whitespace (or the start or end of the
// template) on both sides must appear as a whole, whitespace-delimited word in any matching
// message (see anchorWords). Each template is filed under the rarest such word among the
// entity's templates, so buckets stay small even when thousands of templates start with
// "Dear {#var#},", and it keeps a few more of its rarest words to check before the full
// match. A message is split into words; each word is looked up, and a template found is
// matched only if the message also has its extra words. Templates with no such word at all
// (such as "{#var#}") are always tried. The cost is one map lookup per word of the message
// plus the full match of a handful of templates, whatever the number of templates.
type contentIndex struct {
	byWord map[string][]indexEntry
	rest   []*Template // templates without an anchor word: always tried
	seed   maphash.Seed
}

type indexEntry struct {
	t    *Template
	need []uint8 // other rare words of the template the message must contain, as wordBits
}

// wordBit maps a word to one of 256 bits. A message's words set their bits in a 256-bit
// filter, so checking an entry's extra words costs a bit test each; a false positive only
// costs a full match, which decides.
func (idx *contentIndex) wordBit(w string) uint8 { return uint8(maphash.String(idx.seed, w)) }

// indexNeed is how many extra words each entry checks: enough to turn away nearly every
// template that merely shares one rare word with the message.
const indexNeed = 3

func buildIndex(ts []*Template) *contentIndex {
	df := make(map[string]int)
	for _, t := range ts {
		for i, w := range t.prog.anchors {
			if !slices.Contains(t.prog.anchors[:i], w) {
				df[w]++
			}
		}
	}
	// rarer sorts first: fewer templates share it, then longer, then by bytes.
	rarer := func(a, b string) int {
		if c := cmp.Compare(df[a], df[b]); c != 0 {
			return c
		}
		if c := cmp.Compare(len(b), len(a)); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	}
	idx := &contentIndex{byWord: make(map[string][]indexEntry, len(ts)), seed: maphash.MakeSeed()}
	for _, t := range ts {
		words := slices.Clone(t.prog.anchors)
		slices.SortFunc(words, rarer)
		words = slices.Compact(words)
		if len(words) == 0 {
			idx.rest = append(idx.rest, t)
			continue
		}
		var need []uint8
		for _, w := range words[1:min(len(words), 1+indexNeed)] {
			need = append(need, idx.wordBit(w))
		}
		idx.byWord[words[0]] = append(idx.byWord[words[0]], indexEntry{t: t, need: need})
	}
	return idx
}

// candidates appends to dst the templates that may match text (trimmed), each once. With
// loose set, the extra words are not checked: that gives the near misses worth naming when
// nothing matches.
func (idx *contentIndex) candidates(dst []*Template, text string, loose bool) []*Template {
	var buf [64]string
	words := splitWords(buf[:0], text)
	var filter [4]uint64
	if !loose {
		for _, w := range words {
			b := idx.wordBit(w)
			filter[b>>6] |= 1 << (b & 63)
		}
	}
	for _, w := range words {
	entries:
		for _, e := range idx.byWord[w] {
			for _, b := range e.need {
				if !loose && filter[b>>6]&(1<<(b&63)) == 0 {
					continue entries
				}
			}
			if !slices.Contains(dst, e.t) {
				dst = append(dst, e.t)
			}
		}
	}
	return append(dst, idx.rest...)
}

// splitWords appends the whitespace-separated words of s to dst.
func splitWords(dst []string, s string) []string {
	start := -1
	for i := 0; i < len(s); {
		c := s[i]
		size := 1
		space := c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\v' || c == '\f'
		if c >= utf8.RuneSelf {
			var r rune
			r, size = utf8.DecodeRuneInString(s[i:])
			space = unicode.IsSpace(r)
		}
		switch {
		case space && start >= 0:
			dst = append(dst, s[start:i])
			start = -1
		case !space && start < 0:
			start = i
		}
		i += size
	}
	if start >= 0 {
		dst = append(dst, s[start:])
	}
	return dst
}

func (r *Registry) contentIndex(ent *entityRec) *contentIndex {
	if idx := ent.index.Load(); idx != nil {
		return idx
	}
	ent.buildMu.Lock()
	defer ent.buildMu.Unlock()
	if idx := ent.index.Load(); idx != nil {
		return idx
	}
	idx := buildIndex(ent.templates)
	ent.index.Store(idx)
	return idx
}

// MatchContent finds the template of the entity that text matches, for messages sent without
// a CT ID (the way Karix's "DLT AI" and similar upstreams identify templates, dlt-smpp.md §2),
// and returns it with the variable values.
//
// When several templates match, the most specific wins: the one with the most fixed text,
// then the lowest ID. When none matches but a template's fixed text fits and only a variable
// breaks a rule (too long, wrong type, link not whitelisted), that Violation is returned with
// the template named. Otherwise the Violation is ERROR_IDENTIFYING_TEMPLATE (636), or
// ENTITY_NOT_FOUND (600) for an unknown entity. A nil opt.URLWhitelist means the entity's.
func (r *Registry) MatchContent(entityID, text string, opt MatchOptions) (*Template, []string, error) {
	t, vars, v := r.matchContent(entityID, "", text, opt)
	if v != nil {
		return nil, nil, v
	}
	return t, vars, nil
}

// matchContent is MatchContent restricted to templates that allow header (if not empty).
// A template that matches but does not allow the header is reported as
// HEADER_NOT_REGISTERED_FOR_TEMPLATE if nothing better matches.
func (r *Registry) matchContent(entityID, header, text string, opt MatchOptions) (*Template, []string, *Violation) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	ent, ok := r.entities[entityID]
	if !ok {
		return nil, nil, violation(CodeEntityNotFound, "", "entity %s is not registered", entityID)
	}
	if opt.URLWhitelist == nil {
		opt.URLWhitelist = ent.URLWhitelist
	}
	idx := r.contentIndex(ent)
	var buf [16]*Template
	trimmed := strings.TrimFunc(text, unicode.IsSpace)
	cands := idx.candidates(buf[:0], trimmed, false)

	var (
		best     *Template
		bestVars []string
		wrongHdr *Template
	)
	for _, t := range cands {
		vars, _ := t.prog.matchMode(t.ID, text, opt, false)
		switch {
		case vars == nil:
		case header != "" && !t.AllowsHeader(header):
			if wrongHdr == nil || moreSpecific(t, wrongHdr) {
				wrongHdr = t
			}
		case best == nil || moreSpecific(t, best):
			best, bestVars = t, vars
		}
	}
	// Nothing matched: explain. Diagnosing is slower, and only failures pay for it.
	var (
		varFail   *Violation
		varFailT  *Template
		closest   *Violation
		closestLR = -1
	)
	if best == nil && wrongHdr == nil {
		for _, t := range idx.candidates(cands[:0], trimmed, true) {
			_, v := t.prog.match(t.ID, text, opt)
			switch {
			case v == nil: // cannot happen: the fast pass failed
			case v.Var > 0:
				if varFail == nil || moreSpecific(t, varFailT) {
					varFail, varFailT = v, t
				}
			case t.prog.litRunes > closestLR:
				closest, closestLR = v, t.prog.litRunes
			}
		}
	}
	switch {
	case best != nil:
		return best, bestVars, nil
	case wrongHdr != nil:
		return nil, nil, violation(CodeHeaderNotRegisteredForTmpl, wrongHdr.ID,
			"text matches template %s, which is not registered for header %s (it allows %s)",
			wrongHdr.ID, header, strings.Join(wrongHdr.Headers, ", "))
	case varFail != nil:
		return nil, nil, varFail
	}
	reason := fmt.Sprintf("text matches none of the %d templates of entity %s", len(ent.templates), entityID)
	if closest != nil {
		reason += fmt.Sprintf(" (nearest: %s)", closest.Reason)
	}
	return nil, nil, &Violation{Code: CodeErrorIdentifyingTemplate, Reason: reason}
}

func moreSpecific(a, b *Template) bool {
	if a.prog.litRunes != b.prog.litRunes {
		return a.prog.litRunes > b.prog.litRunes
	}
	return a.ID < b.ID
}
