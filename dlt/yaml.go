package dlt

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// LoadYAML reads a registry from its YAML form:
//
//	# The TM-D this smppd instance acts as: the last ID of every chain.
//	telemarketer:
//	  tm_d: "1702157571346669272"
//
//	entities:
//	  - id: "1101557290000055412"      # PE ID, digits
//	    name: ACME Retail              # optional
//	    url_whitelist:                 # optional; see MatchOptions.URLWhitelist
//	      - acme.in
//	      - https://trk.example.com/acme?
//	    chains:                        # optional; default: one direct chain PE→TM-D
//	      - tm_af: []                  # direct
//	      - tm_af: ["1102000000000000001"]   # through an aggregator (PE→TM-AF→TM-D)
//
//	headers:
//	  - name: ACMEIN                   # case sensitive; 6 letters, or 6 digits if promotional
//	    entity_id: "1101557290000055412"
//	    category: transactional        # any spelling ParseCategory accepts
//
//	templates:
//	  - id: "1107161234567890123"      # CT ID, digits
//	    entity_id: "1101557290000055412"
//	    name: login otp                # optional
//	    category: transactional
//	    headers: [ACMEIN]              # optional; empty means any header of the entity
//	    text: "Your OTP for login is {#numeric#}. Do not share it with anyone. - ACME"
//
// IDs may be quoted or not (they are read as written, never as numbers). Entities come first,
// then headers, then templates, whatever the order of the sections in the file. Unknown keys
// are errors. Each error names the line, the item and the problem; all problems found are
// returned together (errors.Join).
func LoadYAML(r io.Reader) (*Registry, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("dlt: read registry: %w", err)
	}
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return NewRegistry(), nil
		}
		return nil, fmt.Errorf("dlt: registry: %w", err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	l := &yamlLoader{reg: NewRegistry()}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("dlt: registry: line %d: want a mapping with entities, headers and templates", root.Line)
	}
	sections := map[string]*yaml.Node{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k := root.Content[i]
		switch k.Value {
		case "telemarketer", "entities", "headers", "templates":
			sections[k.Value] = root.Content[i+1]
		default:
			l.errf(k, "unknown key %q (want telemarketer, entities, headers, templates)", k.Value)
		}
	}
	if n := sections["telemarketer"]; n != nil {
		l.telemarketer(n)
	}
	l.each(sections["entities"], "entities", l.entity)
	l.each(sections["headers"], "headers", l.header)
	l.each(sections["templates"], "templates", l.template)
	if len(l.errs) > 0 {
		return nil, errors.Join(l.errs...)
	}
	return l.reg, nil
}

// LoadYAMLFile is LoadYAML on a file; errors start with the file's path.
func LoadYAMLFile(path string) (*Registry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dlt: %w", err)
	}
	defer f.Close()
	reg, err := LoadYAML(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return reg, nil
}

type yamlLoader struct {
	reg  *Registry
	errs []error
}

func (l *yamlLoader) errf(n *yaml.Node, format string, args ...any) {
	l.errs = append(l.errs, fmt.Errorf("line %d: "+format, append([]any{n.Line}, args...)...))
}

// itemErr records err (from an Add method, "dlt: ..." prefixed) against the item at n.
func (l *yamlLoader) itemErr(n *yaml.Node, what string, err error) {
	l.errf(n, "%s: %s", what, strings.TrimPrefix(err.Error(), "dlt: "))
}

func (l *yamlLoader) each(seq *yaml.Node, name string, fn func(n *yaml.Node, what string)) {
	if seq == nil || (seq.Kind == yaml.ScalarNode && seq.Tag == "!!null") {
		return
	}
	if seq.Kind != yaml.SequenceNode {
		l.errf(seq, "%s: want a list", name)
		return
	}
	for i, n := range seq.Content {
		fn(n, fmt.Sprintf("%s[%d]", name, i))
	}
}

// fields reads a mapping node into key → value node, reporting keys not in allowed.
func (l *yamlLoader) fields(n *yaml.Node, what string, allowed ...string) (map[string]*yaml.Node, bool) {
	if n.Kind != yaml.MappingNode {
		l.errf(n, "%s: want a mapping", what)
		return nil, false
	}
	out := make(map[string]*yaml.Node)
	ok := true
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if !contains(allowed, k.Value) {
			l.errf(k, "%s: unknown key %q (want %s)", what, k.Value, strings.Join(allowed, ", "))
			ok = false
			continue
		}
		out[k.Value] = n.Content[i+1]
	}
	return out, ok
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func (l *yamlLoader) str(f map[string]*yaml.Node, key, what string) (string, bool) {
	n := f[key]
	if n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
		return "", true
	}
	if n.Kind != yaml.ScalarNode {
		l.errf(n, "%s: %s: want a single value", what, key)
		return "", false
	}
	return n.Value, true
}

