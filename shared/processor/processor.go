package processor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tenaz/tenaz/shared/breaker"
	"github.com/tenaz/tenaz/shared/config"
	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/queue"
	"github.com/tenaz/tenaz/shared/ratelimit"
	"github.com/tenaz/tenaz/shared/retry"
	"github.com/tenaz/tenaz/shared/route"
	"github.com/tenaz/tenaz/shared/telemetry"
)

// Runner runs a handler at most once to completion per key (idempotency.Runner).
type Runner interface {
	Do(ctx context.Context, key, payloadHash string, fn idempotency.Handler) (idempotency.Outcome, error)
}

// Router finds the destinations of an event, in order (route.Registry). body is
// called only when a candidate route filters on the body's content.
type Router interface {
	Destinations(source, typ string, body func() ([]byte, error)) ([]route.Route, error)
}

// Visibility changes when received messages of the main queue are delivered again,
// up to queue.MaxBatch in one call (queue.SQS, queue.Memory).
type Visibility interface {
	ChangeVisibilityBatch(ctx context.Context, changes []queue.VisibilityChange) ([]queue.BatchResult, error)
}

// DeadLetter accepts records that can never succeed.
type DeadLetter interface {
	Send(ctx context.Context, m queue.Message) (string, error)
}

// Breakers guard the destinations, one circuit breaker per route dependency
// (breaker.Breaker).
type Breakers interface {
	Allow(ctx context.Context, name string) (breaker.Ticket, error)
	Report(ctx context.Context, t breaker.Ticket, success bool) error
	// Release gives back a probe ticket whose call was not made.
	Release(ctx context.Context, t breaker.Ticket) error
}

// RateLimiter caps the deliveries per second to a destination, across every
// container (ratelimit.Limiter).
type RateLimiter interface {
	Take(ctx context.Context, name string, perSecond int) (ratelimit.Decision, error)
}

// AttemptResetter gives an event its attempt budget back (idempotency.Store).
type AttemptResetter interface {
	ResetAttempts(ctx context.Context, key string, now time.Time) error
}

// DeadLetterMarker records in the event's idempotency record that a copy was
// dead-lettered (idempotency.DeadLetterMarker), so a key lookup tells that the event
// waits in the DLQ.
type DeadLetterMarker interface {
	MarkDeadLettered(ctx context.Context, key, reason, lastErr string, now time.Time) error
}

// Settings tune the processor. Zero fields take their defaults.
type Settings struct {
	// MaxAttempts is how many real attempts an event gets before it is dead-lettered
	// with reason "exhausted". Default 8.
	MaxAttempts int
	// RetryBase and RetryMax bound the visibility backoff after a transient failure:
	// full jitter in [0, min(RetryMax, RetryBase·2^(n-1))] for the n-th receive, at
	// least MinDelay. Defaults 5 s and 15 min.
	RetryBase, RetryMax time.Duration
	// MinDelay is the shortest redelivery delay; SQS counts visibility in whole
	// seconds. Default 1 s.
	MinDelay time.Duration
	// Concurrency bounds the records of one batch handled at once. Default 10.
	Concurrency int
	// Sequential calls the destinations of a fanned-out event one after another, in
	// route order, instead of all at once (the default).
	Sequential bool
	// DeadlineMargin is kept free before the invocation deadline to record outcomes
	// and answer the event source mapping. Default 3 s.
	DeadlineMargin time.Duration
	// DeferMax is the longest a record is deferred while its destination's breaker is
	// open. A deferral lasts until the breaker may half-open, and grows with the
	// record's receive count (1 s, 2 s, 4 s, … with 20 % jitter downwards) up to
	// DeferMax, so a long outage costs each record at most one receive per DeferMax.
	// Default 15 min.
	DeferMax time.Duration
	// RefundMaxReceives bounds the attempt refunds of failed probes: a record that
	// probed a destination still down gets its attempts back only while its receive
	// count is below this; past it, a failed probe counts as an attempt, so a record
	// that alone keeps a breaker open (a destination failing only on it) is
	// dead-lettered as exhausted, with its reason, instead of reaching the queue's
	// maxReceiveCount without one. Keep it above the receives a long outage costs
	// (about 125 in 24 hours with the defaults) and below maxReceiveCount minus
	// MaxAttempts. Default 150.
	RefundMaxReceives int
	// QueueRetention is the main queue's MessageRetentionPeriod: SQS deletes a message
	// this long after its SentTimestamp, delivered or not. A record whose next
	// delivery (now + its delay + ExpiryMargin) would come later is dead-lettered with
	// reason "expiring" instead of being retried or deferred. Set it to the queue's
	// value. Default 4 days (config.DefaultQueueRetention, the template's).
	QueueRetention time.Duration
	// ExpiryMargin is the time kept free before the end of a message's retention: its
	// next delivery must come at least this long before it, so that the event source
	// mapping receives it and its attempt runs to an outcome (one Lambda invocation
	// lasts at most 15 minutes) while SQS still holds it. Default 15 min.
	ExpiryMargin time.Duration
}

