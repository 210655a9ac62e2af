package dlt

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smppd/smppd/internal/wait"
)

// memRegistryStore is a RegistryStore in memory, standing in for Redis (whose
// implementation is tested in store/redisstore against a real server).
type memRegistryStore struct {
	mu  sync.Mutex
	doc []byte
	v   int64
}

func (m *memRegistryStore) LoadRegistry(context.Context) ([]byte, int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.doc, m.v, nil
}

func (m *memRegistryStore) RegistryVersion(context.Context) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.v, nil
}

func (m *memRegistryStore) SaveRegistry(_ context.Context, doc []byte) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.doc, m.v = doc, m.v+1
	return m.v, nil
}

func TestEngineSharesAndReloadsTheRegistry(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile("../testdata/dlt/registry.yaml")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "registry.yaml")
	if err := os.WriteFile(file, src, 0o600); err != nil {
		t.Fatal(err)
	}
	shared := &memRegistryStore{}
	ctx := context.Background()
	// The first instance seeds the store from its file.
	a, err := NewEngine(ctx, EngineOptions{Store: shared, File: file, Poll: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if a.Version() != 1 {
		t.Fatalf("version %d", a.Version())
	}
	// A second instance without files reads the same registry from the store.
	b, err := NewEngine(ctx, EngineOptions{Store: shared, Poll: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Registry().Template("1107161234567890001"); !ok {
		t.Fatal("second instance lacks the templates")
	}
	if got := b.ChainFor("1101557290000055412"); len(got) != 1 || got[0] != "1702157571346669272" {
		t.Fatalf("chain %v", got)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go b.Run(runCtx)

	// An operator adds a template and imports on instance a: b follows without a restart.
	added := strings.Replace(string(src), "templates:\n", `templates:
  - id: "1107161234567899999"
    entity_id: "1101557290000055412"
    category: transactional
    headers: [ACMEIN]
    text: "Your refund of Rs.{#numeric#} is on its way. - ACME"
`, 1)
	if err := os.WriteFile(file, []byte(added), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := a.ImportFiles(ctx); err != nil {
		t.Fatal(err)
	}
	wait.For(t, 5*time.Second, "instance b to see the new template", func() bool {
		_, ok := b.Registry().Template("1107161234567899999")
		return ok
	})
	// A broken file changes nothing anywhere.
	if err := os.WriteFile(file, []byte("templates: [{id: x}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := a.ImportFiles(ctx); err == nil {
		t.Fatal("a broken registry was imported")
	}
	if a.Version() != 2 || shared.v != 2 {
		t.Fatalf("versions %d %d", a.Version(), shared.v)
	}
}

func TestEngineImportCSVReachesEveryInstance(t *testing.T) {
	shared := &memRegistryStore{}
	ctx := context.Background()
	a, err := NewEngine(ctx, EngineOptions{Store: shared, File: "../testdata/dlt/registry.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("../testdata/dlt/templates.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// One row names a header no entity has: reported by line, the others added.
	bad := "TEMPLATE_ID,TEMPLATE_NAME,TEMPLATE_CONTENT,HEADER,TEMPLATE_TYPE\n1107170000000000001,x,Hello {#var#},NOSUCH,Transactional\n"
	csvData, _ := io.ReadAll(f)
	n, err := a.ImportCSV(ctx, strings.NewReader(string(csvData)+strings.SplitN(bad, "\n", 2)[1]), "1101557290000055412")
	if n != 4 || err == nil || !strings.Contains(err.Error(), "line 8") {
		t.Fatalf("ImportCSV = %d, %v; want 4 and line 8 reported", n, err)
	}
	if a.Version() != 2 {
		t.Fatalf("version %d; want 2 (published)", a.Version())
	}
	b, err := NewEngine(ctx, EngineOptions{Store: shared})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Registry().Template("1107173398907267116"); !ok {
		t.Fatal("the other instance lacks the uploaded template")
	}
	// Nothing loadable, or an unknown entity: nothing changes.
	if n, err := a.ImportCSV(ctx, strings.NewReader(bad), "1101557290000055412"); n != 0 || err == nil || a.Version() != 2 {
		t.Fatalf("bad file: %d %v version %d", n, err, a.Version())
	}
	if _, err := a.ImportCSV(ctx, strings.NewReader(string(csvData)), "999"); err == nil || a.Version() != 2 {
		t.Fatalf("unknown entity: %v", err)
	}
}
