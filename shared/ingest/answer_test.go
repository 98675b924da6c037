package ingest

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/internal/samples"
	"github.com/tenaz/tenaz/shared/queue"
)

// The answer to an accepted webhook is the JSON encoding/json writes for {"id": id},
// whatever the id holds.
func TestAcceptedBodyIsEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"evt_1", "", "a\"b", `back\slash`, "<script>&", "\x00\x1f\x7f", "ação", "\xff", "\u2028"} {
		want, _ := json.Marshal(map[string]string{"id": id})
		if got := acceptedBody(id); got != string(want) {
			t.Errorf("acceptedBody(%q) = %s, want %s", id, got, want)
		}
	}
}

// Handle, HandleAPIGateway and an observer all see the same answer to an accepted
// webhook.
func TestAcceptedAnswerEverywhere(t *testing.T) {
	t.Parallel()
	var stripe samples.Sample
	for _, s := range samples.Load(t) {
		if s.File == "stripe.json" {
			stripe = s
		}
	}
	var observed []byte
	svc := New(Options{Sources: samples.Sources(t), Queue: queue.NewMemory(queue.MemoryConfig{}), Now: func() time.Time { return samples.SignedAt }, Log: quiet(),
		Observe: func(r Result) { observed = r.Body }})
	want := `{"id":"` + stripe.ID + `"}`
	resp, _ := svc.HandleAPIGateway(context.Background(), stripe.Event)
	if resp.StatusCode != http.StatusAccepted || resp.Body != want || string(observed) != want {
		t.Fatalf("API Gateway answered %d %s, observer saw %s; want %s", resp.StatusCode, resp.Body, observed, want)
	}
	res := svc.Handle(context.Background(), Request{Method: http.MethodPost, Source: "stripe", Headers: stripe.Event.Headers, Body: []byte(stripe.Event.Body)})
	if res.Status != http.StatusAccepted || string(res.Body) != want {
		t.Fatalf("Handle answered %d %s, want %s", res.Status, res.Body, want)
	}
}
