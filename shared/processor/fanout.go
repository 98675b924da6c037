package processor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tenaz/tenaz/shared/breaker"
	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/retry"
	"github.com/tenaz/tenaz/shared/route"
)

// RecordReader reads an event's idempotency record (idempotency.Store).
type RecordReader interface {
	Get(ctx context.Context, key string, now time.Time) (idempotency.Record, error)
}

// DoneStep and DeadStep are the recovery points of a fan-out on the event's
// idempotency record (route.DeliveredStep, route.DeadLetteredStep).
var (
	DoneStep = route.DeliveredStep
	DeadStep = route.DeadLetteredStep
)

// DestinationState is where one destination of an event stands after a record.
type DestinationState string

// Destination states.
const (
	DestDelivered    DestinationState = "delivered"    // took the event in this attempt
	DestDone         DestinationState = "done"         // took it in an earlier attempt
	DestHeld         DestinationState = "held"         // not called: breaker open, paused, rate limited
	DestFailed       DestinationState = "failed"       // failed; retried later
	DestDeadLettered DestinationState = "deadLettered" // its failure is in the DLQ, waiting for a replay
)

// DestinationResult is one destination's part of a record's outcome.
type DestinationResult struct {
	Name   string
	State  DestinationState
	Reason string // why held (breakerOpen, paused, probeFailed, rateLimited) or dead-lettered
	Err    error
}

// gate is the breaker of one dependency, asked once per record however many of
// its destinations share it.
type gate struct {
	name     string
	ticket   breaker.Ticket
	err      error // Allow's refusal: held
	called   bool  // a call reached (or tried to reach) the dependency
	down     bool  // and a call found it down
	reported bool
}

// dest is one destination of a fan-out record.
type dest struct {
	rt        route.Route
	gate      *gate
	held      string    // reason it is not called this time; "" when allowed
	retryAt   time.Time // when a held destination may be tried again
	state     DestinationState
	reason    string
	err       error
	called    bool
	delivered bool // the destination took the event (even if recording that failed)
}

// pending is the error a fan-out attempt ends with when some destination has not
// taken the event: the record is released, not completed.
type pending struct{ dests []*dest }

func (e *pending) Error() string {
	var parts []string
	for _, d := range e.dests {
		if d.err != nil {
			parts = append(parts, d.rt.Name+": "+d.err.Error())
		}
	}
	if len(parts) == 0 {
		return "destinations pending"
	}
	return strings.Join(parts, "; ")
}

// restriction returns the destinations a replayed dead letter is for (its
// destinations attribute), nil for every destination.
func restriction(m *events.SQSMessage) map[string]bool {
	v := strAttr(m, envelope.AttrDestinations)
	if v == "" {
		return nil
	}
	only := map[string]bool{}
	for _, n := range strings.Split(v, ",") {
		if n = strings.TrimSpace(n); n != "" {
			only[n] = true
		}
	}
	return only
}

