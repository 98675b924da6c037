package redrive_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/queue"
	"github.com/tenaz/tenaz/shared/redrive"
)

// mixed is a dead-letter queue of several sources, types and receive times.
var mixed = []*envelope.Envelope{
	event("stripe", "evt_1", "payment_intent.succeeded", 0),
	event("stripe", "evt_2", "payment_intent.payment_failed", 10),
	event("stripe", "evt_3", "charge.refunded", 20),
	event("github", "d-1", "push", 30),
	event("github", "d-2", "pull_request", 40),
	event("shopify", "s-1", "orders/create", 50),
	event("shopify", "s-2", "orders/paid", 60),
	event("stripe", "evt_4", "payment_intent.succeeded", 70),
}

func keysOf(es []*envelope.Envelope, keep func(*envelope.Envelope) bool) []string {
	var keys []string
	for _, e := range es {
		if keep(e) {
			keys = append(keys, e.Key())
		}
	}
	slices.Sort(keys)
	return keys
}

func TestFilterMovesOnlyMatching(t *testing.T) {
	t.Parallel()
	at := func(m int) time.Time { return base.Add(time.Duration(m) * time.Minute) }
	cases := []struct {
		name   string
		filter redrive.Filter
		want   func(*envelope.Envelope) bool
	}{
		{"everything", redrive.Filter{}, func(*envelope.Envelope) bool { return true }},
		{"by source", redrive.Filter{Source: "stripe"}, func(e *envelope.Envelope) bool { return e.Source == "stripe" }},
		{"by type pattern", redrive.Filter{Type: "payment_intent.*"}, func(e *envelope.Envelope) bool {
			return strings.HasPrefix(e.Type, "payment_intent.")
		}},
		{"by type pattern with a slash", redrive.Filter{Source: "shopify", Type: "orders/*"}, func(e *envelope.Envelope) bool {
			return e.Source == "shopify"
		}},
		{"exact type", redrive.Filter{Type: "push"}, func(e *envelope.Envelope) bool { return e.Type == "push" }},
		{"by provider ids", redrive.Filter{IDs: []string{"evt_2", "d-2", "evt_missing"}}, func(e *envelope.Envelope) bool {
			return e.ID == "evt_2" || e.ID == "d-2"
		}},
		{"by idempotency keys", redrive.Filter{IDs: []string{"shopify:s-1", "github:evt_1"}}, func(e *envelope.Envelope) bool {
			return e.Key() == "shopify:s-1"
		}},
		{"time window, after inclusive and before exclusive", redrive.Filter{ReceivedAfter: at(20), ReceivedBefore: at(50)}, func(e *envelope.Envelope) bool {
			return !e.ReceivedAt.Before(at(20)) && e.ReceivedAt.Before(at(50))
		}},
		{"received after only", redrive.Filter{ReceivedAfter: at(55)}, func(e *envelope.Envelope) bool { return e.ReceivedAt.After(at(55)) }},
		{"all conditions", redrive.Filter{Source: "stripe", Type: "payment_intent.*", IDs: []string{"evt_1", "evt_2", "evt_4"}, ReceivedBefore: at(60)}, func(e *envelope.Envelope) bool {
			return e.ID == "evt_1" || e.ID == "evt_2"
		}},
		{"nothing", redrive.Filter{Source: "slack"}, func(*envelope.Envelope) bool { return false }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			for _, e := range mixed {
				h.deadLetter(t, e, nil)
			}
			rep := run(t, h.redriver(nil), redrive.Request{Filter: c.filter})

			want := keysOf(mixed, c.want)
			rest := keysOf(mixed, func(e *envelope.Envelope) bool { return !c.want(e) })
			if got := keysOn(t, h.main); !slices.Equal(got, want) {
				t.Errorf("main queue holds %v, want %v", got, want)
			}
			if got := keysOn(t, h.dlq); !slices.Equal(got, rest) {
				t.Errorf("dead-letter queue holds %v, want %v", got, rest)
			}
			allVisible(t, h.dlq)
			if rep.Counts.Seen != len(mixed) || rep.Counts.Matched != len(want) || rep.Counts.Moved != len(want) || rep.Counts.Skipped != len(rest) {
				t.Errorf("counts %+v, want seen %d, matched and moved %d, skipped %d", rep.Counts, len(mixed), len(want), len(rest))
			}
			if rep.Stop != redrive.StopEmpty {
				t.Errorf("stop %q, want %q", rep.Stop, redrive.StopEmpty)
			}
		})
	}
}

func TestReplayedMessage(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	e := event("stripe", "evt_attrs", "payment_intent.succeeded", 0)
	h.deadLetter(t, e, map[string]string{"traceparent": "00-abc-def-01"})
	before := contents(h.dlq)[0]
	rep := run(t, h.redriver(nil), redrive.Request{})
	if rep.Counts.Moved != 1 {
		t.Fatalf("moved %d, want 1", rep.Counts.Moved)
	}
	got := contents(h.main)
	if len(got) != 1 {
		t.Fatalf("main queue holds %d messages, want 1", len(got))
	}
	if got[0].Body != before.Body {
		t.Errorf("body changed:\n got %s\nwant %s", got[0].Body, before.Body)
	}
	want := map[string]string{
		envelope.AttrSource:      e.Source,
		envelope.AttrType:        e.Type,
		envelope.AttrKey:         e.Key(),
		"traceparent":            "00-abc-def-01",
		redrive.AttrRedriveCount: "1",
	}
	if !maps.Equal(got[0].Attrs, want) {
		t.Errorf("attributes %v, want %v", got[0].Attrs, want)
	}
	if n := len(contents(h.dlq)); n != 0 {
		t.Errorf("dead-letter queue still holds %d messages", n)
	}
}

