// Package samples loads the API Gateway sample events under events/ingest, their
// manifest and the test sources, for tests at every level (unit, end to end).
package samples

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tenaz/tenaz/shared/webhook"
)

// SignedAt is when the samples were signed (infra/genevents).
var SignedAt = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// Sample is one sample event with what ingest must answer.
type Sample struct {
	File   string `json:"file"`
	Source string `json:"source"`
	Status int    `json:"status"`
	ID     string `json:"id"`
	Type   string `json:"type"`
	Resign bool   `json:"resign"`
	Note   string `json:"note"`
	Event  events.APIGatewayV2HTTPRequest
}

// Dir is the repository's events directory.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "events")
}

// SourcesJSON is the raw test sources configuration (events/sources.json).
func SourcesJSON(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(Dir(), "sources.json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Sources parses the test sources.
func Sources(t testing.TB) webhook.Sources {
	t.Helper()
	s, err := webhook.ParseSources(SourcesJSON(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Load returns every sample in manifest order.
func Load(t testing.TB) []Sample {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(Dir(), "ingest", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var list []Sample
	if err := json.Unmarshal(raw, &list); err != nil {
		t.Fatal(err)
	}
	for i := range list {
		b, err := os.ReadFile(filepath.Join(Dir(), "ingest", list[i].File))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &list[i].Event); err != nil {
			t.Fatalf("%s: %v", list[i].File, err)
		}
	}
	return list
}

// AtNow returns the sample's event made valid for a real clock: a sample whose scheme
// signs a timestamp is signed again at now with the same secret; others are returned
// as they are.
func (s Sample) AtNow(t testing.TB, sources webhook.Sources, now time.Time) events.APIGatewayV2HTTPRequest {
	t.Helper()
	ev := s.Event
	if !s.Resign {
		return ev
	}
	src, ok := sources[s.Source]
	if !ok {
		t.Fatalf("%s: no source %q", s.File, s.Source)
	}
	h := make(map[string]string, len(ev.Headers))
	for k, v := range ev.Headers {
		h[k] = v
	}
	body, err := src.SignBody(h, []byte(ev.Body), now)
	if err != nil {
		t.Fatal(err)
	}
	ev.Headers, ev.Body = h, string(body)
	return ev
}