// fanOut delivers an event to each of its destinations on its own: one that took
// it is recorded (DoneStep) and never called again for it; one that fails is
// retried, one whose breaker is open or that is paused is held without an
// attempt, and one that refuses it for good (or exhausts its attempts) is
// dead-lettered with a copy naming it, while the others go on. The record is
// completed once every destination took the event.
func (p *Processor) fanOut(ctx, hctx context.Context, m *events.SQSMessage, env *envelope.Envelope, res Result, rts []route.Route, only map[string]bool) Result {
	var targets []*dest
	for _, rt := range rts {
		if only == nil || only[rt.Name] {
			targets = append(targets, &dest{rt: rt})
		}
	}
	if len(targets) == 0 {
		res.Outcome = Unrouted
		p.o.Log.WarnContext(ctx, "replayed dead letter names no destination that takes the event now", "key", res.Key,
			"destinations", strAttr(m, envelope.AttrDestinations))
		return res
	}
	gates := p.admit(ctx, targets)
	held := 0
	for _, d := range targets {
		if d.held != "" {
			held++
		}
	}
	if held == len(targets) {
		p.releaseGates(ctx, gates) // a probe granted to a destination then rate limited
		return p.holdAll(ctx, m, res, targets)
	}
	if held > 0 && p.o.Records != nil {
		// Claiming costs an attempt: read first whether any destination that may be
		// called still waits for the event.
		if rec, err := p.o.Records.Get(ctx, res.Key, p.o.Now()); err == nil {
			if rec.Status == idempotency.StatusCompleted {
				p.releaseGates(ctx, gates)
				res.Outcome = Duplicate
				p.dropBody(ctx, env, res)
				p.log(ctx, slog.LevelDebug, res)
				return res
			}
			callable := false
			for _, d := range targets {
				_, done := rec.Steps[DoneStep(d.rt.Name)]
				_, dead := rec.Steps[DeadStep(d.rt.Name)]
				switch {
				case d.held != "":
				case done:
					d.state = DestDone
				case only == nil && dead:
					d.state, d.reason = DestDeadLettered, "waiting"
				default:
					callable = true
				}
			}
			if !callable {
				p.releaseGates(ctx, gates)
				return p.holdAll(ctx, m, res, targets)
			}
		}
	}

	out, err := p.o.Runner.Do(hctx, res.Key, payloadHash(env), func(actx context.Context, a *idempotency.Attempt) ([]byte, error) {
		return nil, p.deliver(actx, m, env, res, rts, targets, only, a)
	})
	p.settleGates(ctx, gates, targets)
	res.Destinations = destResults(targets)
	if err != nil {
		return p.failure(ctx, m, res, err, 0)
	}
	res = p.attempted(ctx, res, out)
	if pend := (*pending)(nil); out.Kind == idempotency.Failed && errors.As(out.Err, &pend) {
		return p.partly(ctx, m, res, targets, out.Err)
	}
	res = p.outcome(ctx, m, res, out)
	if res.Outcome == Processed || res.Outcome == Duplicate {
		p.dropBody(ctx, env, res)
	}
	return res
}

// admit asks each destination's breaker (once per dependency), then its rate,
// whether it may be called, and marks the destinations that are held.
func (p *Processor) admit(ctx context.Context, targets []*dest) map[string]*gate {
	gates := map[string]*gate{}
	for _, d := range targets {
		if p.o.Breakers == nil || d.rt.Dependency == "" {
			continue
		}
		g, ok := gates[d.rt.Dependency]
		if !ok {
			g = &gate{name: d.rt.Dependency}
			g.ticket, g.err = p.o.Breakers.Allow(ctx, g.name)
			gates[g.name] = g
		}
		d.gate = g
		if g.err != nil {
			d.held, d.retryAt = p.heldBy(g.err)
		}
	}
	for _, d := range targets {
		if d.held != "" {
			continue
		}
		if at, limited := p.rateLimited(ctx, d.rt); limited {
			d.held, d.retryAt = ReasonRateLimited, at
		}
	}
	return gates
}

// heldBy is the reason and the earliest retry of a destination whose breaker
// refused it.
func (p *Processor) heldBy(err error) (string, time.Time) {
	if errors.Is(err, breaker.ErrPaused) {
		return ReasonPaused, p.o.Now()
	}
	if at, open := breaker.RetryAt(err); open {
		return ReasonBreakerOpen, at
	}
	// The breaker could not answer (the invocation is ending): try again soon.
	return ReasonBreakerOpen, p.o.Now()
}

// holdAll defers a record none of whose destinations may be called now, without an
// attempt, until the first of them may be.
func (p *Processor) holdAll(ctx context.Context, m *events.SQSMessage, res Result, targets []*dest) Result {
	var first *dest
	for _, d := range targets {
		if d.held == "" {
			continue // allowed, but nothing left to call there (its state says why)
		}
		d.state, d.reason = DestHeld, d.held
		if first == nil || d.retryAt.Before(first.retryAt) {
			first = d
		}
	}
	res.Destinations = destResults(targets)
	res.Outcome, res.Reason = Deferred, first.held
	res.Delay = p.deferral(first.retryAt, m)
	return p.setVisibility(ctx, m, res)
}