func TestRedriveCountAndLimit(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		limit     int // 0: the default
		count     string
		wantMoved bool
		wantNext  string
	}{
		{"never redriven", 0, "", true, "1"},
		{"redriven once", 0, "1", true, "2"},
		{"one below the default limit", 0, strconv.Itoa(redrive.DefaultLimit - 1), true, strconv.Itoa(redrive.DefaultLimit)},
		{"at the default limit", 0, strconv.Itoa(redrive.DefaultLimit), false, ""},
		{"over the default limit", 0, "7", false, ""},
		{"at a custom limit", 1, "1", false, ""},
		{"under a custom limit", 5, "4", true, "5"},
		{"malformed count", 0, "many", true, "1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.deadLetter(t, event("stripe", "evt_limit", "charge.refunded", 0), map[string]string{redrive.AttrRedriveCount: c.count})
			before := contents(h.dlq)
			rep := run(t, h.redriver(func(o *redrive.Options) { o.Settings.Limit = c.limit }), redrive.Request{})
			if !c.wantMoved {
				if rep.Counts.OverLimit != 1 || rep.Counts.Moved != 0 || rep.Counts.Matched != 1 {
					t.Fatalf("counts %+v, want over limit 1 (matched), moved 0", rep.Counts)
				}
				if after := contents(h.dlq); !slices.EqualFunc(after, before, equalStored) {
					t.Fatalf("over-limit message changed: %v → %v", before, after)
				}
				allVisible(t, h.dlq)
				return
			}
			got := contents(h.main)
			if rep.Counts.Moved != 1 || len(got) != 1 {
				t.Fatalf("counts %+v, main queue %d messages; want the message moved", rep.Counts, len(got))
			}
			if n := got[0].Attrs[redrive.AttrRedriveCount]; n != c.wantNext {
				t.Fatalf("redriveCount %q, want %q", n, c.wantNext)
			}
		})
	}
}

func equalStored(a, b stored) bool {
	return a.ID == b.ID && a.Body == b.Body && maps.Equal(a.Attrs, b.Attrs)
}

func TestDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, e := range mixed {
		h.deadLetter(t, e, nil)
	}
	h.deadLetter(t, event("stripe", "evt_over", "payment_intent.succeeded", 5), map[string]string{
		redrive.AttrRedriveCount: "3", envelope.AttrReason: envelope.ReasonPermanent, envelope.AttrLastError: "400 Bad Request",
	})
	h.sendRaw(t, h.dlq, "not an envelope", map[string]string{envelope.AttrSource: "github", envelope.AttrReason: envelope.ReasonUndecodable})
	// An exhausted record for one of them: a dry run must not reset it.
	exhaust(t, h, "stripe:evt_1", 8)
	before := contents(h.dlq)

	rep := run(t, h.redriver(nil), redrive.Request{DryRun: true, Filter: redrive.Filter{Source: "stripe"}})

	if after := contents(h.dlq); !slices.EqualFunc(after, before, equalStored) {
		t.Fatalf("dead-letter queue changed:\nbefore %v\nafter  %v", before, after)
	}
	allVisible(t, h.dlq)
	if n := len(contents(h.main)); n != 0 {
		t.Fatalf("dry run sent %d messages", n)
	}
	if r, err := h.store.Get(context.Background(), "stripe:evt_1", h.clock.Now()); err != nil || r.Attempts != 8 {
		t.Fatalf("dry run touched the idempotency record: %+v, %v", r, err)
	}
	if h.calls.calls["SendMessageBatch"]+h.calls.calls["DeleteMessageBatch"] != 0 {
		t.Fatalf("dry run made calls %v", h.calls.calls)
	}

	stripe := keysOf(mixed, func(e *envelope.Envelope) bool { return e.Source == "stripe" })
	want := redrive.Counts{
		Seen: len(before), Matched: len(stripe) + 1, DryRun: len(stripe), OverLimit: 1,
		Skipped: len(mixed) - len(stripe), Undecodable: 1,
	}
	if rep.Counts != want {
		t.Errorf("counts %+v, want %+v", rep.Counts, want)
	}
	if !rep.DryRun {
		t.Error("report does not say dry run")
	}
	// The breakdown covers every message seen.
	bySource := map[string]int{"(unknown)": 0}
	byType := map[string]int{}
	for _, e := range mixed {
		bySource[e.Source]++
		byType[e.Type]++
	}
	bySource["stripe"]++ // evt_over
	bySource["github"]++ // the undecodable one names its source in its attributes
	byType["payment_intent.succeeded"]++
	byType["(unknown)"]++
	delete(bySource, "(unknown)")
	if !maps.Equal(rep.BySource, bySource) {
		t.Errorf("by source %v, want %v", rep.BySource, bySource)
	}
	if !maps.Equal(rep.ByType, byType) {
		t.Errorf("by type %v, want %v", rep.ByType, byType)
	}
	byError := map[string]int{
		"exhausted: forward: POST https://orders.internal/hooks: 503 Service Unavailable": len(mixed),
		"permanent: 400 Bad Request": 1,
		"undecodable":                1,
	}
	if !maps.Equal(rep.ByError, byError) {
		t.Errorf("by error %v, want %v", rep.ByError, byError)
	}
}

func TestManyNonMatchingBeforeMatching(t *testing.T) {
	t.Parallel()
	// The in-memory queue, like moto, hands out the oldest visible messages first:
	// a run that released non-matching messages at once would see them again and
	// never reach the matching ones behind them.
	h := newHarness(t)
	const skip, match = 35, 7
	for i := range skip {
		h.deadLetter(t, event("github", fmt.Sprintf("d-%d", i), "push", i), nil)
	}
	for i := range match {
		h.deadLetter(t, event("stripe", fmt.Sprintf("evt_%d", i), "invoice.paid", i), nil)
	}
	rep := run(t, h.redriver(nil), redrive.Request{Filter: redrive.Filter{Source: "stripe"}})
	if rep.Counts.Seen != skip+match || rep.Counts.Moved != match || rep.Counts.Skipped != skip {
		t.Fatalf("counts %+v, want seen %d, moved %d, skipped %d", rep.Counts, skip+match, match, skip)
	}
	if n := len(contents(h.dlq)); n != skip {
		t.Fatalf("dead-letter queue holds %d, want the %d non-matching", n, skip)
	}
	allVisible(t, h.dlq)
	if n := len(contents(h.main)); n != match {
		t.Fatalf("main queue holds %d, want %d", n, match)
	}
}

