package processor_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/breaker"
	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/processor"
	"github.com/tenaz/tenaz/shared/queue"
	"github.com/tenaz/tenaz/shared/retry"
	"github.com/tenaz/tenaz/shared/route"
)

// fanHarness is a harness with breakers whose store the test can reach (to pause a
// destination), and three destinations a, b and c of source stripe, each its own
// dependency.
func fanHarness(t *testing.T, tune ...func(*harnessConfig)) (*harness, *breaker.MemoryStore, map[string]*effects) {
	t.Helper()
	bstore := breaker.NewMemoryStore()
	tune = append([]func(*harnessConfig){func(c *harnessConfig) {
		c.breakers = func(now func() time.Time) processor.Breakers {
			return breaker.New(bstore, breaker.Settings{Now: now})
		}
	}}, tune...)
	h := newHarness(t, tune...)
	fx := map[string]*effects{}
	for _, name := range []string{"a", "b", "c"} {
		fx[name] = newEffects()
		h.routes.Add(route.Route{Source: "stripe", Name: name, Dependency: name, Handler: fx[name]})
	}
	return h, bstore, fx
}

// calls returns how many times each destination was called and how many effects it
// applied for key.
func calls(fx map[string]*effects, key string) string {
	out := ""
	for _, name := range []string{"a", "b", "c"} {
		c, done := fx[name].count()
		out += fmt.Sprintf("%s=%d/%d ", name, c, done[key])
	}
	return out
}

// replayOf is the DLQ message dm sent back to the main queue as redrive does: its
// own attributes (the destinations it names among them), without the dead-letter
// ones.
func replayOf(t *testing.T, dm queue.Received, id string) queue.Received {
	t.Helper()
	attrs := map[string]string{}
	for k, v := range dm.Attributes {
		switch k {
		case envelope.AttrReason, envelope.AttrLastError, envelope.AttrAttempts, envelope.AttrFailedAt:
		default:
			attrs[k] = v
		}
	}
	return raw(id, dm.Body, attrs, 1)
}

func destState(t *testing.T, r processor.Result, name string) processor.DestinationResult {
	t.Helper()
	for _, d := range r.Destinations {
		if d.Name == name {
			return d
		}
	}
	t.Fatalf("result %+v has no destination %s", r, name)
	return processor.DestinationResult{}
}

// An event every route takes goes to each destination once; the last to answer is
// recorded by the completion, the others by a step each; a second copy calls none.
func TestFanOutDeliversToEveryDestinationOnce(t *testing.T) {
	t.Parallel()
	h, _, fx := fanHarness(t)
	e := event("stripe", "evt_1", "invoice.paid")
	if failed := h.handle(delivery(t, "m1", e, 1)); failed["m1"] {
		t.Fatal("m1 reported failed")
	}
	r := h.result("m1")
	if r.Outcome != processor.Processed || len(r.Destinations) != 3 {
		t.Fatalf("result %+v, want processed with 3 destinations", r)
	}
	if got := calls(fx, e.Key()); got != "a=1/1 b=1/1 c=1/1 " {
		t.Fatalf("calls %s", got)
	}
	rec := h.record(e.Key())
	if rec.Status != idempotency.StatusCompleted || len(rec.Steps) != 2 {
		t.Fatalf("record %+v: want completed with 2 destination steps (the last is the completion)", rec)
	}
	if ops := h.storeOps(); ops["claim"] != 1 || ops["saveStep"] != 2 || ops["complete"] != 1 {
		t.Fatalf("store ops %v, want 1 claim, 2 saveStep, 1 complete", ops)
	}
	h.handle(delivery(t, "m2", e, 1))
	if r := h.result("m2"); r.Outcome != processor.Duplicate {
		t.Fatalf("second copy: %+v, want duplicate", r)
	}
	if got := calls(fx, e.Key()); got != "a=1/1 b=1/1 c=1/1 " {
		t.Fatalf("calls after the duplicate %s", got)
	}
}