// Defaults of the settings that have no environment setting; the other defaults are
// those of the environment settings (config.DefaultMaxAttempts, …).
const (
	DefaultMinDelay     = time.Second      // Settings.MinDelay
	DefaultExpiryMargin = 15 * time.Minute // Settings.ExpiryMargin
)

func (s *Settings) defaults() {
	if s.MaxAttempts <= 0 {
		s.MaxAttempts = config.DefaultMaxAttempts
	}
	if s.RetryBase <= 0 {
		s.RetryBase = config.DefaultRetryBase
	}
	if s.RetryMax <= 0 {
		s.RetryMax = config.DefaultRetryMax
	}
	if s.MinDelay <= 0 {
		s.MinDelay = DefaultMinDelay
	}
	if s.Concurrency <= 0 {
		s.Concurrency = config.DefaultConcurrency
	}
	if s.DeadlineMargin <= 0 {
		s.DeadlineMargin = config.DefaultDeadlineMargin
	}
	if s.DeferMax <= 0 {
		s.DeferMax = config.DefaultDeferMax
	}
	if s.RefundMaxReceives <= 0 {
		s.RefundMaxReceives = config.DefaultRefundMaxReceives
	}
	if s.QueueRetention <= 0 {
		s.QueueRetention = config.DefaultQueueRetention
	}
	if s.ExpiryMargin <= 0 {
		s.ExpiryMargin = DefaultExpiryMargin
	}
}

// Options wire a Processor.
type Options struct {
	Runner     Runner     // required
	Router     Router     // required
	Visibility Visibility // the main queue; required
	DeadLetter DeadLetter // the dead-letter queue; required
	// Breakers, when set, guard each route's dependency: an open breaker defers the
	// record without an attempt. Optional.
	Breakers Breakers
	// Limiter, when set, holds the records of a route with RatePerSecond above what
	// its dependency took this second: deferred (reason rateLimited) without an
	// attempt, never failed for it. A route without a rate never asks it. Optional.
	Limiter RateLimiter
	// Attempts, when set with Breakers, gives an event back the attempts it spent
	// probing a destination that turned out to be still down, so an outage never
	// exhausts an event's budget. Optional (the idempotency store).
	Attempts AttemptResetter
	// Bodies, when set, holds the bodies too large for the queue (claim checks): a
	// stored body is loaded when an attempt is made, and deleted once its event is
	// processed or found a duplicate. Without it a message with a stored body is
	// dead-lettered as bodyMissing. Optional.
	Bodies Bodies
	// DeadLetters, when set, is told of every event the dead-letter queue accepted
	// (the idempotency store), after the send; best effort: a failure is logged at
	// WARN and changes nothing about the record's outcome. Optional.
	DeadLetters DeadLetterMarker
	// Records, when set, lets a fanned-out event some of whose destinations are held
	// (breaker open, paused) read its record before claiming it, so that it spends
	// no attempt when every destination that may be called already took it.
	// Optional (the idempotency store).
	Records  RecordReader
	Settings Settings
	Now      func() time.Time // default time.Now
	Rand     func() float64   // jitter source in [0,1); default math/rand/v2
	Log      *slog.Logger     // default slog.Default()
	Metrics  io.Writer        // EMF lines, one flush per batch; nil = none
	// MetricsDetail breaks the outcome counters down: totals by outcome (the zero
	// value), or also by source, or also by source and type.
	MetricsDetail telemetry.Detail
	// Observe, when set, is told of every record's outcome (the local live view and
	// tests use it). It must not block.
	Observe func(Result)
}

// Processor handles SQS batches.
type Processor struct {
	o   Options
	set Settings
}

