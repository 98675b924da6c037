//go:build integration

package e2e

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tenaz/tenaz/shared/config"
	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/esm"
	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/internal/lambdatest"
	"github.com/tenaz/tenaz/shared/processor"
	"github.com/tenaz/tenaz/shared/queue"
	"github.com/tenaz/tenaz/shared/redrive"
	"github.com/tenaz/tenaz/shared/route"
)

// The ways back from the dead-letter queue besides a filtered replay (replay_test.go):
// SQS's own console redrive, which moves a message as it is; the fresh attempt budget
// that only the redrive function gives; the redrive limit across round trips through
// the processor; and a replay that meets the copy a crashed replay left running.
// Every test runs the real ingest, processor and redrive bootstraps.

// startRedriveWith runs the redrive bootstrap on the pipeline's queues and table, with
// env added after those settings (so a setting in env replaces one of them).
func (p *pipeline) startRedriveWith(env ...string) *lambdatest.Function {
	p.t.Helper()
	all := append(awsEnv(p.t), "TENAZ_QUEUE_URL="+p.main.URL(), config.EnvDLQURL+"="+p.dlq.URL(),
		config.EnvIdempotencyTable+"="+p.store.Table())
	return lambdatest.Start(p.t, "redrive", lambdatest.Build(p.t, "./functions/redrive"), 30*time.Second, append(all, env...)...)
}

// takeDeadLetters receives the n messages of the dead-letter queue and keeps them
// invisible for a minute; it fails the test unless exactly n are there.
func takeDeadLetters(t *testing.T, p *pipeline, n int) []queue.Received {
	t.Helper()
	ctx := context.Background()
	var got []queue.Received
	waitFor(t, settle, "the dead letters", func() bool {
		ms, err := p.dlq.Receive(ctx, queue.MaxBatch, 0, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ms...)
		return len(got) >= n
	})
	if len(got) != n || p.dlqDepth() != n {
		t.Fatalf("the dead-letter queue holds %d messages (received %d), want %d", p.dlqDepth(), len(got), n)
	}
	return got
}

// deadLetters returns the n messages of the dead-letter queue and leaves them there,
// visible again.
func deadLetters(t *testing.T, p *pipeline, n int) []queue.Received {
	t.Helper()
	ms := takeDeadLetters(t, p, n)
	changes := make([]queue.VisibilityChange, len(ms))
	for i, m := range ms {
		changes[i] = queue.VisibilityChange{ReceiptHandle: m.ReceiptHandle}
	}
	res, err := p.dlq.ChangeVisibilityBatch(context.Background(), changes)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	return ms
}

// consoleRedrive does what "Start DLQ redrive" in the SQS console does with the one
// message of the dead-letter queue: the main queue gets the same body and attributes
// (dead-letter ones included) under a new message id, and the message leaves the
// dead-letter queue. It returns the dead letter and the new message id.
func consoleRedrive(t *testing.T, p *pipeline) (queue.Received, string) {
	t.Helper()
	ctx := context.Background()
	m := takeDeadLetters(t, p, 1)[0]
	id, err := p.main.Send(ctx, queue.Message{Body: m.Body, Attributes: m.Attributes})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.dlq.Delete(ctx, m.ReceiptHandle); err != nil {
		t.Fatal(err)
	}
	if id == "" || id == m.ID {
		t.Fatalf("console redrive: new message id %q, dead letter %q: want a new id", id, m.ID)
	}
	return m, id
}

// handedOver records every SQS message the poller hands to the processor.
type handedOver struct {
	mu   sync.Mutex
	msgs []events.SQSMessage
}

func (h *handedOver) wrap(invoke esm.Invoke) esm.Invoke {
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		h.mu.Lock()
		h.msgs = append(h.msgs, ev.Records...)
		h.mu.Unlock()
		return invoke(ctx, ev)
	}
}

// ids returns the distinct message ids handed over, in order of first arrival.
func (h *handedOver) ids() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, m := range h.msgs {
		if !slices.Contains(out, m.MessageId) {
			out = append(out, m.MessageId)
		}
	}
	return out
}

