package processor_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/processor"
	"github.com/tenaz/tenaz/shared/queue"
)

// Copies of one event in a batch run one after another, in batch order, whatever the
// batch size (small batches compare keys, large ones index them), while the other
// records still run concurrently. Envelopes whose (source, id) differ but whose keys
// are equal are copies too: the key is what the store knows.
func TestCopiesInOneBatchRunInOrder(t *testing.T) {
	t.Parallel()
	for _, size := range []int{2, 10, 33, 100} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, func(c *harnessConfig) { c.settings.Concurrency = 4 })
			var running, overlap atomic.Int32
			fx := newEffects()
			fx.before = func(_ context.Context, e *envelope.Envelope, _ *idempotency.Attempt) {
				if running.Add(1) > 1 {
					overlap.Store(1)
				}
				time.Sleep(2 * time.Millisecond)
				running.Add(-1)
			}
			h.route("stripe", fx)
			h.route("stripe:x", fx)
			var msgs []queue.Received
			for i := range size {
				msgs = append(msgs, delivery(t, "m"+strconv.Itoa(i), event("stripe", "evt_"+strconv.Itoa(i), "charge.succeeded"), 1))
			}
			// The first and last records are copies; so are the second and third, two
			// spellings of the key stripe:x:y.
			last := size - 1
			msgs[last] = delivery(t, "m"+strconv.Itoa(last), event("stripe", "evt_0", "charge.succeeded"), 1)
			if size > 2 {
				msgs[1] = delivery(t, "m1", event("stripe:x", "y", "charge.succeeded"), 1)
				msgs[2] = delivery(t, "m2", event("stripe", "x:y", "charge.succeeded"), 1)
			}

			if failed := h.handle(msgs...); len(failed) != 0 {
				t.Fatalf("batchItemFailures %v", failed)
			}
			want := map[string]processor.Outcome{"m0": processor.Processed, "m" + strconv.Itoa(last): processor.Duplicate}
			if size > 2 {
				want["m1"], want["m2"] = processor.Processed, processor.Duplicate
			}
			for id, o := range want {
				if got := h.result(id).Outcome; got != o {
					t.Errorf("%s: %s, want %s", id, got, o)
				}
			}
			calls, done := fx.count()
			if wantCalls := size - len(want)/2; calls != wantCalls || done["stripe:evt_0"] != 1 || (size > 2 && done["stripe:x:y"] != 1) {
				t.Fatalf("%d handler calls (want %d), effects %v", calls, wantCalls, done)
			}
			if size > 2 && overlap.Load() == 0 {
				t.Fatal("no two records ran at once: the batch ran serially")
			}
		})
	}
}