// New returns a Processor; it panics when a required dependency is missing (a
// wiring bug, found at start-up).
func New(o Options) *Processor {
	if o.Runner == nil || o.Router == nil || o.Visibility == nil || o.DeadLetter == nil {
		panic("processor: Runner, Router, Visibility and DeadLetter are required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Float64
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	set := o.Settings
	set.defaults()
	return &Processor{o: o, set: set}
}

// Outcome names what happened to a record; they are also the metric names.
type Outcome string

// Outcomes.
const (
	Processed    Outcome = "processed"
	Duplicate    Outcome = "duplicate"
	Unrouted     Outcome = "unrouted"
	Deferred     Outcome = "deferred"     // claimed by a live worker elsewhere
	Retried      Outcome = "retried"      // transient failure, scheduled again
	DeadLettered Outcome = "deadLettered" // permanent, undecodable or exhausted
	Failed       Outcome = "failed"       // could not even be dead-lettered or recorded; SQS retries
)

// Reasons a record was deferred, in Result.Reason.
const (
	ReasonBreakerOpen = "breakerOpen" // the destination's breaker is open: no attempt made
	ReasonProbeFailed = "probeFailed" // this record probed the destination, which is still down
	ReasonPaused      = "paused"      // an operator paused the destination: no attempt made
	ReasonRateLimited = "rateLimited" // the destination's deliveries this second are used up: no attempt made
)

// Result is one record's outcome.
type Result struct {
	MessageID string
	Key       string // source:id, empty when undecodable
	Source    string
	Type      string
	Outcome   Outcome
	Attempts  int
	Delay     time.Duration // when it is delivered again (failures)
	Reason    string        // deferral or dead-letter reason (envelope.Reason…)
	Err       error
	// Destinations tells, for an event with more than one destination (or a replay
	// naming some), how each one stands; nil otherwise.
	Destinations []DestinationResult

	redeliver bool // Delay is to be set as the message's visibility
}

// Handle processes one batch and reports the records to deliver again.
func (p *Processor) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	recs := ev.Records
	results := make([]Result, len(recs))
	// The handler must end before the invocation does, leaving time to record the
	// outcome; the lease ends with it. One deadline serves the whole batch.
	hctx := ctx
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		hctx, cancel = context.WithDeadline(ctx, dl.Add(-p.set.DeadlineMargin))
		defer cancel()
	}
	if len(recs) == 1 || p.set.Concurrency == 1 {
		// One at a time, in batch order: copies of one event follow each other.
		for i := range recs {
			env, err := envelope.DecodeString(recs[i].Body)
			results[i] = p.record(ctx, hctx, &recs[i], env, err)
		}
	} else {
		p.concurrently(ctx, hctx, recs, results)
	}

	p.redeliver(ctx, recs, results)

	var resp events.SQSEventResponse
	var metrics *telemetry.Metrics
	if p.o.Metrics != nil {
		metrics = telemetry.NewMetrics(p.o.MetricsDetail)
	}
	for _, r := range results {
		if r.Outcome == Deferred || r.Outcome == Retried || r.Outcome == Failed {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageID})
		}
		if metrics != nil {
			metrics.Count(string(r.Outcome), r.Source, r.Type, 1)
		}
		if p.o.Observe != nil {
			p.o.Observe(r)
		}
	}
	if metrics != nil {
		if err := metrics.Flush(p.o.Metrics, p.o.Now()); err != nil {
			p.o.Log.WarnContext(ctx, "metrics flush failed", "error", err.Error())
		}
	}
	return resp, nil
}

// redeliver sets the visibility of every record that asked for one, in batches of
// queue.MaxBatch: one request for a whole batch of retries or deferrals instead of
// one per record. A change that fails leaves the record to come back after the
// queue's visibility timeout; it is still reported as failed.
func (p *Processor) redeliver(ctx context.Context, recs []events.SQSMessage, results []Result) {
	var buf [queue.MaxBatch]queue.VisibilityChange
	var idx [queue.MaxBatch]int
	changes := buf[:0]
	flush := func() {
		if len(changes) == 0 {
			return
		}
		out, err := p.o.Visibility.ChangeVisibilityBatch(context.WithoutCancel(ctx), changes)
		for j := range changes {
			r := &results[idx[j]]
			e := err
			if e == nil && j < len(out) {
				e = out[j].Err
			}
			if e != nil {
				p.o.Log.WarnContext(ctx, "change visibility failed", "key", r.Key, "error", e.Error())
			}
		}
		changes = changes[:0]
	}
	for i := range results {
		if !results[i].redeliver {
			continue
		}
		idx[len(changes)] = i
		changes = append(changes, queue.VisibilityChange{ReceiptHandle: recs[i].ReceiptHandle, Timeout: results[i].Delay})
		if len(changes) == queue.MaxBatch {
			flush()
		}
	}
	flush()
}

