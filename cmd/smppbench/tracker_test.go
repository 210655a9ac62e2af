package main

import (
	"testing"
	"time"
)

func TestTrackerStages(t *testing.T) {
	tr := newTracker()
	now := time.Now()
	tr.accept([]string{normalise("917000000001")}, now)
	tr.webhook(normalise("7000000001"), "k1", now.Add(30*time.Millisecond))
	tr.submitted(normalise("917000000001"), now.Add(10*time.Millisecond))
	tr.finish()
	p := tr.submitToHook.percentiles()
	a := tr.acceptToSubmit.percentiles()
	if p.Count != 1 || p.P50 != 20 || a.Count != 1 || a.P50 != 10 {
		t.Fatalf("%+v %+v", p, a)
	}
}
