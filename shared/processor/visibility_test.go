package processor_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/queue"
	"github.com/tenaz/tenaz/shared/route"
)

// The records of a batch that must come back later have their visibility set
// together, at most queue.MaxBatch per request: 25 retried records cost 3 requests,
// not 25, and each gets its own delay. Records that succeeded are not touched.
func TestVisibilityIsSetInBatches(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.route("stripe", route.HandlerFunc(func(_ context.Context, e *envelope.Envelope, _ *idempotency.Attempt) ([]byte, error) {
		if strings.HasSuffix(e.ID, "-ok") {
			return nil, nil
		}
		return nil, errors.New("HTTP 503 Service Unavailable")
	}))
	var msgs []queue.Received
	for i := range 25 {
		msgs = append(msgs, delivery(t, fmt.Sprintf("m%d", i), event("stripe", fmt.Sprintf("evt_%d", i), "t"), i%4+1))
	}
	for i := range 3 {
		msgs = append(msgs, delivery(t, fmt.Sprintf("ok%d", i), event("stripe", fmt.Sprintf("evt_%d-ok", i), "t"), 1))
	}
	failed := h.handle(msgs...)
	if len(failed) != 25 {
		t.Fatalf("%d records reported failed, want 25", len(failed))
	}
	if got := h.vis.batchSizes(); !slices.Equal(got, []int{10, 10, 5}) {
		t.Fatalf("ChangeVisibilityBatch calls of %v entries, want [10 10 5]", got)
	}
	for i := range 25 {
		id := fmt.Sprintf("m%d", i)
		if d, want := h.vis.delayOf(t, msgs[i].ReceiptHandle), h.result(id).Delay; d != want || d <= 0 {
			t.Fatalf("%s: visibility %v, result delay %v", id, d, want)
		}
	}
	for i := range 3 {
		for _, c := range h.vis.all() {
			if c.handle == msgs[25+i].ReceiptHandle {
				t.Fatalf("a processed record's visibility was changed: %+v", c)
			}
		}
	}
}

// A visibility change that fails is logged, and the record is still reported failed:
// it comes back after the queue's own visibility timeout.
func TestVisibilityFailureStillFailsTheRecord(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.route("stripe", route.HandlerFunc(func(context.Context, *envelope.Envelope, *idempotency.Attempt) ([]byte, error) {
		return nil, errors.New("HTTP 503 Service Unavailable")
	}))
	h.vis.fail(errors.New("ServiceUnavailable"))
	m := delivery(t, "m1", event("stripe", "evt_1", "t"), 1)
	if failed := h.handle(m); !failed["m1"] {
		t.Fatalf("record not reported failed: %v", failed)
	}
	warned := false
	for _, l := range h.logLines() {
		if l["msg"] == "change visibility failed" && l["key"] == "stripe:evt_1" {
			warned = true
		}
	}
	if !warned {
		t.Fatalf("no warning for the failed visibility change: %v", h.logLines())
	}
}
