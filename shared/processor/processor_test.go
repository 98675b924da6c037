package processor_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/forward"
	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/processor"
	"github.com/tenaz/tenaz/shared/queue"
	"github.com/tenaz/tenaz/shared/retry"
	"github.com/tenaz/tenaz/shared/route"
	"github.com/tenaz/tenaz/shared/telemetry"
)

func TestNewRequiresDependencies(t *testing.T) {
	t.Parallel()
	full := func() processor.Options {
		return processor.Options{
			Runner:     idempotency.NewRunner(idempotency.NewMemoryStore(), idempotency.Settings{}),
			Router:     &route.Registry{},
			Visibility: &visibility{},
			DeadLetter: queue.NewMemory(queue.MemoryConfig{}),
		}
	}
	for _, tc := range []struct {
		name  string
		unset func(*processor.Options)
	}{
		{"Runner", func(o *processor.Options) { o.Runner = nil }},
		{"Router", func(o *processor.Options) { o.Router = nil }},
		{"Visibility", func(o *processor.Options) { o.Visibility = nil }},
		{"DeadLetter", func(o *processor.Options) { o.DeadLetter = nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := full()
			tc.unset(&o)
			defer func() {
				if recover() == nil {
					t.Fatalf("New without %s did not panic", tc.name)
				}
			}()
			processor.New(o)
		})
	}
	processor.New(full()) // all present: no panic
}

func TestSuccessIsAcknowledgedAndCompleted(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	fx := newEffects()
	fx.result = []byte(`{"crmId":"c_1"}`)
	h.route("stripe", fx)
	e := event("stripe", "evt_1", "payment_intent.succeeded")

	failed := h.handle(delivery(t, "m1", e, 1))

	if failed["m1"] {
		t.Fatal("a processed record is in batchItemFailures")
	}
	r := h.result("m1")
	if r.Outcome != processor.Processed || r.Key != "stripe:evt_1" || r.Attempts != 1 || r.Err != nil {
		t.Fatalf("result = %+v, want processed stripe:evt_1 on attempt 1", r)
	}
	rec := h.record("stripe:evt_1")
	if rec.Status != idempotency.StatusCompleted || rec.Attempts != 1 || rec.LeaseToken != "" || string(rec.Result) != `{"crmId":"c_1"}` {
		t.Fatalf("record = %+v, want COMPLETED after 1 attempt with the handler's result, no lease", rec)
	}
	if rec.PayloadHash != idempotency.PayloadHash(e.Body) {
		t.Fatalf("record payload hash %s, want the hash of the envelope body", rec.PayloadHash)
	}
	if calls, done := fx.count(); calls != 1 || done["stripe:evt_1"] != 1 {
		t.Fatalf("handler calls %d, effects %v; want one of each", calls, done)
	}
	if got := h.vis.all(); len(got) != 0 {
		t.Fatalf("ChangeVisibility called %v for a processed record", got)
	}
	if got := h.deadLetters(); len(got) != 0 {
		t.Fatalf("dead letters %v, want none", got)
	}
}

