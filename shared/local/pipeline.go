package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tenaz/tenaz/shared/blob"
	"github.com/tenaz/tenaz/shared/breaker"
	"github.com/tenaz/tenaz/shared/config"
	"github.com/tenaz/tenaz/shared/esm"
	"github.com/tenaz/tenaz/shared/forward"
	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/ingest"
	"github.com/tenaz/tenaz/shared/processor"
	"github.com/tenaz/tenaz/shared/queue"
	"github.com/tenaz/tenaz/shared/ratelimit"
	"github.com/tenaz/tenaz/shared/redrive"
	"github.com/tenaz/tenaz/shared/retry"
	"github.com/tenaz/tenaz/shared/route"
	"github.com/tenaz/tenaz/shared/secrets"
	"github.com/tenaz/tenaz/shared/webhook"
)

// Options configure a local pipeline. Zero fields take the defaults given.
type Options struct {
	Sources webhook.Sources // required
	// Backend holds the queues, idempotency records and breakers. Default: in memory
	// (MemoryBackend with MaxReceiveCount and VisibilityTimeout below); AWSBackend
	// runs the same pipeline on SQS and DynamoDB.
	Backend *Backend
	// Routes are the processor's routes. Default: every source fanned out to two
	// destinations, the demo destination at DemoURL (route "demo") and the audit
	// destination at AuditURL (route "audit"), each behind its own breaker.
	Routes []route.Config
	// DemoURL is where the demo destination is served, as the routes reach it;
	// default "http://127.0.0.1:3000/demo/destination".
	DemoURL string
	// AuditURL is where the audit destination (always healthy) is served; default
	// DemoURL with "audit" for its last path element.
	AuditURL string
	// Sender, when set, serves POST /api/send: bursts of signed samples posted to
	// this pipeline's own ingest (its BaseURL must be where Handler is served).
	Sender *Sender
	// Processor settings; defaults suited to watching retries happen: backoff base
	// 1 s, cap 30 s, 5 attempts, deferral at most 30 s, deadline margin a third of
	// the invocation timeout (at most 3 s).
	Processor processor.Settings
	// Breaker settings of the destinations' circuit breakers (shared by the
	// pollers). Defaults: threshold 5, window 30 s, open 10 s (shorter than in AWS,
	// to watch a probe happen).
	Breaker breaker.Settings
	// MaxReceiveCount of the in-memory main queue's redrive policy; default 200, as
	// in the template. Ignored with a Backend (its queue has its own policy).
	MaxReceiveCount int
	// VisibilityTimeout of the main queue; default 30 s. The pollers' invocation
	// timeout is a sixth of it, as in the template. With a Backend it must match
	// the queue's own setting.
	VisibilityTimeout time.Duration
	// PollWait is the pollers' long-poll wait; default 1 s.
	PollWait time.Duration
	Log      *slog.Logger // default discards
	// Secrets resolves the routes' signingSecret and header secrets. Default: env:
	// references from this process's environment (ssm: and secretsmanager: ones
	// fail their deliveries, transiently, naming the reference).
	Secrets forward.Secrets
}

// Pipeline is the whole of Tenaz on one backend: memory or AWS.
type Pipeline struct {
	Backend   string // Backend.Name: "memory" or "aws"
	Ingest    *ingest.Service
	Main, DLQ queue.Queue
	Store     idempotency.Store
	Breakers  *breaker.Breaker
	Processor *processor.Processor
	Poller    *esm.Poller
	Redriver  *redrive.Redriver
	Demo      *Demo
	// Audit is the second destination of the default routes: a demo destination
	// that stays healthy, so that a fan-out shows one destination going on while
	// the other fails.
	Audit *Demo
	// Bodies is the claim-check body store, in memory: ingest puts the bodies of
	// messages too large to travel inline in it, and the readers of the queues load
	// them from it.
	Bodies *blob.Memory

	sender       *Sender
	stats        *Stats
	dependencies []string
	// dlqMu keeps DLQ listings and redrive runs apart: a listing on SQS receives
	// the messages it shows, which a concurrent run would then miss.
	dlqMu    sync.Mutex
	dlqCache dlqCache
}

