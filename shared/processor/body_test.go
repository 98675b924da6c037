package processor_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/blob"
	"github.com/tenaz/tenaz/shared/breaker"
	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/processor"
	"github.com/tenaz/tenaz/shared/retry"
)

// bodies is a memory body store that counts its calls; deleteErr, when set, fails
// every delete.
type bodies struct {
	*blob.Memory
	mu        sync.Mutex
	gets      int
	deletes   int
	deleteErr error
}

func newBodies() *bodies { return &bodies{Memory: blob.NewMemory()} }

func (b *bodies) Get(ctx context.Context, key, sum string) ([]byte, error) {
	b.mu.Lock()
	b.gets++
	b.mu.Unlock()
	return b.Memory.Get(ctx, key, sum)
}

func (b *bodies) Delete(ctx context.Context, key string) error {
	b.mu.Lock()
	b.deletes++
	err := b.deleteErr
	b.mu.Unlock()
	if err != nil {
		return err
	}
	return b.Memory.Delete(ctx, key)
}

func (b *bodies) counts() (gets, deletes int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.gets, b.deletes
}

// has reports whether the object of e's body is in the store.
func (b *bodies) has(e *envelope.Envelope) bool {
	_, ok := b.Modified(e.BodyRef)
	return ok
}

// storedEvent is event's envelope with its body put in store (when store is not
// nil), as ingest sends a body too large for the queue.
func storedEvent(t *testing.T, store *bodies, source, id, typ string) (stored, inline *envelope.Envelope) {
	t.Helper()
	inline = event(source, id, typ)
	key, err := blob.Key(source, id)
	if err != nil {
		t.Fatal(err)
	}
	if store != nil {
		if err := store.Memory.Put(context.Background(), key, blob.Sum(inline.Body), inline.Body); err != nil {
			t.Fatal(err)
		}
	}
	s := *inline
	s.Body, s.BodyRef, s.BodySHA256 = nil, key, blob.Sum(inline.Body)
	return &s, inline
}

func bodyHarness(t *testing.T, store processor.Bodies, tune ...func(*harnessConfig)) *harness {
	t.Helper()
	return newHarness(t, append([]func(*harnessConfig){func(c *harnessConfig) { c.bodies = store }}, tune...)...)
}

// A stored body reaches the handler as if it had travelled inline, the record keeps
// the same payload hash, and the object is deleted once the event is processed.
func TestStoredBodyIsLoadedForTheAttemptAndDeletedAfter(t *testing.T) {
	t.Parallel()
	store := newBodies()
	h := bodyHarness(t, store)
	fx := newEffects()
	h.route("stripe", fx)
	e, inline := storedEvent(t, store, "stripe", "evt_1", "payment_intent.succeeded")

	if failed := h.handle(delivery(t, "m1", e, 1)); failed["m1"] {
		t.Fatalf("stored-body record failed: %+v", h.result("m1"))
	}
	if r := h.result("m1"); r.Outcome != processor.Processed || r.Reason != "" {
		t.Fatalf("result = %+v, want processed", r)
	}
	if len(fx.bodies) != 1 || fx.bodies[0] != string(inline.Body) {
		t.Fatalf("handler saw bodies %q, want the stored one", fx.bodies)
	}
	if rec := h.record("stripe:evt_1"); rec.PayloadHash != idempotency.PayloadHash(inline.Body) {
		t.Fatalf("payload hash %s, want the body's %s (as inline)", rec.PayloadHash, idempotency.PayloadHash(inline.Body))
	}
	if store.has(e) {
		t.Fatal("the stored body is still there after its event was processed")
	}
	if gets, _ := store.counts(); gets != 1 {
		t.Fatalf("%d GETs for one attempt, want 1", gets)
	}
}

// A copy of a completed event costs no GET, is not a payload mismatch whether the
// first delivery was inline or stored, and deletes the body its ingest stored again.
func TestStoredDuplicateCostsNoGetAndDeletesTheBody(t *testing.T) {
	t.Parallel()
	store := newBodies()
	h := bodyHarness(t, store)
	fx := newEffects()
	h.route("stripe", fx)
	e, inline := storedEvent(t, store, "stripe", "evt_1", "payment_intent.succeeded")
	if failed := h.handle(delivery(t, "m1", inline, 1)); failed["m1"] {
		t.Fatal("inline delivery failed")
	}

	if failed := h.handle(delivery(t, "m2", e, 1)); failed["m2"] {
		t.Fatalf("duplicate failed: %+v", h.result("m2"))
	}
	r := h.result("m2")
	if r.Outcome != processor.Duplicate || r.Reason == "payloadMismatch" {
		t.Fatalf("stored copy of an inline event: %+v, want a duplicate with no payload mismatch", r)
	}
	gets, deletes := store.counts()
	if gets != 0 || deletes != 1 || store.has(e) {
		t.Fatalf("duplicate: %d GETs, %d deletes, object left %v; want 0, 1, false", gets, deletes, store.has(e))
	}
	if calls, _ := fx.count(); calls != 1 {
		t.Fatalf("handler called %d times, want 1", calls)
	}
}

