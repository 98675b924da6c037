package processor_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/processor"
	"github.com/tenaz/tenaz/shared/queue"
	"github.com/tenaz/tenaz/shared/ratelimit"
	"github.com/tenaz/tenaz/shared/route"
)

// countingLimiter is a ratelimit.Limiter whose takes are counted; while err is set,
// every take fails with it.
type countingLimiter struct {
	l     *ratelimit.Limiter
	takes atomic.Int64
	err   error
}

func (c *countingLimiter) Take(ctx context.Context, name string, perSecond int) (ratelimit.Decision, error) {
	c.takes.Add(1)
	if c.err != nil {
		return ratelimit.Decision{}, c.err
	}
	return c.l.Take(ctx, name, perSecond)
}

func rateHarness(t *testing.T) (*harness, *countingLimiter) {
	t.Helper()
	lim := &countingLimiter{}
	h := newHarness(t, func(c *harnessConfig) {
		c.settings.Concurrency = 1
		c.limiter = lim
	})
	lim.l = ratelimit.New(ratelimit.NewMemory(), ratelimit.Settings{Now: h.clock.Now})
	return h, lim
}

// A route capped at 2 deliveries a second takes 2 of a batch of 5; the other 3 are
// deferred (rateLimited) without a claim, and each is delivered once in a later
// second. Nothing is dead-lettered for the rate.
func TestRateLimitDefersTheExcess(t *testing.T) {
	t.Parallel()
	h, _ := rateHarness(t)
	fx := newEffects()
	h.routes.Add(route.Route{Source: "stripe", Dependency: "orders.internal", RatePerSecond: 2, Handler: fx})
	var msgs []queue.Received
	for i := range 5 {
		msgs = append(msgs, delivery(t, fmt.Sprintf("m%d", i), event("stripe", fmt.Sprintf("evt_%d", i), "invoice.paid"), 1))
	}
	h.handle(msgs...)
	processed, limited := 0, 0
	for i := range 5 {
		switch r := h.result(fmt.Sprintf("m%d", i)); {
		case r.Outcome == processor.Processed:
			processed++
		case r.Outcome == processor.Deferred && r.Reason == processor.ReasonRateLimited && r.Attempts == 0 && r.Delay >= time.Second:
			limited++
		default:
			t.Fatalf("m%d: %+v", i, r)
		}
	}
	if processed != 2 || limited != 3 || h.storeOps()["claim"] != 2 {
		t.Fatalf("processed %d, rate limited %d, claims %d; want 2, 3, 2", processed, limited, h.storeOps()["claim"])
	}
	for n := 2; n <= 10 && len(fx.bodies) < 5; n++ {
		h.clock.Advance(time.Second)
		var again []queue.Received
		for i := range 5 {
			id := fmt.Sprintf("m%d", i)
			if h.result(id).Outcome == processor.Deferred {
				again = append(again, delivery(t, id, event("stripe", fmt.Sprintf("evt_%d", i), "invoice.paid"), n))
			}
		}
		h.handle(again...)
	}
	_, done := fx.count()
	for i := range 5 {
		if done[fmt.Sprintf("stripe:evt_%d", i)] != 1 {
			t.Fatalf("effects %v, want each event once", done)
		}
	}
	if n := len(h.deadLetters()); n != 0 {
		t.Fatalf("%d dead letters for a rate limit", n)
	}
}

// A route without a rate never asks the limiter: the happy path costs what it did.
func TestUnlimitedRouteNeverAsksTheLimiter(t *testing.T) {
	t.Parallel()
	h, lim := rateHarness(t)
	h.route("stripe", newEffects())
	for i := range 5 {
		h.handle(delivery(t, fmt.Sprintf("m%d", i), event("stripe", fmt.Sprintf("evt_%d", i), "invoice.paid"), 1))
	}
	if n := lim.takes.Load(); n != 0 {
		t.Fatalf("%d limiter takes for an unlimited route", n)
	}
}

// A limiter that cannot answer holds the record for a second; it never fails it.
func TestRateLimiterOutageDefers(t *testing.T) {
	t.Parallel()
	h, lim := rateHarness(t)
	lim.err = fmt.Errorf("throttled: %w", ratelimit.ErrUnavailable)
	fx := newEffects()
	h.routes.Add(route.Route{Source: "stripe", Dependency: "orders.internal", RatePerSecond: 10, Handler: fx})
	h.handle(delivery(t, "m1", event("stripe", "evt_1", "invoice.paid"), 1))
	if r := h.result("m1"); r.Outcome != processor.Deferred || r.Reason != processor.ReasonRateLimited || len(fx.bodies) != 0 {
		t.Fatalf("result %+v, %d calls; want deferred, no call", r, len(fx.bodies))
	}
	lim.err = nil
	h.clock.Advance(time.Second)
	h.handle(delivery(t, "m1", event("stripe", "evt_1", "invoice.paid"), 2))
	if r := h.result("m1"); r.Outcome != processor.Processed {
		t.Fatalf("after the outage: %+v", r)
	}
	if errors.Is(h.result("m1").Err, ratelimit.ErrUnavailable) {
		t.Fatal("the limiter's error reached the record")
	}
}

// In a fan-out, a destination over its rate waits alone: the others take the event.
func TestFanOutRateLimitsOneDestination(t *testing.T) {
	t.Parallel()
	h, _ := rateHarness(t)
	limited, free := newEffects(), newEffects()
	h.routes.Add(route.Route{Source: "stripe", Name: "limited", Dependency: "slow.internal", RatePerSecond: 1, Handler: limited})
	h.routes.Add(route.Route{Source: "stripe", Name: "free", Dependency: "fast.internal", Handler: free})
	h.handle(delivery(t, "m1", event("stripe", "evt_1", "invoice.paid"), 1), delivery(t, "m2", event("stripe", "evt_2", "invoice.paid"), 1))
	r := h.result("m2")
	if r.Outcome != processor.Deferred || r.Reason != processor.ReasonRateLimited || destState(t, r, "free").State != processor.DestDelivered {
		t.Fatalf("second event: %+v, want free delivered and limited held", r)
	}
	h.clock.Advance(time.Second)
	h.handle(delivery(t, "m2", event("stripe", "evt_2", "invoice.paid"), 2))
	if r := h.result("m2"); r.Outcome != processor.Processed || len(limited.bodies) != 2 || len(free.bodies) != 2 {
		t.Fatalf("second event after a second: %+v; limited %d, free %d calls; want processed, 2 and 2", r, len(limited.bodies), len(free.bodies))
	}
}
