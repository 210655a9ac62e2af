package storetest

import "testing"

// TestSearch runs the message search conformance tests on both stores.
func TestSearch(t *testing.T) {
	for _, tc := range SearchTests {
		t.Run(tc.Name, func(t *testing.T) { ForEach(t, tc.Fn) })
	}
}
