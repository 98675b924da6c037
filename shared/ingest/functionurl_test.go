package ingest

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/tenaz/tenaz/shared/internal/samples"
	"github.com/tenaz/tenaz/shared/queue"
)

// A Lambda Function URL request carries the same payload as the HTTP API but no
// route: the source comes from rawPath, and any other path is 404 with nothing
// enqueued.
func TestFunctionURLTakesTheSourceFromThePath(t *testing.T) {
	t.Parallel()
	var stripe samples.Sample
	for _, s := range samples.Load(t) {
		if s.File == "stripe.json" {
			stripe = s
		}
	}
	if stripe.File == "" {
		t.Fatal("no stripe.json sample")
	}
	cases := []struct {
		path   string
		status int
		queued int
	}{
		{"/webhooks/stripe", 202, 1},
		{"/webhooks/stripe/", 202, 1},
		{"/webhooks/github", 401, 0}, // a known source whose scheme the Stripe signature fails
		{"/webhooks/nosuch", 404, 0},
		{"/webhooks/", 404, 0},
		{"/webhooks/stripe/extra", 404, 0},
		{"/", 404, 0},
		{"/hooks/stripe", 404, 0},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			t.Parallel()
			q := queue.NewMemory(queue.MemoryConfig{Name: "webhooks"})
			ev := stripe.Event
			ev.PathParameters = nil
			ev.RouteKey = "$default"
			ev.RawPath = c.path
			resp, err := newService(t, q, samples.SignedAt).HandleAPIGateway(context.Background(), ev)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != c.status {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, resp.Body, c.status)
			}
			var body map[string]string
			if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
				t.Fatalf("body %q is not JSON: %v", resp.Body, err)
			}
			if c.status >= 400 && body["error"] == "" {
				t.Fatalf("refusal without an error: %s", resp.Body)
			}
			if got := len(drain(t, q)); got != c.queued {
				t.Fatalf("%d messages queued, want %d", got, c.queued)
			}
		})
	}
}
