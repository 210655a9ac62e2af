package dlt

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Entity is a principal entity (PE): the business that registered headers and templates on a
// DLT portal.
type Entity struct {
	ID           string   // PE ID: ASCII digits, usually 19 (older IDs have 12)
	Name         string   // informational
	URLWhitelist []string // CTA links whitelisted for the entity (see MatchOptions.URLWhitelist)
}

// Header is a registered header (sender ID). Headers are case sensitive (code 620) and belong
// to exactly one entity.
type Header struct {
	Name     string
	EntityID string
	Category Category // promotional headers are 6 digits, all others 6 letters
}

// ErrDuplicate is wrapped by the Add methods when the ID or name is already registered.
var ErrDuplicate = errors.New("already registered")

// maxIDLen is the longest PE, CT or TM ID accepted: the TLVs are declared 30 octets long
// (dlt-smpp.md §1.2).
const maxIDLen = 30

// ValidID reports whether id looks like a DLT ID: 1 to 30 ASCII digits.
func ValidID(id string) bool {
	return id != "" && len(id) <= maxIDLen && allASCII(id, isDigit)
}

// ValidateHeader checks a header's format against its category: promotional headers are
// exactly 6 digits (the first being the category code), transactional and service headers
// exactly 6 letters A–Z, upper case (dlt-smpp.md §4 "Headers", after Exotel's registration
// rules and the MTNL and SmartPing FAQs). Tata's DLT allows 3–8 letters; that is not accepted
// here, since the four operators' own platforms use 6.
func ValidateHeader(name string, cat Category) error {
	if !cat.Valid() {
		return fmt.Errorf("dlt: header %s: unknown category %q", name, cat)
	}
	if cat.NumericHeader() {
		if len(name) != 6 || !allASCII(name, isDigit) {
			return fmt.Errorf("dlt: header %q: a %s header is exactly 6 digits", name, cat)
		}
		return nil
	}
	if len(name) != 6 || !allASCII(name, func(r rune) bool { return r >= 'A' && r <= 'Z' }) {
		return fmt.Errorf("dlt: header %q: a %s header is exactly 6 upper-case letters A-Z", name, cat)
	}
	return nil
}

// Registry holds the DLT data one smppd instance checks messages against: entities, their
// headers, templates and PE→TM chains. All methods are safe for concurrent use; reads take a
// shared lock, and the per-entity content index used by MatchContent is built on first use
// after a change. Values returned are copies, except *Template, which is shared and must not
// be modified.
type Registry struct {
	mu        sync.RWMutex
	tmd       string
	entities  map[string]*entityRec
	headers   map[string]Header
	templates map[string]*Template
}

type entityRec struct {
	Entity
	templates []*Template
	chains    []Chain
	hashes    map[string]bool

	buildMu sync.Mutex
	index   atomic.Pointer[contentIndex] // nil when templates changed since the last build
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{
		entities:  make(map[string]*entityRec),
		headers:   make(map[string]Header),
		templates: make(map[string]*Template),
	}
}

// SetTMD records the ID of the telemarketer-delivery function (the TM-D) that this smppd
// instance acts as: the last ID of every chain.
func (r *Registry) SetTMD(id string) error {
	if !ValidID(id) {
		return fmt.Errorf("dlt: TM-D ID %q: want 1 to %d digits", id, maxIDLen)
	}
	r.mu.Lock()
	r.tmd = id
	r.mu.Unlock()
	return nil
}

// TMD returns the TM-D ID set with SetTMD, or "".
func (r *Registry) TMD() string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.tmd
}

