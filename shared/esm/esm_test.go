package esm_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tenaz/tenaz/shared/esm"
	"github.com/tenaz/tenaz/shared/internal/testclock"
	"github.com/tenaz/tenaz/shared/queue"
)

var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestEventMatchesLambda(t *testing.T) {
	t.Parallel()
	msgs := []queue.Received{
		{
			ID:              "059f36b4-87a3-44ab-83d2-661975830a7d",
			ReceiptHandle:   "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a",
			Body:            `{"v":1,"source":"stripe"}`,
			Attributes:      map[string]string{"source": "stripe", "type": "payment_intent.succeeded"},
			ReceiveCount:    2,
			SentAt:          time.UnixMilli(1545082649183),
			FirstReceivedAt: time.UnixMilli(1545082649185),
			SenderID:        "AIDAIENQZJOLO23YVJ4VO",
		},
		{
			ID:              "2e1424d4-f796-459a-8184-9c92662be6da",
			ReceiptHandle:   "AQEBzWwaftRI0KuVm4tP+/7q1rGgNqicHq",
			Body:            "plain",
			ReceiveCount:    1,
			SentAt:          time.UnixMilli(1545082650636),
			FirstReceivedAt: time.UnixMilli(1545082650649),
			SenderID:        "AIDAIENQZJOLO23YVJ4VO",
		},
	}
	got, err := json.Marshal(esm.Event(msgs, "arn:aws:sqs:us-west-2:123456789012:tenaz-webhooks"))
	if err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile("testdata/sqs-event.json")
	if err != nil {
		t.Fatal(err)
	}
	var gotV, wantV any
	if err := json.Unmarshal(got, &gotV); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(golden, &wantV); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotV, wantV) {
		t.Fatalf("event differs from testdata/sqs-event.json:\n%s", got)
	}
	// The golden event round-trips through the events types unchanged.
	var ev events.SQSEvent
	if err := json.Unmarshal(golden, &ev); err != nil {
		t.Fatal(err)
	}
	again, _ := json.Marshal(ev)
	var againV any
	_ = json.Unmarshal(again, &againV)
	if !reflect.DeepEqual(againV, wantV) {
		t.Fatalf("golden event does not round-trip:\n%s", again)
	}
}

// fixture is an in-memory queue on a fake clock with a default visibility of 30 s.
type fixture struct {
	clock *testclock.Clock
	q     *queue.Memory
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	clock := testclock.New(epoch)
	return fixture{clock: clock, q: queue.NewMemory(queue.MemoryConfig{Name: "webhooks", Now: clock.Now})}
}

func (f fixture) send(t *testing.T, bodies ...string) map[string]string {
	t.Helper()
	ids := map[string]string{}
	for _, b := range bodies {
		id, err := f.q.Send(context.Background(), queue.Message{Body: b, Attributes: map[string]string{"source": "test"}})
		if err != nil {
			t.Fatal(err)
		}
		ids[b] = id
	}
	return ids
}

func (f fixture) afterVisibility() {
	f.clock.Advance(queue.DefaultVisibilityTimeout)
	f.q.Wake()
}