// message returns the first message handed over with id.
func (h *handedOver) message(t *testing.T, id string) events.SQSMessage {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range h.msgs {
		if m.MessageId == id {
			return m
		}
	}
	t.Fatalf("message %s never reached the processor", id)
	return events.SQSMessage{}
}

// stringAttrs are a record's message attributes with a string value.
func stringAttrs(m events.SQSMessage) map[string]string {
	out := map[string]string{}
	for k, a := range m.MessageAttributes {
		if a.StringValue != nil {
			out[k] = *a.StringValue
		}
	}
	return out
}

// wantDeadLetter fails the test unless m was dead-lettered for reason after attempts
// attempts, with lastError naming the destination's status, and carries redriveCount
// (absent when redriveCount is "").
func wantDeadLetter(t *testing.T, m queue.Received, key, reason, attempts, status, redriveCount string) {
	t.Helper()
	a := m.Attributes
	if a[envelope.AttrKey] != key || a[envelope.AttrReason] != reason || a[envelope.AttrAttempts] != attempts ||
		!strings.Contains(a[envelope.AttrLastError], "HTTP "+status) || a[redrive.AttrRedriveCount] != redriveCount {
		t.Fatalf("dead letter %s: attributes %v, want %s=%s, %s=%s, %s=%s, %s naming HTTP %s, %s=%q", m.ID, a,
			envelope.AttrKey, key, envelope.AttrReason, reason, envelope.AttrAttempts, attempts,
			envelope.AttrLastError, status, redrive.AttrRedriveCount, redriveCount)
	}
}

// failFirst answers status to the first n requests of a key and 200 after.
func failFirst(n, status int) func(int) answer {
	return func(try int) answer {
		if try <= n {
			return answer{status: status}
		}
		return answer{status: http.StatusOK}
	}
}

// A webhook the destination refused (400) is moved back by the SQS console after the
// destination was fixed: a new message id, the same body, its dead-letter attributes
// still on it. The processor handles it like any delivery: one more request, one
// effect, nothing left in either queue.
func TestE2ERedriveConsoleRedriveAfterFix(t *testing.T) {
	s := sample(t, "github.json")
	key := s.Source + ":" + s.ID
	var fixed atomic.Bool
	dest := newDestination(t, func(int) answer {
		if fixed.Load() {
			return answer{status: http.StatusOK}
		}
		return answer{status: http.StatusBadRequest}
	})
	p := newPipeline(t, []route.Config{{Source: s.Source, URL: dest.url}})
	p.send(s)
	fn := p.startProcessor("processor")
	seen := &handedOver{}
	poller := p.poll(seen.wrap(invokeFn(fn)), 0)
	p.settled(poller, 1)
	first := seen.ids()

	fixed.Store(true)
	dead, id := consoleRedrive(t, p)
	wantDeadLetter(t, dead, key, envelope.ReasonPermanent, "1", "400", "")
	p.settled(poller, 2)

	if got := seen.message(t, id); got.Body != dead.Body || stringAttrs(got)[envelope.AttrReason] != envelope.ReasonPermanent {
		t.Fatalf("console-redriven message %s: body changed or dead-letter attributes lost: %v", id, stringAttrs(got))
	}
	if slices.Contains(first, id) {
		t.Fatalf("the console-redriven message reuses the id %s of the original delivery", id)
	}
	got := dest.received(key)
	if dest.effectsOf(key) != 1 || len(got) != 2 || !slices.Equal(statuses(got), []int{400, 200}) ||
		!slices.Equal(attempts(got), []string{"1", "2"}) {
		t.Fatalf("destination: %d effects, requests %v with attempts %v; want one effect: the refusal, then attempt 2 applied",
			dest.effectsOf(key), statuses(got), attempts(got))
	}
	if n := p.dlqDepth(); n != 0 {
		t.Fatalf("the dead-letter queue holds %d messages, want none", n)
	}
	wantRecord(t, p, key, idempotency.StatusCompleted, 2)
	wantOutcomes(t, map[processor.Outcome]int64{processor.DeadLettered: 1, processor.Processed: 1, processor.Duplicate: 0, processor.Retried: 0}, fn)
}