// deliver is the attempt of a fan-out record: it calls every destination that has
// not taken the event and may be called, at once, records each that took it,
// dead-letters those that refused it for good or ran out of attempts, and returns
// nil only when every destination of the event has taken it.
func (p *Processor) deliver(ctx context.Context, m *events.SQSMessage, env *envelope.Envelope, res Result, rts []route.Route, targets []*dest, only map[string]bool, a *idempotency.Attempt) error {
	if err := p.loadBody(ctx, env); err != nil {
		return err
	}
	var calls []*dest
	clean := true // no destination but those called is left without the event
	for _, d := range targets {
		switch {
		case a.HasStep(DoneStep(d.rt.Name)):
			d.state = DestDone
		case only == nil && a.HasStep(DeadStep(d.rt.Name)):
			d.state, d.reason, clean = DestDeadLettered, "waiting", false
		case d.held != "":
			d.state, d.reason, clean = DestHeld, d.held, false
		default:
			calls = append(calls, d)
		}
	}
	for _, rt := range rts {
		if only != nil && !only[rt.Name] && !a.HasStep(DoneStep(rt.Name)) {
			clean = false // another dead letter of this event names it
		}
	}

	var mu sync.Mutex
	remaining, failed := len(calls), 0
	var wg sync.WaitGroup
	for _, d := range calls {
		wg.Add(1)
		call := func() {
			defer wg.Done()
			d.called = true
			err := p.callDestination(ctx, d.rt, env, a.Within(DoneStep(d.rt.Name)+"#"))
			d.delivered = err == nil
			mu.Lock()
			remaining--
			// The last destination to answer, when every other took the event, is
			// recorded by the completion itself: one write fewer.
			last := err == nil && remaining == 0 && failed == 0 && clean
			if err != nil {
				failed++
			}
			mu.Unlock()
			if err == nil && !last {
				_, err = a.Step(ctx, DoneStep(d.rt.Name), func(context.Context) ([]byte, error) { return nil, nil })
				if err != nil {
					err = fmt.Errorf("delivered, but not recorded: %w", err)
					mu.Lock()
					failed++
					mu.Unlock()
				}
			}
			if err != nil {
				d.state, d.err = DestFailed, err
			} else {
				d.state = DestDelivered
			}
		}
		if p.set.Sequential {
			call()
		} else {
			go call()
		}
	}
	wg.Wait()
	if failed == 0 && clean {
		return nil
	}

	// Failures no retry can help, or that spent the event's attempts, go to the DLQ
	// now, named, so the others are neither held back nor repeated.
	receives, _ := strconv.Atoi(m.Attributes["ApproximateReceiveCount"])
	byReason := map[string][]*dest{}
	for _, d := range calls {
		if d.state != DestFailed || d.delivered {
			continue // a delivery not recorded is retried, never dead-lettered
		}
		probeRefund := d.gate != nil && d.gate.ticket.Probe() && breaker.DefaultIsFailure(d.err) && receives < p.set.RefundMaxReceives
		switch {
		case retry.IsPermanent(d.err):
			byReason[permanentReason(d.err)] = append(byReason[permanentReason(d.err)], d)
		case a.Number() >= p.set.MaxAttempts && !probeRefund:
			byReason[envelope.ReasonExhausted] = append(byReason[envelope.ReasonExhausted], d)
		}
	}
	reasons := make([]string, 0, len(byReason))
	for r := range byReason {
		reasons = append(reasons, r)
	}
	slices.Sort(reasons)
	for _, reason := range reasons {
		ds := byReason[reason]
		if err := p.sendDestinations(ctx, m, res, a.Number(), reason, ds); err != nil {
			for _, d := range ds {
				d.err = errors.Join(d.err, err)
			}
			continue
		}
		for _, d := range ds {
			d.state, d.reason = DestDeadLettered, reason
			if _, err := a.Step(ctx, DeadStep(d.rt.Name), func(context.Context) ([]byte, error) { return []byte(reason), nil }); err != nil {
				// The next attempt calls it again and, refused again, sends another
				// copy: a replay of the second finds it done.
				p.o.Log.WarnContext(ctx, "dead letter of a destination not recorded", "key", res.Key, "destination", d.rt.Name, "error", err.Error())
			}
		}
	}
	return &pending{dests: targets}
}