func TestUndecodableStay(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	bodies := []string{"not json", `{"v":2,"source":"stripe","id":"evt_x","type":"a"}`, `{"v":1,"source":"stripe","type":"a"}`, `{"v":1,"source":"stripe","id":"x","type":"a","body":"%%","bodyEncoding":"base64"}`}
	for _, b := range bodies {
		h.sendRaw(t, h.dlq, b, map[string]string{envelope.AttrReason: envelope.ReasonUndecodable})
	}
	h.deadLetter(t, event("stripe", "evt_ok", "invoice.paid", 0), nil)
	before := contents(h.dlq)
	rep := run(t, h.redriver(nil), redrive.Request{})
	if rep.Counts.Undecodable != len(bodies) || rep.Counts.Moved != 1 {
		t.Fatalf("counts %+v, want undecodable %d, moved 1", rep.Counts, len(bodies))
	}
	after := contents(h.dlq)
	if !slices.EqualFunc(after, before[:len(bodies)], equalStored) {
		t.Fatalf("undecodable messages changed:\nbefore %v\nafter  %v", before[:len(bodies)], after)
	}
	allVisible(t, h.dlq)
}

func TestSendFailure(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		err       error
		wantErr   bool
		wantMoved int
	}{
		// A throttled batch stays in the dead-letter queue; the run goes on.
		{"retryable", errThrottled, false, 15},
		// No send can succeed: the run stops and says why.
		{"permanent", errNoQueue, true, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			var all []*envelope.Envelope
			for i := range 25 {
				e := event("stripe", fmt.Sprintf("evt_%02d", i), "invoice.paid", i)
				all = append(all, e)
				h.deadLetter(t, e, nil)
			}
			h.main.FailNext(queue.OpSend, 1, c.err)
			rep, err := h.redriver(nil).Run(context.Background(), redrive.Request{})
			checkPartition(t, rep)
			if (err != nil) != c.wantErr {
				t.Fatalf("error %v, want an error: %v", err, c.wantErr)
			}
			if c.wantErr && !errors.Is(err, queue.ErrQueueDoesNotExist) {
				t.Fatalf("error %v does not say the queue is missing", err)
			}
			if rep.Counts.SendFailed != 10 || rep.Counts.Moved != c.wantMoved || rep.Counts.DeleteFailed != 0 {
				t.Fatalf("counts %+v, want send failed 10, moved %d", rep.Counts, c.wantMoved)
			}
			// The first batch failed: its messages are still in the dead-letter queue,
			// released, and nothing of them reached the main queue.
			if n := len(contents(h.dlq)); n != len(all)-c.wantMoved {
				t.Fatalf("dead-letter queue holds %d, want %d", n, len(all)-c.wantMoved)
			}
			allVisible(t, h.dlq)
			if n := len(contents(h.main)); n != c.wantMoved {
				t.Fatalf("main queue holds %d, want %d", n, c.wantMoved)
			}
			inDLQ, onMain := keysOn(t, h.dlq), keysOn(t, h.main)
			for _, k := range inDLQ {
				if slices.Contains(onMain, k) {
					t.Fatalf("%s is on both queues after a failed send", k)
				}
			}
		})
	}
}

func TestSendEntryFailure(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, id := range []string{"evt_a", "evt_bad", "evt_c"} {
		h.deadLetter(t, event("stripe", id, "invoice.paid", 0), nil)
	}
	r := h.redriver(func(o *redrive.Options) { o.Queue = partialSender{main: h.main, fail: "evt_bad"} })
	rep := run(t, r, redrive.Request{})
	if rep.Counts.Moved != 2 || rep.Counts.SendFailed != 1 {
		t.Fatalf("counts %+v, want moved 2, send failed 1", rep.Counts)
	}
	if got := keysOn(t, h.dlq); !slices.Equal(got, []string{"stripe:evt_bad"}) {
		t.Fatalf("dead-letter queue holds %v, want the one whose send failed", got)
	}
	if got := keysOn(t, h.main); !slices.Equal(got, []string{"stripe:evt_a", "stripe:evt_c"}) {
		t.Fatalf("main queue holds %v", got)
	}
	allVisible(t, h.dlq)
}

// partialSender fails the entries whose body contains fail, as SQS fails single
// entries of a batch, and sends the others.
type partialSender struct {
	main *queue.Memory
	fail string
}

func (p partialSender) SendBatch(ctx context.Context, ms []queue.Message) ([]queue.BatchResult, error) {
	res := make([]queue.BatchResult, len(ms))
	for i, m := range ms {
		if strings.Contains(m.Body, p.fail) {
			res[i].Err = &queue.Error{Op: "SendMessageBatch", Code: "InternalError", Retryable: true, Err: errors.New("entry failed")}
			continue
		}
		id, err := p.main.Send(ctx, m)
		res[i] = queue.BatchResult{ID: id, Err: err}
	}
	return res, nil
}

