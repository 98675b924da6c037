//go:build integration

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/esm"
	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/internal/lambdatest"
	"github.com/tenaz/tenaz/shared/processor"
	"github.com/tenaz/tenaz/shared/queue"
	"github.com/tenaz/tenaz/shared/route"
)

// Each test below is one Tenaz deployment on moto (main queue with its redrive
// policy, dead-letter queue, idempotency table), the real ingest and processor
// bootstraps under the Runtime Interface Emulator, a poller standing in for the event
// source mapping, and an httptest destination that honours Idempotency-Key. Effects
// are counted by key at the destination; raw deliveries are counted apart.

// wantRecord fails the test unless key's idempotency record has status and attempts.
func wantRecord(t *testing.T, p *pipeline, key string, status idempotency.Status, attempts int) *idempotency.Record {
	t.Helper()
	rec := p.record(key)
	switch {
	case rec == nil:
		t.Fatalf("%s: no idempotency record", key)
	case rec.Status != status || rec.Attempts != attempts:
		t.Fatalf("%s: record %s after %d attempts, want %s after %d", key, rec.Status, rec.Attempts, status, attempts)
	case rec.LeaseToken != "" || rec.LeaseExpiresAtMs != 0:
		t.Fatalf("%s: %s record still holds a lease until %d", key, rec.Status, rec.LeaseExpiresAtMs)
	}
	return rec
}

// wantOutcomes fails the test unless the processor counted exactly want for the
// outcomes named in want.
func wantOutcomes(t *testing.T, want map[processor.Outcome]int64, fns ...*lambdatest.Function) {
	t.Helper()
	got := outcomes(t, fns...)
	for o, n := range want {
		if got[o] != n {
			t.Errorf("outcome %s counted %d times, want %d (all: %v)", o, got[o], n, got)
		}
	}
}

func statuses(ds []delivery) []int {
	out := make([]int, len(ds))
	for i, d := range ds {
		out[i] = d.status
	}
	return out
}

func attempts(ds []delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.attempt
	}
	return out
}

// A provider sends the same webhook three times through ingest, and once it is
// processed SQS delivers the very same envelope again: the destination is called
// once and applies it once, and every copy leaves the queue.
func TestE2EProcessorDuplicateDeliveries(t *testing.T) {
	ctx := context.Background()
	s := sample(t, "stripe.json")
	key := s.Source + ":" + s.ID
	dest := newDestination(t, nil)
	p := newPipeline(t, []route.Config{{Source: s.Source, Types: []string{"payment_intent.*"}, URL: dest.url}})
	for range 3 {
		p.send(s)
	}

	// Keep one envelope exactly as ingest queued it, for the redelivery.
	got, err := p.main.Receive(ctx, 1, 0, 30*time.Second)
	if err != nil || len(got) != 1 {
		t.Fatalf("receive a queued copy: %d messages, %v", len(got), err)
	}
	again := queue.Message{Body: got[0].Body, Attributes: got[0].Attributes}
	if err := p.main.ChangeVisibility(ctx, got[0].ReceiptHandle, 0); err != nil {
		t.Fatal(err)
	}

	fn := p.startProcessor("processor")
	poller := p.poll(invokeFn(fn), 0)
	p.settled(poller, 3)
	wantRecord(t, p, key, idempotency.StatusCompleted, 1)

	if _, err := p.main.Send(ctx, again); err != nil {
		t.Fatal(err)
	}
	p.settled(poller, 4)

	reqs := dest.received(key)
	if len(reqs) != 1 || dest.raw() != 1 || dest.effectsOf(key) != 1 {
		t.Fatalf("destination: %d requests for %s (%d in all), %d effects; want 1, 1, 1", len(reqs), key, dest.raw(), dest.effectsOf(key))
	}
	if reqs[0].body != s.Event.Body || reqs[0].attempt != "1" {
		t.Errorf("destination got attempt %q with body %q, want attempt 1 with the webhook's raw body %q", reqs[0].attempt, reqs[0].body, s.Event.Body)
	}
	wantRecord(t, p, key, idempotency.StatusCompleted, 1)
	wantOutcomes(t, map[processor.Outcome]int64{processor.Processed: 1, processor.Duplicate: 3, processor.Retried: 0, processor.DeadLettered: 0}, fn)
}

