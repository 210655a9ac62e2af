package dlt

import (
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// defaultBudget bounds the work of one matching pass (steps of the backtracking search).
// Memoisation already makes the search polynomial; the budget makes it a hard bound even for
// a hostile template such as "{#var#}a{#var#}a…" against a long run of a's. Real templates
// against real messages use a few hundred steps.
const defaultBudget = 1 << 20

// matcher runs one pass of the backtracking search of a compiled template over a message.
//
// The search walks the segments left to right. A literal segment either matches at the
// current position or fails; a variable tries each end position from the shortest value up,
// so when several splits fit, earlier variables take the shortest values. Failed
// (segment, position) states are remembered in a bitset, so each state is explored once.
type matcher struct {
	segs   []segment
	s      string // the message, trimmed
	typed  bool   // enforce kinds, lengths and the whitelist during the search
	maxLen int
	wl     []string
	starts []int
	ends   []int
	memo   []uint64
	steps  int
	budget int
	abort  bool

	diag bool    // record the deepest literal failure
	fail failure // the deepest literal failure seen
}

// failure is where the fixed text stopped matching: segment seg (len(segs) for "text left
// over after the template"), byte offset off into its literal, at message byte pos.
type failure struct {
	set           bool
	seg, off, pos int
}

func (m *matcher) reset(typed, diag bool) {
	m.typed, m.diag = typed, diag
	m.steps, m.abort, m.fail = 0, false, failure{}
	clear(m.memo)
}

func (m *matcher) run(i, pos int) bool {
	if m.abort {
		return false
	}
	if i == len(m.segs) {
		if pos == len(m.s) {
			return true
		}
		m.noteFail(i, 0, pos)
		return false
	}
	key := i*(len(m.s)+1) + pos
	if m.memo[key>>6]&(1<<(key&63)) != 0 {
		return false
	}
	m.steps++
	if m.steps > m.budget {
		m.abort = true
		return false
	}
	var ok bool
	if sg := &m.segs[i]; sg.isVar {
		ok = m.variable(i, pos)
	} else if np, lok := m.literal(i, pos); lok {
		ok = m.run(i+1, np)
	}
	if !ok && !m.abort {
		m.memo[key>>6] |= 1 << (key & 63)
	}
	return ok
}

func (m *matcher) variable(i, pos int) bool {
	kind := m.segs[i].kind
	last := i == len(m.segs)-1
	nextLit := "" // the literal after the variable, if any: its first byte is a cheap filter
	if !last && !m.segs[i+1].isVar {
		nextLit = m.segs[i+1].lit
	}
	n := 0 // runes in the value so far
	for e := pos; ; {
		if (!last || e == len(m.s)) && (nextLit == "" || m.mayStart(nextLit, e)) &&
			(!m.typed || validValue(kind, m.s[pos:e], m.wl)) {
			if m.run(i+1, e) {
				m.starts[i], m.ends[i] = pos, e
				return true
			}
			if m.abort {
				return false
			}
		}
		if e == len(m.s) {
			return false
		}
		r, size := utf8.DecodeRuneInString(m.s[e:])
		if m.typed && (n == m.maxLen || !kindAllows(kind, r, n)) {
			return false
		}
		if last && !m.typed {
			e = len(m.s) // an unconstrained last variable takes the rest
			continue
		}
		m.steps++
		if m.steps > m.budget {
			m.abort = true
			return false
		}
		n++
		e += size
	}
}

// mayStart reports whether literal lit can begin at e, judging by its first byte only; it
// keeps the search from validating values that the next literal would reject anyway.
func (m *matcher) mayStart(lit string, e int) bool {
	if c := lit[0]; c != ' ' {
		return e < len(m.s) && m.s[e] == c
	}
	return e == 0 || e == len(m.s) || skipSpace(m.s, e) > e || spaceBefore(m.s, e)
}

// literal matches segment i's fixed text at pos and returns the position after it. Text
// compares byte for byte (so case-sensitively), except that each space of the literal (a
// collapsed whitespace run of the template) matches a whole run of one or more whitespace
// characters in the message. A run may also match nothing at the very start or end of the
// message, or at the start of a literal that follows whitespace already consumed: that is
// what an empty variable between two spaces, or at either end, leaves behind.
func (m *matcher) literal(i, pos int) (int, bool) {
	l, s := m.segs[i].lit, m.s
	p := pos
	for j := 0; j < len(l); {
		c := l[j]
		if c == ' ' {
			k := skipSpace(s, p)
			if k == p && !(p == len(s) || (j == 0 && (p == 0 || spaceBefore(s, p)))) {
				m.noteFail(i, j, p)
				return 0, false
			}
			p = k
			j++
			continue
		}
		if p >= len(s) || s[p] != c {
			// Report at the start of the character, not inside its UTF-8 encoding.
			j0 := j
			for j0 > 0 && !utf8.RuneStart(l[j0]) {
				j0--
			}
			m.noteFail(i, j0, p-(j-j0))
			return 0, false
		}
		p++
		j++
	}
	return p, true
}

func (m *matcher) noteFail(seg, off, pos int) {
	if !m.diag {
		return
	}
	f := &m.fail
	if !f.set || seg > f.seg || (seg == f.seg && off > f.off) {
		*f = failure{set: true, seg: seg, off: off, pos: pos}
	}
}

func skipSpace(s string, p int) int {
	for p < len(s) {
		c := s[p]
		if c < utf8.RuneSelf {
			if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' {
				p++
				continue
			}
			return p
		}
		r, size := utf8.DecodeRuneInString(s[p:])
		if !unicode.IsSpace(r) {
			return p
		}
		p += size
	}
	return p
}