// A destination that fails is retried alone: the ones that took the event are not
// called again.
func TestFanOutRetriesOnlyTheFailedDestination(t *testing.T) {
	t.Parallel()
	h, _, fx := fanHarness(t)
	fx["b"].script = []error{errTransient, errTransient}
	e := event("stripe", "evt_2", "invoice.paid")
	for n := 1; n <= 3; n++ {
		h.handle(delivery(t, "m1", e, n))
		r := h.result("m1")
		want := processor.Retried
		if n == 3 {
			want = processor.Processed
		}
		if r.Outcome != want {
			t.Fatalf("receive %d: %+v, want %s", n, r, want)
		}
		if n < 3 {
			if d := destState(t, r, "b"); d.State != processor.DestFailed || !errors.Is(d.Err, errTransient) {
				t.Fatalf("receive %d: b %+v, want failed", n, d)
			}
			if d := destState(t, r, "a"); n > 1 && d.State != processor.DestDone {
				t.Fatalf("receive %d: a %+v, want done earlier", n, d)
			}
		}
	}
	if got := calls(fx, e.Key()); got != "a=1/1 b=3/1 c=1/1 " {
		t.Fatalf("calls %s", got)
	}
	if n := len(h.deadLetters()); n != 0 {
		t.Fatalf("%d dead letters, want 0", n)
	}
}

// A destination that refuses the event for good is dead-lettered with a copy naming
// it while the others take the event; a provider's second copy calls nobody; the
// replay of the dead letter, once the destination is fixed, calls only it.
func TestFanOutDeadLettersOnlyTheRefusingDestination(t *testing.T) {
	t.Parallel()
	h, _, fx := fanHarness(t)
	fx["c"].script = []error{retry.Permanent(errors.New("destination answered HTTP 400"))}
	e := event("stripe", "evt_3", "invoice.paid")
	if failed := h.handle(delivery(t, "m1", e, 1)); failed["m1"] {
		t.Fatal("m1 reported failed: it must be acknowledged, its failed part is in the DLQ")
	}
	r := h.result("m1")
	if r.Outcome != processor.DeadLettered || destState(t, r, "c").State != processor.DestDeadLettered {
		t.Fatalf("result %+v, want dead-lettered for c", r)
	}
	dls := h.deadLetters()
	if len(dls) != 1 {
		t.Fatalf("%d dead letters, want 1", len(dls))
	}
	dl := dls[0]
	if dl.Attributes[envelope.AttrDestinations] != "c" || dl.Attributes[envelope.AttrReason] != envelope.ReasonPermanent {
		t.Fatalf("dead letter attributes %v, want destinations=c, reason permanent", dl.Attributes)
	}
	contains(t, "lastError", dl.Attributes[envelope.AttrLastError], "c: ")
	contains(t, "lastError", dl.Attributes[envelope.AttrLastError], "HTTP 400")
	rec := h.record(e.Key())
	if _, ok := rec.Steps[processor.DeadStep("c")]; !ok || rec.Status == idempotency.StatusCompleted {
		t.Fatalf("record %+v: want c's dead letter recorded and the event not completed", rec)
	}
	if rec.DeadLetterReason == "" {
		t.Fatalf("record %+v: the dead letter is not marked for inspection", rec)
	}

	h.handle(delivery(t, "m2", e, 1)) // the provider sends the event again
	if r := h.result("m2"); r.Outcome != processor.Duplicate {
		t.Fatalf("provider's second copy: %+v, want duplicate", r)
	}
	if got := calls(fx, e.Key()); got != "a=1/1 b=1/1 c=1/0 " {
		t.Fatalf("calls after the second copy: %s", got)
	}
	if n := len(h.deadLetters()); n != 1 {
		t.Fatalf("%d dead letters after the second copy, want 1", n)
	}

	if failed := h.handle(replayOf(t, dl, "m3")); failed["m3"] {
		t.Fatal("replay reported failed")
	}
	if r := h.result("m3"); r.Outcome != processor.Processed || len(r.Destinations) != 1 {
		t.Fatalf("replay: %+v, want processed, c alone", r)
	}
	if got := calls(fx, e.Key()); got != "a=1/1 b=1/1 c=2/1 " {
		t.Fatalf("calls after the replay: %s", got)
	}
	if rec := h.record(e.Key()); rec.Status != idempotency.StatusCompleted {
		t.Fatalf("record after the replay %+v, want completed", rec)
	}
	h.handle(replayOf(t, dl, "m4")) // the replay delivered twice
	if r := h.result("m4"); r.Outcome != processor.Duplicate {
		t.Fatalf("second replay: %+v, want duplicate", r)
	}
}