func TestDuplicatesAreAcknowledgedWithOneEffect(t *testing.T) {
	t.Parallel()
	e := event("stripe", "evt_dup", "charge.succeeded")
	for _, tc := range []struct {
		name    string
		batches func(t *testing.T) [][]queue.Received
	}{
		{"same envelope twice in one batch", func(t *testing.T) [][]queue.Received {
			return [][]queue.Received{{delivery(t, "m1", e, 1), delivery(t, "m2", e, 1)}}
		}},
		{"same envelope in later batches", func(t *testing.T) [][]queue.Received {
			return [][]queue.Received{{delivery(t, "m1", e, 1)}, {delivery(t, "m2", e, 1)}, {delivery(t, "m3", e, 1)}}
		}},
		{"SQS redelivers the same message", func(t *testing.T) [][]queue.Received {
			// The delete after the first invocation was lost: same message id, next receive.
			return [][]queue.Received{{delivery(t, "m1", e, 1)}, {delivery(t, "m1", e, 2)}}
		}},
		{"provider resends into a batch of other events", func(t *testing.T) [][]queue.Received {
			return [][]queue.Received{
				{delivery(t, "m1", e, 1), delivery(t, "o1", event("stripe", "evt_o1", "charge.succeeded"), 1)},
				{delivery(t, "o2", event("stripe", "evt_o2", "charge.succeeded"), 1), delivery(t, "m2", e, 1), delivery(t, "m3", e, 1)},
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			fx := newEffects()
			// A handler that takes a while, so copies in one batch overlap.
			fx.before = func(context.Context, *envelope.Envelope, *idempotency.Attempt) { time.Sleep(20 * time.Millisecond) }
			h.route("stripe", fx)
			var outcomes []processor.Outcome
			for _, batch := range tc.batches(t) {
				if failed := h.handle(batch...); len(failed) != 0 {
					t.Fatalf("batchItemFailures %v, want none", failed)
				}
				for _, m := range batch {
					r := h.result(m.ID)
					if r.Key != "stripe:evt_dup" {
						continue
					}
					outcomes = append(outcomes, r.Outcome)
				}
			}
			processed, duplicates := 0, 0
			for _, o := range outcomes {
				switch o {
				case processor.Processed:
					processed++
				case processor.Duplicate:
					duplicates++
				default:
					t.Fatalf("outcome %s among %v, want only processed and duplicate", o, outcomes)
				}
			}
			if processed != 1 || duplicates != len(outcomes)-1 {
				t.Fatalf("outcomes %v, want one processed and the rest duplicates", outcomes)
			}
			if _, done := fx.count(); done["stripe:evt_dup"] != 1 {
				t.Fatalf("effects for stripe:evt_dup: %d, want 1", done["stripe:evt_dup"])
			}
			if rec := h.record("stripe:evt_dup"); rec.Status != idempotency.StatusCompleted || rec.Attempts != 1 {
				t.Fatalf("record %+v, want COMPLETED after one attempt", rec)
			}
			if got := h.vis.all(); len(got) != 0 {
				t.Fatalf("ChangeVisibility %v, want none", got)
			}
		})
	}
}

func TestUnroutedIsAcknowledgedWithoutTouchingTheStore(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	fx := newEffects()
	h.routes.Add(route.Route{Source: "stripe", Types: []string{"payment_intent.*"}, Handler: fx})

	failed := h.handle(
		delivery(t, "m1", event("github", "d-1", "push"), 1),               // no route for the source
		delivery(t, "m2", event("stripe", "evt_2", "customer.created"), 1), // source routed, type not
	)

	if len(failed) != 0 {
		t.Fatalf("batchItemFailures %v, want none", failed)
	}
	for _, id := range []string{"m1", "m2"} {
		if r := h.result(id); r.Outcome != processor.Unrouted {
			t.Fatalf("%s: outcome %s, want unrouted", id, r.Outcome)
		}
	}
	if ops := h.storeOps(); len(ops) != 0 {
		t.Fatalf("store operations %v for unrouted events, want none", ops)
	}
	if calls, _ := fx.count(); calls != 0 {
		t.Fatalf("handler called %d times", calls)
	}
	if len(h.deadLetters()) != 0 || len(h.vis.all()) != 0 {
		t.Fatal("an unrouted event was dead-lettered or deferred")
	}
}

func TestClaimedByLiveWorkerIsDeferredUntilItsLeaseEnds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		leaseLeft time.Duration
		want      time.Duration
	}{
		{"rest of the lease", 42*time.Second + 250*time.Millisecond, 42*time.Second + 250*time.Millisecond},
		{"long lease", 14 * time.Minute, 14 * time.Minute},
		{"lease about to end: at least MinDelay", 300 * time.Millisecond, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			fx := newEffects()
			h.route("stripe", fx)
			e := event("stripe", "evt_busy", "charge.succeeded")
			now := h.clock.Now()
			// Another container holds the record.
			if _, err := h.store.Claim(context.Background(), idempotency.ClaimRequest{
				Key: e.Key(), PayloadHash: idempotency.PayloadHash(e.Body), LeaseToken: "other",
				LeaseExpiresAtMs: now.Add(tc.leaseLeft).UnixMilli(), ExpiresAt: now.Add(time.Hour).Unix(), Now: now,
			}); err != nil {
				t.Fatal(err)
			}

			failed := h.handle(delivery(t, "m1", e, 1))

			if !failed["m1"] {
				t.Fatal("a record claimed elsewhere was acknowledged")
			}
			if got := h.vis.delayOf(t, "rh-m1-1"); got != tc.want {
				t.Fatalf("visibility %v, want %v", got, tc.want)
			}
			if r := h.result("m1"); r.Outcome != processor.Deferred || r.Delay != tc.want {
				t.Fatalf("result %+v, want deferred by %v", r, tc.want)
			}
			if calls, _ := fx.count(); calls != 0 {
				t.Fatal("handler ran while another worker held the lease")
			}
			if rec := h.record(e.Key()); rec.LeaseToken != "other" || rec.Attempts != 1 {
				t.Fatalf("record %+v, want the other worker's lease untouched", rec)
			}
		})
	}
}

func TestTransientFailureIsRetriedAfterBackoff(t *testing.T) {
	t.Parallel()
	// Backoff settings of the harness: base 5 s, cap 900 s; the ceiling of the n-th
	// receive is min(900 s, 5 s·2^(n-1)) and the draw r picks r·ceiling.
	for _, tc := range []struct {
		name     string
		receive  int
		draw     float64
		response func(w http.ResponseWriter)
		want     time.Duration
	}{
		{"500, first receive", 1, 0.5, status(500), 2500 * time.Millisecond},
		{"500, third receive", 3, 0.5, status(500), 10 * time.Second},
		{"502, 20th receive: capped", 20, 0.75, status(502), 675 * time.Second},
		{"500, zero draw: MinDelay", 3, 0, status(500), time.Second},
		{"429 with Retry-After above the backoff", 1, 0.5, retryAfter(429, "120"), 120 * time.Second},
		{"503 with Retry-After below the backoff", 4, 0.5, retryAfter(503, "3"), 20 * time.Second},
		{"503 with Retry-After 0: MinDelay", 1, 0, retryAfter(503, "0"), time.Second},
		// A destination cannot park a record past RetryMax (900 s here).
		{"429 with Retry-After a day: RetryMax", 1, 0.5, retryAfter(429, "86400"), 900 * time.Second},
		{"503 with Retry-After just above RetryMax", 2, 0.5, retryAfter(503, "901"), 900 * time.Second},
		{"503 with Retry-After at RetryMax", 2, 0.5, retryAfter(503, "900"), 900 * time.Second},
		{"503 with Retry-After beyond int64", 1, 0.5, retryAfter(503, "99999999999999999999"), 900 * time.Second},
		{"503 with Retry-After a date years ahead", 1, 0.5, retryAfter(503, "Fri, 31 Dec 2100 23:59:59 GMT"), 900 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, func(c *harnessConfig) { c.rand = fixedRand(tc.draw) })
			var hits atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				tc.response(w)
			}))
			t.Cleanup(srv.Close)
			h.route("stripe", forward.New(srv.URL, time.Second, nil))
			e := event("stripe", "evt_t", "charge.succeeded")

			failed := h.handle(delivery(t, "m1", e, tc.receive))

			assertRetried(t, h, "m1", tc.receive, tc.want)
			if !failed["m1"] || hits.Load() != 1 {
				t.Fatalf("failed %v, destination hits %d; want a failure after one call", failed, hits.Load())
			}
		})
	}
}

