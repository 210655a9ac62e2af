package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// profileSeconds is how long a CPU profile of the load phase lasts: the whole sending time,
// in whole seconds as /debug/pprof/profile takes it, at least one.
func profileSeconds(d time.Duration) int {
	return max(1, int(d/time.Second))
}

// profilePath is where run (1-based) of runs writes its profile: path itself for a single
// run, else path with -run<run> before its extension.
func profilePath(path string, run, runs int) string {
	if runs <= 1 {
		return path
	}
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + "-run" + strconv.Itoa(run) + ext
}

// cpuProfile fetches a CPU profile of smppd (its /debug/pprof/profile on the internal
// listener, http.metrics_listen with http.pprof, which -self configures: smppd never serves
// profiles on its API listener) for seconds and writes it to path; the returned channel
// yields the outcome.
func cpuProfile(ctx context.Context, target string, seconds int, path string) <-chan error {
	done := make(chan error, 1)
	go func() {
		done <- func() error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", target, seconds), nil)
			if err != nil {
				return err
			}
			resp, err := (&http.Client{Timeout: time.Duration(seconds)*time.Second + 30*time.Second}).Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
				return fmt.Errorf("smppd CPU profile: HTTP %d: %s", resp.StatusCode, b)
			}
			f, err := os.Create(path)
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, resp.Body); err != nil {
				f.Close()
				return err
			}
			return f.Close()
		}()
	}()
	return done
}