// decoded is one record of a batch, decoded before the batch is handed out.
type decoded struct {
	env *envelope.Envelope
	err error
	// next is the index of the next record of the batch with the same idempotency
	// key, -1 for none: records of one key run one after another, in batch order.
	next int
}

// concurrently handles the records of a batch on at most Concurrency goroutines.
// Records sharing an idempotency key (the same event sent twice) form a chain that
// one goroutine runs in batch order, so a copy finds the event completed instead of
// leased and deferring itself for the rest of that lease.
func (p *Processor) concurrently(ctx, hctx context.Context, recs []events.SQSMessage, results []Result) {
	items := make([]decoded, len(recs))
	heads := make([]int, 0, len(recs))
	var byKey map[string]int // key → the last record of its chain so far, for large batches
	if len(recs) > chainScanMax {
		byKey = make(map[string]int, len(recs))
	}
	for i := range recs {
		it := &items[i]
		it.env, it.err = envelope.DecodeString(recs[i].Body)
		it.next = -1
		if it.err != nil {
			heads = append(heads, i)
			continue
		}
		last := -1
		if byKey != nil {
			key := it.env.Key()
			if j, ok := byKey[key]; ok {
				last = j
			}
			byKey[key] = i
		} else {
			for j := i - 1; j >= 0; j-- {
				if o := items[j].env; o != nil && sameKey(o, it.env) {
					last = j
					break
				}
			}
		}
		if last < 0 {
			heads = append(heads, i)
		} else {
			items[last].next = i
		}
	}

	var next atomic.Int64
	var wg sync.WaitGroup
	work := func() {
		defer wg.Done()
		for {
			h := int(next.Add(1) - 1)
			if h >= len(heads) {
				return
			}
			for i := heads[h]; i >= 0; i = items[i].next {
				results[i] = p.record(ctx, hctx, &recs[i], items[i].env, items[i].err)
			}
		}
	}
	workers := min(p.set.Concurrency, len(heads))
	wg.Add(workers)
	for range workers {
		go work()
	}
	wg.Wait()
}

// sameKey reports whether a.Key() == b.Key(), without building the keys.
func sameKey(a, b *envelope.Envelope) bool {
	if len(a.Source)+len(a.ID) != len(b.Source)+len(b.ID) {
		return false
	}
	if a.Source == b.Source {
		return a.ID == b.ID
	}
	return a.Key() == b.Key() // rare: one source name is a prefix of the other's key
}

// chainScanMax is the largest batch whose same-key records are found by comparing
// each record with those before it; larger batches use a map.
const chainScanMax = 32