// A paused destination holds only its part: the others take the event at once; the
// held part is tried again without spending attempts, and after the resume it
// takes the event once.
func TestFanOutHoldsAPausedDestinationAlone(t *testing.T) {
	t.Parallel()
	h, bstore, fx := fanHarness(t)
	op := breaker.New(bstore, breaker.Settings{Now: h.clock.Now})
	if _, err := op.Pause(context.Background(), "b"); err != nil {
		t.Fatal(err)
	}
	e := event("stripe", "evt_4", "invoice.paid")
	h.handle(delivery(t, "m1", e, 1))
	r := h.result("m1")
	if r.Outcome != processor.Deferred || r.Reason != processor.ReasonPaused || destState(t, r, "b").State != processor.DestHeld {
		t.Fatalf("result %+v, want deferred (paused) with b held", r)
	}
	if got := calls(fx, e.Key()); got != "a=1/1 b=0/0 c=1/1 " {
		t.Fatalf("calls %s", got)
	}
	claims := h.storeOps()["claim"]
	for n := 2; n <= 20; n++ {
		h.clock.Advance(h.result("m1").Delay)
		h.handle(delivery(t, "m1", e, n))
		if r := h.result("m1"); r.Outcome != processor.Deferred || r.Reason != processor.ReasonPaused {
			t.Fatalf("receive %d: %+v, want deferred (paused)", n, r)
		}
	}
	if got := h.storeOps()["claim"]; got != claims {
		t.Fatalf("%d claims while only the paused destination waited, want none", got-claims)
	}
	if _, err := op.Resume(context.Background(), "b"); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(2 * time.Second) // past the containers' breaker cache
	h.handle(delivery(t, "m1", e, 21))
	if r := h.result("m1"); r.Outcome != processor.Processed || r.Attempts != 2 {
		t.Fatalf("after the resume: %+v, want processed on the 2nd attempt", r)
	}
	if got := calls(fx, e.Key()); got != "a=1/1 b=1/1 c=1/1 " {
		t.Fatalf("calls %s", got)
	}
}

// A destination failing on every attempt is dead-lettered as exhausted, named, once
// the event's attempts are spent; the others took the event on the first.
func TestFanOutExhaustedDestinationIsNamed(t *testing.T) {
	t.Parallel()
	h, _, fx := fanHarness(t, func(c *harnessConfig) { c.settings.MaxAttempts = 3 })
	fx["a"].script = []error{errTransient, errTransient, errTransient, errTransient}
	e := event("stripe", "evt_5", "invoice.paid")
	for n := 1; n <= 3; n++ {
		h.handle(delivery(t, "m1", e, n))
	}
	r := h.result("m1")
	if r.Outcome != processor.DeadLettered || r.Attempts != 3 {
		t.Fatalf("result %+v, want dead-lettered after 3 attempts", r)
	}
	dls := h.deadLetters()
	if len(dls) != 1 || dls[0].Attributes[envelope.AttrDestinations] != "a" || dls[0].Attributes[envelope.AttrReason] != envelope.ReasonExhausted {
		t.Fatalf("dead letters %+v, want one naming a, exhausted", dls)
	}
	if got := calls(fx, e.Key()); got != "a=3/0 b=1/1 c=1/1 " {
		t.Fatalf("calls %s", got)
	}
}

// A destination whose handler panics fails alone.
func TestFanOutPanicFailsOneDestination(t *testing.T) {
	t.Parallel()
	h, _, fx := fanHarness(t)
	panicked := false
	fx["b"].before = func(context.Context, *envelope.Envelope, *idempotency.Attempt) {
		if !panicked {
			panicked = true
			panic("boom")
		}
	}
	e := event("stripe", "evt_6", "invoice.paid")
	h.handle(delivery(t, "m1", e, 1))
	if r := h.result("m1"); r.Outcome != processor.Retried || destState(t, r, "b").State != processor.DestFailed {
		t.Fatalf("result %+v, want retried with b failed", r)
	}
	h.handle(delivery(t, "m1", e, 2))
	if r := h.result("m1"); r.Outcome != processor.Processed {
		t.Fatalf("second receive %+v, want processed", r)
	}
	if got := calls(fx, e.Key()); got != "a=1/1 b=1/1 c=1/1 " {
		t.Fatalf("calls %s", got)
	}
}

// A delivery whose recording failed is retried, never dead-lettered: the store's
// refusal says nothing about the destination.
func TestFanOutDeliveryNotRecordedIsRetried(t *testing.T) {
	t.Parallel()
	h, _, fx := fanHarness(t, func(c *harnessConfig) { c.settings.MaxAttempts = 1 })
	fx["c"].script = []error{errTransient}
	h.failStore(func(op, _ string) error {
		if op == "saveStep" {
			return idempotency.ErrUnavailable
		}
		return nil
	})
	e := event("stripe", "evt_7", "invoice.paid")
	h.handle(delivery(t, "m1", e, 1))
	r := h.result("m1")
	for _, name := range []string{"a", "b"} {
		if d := destState(t, r, name); d.State != processor.DestFailed {
			t.Fatalf("%s: %+v, want failed (not recorded)", name, d)
		}
	}
	for _, dl := range h.deadLetters() {
		if dl.Attributes[envelope.AttrDestinations] != "c" {
			t.Fatalf("dead letter %v names a destination that took the event", dl.Attributes)
		}
	}
}