func (l *yamlLoader) list(f map[string]*yaml.Node, key, what string) ([]string, bool) {
	n := f[key]
	if n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
		return nil, true
	}
	if n.Kind == yaml.ScalarNode { // a single value for a list is fine
		return []string{n.Value}, true
	}
	if n.Kind != yaml.SequenceNode {
		l.errf(n, "%s: %s: want a list", what, key)
		return nil, false
	}
	out := make([]string, 0, len(n.Content))
	for _, c := range n.Content {
		if c.Kind != yaml.ScalarNode {
			l.errf(c, "%s: %s: want a list of values", what, key)
			return nil, false
		}
		out = append(out, c.Value)
	}
	return out, true
}

func (l *yamlLoader) telemarketer(n *yaml.Node) {
	f, ok := l.fields(n, "telemarketer", "tm_d")
	if !ok {
		return
	}
	if id, ok := l.str(f, "tm_d", "telemarketer"); ok && id != "" {
		if err := l.reg.SetTMD(id); err != nil {
			l.itemErr(f["tm_d"], "telemarketer", err)
		}
	}
}

func (l *yamlLoader) entity(n *yaml.Node, what string) {
	f, ok := l.fields(n, what, "id", "name", "url_whitelist", "chains")
	if !ok {
		return
	}
	var e Entity
	var ok1, ok2, ok3 bool
	e.ID, ok1 = l.str(f, "id", what)
	e.Name, ok2 = l.str(f, "name", what)
	e.URLWhitelist, ok3 = l.list(f, "url_whitelist", what)
	if !ok1 || !ok2 || !ok3 {
		return
	}
	label := what
	if e.ID != "" {
		label = fmt.Sprintf("%s (entity %s)", what, e.ID)
	}
	if err := l.reg.AddEntity(e); err != nil {
		l.itemErr(n, what, err)
		return
	}
	chains := f["chains"]
	if chains == nil {
		if l.reg.TMD() != "" {
			if err := l.reg.AddChain(Chain{PEID: e.ID}); err != nil {
				l.itemErr(n, what, err)
			}
		}
		return
	}
	l.each(chains, label+": chains", func(cn *yaml.Node, cwhat string) {
		cf, ok := l.fields(cn, cwhat, "tm_af", "tm_d")
		if !ok {
			return
		}
		tmaf, ok1 := l.list(cf, "tm_af", cwhat)
		tmd, ok2 := l.str(cf, "tm_d", cwhat)
		if !ok1 || !ok2 {
			return
		}
		if err := l.reg.AddChain(Chain{PEID: e.ID, TMAF: tmaf, TMD: tmd}); err != nil {
			l.itemErr(cn, cwhat, err)
		}
	})
}

func (l *yamlLoader) header(n *yaml.Node, what string) {
	f, ok := l.fields(n, what, "name", "entity_id", "category")
	if !ok {
		return
	}
	name, ok1 := l.str(f, "name", what)
	ent, ok2 := l.str(f, "entity_id", what)
	cat, ok3 := l.str(f, "category", what)
	if !ok1 || !ok2 || !ok3 {
		return
	}
	label := what
	if name != "" {
		label = fmt.Sprintf("%s (header %s)", what, name)
	}
	c, err := ParseCategory(cat)
	if err != nil {
		l.itemErr(n, label, err)
		return
	}
	if err := l.reg.AddHeader(Header{Name: name, EntityID: ent, Category: c}); err != nil {
		l.itemErr(n, what, err)
	}
}

func (l *yamlLoader) template(n *yaml.Node, what string) {
	f, ok := l.fields(n, what, "id", "entity_id", "name", "category", "headers", "text")
	if !ok {
		return
	}
	var t Template
	var oks [6]bool
	t.ID, oks[0] = l.str(f, "id", what)
	t.EntityID, oks[1] = l.str(f, "entity_id", what)
	t.Name, oks[2] = l.str(f, "name", what)
	cat, ok3 := l.str(f, "category", what)
	oks[3] = ok3
	t.Headers, oks[4] = l.list(f, "headers", what)
	t.Text, oks[5] = l.str(f, "text", what)
	for _, ok := range oks {
		if !ok {
			return
		}
	}
	label := what
	if t.ID != "" {
		label = fmt.Sprintf("%s (template %s)", what, t.ID)
	}
	c, err := ParseCategory(cat)
	if err != nil {
		l.itemErr(n, label, err)
		return
	}
	t.Category = c
	if err := l.reg.AddTemplate(t); err != nil {
		l.itemErr(n, what, err)
	}
}