// The destination answers 500 twice, then 200: the event is delivered once, each
// retry scheduled through SQS visibility after the backoff (1 s here), not after the
// queue's visibility timeout.
func TestE2EProcessorTransientFailureRetries(t *testing.T) {
	s := sample(t, "stripe.json")
	key := s.Source + ":" + s.ID
	dest := newDestination(t, func(n int) answer {
		if n <= 2 {
			return answer{status: http.StatusInternalServerError}
		}
		return answer{status: http.StatusOK}
	})
	p := newPipeline(t, []route.Config{{Source: s.Source, URL: dest.url}})
	p.send(s)
	fn := p.startProcessor("processor")
	poller := p.poll(invokeFn(fn), 0)
	p.settled(poller, 1)

	reqs := dest.received(key)
	if fmt.Sprint(statuses(reqs)) != "[500 500 200]" || fmt.Sprint(attempts(reqs)) != "[1 2 3]" {
		t.Fatalf("destination answered %v to attempts %v, want [500 500 200] to [1 2 3]", statuses(reqs), attempts(reqs))
	}
	for i := 1; i < len(reqs); i++ {
		gap := reqs[i].at.Sub(reqs[i-1].at)
		if gap < time.Second || gap >= queueVisibility*time.Second {
			t.Errorf("attempt %d came %v after the one before, want within [1s, %ds): the backoff, not the visibility timeout", i+1, gap, queueVisibility)
		}
	}
	if dest.effectsOf(key) != 1 {
		t.Fatalf("%d effects, want 1", dest.effectsOf(key))
	}
	wantRecord(t, p, key, idempotency.StatusCompleted, 3)
	wantOutcomes(t, map[processor.Outcome]int64{processor.Retried: 2, processor.Processed: 1, processor.DeadLettered: 0}, fn)
}

