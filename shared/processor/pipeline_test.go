package processor_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/esm"
	"github.com/tenaz/tenaz/shared/forward"
	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/internal/testclock"
	"github.com/tenaz/tenaz/shared/processor"
	"github.com/tenaz/tenaz/shared/queue"
	"github.com/tenaz/tenaz/shared/route"
)

// destination is an HTTP endpoint that answers a scripted sequence of status codes
// (then 200) and counts effects the way a destination honouring Idempotency-Key
// would: a 2xx applies a key once, however often it is sent.
type destination struct {
	*httptest.Server
	mu       sync.Mutex
	script   []int
	requests int
	applied  map[string]int // 2xx answers per Idempotency-Key
}

func newDestination(t *testing.T, script ...int) *destination {
	t.Helper()
	d := &destination{script: script, applied: map[string]int{}}
	d.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		d.mu.Lock()
		defer d.mu.Unlock()
		d.requests++
		code := http.StatusOK
		if len(d.script) > 0 {
			code, d.script = d.script[0], d.script[1:]
		}
		if code < 300 {
			d.applied[r.Header.Get(forward.HeaderIdempotencyKey)]++
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(d.Close)
	return d
}

func (d *destination) counts() (requests int, applied map[string]int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	a := make(map[string]int, len(d.applied))
	for k, v := range d.applied {
		a[k] = v
	}
	return d.requests, a
}

// pipeline is the processor behind an event source mapping on in-memory queues, all
// on one fake clock. The invocation deadline is on the real clock (the poller's
// InvokeTimeout), so a test keeps the fake clock's lead over it well below that.
type pipeline struct {
	clock     *testclock.Clock
	main, dlq *queue.Memory
	store     *idempotency.MemoryStore
	poller    *esm.Poller
}

func newPipeline(t *testing.T, h route.Handler) *pipeline {
	t.Helper()
	p := &pipeline{clock: newClock(), store: idempotency.NewMemoryStore()}
	p.dlq = queue.NewMemory(queue.MemoryConfig{Name: "dlq", Now: p.clock.Now})
	p.main = queue.NewMemory(queue.MemoryConfig{Name: "main", VisibilityTimeout: 30 * time.Second, MaxReceiveCount: 5, DeadLetter: p.dlq, Now: p.clock.Now})
	reg := &route.Registry{}
	reg.Add(route.Route{Source: "stripe", Handler: h})
	log := slog.New(slog.DiscardHandler)
	proc := processor.New(processor.Options{
		Runner:     idempotency.NewRunner(p.store, idempotency.Settings{Now: p.clock.Now}),
		Router:     reg,
		Visibility: p.main,
		DeadLetter: p.dlq,
		Settings:   processor.Settings{RetryBase: 4 * time.Second, RetryMax: time.Minute},
		Now:        p.clock.Now,
		Rand:       fixedRand(0.5),
		Log:        log,
	})
	var err error
	p.poller, err = esm.New(esm.Options{
		Queue: p.main, Invoke: proc.Handle,
		PollWait: time.Millisecond, InvokeTimeout: 10 * time.Minute, Log: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *pipeline) send(t *testing.T, e *envelope.Envelope) {
	t.Helper()
	body, err := envelope.Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.main.Send(context.Background(), queue.Message{Body: string(body), Attributes: e.Attributes()}); err != nil {
		t.Fatal(err)
	}
}

// poll runs the event source mapping once.
func (p *pipeline) poll(t *testing.T) esm.Report {
	t.Helper()
	rep, err := p.poller.PollOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// next moves the clock to when the next message on the main queue is visible and
// polls once. It fails if nothing is waiting.
func (p *pipeline) next(t *testing.T, within time.Duration) esm.Report {
	t.Helper()
	for waited := time.Duration(0); waited <= within; waited += time.Second {
		if rep := p.poll(t); rep.Records > 0 {
			return rep
		}
		p.clock.Advance(time.Second)
	}
	t.Fatalf("no message became visible within %v", within)
	return esm.Report{}
}

func TestPipelineRetriesThroughVisibilityAndDeliversOnce(t *testing.T) {
	t.Parallel()
	dest := newDestination(t, 500, 500, 200)
	p := newPipeline(t, forward.New(dest.URL, time.Second, nil))
	e := event("stripe", "evt_e2e", "invoice.paid")
	p.send(t, e)

	// 1st receive: 500 → visible again after 0.5 · 4 s = 2 s.
	if rep := p.poll(t); rep.Records != 1 || rep.Failed != 1 {
		t.Fatalf("first poll %+v, want one failed record", rep)
	}
	if rep := p.poll(t); rep.Records != 0 {
		t.Fatalf("the retried message came back before its backoff: %+v", rep)
	}
	p.clock.Advance(1999 * time.Millisecond)
	if rep := p.poll(t); rep.Records != 0 {
		t.Fatalf("the retried message came back before its backoff: %+v", rep)
	}
	p.clock.Advance(time.Millisecond)
	// 2nd receive: 500 → after 0.5 · 8 s = 4 s. 3rd: 200.
	if rep := p.poll(t); rep.Records != 1 || rep.Failed != 1 {
		t.Fatalf("second poll %+v, want one failed record", rep)
	}
	p.clock.Advance(4 * time.Second)
	if rep := p.poll(t); rep.Records != 1 || rep.Deleted != 1 {
		t.Fatalf("third poll %+v, want the record delivered and deleted", rep)
	}

	// The provider sends the event again later: absorbed without a request.
	p.send(t, e)
	if rep := p.poll(t); rep.Deleted != 1 {
		t.Fatalf("provider resend: %+v, want it deleted as a duplicate", rep)
	}

	requests, applied := dest.counts()
	if requests != 3 || len(applied) != 1 || applied[e.Key()] != 1 {
		t.Fatalf("destination requests %d, applied %v; want 3 requests and one effect", requests, applied)
	}
	st := p.main.Snapshot()
	if st.Total() != 0 || st.Deleted != 2 || st.MovedToDLQ != 0 {
		t.Fatalf("main queue %+v, want empty with 2 deletes", st)
	}
	if n := len(p.dlq.Peek(0)); n != 0 {
		t.Fatalf("%d dead letters, want none", n)
	}
	rec, err := p.store.Get(context.Background(), e.Key(), p.clock.Now())
	if err != nil || rec.Status != idempotency.StatusCompleted || rec.Attempts != 3 {
		t.Fatalf("record %+v (%v), want COMPLETED after 3 attempts", rec, err)
	}
}

func TestPipelineLostDeleteIsAbsorbed(t *testing.T) {
	t.Parallel()
	dest := newDestination(t)
	p := newPipeline(t, forward.New(dest.URL, time.Second, nil))
	e := event("stripe", "evt_lost_delete", "invoice.paid")
	p.send(t, e)
	p.main.FailNext(queue.OpDelete, 1, errors.New("connection reset"))

	if rep := p.poll(t); rep.Records != 1 || rep.DeleteErrors != 1 {
		t.Fatalf("first poll %+v, want the delete to fail", rep)
	}
	// SQS delivers the same message again after its visibility timeout.
	rep := p.next(t, time.Minute)
	if rep.Deleted != 1 {
		t.Fatalf("redelivery %+v, want it deleted", rep)
	}
	if requests, applied := dest.counts(); requests != 1 || applied[e.Key()] != 1 {
		t.Fatalf("destination requests %d, applied %v; want exactly one", requests, applied)
	}
	if st := p.main.Snapshot(); st.Total() != 0 || st.Received != 2 {
		t.Fatalf("main queue %+v, want empty after 2 receives", st)
	}
}

func TestPipelinePermanentFailureEndsInTheDeadLetterQueue(t *testing.T) {
	t.Parallel()
	dest := newDestination(t, 500, 410)
	p := newPipeline(t, forward.New(dest.URL, time.Second, nil))
	e := event("stripe", "evt_gone", "invoice.paid")
	p.send(t, e)

	p.poll(t)
	rep := p.next(t, time.Minute)
	if rep.Deleted != 1 {
		t.Fatalf("second delivery %+v, want it deleted after dead-lettering", rep)
	}
	dl := p.dlq.Peek(0)
	if len(dl) != 1 || dl[0].Attributes[envelope.AttrReason] != envelope.ReasonPermanent || dl[0].Attributes[envelope.AttrAttempts] != "2" {
		t.Fatalf("dead letters %+v, want one, permanent after 2 attempts", dl)
	}
	got, err := envelope.Decode([]byte(dl[0].Body))
	if err != nil || got.Key() != e.Key() || string(got.Body) != string(e.Body) {
		t.Fatalf("dead letter body does not decode to the event: %v", err)
	}
	if st := p.main.Snapshot(); st.Total() != 0 || st.MovedToDLQ != 0 {
		t.Fatalf("main queue %+v: want empty, nothing moved by the redrive policy", st)
	}
}
