package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tenaz/tenaz/shared/breaker"
	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/esm"
	"github.com/tenaz/tenaz/shared/forward"
	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/ingest"
	"github.com/tenaz/tenaz/shared/internal/testclock"
	"github.com/tenaz/tenaz/shared/processor"
	"github.com/tenaz/tenaz/shared/queue"
	"github.com/tenaz/tenaz/shared/redrive"
	"github.com/tenaz/tenaz/shared/route"
	"github.com/tenaz/tenaz/shared/webhook"
)

// epoch is where the fake clock starts: a fixed instant, so that runs repeat, and far
// ahead of the wall clock, so that contexts whose deadlines are taken from the fake
// clock never end by themselves while the simulation runs.
var epoch = time.Date(2100, time.January, 1, 0, 0, 0, 0, time.UTC)

// tick is the step of the fake clock between two rounds of posts and polls.
const tick = time.Second

// maxInvocationsPerTick guards against a simulation that stops advancing.
const maxInvocationsPerTick = 100000

// Streams of the seeded random source, one per concern, so that a change in one
// (say, the processor drawing its jitter once more) does not reshuffle the others.
const (
	streamSender = iota + 1
	streamFaults
	streamJitter
)

// defects are deliberate bugs, for the tests that show the ledger catches them.
type defects struct {
	noDedupe          bool // the destination applies every successful request
	forgetCompletions bool // the idempotency store keeps completed records retryable
	deleteFailures    bool // the poller deletes the records reported as failed too
}

// Run runs one chaos simulation and returns its ledger. The error reports a run that
// could not be carried out (an invalid Config, an unexpected failure of the
// harness), not a lost or doubled webhook: those are in the Ledger (see Ledger.OK).
func Run(c Config) (Ledger, error) { return run(c, defects{}) }

func run(c Config, d defects) (Ledger, error) {
	cfg, err := c.withDefaults()
	if err != nil {
		return Ledger{}, err
	}
	s, err := newSim(cfg, d)
	if err != nil {
		return Ledger{}, err
	}
	s.simulate()
	if s.err != nil {
		return s.led, s.err
	}
	return s.led, nil
}

// sim is the world of one run.
type sim struct {
	cfg     Config
	defects defects
	clock   *testclock.Clock // moved only by the simulation
	sender  *rand.Rand       // the providers' choices: arrivals, duplicates, retry delays
	faults  *rand.Rand       // every injected fault
	jitter  *rand.Rand       // the processor's jitter

	sources   webhook.Sources
	ingest    *ingest.Service
	main, dlq *queue.Memory
	store     *idempotency.MemoryStore
	breakers  *breaker.MemoryStore
	procs     []*processor.Processor
	next      int // the container of the next invocation
	queueARN  string

	events    []*event
	byBody    map[string]*event
	completed map[string]bool // keys whose completion the idempotency store accepted
	delivered map[string]bool // "key destination": the destination's step the store accepted
	dests     []*destination
	pending   posts
	seq       int

	start, lastArrival time.Time
	chaosUntil         time.Time
	chaos              bool // faults are on
	dead               bool // the running invocation has crashed
	fixed              bool // the destination no longer fails the stubborn webhooks
	tokens             int
	led                Ledger
	err                error
}