// The destination answers 400: the record goes to the dead-letter queue with
// deadLetterReason=permanent and the reason, leaves the main queue, and the
// destination is never called again.
func TestE2EProcessorPermanentFailureDeadLetters(t *testing.T) {
	ctx := context.Background()
	s := sample(t, "stripe.json")
	key := s.Source + ":" + s.ID
	dest := newDestination(t, func(int) answer { return answer{status: http.StatusBadRequest} })
	p := newPipeline(t, []route.Config{{Source: s.Source, URL: dest.url}})
	p.send(s)
	fn := p.startProcessor("processor")
	poller := p.poll(invokeFn(fn), 0)
	p.settled(poller, 1) // gone from the main queue: nothing can bring it back

	dead, err := p.dlq.Receive(ctx, queue.MaxBatch, time.Second, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 1 {
		t.Fatalf("dead-letter queue holds %d messages, want 1", len(dead))
	}
	env, err := envelope.Decode([]byte(dead[0].Body))
	if err != nil || env.Key() != key || string(env.Body) != s.Event.Body {
		t.Fatalf("dead-lettered body is not the queued envelope of %s: %v", key, err)
	}
	a := dead[0].Attributes
	if a[envelope.AttrReason] != envelope.ReasonPermanent || a[envelope.AttrAttempts] != "1" || a[envelope.AttrKey] != key {
		t.Errorf("dead-letter attributes %v, want %s=%s, %s=1, %s=%s", a, envelope.AttrReason, envelope.ReasonPermanent, envelope.AttrAttempts, envelope.AttrKey, key)
	}
	if !strings.Contains(a[envelope.AttrLastError], "HTTP 400") {
		t.Errorf("%s = %q, want the destination's answer (HTTP 400)", envelope.AttrLastError, a[envelope.AttrLastError])
	}
	if _, err := time.Parse(time.RFC3339, a[envelope.AttrFailedAt]); err != nil {
		t.Errorf("%s: %v", envelope.AttrFailedAt, err)
	}

	if got := dest.received(key); len(got) != 1 || dest.raw() != 1 || dest.effectsOf(key) != 0 {
		t.Fatalf("destination: %d requests (%v), %d effects; want one refused request and no effect", len(got), statuses(got), dest.effectsOf(key))
	}
	// Released, not completed: a redrive from the dead-letter queue may try again.
	wantRecord(t, p, key, idempotency.StatusRetryable, 1)
	wantOutcomes(t, map[processor.Outcome]int64{processor.DeadLettered: 1, processor.Retried: 0, processor.Processed: 0}, fn)
}

// The processor is killed between claim and complete: the destination applied the
// effect but its answer never arrived. The record stays IN_PROGRESS until its lease
// ends; only then does a new processor run the event again, with the same
// Idempotency-Key, so the destination sees two raw deliveries and one effect.
func TestE2EProcessorKilledBetweenClaimAndComplete(t *testing.T) {
	s := sample(t, "stripe.json")
	key := s.Source + ":" + s.ID
	never := make(chan struct{}) // the first answer is held until the caller is gone
	dest := newDestination(t, func(n int) answer {
		if n == 1 {
			return answer{status: http.StatusOK, hold: never}
		}
		return answer{status: http.StatusOK}
	})
	p := newPipeline(t, []route.Config{{Source: s.Source, URL: dest.url}})
	p.send(s)

	first := p.startProcessor("processor-1")
	var current atomic.Pointer[lambdatest.Function]
	current.Store(first)
	// A 2 s visibility brings the record back while the dead worker's lease is still
	// live, so the new worker must defer it to the end of that lease.
	poller := p.poll(func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		return invokeFn(current.Load())(ctx, ev)
	}, 2*time.Second)

	waitFor(t, settle, "the first request at the destination", func() bool { return dest.raw() == 1 })
	held := p.record(key)
	if held == nil || held.Status != idempotency.StatusInProgress || held.LeaseToken == "" {
		t.Fatalf("while the destination holds the answer the record is %+v, want IN_PROGRESS with a lease", held)
	}
	leaseEnd := time.UnixMilli(held.LeaseExpiresAtMs)

	second := p.startProcessor("processor-2")
	current.Store(second)
	first.Stop()

	p.settled(poller, 1)
	reqs := dest.received(key)
	t.Logf("raw deliveries %d, effects %d (key %s)", len(reqs), dest.effectsOf(key), key)
	if len(reqs) != 2 || dest.effectsOf(key) != 1 {
		t.Fatalf("destination: %d raw deliveries, %d effects; want 2 and 1", len(reqs), dest.effectsOf(key))
	}
	if reqs[0].answered || !reqs[1].replay || !reqs[1].answered || reqs[1].attempt != "2" {
		t.Errorf("deliveries %+v, want an unanswered first and an answered replay as attempt 2", reqs)
	}
	if reqs[1].at.Before(leaseEnd) {
		t.Errorf("re-run at %v, before the killed worker's lease ended at %v", reqs[1].at.Format(time.StampMilli), leaseEnd.Format(time.StampMilli))
	}
	if st := poller.Stats(); st.InvokeErrors != 1 {
		t.Errorf("%d failed invocations, want 1 (the killed one)", st.InvokeErrors)
	}
	wantRecord(t, p, key, idempotency.StatusCompleted, 2)
	wantOutcomes(t, map[processor.Outcome]int64{processor.Processed: 1, processor.Duplicate: 0, processor.Retried: 0}, second)
}

