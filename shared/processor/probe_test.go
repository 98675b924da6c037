package processor_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/breaker"
	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/processor"
	"github.com/tenaz/tenaz/shared/route"
)

// breakerHarness is a harness whose routes are guarded by a real breaker on a memory
// store it returns.
func breakerHarness(t *testing.T, settings processor.Settings) (*harness, *breaker.Breaker, *breaker.MemoryStore) {
	t.Helper()
	store := breaker.NewMemoryStore()
	var b *breaker.Breaker
	h := newHarness(t, func(c *harnessConfig) {
		c.settings = settings
		c.breakers = func(now func() time.Time) processor.Breakers {
			b = breaker.New(store, breaker.Settings{Now: now})
			return b
		}
	})
	return h, b, store
}

// trip opens the breaker of dependency with the threshold's failures.
func trip(t *testing.T, b *breaker.Breaker, dependency string) {
	t.Helper()
	for range breaker.DefaultFailureThreshold {
		tk, err := b.Allow(context.Background(), dependency)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Report(context.Background(), tk, false); err != nil {
			t.Fatal(err)
		}
	}
}

// A probe lease won by a duplicate (which calls nothing) is handed on at once: the
// next record probes the destination in the same second instead of waiting out the
// 30 s lease, and its success closes the breaker.
func TestDuplicateHandsTheProbeOn(t *testing.T) {
	t.Parallel()
	h, b, store := breakerHarness(t, processor.Settings{})
	fx := newEffects()
	h.route("stripe", fx)
	first := event("stripe", "evt_1", "payment_intent.succeeded")
	if failed := h.handle(delivery(t, "m1", first, 1)); len(failed) != 0 {
		t.Fatalf("first delivery failed: %v", failed)
	}
	trip(t, b, "stripe")
	h.clock.Advance(breaker.DefaultOpenFor + time.Second)

	if failed := h.handle(delivery(t, "m1-again", first, 1)); len(failed) != 0 {
		t.Fatalf("duplicate failed: %v", failed)
	}
	if r := h.result("m1-again"); r.Outcome != processor.Duplicate {
		t.Fatalf("duplicate: %+v", r)
	}
	rec, err := store.Load(context.Background(), "stripe")
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != breaker.HalfOpen || rec.ProbeUntil.After(h.clock.Now()) {
		t.Fatalf("after a duplicate took the probe: %+v; want its lease ended at %v", rec, h.clock.Now())
	}
	if failed := h.handle(delivery(t, "m2", event("stripe", "evt_2", "payment_intent.succeeded"), 1)); len(failed) != 0 {
		t.Fatalf("the next record was not let through: %v (%+v)", failed, h.result("m2"))
	}
	if r := h.result("m2"); r.Outcome != processor.Processed {
		t.Fatalf("next record: %+v", r)
	}
	if rec, _ := store.Load(context.Background(), "stripe"); rec.State != breaker.Closed {
		t.Fatalf("the probe's success did not close the breaker: %+v", rec)
	}
	if calls, done := fx.count(); calls != 2 || done["stripe:evt_1"] != 1 || done["stripe:evt_2"] != 1 {
		t.Fatalf("destination calls %d, effects %v", calls, done)
	}
}

// A record that alone keeps failing its probes gets its attempts back only while its
// receive count is below RefundMaxReceives; past it, failed probes are attempts, and
// it is dead-lettered as exhausted, with its reason, long before maxReceiveCount.
func TestFailedProbeRefundsAreBounded(t *testing.T) {
	t.Parallel()
	h, b, _ := breakerHarness(t, processor.Settings{MaxAttempts: 2, RefundMaxReceives: 150})
	stubborn := route.HandlerFunc(func(context.Context, *envelope.Envelope, *idempotency.Attempt) ([]byte, error) {
		return nil, errors.New("HTTP 503 Service Unavailable")
	})
	h.route("stripe", stubborn)
	e := event("stripe", "evt_stubborn", "payment_intent.succeeded")
	trip(t, b, "stripe")

	probe := func(id string, receives int) processor.Result {
		t.Helper()
		h.clock.Advance(breaker.DefaultOpenFor + time.Second)
		if failed := h.handle(delivery(t, id, e, receives)); !failed[id] && h.result(id).Outcome != processor.DeadLettered {
			t.Fatalf("%s: acknowledged without being dead-lettered: %+v", id, h.result(id))
		}
		return h.result(id)
	}
	for i, n := range []int{10, 60, 149} {
		r := probe("below-"+string(rune('a'+i)), n)
		if r.Outcome != processor.Deferred || r.Reason != processor.ReasonProbeFailed {
			t.Fatalf("receive %d: %+v, want deferred after a failed probe", n, r)
		}
		if a := h.record("stripe:evt_stubborn").Attempts; a != 0 {
			t.Fatalf("receive %d: %d attempts kept, want them given back", n, a)
		}
	}
	r := probe("at-limit", 150)
	if r.Outcome != processor.Deferred || h.record("stripe:evt_stubborn").Attempts != 1 {
		t.Fatalf("receive 150: %+v, attempts %d; want deferred with the attempt kept", r, h.record("stripe:evt_stubborn").Attempts)
	}
	r = probe("past-limit", 151)
	if r.Outcome != processor.DeadLettered || r.Reason != envelope.ReasonExhausted {
		t.Fatalf("receive 151: %+v, want dead-lettered as exhausted", r)
	}
	dl := h.deadLetters()
	if len(dl) != 1 || dl[0].Attributes["deadLetterReason"] != envelope.ReasonExhausted {
		t.Fatalf("dead letters %+v", dl)
	}
}

// At the default level a record deferred by an open breaker logs nothing (the
// transition is logged once, by the breaker's telemetry); a failed probe, which is a
// real call, logs its line.
func TestOpenBreakerDeferralsLogAtDebug(t *testing.T) {
	t.Parallel()
	var b *breaker.Breaker
	h := newHarness(t, func(c *harnessConfig) {
		c.level = slog.LevelInfo
		c.breakers = func(now func() time.Time) processor.Breakers {
			b = breaker.New(breaker.NewMemoryStore(), breaker.Settings{Now: now})
			return b
		}
	})
	h.route("stripe", route.HandlerFunc(func(context.Context, *envelope.Envelope, *idempotency.Attempt) ([]byte, error) {
		return nil, errors.New("HTTP 503 Service Unavailable")
	}))
	trip(t, b, "stripe")
	e := event("stripe", "evt_1", "payment_intent.succeeded")
	h.handle(delivery(t, "m1", e, 1))
	if r := h.result("m1"); r.Outcome != processor.Deferred || r.Reason != processor.ReasonBreakerOpen {
		t.Fatalf("result %+v, want deferred by the open breaker", r)
	}
	if lines := h.logLines(); len(lines) != 0 {
		t.Fatalf("a deferral logged %v at info level", lines)
	}
	h.clock.Advance(breaker.DefaultOpenFor + time.Second)
	h.handle(delivery(t, "m1-probe", e, 2))
	if r := h.result("m1-probe"); r.Reason != processor.ReasonProbeFailed {
		t.Fatalf("result %+v, want a failed probe", r)
	}
	if lines := h.logLines(); len(lines) != 1 || lines[0]["level"] != "INFO" {
		t.Fatalf("failed probe logged %v, want one INFO line", lines)
	}
}
