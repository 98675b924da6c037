package inspect_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/inspect"
	"github.com/tenaz/tenaz/shared/internal/testclock"
	"github.com/tenaz/tenaz/shared/retry"
)

var t0 = time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)

const (
	key       = "stripe:evt_1"
	lease     = 30 * time.Second
	retention = 7 * 24 * time.Hour
)

// world is a memory store, a clock and an inspector on them; gets counts the
// inspector's reads.
type world struct {
	t     *testing.T
	store *idempotency.MemoryStore
	clock *testclock.Clock
	in    *inspect.Inspector
	gets  atomic.Int64
	ops   atomic.Int64
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t, store: idempotency.NewMemoryStore(), clock: testclock.New(t0)}
	w.store.SetFault(func(op, _ string) error {
		w.ops.Add(1)
		if op == "get" {
			w.gets.Add(1)
		}
		return nil
	})
	w.in = inspect.New(w.store, w.clock.Now)
	return w
}

func (w *world) claim(token string) {
	w.t.Helper()
	now := w.clock.Now()
	c, err := w.store.Claim(context.Background(), idempotency.ClaimRequest{
		Key: key, PayloadHash: "h1", LeaseToken: token, Now: now,
		LeaseExpiresAtMs: now.Add(lease).UnixMilli(), ExpiresAt: now.Add(retention).Unix(),
	})
	if err != nil || c.Status != idempotency.ClaimAcquired {
		w.t.Fatalf("claim: %v %v", c.Status, err)
	}
}

func (w *world) must(what string, err error) {
	w.t.Helper()
	if err != nil {
		w.t.Fatalf("%s: %v", what, err)
	}
}

// fail claims, saves step crm and releases: one failed attempt.
func (w *world) fail(token string) {
	w.t.Helper()
	w.claim(token)
	w.must("step", w.store.SaveStep(context.Background(), key, token, "crm", []byte("user-1")))
	w.must("release", w.store.Release(context.Background(), key, token))
}

func (w *world) inspect() inspect.Report {
	w.t.Helper()
	before := w.ops.Load()
	r, err := w.in.Inspect(context.Background(), key)
	if err != nil {
		w.t.Fatalf("inspect: %v", err)
	}
	if n := w.ops.Load() - before; n != 1 || w.gets.Load() == 0 {
		w.t.Fatalf("inspection made %d store calls, want exactly one get", n)
	}
	return r
}