func TestTransientTransportFailuresAreRetried(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) }) // runs first: lets the handler end before Close waits for it
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	refused, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	resetURL := "http://" + refused.Addr().String()
	go func() { // accept and drop every connection: the request fails mid-way
		for {
			c, err := refused.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { refused.Close() })

	for _, tc := range []struct {
		name    string
		url     string
		timeout time.Duration
		errText []string // one of
	}{
		{"destination times out", slow.URL, 50 * time.Millisecond, []string{"deadline exceeded"}},
		{"connection refused", closedURL, time.Second, []string{"connection refused"}},
		{"connection dropped", resetURL, time.Second, []string{"EOF", "connection reset", "closed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.route("stripe", forward.New(tc.url, tc.timeout, nil))

			h.handle(delivery(t, "m1", event("stripe", "evt_n", "charge.succeeded"), 2))

			r := assertRetried(t, h, "m1", 2, 5*time.Second) // 0.5 · min(900 s, 5 s·2)
			if !slices.ContainsFunc(tc.errText, func(s string) bool { return strings.Contains(r.Err.Error(), s) }) {
				t.Fatalf("error %q, want one of %q", r.Err, tc.errText)
			}
		})
	}
}

// assertRetried checks that message id, received for the n-th time, failed
// transiently: reported failed, visible again after want, its record released for a
// later attempt, nothing dead-lettered.
func assertRetried(t *testing.T, h *harness, id string, n int, want time.Duration) processor.Result {
	t.Helper()
	r := h.result(id)
	if r.Outcome != processor.Retried || r.Err == nil || retry.IsPermanent(r.Err) {
		t.Fatalf("result %+v, want retried with a transient error", r)
	}
	if got := h.vis.delayOf(t, fmt.Sprintf("rh-%s-%d", id, n)); got != want {
		t.Fatalf("visibility %v, want %v", got, want)
	}
	if r.Delay != want {
		t.Fatalf("result delay %v, want %v", r.Delay, want)
	}
	if rec := h.record(r.Key); rec.Status != idempotency.StatusRetryable || rec.LeaseToken != "" || rec.Attempts != 1 {
		t.Fatalf("record %+v, want RETRYABLE after 1 attempt with no lease", rec)
	}
	if got := h.deadLetters(); len(got) != 0 {
		t.Fatalf("dead letters %v, want none", got)
	}
	return r
}

func status(code int) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) { w.WriteHeader(code) }
}

func retryAfter(code int, after string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Retry-After", after)
		w.WriteHeader(code)
	}
}

func TestBackoffUsesTheInjectedJitter(t *testing.T) {
	t.Parallel()
	// A fixed sequence of draws: each retried record draws once, so the delays are
	// the documented full-jitter picks r·ceiling of those draws.
	draws := []float64{0.1, 0.9, 0.35, 0.6}
	var i atomic.Int32
	h := newHarness(t, func(c *harnessConfig) {
		c.rand = func() float64 { return draws[int(i.Add(1)-1)%len(draws)] }
		c.settings.Concurrency = 1
	})
	h.route("stripe", newEffects(errTransient, errTransient, errTransient, errTransient))
	var msgs []queue.Received
	for n := 1; n <= 4; n++ {
		msgs = append(msgs, delivery(t, "m"+strconv.Itoa(n), event("stripe", "evt_"+strconv.Itoa(n), "charge.succeeded"), n))
	}
	h.handle(msgs...)
	want := map[string]time.Duration{
		"rh-m1-1": time.Second,      // 0.1 · 5 s = 0.5 s, raised to MinDelay
		"rh-m2-2": 9 * time.Second,  // 0.9 · 10 s
		"rh-m3-3": 7 * time.Second,  // 0.35 · 20 s
		"rh-m4-4": 24 * time.Second, // 0.6 · 40 s
	}
	got := map[string]time.Duration{}
	for _, c := range h.vis.all() {
		got[c.handle] = c.delay
	}
	// With one record at a time the draws go to the records in batch order.
	for handle, w := range want {
		if got[handle] != w {
			t.Fatalf("visibility of %s = %v, want %v (all: %v)", handle, got[handle], w, got)
		}
	}
}

func TestPermanentFailureIsDeadLettered(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusBadRequest)
	}))
	t.Cleanup(srv.Close)
	h.route("stripe", forward.New(srv.URL, time.Second, nil))
	e := event("stripe", "evt_bad", "charge.succeeded")
	m := delivery(t, "m1", e, 1)
	m.Attributes["traceparent"] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	h.clock.Advance(90 * time.Second)

	failed := h.handle(m)

	if failed["m1"] {
		t.Fatal("a dead-lettered record was reported failed")
	}
	dl := h.deadLetters()
	if len(dl) != 1 {
		t.Fatalf("%d dead letters, want 1", len(dl))
	}
	if dl[0].Body != m.Body {
		t.Fatalf("dead letter body changed:\n got %s\nwant %s", dl[0].Body, m.Body)
	}
	want := map[string]string{
		envelope.AttrSource:   "stripe",
		envelope.AttrType:     "charge.succeeded",
		envelope.AttrKey:      "stripe:evt_bad",
		"traceparent":         m.Attributes["traceparent"],
		envelope.AttrReason:   envelope.ReasonPermanent,
		envelope.AttrAttempts: "1",
		envelope.AttrFailedAt: h.clock.Now().UTC().Format(time.RFC3339),
	}
	for k, v := range want {
		if dl[0].Attributes[k] != v {
			t.Fatalf("dead letter attribute %s = %q, want %q (all: %v)", k, dl[0].Attributes[k], v, dl[0].Attributes)
		}
	}
	contains(t, "lastError", dl[0].Attributes[envelope.AttrLastError], "HTTP 400 Bad Request")
	if n := len(dl[0].Attributes); n != len(want)+1 {
		t.Fatalf("dead letter has %d attributes %v, want %d", n, dl[0].Attributes, len(want)+1)
	}
	if r := h.result("m1"); r.Outcome != processor.DeadLettered || r.Reason != envelope.ReasonPermanent || !retry.IsPermanent(r.Err) {
		t.Fatalf("result %+v, want dead-lettered as permanent", r)
	}
	if hits.Load() != 1 || len(h.vis.all()) != 0 {
		t.Fatalf("destination hits %d, visibility calls %v; want one hit and no deferral", hits.Load(), h.vis.all())
	}
}

