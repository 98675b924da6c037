package processor_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/breaker"
	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/esm"
	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/internal/testclock"
	"github.com/tenaz/tenaz/shared/processor"
	"github.com/tenaz/tenaz/shared/queue"
	"github.com/tenaz/tenaz/shared/retry"
	"github.com/tenaz/tenaz/shared/route"
)

// outage is a destination that is down (transient errors) or up (applies each key
// once), with its call log on the simulation clock.
type outage struct {
	mu      sync.Mutex
	down    bool
	calls   []time.Time
	effects map[string]int
	now     func() time.Time
}

func (o *outage) Handle(_ context.Context, e *envelope.Envelope, _ *idempotency.Attempt) ([]byte, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls = append(o.calls, o.now())
	if o.down {
		return nil, errors.New("HTTP 503 Service Unavailable")
	}
	o.effects[e.Key()]++
	return nil, nil
}

func (o *outage) set(down bool) { o.mu.Lock(); o.down = down; o.mu.Unlock() }

func (o *outage) callsBetween(from, to time.Time) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, c := range o.calls {
		if !c.Before(from) && c.Before(to) {
			n++
		}
	}
	return n
}

// sim is the processor on in-memory SQS, DynamoDB-semantics stores and a shared
// breaker store, driven by a fake clock: what the event source mapping would do,
// step by step.
type sim struct {
	t           *testing.T
	clock       *testclock.Clock
	main, dlq   *queue.Memory
	dest        *outage
	procs       []*processor.Processor
	transitions []breaker.Transition
	mu          sync.Mutex
	maxReceives int
	breakers    *breaker.MemoryStore // the store every container's Breaker shares
}

func newSim(t *testing.T, containers int, maxReceiveCount int) *sim {
	t.Helper()
	s := &sim{t: t, clock: newClock()}
	s.dest = &outage{effects: map[string]int{}, now: s.clock.Now}
	s.dlq = queue.NewMemory(queue.MemoryConfig{Name: "dlq", Now: s.clock.Now})
	s.main = queue.NewMemory(queue.MemoryConfig{Name: "main", VisibilityTimeout: 180 * time.Second,
		MaxReceiveCount: maxReceiveCount, DeadLetter: s.dlq, Retention: 4 * 24 * time.Hour, Now: s.clock.Now})
	store := idempotency.NewMemoryStore()
	breakers := breaker.NewMemoryStore()
	s.breakers = breakers
	routes := &route.Registry{}
	routes.Add(route.Route{Source: "stripe", Dependency: "orders.internal", Handler: s.dest})
	rnd := rand.New(rand.NewPCG(1, 2))
	var rmu sync.Mutex
	jitter := func() float64 { rmu.Lock(); defer rmu.Unlock(); return rnd.Float64() }
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for i := 0; i < containers; i++ {
		// Each container has its own Breaker (its own cache) on the shared store.
		b := breaker.New(breakers, breaker.Settings{Now: s.clock.Now, OnTransition: func(tr breaker.Transition) {
			s.mu.Lock()
			s.transitions = append(s.transitions, tr)
			s.mu.Unlock()
		}})
		s.procs = append(s.procs, processor.New(processor.Options{
			Runner:     idempotency.NewRunner(store, idempotency.Settings{Now: s.clock.Now}),
			Router:     routes,
			Visibility: s.main,
			DeadLetter: s.dlq,
			Breakers:   b,
			Attempts:   store,
			Settings:   processor.Settings{}, // the defaults are what is being checked
			Now:        s.clock.Now,
			Rand:       jitter,
			Log:        quiet,
		}))
	}
	return s
}

func (s *sim) send(n int) {
	s.t.Helper()
	for i := 0; i < n; i++ {
		e := event("stripe", fmt.Sprintf("evt_%d", i), "payment_intent.succeeded")
		body, err := envelope.Encode(e)
		if err != nil {
			s.t.Fatal(err)
		}
		if _, err := s.main.Send(context.Background(), queue.Message{Body: string(body), Attributes: e.Attributes()}); err != nil {
			s.t.Fatal(err)
		}
	}
}

