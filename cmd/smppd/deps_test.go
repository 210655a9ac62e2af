package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The daemon is what runs in production, so what it links matters: package testing brings
// its flags and globals into the binary, and it came in once through the demo mode's
// simulator (smsc.Start took a testing.TB). The simulator library itself must stay free of
// testing and of Prometheus, so that tests and the demo that link it do not inherit either;
// its metrics are wired in cmd/smscsim. go list -deps is the linker's view of the import
// graph (test files excluded), so these checks see what a build would link.
func TestLinkedPackages(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH to list dependencies with")
	}
	for _, tc := range []struct {
		pkg       string
		forbidden []string // exact package paths, or prefixes ending in "/"
	}{
		// Prometheus is the daemon's own metrics library, so only testing is checked here.
		{"github.com/smppd/smppd/cmd/smppd", []string{"testing"}},
		{"github.com/smppd/smppd/smsc", []string{"testing", "github.com/prometheus/"}},
	} {
		t.Run(tc.pkg, func(t *testing.T) {
			out, err := exec.Command(goTool, "list", "-deps", tc.pkg).Output()
			if err != nil {
				var stderr []byte
				if ee, ok := err.(*exec.ExitError); ok {
					stderr = ee.Stderr
				}
				t.Fatalf("go list -deps %s: %v\n%s", tc.pkg, err, stderr)
			}
			deps := strings.Fields(string(out))
			if len(deps) == 0 {
				t.Fatalf("go list -deps %s listed nothing", tc.pkg)
			}
			for _, dep := range deps {
				for _, bad := range tc.forbidden {
					if dep == bad || (strings.HasSuffix(bad, "/") && strings.HasPrefix(dep, bad)) {
						t.Errorf("%s links %s", tc.pkg, dep)
					}
				}
			}
		})
	}
}
