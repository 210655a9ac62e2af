package dlt

import (
	"bytes"
	"os"
	"testing"
)

func TestExportYAMLRoundTrips(t *testing.T) {
	reg, err := LoadYAMLFile("../testdata/dlt/registry.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("../testdata/dlt/templates.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ents := reg.Entities()
	if _, err := reg.LoadTemplatesCSV(f, ents[0].ID); err != nil {
		t.Logf("csv: %v (rows with problems are skipped)", err)
	}
	out, err := reg.ExportYAML()
	if err != nil {
		t.Fatal(err)
	}
	back, err := LoadYAML(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("exported YAML does not load: %v\n%s", err, out)
	}
	again, err := back.ExportYAML()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, again) {
		t.Fatalf("export is not stable:\n%s\n---\n%s", out, again)
	}
	for _, tm := range reg.TemplatesFor(ents[0].ID) {
		got, ok := back.Template(tm.ID)
		if !ok || got.Text != tm.Text || got.Category != tm.Category {
			t.Fatalf("template %s lost or changed: %+v", tm.ID, got)
		}
	}
	if back.TMD() != reg.TMD() || len(back.Chains(ents[0].ID)) != len(reg.Chains(ents[0].ID)) {
		t.Fatal("telemarketer or chains lost")
	}
}