func TestWideMessageTrimmed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	// A message the queue's maxReceiveCount moved carries no dead-letter attributes;
	// with seven of its own it has ten, and redriveCount would make eleven.
	extra := map[string]string{envelope.AttrReason: "", envelope.AttrLastError: "", envelope.AttrAttempts: "", envelope.AttrFailedAt: ""}
	for i := range 7 {
		extra["x"+strconv.Itoa(i)] = "v"
	}
	h.deadLetter(t, event("stripe", "evt_wide", "invoice.paid", 1), extra)
	rep := run(t, h.redriver(nil), redrive.Request{})
	if rep.Counts.Moved != 1 {
		t.Fatalf("counts %+v, want moved 1", rep.Counts)
	}
	got := contents(h.main)[0].Attrs
	if len(got) != queue.MaxAttributes || got[redrive.AttrRedriveCount] != "1" || got[envelope.AttrKey] != "stripe:evt_wide" {
		t.Fatalf("attributes %v: want %d, with redriveCount and the envelope's", got, queue.MaxAttributes)
	}
	if _, ok := got["x6"]; ok {
		t.Fatalf("attributes %v: want the last extra name dropped", got)
	}
}

func TestDeleteFailureDuplicatesAndIdempotencyAbsorbs(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for i := range 15 {
		h.deadLetter(t, event("stripe", fmt.Sprintf("evt_%02d", i), "invoice.paid", i), nil)
	}
	h.dlq.FailNext(queue.OpDelete, 1, errThrottled)
	rep := run(t, h.redriver(nil), redrive.Request{})
	if rep.Counts.DeleteFailed != 10 || rep.Counts.Moved != 5 {
		t.Fatalf("counts %+v, want delete failed 10, moved 5", rep.Counts)
	}
	// The ten are on the main queue and still in the dead-letter queue.
	if n := len(contents(h.main)); n != 15 {
		t.Fatalf("main queue holds %d, want 15", n)
	}
	if n := len(contents(h.dlq)); n != 10 {
		t.Fatalf("dead-letter queue holds %d, want 10", n)
	}
	allVisible(t, h.dlq)

	// A later redrive sends the ten again ...
	again := run(t, h.redriver(nil), redrive.Request{})
	if again.Counts.Moved != 10 {
		t.Fatalf("second run moved %d, want 10", again.Counts.Moved)
	}
	// ... and idempotency absorbs the copies: each event has one effect.
	runner := idempotency.NewRunner(h.store, idempotency.Settings{Now: h.clock.Now})
	effects := map[string]int{}
	duplicates := 0
	for _, m := range h.main.Peek(0) {
		e, err := envelope.Decode([]byte(m.Body))
		if err != nil {
			t.Fatal(err)
		}
		out, err := runner.Do(context.Background(), e.Key(), idempotency.PayloadHash(e.Body), func(context.Context, *idempotency.Attempt) ([]byte, error) {
			effects[e.Key()]++
			return nil, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if out.Kind == idempotency.Duplicate {
			duplicates++
		}
	}
	if len(effects) != 15 || duplicates != 10 {
		t.Fatalf("%d events had effects, %d duplicates; want 15 and 10", len(effects), duplicates)
	}
	for k, n := range effects {
		if n != 1 {
			t.Errorf("%s had %d effects", k, n)
		}
	}
}

func TestMax(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		n, max int
		dryRun bool
	}{
		{"inside a batch", 25, 12, false},
		{"a whole batch", 25, 10, false},
		{"above what there is", 8, 20, false},
		{"one", 25, 1, false},
		{"dry run", 25, 12, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			for i := range c.n {
				h.deadLetter(t, event("stripe", fmt.Sprintf("evt_%02d", i), "invoice.paid", i), nil)
			}
			rep := run(t, h.redriver(nil), redrive.Request{Max: c.max, DryRun: c.dryRun})
			want := min(c.n, c.max)
			got := rep.Counts.Moved
			if c.dryRun {
				got = rep.Counts.DryRun
			}
			if got != want {
				t.Fatalf("moved (or would) %d, want %d (%+v)", got, want, rep.Counts)
			}
			moved := 0
			if !c.dryRun {
				moved = want
			}
			if n := len(contents(h.main)); n != moved {
				t.Fatalf("main queue holds %d, want %d", n, moved)
			}
			if n := len(contents(h.dlq)); n != c.n-moved {
				t.Fatalf("dead-letter queue holds %d, want %d", n, c.n-moved)
			}
			allVisible(t, h.dlq)
			if c.max < c.n && rep.Stop != redrive.StopMax {
				t.Fatalf("stop %q, want %q", rep.Stop, redrive.StopMax)
			}
		})
	}
}

func TestRatePacing(t *testing.T) {
	t.Parallel()
	cases := []struct {
		n    int
		rate float64
	}{
		{25, 5},
		{100, 50},
		{7, 0.5},
		{30, 1000},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%d at %v per second", c.n, c.rate), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			for i := range c.n {
				h.deadLetter(t, event("stripe", fmt.Sprintf("evt_%03d", i), "invoice.paid", i), nil)
			}
			rep := run(t, h.redriver(nil), redrive.Request{RatePerSecond: c.rate})
			if rep.Counts.Moved != c.n {
				t.Fatalf("moved %d, want %d", rep.Counts.Moved, c.n)
			}
			times, sizes := h.calls.sendTimes, h.calls.sendSizes
			sent := 0
			for i, at := range times {
				// Never ahead of the rate: before this send, `sent` messages went out.
				earliest := times[0].Add(time.Duration(float64(sent) / c.rate * float64(time.Second)))
				if at.Before(earliest) {
					t.Errorf("send %d at +%v, not before +%v", i, at.Sub(times[0]), earliest.Sub(times[0]))
				}
				// And not slower than needed: the fake sleep waits exactly until due.
				if !at.Equal(earliest) && at.After(times[0]) {
					t.Errorf("send %d at +%v, want +%v", i, at.Sub(times[0]), earliest.Sub(times[0]))
				}
				sent += sizes[i]
			}
			last := c.n - sizes[len(sizes)-1]
			wantSlept := time.Duration(float64(last) / c.rate * float64(time.Second))
			if d := h.totalSlept() - wantSlept; d < -time.Millisecond || d > time.Millisecond {
				t.Errorf("slept %v, want %v", h.totalSlept(), wantSlept)
			}
			if got := time.Duration(rep.ElapsedMs) * time.Millisecond; got < wantSlept-time.Millisecond {
				t.Errorf("elapsed %v, want at least %v", got, wantSlept)
			}
		})
	}
}

