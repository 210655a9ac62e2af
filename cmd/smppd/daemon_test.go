package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// writeConfig writes the configuration text as smppd.yaml into a fresh directory, beside the
// demo's DLT registry as registry.yaml (so `dlt: {registry: registry.yaml}` finds it), and
// returns the file's path.
func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	dir := t.TempDir()
	reg, err := os.ReadFile("demo_registry.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "registry.yaml"), reg, 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "smppd.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startDaemonInProcess runs smppd (run) with the configuration file until the test ends and
// returns the API's address. Its log is shown only when the test fails.
func startDaemonInProcess(t *testing.T, cfg string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var logs lockedBuffer
	apiAddr := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-config", cfg}, &logs, &logs, func(a string) { apiAddr <- a })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("smppd: %v", err)
		}
		if t.Failed() {
			t.Logf("smppd's log:\n%s", logs.String())
		}
	})
	select {
	case api := <-apiAddr:
		return api
	case err := <-done:
		done <- err // for the cleanup
		t.Fatalf("smppd did not start: %v\n%s", err, logs.String())
	}
	return ""
}