func newSim(cfg Config, d defects) (*sim, error) {
	seed := uint64(cfg.Seed)
	s := &sim{
		cfg:       cfg,
		defects:   d,
		clock:     testclock.New(epoch),
		sender:    rand.New(rand.NewPCG(seed, streamSender)),
		faults:    rand.New(rand.NewPCG(seed, streamFaults)),
		jitter:    rand.New(rand.NewPCG(seed, streamJitter)),
		byBody:    map[string]*event{},
		completed: map[string]bool{},
		delivered: map[string]bool{},
		start:     epoch,
		led: Ledger{Seed: cfg.Seed, Webhooks: cfg.Webhooks, Crashes: map[Boundary]int{},
			DeadLettered: map[string]int{}, DeadLetteredBeforeReplay: map[string]int{}},
	}
	var err error
	if s.sources, err = parseSources(); err != nil {
		return nil, fmt.Errorf("chaos sources: %w", err)
	}
	quiet := slog.New(slog.DiscardHandler)

	s.dlq = queue.NewMemory(queue.MemoryConfig{Name: "tenaz-webhooks-dlq", Retention: 14 * 24 * time.Hour, Now: s.clock.Now})
	s.main = queue.NewMemory(queue.MemoryConfig{Name: "tenaz-webhooks", VisibilityTimeout: cfg.VisibilityTimeout,
		MaxReceiveCount: cfg.MaxReceiveCount, DeadLetter: s.dlq, Retention: 4 * 24 * time.Hour, Now: s.clock.Now})
	if s.queueARN, err = s.main.ARN(context.Background()); err != nil {
		return nil, err
	}
	s.ingest = ingest.New(ingest.Options{Sources: s.sources, Queue: s.main, Now: s.clock.Now, Log: quiet})

	s.store = idempotency.NewMemoryStore()
	s.store.SetFault(func(string, string) error {
		if s.chaos && s.faults.Float64() < s.cfg.ThrottleRate {
			s.led.Throttles++
			return fmt.Errorf("chaos: ProvisionedThroughputExceededException: %w", idempotency.ErrUnavailable)
		}
		return nil
	})
	s.breakers = breaker.NewMemoryStore()
	s.breakers.SetFault(func(string, string) error {
		if s.chaos && s.faults.Float64() < s.cfg.ThrottleRate {
			s.led.BreakerThrottles++
			return fmt.Errorf("chaos: ProvisionedThroughputExceededException: %w", breaker.ErrUnavailable)
		}
		return nil
	})
	var store idempotency.Store = s.store
	if d.forgetCompletions {
		store = forgetful{store}
	}
	store = crashStore{Store: store, s: s}

	routes := &route.Registry{}
	crm, err := route.ParseFilter(map[string]json.RawMessage{"fan": json.RawMessage("3")})
	if err != nil {
		return nil, err
	}
	for _, name := range destinationNames[:cfg.Destinations] {
		d := &destination{s: s, name: name, applied: map[string]bool{}}
		s.dests = append(s.dests, d)
		var filter *route.Filter
		if name == "crm" {
			filter = crm
		}
		for _, src := range sourceNames {
			routes.Add(route.Route{Source: src, Name: name, Dependency: name + ".internal", Filter: filter,
				Handler: forward.New(d.url(), cfg.TimeoutAfter, d)})
		}
	}
	runner := idempotency.NewRunner(store, idempotency.Settings{Now: s.clock.Now, NewToken: func() string {
		s.tokens++
		return "lease-" + strconv.Itoa(s.tokens)
	}})
	for range cfg.Containers {
		b := breaker.New(s.breakers, breaker.Settings{Now: s.clock.Now, OnTransition: func(t breaker.Transition) {
			if t.To == breaker.Open {
				s.led.BreakerOpens++
			}
		}})
		s.procs = append(s.procs, processor.New(processor.Options{
			Runner:     runner,
			Router:     crashRouter{r: routes, s: s},
			Visibility: s.main,
			DeadLetter: crashDeadLetter{q: s.dlq, s: s},
			Breakers:   b,
			Attempts:   store,
			Records:    store,
			Settings:   processor.Settings{Concurrency: 1, Sequential: true},
			Now:        s.clock.Now,
			Rand:       s.jitter.Float64,
			Log:        quiet,
			Observe:    s.observe,
		}))
	}

	// The providers' webhooks: Poisson arrivals, a source each, some poison, some
	// stubborn.
	at := s.start
	for i := range cfg.Webhooks {
		at = at.Add(time.Duration(s.sender.ExpFloat64() / cfg.ArrivalsPerSecond * float64(time.Second))).Truncate(time.Millisecond)
		source := sourceNames[s.sender.IntN(len(sourceNames))]
		fan := 0
		if cfg.Destinations == 3 {
			fan = 2 + s.sender.IntN(2) // 2 or 3 destinations
		}
		ev := newEvent(i, source, at, fan)
		ev.dests = destinationNames[:min(cfg.Destinations, 2)]
		if fan == 3 {
			ev.dests = destinationNames[:3]
		}
		for _, d := range ev.dests {
			ev.poison[d] = s.sender.Float64() < cfg.PermanentRate
			ev.stubborn[d] = !ev.poison[d] && s.sender.Float64() < cfg.StubbornRate
			s.led.Deliveries++
			if ev.poison[d] {
				s.led.Poison++
			}
			if ev.stubborn[d] {
				s.led.Stubborn++
			}
		}
		s.events = append(s.events, ev)
		s.byBody[string(ev.body)] = ev
		s.schedule(&post{at: at, ev: ev})
	}
	s.lastArrival = at
	s.chaosUntil = at
	if cfg.Outage > 0 {
		window := at.Sub(s.start)
		for _, d := range s.dests {
			d.outageFrom = s.start.Add(time.Duration((0.1 + 0.4*s.faults.Float64()) * float64(window))).Truncate(time.Second)
			d.outageTo = d.outageFrom.Add(cfg.Outage)
			if d.outageTo.After(s.chaosUntil) {
				s.chaosUntil = d.outageTo
			}
		}
	}
	s.chaosUntil = s.chaosUntil.Add(cfg.ChaosTail)
	return s, nil
}