// With TENAZ_MAX_ATTEMPTS=2, a destination answering 500 exhausts the event: it is
// dead-lettered after two attempts. A console redrive gives it no new budget: its one
// more attempt fails and it is dead-lettered again at once (attempts 3). A dry run of
// the redrive function reports it and resets nothing. A replay through the redrive
// function resets its attempts first: attempt 1 fails and is retried, attempt 2 is
// delivered. The replayed message carries redriveCount=1 and no dead-letter attributes.
func TestE2ERedriveExhaustedEventGetsFreshBudget(t *testing.T) {
	s := sample(t, "stripe.json")
	key := s.Source + ":" + s.ID
	dest := newDestination(t, failFirst(4, http.StatusInternalServerError))
	p := newPipelineWith(t, []route.Config{{Source: s.Source, URL: dest.url}},
		pipelineOptions{env: []string{config.EnvMaxAttempts + "=2"}})
	p.send(s)
	fn := p.startProcessor("processor")
	seen := &handedOver{}
	poller := p.poll(seen.wrap(invokeFn(fn)), 0)
	p.settled(poller, 1)
	exhausted := deadLetters(t, p, 1)[0]
	wantDeadLetter(t, exhausted, key, envelope.ReasonExhausted, "2", "500", "")
	wantRecord(t, p, key, idempotency.StatusRetryable, 2)

	// The console moves it as it is: the record keeps its attempts.
	_, consoleID := consoleRedrive(t, p)
	p.settled(poller, 2)
	again := deadLetters(t, p, 1)[0]
	wantDeadLetter(t, again, key, envelope.ReasonExhausted, "3", "500", "")
	wantRecord(t, p, key, idempotency.StatusRetryable, 3)
	if got := dest.received(key); !slices.Equal(attempts(got), []string{"1", "2", "3"}) {
		t.Fatalf("after the console redrive the destination saw attempts %v, want 1, 2 and one more (3)", attempts(got))
	}

	redriveFn := p.startRedrive()
	rep := replay(t, redriveFn, `{"dryRun": true}`)
	exhaustedKeys := 0
	for k, n := range rep.ByError {
		if strings.HasPrefix(k, envelope.ReasonExhausted+": ") && strings.Contains(k, "HTTP 500") {
			exhaustedKeys += n
		}
	}
	if rep.Counts.Seen != 1 || rep.Counts.DryRun != 1 || rep.Counts.Moved != 0 || rep.StoreRequests != 0 ||
		rep.BySource[s.Source] != 1 || rep.ByType[s.Type] != 1 || exhaustedKeys != 1 {
		t.Fatalf("dry run report: counts %+v, store requests %d, by source %v, type %v, error %v",
			rep.Counts, rep.StoreRequests, rep.BySource, rep.ByType, rep.ByError)
	}
	wantRecord(t, p, key, idempotency.StatusRetryable, 3) // a dry run resets nothing
	if still := deadLetters(t, p, 1)[0]; still.ID != again.ID || still.Body != again.Body {
		t.Fatalf("after the dry run the dead-letter queue holds %s, want %s unchanged", still.ID, again.ID)
	}

	rep = replay(t, redriveFn, `{"filter": {"source": "`+s.Source+`"}}`)
	if rep.Counts.Moved != 1 || rep.StoreRequests != 1 || rep.Counts.ResetFailed != 0 {
		t.Fatalf("replay report: counts %+v, store requests %d", rep.Counts, rep.StoreRequests)
	}
	p.settled(poller, 3)

	got := dest.received(key)
	if dest.effectsOf(key) != 1 || !slices.Equal(statuses(got), []int{500, 500, 500, 500, 200}) ||
		!slices.Equal(attempts(got), []string{"1", "2", "3", "1", "2"}) {
		t.Fatalf("destination: %d effects, requests %v with attempts %v; want the replay to count attempts from 1 again and deliver on its second",
			dest.effectsOf(key), statuses(got), attempts(got))
	}
	if n := p.dlqDepth(); n != 0 {
		t.Fatalf("the dead-letter queue holds %d messages, want none", n)
	}
	wantRecord(t, p, key, idempotency.StatusCompleted, 2)

	ids := seen.ids()
	if len(ids) != 3 || ids[1] != consoleID {
		t.Fatalf("message ids handed to the processor %v, want the original, the console's %s and the replay's", ids, consoleID)
	}
	replayed := seen.message(t, ids[2])
	attrs := stringAttrs(replayed)
	if replayed.Body != again.Body || attrs[redrive.AttrRedriveCount] != "1" || attrs[envelope.AttrKey] != key {
		t.Errorf("replayed message: body unchanged %v, attributes %v; want redriveCount=1 and the envelope's key", replayed.Body == again.Body, attrs)
	}
	for _, a := range []string{envelope.AttrReason, envelope.AttrLastError, envelope.AttrAttempts, envelope.AttrFailedAt} {
		if v, ok := attrs[a]; ok {
			t.Errorf("replayed message still carries the dead-letter attribute %s=%q", a, v)
		}
	}
	wantOutcomes(t, map[processor.Outcome]int64{processor.DeadLettered: 2, processor.Retried: 2, processor.Processed: 1, processor.Duplicate: 0}, fn)
}