func TestDeadLetterKeepsItsOwnAttributesWhenTheMessageHasMany(t *testing.T) {
	t.Parallel()
	for run := range 20 { // the attributes to drop are chosen from a map: try many orders
		h := newHarness(t)
		h.route("stripe", newEffects(retry.Permanent(errors.New("rejected"))))
		e := event("stripe", "evt_many", "charge.succeeded")
		m := delivery(t, "m1", e, 1)
		for i := len(m.Attributes); i < queue.MaxAttributes; i++ {
			m.Attributes[fmt.Sprintf("extra%d", i)] = "x"
		}
		if failed := h.handle(m); failed["m1"] {
			t.Fatalf("run %d: not dead-lettered: %+v", run, h.result("m1"))
		}
		dl := h.deadLetters()
		if len(dl) != 1 {
			t.Fatalf("run %d: %d dead letters, want 1", run, len(dl))
		}
		a := dl[0].Attributes
		if len(a) > queue.MaxAttributes {
			t.Fatalf("run %d: %d attributes, SQS takes at most %d", run, len(a), queue.MaxAttributes)
		}
		for _, k := range []string{envelope.AttrReason, envelope.AttrLastError, envelope.AttrAttempts, envelope.AttrFailedAt,
			envelope.AttrSource, envelope.AttrType, envelope.AttrKey} {
			if a[k] == "" {
				t.Fatalf("run %d: attribute %s dropped; kept %v", run, k, a)
			}
		}
	}
}

func TestUndecodableIsDeadLetteredWithoutTouchingTheStore(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body string
		attrs      map[string]string
		errText    string
	}{
		{"not JSON", "<xml/>", map[string]string{"source": "shopify", "type": "orders/create"}, "invalid envelope"},
		{"unknown version", `{"v":2,"source":"stripe","id":"evt_1","type":"x","body":"{}"}`, nil, "version 2"},
		{"missing id", `{"v":1,"source":"stripe","type":"x","body":"{}"}`, map[string]string{"source": "stripe"}, "missing id"},
		{"bad base64 body", `{"v":1,"source":"stripe","id":"evt_1","type":"x","body":"%%%","bodyEncoding":"base64"}`, nil, "body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			fx := newEffects()
			h.route("stripe", fx)
			h.route("shopify", fx)

			failed := h.handle(raw("m1", tc.body, tc.attrs, 1))

			if failed["m1"] {
				t.Fatal("an undecodable record was reported failed")
			}
			dl := h.deadLetters()
			if len(dl) != 1 || dl[0].Body != tc.body {
				t.Fatalf("dead letters %+v, want the body unchanged", dl)
			}
			a := dl[0].Attributes
			if a[envelope.AttrReason] != envelope.ReasonUndecodable {
				t.Fatalf("reason %q, want %q", a[envelope.AttrReason], envelope.ReasonUndecodable)
			}
			contains(t, "lastError", a[envelope.AttrLastError], tc.errText)
			if _, ok := a[envelope.AttrAttempts]; ok {
				t.Fatalf("attempts attribute %q on a record never attempted", a[envelope.AttrAttempts])
			}
			for k, v := range tc.attrs {
				if a[k] != v {
					t.Fatalf("attribute %s = %q, want the original %q", k, a[k], v)
				}
			}
			r := h.result("m1")
			if r.Outcome != processor.DeadLettered || r.Key != "" || r.Source != tc.attrs["source"] || r.Type != tc.attrs["type"] {
				t.Fatalf("result %+v, want dead-lettered, source and type from the attributes", r)
			}
			if ops := h.storeOps(); len(ops) != 0 {
				t.Fatalf("store operations %v, want none", ops)
			}
			if calls, _ := fx.count(); calls != 0 {
				t.Fatal("handler called for an undecodable record")
			}
		})
	}
}

func TestAttemptsExhaustedIsDeadLettered(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *harnessConfig) { c.settings.MaxAttempts = 3 })
	fx := newEffects(errTransient, errTransient, retry.RetryAfter(errTransient, time.Minute), errTransient)
	h.route("stripe", fx)
	e := event("stripe", "evt_x", "charge.succeeded")

	for n := 1; n <= 2; n++ {
		if failed := h.handle(delivery(t, "m1", e, n)); !failed["m1"] {
			t.Fatalf("receive %d: acknowledged, want a failure to retry", n)
		}
		if r := h.result("m1"); r.Outcome != processor.Retried || r.Attempts != n {
			t.Fatalf("receive %d: result %+v, want retried after attempt %d", n, r, n)
		}
	}
	if failed := h.handle(delivery(t, "m1", e, 3)); failed["m1"] {
		t.Fatal("third attempt reported failed, want dead-lettered")
	}
	r := h.result("m1")
	if r.Outcome != processor.DeadLettered || r.Reason != envelope.ReasonExhausted || r.Attempts != 3 {
		t.Fatalf("result %+v, want dead-lettered, exhausted after 3 attempts", r)
	}
	dl := h.deadLetters()
	if len(dl) != 1 || dl[0].Attributes[envelope.AttrReason] != envelope.ReasonExhausted || dl[0].Attributes[envelope.AttrAttempts] != "3" {
		t.Fatalf("dead letters %+v, want one, exhausted after 3 attempts", dl)
	}
	contains(t, "lastError", dl[0].Attributes[envelope.AttrLastError], errTransient.Error())
	if calls, _ := fx.count(); calls != 3 {
		t.Fatalf("handler calls %d, want 3", calls)
	}
	if got := len(h.vis.all()); got != 2 {
		t.Fatalf("%d visibility changes, want 2 (the retries only)", got)
	}
}