func TestStates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cases := []struct {
		name  string
		setup func(w *world)
		want  inspect.Report
	}{
		{"never seen", func(w *world) {}, inspect.Report{Key: key, State: inspect.Unknown}},
		{"past its retention", func(w *world) {
			w.fail("a")
			w.clock.Advance(retention + time.Second)
		}, inspect.Report{Key: key, State: inspect.Unknown}},
		{"in progress", func(w *world) {
			w.claim("a")
			w.must("step", w.store.SaveStep(ctx, key, "a", "crm", nil))
			w.clock.Advance(time.Second)
		}, inspect.Report{Key: key, State: inspect.InProgress, Status: "IN_PROGRESS", Attempts: 1, Steps: []string{"crm"}, PayloadHash: "h1",
			ClaimedAt: t0, LeaseExpiresAt: t0.Add(lease), ExpiresAt: t0.Add(retention)}},
		{"retrying after failures", func(w *world) {
			w.fail("a")
			w.clock.Advance(time.Minute)
			w.fail("b")
		}, inspect.Report{Key: key, State: inspect.Retrying, Status: "RETRYABLE", Attempts: 2, Steps: []string{"crm"}, PayloadHash: "h1",
			ClaimedAt: t0.Add(time.Minute), ExpiresAt: t0.Add(time.Minute + retention)}},
		{"retrying: the worker's lease ran out", func(w *world) {
			w.claim("a")
			w.clock.Advance(lease)
		}, inspect.Report{Key: key, State: inspect.Retrying, Status: "IN_PROGRESS", Attempts: 1, PayloadHash: "h1",
			ClaimedAt: t0, ExpiresAt: t0.Add(retention)}},
		{"completed", func(w *world) {
			w.claim("a")
			w.must("step", w.store.SaveStep(ctx, key, "a", "email", nil))
			w.must("step", w.store.SaveStep(ctx, key, "a", "crm", nil))
			w.must("complete", w.store.Complete(ctx, key, "a", nil, t0.Add(retention).Unix()))
		}, inspect.Report{Key: key, State: inspect.Completed, Status: "COMPLETED", Attempts: 1, Steps: []string{"crm", "email"}, PayloadHash: "h1",
			ClaimedAt: t0, ExpiresAt: t0.Add(retention)}},
		{"dead-lettered", func(w *world) {
			w.fail("a")
			w.clock.Advance(time.Second)
			w.must("mark", w.store.MarkDeadLettered(ctx, key, "exhausted", "HTTP 500", w.clock.Now()))
		}, inspect.Report{Key: key, State: inspect.DeadLettered, InDeadLetterQueue: true, Status: "RETRYABLE", Attempts: 1, Steps: []string{"crm"},
			LastError: "HTTP 500", DeadLetterReason: "exhausted", PayloadHash: "h1",
			ClaimedAt: t0, DeadLetteredAt: t0.Add(time.Second), ExpiresAt: t0.Add(retention)}},
		{"replayed", func(w *world) {
			w.fail("a")
			w.clock.Advance(time.Second)
			w.must("mark", w.store.MarkDeadLettered(ctx, key, "exhausted", "HTTP 500", w.clock.Now()))
			w.clock.Advance(time.Hour)
			w.must("reset", w.store.ResetAttempts(ctx, key, w.clock.Now()))
		}, inspect.Report{Key: key, State: inspect.Replayed, Status: "RETRYABLE", Attempts: 0, Steps: []string{"crm"},
			LastError: "HTTP 500", DeadLetterReason: "exhausted", PayloadHash: "h1",
			ClaimedAt: t0, DeadLetteredAt: t0.Add(time.Second), ReplayedAt: t0.Add(time.Hour + time.Second), ExpiresAt: t0.Add(retention)}},
		{"replayed, then failing again", func(w *world) {
			w.fail("a")
			w.must("mark", w.store.MarkDeadLettered(ctx, key, "exhausted", "HTTP 500", w.clock.Now()))
			w.clock.Advance(time.Hour)
			w.must("reset", w.store.ResetAttempts(ctx, key, w.clock.Now()))
			w.fail("b")
		}, inspect.Report{Key: key, State: inspect.Retrying, Status: "RETRYABLE", Attempts: 1, Steps: []string{"crm"},
			LastError: "HTTP 500", DeadLetterReason: "exhausted", PayloadHash: "h1",
			ClaimedAt: t0.Add(time.Hour), DeadLetteredAt: t0, ReplayedAt: t0.Add(time.Hour), ExpiresAt: t0.Add(time.Hour + retention)}},
		{"completed with a copy left in the DLQ", func(w *world) {
			w.claim("a")
			w.must("mark", w.store.MarkDeadLettered(ctx, key, "expiring", "deferred", w.clock.Now()))
			w.must("complete", w.store.Complete(ctx, key, "a", nil, t0.Add(retention).Unix()))
		}, inspect.Report{Key: key, State: inspect.Completed, InDeadLetterQueue: true, Status: "COMPLETED", Attempts: 1,
			LastError: "deferred", DeadLetterReason: "expiring", PayloadHash: "h1",
			ClaimedAt: t0, DeadLetteredAt: t0, ExpiresAt: t0.Add(retention)}},
		{"a refund without a dead letter is not a replay", func(w *world) {
			w.fail("a")
			w.must("reset", w.store.ResetAttempts(ctx, key, w.clock.Now()))
		}, inspect.Report{Key: key, State: inspect.Retrying, Status: "RETRYABLE", Steps: []string{"crm"}, PayloadHash: "h1",
			ClaimedAt: t0, ExpiresAt: t0.Add(retention)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			c.setup(w)
			got := w.inspect()
			if diff := compare(got, c.want); diff != "" {
				t.Fatalf("report differs in %s:\n got  %+v\n want %+v", diff, got, c.want)
			}
		})
	}
}

func compare(a, b inspect.Report) string {
	switch {
	case a.Key != b.Key:
		return "key"
	case a.State != b.State:
		return "state"
	case a.InDeadLetterQueue != b.InDeadLetterQueue:
		return "inDeadLetterQueue"
	case a.Status != b.Status:
		return "status"
	case a.Attempts != b.Attempts:
		return "attempts"
	case !slices.Equal(a.Steps, b.Steps):
		return "steps"
	case a.LastError != b.LastError || a.DeadLetterReason != b.DeadLetterReason:
		return "lastError or deadLetterReason"
	case a.PayloadHash != b.PayloadHash:
		return "payloadHash"
	case !a.ClaimedAt.Equal(b.ClaimedAt):
		return "claimedAt"
	case !a.LeaseExpiresAt.Equal(b.LeaseExpiresAt):
		return "leaseExpiresAt"
	case !a.DeadLetteredAt.Equal(b.DeadLetteredAt):
		return "deadLetteredAt"
	case !a.ReplayedAt.Equal(b.ReplayedAt):
		return "replayedAt"
	case !a.ExpiresAt.Equal(b.ExpiresAt):
		return "expiresAt"
	}
	return ""
}