// AddEntity registers a principal entity.
func (r *Registry) AddEntity(e Entity) error {
	if !ValidID(e.ID) {
		return fmt.Errorf("dlt: entity %q: PE ID must be 1 to %d digits", e.ID, maxIDLen)
	}
	for _, u := range e.URLWhitelist {
		if h, _ := splitURL(strings.TrimSpace(u)); h == "" {
			return fmt.Errorf("dlt: entity %s: URL whitelist entry %q has no host", e.ID, u)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.entities[e.ID]; ok {
		return fmt.Errorf("dlt: entity %s: %w", e.ID, ErrDuplicate)
	}
	e.URLWhitelist = slices.Clone(e.URLWhitelist)
	r.entities[e.ID] = &entityRec{Entity: e, hashes: make(map[string]bool)}
	return nil
}

// AddHeader registers a header for an entity that is already registered. The name must fit
// the category (see ValidateHeader) and may belong to one entity only.
func (r *Registry) AddHeader(h Header) error {
	if err := ValidateHeader(h.Name, h.Category); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.entities[h.EntityID]; !ok {
		return fmt.Errorf("dlt: header %s: entity %q is not registered", h.Name, h.EntityID)
	}
	if old, ok := r.headers[h.Name]; ok {
		return fmt.Errorf("dlt: header %s (entity %s): %w for entity %s", h.Name, h.EntityID, ErrDuplicate, old.EntityID)
	}
	r.headers[h.Name] = h
	return nil
}

// AddTemplate compiles and registers a template. Its entity and every header it names must
// already be registered, and the headers must belong to that entity.
func (r *Registry) AddTemplate(t Template) error {
	if !ValidID(t.ID) {
		return fmt.Errorf("dlt: template %q: CT ID must be 1 to %d digits", t.ID, maxIDLen)
	}
	if !t.Category.Valid() {
		return fmt.Errorf("dlt: template %s: unknown category %q", t.ID, t.Category)
	}
	t.Headers = slices.Clone(t.Headers)
	t.prog = nil
	if err := t.Compile(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	ent, ok := r.entities[t.EntityID]
	if !ok {
		return fmt.Errorf("dlt: template %s: entity %q is not registered", t.ID, t.EntityID)
	}
	for _, name := range t.Headers {
		h, ok := r.headers[name]
		switch {
		case !ok:
			return fmt.Errorf("dlt: template %s: header %q is not registered", t.ID, name)
		case h.EntityID != t.EntityID:
			return fmt.Errorf("dlt: template %s: header %s belongs to entity %s, not %s", t.ID, name, h.EntityID, t.EntityID)
		case h.Category.NumericHeader() != t.Category.NumericHeader():
			return fmt.Errorf("dlt: template %s: %s template cannot use %s header %s", t.ID, t.Category, h.Category, name)
		}
	}
	if _, ok := r.templates[t.ID]; ok {
		return fmt.Errorf("dlt: template %s: %w", t.ID, ErrDuplicate)
	}
	tp := &t
	r.templates[t.ID] = tp
	ent.templates = append(ent.templates, tp)
	ent.index.Store(nil)
	return nil
}

// AddChain registers a PE→TM chain for a registered entity. An empty TMD means the registry's
// TM-D (SetTMD).
func (r *Registry) AddChain(c Chain) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.TMD == "" {
		c.TMD = r.tmd
	}
	if !ValidID(c.TMD) {
		return fmt.Errorf("dlt: chain of entity %s: TM-D ID %q must be 1 to %d digits", c.PEID, c.TMD, maxIDLen)
	}
	for _, id := range c.TMAF {
		if !ValidID(id) {
			return fmt.Errorf("dlt: chain of entity %s: TM-AF ID %q must be 1 to %d digits", c.PEID, id, maxIDLen)
		}
	}
	ent, ok := r.entities[c.PEID]
	if !ok {
		return fmt.Errorf("dlt: chain %s: entity %q is not registered", c, c.PEID)
	}
	h := c.Hash()
	if ent.hashes[h] {
		return fmt.Errorf("dlt: chain %s: %w", c, ErrDuplicate)
	}
	c.TMAF = slices.Clone(c.TMAF)
	ent.chains = append(ent.chains, c)
	ent.hashes[h] = true
	return nil
}

// Entity returns the registered entity with this PE ID.
func (r *Registry) Entity(id string) (Entity, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	ent, ok := r.entities[id]
	if !ok {
		return Entity{}, false
	}
	e := ent.Entity
	e.URLWhitelist = slices.Clone(e.URLWhitelist)
	return e, true
}

// Entities returns all registered entities, sorted by ID.
func (r *Registry) Entities() []Entity {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Entity, 0, len(r.entities))
	for _, ent := range r.entities {
		e := ent.Entity
		e.URLWhitelist = slices.Clone(e.URLWhitelist)
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Header returns the registered header with exactly this name (headers are case sensitive).
func (r *Registry) Header(name string) (Header, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	h, ok := r.headers[name]
	return h, ok
}

// HeadersFor returns the entity's headers, sorted by name.
func (r *Registry) HeadersFor(entityID string) []Header {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []Header
	for _, h := range r.headers {
		if h.EntityID == entityID {
			out = append(out, h)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Template returns the compiled template with this CT ID. The template is shared: do not
// modify it.
func (r *Registry) Template(id string) (*Template, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	t, ok := r.templates[id]
	return t, ok
}

// TemplatesFor returns the entity's templates, sorted by ID. They are shared: do not modify
// them.
func (r *Registry) TemplatesFor(entityID string) []*Template {
	r.mu.RLock()
	defer r.mu.RUnlock()
	ent, ok := r.entities[entityID]
	if !ok {
		return nil
	}
	out := slices.Clone(ent.templates)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Chains returns the chains registered for an entity, in the order they were added.
func (r *Registry) Chains(entityID string) []Chain {
	r.mu.RLock()
	defer r.mu.RUnlock()
	ent, ok := r.entities[entityID]
	if !ok {
		return nil
	}
	out := make([]Chain, len(ent.chains))
	for i, c := range ent.chains {
		c.TMAF = slices.Clone(c.TMAF)
		out[i] = c
	}
	return out
}

// ChainRegistered reports whether hash is the hash of a chain registered for the entity.
// The comparison is exact: the hash is lowercase hex (see ChainHash).
func (r *Registry) ChainRegistered(entityID, hash string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	ent, ok := r.entities[entityID]
	return ok && ent.hashes[hash]
}

// AllowsHeader reports whether the template may be sent from header h: it is one of the
// template's headers, or the template lists none (any header of its entity is then allowed;
// the caller checks that h belongs to the entity).
func (t *Template) AllowsHeader(h string) bool {
	return len(t.Headers) == 0 || slices.Contains(t.Headers, h)
}