func (f fixture) depth(t *testing.T) queue.Depth {
	t.Helper()
	d, err := f.q.Depth(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func newPoller(t *testing.T, o esm.Options) *esm.Poller {
	t.Helper()
	if o.PollWait == 0 {
		o.PollWait = 50 * time.Millisecond
	}
	o.Log = slog.New(slog.DiscardHandler)
	p, err := esm.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func pollOnce(t *testing.T, p *esm.Poller) esm.Report {
	t.Helper()
	rep, err := p.PollOnce(context.Background())
	if err != nil {
		t.Fatalf("poll: %v", err)
	}
	return rep
}

// failBodies is a function that reports the records with the given bodies as failed.
func failBodies(seen *[]events.SQSEvent, bodies ...string) esm.Invoke {
	return func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		*seen = append(*seen, ev)
		var resp events.SQSEventResponse
		for _, r := range ev.Records {
			if slices.Contains(bodies, r.Body) {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
			}
		}
		return resp, nil
	}
}

func TestPartialBatchFailure(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ids := f.send(t, "a", "b", "c", "d", "e")
	var seen []events.SQSEvent
	p := newPoller(t, esm.Options{Queue: f.q, Invoke: failBodies(&seen, "b", "d")})

	rep := pollOnce(t, p)
	if rep.Records != 5 || rep.Deleted != 3 || rep.Failed != 2 || rep.InvokeErr != nil {
		t.Fatalf("report %+v, want 5 records, 3 deleted, 2 failed", rep)
	}
	ev := seen[0]
	for _, r := range ev.Records {
		switch {
		case r.MessageId != ids[r.Body]:
			t.Errorf("record %q has id %s, want %s", r.Body, r.MessageId, ids[r.Body])
		case r.EventSourceARN != "arn:aws:sqs:us-east-1:000000000000:webhooks" || r.AWSRegion != "us-east-1":
			t.Errorf("record source %s in %s", r.EventSourceARN, r.AWSRegion)
		case r.Attributes["ApproximateReceiveCount"] != "1" || r.Attributes["SentTimestamp"] != strconv.FormatInt(epoch.UnixMilli(), 10):
			t.Errorf("record attributes %v", r.Attributes)
		case r.MessageAttributes["source"].StringValue == nil || *r.MessageAttributes["source"].StringValue != "test":
			t.Errorf("record message attributes %v", r.MessageAttributes)
		}
	}
	if d := f.depth(t); d != (queue.Depth{InFlight: 2}) {
		t.Fatalf("depth after the batch %+v, want the 2 failed records in flight", d)
	}

	f.afterVisibility()
	rep = pollOnce(t, p)
	var again []string
	for _, r := range seen[1].Records {
		again = append(again, r.Body)
		if r.Attributes["ApproximateReceiveCount"] != "2" {
			t.Errorf("redelivered %q with count %s, want 2", r.Body, r.Attributes["ApproximateReceiveCount"])
		}
	}
	slices.Sort(again)
	if !slices.Equal(again, []string{"b", "d"}) || rep.Failed != 2 {
		t.Fatalf("redelivered %v (report %+v), want exactly the failed b and d", again, rep)
	}
	if s := p.Stats(); s.Batches != 2 || s.Records != 7 || s.Deleted != 3 || s.Failed != 4 || s.InvokeErrors != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestFailedInvocationDeletesNothing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		invoke esm.Invoke
	}{
		{"error", func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
			return events.SQSEventResponse{}, errors.New("handler crashed")
		}},
		{"panic", func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
			panic("nil map")
		}},
		{"timeout honouring ctx", func(ctx context.Context, _ events.SQSEvent) (events.SQSEventResponse, error) {
			<-ctx.Done()
			return events.SQSEventResponse{}, ctx.Err()
		}},
		{"timeout ignoring ctx", func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
			time.Sleep(300 * time.Millisecond)
			return events.SQSEventResponse{}, nil
		}},
		{"unknown itemIdentifier", func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
			return events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{{ItemIdentifier: "not-in-batch"}}}, nil
		}},
		{"empty itemIdentifier", func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
			return events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{{ItemIdentifier: ""}}}, nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			ids := f.send(t, "a", "b", "c")
			p := newPoller(t, esm.Options{Queue: f.q, Invoke: tt.invoke, InvokeTimeout: 100 * time.Millisecond})
			rep := pollOnce(t, p)
			if rep.InvokeErr == nil || rep.Deleted != 0 || rep.Failed != 3 || rep.DeleteErrors != 0 {
				t.Fatalf("report %+v, want a failed invocation with nothing deleted", rep)
			}
			if d := f.depth(t); d != (queue.Depth{InFlight: 3}) {
				t.Fatalf("depth %+v, want all 3 in flight", d)
			}
			f.afterVisibility()
			var seen []events.SQSEvent
			p = newPoller(t, esm.Options{Queue: f.q, Invoke: failBodies(&seen)})
			if rep := pollOnce(t, p); rep.Deleted != 3 {
				t.Fatalf("second attempt %+v, want all 3 deleted", rep)
			}
			for _, r := range seen[0].Records {
				if r.MessageId != ids[r.Body] || r.Attributes["ApproximateReceiveCount"] != "2" {
					t.Errorf("redelivered %q as %s count %s", r.Body, r.MessageId, r.Attributes["ApproximateReceiveCount"])
				}
			}
			if s := p.Stats(); s.InvokeErrors != 0 {
				t.Fatalf("stats of the second poller %+v", s)
			}
		})
	}
}