// poll delivers every visible message in batches of 10, the containers taking
// batches in turn and running concurrently, as Lambda would.
func (s *sim) poll() {
	s.t.Helper()
	for {
		var batches [][]queue.Received
		for range s.procs {
			msgs, err := s.main.Receive(context.Background(), 10, 0, 0)
			if err != nil {
				s.t.Fatal(err)
			}
			if len(msgs) == 0 {
				break
			}
			for _, m := range msgs {
				s.maxReceives = max(s.maxReceives, m.ReceiveCount)
			}
			batches = append(batches, msgs)
		}
		if len(batches) == 0 {
			return
		}
		var wg sync.WaitGroup
		for i, msgs := range batches {
			wg.Add(1)
			go func(p *processor.Processor, msgs []queue.Received) {
				defer wg.Done()
				ctx, cancel := context.WithDeadline(context.Background(), s.clock.Now().Add(30*time.Second))
				defer cancel()
				resp, err := p.Handle(ctx, esm.Event(msgs, "arn:aws:sqs:us-east-1:000000000000:main"))
				if err != nil {
					s.t.Error(err)
					return
				}
				failed := map[string]bool{}
				for _, f := range resp.BatchItemFailures {
					failed[f.ItemIdentifier] = true
				}
				for _, m := range msgs {
					if !failed[m.ID] {
						if err := s.main.Delete(context.Background(), m.ReceiptHandle); err != nil {
							s.t.Error(err)
						}
					}
				}
			}(s.procs[i], msgs)
		}
		wg.Wait()
	}
}

// run advances the clock by step until d has passed, polling at each step.
func (s *sim) run(d, step time.Duration) {
	for end := s.clock.Now().Add(d); s.clock.Now().Before(end); s.clock.Advance(step) {
		s.poll()
	}
}

// A 24-hour total outage of the destination, with the defaults (threshold 5, window
// 30 s, open 60 s, deferrals up to 15 min, 8 attempts, maxReceiveCount 200):
// nothing is dead-lettered, the destination sees a handful of calls then one probe
// per open period, and after recovery every webhook is delivered exactly once.
func TestOutageOf24HoursDeadLettersNothing(t *testing.T) {
	const webhooks = 40
	s := newSim(t, 2, 200)
	s.dest.set(true)
	start := s.clock.Now()
	s.send(webhooks)
	s.run(24*time.Hour, 10*time.Second)

	if n := s.dlq.Snapshot().Total(); n != 0 {
		t.Fatalf("%d webhooks dead-lettered during the outage", n)
	}
	total := s.dest.callsBetween(start, s.clock.Now())
	// After the trip only probes reach it: at most one per open period (60 s) plus the
	// calls that opened it and those of containers that had not yet seen the trip.
	if maxCalls := 24*60 + 2*breaker.DefaultFailureThreshold; total > maxCalls {
		t.Fatalf("%d calls reached the destination in 24 h; want at most %d", total, maxCalls)
	}
	// Between probes nothing else gets through: in any minute after the first, at most
	// one call.
	for m := 5; m < 24*60; m += 97 {
		from := start.Add(time.Duration(m) * time.Minute)
		if n := s.dest.callsBetween(from, from.Add(time.Minute)); n > 1 {
			t.Fatalf("%d calls within the minute from %v; want at most one probe", n, from.Sub(start))
		}
	}

	s.dest.set(false)
	s.run(30*time.Minute, 10*time.Second)
	if d := s.main.Snapshot().Total(); d != 0 {
		t.Fatalf("%d webhooks still queued 30 min after recovery", d)
	}
	for i := 0; i < webhooks; i++ {
		if n := s.dest.effects[fmt.Sprintf("stripe:evt_%d", i)]; n != 1 {
			t.Fatalf("evt_%d applied %d times, want 1", i, n)
		}
	}
	if n := s.dlq.Snapshot().Total(); n != 0 {
		t.Fatalf("%d dead-lettered after recovery", n)
	}
	t.Logf("24 h outage: %d calls reached the destination, at most %d receives per message (maxReceiveCount 200), %d breaker transitions",
		total, s.maxReceives, len(s.transitions))
	if s.maxReceives >= 200 {
		t.Fatalf("a message was received %d times: too close to maxReceiveCount", s.maxReceives)
	}
}