// fail records the first unexpected failure of the harness.
func (s *sim) fail(err error) {
	if s.err == nil {
		s.err = err
	}
}

// simulate runs the chaos, the drain, the replay and the final drain, then draws up
// the ledger.
func (s *sim) simulate() {
	end := s.start.Add(s.cfg.MaxSimulated)
	s.chaos = true
	s.runUntilQuiet(end)
	if !s.cfg.NoReplay && s.err == nil {
		s.fixed = true
		s.replay()
		s.runUntilQuiet(end)
	}
	s.led.SimulatedTime = s.clock.Now().Sub(s.start)
	s.tally()
}

// runUntilQuiet advances the clock tick by tick, posting what is due and polling the
// main queue empty at every tick, until the chaos is over, no post is scheduled and
// the main queue holds nothing, or until end.
func (s *sim) runUntilQuiet(end time.Time) {
	for s.err == nil {
		s.chaos = s.clock.Now().Before(s.chaosUntil)
		s.postDue()
		s.poll()
		if !s.chaos && s.pending.Len() == 0 && s.main.Snapshot().Total() == 0 {
			return
		}
		if !s.clock.Now().Before(end) {
			return
		}
		s.clock.Advance(tick)
	}
}

// poll hands every visible message to the processor, one batch (one invocation) at a
// time, as the event source mapping would.
func (s *sim) poll() {
	for n := 0; s.err == nil; n++ {
		if n > maxInvocationsPerTick {
			s.fail(fmt.Errorf("chaos: more than %d invocations at %v: the simulation does not advance", maxInvocationsPerTick, s.clock.Now()))
			return
		}
		msgs, err := s.main.Receive(context.Background(), queue.MaxBatch, 0, 0)
		if err != nil {
			s.fail(fmt.Errorf("chaos: receive: %w", err))
			return
		}
		if len(msgs) == 0 {
			return
		}
		s.invoke(msgs)
	}
}

// invoke runs one invocation of the next container on msgs and deletes the records
// it did not report as failed, unless it crashed or overran its timeout.
func (s *sim) invoke(msgs []queue.Received) {
	p := s.procs[s.next%len(s.procs)]
	s.next++
	s.led.Invocations++
	deadline := s.clock.Now().Add(s.cfg.InvocationTimeout)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()

	s.dead = false
	var resp events.SQSEventResponse
	done := make(chan struct{})
	go func() {
		// A crash ends this goroutine (or the processor's own) early; either way
		// the invocation's answer is lost.
		defer close(done)
		resp, _ = p.Handle(ctx, esm.Event(msgs, s.queueARN))
	}()
	<-done
	if s.dead {
		s.dead = false
		return
	}
	if s.clock.Now().After(deadline) {
		// Lambda discards the answer of an invocation that overran its timeout.
		s.led.InvocationTimeouts++
		return
	}
	failed := make(map[string]bool, len(resp.BatchItemFailures))
	for _, f := range resp.BatchItemFailures {
		failed[f.ItemIdentifier] = true
	}
	for _, m := range msgs {
		if failed[m.ID] && !s.defects.deleteFailures {
			continue
		}
		if s.chaos && s.faults.Float64() < s.cfg.LostDeleteRate {
			s.main.FailNext(queue.OpDelete, 1, errThrottled)
		}
		if err := s.main.Delete(context.Background(), m.ReceiptHandle); err != nil {
			// Not deleted: the queue delivers it again after its visibility timeout.
			s.led.LostDeletes++
		}
	}
}

// observe counts the processor's outcomes.
func (s *sim) observe(r processor.Result) {
	switch r.Outcome {
	case processor.Duplicate:
		s.led.DuplicatesAbsorbed++
	case processor.Retried:
		s.led.Retried++
	case processor.Deferred:
		s.led.Deferred++
	}
}

