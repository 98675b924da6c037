package redrive_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/blob"
	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/redrive"
)

// storedEvent is event with its body put in store (unless store is nil): the
// message carries the reference and the SHA-256.
func storedEvent(t *testing.T, store *blob.Memory, source, id string) *envelope.Envelope {
	t.Helper()
	e := event(source, id, "charge.succeeded", 0)
	key, err := blob.Key(source, id)
	if err != nil {
		t.Fatal(err)
	}
	if store != nil {
		if err := store.Put(context.Background(), key, blob.Sum(e.Body), e.Body); err != nil {
			t.Fatal(err)
		}
	}
	e.BodyRef, e.BodySHA256, e.Body = key, blob.Sum(e.Body), nil
	return e
}

// A stored-body message is replayed after its body's age is restarted; one whose
// body is gone stays in the dead-letter queue, listed with its reason; inline
// messages are replayed as before.
func TestReplayTouchesStoredBodiesAndKeepsThoseMissing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	store := blob.NewMemory()
	put := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	store.SetClock(func() time.Time { return put })
	kept := storedEvent(t, store, "stripe", "evt_kept")
	gone := storedEvent(t, nil, "stripe", "evt_gone")
	inline := event("stripe", "evt_inline", "charge.succeeded", 0)
	h.deadLetter(t, kept, map[string]string{envelope.AttrReason: envelope.ReasonBodyMissing})
	goneID := h.deadLetter(t, gone, map[string]string{envelope.AttrReason: envelope.ReasonBodyMissing})
	h.deadLetter(t, inline, nil)
	store.SetClock(h.clock.Now)
	h.clock.Advance(time.Hour)

	rep := run(t, h.redriver(func(o *redrive.Options) { o.Bodies = store }), redrive.Request{})

	if rep.Counts.Moved != 2 || rep.Counts.BodyMissing != 1 || rep.Counts.BodyFailed != 0 {
		t.Fatalf("counts %+v, want 2 moved, 1 body missing", rep.Counts)
	}
	if got := keysOn(t, h.main); !slices.Equal(got, []string{"stripe:evt_inline", "stripe:evt_kept"}) {
		t.Fatalf("main queue holds %v", got)
	}
	left := contents(h.dlq)
	if len(left) != 1 || left[0].Attrs[envelope.AttrKey] != "stripe:evt_gone" {
		t.Fatalf("dead-letter queue holds %+v, want only the message whose body is gone", left)
	}
	allVisible(t, h.dlq)
	if modified, _ := store.Modified(kept.BodyRef); !modified.Equal(h.clock.Now()) {
		t.Fatalf("replayed body last modified %v, want touched at %v", modified, h.clock.Now())
	}
	want := []redrive.BodyProblem{{MessageID: goneID, Key: "stripe:evt_gone", BodyRef: gone.BodyRef, Reason: envelope.ReasonBodyMissing}}
	if len(rep.BodyProblems) != 1 || rep.BodyProblems[0].Error == "" {
		t.Fatalf("body problems %+v, want %+v with the error", rep.BodyProblems, want)
	}
	rep.BodyProblems[0].Error = ""
	if rep.BodyProblems[0] != want[0] {
		t.Fatalf("body problem %+v, want %+v", rep.BodyProblems[0], want[0])
	}
	if rep.BodyRequests != 2 {
		t.Fatalf("body requests %d, want one touch per stored body", rep.BodyRequests)
	}
}

// Without a body store, or during its outage, a stored-body message is not
// replayed; the inline ones are.
func TestReplayWithoutTheBodyStoreLeavesStoredMessages(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		outage bool
		reason string
	}{
		{"no store", false, envelope.ReasonBodyMissing},
		{"outage", true, redrive.ReasonBodyUnavailable},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			store := blob.NewMemory()
			e := storedEvent(t, store, "stripe", "evt_1")
			h.deadLetter(t, e, nil)
			h.deadLetter(t, event("stripe", "evt_2", "charge.succeeded", 0), nil)
			r := h.redriver(nil)
			if c.outage {
				store.SetOutage(errors.New("503 Slow Down"))
				r = h.redriver(func(o *redrive.Options) { o.Bodies = store })
			}

			rep := run(t, r, redrive.Request{})

			if rep.Counts.Moved != 1 || len(rep.BodyProblems) != 1 || rep.BodyProblems[0].Reason != c.reason {
				t.Fatalf("counts %+v, problems %+v; want 1 moved and the stored one left with %s", rep.Counts, rep.BodyProblems, c.reason)
			}
			if c.outage && rep.Counts.BodyFailed != 1 || !c.outage && rep.Counts.BodyMissing != 1 {
				t.Fatalf("counts %+v", rep.Counts)
			}
			if got := keysOn(t, h.main); !slices.Equal(got, []string{"stripe:evt_2"}) {
				t.Fatalf("main queue holds %v", got)
			}
			allVisible(t, h.dlq)
		})
	}
}

// A dry run reads each stored body (through blob.Load) and reports the missing and
// mismatched ones, message by message, touching nothing.
func TestDryRunReportsStoredBodies(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	store := blob.NewMemory()
	ok := storedEvent(t, store, "stripe", "evt_ok")
	gone := storedEvent(t, nil, "stripe", "evt_gone")
	bad := storedEvent(t, store, "stripe", "evt_bad")
	store.Corrupt(bad.BodyRef, []byte("tampered"))
	for _, e := range []*envelope.Envelope{ok, gone, bad} {
		h.deadLetter(t, e, nil)
	}
	before, _ := store.Modified(ok.BodyRef)
	h.clock.Advance(time.Hour)

	rep := run(t, h.redriver(func(o *redrive.Options) { o.Bodies = store }), redrive.Request{DryRun: true})

	if rep.Counts.DryRun != 1 || rep.Counts.BodyMissing != 1 || rep.Counts.BodyFailed != 1 {
		t.Fatalf("counts %+v, want 1 dry run, 1 body missing, 1 body failed", rep.Counts)
	}
	reasons := map[string]string{}
	for _, p := range rep.BodyProblems {
		reasons[p.Key] = p.Reason
	}
	if reasons["stripe:evt_gone"] != envelope.ReasonBodyMissing || reasons["stripe:evt_bad"] != envelope.ReasonBodyMismatch || len(reasons) != 2 {
		t.Fatalf("body problems %+v", rep.BodyProblems)
	}
	if after, _ := store.Modified(ok.BodyRef); !after.Equal(before) {
		t.Fatal("a dry run touched a body")
	}
	if len(contents(h.dlq)) != 3 || len(contents(h.main)) != 0 {
		t.Fatal("a dry run moved messages")
	}
	allVisible(t, h.dlq)
}