// record handles one record whose envelope decoded to env (or failed with
// decodeErr). hctx is the handler's context, which ends before ctx does.
func (p *Processor) record(ctx, hctx context.Context, m *events.SQSMessage, env *envelope.Envelope, decodeErr error) Result {
	res := Result{MessageID: m.MessageId}
	if decodeErr != nil {
		res.Outcome, res.Reason, res.Err = DeadLettered, envelope.ReasonUndecodable, decodeErr
		if m.MessageAttributes != nil {
			res.Source = strAttr(m, envelope.AttrSource)
			res.Type = strAttr(m, envelope.AttrType)
		}
		return p.deadLetter(ctx, m, res)
	}
	res.Key, res.Source, res.Type = env.Key(), env.Source, env.Type
	rts, err := p.o.Router.Destinations(env.Source, env.Type, func() ([]byte, error) {
		// A content filter reads the body: a stored one is loaded here, once, and
		// the attempt then finds it loaded.
		if err := p.loadBody(hctx, env); err != nil {
			return nil, err
		}
		return env.Body, nil
	})
	if err != nil {
		// The stored body could not be loaded to evaluate a filter: a missing or
		// mismatched body is a dead letter, an outage a transient failure.
		if retry.IsPermanent(err) {
			res.Outcome, res.Reason, res.Err = DeadLettered, permanentReason(err), err
			return p.deadLetter(ctx, m, res)
		}
		return p.failure(ctx, m, res, err, 0)
	}
	if len(rts) == 0 {
		res.Outcome = Unrouted
		p.log(ctx, slog.LevelInfo, res)
		return res
	}
	if only := restriction(m); len(rts) > 1 || only != nil {
		return p.fanOut(ctx, hctx, m, env, res, rts, only)
	}
	rt := rts[0]

	guarded := p.o.Breakers != nil && rt.Dependency != ""
	var ticket breaker.Ticket
	if guarded {
		var err error
		if ticket, err = p.o.Breakers.Allow(ctx, rt.Dependency); err != nil {
			return p.notAllowed(ctx, m, res, err)
		}
	}
	if retryAt, limited := p.rateLimited(ctx, rt); limited {
		if guarded && ticket.Probe() {
			if err := p.o.Breakers.Release(context.WithoutCancel(ctx), ticket); err != nil {
				p.o.Log.WarnContext(ctx, "breaker probe release failed", "dependency", ticket.Name(), "error", err.Error())
			}
		}
		res.Outcome, res.Reason = Deferred, ReasonRateLimited
		res.Delay = p.deferral(retryAt, m)
		return p.setVisibility(ctx, m, res)
	}
	out, err := p.attempt(hctx, rt, env, res.Key)
	if err != nil {
		// The store failed or refused the event's request, or no time was left.
		return p.failure(ctx, m, res, err, 0)
	}
	res = p.attempted(ctx, res, out)
	if guarded && p.settle(ctx, ticket, out) {
		return p.probeFailed(ctx, m, res, rt.Dependency, out.Err)
	}
	res = p.outcome(ctx, m, res, out)
	if res.Outcome == Processed || res.Outcome == Duplicate {
		p.dropBody(ctx, env, res)
	}
	return res
}

// rateLimited takes one delivery to rt's dependency from its rate, and reports
// whether the record must wait instead, until when. A route without a rate (or no
// Limiter) is never limited and costs nothing; a limiter that cannot answer holds
// the record for a second, never fails it.
func (p *Processor) rateLimited(ctx context.Context, rt route.Route) (time.Time, bool) {
	if p.o.Limiter == nil || rt.RatePerSecond <= 0 || rt.Dependency == "" {
		return time.Time{}, false
	}
	d, err := p.o.Limiter.Take(ctx, rt.Dependency, rt.RatePerSecond)
	switch {
	case err != nil:
		p.o.Log.WarnContext(ctx, "rate limiter unavailable; the record waits", "dependency", rt.Dependency, "error", err.Error())
		return p.o.Now().Add(time.Second), true
	case !d.Allowed:
		return d.RetryAt, true
	}
	return time.Time{}, false
}

// attempted notes in res what the runner says of the event: its attempts, and a
// payload that differs from the first delivery's (logged at WARN; the event is
// still handled by its key).
func (p *Processor) attempted(ctx context.Context, res Result, out idempotency.Outcome) Result {
	res.Attempts = out.Attempts
	if out.PayloadMismatch {
		p.o.Log.WarnContext(ctx, "payload differs from the first delivery under this key", "key", res.Key, "source", res.Source, "type", res.Type)
		res.Reason = "payloadMismatch"
	}
	return res
}

// notAllowed defers a record whose destination's breaker is open or paused, without
// an attempt; when the breaker could not answer (the invocation's context ended), the
// record is retried later. A paused record has no time to wait for: it looks again
// after the deferral that grows with its receive count, at most DeferMax.
func (p *Processor) notAllowed(ctx context.Context, m *events.SQSMessage, res Result, err error) Result {
	if errors.Is(err, breaker.ErrPaused) {
		res.Outcome, res.Reason = Deferred, ReasonPaused
		res.Delay = p.deferral(p.o.Now(), m)
		return p.setVisibility(ctx, m, res)
	}
	if retryAt, open := breaker.RetryAt(err); open {
		res.Outcome, res.Reason = Deferred, ReasonBreakerOpen
		res.Delay = p.deferral(retryAt, m)
		return p.setVisibility(ctx, m, res)
	}
	res.Err = err
	return p.retryLater(ctx, m, res, 0)
}