func TestFailedDeadLetterSendIsNotAcknowledged(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		msg    func(t *testing.T) queue.Received
		reason string
	}{
		{"permanent", func(t *testing.T) queue.Received {
			return delivery(t, "m1", event("stripe", "evt_p", "charge.succeeded"), 1)
		}, envelope.ReasonPermanent},
		{"undecodable", func(t *testing.T) queue.Received {
			return raw("m1", "garbage", map[string]string{"source": "stripe"}, 1)
		}, envelope.ReasonUndecodable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.route("stripe", newEffects(retry.Permanent(errors.New("HTTP 422")), retry.Permanent(errors.New("HTTP 422"))))
			h.dlq.FailSends(1, &queue.Error{Op: "SendMessage", Code: "ServiceUnavailable", Retryable: true, Err: errors.New("dead-letter queue unavailable")})
			m := tc.msg(t)

			if failed := h.handle(m); !failed["m1"] {
				t.Fatal("acknowledged although the dead-letter queue refused it")
			}
			r := h.result("m1")
			if r.Outcome != processor.Failed {
				t.Fatalf("outcome %s, want failed", r.Outcome)
			}
			contains(t, "error", r.Err.Error(), "dead-letter queue unavailable")
			if len(h.deadLetters()) != 0 {
				t.Fatal("dead letter stored although the send failed")
			}

			// SQS delivers it again; now the dead-letter queue takes it.
			m.ReceiveCount, m.ReceiptHandle = 2, "rh-m1-2"
			if failed := h.handle(m); failed["m1"] {
				t.Fatalf("second delivery not acknowledged: %+v", h.result("m1"))
			}
			dl := h.deadLetters()
			if len(dl) != 1 || dl[0].Body != m.Body || dl[0].Attributes[envelope.AttrReason] != tc.reason {
				t.Fatalf("dead letters %+v, want the message with reason %s", dl, tc.reason)
			}
		})
	}
}

func TestStoreUnavailableIsRetriedWithoutCallingTheHandler(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	fx := newEffects()
	h.route("stripe", fx)
	throttled := fmt.Errorf("%w: ProvisionedThroughputExceededException", idempotency.ErrUnavailable)
	h.failStore(func(op, _ string) error {
		if op == "claim" {
			return throttled
		}
		return nil
	})
	e := event("stripe", "evt_th", "charge.succeeded")

	failed := h.handle(delivery(t, "m1", e, 2))

	if !failed["m1"] {
		t.Fatal("acknowledged while the store was throttled")
	}
	r := h.result("m1")
	if r.Outcome != processor.Retried || !errors.Is(r.Err, idempotency.ErrUnavailable) {
		t.Fatalf("result %+v, want retried with ErrUnavailable", r)
	}
	if got := h.vis.delayOf(t, "rh-m1-2"); got != 5*time.Second { // 0.5 · min(900 s, 5 s·2)
		t.Fatalf("visibility %v, want 5s", got)
	}
	if calls, _ := fx.count(); calls != 0 {
		t.Fatal("handler ran without a claim")
	}

	// The store recovers: the next delivery is processed.
	h.failStore(nil)
	if failed := h.handle(delivery(t, "m1", e, 3)); failed["m1"] {
		t.Fatalf("not processed after the store recovered: %+v", h.result("m1"))
	}
	if _, done := fx.count(); done[e.Key()] != 1 {
		t.Fatalf("effects %v, want one", done)
	}
}

func TestPermanentStoreErrorIsDeadLettered(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	fx := newEffects()
	h.route("stripe", fx)
	h.failStore(func(op, _ string) error {
		return retry.Permanent(errors.New("ValidationException: key too large"))
	})

	failed := h.handle(delivery(t, "m1", event("stripe", "evt_big", "charge.succeeded"), 1))

	if failed["m1"] {
		t.Fatal("a record the store can never take was reported failed")
	}
	dl := h.deadLetters()
	if len(dl) != 1 || dl[0].Attributes[envelope.AttrReason] != envelope.ReasonPermanent {
		t.Fatalf("dead letters %+v, want one with reason permanent", dl)
	}
	contains(t, "lastError", dl[0].Attributes[envelope.AttrLastError], "key too large")
	if calls, _ := fx.count(); calls != 0 {
		t.Fatal("handler ran without a claim")
	}
}

func TestChangeVisibilityFailureStillFails(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.route("stripe", newEffects(errTransient))
	h.vis.fail(errors.New("ReceiptHandleIsInvalid"))

	failed := h.handle(delivery(t, "m1", event("stripe", "evt_v", "charge.succeeded"), 1))

	if !failed["m1"] {
		t.Fatal("acknowledged although its retry could not be scheduled")
	}
	if r := h.result("m1"); r.Outcome != processor.Retried {
		t.Fatalf("outcome %s, want retried", r.Outcome)
	}
	var warned bool
	for _, l := range h.logLines() {
		if l["level"] == "WARN" && l["msg"] == "change visibility failed" && l["key"] == "stripe:evt_v" &&
			strings.Contains(fmt.Sprint(l["error"]), "ReceiptHandleIsInvalid") {
			warned = true
		}
	}
	if !warned {
		t.Fatalf("no warning naming the key and the error in %v", h.logLines())
	}
}

