package processor_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/processor"
	"github.com/tenaz/tenaz/shared/queue"
	"github.com/tenaz/tenaz/shared/retry"
)

func TestDeadLetterIsMarkedInTheRecord(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.route("stripe", newEffects(retry.Permanent(errors.New("HTTP 410 from the destination"))))

	failed := h.handle(delivery(t, "m1", event("stripe", "evt_gone", "charge.succeeded"), 1))

	if failed["m1"] || len(h.deadLetters()) != 1 {
		t.Fatalf("failed=%v dead letters=%d, want acknowledged and one dead letter", failed, len(h.deadLetters()))
	}
	r := h.record("stripe:evt_gone")
	if !r.DeadLetterWaiting() || r.DeadLetteredAtMs != h.clock.Now().UnixMilli() {
		t.Fatalf("record %+v: want deadLetteredAt %d and waiting", r, h.clock.Now().UnixMilli())
	}
	if r.DeadLetterReason != envelope.ReasonPermanent {
		t.Errorf("deadLetterReason = %q, want %q", r.DeadLetterReason, envelope.ReasonPermanent)
	}
	if want := h.deadLetters()[0].Attributes[envelope.AttrLastError]; r.LastError != want || want == "" {
		t.Errorf("lastError = %q, want the dead letter's %q", r.LastError, want)
	}
}

func TestDeadLetterMarkFailureIsOnlyLogged(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.route("stripe", newEffects(retry.Permanent(errors.New("HTTP 410"))))
	h.failStore(func(op, _ string) error {
		if op == "markDeadLettered" {
			return fmt.Errorf("%w: throttled", idempotency.ErrUnavailable)
		}
		return nil
	})

	failed := h.handle(delivery(t, "m1", event("stripe", "evt_x", "charge.succeeded"), 1))

	if failed["m1"] || h.result("m1").Outcome != processor.DeadLettered || len(h.deadLetters()) != 1 {
		t.Fatalf("failed=%v outcome=%s: a failed mark must not change the outcome", failed, h.result("m1").Outcome)
	}
	if r := h.record("stripe:evt_x"); r.DeadLetterWaiting() {
		t.Fatal("record marked although the mark failed")
	}
	warned := false
	for _, l := range h.logLines() {
		if l["msg"] == "dead letter not marked in the idempotency record" && l["level"] == "WARN" {
			warned = true
		}
	}
	if !warned {
		t.Fatal("the failed mark was not logged at WARN")
	}
}

func TestFailedDeadLetterSendIsNotMarked(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.route("stripe", newEffects(retry.Permanent(errors.New("HTTP 410"))))
	h.dlq.FailSends(1, &queue.Error{Op: "SendMessage", Code: "ServiceUnavailable", Retryable: true, Err: errors.New("dead-letter queue unavailable")})

	failed := h.handle(delivery(t, "m1", event("stripe", "evt_y", "charge.succeeded"), 1))

	if !failed["m1"] || h.storeOps()["markDeadLettered"] != 0 {
		t.Fatalf("failed=%v marks=%d, want a failure and no mark", failed, h.storeOps()["markDeadLettered"])
	}
	if r := h.record("stripe:evt_y"); r.DeadLetterWaiting() {
		t.Fatal("record marked although the DLQ refused the copy")
	}
}

func TestUndecodableDeadLetterMarksNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	failed := h.handle(raw("m1", "not an envelope", nil, 1))
	if failed["m1"] || len(h.deadLetters()) != 1 || h.storeOps()["markDeadLettered"] != 0 {
		t.Fatalf("failed=%v dead letters=%d marks=%d, want one dead letter and no mark", failed, len(h.deadLetters()), h.storeOps()["markDeadLettered"])
	}
}
