package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// The committed samples must be what the generator writes today: a change to the
// webhook schemes or the samples shows up here, not as a puzzling e2e failure.
func TestCommittedSamplesAreCurrent(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..", "events")
	out := t.TempDir()
	if err := run(filepath.Join(root, "sources.json"), out); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(out, "*.json"))
	if err != nil || len(files) < 10 {
		t.Fatalf("generated %d files (%v)", len(files), err)
	}
	for _, f := range files {
		want, _ := os.ReadFile(f)
		got, err := os.ReadFile(filepath.Join(root, "ingest", filepath.Base(f)))
		if err != nil {
			t.Errorf("%s: not committed: %v", filepath.Base(f), err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the generator's output; run `go run ./infra/genevents`", filepath.Base(f))
		}
	}
}