func TestLeaseLeftByACrashedWorkerIsProcessedOnceAfterItEnds(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	fx := newEffects()
	h.route("stripe", fx)
	e := event("stripe", "evt_crash", "charge.succeeded")
	now := h.clock.Now()
	// A container claimed the event and died before completing it.
	if _, err := h.store.Claim(context.Background(), idempotency.ClaimRequest{
		Key: e.Key(), PayloadHash: idempotency.PayloadHash(e.Body), LeaseToken: "crashed",
		LeaseExpiresAtMs: now.Add(40 * time.Second).UnixMilli(), ExpiresAt: now.Add(time.Hour).Unix(), Now: now,
	}); err != nil {
		t.Fatal(err)
	}

	if failed := h.handle(delivery(t, "m1", e, 1)); !failed["m1"] {
		t.Fatal("processed while the crashed worker's lease was live")
	}
	wait := h.vis.delayOf(t, "rh-m1-1")
	if wait != 40*time.Second {
		t.Fatalf("deferred by %v, want the 40 s left on the lease", wait)
	}
	h.clock.Advance(wait) // SQS delivers it again when the lease is over

	if failed := h.handle(delivery(t, "m1", e, 2)); failed["m1"] {
		t.Fatalf("not processed after the lease ended: %+v", h.result("m1"))
	}
	if r := h.result("m1"); r.Outcome != processor.Processed || r.Attempts != 2 {
		t.Fatalf("result %+v, want processed on attempt 2", r)
	}
	h.handle(delivery(t, "m1", e, 3)) // a late redelivery
	if r := h.result("m1"); r.Outcome != processor.Duplicate {
		t.Fatalf("late redelivery: %s, want duplicate", r.Outcome)
	}
	if calls, done := fx.count(); calls != 1 || done[e.Key()] != 1 {
		t.Fatalf("handler calls %d, effects %v; want exactly one", calls, done)
	}
}

func TestHandlerPanicFailsOnlyItsRecord(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	var panicked atomic.Bool
	fx := newEffects()
	fx.before = func(_ context.Context, e *envelope.Envelope, _ *idempotency.Attempt) {
		if e.ID == "evt_boom" && panicked.CompareAndSwap(false, true) {
			panic("nil map write in the CRM client")
		}
	}
	h.route("stripe", fx)
	boom, fine := event("stripe", "evt_boom", "charge.succeeded"), event("stripe", "evt_fine", "charge.succeeded")

	failed := h.handle(delivery(t, "m1", boom, 1), delivery(t, "m2", fine, 1))

	if !failed["m1"] || failed["m2"] {
		t.Fatalf("batchItemFailures %v, want only the panicking record", failed)
	}
	r := assertRetried(t, h, "m1", 1, 2500*time.Millisecond)
	contains(t, "error", r.Err.Error(), "handler panicked: nil map write in the CRM client")
	if rec := h.record(fine.Key()); rec.Status != idempotency.StatusCompleted {
		t.Fatalf("record of the other event %+v, want COMPLETED", rec)
	}
	var logged bool
	for _, l := range h.logLines() {
		if l["level"] == "ERROR" && l["msg"] == "handler panicked" && l["key"] == boom.Key() &&
			strings.Contains(fmt.Sprint(l["stack"]), "processor_test") {
			logged = true
		}
	}
	if !logged {
		t.Fatalf("no error line with the panic's stack: %v", h.logLines())
	}

	// Delivered again after the backoff: processed once.
	h.clock.Advance(2500 * time.Millisecond)
	if failed := h.handle(delivery(t, "m1", boom, 2)); failed["m1"] {
		t.Fatalf("redelivery failed: %+v", h.result("m1"))
	}
	if r := h.result("m1"); r.Outcome != processor.Processed || r.Attempts != 2 {
		t.Fatalf("m1: %+v, want processed on attempt 2", r)
	}
	if _, done := fx.count(); done[boom.Key()] != 1 || done[fine.Key()] != 1 {
		t.Fatalf("effects %v, want one per event", done)
	}
}

func TestHandlerThatAlwaysPanicsIsDeadLetteredWhenExhausted(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *harnessConfig) { c.settings.MaxAttempts = 2 })
	h.route("stripe", route.HandlerFunc(func(context.Context, *envelope.Envelope, *idempotency.Attempt) ([]byte, error) {
		panic("index out of range")
	}))
	e := event("stripe", "evt_poison", "charge.succeeded")

	h.handle(delivery(t, "m1", e, 1))
	if failed := h.handle(delivery(t, "m1", e, 2)); failed["m1"] {
		t.Fatal("a record that panics on every attempt was not dead-lettered after MaxAttempts")
	}
	dl := h.deadLetters()
	if len(dl) != 1 || dl[0].Attributes[envelope.AttrReason] != envelope.ReasonExhausted || dl[0].Attributes[envelope.AttrAttempts] != "2" {
		t.Fatalf("dead letters %+v, want one, exhausted after 2 attempts", dl)
	}
	contains(t, "lastError", dl[0].Attributes[envelope.AttrLastError], "handler panicked: index out of range")
}