// callDestination runs one destination's handler; a panic fails that destination
// alone.
func (p *Processor) callDestination(ctx context.Context, rt route.Route, env *envelope.Envelope, a *idempotency.Attempt) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("handler panicked: %v", v)
			p.o.Log.ErrorContext(ctx, "handler panicked", "key", env.Key(), "destination", rt.Name, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		}
	}()
	_, err = rt.Handler.Handle(ctx, env, a)
	return err
}

// sendDestinations sends a dead letter naming the destinations ds, which failed for
// reason: a replay of it delivers only to them.
func (p *Processor) sendDestinations(ctx context.Context, m *events.SQSMessage, res Result, attempts int, reason string, ds []*dest) error {
	names := make([]string, len(ds))
	errs := make([]string, len(ds))
	for i, d := range ds {
		names[i] = d.rt.Name
		errs[i] = d.rt.Name + ": " + d.err.Error()
	}
	r := res
	r.Reason, r.Attempts = reason, attempts
	r.Err = errors.New(strings.Join(errs, "; "))
	attrs := p.deadLetterAttrs(m, r)
	attrs[envelope.AttrDestinations] = strings.Join(names, ",")
	if err := p.sendDeadLetter(ctx, m, attrs); err != nil {
		return fmt.Errorf("dead-letter send: %w", err)
	}
	r.Outcome = DeadLettered
	p.o.Log.WarnContext(ctx, "destinations dead-lettered", "key", r.Key, "source", r.Source, "type", r.Type,
		"destinations", attrs[envelope.AttrDestinations], "reason", reason, "error", r.Err.Error())
	return nil
}