// An event the destination keeps refusing goes round: replayed, dead-lettered again
// with its redriveCount kept, replayed again, until the count reaches
// TENAZ_REDRIVE_LIMIT (2 here). Then the redrive function leaves it in the
// dead-letter queue (overLimit) and the destination hears no more of it. Each replay
// is one round trip: the processor dead-letters the event again within milliseconds,
// while the run is still reading the queue, and the run leaves that copy for the next
// run (newer) instead of replaying it again. Each replay resets the attempts, so every
// request is attempt 1.
func TestE2ERedriveLimitEndsTheRoundTrips(t *testing.T) {
	s := sample(t, "github.json")
	key := s.Source + ":" + s.ID
	dest := newDestination(t, func(int) answer { return answer{status: http.StatusUnprocessableEntity} })
	p := newPipeline(t, []route.Config{{Source: s.Source, URL: dest.url}})
	p.send(s)
	fn := p.startProcessor("processor")
	poller := p.poll(invokeFn(fn), 0)
	p.settled(poller, 1)
	redriveFn := p.startRedriveWith(redrive.EnvLimit + "=2")

	for round, count := range []string{"", "1", "2"} {
		dead := deadLetters(t, p, 1)[0]
		wantDeadLetter(t, dead, key, envelope.ReasonPermanent, "1", "422", count)
		rep := replay(t, redriveFn, `{"filter": {"ids": ["`+key+`"]}}`)
		if round < 2 {
			if rep.Counts.Moved != 1 || rep.Counts.OverLimit != 0 {
				t.Fatalf("replay %d: counts %+v, want the event moved", round+1, rep.Counts)
			}
			p.settled(poller, int64(round+2))
			continue
		}
		if rep.Counts.Matched != 1 || rep.Counts.OverLimit != 1 || rep.Counts.Moved != 0 {
			t.Fatalf("replay at the limit: counts %+v, want the event over the limit and not moved", rep.Counts)
		}
	}
	if still := deadLetters(t, p, 1)[0]; still.Attributes[redrive.AttrRedriveCount] != "2" {
		t.Fatalf("the event over the limit: attributes %v, want it in the dead-letter queue with redriveCount=2", still.Attributes)
	}
	if got := dest.received(key); dest.effectsOf(key) != 0 || !slices.Equal(attempts(got), []string{"1", "1", "1"}) {
		t.Fatalf("destination: %d effects, requests with attempts %v; want three refused first attempts", dest.effectsOf(key), attempts(got))
	}
	if n := p.depth(); n != 0 {
		t.Fatalf("the main queue holds %d messages, want none", n)
	}
	wantOutcomes(t, map[processor.Outcome]int64{processor.DeadLettered: 3, processor.Processed: 0}, fn)
}

