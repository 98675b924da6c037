package local

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tenaz/tenaz/shared/breaker"
	"github.com/tenaz/tenaz/shared/esm"
	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/ingest"
	"github.com/tenaz/tenaz/shared/processor"
	"github.com/tenaz/tenaz/shared/queue"
	"github.com/tenaz/tenaz/shared/redrive"
	"github.com/tenaz/tenaz/shared/route"
	"github.com/tenaz/tenaz/shared/webhook"
)

// Options configure a local pipeline. Zero fields take the defaults given.
type Options struct {
	Sources webhook.Sources // required
	// Routes are the processor's routes. Default: every source forwarded to the demo
	// destination at DemoURL.
	Routes []route.Config
	// DemoURL is where the demo destination is served, as the routes reach it;
	// default "http://127.0.0.1:3000/demo/destination".
	DemoURL string
	// Processor settings; defaults suited to watching retries happen: backoff base
	// 1 s, cap 30 s, 5 attempts.
	Processor processor.Settings
	// Breaker settings of the destinations' circuit breakers (in memory, shared by
	// the pollers). Defaults: threshold 5, window 30 s, open 10 s (shorter than in
	// AWS, to watch a probe happen).
	Breaker breaker.Settings
	// MaxReceiveCount of the main queue's redrive policy; default 200, as in the
	// template.
	MaxReceiveCount int
	// VisibilityTimeout of the main queue; default 30 s (the processor's invoke
	// timeout is a sixth of it, as in the template).
	VisibilityTimeout time.Duration
	Log               *slog.Logger
}

// Pipeline is the whole of Tenaz on in-memory adapters.
type Pipeline struct {
	Ingest    *ingest.Service
	Main, DLQ *queue.Memory
	Store     *idempotency.MemoryStore
	Breakers  *breaker.Breaker
	Processor *processor.Processor
	Poller    *esm.Poller
	Redriver  *redrive.Redriver
	Demo      *Demo

	stats        *Stats
	dependencies []string
}

// New wires a pipeline.
func New(o Options) (*Pipeline, error) {
	if o.Sources == nil {
		return nil, errors.New("local: Sources are required")
	}
	if o.DemoURL == "" {
		o.DemoURL = "http://127.0.0.1:3000/demo/destination"
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
	routes := o.Routes
	if routes == nil {
		names := make([]string, 0, len(o.Sources))
		for name := range o.Sources {
			names = append(names, name)
		}
		sort.Strings(names)
		raw, _ := json.Marshal(func() []map[string]any {
			var rs []map[string]any
			for _, n := range names {
				rs = append(rs, map[string]any{"source": n, "url": o.DemoURL, "timeoutSeconds": 5})
			}
			return rs
		}())
		var err error
		if routes, err = route.ParseConfig(raw); err != nil {
			return nil, err
		}
	}
	reg, err := processor.Config{Routes: routes}.Registry(nil, nil)
	if err != nil {
		return nil, err
	}

	p := &Pipeline{Demo: NewDemo(), Store: idempotency.NewMemoryStore(), stats: newStats()}
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
	p.Breakers = breaker.New(breaker.NewMemoryStore(), bset)
	p.DLQ = queue.NewMemory(queue.MemoryConfig{Name: "tenaz-webhooks-dlq", Retention: 14 * 24 * time.Hour})
	p.Main = queue.NewMemory(queue.MemoryConfig{Name: "tenaz-webhooks", VisibilityTimeout: o.VisibilityTimeout,
		MaxReceiveCount: o.MaxReceiveCount, DeadLetter: p.DLQ})
	p.Ingest = ingest.New(ingest.Options{Sources: o.Sources, Queue: p.Main, Log: o.Log, Observe: p.stats.ingested})
	p.Processor = processor.New(processor.Options{
		Runner:     idempotency.NewRunner(p.Store, idempotency.Settings{}),
		Router:     reg,
		Visibility: p.Main,
		DeadLetter: p.DLQ,
		Breakers:   p.Breakers,
		Attempts:   p.Store,
		Settings:   set,
		Log:        o.Log,
		Observe:    p.stats.processed,
	})
	p.Redriver = redrive.New(redrive.Options{DLQ: p.DLQ, Queue: p.Main, Budget: p.Store, Log: o.Log,
		Settings: redrive.Settings{ReceiveWait: 100 * time.Millisecond}})
	invokeTimeout := o.VisibilityTimeout / 6
	p.Poller, err = esm.New(esm.Options{
		Queue:         p.Main,
		InvokeTimeout: invokeTimeout,
		Concurrency:   2,
		PollWait:      time.Second,
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

// Run polls the main queue until ctx ends.
func (p *Pipeline) Run(ctx context.Context) error { return p.Poller.Run(ctx) }

// Handler serves the webhooks endpoint, the demo destination and the status API:
//
//	POST /webhooks/{source}   the ingest
//	POST /demo/destination    the demo destination
//	GET|POST /demo/mode       read or switch its mode ({"mode": "down"})
//	GET  /api/status          counts, queues, demo destination, recent records
//	POST /api/redrive         the redrive function: {"dryRun": true} is the DLQ report
func (p *Pipeline) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/webhooks/{source}", p.Ingest.Handler())
	mux.Handle("POST /demo/destination", p.Demo)
	mux.HandleFunc("/demo/mode", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			var m DemoMode
			if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&m); err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be {\"mode\": \"...\"}"})
				return
			}
			if err := p.Demo.SetMode(m); err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
				return
			}
		}
		writeJSON(w, http.StatusOK, p.Demo.Stats().Mode)
	})
	mux.HandleFunc("GET /api/status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, p.Status())
	})
	mux.HandleFunc("POST /api/redrive", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "could not read the request"})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
		defer cancel()
		report, err := p.Redriver.Handle(ctx, body)
		if errors.Is(err, redrive.ErrBadRequest) {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error(), "report": report})
			return
		}
		writeJSON(w, http.StatusOK, report)
	})
	return mux
}

