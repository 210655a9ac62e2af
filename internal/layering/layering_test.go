package layering

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/smppd/smppd/"

// graph returns, for each package of the module (tests excluded), the module packages it
// imports directly and the selected outside packages it links (testing, Prometheus), from
// `go list`: the compiler's and the linker's view, build tags and all. Outside packages come
// from .Deps, the full transitive list, so one linked through a third-party library counts.
func graph(t *testing.T) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f",
		`{{.ImportPath}}{{range .Imports}} {{.}}{{end}} |{{range .Deps}} {{.}}{{end}}`, module+"...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	g := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		imports, linked, _ := strings.Cut(line, "|")
		f := strings.Fields(imports)
		pkg := strings.TrimPrefix(f[0], module)
		var imps []string
		for _, imp := range f[1:] {
			if strings.HasPrefix(imp, module) {
				imps = append(imps, strings.TrimPrefix(imp, module))
			}
		}
		for _, dep := range strings.Fields(linked) {
			if dep == "testing" || strings.HasPrefix(dep, "github.com/prometheus/") {
				imps = append(imps, dep)
			}
		}
		g[pkg] = imps
	}
	return g
}

// deps returns everything pkg imports, directly or not, within what graph keeps.
func deps(g map[string][]string, pkg string) []string {
	seen := map[string]bool{}
	var walk func(string)
	walk = func(p string) {
		for _, d := range g[p] {
			if !seen[d] {
				seen[d] = true
				walk(d)
			}
		}
	}
	walk(pkg)
	all := make([]string, 0, len(seen))
	for d := range seen {
		all = append(all, d)
	}
	slices.Sort(all)
	return all
}

// under reports whether pkg is root or one of its subpackages.
func under(pkg, root string) bool { return pkg == root || strings.HasPrefix(pkg, root+"/") }

func TestImportRules(t *testing.T) {
	g := graph(t)
	if len(g) < 10 {
		t.Fatalf("go list found %d packages; expected the whole module", len(g))
	}
	testHelper := func(p string) bool {
		// storetest, dispatchtest, smsctest, redistest… and the poll helper every test uses.
		return strings.HasSuffix(p, "test") || strings.HasSuffix(p, "testutil") || p == "internal/wait"
	}
	rules := []struct {
		name string
		// applies selects the importing packages the rule is about.
		applies func(pkg string) bool
		// forbidden reports whether the importer may not depend on dep (transitively).
		forbidden func(pkg, dep string) bool
	}{
		{"smpp and smpp/text are leaves: the protocol knows nothing of smppd",
			func(p string) bool { return under(p, "smpp") },
			func(_, d string) bool { return !under(d, "smpp") && !strings.Contains(d, ".") && d != "testing" }},
		{"dlt and store import no other smppd package",
			func(p string) bool { return p == "dlt" || p == "store" },
			func(_, d string) bool { return !strings.Contains(d, ".") && d != "testing" }},
		{"configuration flows one way: only config and the binaries import config",
			func(p string) bool { return !under(p, "config") && !under(p, "cmd") },
			func(_, d string) bool { return d == "config" }},
		{"the simulator is a tool, not a dependency of the product",
			func(p string) bool { return !under(p, "smsc") && !under(p, "cmd") && !testHelper(p) },
			func(_, d string) bool { return under(d, "smsc") }},
		{"dispatch calls dlr through its Receipts seam, never by import",
			func(p string) bool { return under(p, "dispatch") },
			func(_, d string) bool { return d == "dlr" || d == "api" }},
		{"dlr never depends on the HTTP front",
			func(p string) bool { return under(p, "dlr") },
			func(_, d string) bool { return d == "api" }},
		{"the operator console sees the daemon through its own small interfaces: store, dlt and two helpers, never dispatch, dlr, config or Prometheus",
			func(p string) bool { return under(p, "api/console") },
			func(_, d string) bool {
				return !strings.Contains(d, ".") && d != "testing" &&
					!slices.Contains([]string{"store", "dlt", "internal/msisdn", "internal/passwd"}, d)
			}},
		{"libraries take metrics through Stats and hooks; Prometheus is wired in the binaries",
			func(p string) bool { return !under(p, "cmd") },
			func(_, d string) bool { return strings.HasPrefix(d, "github.com/prometheus/") }},
		{"only test-helper packages import testing, so no binary links it",
			func(p string) bool { return !testHelper(p) },
			func(_, d string) bool { return d == "testing" }},
	}
	for _, r := range rules {
		for pkg := range g {
			if !r.applies(pkg) {
				continue
			}
			for _, d := range deps(g, pkg) {
				if r.forbidden(pkg, d) {
					t.Errorf("%s imports %s (directly or through another package): %s", pkg, d, r.name)
				}
			}
		}
	}
}