func spaceBefore(s string, p int) bool {
	r, _ := utf8.DecodeLastRuneInString(s[:p])
	return unicode.IsSpace(r)
}

// match runs the search and turns a failure into a Violation. The first pass enforces
// everything (kinds, MaxVarLen, whitelist) inside the search, so a valid split is found even
// when an invalid one comes first. If it fails, a second pass with unconstrained variables
// tells the two kinds of failure apart: if the fixed text fits, the first variable of that
// split that breaks a rule is reported; if not, the deepest point where the fixed text
// stopped matching is.
func (p *program) match(id, text string, opt MatchOptions) ([]string, *Violation) {
	return p.matchMode(id, text, opt, true)
}

// matchMode is match; with diagnose false, a failure returns a nil *Violation and no values,
// skipping the work of explaining it (MatchContent tries many candidates that fail).
func (p *program) matchMode(id, text string, opt MatchOptions, diagnose bool) ([]string, *Violation) {
	base := len(text) - len(strings.TrimLeftFunc(text, unicode.IsSpace))
	s := strings.TrimFunc(text, unicode.IsSpace)
	n := len(p.segs)
	m := matcherPool.Get().(*matcher)
	defer matcherPool.Put(m)
	*m = matcher{
		segs:   p.segs,
		s:      s,
		maxLen: opt.maxLen(),
		wl:     opt.URLWhitelist,
		budget: opt.budget,
		starts: grow(m.starts, n),
		ends:   grow(m.ends, n),
		memo:   grow(m.memo, (n*(len(s)+1)+63)/64),
	}
	if m.budget <= 0 {
		m.budget = defaultBudget
	}
	m.reset(true, false)
	if m.run(0, 0) {
		return m.values(p), nil
	}
	if !diagnose {
		return nil, nil
	}
	if m.abort {
		return nil, gaveUp(id, m.budget)
	}
	m.reset(false, true)
	if m.run(0, 0) {
		vals := m.values(p)
		for k, v := range vals {
			if c, why := valueProblem(p.kinds[k], v, m.maxLen, m.wl); c != 0 {
				return nil, &Violation{Code: c, Template: id, Var: k + 1,
					Reason: fmt.Sprintf("variable %d %s", k+1, why)}
			}
		}
	}
	if m.abort {
		return nil, gaveUp(id, m.budget)
	}
	// The fixed text does not fit. Find where it stops fitting with variables that keep
	// their kinds but have no length limit: an unconstrained {#numeric#} would swallow the
	// text after it and move the reported point somewhere unhelpful. If the kinds stop the
	// search before any fixed text is tried, fall back to the unconstrained pass's answer.
	untyped := m.fail
	m.reset(true, true)
	m.maxLen, m.wl = int(^uint(0)>>1), nil
	m.run(0, 0)
	if !m.fail.set || m.abort {
		m.fail = untyped
	}
	if !m.fail.set {
		return nil, gaveUp(id, m.budget)
	}
	f := m.fail
	at := utf8.RuneCountInString(text[:base+f.pos]) + 1
	if f.seg == n {
		return nil, violation(CodeTemplateNotMatched, id,
			"text does not match template %s: unexpected %q at character %d, after the end of the template",
			id, clip(s[f.pos:], 24), at)
	}
	found := "end of text"
	if f.pos < len(s) {
		found = fmt.Sprintf("%q", clip(s[f.pos:], 24))
	}
	return nil, violation(CodeTemplateNotMatched, id,
		"text does not match template %s: expected %q at character %d, found %s",
		id, clip(p.segs[f.seg].lit[f.off:], 40), at, found)
}

// matcherPool recycles matchers and their buffers: matching runs on every message, often
// against several candidate templates, and should not allocate more than its result.
var matcherPool = sync.Pool{New: func() any { return new(matcher) }}

// grow returns b resized to n elements, reusing its array when it is large enough. The
// contents are not cleared (reset clears the memo).
func grow[T any](b []T, n int) []T {
	if cap(b) >= n {
		return b[:n]
	}
	return make([]T, n)
}

func gaveUp(id string, budget int) *Violation {
	return violation(CodeTemplateNotMatched, id,
		"text does not match template %s: no split of the text fits the template within %d steps", id, budget)
}

// values returns the variable values of a successful run; never nil, even for a template
// without variables (callers use nil for "no match").
func (m *matcher) values(p *program) []string {
	out := make([]string, 0, len(p.kinds))
	for i, sg := range m.segs {
		if sg.isVar {
			out = append(out, m.s[m.starts[i]:m.ends[i]])
		}
	}
	return out
}

// clip shortens s to at most n runes, marking the cut with "…".
func clip(s string, n int) string {
	i := 0
	for k := range s {
		if i == n {
			return s[:k] + "…"
		}
		i++
	}
	return s
}
