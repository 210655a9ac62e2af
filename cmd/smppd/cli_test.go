package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smppd/smppd/smpp/smsc"
	"github.com/smppd/smppd/store/storetest"
)

func TestCheckValidatesConfigAndRegistry(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"-config", "../../testdata/config/smppd.yaml", "-check"}, &out, &errOut, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "OK (2 carriers, 1 accounts, DLT registry with 2 entities)") {
		t.Fatalf("output %q", out.String())
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("carriers:\n  - name: x\n    binds: []\n"), 0o600)
	err := run(context.Background(), []string{"-config", bad, "-check"}, &out, &errOut, nil)
	if err == nil || !strings.Contains(err.Error(), "bad.yaml:3: carriers[0].binds: no binds") {
		t.Fatalf("err %v", err)
	}
}

func TestDLTImportPublishesToEveryInstance(t *testing.T) {
	sim := smsc.Start(t, smsc.Options{EnquireLinkInterval: -1})
	prefix := storetest.UniquePrefix(t)
	st := storetest.OpenRedis(t, prefix)
	cfgPath, _ := killScenario(t, sim, prefix)
	reg, _ := os.ReadFile("../../testdata/dlt/registry.yaml")
	regPath := filepath.Join(filepath.Dir(cfgPath), "registry.yaml")
	os.WriteFile(regPath, reg, 0o600)
	cfgText, _ := os.ReadFile(cfgPath)
	os.WriteFile(cfgPath, append(cfgText, []byte("dlt:\n  registry: registry.yaml\n")...), 0o600)

	var out bytes.Buffer
	if err := run(context.Background(), []string{"-config", cfgPath, "-dlt-import"}, &out, os.Stderr, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "DLT registry imported: version 1, 2 entities") {
		t.Fatalf("output %q", out.String())
	}
	doc, v, err := st.LoadRegistry(context.Background())
	if err != nil || v != 1 || !strings.Contains(string(doc), "1107161234567890001") {
		t.Fatalf("stored registry v%d: %v", v, err)
	}
}