// attempt runs the route's handler at most once to completion under key. A
// panicking handler fails its attempt like an error: the claim is released, the
// attempt counts, and the other records of the batch are unaffected.
func (p *Processor) attempt(hctx context.Context, rt route.Route, env *envelope.Envelope, key string) (idempotency.Outcome, error) {
	return p.o.Runner.Do(hctx, key, payloadHash(env), func(ctx context.Context, a *idempotency.Attempt) (result []byte, err error) {
		defer func() {
			if v := recover(); v != nil {
				err = fmt.Errorf("handler panicked: %v", v)
				p.o.Log.ErrorContext(ctx, "handler panicked", "key", key, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			}
		}()
		// Only an attempt reads a stored body: a duplicate, an event another worker
		// holds or a deferred record costs no GET.
		if err := p.loadBody(ctx, env); err != nil {
			return nil, err
		}
		return rt.Handler.Handle(ctx, env, a)
	})
}

// settle tells the breaker what an attempt said about its destination, and reports
// whether the attempt probed a destination that is still down. Only a call that
// reached the destination says anything about it; a permanent answer (4xx) means
// the destination is up. A probe ticket whose record called nothing (a duplicate, an
// event another worker holds, or a body that could not be loaded) is handed on now
// rather than after its lease.
func (p *Processor) settle(ctx context.Context, t breaker.Ticket, out idempotency.Outcome) (probeFailed bool) {
	if out.Kind != idempotency.Done && out.Kind != idempotency.Failed || calledNothing(out.Err) {
		if t.Probe() {
			if err := p.o.Breakers.Release(context.WithoutCancel(ctx), t); err != nil {
				p.o.Log.WarnContext(ctx, "breaker probe release failed", "dependency", t.Name(), "error", err.Error())
			}
		}
		return false
	}
	down := out.Kind == idempotency.Failed && breaker.DefaultIsFailure(out.Err)
	if err := p.o.Breakers.Report(context.WithoutCancel(ctx), t, !down); err != nil {
		p.o.Log.WarnContext(ctx, "breaker report failed", "dependency", t.Name(), "error", err.Error())
	}
	return down && t.Probe()
}

// outcome maps what the idempotency runner did to what the record gets.
func (p *Processor) outcome(ctx context.Context, m *events.SQSMessage, res Result, out idempotency.Outcome) Result {
	switch out.Kind {
	case idempotency.Done:
		res.Outcome = Processed
	case idempotency.Duplicate:
		res.Outcome = Duplicate
	case idempotency.InFlight:
		res.Outcome = Deferred
		res.Delay = out.Until.Sub(p.o.Now())
		return p.setVisibility(ctx, m, res)
	default: // Failed
		after, _ := retry.RetryAfterOf(out.Err)
		return p.failure(ctx, m, res, out.Err, after)
	}
	p.log(ctx, slog.LevelDebug, res)
	return res
}

// failure dead-letters a record whose error no retry can help or whose attempts are
// spent, and schedules any other for a retry, no sooner than after.
func (p *Processor) failure(ctx context.Context, m *events.SQSMessage, res Result, err error, after time.Duration) Result {
	res.Err = err
	switch {
	case retry.IsPermanent(err):
		res.Outcome, res.Reason = DeadLettered, permanentReason(err)
	case res.Attempts >= p.set.MaxAttempts:
		res.Outcome, res.Reason = DeadLettered, envelope.ReasonExhausted
	default:
		return p.retryLater(ctx, m, res, after)
	}
	return p.deadLetter(ctx, m, res)
}

// probeFailed defers a record whose attempt probed a destination that is still down:
// the breaker has reopened, and the attempt it spent is given back.
func (p *Processor) probeFailed(ctx context.Context, m *events.SQSMessage, res Result, dependency string, cause error) Result {
	res.Outcome, res.Reason, res.Err = Deferred, ReasonProbeFailed, cause
	if n, _ := strconv.Atoi(m.Attributes["ApproximateReceiveCount"]); n >= p.set.RefundMaxReceives {
		// No more refunds: the failed probe was an attempt like any other.
		if res.Attempts >= p.set.MaxAttempts {
			res.Outcome, res.Reason = DeadLettered, envelope.ReasonExhausted
			return p.deadLetter(ctx, m, res)
		}
	} else if p.o.Attempts != nil {
		if err := p.o.Attempts.ResetAttempts(context.WithoutCancel(ctx), res.Key, p.o.Now()); err != nil {
			p.o.Log.WarnContext(ctx, "attempts not given back after a failed probe", "key", res.Key, "error", err.Error())
		}
	}
	retryAt := p.o.Now()
	if _, err := p.o.Breakers.Allow(ctx, dependency); err != nil {
		if at, open := breaker.RetryAt(err); open {
			retryAt = at
		}
	}
	res.Delay = p.deferral(retryAt, m)
	return p.setVisibility(ctx, m, res)
}

// deferral is how long a record waits while its destination's breaker is open: at
// least until the breaker may half-open, growing with the receive count, at most
// DeferMax.
func (p *Processor) deferral(retryAt time.Time, m *events.SQSMessage) time.Duration {
	n, _ := strconv.Atoi(m.Attributes["ApproximateReceiveCount"])
	grow := p.set.DeferMax
	if n >= 1 && n < 40 {
		grow = min(p.set.DeferMax, time.Second<<(n-1))
	}
	grow -= time.Duration(p.o.Rand() * 0.2 * float64(grow))
	return min(p.set.DeferMax, max(retryAt.Sub(p.o.Now()), grow))
}

// retryLater schedules the record's next delivery after a transient failure: after
// the backoff, or after the delay the destination asked for (Retry-After) when that
// is longer, but never later than RetryMax, so that a destination cannot park a
// record for hours (or past the queue's retention) with one header.
func (p *Processor) retryLater(ctx context.Context, m *events.SQSMessage, res Result, after time.Duration) Result {
	res.Outcome = Retried
	n, _ := strconv.Atoi(m.Attributes["ApproximateReceiveCount"])
	res.Delay = max(min(after, p.set.RetryMax), retry.Backoff(n, p.set.RetryBase, p.set.RetryMax, p.o.Rand))
	return p.setVisibility(ctx, m, res)
}

// setVisibility marks the record to be delivered again after res.Delay; Handle sets
// the visibility of all such records of the batch together. A record that SQS would
// delete (its retention ended) before that delivery is dead-lettered instead.
func (p *Processor) setVisibility(ctx context.Context, m *events.SQSMessage, res Result) Result {
	res.Delay = max(res.Delay, p.set.MinDelay)
	if expires, ok := p.expires(m); ok && p.o.Now().Add(res.Delay+p.set.ExpiryMargin).After(expires) {
		return p.expiring(ctx, m, res, expires)
	}
	res.redeliver = true
	// A record deferred while its breaker is open logs at DEBUG: the breaker's own
	// transition line and metric tell of the outage once, where a line per record and
	// per deferral would fill (and bill) the logs for as long as it lasts.
	// The same for a paused destination: the operator knows.
	lvl := slog.LevelInfo
	if res.Reason == ReasonBreakerOpen || res.Reason == ReasonPaused || res.Reason == ReasonRateLimited {
		lvl = slog.LevelDebug
	}
	p.log(ctx, lvl, res)
	return res
}

// expires returns when SQS deletes message m from the main queue: its
// SentTimestamp (epoch milliseconds) plus QueueRetention. A message without a
// readable SentTimestamp is not judged.
func (p *Processor) expires(m *events.SQSMessage) (time.Time, bool) {
	ms, err := strconv.ParseInt(m.Attributes["SentTimestamp"], 10, 64)
	if err != nil || ms <= 0 {
		return time.Time{}, false
	}
	return time.UnixMilli(ms).Add(p.set.QueueRetention), true
}

// expiring dead-letters a record that was to be retried or deferred but would come
// back too close to (or after) the end of its retention. Its last error goes with
// it; a record deferred without one (an open breaker, a live lease elsewhere) says
// why it was waiting.
func (p *Processor) expiring(ctx context.Context, m *events.SQSMessage, res Result, expires time.Time) Result {
	if res.Err == nil {
		why := res.Reason
		if why == "" {
			why = "claimed by another worker"
		}
		res.Err = fmt.Errorf("deferred (%s) until after the main queue's retention ends at %s", why, expires.UTC().Format(time.RFC3339))
	}
	res.Outcome, res.Reason, res.Delay = DeadLettered, envelope.ReasonExpiring, 0
	return p.deadLetter(ctx, m, res)
}

// deadLetter sends the record to the DLQ with its reason; only an accepted send
// acknowledges it.
func (p *Processor) deadLetter(ctx context.Context, m *events.SQSMessage, res Result) Result {
	attrs := p.deadLetterAttrs(m, res)
	if err := p.sendDeadLetter(ctx, m, attrs); err != nil {
		res.Outcome = Failed
		res.Err = errors.Join(res.Err, fmt.Errorf("dead-letter send: %w", err))
		res.Delay = p.set.MinDelay
		p.log(ctx, slog.LevelError, res)
		return res
	}
	p.log(ctx, slog.LevelWarn, res)
	p.markDeadLettered(ctx, res, attrs[envelope.AttrLastError])
	return res
}

// deadLetterAttrs are the attributes of a dead letter of m: its own, with the
// reason, the time, the attempts and the last error of res.
func (p *Processor) deadLetterAttrs(m *events.SQSMessage, res Result) map[string]string {
	attrs := map[string]string{}
	for k := range m.MessageAttributes {
		if v := strAttr(m, k); v != "" {
			attrs[k] = v
		}
	}
	attrs[envelope.AttrReason] = res.Reason
	attrs[envelope.AttrFailedAt] = p.o.Now().UTC().Format(time.RFC3339)
	if res.Attempts > 0 {
		attrs[envelope.AttrAttempts] = strconv.Itoa(res.Attempts)
	}
	if res.Err != nil {
		attrs[envelope.AttrLastError] = truncate(res.Err.Error(), 512)
	}
	// A whole-event dead letter of a replay that named some destinations still names
	// them (the message's own attribute); one of a fan-out sets its own.
	return attrs
}

// sendDeadLetter sends m to the DLQ with attrs, keeping within the attributes SQS
// takes.
func (p *Processor) sendDeadLetter(ctx context.Context, m *events.SQSMessage, attrs map[string]string) error {
	if len(attrs) > queue.MaxAttributes {
		// SQS takes at most MaxAttributes: keep ours and the envelope's (7 in all),
		// drop the other attributes, last name first.
		var extras []string
		for k := range attrs {
			if !ownAttr[k] {
				extras = append(extras, k)
			}
		}
		slices.Sort(extras)
		for i := len(extras) - 1; i >= 0 && len(attrs) > queue.MaxAttributes; i-- {
			delete(attrs, extras[i])
		}
	}
	_, err := p.o.DeadLetter.Send(context.WithoutCancel(ctx), queue.Message{Body: m.Body, Attributes: attrs})
	return err
}

// markDeadLettered notes the dead letter in the event's idempotency record. An event
// without a key (undecodable) or without a record (dead-lettered before any claim)
// has nothing to mark.
func (p *Processor) markDeadLettered(ctx context.Context, res Result, lastErr string) {
	if p.o.DeadLetters == nil || res.Key == "" {
		return
	}
	err := p.o.DeadLetters.MarkDeadLettered(context.WithoutCancel(ctx), res.Key, res.Reason, lastErr, p.o.Now())
	switch {
	case err == nil:
	case errors.Is(err, idempotency.ErrNotFound):
		p.o.Log.DebugContext(ctx, "dead letter not marked: the event has no idempotency record", "key", res.Key)
	default:
		p.o.Log.WarnContext(ctx, "dead letter not marked in the idempotency record", "key", res.Key, "error", err.Error())
	}
}

// ownAttr names the attributes a dead letter always keeps.
var ownAttr = map[string]bool{
	envelope.AttrReason: true, envelope.AttrLastError: true, envelope.AttrAttempts: true, envelope.AttrFailedAt: true,
	envelope.AttrKey: true, envelope.AttrSource: true, envelope.AttrType: true, envelope.AttrDestinations: true,
}

func (p *Processor) log(ctx context.Context, level slog.Level, r Result) {
	if !p.o.Log.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("key", r.Key), slog.String("source", r.Source), slog.String("type", r.Type),
		slog.String("outcome", string(r.Outcome)), slog.String("messageId", r.MessageID),
	}
	if r.Attempts > 0 {
		attrs = append(attrs, slog.Int("attempts", r.Attempts))
	}
	if r.Delay > 0 {
		attrs = append(attrs, slog.Int64("delayMs", r.Delay.Milliseconds()))
	}
	if r.Reason != "" {
		attrs = append(attrs, slog.String("reason", r.Reason))
	}
	if r.Err != nil {
		attrs = append(attrs, slog.String("error", r.Err.Error()))
	}
	p.o.Log.LogAttrs(ctx, level, "record", attrs...)
}

func strAttr(m *events.SQSMessage, name string) string {
	a, ok := m.MessageAttributes[name]
	if !ok || a.StringValue == nil {
		return ""
	}
	return *a.StringValue
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