func TestPayloadMismatchIsProcessedByKeyAndReported(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		first       error // the first delivery's handler answer
		wantOutcome processor.Outcome
		wantBodies  int // handler calls
	}{
		{"after completion: duplicate", nil, processor.Duplicate, 1},
		{"after a failed attempt: handled with the new body", errTransient, processor.Processed, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			fx := newEffects(tc.first)
			h.route("stripe", fx)
			first := event("stripe", "evt_same", "charge.succeeded")
			second := event("stripe", "evt_same", "charge.succeeded")
			second.Body = []byte(`{"id":"evt_same","tampered":true}`)

			h.handle(delivery(t, "m1", first, 1))
			failed := h.handle(delivery(t, "m2", second, 1))

			if failed["m2"] {
				t.Fatalf("second body reported failed: %+v", h.result("m2"))
			}
			r := h.result("m2")
			if r.Outcome != tc.wantOutcome || r.Reason != "payloadMismatch" {
				t.Fatalf("result %+v, want %s with reason payloadMismatch", r, tc.wantOutcome)
			}
			if calls, done := fx.count(); calls != tc.wantBodies || done[first.Key()] != 1 {
				t.Fatalf("handler calls %d, effects %v; want %d calls and one effect", calls, done, tc.wantBodies)
			}
			if rec := h.record(first.Key()); rec.PayloadHash != idempotency.PayloadHash(first.Body) {
				t.Fatal("the stored payload hash was overwritten by the second body")
			}
			var warnings int
			for _, l := range h.logLines() {
				if l["level"] == "WARN" && l["key"] == "stripe:evt_same" && strings.Contains(fmt.Sprint(l["msg"]), "payload differs") {
					warnings++
				}
			}
			if warnings != 1 {
				t.Fatalf("%d payload warnings, want 1: %v", warnings, h.logLines())
			}
		})
	}
}

func TestConcurrencyIsBounded(t *testing.T) {
	t.Parallel()
	const records, limit = 50, 5
	h := newHarness(t, func(c *harnessConfig) { c.settings.Concurrency = limit })
	var cur, peak atomic.Int32
	fx := newEffects()
	fx.before = func(context.Context, *envelope.Envelope, *idempotency.Attempt) {
		n := cur.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		// Stay until the bound is reached (or a while), so a looser bound would show.
		for end := time.Now().Add(200 * time.Millisecond); cur.Load() < limit && time.Now().Before(end); {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(2 * time.Millisecond)
		cur.Add(-1)
	}
	h.route("stripe", fx)
	var msgs []queue.Received
	for i := range records {
		msgs = append(msgs, delivery(t, "m"+strconv.Itoa(i), event("stripe", "evt_"+strconv.Itoa(i), "charge.succeeded"), 1))
	}

	if failed := h.handle(msgs...); len(failed) != 0 {
		t.Fatalf("batchItemFailures %v", failed)
	}
	if got := peak.Load(); got != limit {
		t.Fatalf("at most %d handlers ran at once, want exactly the bound %d", got, limit)
	}
	if _, done := fx.count(); len(done) != records {
		t.Fatalf("%d events handled, want %d", len(done), records)
	}
}

func TestHandlerDeadlineLeavesTheMargin(t *testing.T) {
	t.Parallel()
	const margin = 2500 * time.Millisecond
	h := newHarness(t, func(c *harnessConfig) { c.settings.DeadlineMargin = margin })
	deadline := h.clock.Now().Add(40 * time.Second)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	var got time.Time
	var lease int64
	fx := newEffects()
	fx.before = func(ctx context.Context, e *envelope.Envelope, _ *idempotency.Attempt) {
		got, _ = ctx.Deadline()
		rec, err := h.store.Get(context.Background(), e.Key(), h.clock.Now())
		if err == nil {
			lease = rec.LeaseExpiresAtMs
		}
	}
	h.route("stripe", fx)

	h.handleCtx(ctx, delivery(t, "m1", event("stripe", "evt_d", "charge.succeeded"), 1))

	if want := deadline.Add(-margin); !got.Equal(want) {
		t.Fatalf("handler deadline %v, want invocation deadline − %v = %v", got, margin, want)
	}
	if want := deadline.Add(-margin).UnixMilli(); lease != want {
		t.Fatalf("lease ends at %d ms, want %d (the handler's deadline)", lease, want)
	}
}

func TestNoTimeLeftIsRetriedWithoutCallingTheHandler(t *testing.T) {
	t.Parallel()
	h := newHarness(t) // margin 3 s
	fx := newEffects()
	h.route("stripe", fx)
	ctx, cancel := context.WithDeadline(context.Background(), h.clock.Now().Add(2*time.Second))
	defer cancel()

	failed := h.handleCtx(ctx, delivery(t, "m1", event("stripe", "evt_late", "charge.succeeded"), 1))

	if !failed["m1"] {
		t.Fatal("acknowledged although there was no time to handle it")
	}
	if r := h.result("m1"); r.Outcome != processor.Retried || !errors.Is(r.Err, context.DeadlineExceeded) {
		t.Fatalf("result %+v, want retried for lack of time", r)
	}
	if calls, _ := fx.count(); calls != 0 {
		t.Fatal("handler ran past the margin")
	}
	if ops := h.storeOps(); ops["claim"] != 0 {
		t.Fatalf("store operations %v, want no claim", ops)
	}
}

// At detail type, one EMF line per (source, type) per batch, declaring the totals,
// the per-source and the per-(source, type) metrics.
func TestMetricsFlushOncePerBatch(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *harnessConfig) { c.detail = telemetry.ByType })
	h.route("stripe", route.HandlerFunc(func(_ context.Context, e *envelope.Envelope, _ *idempotency.Attempt) ([]byte, error) {
		if e.Type == "charge.failed" {
			return nil, errTransient
		}
		return nil, nil
	}))
	done := event("stripe", "evt_done", "charge.succeeded")
	h.handle(delivery(t, "m0", done, 1))
	h.metrics.mu.Lock()
	h.metrics.b.Reset()
	h.metrics.mu.Unlock()
	h.clock.Advance(time.Minute)

	h.handle(
		delivery(t, "m1", event("stripe", "evt_1", "charge.succeeded"), 1),
		delivery(t, "m2", event("stripe", "evt_2", "charge.succeeded"), 1),
		delivery(t, "m3", done, 1),                                      // duplicate
		delivery(t, "m4", event("stripe", "evt_4", "charge.failed"), 1), // retried
		delivery(t, "m5", event("github", "d-5", "push"), 1),            // unrouted
		delivery(t, "m6", event("github", "d-6", "push"), 1),            // unrouted
		raw("m7", "{", map[string]string{"source": "shopify", "type": "orders/create"}, 1),
	)

	type dims struct{ source, typ string }
	want := map[dims]map[string]float64{
		{"stripe", "charge.succeeded"}: {"processed": 2, "duplicate": 1},
		{"stripe", "charge.failed"}:    {"retried": 1},
		{"github", "push"}:             {"unrouted": 2},
		{"shopify", "orders/create"}:   {"deadLettered": 1},
	}
	lines := h.metrics.lines(t)
	if len(lines) != len(want) {
		t.Fatalf("%d EMF lines, want one per (source, type): %d\n%v", len(lines), len(want), lines)
	}
	for _, l := range lines {
		d := dims{fmt.Sprint(l["source"]), fmt.Sprint(l["type"])}
		w, ok := want[d]
		if !ok {
			t.Fatalf("unexpected EMF line for %v: %v", d, l)
		}
		aws, _ := l["_aws"].(map[string]any)
		if ts, _ := aws["Timestamp"].(float64); int64(ts) != h.clock.Now().UnixMilli() {
			t.Fatalf("EMF timestamp %v, want %d", aws["Timestamp"], h.clock.Now().UnixMilli())
		}
		directives, _ := aws["CloudWatchMetrics"].([]any)
		if len(directives) != 1 {
			t.Fatalf("EMF directives %v, want one", aws["CloudWatchMetrics"])
		}
		dir := directives[0].(map[string]any)
		if dir["Namespace"] != "Tenaz" || fmt.Sprint(dir["Dimensions"]) != "[[] [source] [source type]]" {
			t.Fatalf("EMF directive %v, want namespace Tenaz with dimension sets [], [source], [source, type]", dir)
		}
		declared := map[string]bool{}
		for _, m := range dir["Metrics"].([]any) {
			declared[m.(map[string]any)["Name"].(string)] = true
		}
		if len(declared) != len(w) {
			t.Fatalf("%v: declared metrics %v, want %v", d, declared, w)
		}
		for name, n := range w {
			if !declared[name] || l[name] != n {
				t.Fatalf("%v: %s = %v (declared %v), want %v", d, name, l[name], declared[name], n)
			}
		}
	}

	// The next batch flushes its own counts only.
	h.handle(delivery(t, "m8", event("github", "d-8", "push"), 1))
	lines = h.metrics.lines(t)
	if last := lines[len(lines)-1]; len(lines) != len(want)+1 || last["unrouted"] != 1.0 || last["source"] != "github" {
		t.Fatalf("after a second batch: %d lines, last %v; want one more line counting 1 unrouted", len(lines), last)
	}
}

