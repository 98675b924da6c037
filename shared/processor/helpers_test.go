package processor_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/esm"
	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/internal/testclock"
	"github.com/tenaz/tenaz/shared/processor"
	"github.com/tenaz/tenaz/shared/queue"
	"github.com/tenaz/tenaz/shared/route"
	"github.com/tenaz/tenaz/shared/telemetry"
)

// queueARN is the event source of every test event.
const queueARN = "arn:aws:sqs:us-east-1:000000000000:tenaz-webhooks"

// invocation is how long a test invocation may run, on the harness clock.
const invocation = 15 * time.Minute

// newClock returns a fake clock at the real time (whole milliseconds), so that
// contexts with a deadline taken from it are neither over at once nor unending.
func newClock() *testclock.Clock { return testclock.New(time.UnixMilli(time.Now().UnixMilli())) }

// fixedRand is a jitter source that always draws r.
func fixedRand(r float64) func() float64 { return func() float64 { return r } }

// visibilityCall is one ChangeVisibility call.
type visibilityCall struct {
	handle string
	delay  time.Duration
}

// visibility records the delays the processor asks the main queue for, and how many
// batch calls carried them. While err is set, every call fails with it (after being
// recorded).
type visibility struct {
	mu      sync.Mutex
	calls   []visibilityCall
	batches []int // entries per ChangeVisibilityBatch call
	err     error
}

func (v *visibility) ChangeVisibilityBatch(_ context.Context, changes []queue.VisibilityChange) ([]queue.BatchResult, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(changes) == 0 || len(changes) > queue.MaxBatch {
		return nil, fmt.Errorf("ChangeVisibilityBatch of %d entries", len(changes))
	}
	v.batches = append(v.batches, len(changes))
	for _, c := range changes {
		v.calls = append(v.calls, visibilityCall{c.ReceiptHandle, c.Timeout})
	}
	if v.err != nil {
		return nil, v.err
	}
	return make([]queue.BatchResult, len(changes)), nil
}

func (v *visibility) batchSizes() []int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]int(nil), v.batches...)
}

func (v *visibility) fail(err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.err = err
}

func (v *visibility) all() []visibilityCall {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]visibilityCall(nil), v.calls...)
}