func TestJSON(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.fail("a")
	w.must("mark", w.store.MarkDeadLettered(context.Background(), key, "exhausted", "HTTP 500", w.clock.Now()))
	b, err := json.Marshal(w.inspect())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"key": key, "state": "deadLettered", "inDeadLetterQueue": true, "status": "RETRYABLE", "attempts": 1.0,
		"steps": []any{"crm"}, "lastError": "HTTP 500", "deadLetterReason": "exhausted", "payloadHash": "h1",
		"claimedAt": "2030-01-01T12:00:00Z", "deadLetteredAt": "2030-01-01T12:00:00Z", "expiresAt": "2030-01-08T12:00:00Z",
	}
	if fmt.Sprint(m) != fmt.Sprint(want) {
		t.Fatalf("JSON %s\nwant %v", b, want)
	}

	unknown, _ := json.Marshal(inspect.Report{Key: key, State: inspect.Unknown})
	if string(unknown) != `{"key":"stripe:evt_1","state":"unknown","inDeadLetterQueue":false,"attempts":0}` {
		t.Fatalf("unknown as JSON = %s", unknown)
	}
}

func TestText(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.fail("a")
	w.must("mark", w.store.MarkDeadLettered(context.Background(), key, "exhausted", "HTTP 500", w.clock.Now()))
	var b bytes.Buffer
	if err := w.inspect().WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"stripe:evt_1  deadLettered\n",
		`make replay FILTER='{"ids": ["stripe:evt_1"]}'`,
		"  attempts             1\n",
		"  steps done           crm\n",
		"  in dead-letter queue yes\n",
		"  last error           HTTP 500\n",
		"  dead-lettered at     2030-01-01T12:00:00Z\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), "replayed at") || strings.Contains(b.String(), "lease until") {
		t.Errorf("text shows unset times:\n%s", b.String())
	}

	b.Reset()
	if err := (inspect.Report{Key: key, State: inspect.Unknown}).WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(b.String(), "\n"); lines != 2 || !strings.Contains(b.String(), "no record") {
		t.Errorf("unknown as text:\n%s", b.String())
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	if _, err := w.in.Inspect(context.Background(), "  "); !retry.IsPermanent(err) {
		t.Fatalf("empty key = %v, want a permanent error", err)
	}
	if w.ops.Load() != 0 {
		t.Fatal("an empty key reached the store")
	}
	w.store.SetFault(func(string, string) error { return fmt.Errorf("%w: throttled", idempotency.ErrUnavailable) })
	_, err := w.in.Inspect(context.Background(), key)
	if !errors.Is(err, idempotency.ErrUnavailable) || retry.IsPermanent(err) || !strings.Contains(err.Error(), key) {
		t.Fatalf("store unavailable = %v, want a transient ErrUnavailable naming the key", err)
	}
}

// A fanned-out event's record tells which destinations took it and which wait in
// the DLQ; a destination's own steps and other steps are not destinations.
func TestDestinations(t *testing.T) {
	t.Parallel()
	r := idempotency.Record{Key: key, Status: idempotency.StatusRetryable, Attempts: 1, ExpiresAt: t0.Add(retention).Unix(),
		Steps: map[string][]byte{
			"dest:orders": nil, "dest:crm#user": nil, "dlq:analytics": []byte("permanent"),
			"dlq:crm": []byte("exhausted"), "dest:crm": nil, "charge": nil,
		}}
	rep := inspect.FromRecord(r, t0)
	got := fmt.Sprint(rep.Destinations)
	if want := "[{analytics deadLettered permanent} {crm delivered } {orders delivered }]"; got != want {
		t.Fatalf("destinations %s, want %s", got, want)
	}
	var b bytes.Buffer
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "→ analytics") || !strings.Contains(b.String(), "deadLettered (permanent)") {
		t.Fatalf("text:\n%s", b.String())
	}
}