func TestDeadlineStopsEarly(t *testing.T) {
	t.Parallel()
	const n, rate = 100, 10.0
	h := newHarness(t)
	for i := range n {
		h.deadLetter(t, event("stripe", fmt.Sprintf("evt_%03d", i), "invoice.paid", i), nil)
	}
	margin := 2 * time.Second
	// Sends go out at +0, +1, +2, +3 s; the one due at +4 s would pass the deadline
	// minus the margin.
	deadline := h.clock.Now().Add(margin + 3500*time.Millisecond)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	r := h.redriver(func(o *redrive.Options) { o.Settings.DeadlineMargin = margin })
	rep, err := r.Run(ctx, redrive.Request{RatePerSecond: rate})
	if err != nil {
		t.Fatal(err)
	}
	checkPartition(t, rep)
	if !rep.StoppedEarly || rep.Stop != redrive.StopDeadline {
		t.Fatalf("stoppedEarly %v, stop %q; want a stop at the deadline", rep.StoppedEarly, rep.Stop)
	}
	if rep.Counts.Moved != 40 || rep.Counts.Left != 10 || rep.Counts.Seen != 50 {
		t.Fatalf("counts %+v, want seen 50, moved 40, left 10", rep.Counts)
	}
	if now := h.clock.Now(); !now.Before(deadline.Add(-margin)) {
		t.Fatalf("the run went on until %v, past the deadline minus the margin %v", now, deadline.Add(-margin))
	}
	if a, b := len(contents(h.main)), len(contents(h.dlq)); a != 40 || b != n-40 {
		t.Fatalf("main queue %d, dead-letter queue %d; want 40 and %d", a, b, n-40)
	}
	allVisible(t, h.dlq)
}