// delayOf returns the one delay asked for the message received with handle.
func (v *visibility) delayOf(t *testing.T, handle string) time.Duration {
	t.Helper()
	var found []time.Duration
	for _, c := range v.all() {
		if c.handle == handle {
			found = append(found, c.delay)
		}
	}
	if len(found) != 1 {
		t.Fatalf("ChangeVisibility for %s: %d calls %v, want 1", handle, len(found), found)
	}
	return found[0]
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// lines returns the JSON lines written so far, decoded.
func (s *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	s.mu.Lock()
	data := append([]byte(nil), s.b.Bytes()...)
	s.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not a JSON line: %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// harness is a processor on in-memory adapters: a memory idempotency store whose
// operations are counted, a recording main queue, a memory dead-letter queue, a fake
// clock and a fixed jitter draw.
type harness struct {
	t       *testing.T
	clock   *testclock.Clock
	store   *idempotency.MemoryStore
	routes  *route.Registry
	vis     *visibility
	dlq     *queue.Memory
	logs    *syncBuffer
	metrics *syncBuffer
	proc    *processor.Processor

	mu      sync.Mutex
	ops     map[string]int                // store operations by name
	fault   func(op, key string) error    // injected store fault
	results map[string][]processor.Result // observed outcomes by message id
	tokens  atomic.Int64
}

// harnessConfig tunes newHarness.
type harnessConfig struct {
	settings processor.Settings
	rand     func() float64
	level    slog.Level
	detail   telemetry.Detail // of the EMF metrics
	// breakers, when set, guard every route (its dependency is its source), and the
	// harness store gives attempts back after failed probes.
	breakers func(now func() time.Time) processor.Breakers
	// bodies, when set, is the claim-check body store.
	bodies processor.Bodies
	// limiter, when set, caps the routes that have a rate.
	limiter processor.RateLimiter
}

func newHarness(t *testing.T, tune ...func(*harnessConfig)) *harness {
	t.Helper()
	cfg := harnessConfig{
		settings: processor.Settings{RetryBase: 5 * time.Second, RetryMax: 900 * time.Second},
		rand:     fixedRand(0.5),
		level:    slog.LevelDebug,
	}
	for _, f := range tune {
		f(&cfg)
	}
	h := &harness{
		t:       t,
		clock:   newClock(),
		store:   idempotency.NewMemoryStore(),
		routes:  &route.Registry{},
		vis:     &visibility{},
		logs:    &syncBuffer{},
		metrics: &syncBuffer{},
		ops:     map[string]int{},
		results: map[string][]processor.Result{},
	}
	h.dlq = queue.NewMemory(queue.MemoryConfig{Name: "tenaz-webhooks-dlq", Now: h.clock.Now})
	h.store.SetFault(func(op, key string) error {
		h.mu.Lock()
		h.ops[op]++
		f := h.fault
		h.mu.Unlock()
		if f != nil {
			return f(op, key)
		}
		return nil
	})
	runner := idempotency.NewRunner(h.store, idempotency.Settings{
		Now:      h.clock.Now,
		NewToken: func() string { return "token-" + strconv.FormatInt(h.tokens.Add(1), 10) },
	})
	var breakers processor.Breakers
	var attempts processor.AttemptResetter
	if cfg.breakers != nil {
		breakers, attempts = cfg.breakers(h.clock.Now), h.store
	}
	h.proc = processor.New(processor.Options{
		Breakers:      breakers,
		Attempts:      attempts,
		Bodies:        cfg.bodies,
		DeadLetters:   h.store,
		Records:       h.store,
		Limiter:       cfg.limiter,
		Runner:        runner,
		Router:        h.routes,
		Visibility:    h.vis,
		DeadLetter:    h.dlq,
		Settings:      cfg.settings,
		Now:           h.clock.Now,
		Rand:          cfg.rand,
		Log:           telemetry.NewLogger(h.logs, cfg.level),
		Metrics:       h.metrics,
		MetricsDetail: cfg.detail,
		Observe: func(r processor.Result) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.results[r.MessageID] = append(h.results[r.MessageID], r)
		},
	})
	return h
}

// failStore makes store operations fail with what f returns (nil: no failure).
func (h *harness) failStore(f func(op, key string) error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fault = f
}

// storeOps returns the number of store operations made so far.
func (h *harness) storeOps() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]int, len(h.ops))
	for k, v := range h.ops {
		out[k] = v
	}
	return out
}

// route sends every event of source to handler.
func (h *harness) route(source string, handler route.Handler) {
	h.routes.Add(route.Route{Source: source, Dependency: source, Handler: handler})
}

// ctx returns an invocation context that ends invocation from now on the harness
// clock.
func (h *harness) ctx() context.Context {
	ctx, cancel := context.WithDeadline(context.Background(), h.clock.Now().Add(invocation))
	h.t.Cleanup(cancel)
	return ctx
}

// handle runs one invocation on msgs and returns the ids reported as failed.
func (h *harness) handle(msgs ...queue.Received) map[string]bool {
	h.t.Helper()
	return h.handleCtx(h.ctx(), msgs...)
}

func (h *harness) handleCtx(ctx context.Context, msgs ...queue.Received) map[string]bool {
	h.t.Helper()
	resp, err := h.proc.Handle(ctx, esm.Event(msgs, queueARN))
	if err != nil {
		h.t.Fatalf("Handle: %v", err)
	}
	failed := map[string]bool{}
	for _, f := range resp.BatchItemFailures {
		if failed[f.ItemIdentifier] {
			h.t.Fatalf("message %s reported twice in batchItemFailures", f.ItemIdentifier)
		}
		failed[f.ItemIdentifier] = true
	}
	return failed
}

