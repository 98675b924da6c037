package main

import "testing"

// A short run over two seeds, fanned out to three destinations, loses and doubles
// nothing: exit status 0.
func TestRunSeedsClean(t *testing.T) {
	if code := runSeeds(100, 2, 50, 3); code != 0 {
		t.Fatalf("runSeeds exit status %d, want 0", code)
	}
}
