package processor_test

import (
	"encoding/json"
	"testing"

	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/processor"
	"github.com/tenaz/tenaz/shared/route"
)

func filter(t *testing.T, spec string) *route.Filter {
	t.Helper()
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(spec), &raw); err != nil {
		t.Fatal(err)
	}
	f, err := route.ParseFilter(raw)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// A final route with a content filter takes only the events whose body matches; the
// next route, or unrouted, takes the others. A stored body is read once for the filter
// and the attempt together.
func TestContentFilterRoutes(t *testing.T) {
	t.Parallel()
	store := newBodies()
	h := bodyHarness(t, store)
	big, small := newEffects(), newEffects()
	h.routes.Add(route.Route{Source: "stripe", Dependency: "big", Handler: big, Final: true, Filter: filter(t, `{"data.amount": {"anyOf": [2000]}, "type": {"pattern": "invoice.*"}}`)})
	h.routes.Add(route.Route{Source: "stripe", Types: []string{"invoice.*"}, Dependency: "small", Handler: small})

	stored, _ := storedEvent(t, store, "stripe", "evt_big", "invoice.paid")
	other := event("stripe", "evt_other", "charge.refunded")
	if failed := h.handle(delivery(t, "m1", stored, 1), delivery(t, "m2", other, 1)); failed["m1"] || failed["m2"] {
		t.Fatalf("failed: %v", failed)
	}
	if r := h.result("m1"); r.Outcome != processor.Processed || len(big.bodies) != 1 || len(small.bodies) != 0 {
		t.Fatalf("filtered event: %+v; big %d, small %d calls", r, len(big.bodies), len(small.bodies))
	}
	if gets, _ := store.counts(); gets != 1 {
		t.Fatalf("%d GETs for the filter and the attempt, want 1", gets)
	}
	if r := h.result("m2"); r.Outcome != processor.Unrouted {
		t.Fatalf("an event neither route takes: %+v, want unrouted", r)
	}

	e := event("stripe", "evt_small", "invoice.paid")
	e.Body = []byte(`{"data":{"amount":5}}`)
	if failed := h.handle(delivery(t, "m3", e, 1)); failed["m3"] {
		t.Fatal("m3 failed")
	}
	if len(small.bodies) != 1 {
		t.Fatalf("the unfiltered route did not take the event the filter refused (big %d, small %d)", len(big.bodies), len(small.bodies))
	}
}

// A filtered route whose event's stored body is gone dead-letters it as bodyMissing,
// without calling any handler.
func TestContentFilterMissingStoredBody(t *testing.T) {
	t.Parallel()
	store := newBodies()
	h := bodyHarness(t, store)
	fx := newEffects()
	h.routes.Add(route.Route{Source: "stripe", Dependency: "d", Handler: fx, Filter: filter(t, `{"id": {"exists": true}}`)})
	stored, _ := storedEvent(t, nil, "stripe", "evt_gone", "invoice.paid")
	h.handle(delivery(t, "m1", stored, 1))
	if r := h.result("m1"); r.Outcome != processor.DeadLettered || r.Reason != envelope.ReasonBodyMissing || len(fx.bodies) != 0 {
		t.Fatalf("result %+v, %d calls; want dead-lettered as %s, no call", r, len(fx.bodies), envelope.ReasonBodyMissing)
	}
}