// At the default detail a batch is one EMF line of totals by outcome, without
// dimensions, whatever its sources and types: the metrics a deployment has do not
// grow with its sources.
func TestMetricsDefaultTotalsByOutcome(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.route("stripe", route.HandlerFunc(func(context.Context, *envelope.Envelope, *idempotency.Attempt) ([]byte, error) { return nil, nil }))
	h.handle(
		delivery(t, "m1", event("stripe", "evt_1", "charge.succeeded"), 1),
		delivery(t, "m2", event("stripe", "evt_2", "charge.refunded"), 1),
		delivery(t, "m3", event("github", "d-3", "push"), 1),
	)
	lines := h.metrics.lines(t)
	if len(lines) != 1 {
		t.Fatalf("%d EMF lines, want 1: %v", len(lines), lines)
	}
	l := lines[0]
	dir := l["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)
	if fmt.Sprint(dir["Dimensions"]) != "[[]]" || l["processed"] != 2.0 || l["unrouted"] != 1.0 || l["source"] != nil || l["type"] != nil {
		t.Fatalf("EMF line %v, want processed 2 and unrouted 1 without dimensions", l)
	}
}

func TestLogLinesPerRecord(t *testing.T) {
	t.Parallel()
	batch := func(t *testing.T, prefix string, n int) []queue.Received {
		var msgs []queue.Received
		for i := range n {
			id := prefix + strconv.Itoa(i)
			msgs = append(msgs, delivery(t, id, event("stripe", "evt_"+id, "charge.succeeded"), 1))
		}
		return msgs
	}
	t.Run("success at info: none", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, func(c *harnessConfig) { c.level = slog.LevelInfo })
		h.route("stripe", newEffects())
		h.handle(batch(t, "ok", 10)...)
		h.handle(batch(t, "ok", 10)...) // duplicates
		if lines := h.logLines(); len(lines) != 0 {
			t.Fatalf("%d log lines at info for successful batches, want 0: %v", len(lines), lines)
		}
	})
	t.Run("success at debug: one per record", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.route("stripe", newEffects())
		h.handle(batch(t, "ok", 10)...)
		lines := h.logLines()
		seen := map[string]int{}
		for _, l := range lines {
			seen[fmt.Sprint(l["messageId"])]++
			if l["level"] != "DEBUG" || l["outcome"] != "processed" {
				t.Fatalf("line %v, want a debug line per processed record", l)
			}
		}
		if len(lines) != 10 || len(seen) != 10 {
			t.Fatalf("%d lines for %d records, want one each", len(lines), len(seen))
		}
	})
	t.Run("retry at info: one per record", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, func(c *harnessConfig) { c.level = slog.LevelInfo })
		h.route("stripe", newEffects(errTransient, errTransient, errTransient))
		h.handle(batch(t, "r", 3)...)
		lines := h.logLines()
		if len(lines) != 3 {
			t.Fatalf("%d lines for 3 retried records, want 3: %v", len(lines), lines)
		}
		for _, l := range lines {
			if l["outcome"] != "retried" || l["delayMs"] != 2500.0 || l["error"] != errTransient.Error() {
				t.Fatalf("line %v, want outcome retried, delayMs 2500 and the error", l)
			}
		}
	})
}
