package processor_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/esm"
	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/processor"
	"github.com/tenaz/tenaz/shared/queue"
	"github.com/tenaz/tenaz/shared/route"
)

// sentAgo is delivery n of e, sent age before the harness clock's now.
func sentAgo(t *testing.T, h *harness, id string, e *envelope.Envelope, n int, age time.Duration) queue.Received {
	t.Helper()
	m := delivery(t, id, e, n)
	m.SentAt = h.clock.Now().Add(-age)
	return m
}

// assertExpiring checks that message id was dead-lettered as expiring with lastError
// containing wantErr, acknowledged, and given no visibility change.
func assertExpiring(t *testing.T, h *harness, failed map[string]bool, id, wantErr string) {
	t.Helper()
	if failed[id] {
		t.Fatalf("%s reported as failed; a dead-lettered record is acknowledged", id)
	}
	if r := h.result(id); r.Outcome != processor.DeadLettered || r.Reason != envelope.ReasonExpiring {
		t.Fatalf("result %+v, want dead-lettered as %q", r, envelope.ReasonExpiring)
	}
	for _, c := range h.vis.all() {
		if strings.HasPrefix(c.handle, "rh-"+id+"-") {
			t.Fatalf("visibility of %s changed to %v; want none", id, c.delay)
		}
	}
	dl := h.deadLetters()
	if len(dl) != 1 {
		t.Fatalf("%d dead letters, want 1", len(dl))
	}
	a := dl[0].Attributes
	if a[envelope.AttrReason] != envelope.ReasonExpiring {
		t.Fatalf("dead letter reason %q, want %q", a[envelope.AttrReason], envelope.ReasonExpiring)
	}
	contains(t, "lastError", a[envelope.AttrLastError], wantErr)
}

// With the defaults (4-day retention, 15-minute margin), a failure whose retry would
// come back within 15 minutes of the message's end is dead-lettered, with the
// handler's error; one that still fits is retried. The harness delay of a first
// receive is 2.5 s (base 5 s, draw 0.5).
func TestRetryPastRetentionIsDeadLetteredAsExpiring(t *testing.T) {
	t.Parallel()
	const delay = 2500 * time.Millisecond
	fits := 4*24*time.Hour - processor.DefaultExpiryMargin - delay // next delivery exactly at the margin
	for _, tc := range []struct {
		name     string
		age      time.Duration
		expiring bool
	}{
		{"fresh", time.Minute, false},
		{"three days old", 3 * 24 * time.Hour, false},
		{"next delivery exactly at the margin", fits, false},
		{"one millisecond later", fits + time.Millisecond, true},
		{"minutes before its end", 4*24*time.Hour - 5*time.Minute, true},
		{"past its end already", 4*24*time.Hour + time.Hour, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.route("stripe", newEffects(errTransient))
			e := event("stripe", "evt_x", "charge.succeeded")

			failed := h.handle(sentAgo(t, h, "m1", e, 1, tc.age))

			if !tc.expiring {
				assertRetried(t, h, "m1", 1, delay)
				return
			}
			assertExpiring(t, h, failed, "m1", errTransient.Error())
			if a := h.deadLetters()[0].Attributes; a[envelope.AttrAttempts] != "1" || a[envelope.AttrKey] != e.Key() {
				t.Fatalf("dead letter attributes %v, want attempts 1 and the key", a)
			}
		})
	}
}

// The judgement uses the clock, not the wall: a message sent at the clock's start is
// retried until the clock has run to within the margin of its retention, then
// dead-lettered. QueueRetention and ExpiryMargin are settings.
func TestExpiryFollowsTheClockAndTheSettings(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *harnessConfig) {
		c.settings.QueueRetention = time.Hour
		c.settings.ExpiryMargin = 10 * time.Minute
		c.settings.MaxAttempts = 100
	})
	h.route("stripe", newEffects(errTransient, errTransient))
	e := event("stripe", "evt_c", "charge.succeeded")
	sent := h.clock.Now()

	h.clock.Advance(45 * time.Minute) // 15 min left: 2.5 s + 10 min fits
	m := sentAgo(t, h, "m1", e, 1, 45*time.Minute)
	if !m.SentAt.Equal(sent) {
		t.Fatal("test setup: sent time moved")
	}
	h.handle(m)
	assertRetried(t, h, "m1", 1, 2500*time.Millisecond)

	h.clock.Advance(5 * time.Minute) // 10 min left: no room for the margin
	failed := h.handle(sentAgo(t, h, "m2", e, 1, 50*time.Minute))
	assertExpiring(t, h, failed, "m2", errTransient.Error())
}

// A record deferred without an error of its own (another worker holds its lease)
// is dead-lettered too when it would come back too late, and says why it waited.
func TestDeferralPastRetentionIsDeadLetteredAsExpiring(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	fx := newEffects()
	h.route("stripe", fx)
	e := event("stripe", "evt_busy", "charge.succeeded")
	now := h.clock.Now()
	if _, err := h.store.Claim(context.Background(), idempotency.ClaimRequest{
		Key: e.Key(), PayloadHash: idempotency.PayloadHash(e.Body), LeaseToken: "other",
		LeaseExpiresAtMs: now.Add(time.Minute).UnixMilli(), ExpiresAt: now.Add(time.Hour).Unix(), Now: now,
	}); err != nil {
		t.Fatal(err)
	}

	failed := h.handle(sentAgo(t, h, "m1", e, 1, 4*24*time.Hour-10*time.Minute))

	assertExpiring(t, h, failed, "m1", "claimed by another worker")
	if calls, _ := fx.count(); calls != 0 {
		t.Fatal("handler ran while another worker held the lease")
	}
}