// noWait is the dead-letter queue for the redrive without long polls: the fake
// clock never moves while a receive waits, so a wait would only cost real time.
type noWait struct{ *queue.Memory }

func (q noWait) Receive(ctx context.Context, n int, _, visibility time.Duration) ([]queue.Received, error) {
	return q.Memory.Receive(ctx, n, 0, visibility)
}

// replay moves back to the main queue, with the redrive, every dead letter of the
// webhooks that have one whose reason is not permanent, in runs of at most
// redrive.MaxIDs keys; a permanent copy of the same webhook goes back with them and
// is refused again.
func (s *sim) replay() {
	reasons := s.deadLetters()
	var keys []string
	for _, ev := range s.events {
		again := false
		for _, d := range ev.dests {
			r, ok := reasons[ev.key][d]
			if !ok {
				continue
			}
			s.led.DeadLetteredBeforeReplay[r]++
			again = again || r != envelope.ReasonPermanent
		}
		if again {
			keys = append(keys, ev.key)
		}
	}
	r := redrive.New(redrive.Options{DLQ: noWait{s.dlq}, Queue: s.main, Budget: s.store, Now: s.clock.Now})
	for chunk := range slices.Chunk(keys, redrive.MaxIDs) {
		rep, err := r.Run(context.Background(), redrive.Request{Filter: redrive.Filter{IDs: chunk}})
		s.led.Replayed += rep.Counts.Moved
		if err != nil {
			s.fail(fmt.Errorf("chaos: replay: %w", err))
			return
		}
	}
}

// deadLetters returns, for every key in the dead-letter queue, the reason of each
// destination its copies name (a copy naming none names every destination of the
// webhook); a destination dead-lettered more than once keeps "permanent" if any copy
// has it, else the last reason seen.
func (s *sim) deadLetters() map[string]map[string]string {
	byKey := map[string]*event{}
	for _, ev := range s.events {
		byKey[ev.key] = ev
	}
	reasons := map[string]map[string]string{}
	for _, m := range s.dlq.Peek(0) {
		key := m.Attributes[envelope.AttrKey]
		reason := m.Attributes[envelope.AttrReason]
		if reason == "" {
			reason = ReasonMaxReceiveCount
		}
		var dests []string
		if v := m.Attributes[envelope.AttrDestinations]; v != "" {
			dests = strings.Split(v, ",")
		} else if ev := byKey[key]; ev != nil {
			dests = ev.dests
		}
		if reasons[key] == nil {
			reasons[key] = map[string]string{}
		}
		for _, d := range dests {
			if reasons[key][d] != envelope.ReasonPermanent {
				reasons[key][d] = reason
			}
		}
	}
	return reasons
}

// tally draws up the outcome of every webhook at every destination it goes to.
func (s *sim) tally() {
	deadReason := s.deadLetters()
	s.led.DeadLetterMessages = s.dlq.Snapshot().Total()
	queued := s.main.Snapshot().Total()
	for _, ev := range s.events {
		if ev.acked {
			s.led.Acked++
			if ev.refused {
				s.led.RefusedRetried++
			}
		} else {
			s.led.Lost = append(s.led.Lost, ev.key+": never acknowledged to its provider")
			continue
		}
		for _, d := range ev.dests {
			at := ev.key + " → " + d
			switch {
			case ev.effects[d] > 1:
				s.led.Doubled = append(s.led.Doubled, fmt.Sprintf("%s: applied %d times", at, ev.effects[d]))
			case ev.repeated[d]:
				s.led.Doubled = append(s.led.Doubled, at+": the destination was called again after its completion was recorded (or its step)")
			}
			switch {
			case ev.effects[d] >= 1:
				if ev.effects[d] == 1 {
					s.led.Delivered++
				}
			case deadReason[ev.key][d] != "":
				s.led.DeadLettered[deadReason[ev.key][d]]++
			case ev.poison[d]:
				s.led.Lost = append(s.led.Lost, at+": rejected by the destination and not in the dead-letter queue")
			default:
				s.led.Lost = append(s.led.Lost, fmt.Sprintf("%s: neither applied nor dead-lettered (%d messages left on the main queue)", at, queued))
			}
		}
	}
	slices.Sort(s.led.Lost)
	slices.Sort(s.led.Doubled)
}