// The destination hangs past the invocation: the handler's context ends
// DeadlineMargin before the deadline, the attempt is released and retried, and the
// function answers in time (the emulator never times it out). The retry carries the
// same Idempotency-Key: two raw deliveries, one effect.
func TestE2EProcessorDestinationHangsPastDeadline(t *testing.T) {
	s := sample(t, "stripe.json")
	key := s.Source + ":" + s.ID
	never := make(chan struct{})
	dest := newDestination(t, func(n int) answer {
		if n == 1 {
			return answer{status: http.StatusOK, hold: never}
		}
		return answer{status: http.StatusOK}
	})
	p := newPipeline(t, []route.Config{{Source: s.Source, URL: dest.url}})
	p.send(s)
	fn := p.startProcessor("processor")
	poller := p.poll(invokeFn(fn), 0)
	p.settled(poller, 1)

	reqs := dest.received(key)
	t.Logf("raw deliveries %d, effects %d (key %s)", len(reqs), dest.effectsOf(key), key)
	if len(reqs) != 2 || dest.effectsOf(key) != 1 || reqs[0].answered || !reqs[1].replay {
		t.Fatalf("destination: %+v, %d effects; want an unanswered request and an answered replay, 1 effect", reqs, dest.effectsOf(key))
	}
	if st := poller.Stats(); st.InvokeErrors != 0 {
		t.Errorf("%d invocations failed, want 0: the processor must answer before its deadline", st.InvokeErrors)
	}
	wantRecord(t, p, key, idempotency.StatusCompleted, 2)
	wantOutcomes(t, map[processor.Outcome]int64{processor.Retried: 1, processor.Processed: 1}, fn)
}

// Two processors receive the same webhook in two different messages and work on it
// at the same time: the one that claims it calls the destination; the other, invoked
// while that claim is live, defers its message to the end of the lease and, when it
// comes back, drops it as a duplicate. One request, one effect.
//
// The second claim is sent once the first is recorded (its request is at the
// destination): claims landing in the same millisecond are the store contract's race
// test. moto does not apply UpdateItem atomically under concurrent requests (it
// stores a key-only item before applying the update), so such claims can read a
// half-written record there, which DynamoDB never returns.
func TestE2EProcessorRacingWorkers(t *testing.T) {
	ctx := context.Background()
	s := sample(t, "stripe.json")
	key := s.Source + ":" + s.ID
	release := make(chan struct{}) // the holder's answer waits until the other worker returned
	dest := newDestination(t, func(int) answer { return answer{status: http.StatusOK, hold: release} })
	p := newPipeline(t, []route.Config{{Source: s.Source, URL: dest.url}})
	p.send(s)
	p.send(s)

	var msgs []queue.Received
	waitFor(t, settle, "both messages", func() bool {
		got, err := p.main.Receive(ctx, 2, 0, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, got...)
		return len(msgs) >= 2
	})
	if len(msgs) != 2 || msgs[0].ID == msgs[1].ID {
		t.Fatalf("received %d messages, want 2 distinct", len(msgs))
	}

	a, b := p.startProcessor("processor-a"), p.startProcessor("processor-b")
	type result struct {
		resp events.SQSEventResponse
		err  error
	}
	holder := make(chan result, 1)
	go func() {
		resp, err := invokeFn(a)(ctx, esm.Event(msgs[:1], p.arn))
		holder <- result{resp, err}
	}()
	waitFor(t, settle, "processor-a's request at the destination", func() bool { return dest.raw() == 1 })
	held := p.record(key)
	if held == nil || held.Status != idempotency.StatusInProgress {
		t.Fatalf("while processor-a waits for the destination the record is %+v, want IN_PROGRESS", held)
	}
	leaseEnd := time.UnixMilli(held.LeaseExpiresAtMs)

	other, err := invokeFn(b)(ctx, esm.Event(msgs[1:], p.arn))
	close(release)
	won := <-holder
	if err != nil || won.err != nil {
		t.Fatalf("invocations: %v; %v", won.err, err)
	}
	if f := other.BatchItemFailures; len(f) != 1 || f[0].ItemIdentifier != msgs[1].ID {
		t.Errorf("processor-b reported failures %v, want its message %s deferred", f, msgs[1].ID)
	}
	if f := won.resp.BatchItemFailures; len(f) != 0 {
		t.Errorf("processor-a, holding the claim, reported failures %v, want its message processed", f)
	}
	wantRecord(t, p, key, idempotency.StatusCompleted, 1)

	// As the event source mapping would: delete the processed message. The deferred
	// one comes back when processor-a's lease has ended.
	if err := p.main.Delete(ctx, msgs[0].ReceiptHandle); err != nil {
		t.Fatal(err)
	}
	var back atomic.Int64 // when the deferred message was delivered again, Unix ms
	poller := p.poll(func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		back.CompareAndSwap(0, time.Now().UnixMilli())
		return invokeFn(b)(ctx, ev)
	}, 0)
	p.settled(poller, 1)
	if at := time.UnixMilli(back.Load()); at.Before(leaseEnd) {
		t.Errorf("deferred message delivered again at %v, before the lease ended at %v", at.Format(time.StampMilli), leaseEnd.Format(time.StampMilli))
	}

	if dest.raw() != 1 || dest.effectsOf(key) != 1 {
		t.Fatalf("destination: %d requests, %d effects; want 1 and 1", dest.raw(), dest.effectsOf(key))
	}
	wantRecord(t, p, key, idempotency.StatusCompleted, 1)
	wantOutcomes(t, map[processor.Outcome]int64{processor.Processed: 1}, a)
	wantOutcomes(t, map[processor.Outcome]int64{processor.Deferred: 1, processor.Duplicate: 1, processor.Processed: 0}, b)
}