// While the breaker is open, records are deferred until the probe time without an
// attempt: no claim is made, no call reaches the destination.
func TestOpenBreakerDefersWithoutAttempt(t *testing.T) {
	t.Parallel()
	s := newSim(t, 0, 200)
	store := idempotency.NewMemoryStore()
	var rec processor.Result
	routes := &route.Registry{}
	routes.Add(route.Route{Source: "stripe", Dependency: "orders.internal", Handler: s.dest})
	s.procs = []*processor.Processor{processor.New(processor.Options{
		Runner: idempotency.NewRunner(store, idempotency.Settings{Now: s.clock.Now}),
		Router: routes, Visibility: s.main, DeadLetter: s.dlq, Now: s.clock.Now, Rand: fixedRand(0.5),
		Breakers: openBreaker{retryAt: s.clock.Now().Add(58 * time.Second)},
		Observe:  func(r processor.Result) { rec = r },
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	})}
	s.send(1)
	s.poll()
	if rec.Outcome != processor.Deferred || rec.Reason != processor.ReasonBreakerOpen || rec.Attempts != 0 {
		t.Fatalf("result %+v", rec)
	}
	if rec.Delay != 58*time.Second {
		t.Fatalf("deferred %v, want until the probe time (58 s)", rec.Delay)
	}
	if len(s.dest.calls) != 0 || s.main.Snapshot().InFlight != 1 {
		t.Fatalf("calls %d, in flight %d: the record must wait, untouched", len(s.dest.calls), s.main.Snapshot().InFlight)
	}
	if _, err := store.Get(context.Background(), "stripe:evt_0", s.clock.Now()); !errors.Is(err, idempotency.ErrNotFound) {
		t.Fatalf("a record was claimed while the breaker was open: %v", err)
	}
}

type openBreaker struct{ retryAt time.Time }

func (b openBreaker) Allow(_ context.Context, name string) (breaker.Ticket, error) {
	return breaker.Ticket{}, &breaker.OpenError{Name: name, State: breaker.Open, RetryAt: b.retryAt}
}

func (openBreaker) Report(context.Context, breaker.Ticket, bool) error { return nil }

func (openBreaker) Release(context.Context, breaker.Ticket) error { return nil }

// Two containers, many records each, at every probe time: exactly one probe per open
// period reaches the destination, and its success closes the breaker for both.
func TestOneProbePerOpenPeriodAcrossContainers(t *testing.T) {
	t.Parallel()
	s := newSim(t, 2, 200)
	s.dest.set(true)
	start := s.clock.Now()
	s.send(30)
	s.run(10*time.Minute, time.Second)
	trips := 0
	for _, tr := range s.transitions {
		if tr.To == breaker.Open {
			trips++
		}
	}
	// The first trip happens in the first poll, at the start time: it takes at least
	// the threshold's calls, plus those already past Allow in the other goroutines
	// when the threshold was reached (at most the two batches of that poll). Every
	// later call is a probe, and each failed probe reopened the breaker.
	opening := s.dest.callsBetween(start, start.Add(time.Nanosecond))
	if opening < breaker.DefaultFailureThreshold || opening > 2*10 {
		t.Fatalf("%d calls before the first trip; want between the threshold and two batches", opening)
	}
	if probes := s.dest.callsBetween(start.Add(time.Nanosecond), s.clock.Now()); probes > trips || trips < 5 {
		t.Fatalf("%d probes for %d openings: more than one probe per open period", probes, trips)
	}
	s.dest.set(false)
	s.run(20*time.Minute, time.Second)
	closes := 0
	for _, tr := range s.transitions {
		if tr.To == breaker.Closed {
			closes++
		}
	}
	if closes != 1 || s.main.Snapshot().Total() != 0 || len(s.dest.effects) != 30 {
		t.Fatalf("closes %d, queued %d, effects %d", closes, s.main.Snapshot().Total(), len(s.dest.effects))
	}
}

// A permanent answer (400) shows the destination is up: it never opens the breaker.
func TestPermanentAnswersDoNotOpenTheBreaker(t *testing.T) {
	t.Parallel()
	s := newSim(t, 1, 200)
	rejecting := route.HandlerFunc(func(context.Context, *envelope.Envelope, *idempotency.Attempt) ([]byte, error) {
		return nil, retry.Permanent(errors.New("HTTP 400 Bad Request"))
	})
	routes := &route.Registry{}
	routes.Add(route.Route{Source: "stripe", Dependency: "orders.internal", Handler: rejecting})
	var transitions int
	p := processor.New(processor.Options{
		Runner: idempotency.NewRunner(idempotency.NewMemoryStore(), idempotency.Settings{Now: s.clock.Now}),
		Router: routes, Visibility: s.main, DeadLetter: s.dlq, Now: s.clock.Now,
		Breakers: breaker.New(breaker.NewMemoryStore(), breaker.Settings{Now: s.clock.Now, OnTransition: func(breaker.Transition) { transitions++ }}),
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	s.procs = []*processor.Processor{p}
	s.send(12)
	s.poll()
	if transitions != 0 || s.dlq.Snapshot().Total() != 12 {
		t.Fatalf("transitions %d, dead-lettered %d; want 0 and 12", transitions, s.dlq.Snapshot().Total())
	}
}
