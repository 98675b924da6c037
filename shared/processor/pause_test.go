package processor_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/breaker"
	"github.com/tenaz/tenaz/shared/config"
	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/processor"
	"github.com/tenaz/tenaz/shared/route"
)

// A paused destination's record is deferred without an attempt, reason paused, for
// the deferral that grows with its receive count; nothing is claimed.
func TestPausedDestinationDefersWithoutAttempt(t *testing.T) {
	t.Parallel()
	s := newSim(t, 0, 200)
	operator := breaker.New(s.breakers, breaker.Settings{Now: s.clock.Now})
	if _, err := operator.Pause(context.Background(), "orders.internal"); err != nil {
		t.Fatal(err)
	}
	store := idempotency.NewMemoryStore()
	var (
		mu      sync.Mutex
		results []processor.Result
	)
	routes := &route.Registry{}
	routes.Add(route.Route{Source: "stripe", Dependency: "orders.internal", Handler: s.dest})
	s.procs = []*processor.Processor{processor.New(processor.Options{
		Runner: idempotency.NewRunner(store, idempotency.Settings{Now: s.clock.Now}),
		Router: routes, Visibility: s.main, DeadLetter: s.dlq, Now: s.clock.Now, Rand: fixedRand(0),
		Breakers: breaker.New(s.breakers, breaker.Settings{Now: s.clock.Now}),
		Observe:  func(r processor.Result) { mu.Lock(); results = append(results, r); mu.Unlock() },
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	})}
	s.send(1)
	// Receives 1, 2, 3, 4 defer for 1 s, 2 s, 4 s, 8 s.
	for _, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second} {
		s.poll()
		mu.Lock()
		rec := results[len(results)-1]
		mu.Unlock()
		if rec.Outcome != processor.Deferred || rec.Reason != processor.ReasonPaused || rec.Attempts != 0 || rec.Delay != want {
			t.Fatalf("result %+v, want deferred (paused) for %v", rec, want)
		}
		s.clock.Advance(want)
	}
	if len(s.dest.calls) != 0 || s.dlq.Snapshot().Total() != 0 {
		t.Fatalf("calls %d, dead letters %d: the record must wait, untouched", len(s.dest.calls), s.dlq.Snapshot().Total())
	}
	if _, err := store.Get(context.Background(), "stripe:evt_0", s.clock.Now()); !errors.Is(err, idempotency.ErrNotFound) {
		t.Fatalf("a record was claimed while the destination was paused: %v", err)
	}
}

// A destination paused for six hours, by an operator on a Breaker of its own (the
// pause tool), in the middle of an outage: it receives nothing, nothing is
// dead-lettered and no attempt is spent; once resumed, with the destination back up,
// every webhook is delivered exactly once, within DeferMax.
func TestPausedDestinationReceivesNothingUntilResumed(t *testing.T) {
	t.Parallel()
	const webhooks = 30
	s := newSim(t, 2, 200)
	operator := breaker.New(s.breakers, breaker.Settings{Now: s.clock.Now})
	ctx := context.Background()
	// The destination fails, its breaker opens, then the operator pauses it.
	s.dest.set(true)
	s.send(webhooks)
	s.run(2*time.Minute, 10*time.Second)
	if _, err := operator.Pause(ctx, "orders.internal"); err != nil {
		t.Fatal(err)
	}
	// Containers learn of the pause within the cache TTL (1 s), before the next step.
	s.clock.Advance(time.Second)
	paused := s.clock.Now()
	s.dest.set(false) // up again, but held
	s.run(6*time.Hour, 10*time.Second)
	if n := s.dest.callsBetween(paused, s.clock.Now()); n != 0 {
		t.Fatalf("a paused destination received %d calls", n)
	}
	if n := s.dlq.Snapshot().Total(); n != 0 {
		t.Fatalf("%d webhooks dead-lettered during the pause", n)
	}
	if snap := s.main.Snapshot(); snap.Total() != webhooks {
		t.Fatalf("queue %+v, want all %d webhooks waiting", snap, webhooks)
	}

	if _, err := operator.Resume(ctx, "orders.internal"); err != nil {
		t.Fatal(err)
	}
	resumed := s.clock.Now()
	s.run(config.DefaultDeferMax+time.Minute, 10*time.Second)
	for i := range webhooks {
		if n := s.dest.effects[fmt.Sprintf("stripe:evt_%d", i)]; n != 1 {
			t.Fatalf("evt_%d applied %d times, want 1", i, n)
		}
	}
	if n := s.dest.callsBetween(resumed, s.clock.Now()); n != webhooks {
		t.Fatalf("%d calls after the resume, want %d: one per webhook", n, webhooks)
	}
	if n := s.dlq.Snapshot().Total(); n != 0 {
		t.Fatalf("%d dead-lettered after the resume", n)
	}
	if snap := s.main.Snapshot(); snap.Total() != 0 {
		t.Fatalf("queue %+v after the resume, want empty", snap)
	}
	t.Logf("6 h pause: at most %d receives per message", s.maxReceives)
}

// A pause that outlasts the queue's retention dead-letters its records as expiring,
// saying they waited on a pause: in the DLQ for a replay, never silently deleted.
func TestPauseDeferralPastRetentionIsDeadLetteredAsExpiring(t *testing.T) {
	t.Parallel()
	h, b, _ := breakerHarness(t, processor.Settings{})
	fx := newEffects()
	h.route("stripe", fx)
	if _, err := b.Pause(context.Background(), "stripe"); err != nil {
		t.Fatal(err)
	}
	e := event("stripe", "evt_paused", "charge.succeeded")
	fresh := h.handle(sentAgo(t, h, "m1", e, 1, time.Hour))
	if r := h.result("m1"); !fresh["m1"] || r.Outcome != processor.Deferred || r.Reason != processor.ReasonPaused {
		t.Fatalf("fresh record: %+v, want deferred while paused", r)
	}
	failed := h.handle(sentAgo(t, h, "m2", e, 1, 4*24*time.Hour-10*time.Minute))
	assertExpiring(t, h, failed, "m2", processor.ReasonPaused)
	if calls, _ := fx.count(); calls != 0 {
		t.Fatal("a paused destination was called")
	}
}