// A body that cannot be had is dead-lettered with its own reason (the handler never
// runs and nothing is deleted); the dead letter is the original message, so a replay
// once the body is back processes the event.
func TestUnloadableBodyIsDeadLetteredWithItsReason(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		noStor bool // no body store configured
		setup  func(store *bodies, e *envelope.Envelope)
		reason string
	}{
		{"missing", false, func(s *bodies, e *envelope.Envelope) { _ = s.Memory.Delete(context.Background(), e.BodyRef) }, envelope.ReasonBodyMissing},
		{"no store", true, func(*bodies, *envelope.Envelope) {}, envelope.ReasonBodyMissing},
		{"mismatch", false, func(s *bodies, e *envelope.Envelope) { s.Corrupt(e.BodyRef, []byte(`{"tampered":true}`)) }, envelope.ReasonBodyMismatch},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			store := newBodies()
			var cfgStore processor.Bodies = store
			if c.noStor {
				cfgStore = nil
			}
			h := bodyHarness(t, cfgStore)
			fx := newEffects()
			h.route("stripe", fx)
			e, inline := storedEvent(t, store, "stripe", "evt_1", "payment_intent.succeeded")
			c.setup(store, e)
			msg := delivery(t, "m1", e, 1)

			if failed := h.handle(msg); failed["m1"] {
				t.Fatalf("record reported for a retry: %+v", h.result("m1"))
			}
			r := h.result("m1")
			if r.Outcome != processor.DeadLettered || r.Reason != c.reason || r.Err == nil {
				t.Fatalf("result = %+v, want dead-lettered %s with the error", r, c.reason)
			}
			if calls, _ := fx.count(); calls != 0 {
				t.Fatalf("handler ran %d times without its body", calls)
			}
			if _, deletes := store.counts(); deletes != 0 {
				t.Fatal("a dead-lettered event's body was deleted")
			}
			dl := h.deadLetters()
			if len(dl) != 1 || dl[0].Body != msg.Body || dl[0].Attributes[envelope.AttrReason] != c.reason {
				t.Fatalf("dead letters = %+v, want the original message with reason %s", dl, c.reason)
			}

			if c.noStor {
				return
			}
			// The object is restored; the dead letter is replayed.
			if err := store.Memory.Put(context.Background(), e.BodyRef, e.BodySHA256, inline.Body); err != nil {
				t.Fatal(err)
			}
			if failed := h.handle(raw("m1-replay", dl[0].Body, e.Attributes(), 1)); failed["m1-replay"] {
				t.Fatalf("replay failed: %+v", h.result("m1-replay"))
			}
			if r := h.result("m1-replay"); r.Outcome != processor.Processed {
				t.Fatalf("replay after the body came back: %+v, want processed", r)
			}
			if len(fx.bodies) != 1 || fx.bodies[0] != string(inline.Body) || store.has(e) {
				t.Fatalf("replay: handler saw %q, object left %v", fx.bodies, store.has(e))
			}
		})
	}
}

// A body store outage is a transient failure: the record is retried, its body kept,
// and the next delivery processes it.
func TestBodyStoreOutageIsRetried(t *testing.T) {
	t.Parallel()
	store := newBodies()
	h := bodyHarness(t, store)
	fx := newEffects()
	h.route("stripe", fx)
	e, _ := storedEvent(t, store, "stripe", "evt_1", "payment_intent.succeeded")
	store.SetOutage(errors.New("503 Slow Down"))

	if failed := h.handle(delivery(t, "m1", e, 1)); !failed["m1"] {
		t.Fatal("record not reported for a retry during a body store outage")
	}
	if r := h.result("m1"); r.Outcome != processor.Retried || r.Delay <= 0 || retry.IsPermanent(r.Err) {
		t.Fatalf("result = %+v, want retried after a delay", r)
	}
	if len(h.deadLetters()) != 0 {
		t.Fatal("an outage dead-lettered the record")
	}
	store.SetOutage(nil)
	if !store.has(e) {
		t.Fatal("the body was deleted on a retry")
	}
	if failed := h.handle(delivery(t, "m1", e, 2)); failed["m1"] {
		t.Fatalf("redelivery failed: %+v", h.result("m1"))
	}
	if r := h.result("m1"); r.Outcome != processor.Processed || r.Attempts != 2 {
		t.Fatalf("redelivery: %+v, want processed on attempt 2", r)
	}
}

