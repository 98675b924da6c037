// Package events_test checks the sample events: each one round-trips through the
// aws-lambda-go type it stands for without losing a field, so `sam local invoke -e`
// and the tests see the same event.
package events_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func TestSamplesRoundTrip(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("ingest", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		if filepath.Base(f) == "manifest.json" {
			continue
		}
		n++
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var ev events.APIGatewayV2HTTPRequest
			if err := json.Unmarshal(raw, &ev); err != nil {
				t.Fatal(err)
			}
			again, err := json.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			var want, got any
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(again, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(want, got) {
				t.Fatalf("round trip changed the event:\nwant %v\ngot  %v", want, got)
			}
			if ev.RequestContext.HTTP.Method == "" || ev.PathParameters["source"] == "" {
				t.Fatalf("sample lacks method or source")
			}
		})
	}
	if n < 10 {
		t.Fatalf("found %d samples, want at least 10", n)
	}
}

func TestManifestNamesEverySample(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("ingest", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var entries []struct {
		File   string `json:"file"`
		Status int    `json:"status"`
	}
	if err := json.Unmarshal(raw, &entries); err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, e := range entries {
		if e.Status < 200 || e.Status > 599 {
			t.Errorf("%s: status %d", e.File, e.Status)
		}
		if _, err := os.Stat(filepath.Join("ingest", e.File)); err != nil {
			t.Errorf("%s: %v", e.File, err)
		}
		listed[e.File] = true
	}
	files, _ := filepath.Glob(filepath.Join("ingest", "*.json"))
	for _, f := range files {
		if b := filepath.Base(f); b != "manifest.json" && !listed[b] {
			t.Errorf("%s is not in the manifest", b)
		}
	}
}