// A two-step route (create the user in the CRM, then send the welcome email) whose
// email step fails once: the retry resumes after the recorded CRM step, so the CRM
// is called once and the email is sent once.
func TestE2EProcessorMultiStepResumes(t *testing.T) {
	s := sample(t, "hmac-sha256.json")
	key := s.Source + ":" + s.ID
	crm := newDestination(t, nil)
	email := newDestination(t, func(n int) answer {
		if n == 1 {
			return answer{status: http.StatusServiceUnavailable}
		}
		return answer{status: http.StatusOK}
	})
	p := newPipeline(t, []route.Config{{Source: s.Source, Types: []string{s.Type}, Steps: []route.Step{
		{Name: "crm", URL: crm.url},
		{Name: "email", URL: email.url},
	}}})
	p.send(s)
	fn := p.startProcessor("processor")
	poller := p.poll(invokeFn(fn), 0)
	p.settled(poller, 1)

	if got := crm.received(key + ":crm"); crm.raw() != 1 || len(got) != 1 || crm.effectsOf(key+":crm") != 1 {
		t.Errorf("crm: %d requests, %d under %s:crm, %d effects; want 1, 1, 1 (keys %v)", crm.raw(), len(got), key, crm.effectsOf(key+":crm"), crm.keys())
	}
	got := email.received(key + ":email")
	if email.raw() != 2 || fmt.Sprint(statuses(got)) != "[503 200]" || fmt.Sprint(attempts(got)) != "[1 2]" || email.effectsOf(key+":email") != 1 {
		t.Errorf("email: %d requests, answered %v to attempts %v under %s:email, %d effects; want [503 200] to [1 2], 1 effect (keys %v)",
			email.raw(), statuses(got), attempts(got), key, email.effectsOf(key+":email"), email.keys())
	}
	rec := wantRecord(t, p, key, idempotency.StatusCompleted, 2)
	if _, ok := rec.Steps["crm"]; !ok || len(rec.Steps) != 2 {
		t.Errorf("record steps %v, want crm and email", rec.Steps)
	}
	if _, ok := rec.Steps["email"]; !ok {
		t.Errorf("record steps %v, want crm and email", rec.Steps)
	}
	wantOutcomes(t, map[processor.Outcome]int64{processor.Retried: 1, processor.Processed: 1}, fn)
}