// New wires a pipeline.
func New(o Options) (*Pipeline, error) {
	if o.Sources == nil {
		return nil, errors.New("local: Sources are required")
	}
	if o.DemoURL == "" {
		o.DemoURL = "http://127.0.0.1:3000/demo/destination"
	}
	if o.AuditURL == "" {
		u, err := url.Parse(o.DemoURL)
		if err != nil {
			return nil, fmt.Errorf("local: DemoURL: %w", err)
		}
		u.Path = path.Join(path.Dir(u.Path), "audit")
		o.AuditURL = u.String()
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.MaxReceiveCount == 0 {
		o.MaxReceiveCount = 200
	}
	if o.Breaker.OpenFor == 0 {
		o.Breaker.OpenFor = 10 * time.Second
	}
	if o.VisibilityTimeout == 0 {
		o.VisibilityTimeout = 30 * time.Second
	}
	if o.PollWait == 0 {
		o.PollWait = time.Second
	}
	set := o.Processor
	if set.RetryBase == 0 {
		set.RetryBase = time.Second
	}
	if set.RetryMax == 0 {
		set.RetryMax = 30 * time.Second
	}
	if set.MaxAttempts == 0 {
		set.MaxAttempts = 5
	}
	if set.DeferMax == 0 {
		set.DeferMax = 30 * time.Second
	}
	invokeTimeout := o.VisibilityTimeout / 6
	if set.DeadlineMargin == 0 {
		set.DeadlineMargin = min(config.DefaultDeadlineMargin, invokeTimeout/3)
	}
	if set.DeadlineMargin >= invokeTimeout {
		return nil, fmt.Errorf("local: the invocation timeout (%s, a sixth of the visibility timeout) must exceed the deadline margin (%s)",
			invokeTimeout, set.DeadlineMargin)
	}
	routes := o.Routes
	if routes == nil {
		var err error
		if routes, err = demoRoutes(o.Sources, o.DemoURL, o.AuditURL); err != nil {
			return nil, err
		}
	}
	fwd := forward.Options{Secrets: o.Secrets}
	if fwd.Secrets == nil {
		fwd.Secrets = secrets.NewCache(secrets.Stores{Env: secrets.Getenv(os.Getenv)}, secrets.Options{Log: o.Log})
	}
	reg, err := route.Build(routes, map[string]func(route.Config) (route.Handler, error){
		"forward": func(rc route.Config) (route.Handler, error) { return forward.Build(rc, fwd) },
	})
	if err != nil {
		return nil, err
	}
	b := o.Backend
	if b == nil {
		mem := MemoryBackend(o.MaxReceiveCount, o.VisibilityTimeout)
		b = &mem
	}
	if b.Main == nil || b.DLQ == nil || b.Store == nil || b.Breakers == nil {
		return nil, errors.New("local: the backend needs Main, DLQ, Store and Breakers")
	}

	rates := b.Rates
	if rates == nil {
		rates = ratelimit.NewMemory()
	}
	p := &Pipeline{Backend: b.Name, Main: b.Main, DLQ: b.DLQ, Store: b.Store, Demo: NewDemo(), Audit: NewDemo(), Bodies: blob.NewMemory(), sender: o.Sender, stats: newStats()}
	seen := map[string]bool{}
	for _, rt := range reg.Routes() {
		if rt.Dependency != "" && !seen[rt.Dependency] {
			seen[rt.Dependency] = true
			p.dependencies = append(p.dependencies, rt.Dependency)
		}
	}
	bset := o.Breaker
	bset.OnTransition, bset.OnStoreError = processor.BreakerTelemetry(o.Log, nil)
	onTransition := bset.OnTransition
	bset.OnTransition = func(t breaker.Transition) {
		onTransition(t)
		p.stats.add(Event{At: t.At, Stage: "breaker", Key: t.Name, Outcome: t.From.String() + " → " + t.To.String()}, "breakerTransitions")
	}
	p.Breakers = breaker.New(b.Breakers, bset)
	p.Ingest = ingest.New(ingest.Options{Sources: o.Sources, Queue: p.Main, Bodies: p.Bodies, Log: o.Log, Observe: p.stats.ingested})
	p.Processor = processor.New(processor.Options{
		Runner:      idempotency.NewRunner(p.Store, idempotency.Settings{}),
		Router:      reg,
		Visibility:  p.Main,
		DeadLetter:  p.DLQ,
		Breakers:    p.Breakers,
		Attempts:    p.Store,
		Bodies:      p.Bodies,
		Settings:    set,
		DeadLetters: deadLetterMarker(p.Store),
		Records:     p.Store,
		Limiter:     ratelimit.New(rates, ratelimit.Settings{}),
		Log:         o.Log,
		Observe:     p.stats.processed,
	})
	p.Redriver = redrive.New(redrive.Options{DLQ: p.DLQ, Queue: p.Main, Budget: p.Store, Bodies: p.Bodies, Log: o.Log,
		Breakers: p.Breakers, Dependencies: p.dependencies,
		Settings: redrive.Settings{ReceiveWait: 100 * time.Millisecond}})
	p.Poller, err = esm.New(esm.Options{
		Queue:         p.Main,
		InvokeTimeout: invokeTimeout,
		Concurrency:   2,
		PollWait:      o.PollWait,
		Log:           o.Log,
		Invoke: func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			return p.Processor.Handle(ctx, ev)
		},
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// demoRoutes fans every source out to the demo and the audit destinations.
func demoRoutes(sources webhook.Sources, demoURL, auditURL string) ([]route.Config, error) {
	names := make([]string, 0, len(sources))
	for name := range sources {
		names = append(names, name)
	}
	sort.Strings(names)
	rs := make([]map[string]any, 0, len(names))
	for _, n := range names {
		rs = append(rs,
			map[string]any{"source": n, "name": "demo", "url": demoURL, "dependency": "demo", "timeoutSeconds": 5},
			map[string]any{"source": n, "name": "audit", "url": auditURL, "dependency": "audit", "timeoutSeconds": 5})
	}
	raw, err := json.Marshal(rs)
	if err != nil {
		return nil, err
	}
	return route.ParseConfig(raw)
}

// Run polls the main queue until ctx ends.
func (p *Pipeline) Run(ctx context.Context) error { return p.Poller.Run(ctx) }

// Dependencies returns the routes' destinations, one circuit breaker each.
func (p *Pipeline) Dependencies() []string { return append([]string(nil), p.dependencies...) }

// Status is a snapshot of the pipeline.
type Status struct {
	Backend  string         `json:"backend"` // memory | aws
	Counts   map[string]int `json:"counts"`
	Main     QueueStatus    `json:"queue"`
	DLQ      QueueStatus    `json:"dlq"`
	Demo     DemoStats      `json:"destination"`
	Audit    DemoStats      `json:"audit"` // the second destination of the default routes
	Breakers []BreakerState `json:"breakers"`
	Recent   []Event        `json:"recent"` // newest first, at most RecentMax
}

// QueueStatus is a queue's approximate depth (SQS's ApproximateNumberOf…).
type QueueStatus struct {
	Visible  int    `json:"visible"`
	InFlight int    `json:"inFlight"`
	Delayed  int    `json:"delayed"`
	Error    string `json:"error,omitempty"` // the depth could not be read
}

// Total is the number of messages the queue holds in any state.
func (q QueueStatus) Total() int { return q.Visible + q.InFlight + q.Delayed }

func queueStatus(ctx context.Context, q queue.Queue) QueueStatus {
	d, err := q.Depth(ctx)
	if err != nil {
		return QueueStatus{Error: err.Error()}
	}
	return QueueStatus{Visible: d.Visible, InFlight: d.InFlight, Delayed: d.Delayed}
}

// BreakerState is one destination's circuit breaker, for the status API.
type BreakerState struct {
	Dependency string     `json:"dependency"`
	State      string     `json:"state"` // closed | open | half-open | unknown
	Failures   int        `json:"failures"`
	RetryAt    *time.Time `json:"retryAt,omitempty"`
	// Paused is true while an operator holds the destination's records (Pause);
	// State is then the breaker's state underneath.
	Paused   bool       `json:"paused"`
	PausedAt *time.Time `json:"pausedAt,omitempty"`
	Error    string     `json:"error,omitempty"` // the state could not be read
}

func breakerState(snap breaker.Snapshot) BreakerState {
	b := BreakerState{Dependency: snap.Name, State: snap.State.String(), Failures: snap.Failures, Paused: snap.Paused}
	if !snap.RetryAt.IsZero() {
		b.RetryAt = &snap.RetryAt
	}
	if snap.Paused {
		b.PausedAt = &snap.PausedAt
	}
	return b
}

// ErrUnknownDestination is the answer of Pause and Resume for a name that no route
// calls. Permanent.
var ErrUnknownDestination = errors.New("no route has this destination")

// Pause holds the records of the destination name, without spending their attempts,
// until Resume (breaker.Breaker.Pause); pausing a paused destination changes
// nothing.
func (p *Pipeline) Pause(ctx context.Context, name string) (BreakerState, error) {
	return p.operate(ctx, name, "paused", p.Breakers.Pause)
}

// Resume lets the records of the paused destination name through again, closing its
// breaker (breaker.Breaker.Resume); resuming one not paused changes nothing.
func (p *Pipeline) Resume(ctx context.Context, name string) (BreakerState, error) {
	return p.operate(ctx, name, "resumed", p.Breakers.Resume)
}

func (p *Pipeline) operate(ctx context.Context, name, done string, op func(context.Context, string) (breaker.Snapshot, error)) (BreakerState, error) {
	if !slices.Contains(p.dependencies, name) {
		return BreakerState{}, retry.Permanent(fmt.Errorf("destination %q: %w", name, ErrUnknownDestination))
	}
	snap, err := op(ctx, name)
	if err != nil {
		return BreakerState{}, err
	}
	p.stats.add(Event{At: time.Now(), Stage: "breaker", Key: name, Outcome: done}, "")
	return breakerState(snap), nil
}

// Status returns the counts, the newest recent events (at most recent; all kept
// when recent <= 0), the queue depths and the breakers. It costs one depth read per
// queue and one breaker read per destination, whatever the number of events seen.
func (p *Pipeline) Status(ctx context.Context, recent int) Status {
	counts, events := p.stats.snapshot(recent)
	st := Status{Backend: p.Backend, Counts: counts, Main: queueStatus(ctx, p.Main), DLQ: queueStatus(ctx, p.DLQ),
		Demo: p.Demo.Stats(), Audit: p.Audit.Stats(), Recent: events, Breakers: []BreakerState{}}
	for _, d := range p.dependencies {
		b := BreakerState{Dependency: d, State: "unknown"}
		if snap, err := p.Breakers.State(ctx, d); err != nil {
			b.Error = err.Error()
		} else {
			b = breakerState(snap)
		}
		st.Breakers = append(st.Breakers, b)
	}
	return st
}

// Event is one recent outcome, for the status API.
type Event struct {
	At       time.Time `json:"at"`
	Stage    string    `json:"stage"` // ingest | processor | breaker
	Key      string    `json:"key"`
	Type     string    `json:"type"`
	Outcome  string    `json:"outcome"`
	Attempts int       `json:"attempts,omitempty"`
	Reason   string    `json:"reason,omitempty"` // why deferred or dead-lettered
	Error    string    `json:"error,omitempty"`
	// Destinations tells how each destination of a fanned-out event stands after
	// this record.
	Destinations []DestinationEvent `json:"destinations,omitempty"`
}

// DestinationEvent is one destination's part of an Event.
type DestinationEvent struct {
	Name   string `json:"name"`
	State  string `json:"state"` // delivered | done | held | failed | deadLettered
	Reason string `json:"reason,omitempty"`
	Error  string `json:"error,omitempty"`
}

// RecentMax is how many recent events a pipeline keeps.
const RecentMax = 200

// Stats counts outcomes and keeps the RecentMax most recent ones in a ring: adding
// an event and taking a snapshot cost the same whatever the number seen.
type Stats struct {
	mu     sync.Mutex
	counts map[string]int
	ring   [RecentMax]Event
	next   int // where the next event goes
	n      int // events held, up to RecentMax
}

func newStats() *Stats { return &Stats{counts: map[string]int{}} }

// add keeps e among the recent events and counts it under counter, unless empty.
func (s *Stats) add(e Event, counter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if counter != "" {
		s.counts[counter]++
	}
	s.ring[s.next] = e
	s.next = (s.next + 1) % RecentMax
	if s.n < RecentMax {
		s.n++
	}
}

func (s *Stats) ingested(r ingest.Result) {
	counter := "rejected"
	switch r.Outcome {
	case ingest.OutcomeAccepted:
		counter = "received"
	case ingest.OutcomeChallenge:
		counter = "challenge"
	case ingest.OutcomeQueueFailed, ingest.OutcomeQueueRefused, ingest.OutcomeStoreFailed:
		counter = "refused"
	}
	s.add(Event{At: time.Now(), Stage: "ingest", Key: r.Source + ":" + r.ID, Type: r.Type, Outcome: r.Outcome}, counter)
}

func (s *Stats) processed(r processor.Result) {
	e := Event{At: time.Now(), Stage: "processor", Key: r.Key, Type: r.Type, Outcome: string(r.Outcome), Attempts: r.Attempts,
		Reason: r.Reason}
	if r.Err != nil {
		e.Error = r.Err.Error()
	}
	for _, d := range r.Destinations {
		de := DestinationEvent{Name: d.Name, State: string(d.State), Reason: d.Reason}
		if d.Err != nil {
			de.Error = d.Err.Error()
		}
		e.Destinations = append(e.Destinations, de)
	}
	s.add(e, string(r.Outcome))
}

// snapshot returns the counts and up to limit recent events, newest first (all held
// when limit <= 0).
func (s *Stats) snapshot(limit int) (map[string]int, []Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	counts := make(map[string]int, len(s.counts))
	for k, v := range s.counts {
		counts[k] = v
	}
	n := s.n
	if limit > 0 && limit < n {
		n = limit
	}
	recent := make([]Event, n)
	for i := range recent {
		recent[i] = s.ring[(s.next-1-i+RecentMax)%RecentMax]
	}
	return counts, recent
}

// deadLetterMarker is the store's idempotency.DeadLetterMarker, or nil when it has
// none (a backend's own store).
func deadLetterMarker(s idempotency.Store) processor.DeadLetterMarker {
	if m, ok := s.(idempotency.DeadLetterMarker); ok {
		return m
	}
	return nil
}