func TestDeadlineAlreadyPassed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.deadLetter(t, event("stripe", "evt_1", "invoice.paid", 0), nil)
	ctx, cancel := context.WithDeadline(context.Background(), h.clock.Now().Add(time.Second))
	defer cancel()
	rep, err := h.redriver(nil).Run(ctx, redrive.Request{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.StoppedEarly || rep.Counts.Seen != 0 || rep.SQSRequests != 0 {
		t.Fatalf("report %+v: want an early stop before any call", rep)
	}
}

// exhaust makes the record of key fail attempts times, as the processor's attempts do.
func exhaust(t *testing.T, h *harness, key string, attempts int) {
	t.Helper()
	runner := idempotency.NewRunner(h.store, idempotency.Settings{Now: h.clock.Now})
	for range attempts {
		out, err := runner.Do(context.Background(), key, "hash", func(context.Context, *idempotency.Attempt) ([]byte, error) {
			return nil, errors.New("503 from the destination")
		})
		if err != nil || out.Kind != idempotency.Failed {
			t.Fatalf("exhaust %s: %+v, %v", key, out, err)
		}
	}
}

func TestFreshBudget(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	runner := idempotency.NewRunner(h.store, idempotency.Settings{Now: h.clock.Now})
	exhaust(t, h, "stripe:evt_exhausted", 8)
	if _, err := runner.Do(ctx, "stripe:evt_done", "hash", func(context.Context, *idempotency.Attempt) ([]byte, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	// A live lease: a copy of the event is being processed right now.
	if _, err := h.store.Claim(ctx, idempotency.ClaimRequest{
		Key: "stripe:evt_leased", PayloadHash: "hash", LeaseToken: "other-worker",
		LeaseExpiresAtMs: h.clock.Now().Add(time.Minute).UnixMilli(), ExpiresAt: h.clock.Now().Add(time.Hour).Unix(), Now: h.clock.Now(),
	}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"evt_exhausted", "evt_done", "evt_unknown", "evt_leased"} {
		h.deadLetter(t, event("stripe", id, "invoice.paid", 0), nil)
	}

	rep := run(t, h.redriver(nil), redrive.Request{})

	if rep.Counts.Moved != 4 || rep.StoreRequests != 4 {
		t.Fatalf("counts %+v, store requests %d; want all 4 moved after 4 resets", rep.Counts, rep.StoreRequests)
	}
	r, err := h.store.Get(ctx, "stripe:evt_exhausted", h.clock.Now())
	if err != nil || r.Attempts != 0 || r.Status == idempotency.StatusCompleted {
		t.Fatalf("exhausted record after the run: %+v, %v; want attempts 0", r, err)
	}
	if r, err := h.store.Get(ctx, "stripe:evt_done", h.clock.Now()); err != nil || r.Status != idempotency.StatusCompleted {
		t.Fatalf("completed record after the run: %+v, %v", r, err)
	}
	// The replay of the completed event is a duplicate: nothing is delivered again.
	out, err := runner.Do(ctx, "stripe:evt_done", "hash", func(context.Context, *idempotency.Attempt) ([]byte, error) {
		t.Fatal("a completed event ran again")
		return nil, nil
	})
	if err != nil || out.Kind != idempotency.Duplicate {
		t.Fatalf("replay of a completed event: %+v, %v", out, err)
	}
	// The exhausted one gets a fresh attempt: the first of a new budget.
	out, err = runner.Do(ctx, "stripe:evt_exhausted", "hash", func(context.Context, *idempotency.Attempt) ([]byte, error) { return nil, nil })
	if err != nil || out.Kind != idempotency.Done || out.Attempts != 1 {
		t.Fatalf("replay of an exhausted event: %+v, %v; want done at attempt 1", out, err)
	}
}

func TestFreshBudgetStoreFailure(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, id := range []string{"evt_a", "evt_b", "evt_c"} {
		h.deadLetter(t, event("stripe", id, "invoice.paid", 0), nil)
	}
	h.store.SetFault(func(op, key string) error {
		if op == "resetAttempts" && key == "stripe:evt_b" {
			return idempotency.ErrUnavailable
		}
		return nil
	})
	rep := run(t, h.redriver(nil), redrive.Request{})
	if rep.Counts.Moved != 2 || rep.Counts.ResetFailed != 1 {
		t.Fatalf("counts %+v, want moved 2, reset failed 1", rep.Counts)
	}
	if got := keysOn(t, h.dlq); !slices.Equal(got, []string{"stripe:evt_b"}) {
		t.Fatalf("dead-letter queue holds %v, want the one whose reset failed", got)
	}
	allVisible(t, h.dlq)
}

func TestNoBudgetWired(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	exhaust(t, h, "stripe:evt_1", 3)
	h.deadLetter(t, event("stripe", "evt_1", "invoice.paid", 0), nil)
	rep := run(t, h.redriver(func(o *redrive.Options) { o.Budget = nil }), redrive.Request{})
	if rep.Counts.Moved != 1 || rep.StoreRequests != 0 {
		t.Fatalf("counts %+v, store requests %d", rep.Counts, rep.StoreRequests)
	}
	if r, _ := h.store.Get(context.Background(), "stripe:evt_1", h.clock.Now()); r.Attempts != 3 {
		t.Fatalf("attempts %d, want 3 untouched", r.Attempts)
	}
}

func TestRequestsPerMovedMessage(t *testing.T) {
	t.Parallel()
	const n = 100
	h := newHarness(t)
	for i := range n {
		h.deadLetter(t, event("stripe", fmt.Sprintf("evt_%03d", i), "invoice.paid", i), nil)
	}
	rep := run(t, h.redriver(nil), redrive.Request{})
	if rep.Counts.Moved != n {
		t.Fatalf("moved %d, want %d", rep.Counts.Moved, n)
	}
	if got := h.calls.total(); rep.SQSRequests != got {
		t.Fatalf("report says %d SQS requests, the queues saw %d", rep.SQSRequests, got)
	}
	if !maps.Equal(rep.SQSRequestsByCall, h.calls.calls) {
		t.Fatalf("requests by call %v, the queues saw %v", rep.SQSRequestsByCall, h.calls.calls)
	}
	per := float64(h.calls.total()) / n
	if per > 1.3 || rep.SQSRequestsPerMoved != per {
		t.Fatalf("%.2f SQS requests per moved message (report %.2f), want ≤ 1.3", per, rep.SQSRequestsPerMoved)
	}
	t.Logf("%d messages: %d SQS requests (%v), %.2f per message", n, rep.SQSRequests, rep.SQSRequestsByCall, per)
}

func TestLargeBodiesSplitSends(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	const n = 10
	for i := range n {
		e := event("stripe", fmt.Sprintf("evt_big_%d", i), "invoice.paid", i)
		e.Body = []byte(`{"pad":"` + strings.Repeat("x", 200<<10) + `"}`)
		h.deadLetter(t, e, nil)
	}
	rep := run(t, h.redriver(nil), redrive.Request{})
	if rep.Counts.Moved != n {
		t.Fatalf("counts %+v, want all %d moved", rep.Counts, n)
	}
	if len(h.calls.sendSizes) < 2 {
		t.Fatalf("%d sends for %d messages of 200 KiB, want them split under 1 MiB", len(h.calls.sendSizes), n)
	}
}

// jumpy moves the clock by step on every receive, so that what the run holds becomes
// visible again before the run is over.
type jumpy struct {
	*counting
	h    *harness
	step time.Duration
}

func (j jumpy) Receive(ctx context.Context, max int, wait, vis time.Duration) ([]queue.Received, error) {
	j.h.clock.Advance(j.step)
	return j.counting.Receive(ctx, max, wait, vis)
}

func TestTerminatesWhenSeenMessagesComeBack(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for i := range 15 {
		h.deadLetter(t, event("github", fmt.Sprintf("d-%d", i), "push", i), nil)
	}
	r := h.redriver(func(o *redrive.Options) {
		o.DLQ = jumpy{counting: h.calls, h: h, step: 2 * time.Second}
		o.Settings.Hold = time.Second
	})
	before := contents(h.dlq)
	rep := run(t, r, redrive.Request{Filter: redrive.Filter{Source: "stripe"}})
	if rep.Stop != redrive.StopAllSeen || rep.Counts.Seen != 15 || rep.Counts.Skipped != 15 {
		t.Fatalf("stop %q, counts %+v; want all 15 seen once and a stop on seen messages", rep.Stop, rep.Counts)
	}
	if rep.Counts.ReleaseFailed != 0 {
		t.Fatalf("release failed for %d", rep.Counts.ReleaseFailed)
	}
	if after := contents(h.dlq); !slices.EqualFunc(after, before, equalStored) {
		t.Fatal("dead-letter queue changed")
	}
	allVisible(t, h.dlq)
}

func TestReceiveFailureStops(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for i := range 15 {
		h.deadLetter(t, event("stripe", fmt.Sprintf("evt_%d", i), "invoice.paid", i), nil)
	}
	// The second receive fails after the first batch moved.
	fail := &failSecondReceive{counting: h.calls}
	r := h.redriver(func(o *redrive.Options) { o.DLQ = fail })
	rep, err := r.Run(context.Background(), redrive.Request{})
	if err == nil || !errors.Is(err, queue.ErrThrottled) {
		t.Fatalf("error %v, want the receive failure", err)
	}
	if !strings.Contains(err.Error(), "moved 10") {
		t.Fatalf("error %q does not say how far the run got", err)
	}
	if rep.Counts.Moved != 10 || rep.Stop != redrive.StopError {
		t.Fatalf("report %+v", rep)
	}
	allVisible(t, h.dlq)
}

type failSecondReceive struct {
	*counting
	mu sync.Mutex
	n  int
}

func (f *failSecondReceive) Receive(ctx context.Context, max int, wait, vis time.Duration) ([]queue.Received, error) {
	f.mu.Lock()
	f.n++
	n := f.n
	f.mu.Unlock()
	if n == 2 {
		return nil, errThrottled
	}
	return f.counting.Receive(ctx, max, wait, vis)
}

func TestErrorBreakdownIsBounded(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	const n = redrive.MaxErrorKeys + 20
	for i := range n {
		h.deadLetter(t, event("stripe", fmt.Sprintf("evt_%03d", i), "invoice.paid", i), map[string]string{
			envelope.AttrLastError: fmt.Sprintf("error number %d %s", i, strings.Repeat("é", 300)),
		})
	}
	rep := run(t, h.redriver(nil), redrive.Request{DryRun: true})
	if len(rep.ByError) != redrive.MaxErrorKeys+1 || rep.ByError["(other)"] != n-redrive.MaxErrorKeys {
		t.Fatalf("%d error keys, %d under (other); want %d and %d", len(rep.ByError), rep.ByError["(other)"], redrive.MaxErrorKeys+1, n-redrive.MaxErrorKeys)
	}
	for k := range rep.ByError {
		if len(k) > 210 || !utf8Valid(k) {
			t.Fatalf("error key of %d bytes or invalid UTF-8: %q", len(k), k)
		}
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

func TestBadRequestTouchesNothing(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"unknown field":   `{"dry": true}`,
		"unknown filter":  `{"filter": {"sources": "stripe"}}`,
		"bad time":        `{"filter": {"receivedAfter": "yesterday"}}`,
		"negative max":    `{"max": -1}`,
		"negative rate":   `{"ratePerSecond": -2}`,
		"empty window":    `{"filter": {"receivedAfter": "2026-05-02T00:00:00Z", "receivedBefore": "2026-05-01T00:00:00Z"}}`,
		"trailing data":   `{"max": 1} {"max": 2}`,
		"not an object":   `[1, 2]`,
		"wrong type":      `{"max": "10"}`,
		"empty id":        `{"filter": {"ids": ["evt_1", ""]}}`,
		"fractional max":  `{"max": 1.5}`,
		"malformed json":  `{"max": `,
		"date only":       `{"filter": {"receivedBefore": "2026-05-01"}}`,
		"rate not number": `{"ratePerSecond": null, "dryRun": "yes"}`,
		"no body":         ``,
		"blank body":      " \n",
		"null":            `null`,
	}
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.deadLetter(t, event("stripe", "evt_1", "invoice.paid", 0), nil)
			before := contents(h.dlq)
			rep, err := h.redriver(nil).Handle(context.Background(), []byte(raw))
			if !errors.Is(err, redrive.ErrBadRequest) {
				t.Fatalf("error %v, want ErrBadRequest", err)
			}
			if h.calls.total() != 0 || rep.SQSRequests != 0 {
				t.Fatalf("a bad request made %d queue calls", h.calls.total())
			}
			if after := contents(h.dlq); !slices.EqualFunc(after, before, equalStored) {
				t.Fatal("dead-letter queue changed")
			}
		})
	}
}

func TestHandleRuns(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, e := range mixed {
		h.deadLetter(t, e, nil)
	}
	rep, err := h.redriver(nil).Handle(context.Background(), []byte(`{"filter": {"source": "github"}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := keysOf(mixed, func(e *envelope.Envelope) bool { return e.Source == "github" })
	if got := keysOn(t, h.main); !slices.Equal(got, want) || rep.Counts.Moved != len(want) {
		t.Fatalf("moved %v (%d), want %v", got, rep.Counts.Moved, want)
	}
}

func TestHandleEmptyObjectMovesEverything(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, e := range mixed {
		h.deadLetter(t, e, nil)
	}
	rep, err := h.redriver(nil).Handle(context.Background(), []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	want := keysOf(mixed, func(*envelope.Envelope) bool { return true })
	if got := keysOn(t, h.main); !slices.Equal(got, want) || rep.Counts.Moved != len(want) {
		t.Fatalf("{} moved %v (%d), want every message %v", got, rep.Counts.Moved, want)
	}
}

func TestRunRejectsInvalidRequest(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.deadLetter(t, event("stripe", "evt_1", "invoice.paid", 0), nil)
	_, err := h.redriver(nil).Run(context.Background(), redrive.Request{Max: -3})
	if !errors.Is(err, redrive.ErrBadRequest) || h.calls.total() != 0 {
		t.Fatalf("error %v after %d calls, want ErrBadRequest before any", err, h.calls.total())
	}
}

func TestReleaseFailure(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for i := range 15 {
		h.deadLetter(t, event("stripe", fmt.Sprintf("evt_%d", i), "invoice.paid", i), nil)
	}
	h.dlq.FailNext(queue.OpChangeVisibility, 1, errThrottled)
	rep := run(t, h.redriver(nil), redrive.Request{DryRun: true})
	// Batches are released concurrently: either one (of 10 or of 5) failed.
	failed := rep.Counts.ReleaseFailed
	if (failed != 10 && failed != 5) || rep.Counts.DryRun != 15 {
		t.Fatalf("counts %+v, want one batch whose release failed", rep.Counts)
	}
	// Those stay invisible until their visibility timeout ends, then come back
	// unchanged.
	if s := h.dlq.Snapshot(); s.Visible != 15-failed || s.InFlight != failed {
		t.Fatalf("dead-letter queue %+v, want %d visible and %d in flight", s.Depth, 15-failed, failed)
	}
	h.clock.Advance(redrive.DefaultHold + time.Second)
	allVisible(t, h.dlq)
	if n := len(contents(h.dlq)); n != 15 {
		t.Fatalf("dead-letter queue holds %d, want 15", n)
	}
}

// refailing is a main queue whose processor fails every event again soon after it
// arrives, while the run is still going on: each message sent comes back to the
// dead-letter queue a millisecond later as the processor dead-letters it (its
// attributes, redriveCount included, and the dead-letter ones), under a new id.
type refailing struct {
	sender redrive.Sender
	h      *harness
}

func (r refailing) SendBatch(ctx context.Context, ms []queue.Message) ([]queue.BatchResult, error) {
	res, err := r.sender.SendBatch(ctx, ms)
	if err != nil {
		return res, err
	}
	r.h.clock.Advance(time.Millisecond)
	for i, m := range ms {
		if res[i].Err != nil {
			continue
		}
		attrs := maps.Clone(m.Attributes)
		attrs[envelope.AttrReason] = envelope.ReasonPermanent
		attrs[envelope.AttrLastError] = "forward: HTTP 422 Unprocessable Entity"
		if _, err := r.h.dlq.Send(ctx, queue.Message{Body: m.Body, Attributes: attrs}); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// A run replays the dead-letter queue as it was when it started. An event it replayed
// that comes back during the run (the processor failed it again) stays there for a
// later run: one run costs a still-failing event one more attempt, not its whole
// redrive limit. Copies of an event that were there before the run all move.
func TestRunLeavesWhatArrivesDuringIt(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		copies    int  // messages of the event in the dead-letter queue before the run
		refail    bool // the processor dead-letters every replayed message again at once
		limit     int  // 0: the default
		want      redrive.Counts
		wantCount []string // redriveCount of each message left in the dead-letter queue, sorted
	}{
		{name: "failed again during the run", copies: 1, refail: true,
			want: redrive.Counts{Seen: 2, Matched: 2, Moved: 1, Newer: 1}, wantCount: []string{"1"}},
		{name: "failed again, high limit", copies: 1, refail: true, limit: 1000,
			want: redrive.Counts{Seen: 2, Matched: 2, Moved: 1, Newer: 1}, wantCount: []string{"1"}},
		{name: "failed again, reaching the limit", copies: 1, refail: true, limit: 1,
			want: redrive.Counts{Seen: 2, Matched: 2, Moved: 1, Newer: 1}, wantCount: []string{"1"}},
		{name: "two copies, both failed again", copies: 2, refail: true,
			want: redrive.Counts{Seen: 4, Matched: 4, Moved: 2, Newer: 2}, wantCount: []string{"1", "1"}},
		{name: "two copies", copies: 2,
			want: redrive.Counts{Seen: 2, Matched: 2, Moved: 2}, wantCount: nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			e := event("github", "d-again", "push", 0)
			for range c.copies {
				h.deadLetter(t, e, nil)
			}
			r := h.redriver(func(o *redrive.Options) {
				o.Settings.Limit = c.limit
				if c.refail {
					o.Queue = refailing{sender: o.Queue, h: h}
				}
			})
			rep := run(t, r, redrive.Request{})
			if rep.Counts != c.want {
				t.Fatalf("counts %+v, want %+v", rep.Counts, c.want)
			}
			var counts []string
			for _, m := range contents(h.dlq) {
				counts = append(counts, m.Attrs[redrive.AttrRedriveCount])
			}
			slices.Sort(counts)
			if !slices.Equal(counts, c.wantCount) {
				t.Fatalf("dead-letter queue: redriveCounts %q, want %q", counts, c.wantCount)
			}
			if n := len(contents(h.main)); n != c.want.Moved {
				t.Fatalf("main queue holds %d messages, want %d", n, c.want.Moved)
			}
			allVisible(t, h.dlq)

			// The next run takes what arrived during this one, unless the limit keeps it.
			if c.refail {
				next := run(t, h.redriver(func(o *redrive.Options) { o.Settings.Limit = c.limit }), redrive.Request{})
				want := redrive.Counts{Seen: c.want.Newer, Matched: c.want.Newer, Moved: c.want.Newer}
				if c.limit == 1 {
					want = redrive.Counts{Seen: c.want.Newer, Matched: c.want.Newer, OverLimit: c.want.Newer}
				}
				if next.Counts != want {
					t.Fatalf("next run: counts %+v, want %+v", next.Counts, want)
				}
			}
		})
	}
}

// filter.destination replays only the dead letters of fanned-out events that name
// that destination; the replay keeps the names, so it delivers only there.
func TestFilterByDestination(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.deadLetter(t, event("stripe", "evt_crm", "invoice.paid", 1), map[string]string{envelope.AttrDestinations: "crm"})
	h.deadLetter(t, event("stripe", "evt_both", "invoice.paid", 2), map[string]string{envelope.AttrDestinations: "analytics,crm"})
	h.deadLetter(t, event("stripe", "evt_analytics", "invoice.paid", 3), map[string]string{envelope.AttrDestinations: "analytics"})
	h.deadLetter(t, event("stripe", "evt_whole", "invoice.paid", 4), nil)
	req, err := redrive.ParseRequest([]byte(`{"filter": {"destination": "crm"}}`))
	if err != nil {
		t.Fatal(err)
	}
	rep := run(t, h.redriver(nil), req)
	if got := keysOn(t, h.main); !slices.Equal(got, []string{"stripe:evt_both", "stripe:evt_crm"}) {
		t.Fatalf("main queue holds %v, want the two naming crm", got)
	}
	if rep.Counts.Moved != 2 || rep.Counts.Skipped != 2 {
		t.Fatalf("counts %+v", rep.Counts)
	}
	for _, m := range contents(h.main) {
		if !strings.Contains(m.Attrs[envelope.AttrDestinations], "crm") {
			t.Fatalf("replayed %s lost its destinations: %v", m.Body, m.Attrs)
		}
	}
}
