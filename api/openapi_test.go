package api

import (
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The OpenAPI description and the router cannot drift: every route with its methods is in
// docs/openapi.yaml, and every documented path and method is a route.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	b, err := os.ReadFile("../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                    `yaml:"openapi"`
		Paths   map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	e := newEnv(t, nil)
	routes := map[string][]string{}
	for _, r := range e.srv.Routes() {
		for _, m := range r.Methods {
			routes[r.Path] = append(routes[r.Path], strings.ToLower(m))
		}
	}
	for path, ms := range routes {
		item, ok := doc.Paths[path]
		if !ok {
			t.Errorf("route %s is not in openapi.yaml", path)
			continue
		}
		for _, m := range ms {
			if item[m] == nil {
				t.Errorf("route %s %s is not in openapi.yaml", strings.ToUpper(m), path)
			}
		}
	}
	for path, item := range doc.Paths {
		ms, ok := routes[path]
		if !ok {
			t.Errorf("openapi.yaml documents %s, which the router does not serve", path)
			continue
		}
		for m := range item {
			if m != "parameters" && !slices.Contains(ms, m) {
				t.Errorf("openapi.yaml documents %s %s, which the router does not serve", strings.ToUpper(m), path)
			}
		}
	}
}
