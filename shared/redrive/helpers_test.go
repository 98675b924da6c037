package redrive_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/internal/testclock"
	"github.com/tenaz/tenaz/shared/queue"
	"github.com/tenaz/tenaz/shared/redrive"
)

// base is when the sample events were received.
var base = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// harness is a main queue and its dead-letter queue in memory on a fake clock, an
// idempotency store, and a fake sleep that moves the clock.
type harness struct {
	clock *testclock.Clock
	main  *queue.Memory
	dlq   *queue.Memory
	store *idempotency.MemoryStore
	calls *counting // the dead-letter queue and the main queue, counting calls

	mu    sync.Mutex
	slept []time.Duration
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	// The clock starts at the real time, so that contexts with a deadline taken from
	// it neither end at once nor never.
	c := testclock.New(time.UnixMilli(time.Now().UnixMilli()))
	h := &harness{
		clock: c,
		main:  queue.NewMemory(queue.MemoryConfig{Name: "webhooks", Now: c.Now}),
		dlq:   queue.NewMemory(queue.MemoryConfig{Name: "webhooks-dlq", Now: c.Now}),
		store: idempotency.NewMemoryStore(),
	}
	h.calls = &counting{dlq: h.dlq, main: h.main, now: c.Now, calls: map[string]int{}}
	return h
}

// sleep is the redriver's Sleep: it records d and moves the clock by d.
func (h *harness) sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	h.mu.Lock()
	h.slept = append(h.slept, d)
	h.mu.Unlock()
	h.clock.Advance(d)
	return nil
}

func (h *harness) totalSlept() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	var total time.Duration
	for _, d := range h.slept {
		total += d
	}
	return total
}

// redriver returns a Redriver on the harness's queues (through the counting
// wrapper) and store; edit changes the options first.
func (h *harness) redriver(edit func(*redrive.Options)) *redrive.Redriver {
	o := redrive.Options{
		DLQ:    h.calls,
		Queue:  h.calls.sender(),
		Budget: h.store,
		Settings: redrive.Settings{
			// The in-memory queue long-polls on a real timer: keep empty receives short.
			ReceiveWait: time.Millisecond,
		},
		Now:   h.clock.Now,
		Sleep: h.sleep,
	}
	if edit != nil {
		edit(&o)
	}
	return redrive.New(o)
}

// event returns a sample envelope received at base + minutes.
func event(source, id, typ string, minutes int) *envelope.Envelope {
	return &envelope.Envelope{
		Source:     source,
		ID:         id,
		Type:       typ,
		ReceivedAt: base.Add(time.Duration(minutes) * time.Minute),
		Headers:    map[string]string{"content-type": "application/json"},
		Body:       []byte(fmt.Sprintf(`{"id":%q,"type":%q}`, id, typ)),
	}
}

// deadLetter puts e on the dead-letter queue the way the processor does: the
// envelope's attributes, the dead-letter ones, and extra (which may override them).
func (h *harness) deadLetter(t *testing.T, e *envelope.Envelope, extra map[string]string) string {
	t.Helper()
	body, err := envelope.Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	attrs := e.Attributes()
	attrs[envelope.AttrReason] = envelope.ReasonExhausted
	attrs[envelope.AttrLastError] = "forward: POST https://orders.internal/hooks: 503 Service Unavailable"
	attrs[envelope.AttrAttempts] = "8"
	attrs[envelope.AttrFailedAt] = h.clock.Now().UTC().Format(time.RFC3339)
	maps.Copy(attrs, extra)
	for k, v := range extra {
		if v == "" {
			delete(attrs, k)
		}
	}
	return h.sendRaw(t, h.dlq, string(body), attrs)
}