// Status is a snapshot of the pipeline.
type Status struct {
	Counts   map[string]int    `json:"counts"`
	Main     queue.MemoryStats `json:"queue"`
	DLQ      queue.MemoryStats `json:"dlq"`
	Demo     DemoStats         `json:"destination"`
	Breakers []BreakerState    `json:"breakers"`
	Recent   []Event           `json:"recent"`
}

// BreakerState is one destination's circuit breaker, for the status API.
type BreakerState struct {
	Dependency string     `json:"dependency"`
	State      string     `json:"state"` // closed | open | half-open
	Failures   int        `json:"failures"`
	RetryAt    *time.Time `json:"retryAt,omitempty"`
}

// Status returns the current counts.
func (p *Pipeline) Status() Status {
	counts, recent := p.stats.snapshot()
	st := Status{Counts: counts, Main: p.Main.Snapshot(), DLQ: p.DLQ.Snapshot(), Demo: p.Demo.Stats(), Recent: recent}
	for _, d := range p.dependencies {
		if snap, err := p.Breakers.State(context.Background(), d); err == nil {
			b := BreakerState{Dependency: d, State: snap.State.String(), Failures: snap.Failures}
			if !snap.RetryAt.IsZero() {
				b.RetryAt = &snap.RetryAt
			}
			st.Breakers = append(st.Breakers, b)
		}
	}
	return st
}

// Event is one recent outcome, for the status API.
type Event struct {
	At       time.Time `json:"at"`
	Stage    string    `json:"stage"` // ingest | processor
	Key      string    `json:"key"`
	Type     string    `json:"type"`
	Outcome  string    `json:"outcome"`
	Attempts int       `json:"attempts,omitempty"`
	Error    string    `json:"error,omitempty"`
}

// Stats counts outcomes and keeps the most recent ones.
type Stats struct {
	mu     sync.Mutex
	counts map[string]int
	recent []Event // ring, newest last
}

const recentMax = 200

func newStats() *Stats { return &Stats{counts: map[string]int{}} }

func (s *Stats) add(e Event, counter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts[counter]++
	if len(s.recent) == recentMax {
		copy(s.recent, s.recent[1:])
		s.recent = s.recent[:recentMax-1]
	}
	s.recent = append(s.recent, e)
}

func (s *Stats) ingested(r ingest.Result) {
	counter := "rejected"
	switch r.Outcome {
	case ingest.OutcomeAccepted:
		counter = "received"
	case ingest.OutcomeQueueFailed:
		counter = "refused"
	}
	s.add(Event{At: time.Now(), Stage: "ingest", Key: r.Source + ":" + r.ID, Type: r.Type, Outcome: r.Outcome}, counter)
}

func (s *Stats) processed(r processor.Result) {
	e := Event{At: time.Now(), Stage: "processor", Key: r.Key, Type: r.Type, Outcome: string(r.Outcome), Attempts: r.Attempts}
	if r.Err != nil {
		e.Error = r.Err.Error()
	}
	s.add(e, string(r.Outcome))
}

func (s *Stats) snapshot() (map[string]int, []Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	counts := make(map[string]int, len(s.counts))
	for k, v := range s.counts {
		counts[k] = v
	}
	recent := make([]Event, len(s.recent))
	for i, e := range s.recent {
		recent[len(s.recent)-1-i] = e // newest first
	}
	return counts, recent
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
