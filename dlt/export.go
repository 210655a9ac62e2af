package dlt

import (
	"bytes"
	"cmp"
	"slices"

	"gopkg.in/yaml.v3"
)

// yamlDoc is the YAML form LoadYAML reads, for writing it back.
type yamlDoc struct {
	Telemarketer *struct {
		TMD string `yaml:"tm_d"`
	} `yaml:"telemarketer,omitempty"`
	Entities  []yamlEntity   `yaml:"entities"`
	Headers   []yamlHeader   `yaml:"headers"`
	Templates []yamlTemplate `yaml:"templates"`
}

type yamlEntity struct {
	ID           string      `yaml:"id"`
	Name         string      `yaml:"name,omitempty"`
	URLWhitelist []string    `yaml:"url_whitelist,omitempty"`
	Chains       []yamlChain `yaml:"chains,omitempty"`
}

type yamlChain struct {
	TMAF []string `yaml:"tm_af,flow"`
}

type yamlHeader struct {
	Name     string   `yaml:"name"`
	EntityID string   `yaml:"entity_id"`
	Category Category `yaml:"category"`
}

type yamlTemplate struct {
	ID       string   `yaml:"id"`
	EntityID string   `yaml:"entity_id"`
	Name     string   `yaml:"name,omitempty"`
	Category Category `yaml:"category"`
	Headers  []string `yaml:"headers,omitempty,flow"`
	Text     string   `yaml:"text"`
}

// ExportYAML writes the registry in the form LoadYAML reads, sorted by id so that the same
// registry always gives the same bytes. The engine stores registries this way in Redis, where
// every instance reads the same one.
func (r *Registry) ExportYAML() ([]byte, error) {
	r.mu.RLock()
	doc := yamlDoc{Entities: []yamlEntity{}, Headers: []yamlHeader{}, Templates: []yamlTemplate{}}
	if r.tmd != "" {
		doc.Telemarketer = &struct {
			TMD string `yaml:"tm_d"`
		}{r.tmd}
	}
	for _, e := range r.entities {
		ye := yamlEntity{ID: e.ID, Name: e.Name, URLWhitelist: slices.Clone(e.URLWhitelist)}
		for _, c := range e.chains {
			ye.Chains = append(ye.Chains, yamlChain{TMAF: append([]string{}, c.TMAF...)})
		}
		doc.Entities = append(doc.Entities, ye)
	}
	for _, h := range r.headers {
		doc.Headers = append(doc.Headers, yamlHeader{Name: h.Name, EntityID: h.EntityID, Category: h.Category})
	}
	for _, t := range r.templates {
		doc.Templates = append(doc.Templates, yamlTemplate{ID: t.ID, EntityID: t.EntityID, Name: t.Name,
			Category: t.Category, Headers: slices.Clone(t.Headers), Text: t.Text})
	}
	r.mu.RUnlock()
	slices.SortFunc(doc.Entities, func(a, b yamlEntity) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortFunc(doc.Headers, func(a, b yamlHeader) int { return cmp.Compare(a.Name, b.Name) })
	slices.SortFunc(doc.Templates, func(a, b yamlTemplate) int { return cmp.Compare(a.ID, b.ID) })
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	_ = enc.Close()
	return buf.Bytes(), nil
}