// A final route stops the fan-out: later routes do not take its events.
func TestFinalRouteStopsFanOut(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	first, later := newEffects(), newEffects()
	h.routes.Add(route.Route{Source: "stripe", Types: []string{"invoice.*"}, Name: "first", Handler: first, Final: true})
	h.routes.Add(route.Route{Source: "stripe", Name: "later", Handler: later})
	h.handle(delivery(t, "m1", event("stripe", "evt_8", "invoice.paid"), 1), delivery(t, "m2", event("stripe", "evt_9", "charge.refunded"), 1))
	if len(first.bodies) != 1 || len(later.bodies) != 1 || h.result("m1").Destinations != nil {
		t.Fatalf("first %d, later %d calls; want each 1, and no fan-out for one route", len(first.bodies), len(later.bodies))
	}
}

// Destinations that record steps of their own under the same step name keep them
// apart: a retry repeats neither.
func TestFanOutKeepsDestinationStepsApart(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	var mu sync.Mutex
	runs := map[string]int{}
	failOnce := map[string]bool{"x": true}
	mk := func(name string) route.Handler {
		return route.HandlerFunc(func(ctx context.Context, e *envelope.Envelope, a *idempotency.Attempt) ([]byte, error) {
			if _, err := a.Step(ctx, "crm", func(context.Context) ([]byte, error) {
				mu.Lock()
				runs[name]++
				mu.Unlock()
				return nil, nil
			}); err != nil {
				return nil, err
			}
			mu.Lock()
			defer mu.Unlock()
			if failOnce[name] {
				failOnce[name] = false
				return nil, errTransient
			}
			return nil, nil
		})
	}
	h.routes.Add(route.Route{Source: "stripe", Name: "x", Handler: mk("x")})
	h.routes.Add(route.Route{Source: "stripe", Name: "y", Handler: mk("y")})
	e := event("stripe", "evt_10", "invoice.paid")
	h.handle(delivery(t, "m1", e, 1))
	h.handle(delivery(t, "m1", e, 2))
	mu.Lock()
	defer mu.Unlock()
	if r := h.result("m1"); r.Outcome != processor.Processed || runs["x"] != 1 || runs["y"] != 1 {
		t.Fatalf("result %+v, step runs %v; want processed, each step once", r, runs)
	}
}

// A delivery that could not even be sent (a secret it signs with unreadable) says
// nothing about the destination: its breaker stays closed, and the event is retried
// and dead-lettered as exhausted, with its reason, like any transient failure.
func TestUnsentDeliveryLeavesTheBreakerAlone(t *testing.T) {
	t.Parallel()
	bstore := breaker.NewMemoryStore()
	h := newHarness(t, func(c *harnessConfig) {
		c.settings.MaxAttempts = 6
		c.breakers = func(now func() time.Time) processor.Breakers { return breaker.New(bstore, breaker.Settings{Now: now}) }
	})
	unsent := newEffects()
	for range 6 {
		unsent.script = append(unsent.script, retry.Unsent(errors.New("secret ssm:/tenaz/prod/deliveries/orders-signing unreadable")))
	}
	h.routes.Add(route.Route{Source: "stripe", Dependency: "orders.internal", Handler: unsent})
	e := event("stripe", "evt_unsent", "invoice.paid")
	for n := 1; n <= 6; n++ {
		h.handle(delivery(t, "m1", e, n))
		if r := h.result("m1"); n < 6 && (r.Outcome != processor.Retried || r.Reason != "") {
			t.Fatalf("receive %d: %+v, want retried (not held by a breaker)", n, r)
		}
	}
	if r := h.result("m1"); r.Outcome != processor.DeadLettered || r.Reason != envelope.ReasonExhausted {
		t.Fatalf("after 6 attempts: %+v, want dead-lettered as exhausted", r)
	}
	st, err := breaker.New(bstore, breaker.Settings{Now: h.clock.Now}).State(context.Background(), "orders.internal")
	if err != nil || st.State != breaker.Closed || st.Failures != 0 {
		t.Fatalf("breaker %+v (%v), want closed with no failures", st, err)
	}
}