func (h *harness) sendRaw(t *testing.T, q *queue.Memory, body string, attrs map[string]string) string {
	t.Helper()
	id, err := q.Send(context.Background(), queue.Message{Body: body, Attributes: attrs})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// stored is a message as it sits in a queue, without what receiving changes.
type stored struct {
	ID    string
	Body  string
	Attrs map[string]string
}

func contents(q *queue.Memory) []stored {
	var out []stored
	for _, m := range q.Peek(0) {
		out = append(out, stored{ID: m.ID, Body: m.Body, Attrs: m.Attributes})
	}
	return out
}

// keysOn returns the idempotency keys of the envelopes on q, sorted.
func keysOn(t *testing.T, q *queue.Memory) []string {
	t.Helper()
	var keys []string
	for _, m := range q.Peek(0) {
		e, err := envelope.Decode([]byte(m.Body))
		if err != nil {
			t.Fatalf("message %s on %s: %v", m.ID, q.Name(), err)
		}
		keys = append(keys, e.Key())
	}
	slices.Sort(keys)
	return keys
}

// allVisible fails unless every message of q is visible (released, not held).
func allVisible(t *testing.T, q *queue.Memory) {
	t.Helper()
	s := q.Snapshot()
	if s.InFlight != 0 || s.Delayed != 0 {
		t.Fatalf("%s: %d in flight and %d delayed after the run, want all %d visible", q.Name(), s.InFlight, s.Delayed, s.Depth.Total())
	}
}

func run(t *testing.T, r *redrive.Redriver, req redrive.Request) redrive.Report {
	t.Helper()
	rep, err := r.Run(context.Background(), req)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	checkPartition(t, rep)
	return rep
}

// checkPartition fails unless every message seen counts in exactly one outcome.
func checkPartition(t *testing.T, rep redrive.Report) {
	t.Helper()
	c := rep.Counts
	if c.Seen != c.Undecodable+c.Skipped+c.Matched {
		t.Errorf("seen %d != undecodable %d + skipped %d + matched %d", c.Seen, c.Undecodable, c.Skipped, c.Matched)
	}
	if sum := c.OverLimit + c.Newer + c.Moved + c.DryRun + c.SendFailed + c.DeleteFailed + c.ResetFailed + c.BodyMissing + c.BodyFailed + c.Left; c.Matched != sum {
		t.Errorf("matched %d != sum of its outcomes %d (%+v)", c.Matched, sum, c)
	}
	for name, m := range map[string]map[string]int{"bySource": rep.BySource, "byType": rep.ByType, "byError": rep.ByError} {
		n := 0
		for _, v := range m {
			n += v
		}
		if n != c.Seen {
			t.Errorf("%s adds up to %d, seen %d", name, n, c.Seen)
		}
	}
}

// counting passes calls to the queues and counts them, so that tests check the
// report's request counts against calls that really happened.
type counting struct {
	dlq, main *queue.Memory
	now       func() time.Time

	mu        sync.Mutex
	calls     map[string]int
	sendTimes []time.Time // clock time of each SendBatch
	sendSizes []int
}

func (c *counting) add(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[name]++
}

func (c *counting) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.calls {
		n += v
	}
	return n
}

func (c *counting) Receive(ctx context.Context, max int, wait, vis time.Duration) ([]queue.Received, error) {
	c.add("ReceiveMessage")
	return c.dlq.Receive(ctx, max, wait, vis)
}

func (c *counting) DeleteBatch(ctx context.Context, hs []string) ([]queue.BatchResult, error) {
	c.add("DeleteMessageBatch")
	return c.dlq.DeleteBatch(ctx, hs)
}

func (c *counting) ChangeVisibilityBatch(ctx context.Context, cs []queue.VisibilityChange) ([]queue.BatchResult, error) {
	c.add("ChangeMessageVisibilityBatch")
	return c.dlq.ChangeVisibilityBatch(ctx, cs)
}

type sender struct{ c *counting }

func (c *counting) sender() redrive.Sender { return sender{c} }

func (s sender) SendBatch(ctx context.Context, ms []queue.Message) ([]queue.BatchResult, error) {
	s.c.add("SendMessageBatch")
	s.c.mu.Lock()
	s.c.sendTimes = append(s.c.sendTimes, s.c.now())
	s.c.sendSizes = append(s.c.sendSizes, len(ms))
	s.c.mu.Unlock()
	return s.c.main.SendBatch(ctx, ms)
}

// errThrottled is a retryable SQS failure.
var errThrottled = &queue.Error{Op: "test", Code: queue.CodeThrottling, Retryable: true, Err: errors.New("rate exceeded")}

// errNoQueue is a permanent SQS failure.
var errNoQueue = &queue.Error{Op: "test", Code: queue.CodeQueueDoesNotExist, Err: errors.New("the queue does not exist")}