func TestInvokeGetsDeadline(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.send(t, "a")
	var left time.Duration
	p := newPoller(t, esm.Options{Queue: f.q, InvokeTimeout: 5 * time.Second, Invoke: func(ctx context.Context, _ events.SQSEvent) (events.SQSEventResponse, error) {
		d, ok := ctx.Deadline()
		if !ok {
			return events.SQSEventResponse{}, errors.New("no deadline")
		}
		left = time.Until(d)
		return events.SQSEventResponse{}, nil
	}})
	if rep := pollOnce(t, p); rep.InvokeErr != nil {
		t.Fatal(rep.InvokeErr)
	}
	if left <= 4*time.Second || left > 5*time.Second {
		t.Fatalf("the invocation had %v left, want just under the 5 s timeout", left)
	}
}

func TestBatchSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		batchSize int
		window    time.Duration
		sent      int
		want      []int // records per invocation
	}{
		{"default 10", 0, 0, 25, []int{10, 10, 5}},
		{"4", 4, 0, 10, []int{4, 4, 2}},
		{"1", 1, 0, 2, []int{1, 1}},
		{"25 with a window", 25, 200 * time.Millisecond, 60, []int{25, 25, 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			for i := range tt.sent {
				f.send(t, fmt.Sprintf("m%d", i))
			}
			var seen []events.SQSEvent
			p := newPoller(t, esm.Options{Queue: f.q, Invoke: failBodies(&seen), BatchSize: tt.batchSize, BatchingWindow: tt.window})
			var sizes []int
			for {
				rep := pollOnce(t, p)
				if rep.Records == 0 {
					break
				}
				sizes = append(sizes, rep.Records)
			}
			if !slices.Equal(sizes, tt.want) {
				t.Fatalf("batches of %v, want %v", sizes, tt.want)
			}
			if d := f.depth(t); d.Total() != 0 {
				t.Fatalf("depth %+v after all batches succeeded", d)
			}
		})
	}
}

func TestBatchingWindowGathers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.send(t, "early-1", "early-2")
	go func() {
		time.Sleep(100 * time.Millisecond)
		f.send(t, "late")
	}()
	var seen []events.SQSEvent
	p := newPoller(t, esm.Options{Queue: f.q, Invoke: failBodies(&seen), BatchSize: 20, BatchingWindow: 400 * time.Millisecond})
	start := time.Now()
	rep := pollOnce(t, p)
	elapsed := time.Since(start)
	if rep.Records != 3 {
		t.Fatalf("one batch of %d records, want the 2 early and the late one", rep.Records)
	}
	if elapsed < 350*time.Millisecond || elapsed > 3*time.Second {
		t.Fatalf("the window of 400 ms closed after %v", elapsed)
	}
}

func TestDeleteFailureLeavesRecords(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.send(t, "a", "b")
	f.q.FailNext(queue.OpDelete, 1, errors.New("connection reset"))
	var seen []events.SQSEvent
	p := newPoller(t, esm.Options{Queue: f.q, Invoke: failBodies(&seen)})
	if rep := pollOnce(t, p); rep.DeleteErrors != 2 || rep.Deleted != 0 || rep.InvokeErr != nil {
		t.Fatalf("report %+v, want 2 delete errors", rep)
	}
	f.afterVisibility()
	if rep := pollOnce(t, p); rep.Records != 2 || rep.Deleted != 2 {
		t.Fatalf("second batch %+v, want both back and deleted", rep)
	}
}