// A record deferred because its destination's breaker is open is dead-lettered as
// expiring when the deferral would outlive it.
func TestBreakerDeferralPastRetentionIsDeadLetteredAsExpiring(t *testing.T) {
	t.Parallel()
	h, b, _ := breakerHarness(t, processor.Settings{RetryBase: 5 * time.Second, RetryMax: 900 * time.Second})
	fx := newEffects()
	h.route("stripe", fx)
	trip(t, b, "stripe")
	e := event("stripe", "evt_open", "charge.succeeded")

	fresh := h.handle(sentAgo(t, h, "m1", e, 1, time.Hour))
	if r := h.result("m1"); !fresh["m1"] || r.Outcome != processor.Deferred || r.Reason != processor.ReasonBreakerOpen {
		t.Fatalf("fresh record: %+v, want deferred while the breaker is open", r)
	}

	failed := h.handle(sentAgo(t, h, "m2", e, 1, 4*24*time.Hour-10*time.Minute))
	assertExpiring(t, h, failed, "m2", processor.ReasonBreakerOpen)
	if calls, _ := fx.count(); calls != 0 {
		t.Fatal("the destination was called while its breaker was open")
	}
}

// A message without a readable SentTimestamp cannot be judged and is retried as
// before.
func TestNoSentTimestampIsRetried(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.route("stripe", newEffects(errTransient))
	e := event("stripe", "evt_n", "charge.succeeded")
	ev := esm.Event([]queue.Received{delivery(t, "m1", e, 1)}, queueARN)
	delete(ev.Records[0].Attributes, "SentTimestamp")
	resp, err := h.proc.Handle(h.ctx(), ev)
	if err != nil || len(resp.BatchItemFailures) != 1 {
		t.Fatalf("Handle: %v, %+v; want the record reported as failed", err, resp)
	}
	assertRetried(t, h, "m1", 1, 2500*time.Millisecond)
}

// On the in-memory queue (4-day retention, no redrive), an event whose destination
// keeps failing for longer than the retention is never dropped by the queue: it is
// retried for four days and then dead-lettered as expiring, with the last error.
// Without the check, the queue would expire it silently.
func TestFailingForDaysEndsInTheDeadLetterQueue(t *testing.T) {
	t.Parallel()
	clock := newClock()
	dlq := queue.NewMemory(queue.MemoryConfig{Name: "dlq", Now: clock.Now})
	main := queue.NewMemory(queue.MemoryConfig{Name: "main", Retention: 4 * 24 * time.Hour, Now: clock.Now})
	down := errors.New("HTTP 503 Service Unavailable")
	routes := &route.Registry{}
	routes.Add(route.Route{Source: "stripe", Handler: route.HandlerFunc(func(context.Context, *envelope.Envelope, *idempotency.Attempt) ([]byte, error) {
		return nil, down
	})})
	p := processor.New(processor.Options{
		Runner:     idempotency.NewRunner(idempotency.NewMemoryStore(), idempotency.Settings{Now: clock.Now}),
		Router:     routes,
		Visibility: main,
		DeadLetter: dlq,
		// Attempts enough to outlast the retention: 1 h apart, 4 days is 96 of them.
		Settings: processor.Settings{MaxAttempts: 1000, RetryBase: time.Hour, RetryMax: time.Hour},
		Now:      clock.Now,
		Rand:     fixedRand(0.999),
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	e := event("stripe", "evt_days", "charge.succeeded")
	body, err := envelope.Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := main.Send(context.Background(), queue.Message{Body: string(body), Attributes: e.Attributes()}); err != nil {
		t.Fatal(err)
	}
	start := clock.Now()
	receives := 0
	for clock.Now().Before(start.Add(5 * 24 * time.Hour)) {
		msgs, err := main.Receive(context.Background(), 10, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			receives++
			ctx, cancel := context.WithDeadline(context.Background(), clock.Now().Add(time.Minute))
			resp, err := p.Handle(ctx, esm.Event([]queue.Received{m}, "arn:aws:sqs:us-east-1:000000000000:main"))
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.BatchItemFailures) == 0 {
				if err := main.Delete(context.Background(), m.ReceiptHandle); err != nil {
					t.Fatal(err)
				}
			}
		}
		clock.Advance(time.Minute)
	}

	if st := main.Snapshot(); st.Expired != 0 || st.Depth.Visible+st.Depth.InFlight+st.Depth.Delayed != 0 {
		t.Fatalf("main queue %+v, want nothing expired and nothing left", st)
	}
	dl := dlq.Peek(0)
	if len(dl) != 1 || dl[0].Attributes[envelope.AttrReason] != envelope.ReasonExpiring {
		t.Fatalf("dead letters %+v, want the event as expiring", dl)
	}
	contains(t, "lastError", dl[0].Attributes[envelope.AttrLastError], down.Error())
	// Hourly retries for four days less the margin: 95 receives, the last of which
	// dead-lettered it.
	if receives < 90 || receives > 96 {
		t.Fatalf("%d receives, want about 95 (hourly for four days)", receives)
	}
	failedAt, err := time.Parse(time.RFC3339, dl[0].Attributes[envelope.AttrFailedAt])
	if err != nil {
		t.Fatal(err)
	}
	if left := start.Add(4 * 24 * time.Hour).Sub(failedAt); left < processor.DefaultExpiryMargin || left > processor.DefaultExpiryMargin+2*time.Hour {
		t.Fatalf("dead-lettered %v before the end of the retention, want between the margin and the margin plus two retries", left)
	}
}