// A handler failure keeps the body: a retry and a replay of the dead letter need it.
func TestHandlerFailureKeepsTheBody(t *testing.T) {
	t.Parallel()
	store := newBodies()
	h := bodyHarness(t, store)
	h.route("stripe", newEffects(errTransient, retry.Permanent(errors.New("HTTP 400"))))
	e, _ := storedEvent(t, store, "stripe", "evt_1", "payment_intent.succeeded")

	h.handle(delivery(t, "m1", e, 1))
	if r := h.result("m1"); r.Outcome != processor.Retried {
		t.Fatalf("first attempt: %+v, want retried", r)
	}
	h.handle(delivery(t, "m1", e, 2))
	if r := h.result("m1"); r.Outcome != processor.DeadLettered || r.Reason != envelope.ReasonPermanent {
		t.Fatalf("second attempt: %+v, want dead-lettered permanent", r)
	}
	if _, deletes := store.counts(); deletes != 0 || !store.has(e) {
		t.Fatalf("%d deletes after a retry and a dead letter, object kept %v; want 0, true", deletes, store.has(e))
	}
}

// A failed delete is logged at WARN and changes nothing else: the event is processed.
func TestFailedBodyDeleteIsOnlyAWarning(t *testing.T) {
	t.Parallel()
	store := newBodies()
	store.deleteErr = errors.New("AccessDenied")
	h := bodyHarness(t, store)
	h.route("stripe", newEffects())
	e, _ := storedEvent(t, store, "stripe", "evt_1", "payment_intent.succeeded")

	if failed := h.handle(delivery(t, "m1", e, 1)); failed["m1"] {
		t.Fatal("a failed delete failed the record")
	}
	if r := h.result("m1"); r.Outcome != processor.Processed {
		t.Fatalf("result = %+v, want processed", r)
	}
	for _, l := range h.logLines() {
		if l["level"] == "WARN" && l["bodyRef"] == e.BodyRef {
			contains(t, "warning", l["error"].(string), "AccessDenied")
			return
		}
	}
	t.Fatalf("no WARN line names the body left behind: %v", h.logLines())
}

// A record deferred by an open breaker costs no GET; a probe whose body could not be
// loaded says nothing about the destination: the breaker is neither closed nor kept
// open by it, and the probe is handed on.
func TestBreakerAndStoredBodies(t *testing.T) {
	t.Parallel()
	store := newBodies()
	bstore := breaker.NewMemoryStore()
	var b *breaker.Breaker
	h := bodyHarness(t, store, func(c *harnessConfig) {
		c.breakers = func(now func() time.Time) processor.Breakers {
			b = breaker.New(bstore, breaker.Settings{Now: now})
			return b
		}
	})
	fx := newEffects()
	h.route("stripe", fx)
	trip(t, b, "stripe")
	e1, _ := storedEvent(t, store, "stripe", "evt_1", "payment_intent.succeeded")

	h.handle(delivery(t, "m1", e1, 1))
	if r := h.result("m1"); r.Outcome != processor.Deferred || r.Reason != processor.ReasonBreakerOpen {
		t.Fatalf("record while open: %+v, want deferred", r)
	}
	if gets, _ := store.counts(); gets != 0 {
		t.Fatalf("a deferral cost %d GETs", gets)
	}

	h.clock.Advance(breaker.DefaultOpenFor + time.Second)
	e2, _ := storedEvent(t, store, "stripe", "evt_2", "payment_intent.succeeded")
	_ = store.Memory.Delete(context.Background(), e2.BodyRef)
	h.handle(delivery(t, "m2", e2, 1)) // takes the probe; its body is missing
	if r := h.result("m2"); r.Outcome != processor.DeadLettered || r.Reason != envelope.ReasonBodyMissing {
		t.Fatalf("probe without a body: %+v, want dead-lettered bodyMissing", r)
	}
	rec, err := bstore.Load(context.Background(), "stripe")
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != breaker.HalfOpen || rec.ProbeUntil.After(h.clock.Now()) {
		t.Fatalf("after a probe that called nothing: %+v; want half-open, the probe handed on", rec)
	}
	h.handle(delivery(t, "m1", e1, 2))
	if r := h.result("m1"); r.Outcome != processor.Processed {
		t.Fatalf("next record: %+v, want processed as the probe", r)
	}
}