// result returns the latest observed outcome of message id.
func (h *harness) result(id string) processor.Result {
	h.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	rs := h.results[id]
	if len(rs) == 0 {
		h.t.Fatalf("no outcome observed for message %s", id)
	}
	return rs[len(rs)-1]
}

// record returns the stored idempotency record of key.
func (h *harness) record(key string) idempotency.Record {
	h.t.Helper()
	h.mu.Lock()
	f := h.fault
	h.fault = nil
	h.mu.Unlock()
	defer h.failStore(f)
	r, err := h.store.Get(context.Background(), key, h.clock.Now())
	if err != nil {
		h.t.Fatalf("record %s: %v", key, err)
	}
	return r
}

// deadLetters returns the messages on the dead-letter queue.
func (h *harness) deadLetters() []queue.Received { return h.dlq.Peek(0) }

// logLines returns the log lines written so far, decoded.
func (h *harness) logLines() []map[string]any { return h.logs.lines(h.t) }

// event returns an envelope of source with provider id and a JSON body naming it.
func event(source, id, typ string) *envelope.Envelope {
	return &envelope.Envelope{
		Source:     source,
		ID:         id,
		Type:       typ,
		ReceivedAt: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
		Headers:    map[string]string{"content-type": "application/json"},
		Body:       []byte(`{"id":"` + id + `","type":"` + typ + `","data":{"amount":2000}}`),
	}
}

// delivery is message id's receive number n of e, as the main queue hands it out:
// the envelope's attributes, a receipt handle of that receive.
func delivery(t testing.TB, id string, e *envelope.Envelope, n int) queue.Received {
	t.Helper()
	body, err := envelope.Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	return raw(id, string(body), e.Attributes(), n)
}

// raw is a message with any body, sent just now (in real time, where the harness
// clock starts), so that it is well inside the main queue's retention.
func raw(id, body string, attrs map[string]string, n int) queue.Received {
	sent := time.UnixMilli(time.Now().UnixMilli())
	return queue.Received{
		ID:              id,
		ReceiptHandle:   fmt.Sprintf("rh-%s-%d", id, n),
		Body:            body,
		Attributes:      attrs,
		ReceiveCount:    n,
		SentAt:          sent,
		FirstReceivedAt: sent.Add(100 * time.Millisecond),
		SenderID:        "AROAEXAMPLE:ingest",
	}
}

// effects is a route handler that performs one effect per call unless told to fail:
// it answers the errors of script in order, then succeeds with result.
type effects struct {
	mu     sync.Mutex
	calls  int
	done   map[string]int // effects per idempotency key
	bodies []string       // bodies handled, in order
	script []error
	result []byte
	before func(ctx context.Context, e *envelope.Envelope, a *idempotency.Attempt)
}

func newEffects(script ...error) *effects {
	return &effects{done: map[string]int{}, script: script}
}

func (f *effects) Handle(ctx context.Context, e *envelope.Envelope, a *idempotency.Attempt) ([]byte, error) {
	if f.before != nil {
		f.before(ctx, e, a)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.bodies = append(f.bodies, string(e.Body))
	if len(f.script) > 0 {
		err := f.script[0]
		f.script = f.script[1:]
		if err != nil {
			return nil, err
		}
	}
	f.done[e.Key()]++
	return f.result, nil
}

func (f *effects) count() (calls int, done map[string]int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := make(map[string]int, len(f.done))
	for k, v := range f.done {
		d[k] = v
	}
	return f.calls, d
}

// errTransient is a handler failure that a retry may fix.
var errTransient = errors.New("destination answered HTTP 500")

// contains fails unless s contains want.
func contains(t *testing.T, what, s, want string) {
	t.Helper()
	if !strings.Contains(s, want) {
		t.Fatalf("%s = %q, want it to contain %q", what, s, want)
	}
}