// A redrive crashed between its send and its delete: the event is on the main queue
// and still in the dead-letter queue. The copy is being delivered (the destination has
// applied it and holds its answer, so the record is IN_PROGRESS) when the next replay
// runs: the reset meets the live lease and changes nothing, the message is moved, and
// a second processor defers it until the lease ends, then finds the event completed.
// The destination sees one request after the refusal and applies the event once.
func TestE2ERedriveReplayMeetsACopyInFlight(t *testing.T) {
	ctx := context.Background()
	s := sample(t, "stripe.json")
	key := s.Source + ":" + s.ID
	release := make(chan struct{})
	dest := newDestination(t, func(try int) answer {
		if try == 1 {
			return answer{status: http.StatusBadRequest}
		}
		return answer{status: http.StatusOK, hold: release}
	})
	p := newPipeline(t, []route.Config{{Source: s.Source, URL: dest.url}})
	p.send(s)
	// A lease of 9 s leaves time for the replay while the copy's request is held.
	const timeout = 10 * time.Second
	longer := func(o *esm.Options) { o.InvokeTimeout = timeout + 2*time.Second }
	bin := lambdatest.Build(t, "./functions/processor")
	a := lambdatest.Start(t, "processor-a", bin, timeout, p.procEnv...)
	pollerA := p.poll(invokeFn(a), timeout+5*time.Second, longer)
	p.settled(pollerA, 1)

	// The crashed redrive's send: the body on the main queue, the dead letter kept.
	dead := deadLetters(t, p, 1)[0]
	attrs := map[string]string{}
	for k, v := range dead.Attributes {
		if k != envelope.AttrReason && k != envelope.AttrLastError && k != envelope.AttrAttempts && k != envelope.AttrFailedAt {
			attrs[k] = v
		}
	}
	attrs[redrive.AttrRedriveCount] = "1"
	if _, err := p.main.Send(ctx, queue.Message{Body: dead.Body, Attributes: attrs}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, settle, "the copy's request at the destination", func() bool { return len(dest.received(key)) == 2 })
	held := p.record(key)
	if held == nil || held.Status != idempotency.StatusInProgress || held.Attempts != 2 {
		t.Fatalf("while the copy's answer is held the record is %+v, want IN_PROGRESS at attempt 2", held)
	}

	rep := replay(t, p.startRedrive(), `{}`)
	if rep.Counts.Moved != 1 || rep.StoreRequests != 1 || rep.Counts.ResetFailed != 0 {
		t.Fatalf("replay during the copy's delivery: counts %+v, store requests %d; want it moved", rep.Counts, rep.StoreRequests)
	}
	if now := p.record(key); now == nil || now.Status != idempotency.StatusInProgress || now.Attempts != 2 || now.LeaseToken != held.LeaseToken {
		t.Fatalf("the reset changed a leased record: %+v, was %+v", now, held)
	}
	b := lambdatest.Start(t, "processor-b", bin, timeout, p.procEnv...)
	pollerB := p.poll(invokeFn(b), timeout+5*time.Second, longer)
	waitFor(t, settle, "processor-b to defer the replayed message", func() bool {
		return outcomes(t, b)[processor.Deferred] == 1
	})
	close(release)

	waitFor(t, 2*settle, "every message deleted and both queues empty", func() bool {
		return pollerA.Stats().Deleted+pollerB.Stats().Deleted >= 3 && p.depth() == 0 && p.dlqDepth() == 0
	})
	got := dest.received(key)
	if dest.effectsOf(key) != 1 || !slices.Equal(statuses(got), []int{400, 200}) {
		t.Fatalf("destination: %d effects, requests %v; want the refusal and one applied request", dest.effectsOf(key), statuses(got))
	}
	wantRecord(t, p, key, idempotency.StatusCompleted, 2)
	wantOutcomes(t, map[processor.Outcome]int64{processor.DeadLettered: 1, processor.Processed: 1, processor.Deferred: 1, processor.Duplicate: 1}, a, b)
}