func TestRunConcurrentAndStops(t *testing.T) {
	t.Parallel()
	const n, pollers = 200, 4
	f := newFixture(t)
	for i := range n {
		f.send(t, strconv.Itoa(i))
	}
	var (
		mu        sync.Mutex
		processed = map[string]int{}
		running   atomic.Int32
		peak      atomic.Int32
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := newPoller(t, esm.Options{Queue: f.q, Concurrency: pollers, BatchSize: 5, Observe: func(r esm.Report) {
		if r.Deleted > 0 {
			mu.Lock()
			defer mu.Unlock()
			if len(processed) == n {
				cancel()
			}
		}
	}, Invoke: func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		now := running.Add(1)
		defer running.Add(-1)
		for {
			old := peak.Load()
			if now <= old || peak.CompareAndSwap(old, now) {
				break
			}
		}
		time.Sleep(2 * time.Millisecond)
		mu.Lock()
		for _, r := range ev.Records {
			processed[r.Body]++
		}
		mu.Unlock()
		return events.SQSEventResponse{}, nil
	}})
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run did not stop after the context was cancelled")
	}
	if len(processed) != n {
		t.Fatalf("processed %d messages, want %d", len(processed), n)
	}
	for b, c := range processed {
		if c != 1 {
			t.Fatalf("%s processed %d times", b, c)
		}
	}
	if got := peak.Load(); got > pollers {
		t.Fatalf("%d invocations at once with %d pollers", got, pollers)
	}
	t.Logf("peak concurrent invocations: %d of %d pollers", peak.Load(), pollers)
	if s := p.Stats(); s.Deleted != n || s.Records != n {
		t.Fatalf("stats %+v", s)
	}
	if d := f.depth(t); d.Total() != 0 {
		t.Fatalf("depth %+v", d)
	}
}

func TestRunFinishesTheBatchInFlight(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.send(t, "a")
	started, release := make(chan struct{}), make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	p := newPoller(t, esm.Options{Queue: f.q, Invoke: func(ctx context.Context, _ events.SQSEvent) (events.SQSEventResponse, error) {
		close(started)
		<-release
		return events.SQSEventResponse{}, ctx.Err()
	}})
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	<-started
	cancel()
	select {
	case <-done:
		t.Fatal("run returned while an invocation was in flight")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	if d := f.depth(t); d.Total() != 0 {
		t.Fatalf("depth %+v: the batch in flight at shutdown was not deleted", d)
	}
}

func TestRunRetriesReceiveErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.send(t, "a")
	f.q.FailNext(queue.OpReceive, 2, errors.New("connection refused"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p := newPoller(t, esm.Options{Queue: f.q, ErrorBackoff: 10 * time.Millisecond,
		Observe: func(esm.Report) { cancel() },
		Invoke: func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
			return events.SQSEventResponse{}, nil
		}})
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if s := p.Stats(); s.ReceiveErrors != 2 || s.Deleted != 1 {
		t.Fatalf("stats %+v, want 2 receive errors then the message deleted", s)
	}
}

// plainQueue is a Queue without an ARN method.
type plainQueue struct{ esm.Queue }

func TestNewValidates(t *testing.T) {
	t.Parallel()
	q := queue.NewMemory(queue.MemoryConfig{})
	inv := func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
		return events.SQSEventResponse{}, nil
	}
	tests := []struct {
		name string
		o    esm.Options
		ok   bool
	}{
		{"defaults", esm.Options{Queue: q, Invoke: inv}, true},
		{"no queue", esm.Options{Invoke: inv}, false},
		{"no invoke", esm.Options{Queue: q}, false},
		{"batch 11 without window", esm.Options{Queue: q, Invoke: inv, BatchSize: 11}, false},
		{"batch 10000 with window", esm.Options{Queue: q, Invoke: inv, BatchSize: 10000, BatchingWindow: time.Second}, true},
		{"batch 10001", esm.Options{Queue: q, Invoke: inv, BatchSize: 10001, BatchingWindow: time.Second}, false},
		{"window over 5 min", esm.Options{Queue: q, Invoke: inv, BatchingWindow: 6 * time.Minute}, false},
		{"poll wait over 20 s", esm.Options{Queue: q, Invoke: inv, PollWait: 21 * time.Second}, false},
		{"no ARN anywhere", esm.Options{Queue: plainQueue{q}, Invoke: inv}, false},
		{"ARN given", esm.Options{Queue: plainQueue{q}, Invoke: inv, EventSourceARN: "arn:aws:sqs:eu-west-1:1:q"}, true},
	}
	for _, tt := range tests {
		if _, err := esm.New(tt.o); (err == nil) != tt.ok {
			t.Errorf("%s: err %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}