// partly maps a fan-out attempt that left some destination without the event: the
// record waits for the earliest of its destinations still to be tried, or, when
// only dead-lettered ones are left, is done here (their copies wait in the DLQ).
func (p *Processor) partly(ctx context.Context, m *events.SQSMessage, res Result, targets []*dest, cause error) Result {
	res.Destinations = destResults(targets)
	var retryDelay, deferDelay time.Duration
	var deferReason string
	failed, deadNow, deadReasons, probesOnly := false, []string{}, []string{}, true
	now := p.o.Now()
	receives, _ := strconv.Atoi(m.Attributes["ApproximateReceiveCount"])
	for _, d := range targets {
		switch d.state {
		case DestDeadLettered:
			if d.reason != "waiting" {
				deadNow = append(deadNow, d.rt.Name)
				if !slices.Contains(deadReasons, d.reason) {
					deadReasons = append(deadReasons, d.reason)
				}
			}
		case DestHeld:
			if dl := p.deferral(d.retryAt, m); deferReason == "" || dl < deferDelay {
				deferDelay, deferReason = dl, d.held
			}
		case DestFailed:
			if d.gate != nil && d.gate.down && d.gate.ticket.Probe() {
				// It probed a destination still down: wait for the breaker again.
				retryAt := now
				if _, err := p.o.Breakers.Allow(ctx, d.gate.name); err != nil {
					_, retryAt = p.heldBy(err)
				}
				if dl := p.deferral(retryAt, m); deferReason == "" || dl < deferDelay {
					deferDelay, deferReason = dl, ReasonProbeFailed
				}
				continue
			}
			probesOnly = false
			after, _ := retry.RetryAfterOf(d.err)
			dl := max(min(after, p.set.RetryMax), retry.Backoff(receives, p.set.RetryBase, p.set.RetryMax, p.o.Rand))
			if !failed || dl < retryDelay {
				retryDelay = dl
			}
			failed = true
		case DestDelivered:
			probesOnly = false
		}
	}
	res.Err = cause
	if !failed && deferReason == "" {
		// Nothing left to try: what remains waits in the DLQ for a replay.
		if len(deadNow) == 0 {
			// Processed when this attempt delivered what was left to deliver, a
			// duplicate when it had nothing to do; either way the stored body stays
			// for the replay of the dead letter.
			res.Outcome, res.Err = Duplicate, nil
			if !probesOnly {
				res.Outcome = Processed
			}
			p.log(ctx, slog.LevelDebug, res)
			return res
		}
		// The reason of the destinations dead-lettered now (their names are in
		// Destinations and in the dead letters' destinations attribute).
		slices.Sort(deadReasons)
		res.Outcome, res.Reason = DeadLettered, strings.Join(deadReasons, ",")
		p.log(ctx, slog.LevelWarn, res)
		p.markDeadLettered(ctx, res, truncate(cause.Error(), 512))
		return res
	}
	if !failed && deferReason == ReasonProbeFailed && probesOnly && receives < p.set.RefundMaxReceives && p.o.Attempts != nil {
		if err := p.o.Attempts.ResetAttempts(context.WithoutCancel(ctx), res.Key, now); err != nil {
			p.o.Log.WarnContext(ctx, "attempts not given back after a failed probe", "key", res.Key, "error", err.Error())
		}
	}
	switch {
	case failed && (deferReason == "" || retryDelay <= deferDelay):
		res.Outcome, res.Delay = Retried, retryDelay
	case failed:
		res.Outcome, res.Delay = Retried, deferDelay
	default:
		res.Outcome, res.Reason, res.Delay = Deferred, deferReason, deferDelay
	}
	return p.setVisibility(ctx, m, res)
}

// releaseGates hands back the probe tickets of a record that called nothing.
func (p *Processor) releaseGates(ctx context.Context, gates map[string]*gate) {
	for _, g := range gates {
		if g.err == nil && g.ticket.Probe() && !g.reported {
			g.reported = true
			if err := p.o.Breakers.Release(context.WithoutCancel(ctx), g.ticket); err != nil {
				p.o.Log.WarnContext(ctx, "breaker probe release failed", "dependency", g.name, "error", err.Error())
			}
		}
	}
}

// settleGates tells each breaker what the calls to its dependency said: only a
// call that reached it says anything, and a permanent answer (4xx) means it is up.
func (p *Processor) settleGates(ctx context.Context, gates map[string]*gate, targets []*dest) {
	for _, d := range targets {
		if d.gate == nil || !d.called || calledNothing(d.err) {
			continue
		}
		d.gate.called = true
		if d.state == DestFailed && !d.delivered && breaker.DefaultIsFailure(d.err) {
			d.gate.down = true
		}
	}
	for _, g := range gates {
		if g.err != nil || g.reported {
			continue
		}
		if !g.called {
			p.releaseGates(ctx, map[string]*gate{g.name: g})
			continue
		}
		g.reported = true
		if err := p.o.Breakers.Report(context.WithoutCancel(ctx), g.ticket, !g.down); err != nil {
			p.o.Log.WarnContext(ctx, "breaker report failed", "dependency", g.name, "error", err.Error())
		}
	}
}

// destResults tells how each destination stands; nil when the record reached none
// of them (a duplicate, an event another worker holds).
func destResults(targets []*dest) []DestinationResult {
	var out []DestinationResult
	for _, d := range targets {
		if d.state != "" {
			out = append(out, DestinationResult{Name: d.rt.Name, State: d.state, Reason: d.reason, Err: d.err})
		}
	}
	return out
}
