package idempotency_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/internal/testclock"
	"github.com/tenaz/tenaz/shared/retry"
)

var t0 = time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)

type fixture struct {
	store  *idempotency.MemoryStore
	clock  *testclock.Clock
	runner *idempotency.Runner
	tokens int
}

func newFixture(t *testing.T, s idempotency.Settings) *fixture {
	t.Helper()
	f := &fixture{store: idempotency.NewMemoryStore(), clock: testclock.New(t0)}
	s.Now = f.clock.Now
	var mu sync.Mutex
	s.NewToken = func() string {
		mu.Lock()
		defer mu.Unlock()
		f.tokens++
		return fmt.Sprintf("tok%d", f.tokens)
	}
	f.runner = idempotency.NewRunner(f.store, s)
	return f
}

// ctx returns a context whose deadline is d after the fake clock's now.
func (f *fixture) ctx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithDeadline(context.Background(), f.clock.Now().Add(d))
	t.Cleanup(cancel)
	return ctx
}

func (f *fixture) record(t *testing.T, key string) idempotency.Record {
	t.Helper()
	r, err := f.store.Get(context.Background(), key, f.clock.Now())
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	return r
}

func (f *fixture) do(t *testing.T, ctx context.Context, key string, fn idempotency.Handler) idempotency.Outcome {
	t.Helper()
	out, err := f.runner.Do(ctx, key, "h1", fn)
	if err != nil {
		t.Fatalf("Do(%s): %v", key, err)
	}
	return out
}

func result(b string) idempotency.Handler {
	return func(context.Context, *idempotency.Attempt) ([]byte, error) { return []byte(b), nil }
}

var errBoom = errors.New("boom")

func TestRunnerDoneThenDuplicate(t *testing.T) {
	t.Parallel()
	f := newFixture(t, idempotency.Settings{})
	calls := 0
	fn := func(ctx context.Context, a *idempotency.Attempt) ([]byte, error) {
		calls++
		if a.Number() != 1 || a.Key() != "stripe:evt_1" {
			t.Errorf("attempt %d of %q, want 1 of stripe:evt_1", a.Number(), a.Key())
		}
		return []byte("ok"), nil
	}
	out := f.do(t, f.ctx(t, time.Minute), "stripe:evt_1", fn)
	if out.Kind != idempotency.Done || string(out.Result) != "ok" || out.Attempts != 1 || out.Err != nil {
		t.Fatalf("first Do = %+v, want done with result ok after 1 attempt", out)
	}
	r := f.record(t, "stripe:evt_1")
	if r.Status != idempotency.StatusCompleted || string(r.Result) != "ok" || r.LeaseToken != "" ||
		r.ExpiresAt != t0.Add(idempotency.DefaultRetention).Unix() {
		t.Fatalf("record after Do = %+v", r)
	}

	f.clock.Advance(time.Hour)
	out = f.do(t, f.ctx(t, time.Minute), "stripe:evt_1", fn)
	if out.Kind != idempotency.Duplicate || string(out.Result) != "ok" || out.Attempts != 1 {
		t.Fatalf("second Do = %+v, want duplicate with the stored result", out)
	}
	if calls != 1 {
		t.Fatalf("handler ran %d times, want 1", calls)
	}
}

func TestRunnerInFlight(t *testing.T) {
	t.Parallel()
	f := newFixture(t, idempotency.Settings{})
	leaseEnd := t0.Add(40 * time.Second)
	req := idempotency.ClaimRequest{Key: "k", PayloadHash: "h1", LeaseToken: "elsewhere",
		LeaseExpiresAtMs: leaseEnd.UnixMilli(), ExpiresAt: t0.Add(time.Hour).Unix(), Now: t0}
	if _, err := f.store.Claim(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(10 * time.Second)
	out := f.do(t, f.ctx(t, time.Minute), "k", func(context.Context, *idempotency.Attempt) ([]byte, error) {
		t.Error("handler ran while another worker holds the lease")
		return nil, nil
	})
	if out.Kind != idempotency.InFlight || !out.Until.Equal(leaseEnd) {
		t.Fatalf("Do = %+v, want in flight until %v", out, leaseEnd)
	}
	if r := f.record(t, "k"); r.LeaseToken != "elsewhere" || r.Attempts != 1 {
		t.Fatalf("record changed: %+v", r)
	}
}

func TestRunnerFailedThenRetried(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
	}{
		{"transient", errBoom},
		{"permanent", retry.Permanent(errBoom)},
		{"retry after", retry.RetryAfter(errBoom, time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, idempotency.Settings{})
			out := f.do(t, f.ctx(t, time.Minute), "k", func(context.Context, *idempotency.Attempt) ([]byte, error) {
				return nil, tt.err
			})
			if out.Kind != idempotency.Failed || out.Err != tt.err || out.Attempts != 1 {
				t.Fatalf("Do = %+v, want failed with the handler's error after 1 attempt", out)
			}
			if retry.IsPermanent(out.Err) != retry.IsPermanent(tt.err) {
				t.Fatal("the error lost its retry mark")
			}
			r := f.record(t, "k")
			if r.Status != idempotency.StatusRetryable || r.LeaseToken != "" || r.Attempts != 1 {
				t.Fatalf("record after failure = %+v, want RETRYABLE, no lease, 1 attempt", r)
			}
			// The next delivery runs again at once: the failed attempt released its lease.
			f.clock.Advance(time.Second)
			out = f.do(t, f.ctx(t, time.Minute), "k", func(_ context.Context, a *idempotency.Attempt) ([]byte, error) {
				if a.Number() != 2 {
					t.Errorf("Number = %d, want 2", a.Number())
				}
				return nil, nil
			})
			if out.Kind != idempotency.Done || out.Attempts != 2 {
				t.Fatalf("retry = %+v, want done after 2 attempts", out)
			}
		})
	}
}

func TestRunnerLease(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		deadline  time.Duration // 0: no deadline
		settings  idempotency.Settings
		wantLease time.Duration
	}{
		{"invocation deadline", 14 * time.Second, idempotency.Settings{}, 14 * time.Second},
		{"no deadline: default lease", 0, idempotency.Settings{}, idempotency.DefaultLease},
		{"no deadline: configured lease", 0, idempotency.Settings{DefaultLease: time.Minute}, time.Minute},
		{"deadline wins over the default", time.Hour, idempotency.Settings{DefaultLease: time.Minute}, time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, tt.settings)
			ctx := context.Background()
			if tt.deadline > 0 {
				ctx = f.ctx(t, tt.deadline)
			}
			want := t0.Add(tt.wantLease)
			out := f.do(t, ctx, "k", func(ctx context.Context, _ *idempotency.Attempt) ([]byte, error) {
				r := f.record(t, "k")
				if r.LeaseExpiresAtMs != want.UnixMilli() || r.Status != idempotency.StatusInProgress {
					t.Errorf("lease ends at %d ms, want %d", r.LeaseExpiresAtMs, want.UnixMilli())
				}
				if dl, ok := ctx.Deadline(); !ok || !dl.Equal(want) {
					t.Errorf("handler deadline %v (%v), want %v: it must not outlive its lease", dl, ok, want)
				}
				return nil, nil
			})
			if out.Kind != idempotency.Done {
				t.Fatalf("Do = %+v", out)
			}
		})
	}
}

func TestRunnerNoTimeLeft(t *testing.T) {
	t.Parallel()
	f := newFixture(t, idempotency.Settings{})
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	pastDeadline, cancel2 := context.WithDeadline(context.Background(), t0.Add(-time.Millisecond))
	defer cancel2()
	// The real clock says this deadline is far in the future; the fake one says it is now.
	atNow, cancel3 := context.WithDeadline(context.Background(), t0.Add(time.Hour*24*365*100))
	defer cancel3()
	f2 := newFixture(t, idempotency.Settings{})
	f2.clock.Advance(time.Hour * 24 * 365 * 100)
	for name, c := range map[string]struct {
		f   *fixture
		ctx context.Context
	}{"cancelled": {f, cancelled}, "deadline passed": {f, pastDeadline}, "deadline is now": {f2, atNow}} {
		_, err := c.f.runner.Do(c.ctx, "k-"+name, "h1", func(context.Context, *idempotency.Attempt) ([]byte, error) {
			t.Errorf("%s: handler ran", name)
			return nil, nil
		})
		if err == nil || retry.IsPermanent(err) {
			t.Errorf("%s: Do = %v, want a transient error", name, err)
		}
		if _, err := c.f.store.Get(context.Background(), "k-"+name, c.f.clock.Now()); !errors.Is(err, idempotency.ErrNotFound) {
			t.Errorf("%s: a record was written: %v", name, err)
		}
	}
}

func TestRunnerSteps(t *testing.T) {
	t.Parallel()
	f := newFixture(t, idempotency.Settings{})
	var created, sent int
	failEmail := true
	fn := func(ctx context.Context, a *idempotency.Attempt) ([]byte, error) {
		user, err := a.Step(ctx, "crm", func(context.Context) ([]byte, error) {
			created++
			return []byte(fmt.Sprintf("user-%d", created)), nil
		})
		if err != nil {
			return nil, err
		}
		if !a.HasStep("crm") {
			t.Error("HasStep(crm) = false after the step")
		}
		if _, err := a.Step(ctx, "email", func(context.Context) ([]byte, error) {
			if failEmail {
				return nil, errBoom
			}
			sent++
			return nil, nil
		}); err != nil {
			return nil, err
		}
		return user, nil
	}
	out := f.do(t, f.ctx(t, time.Minute), "k", fn)
	if out.Kind != idempotency.Failed || !errors.Is(out.Err, errBoom) {
		t.Fatalf("first Do = %+v, want failed with boom", out)
	}
	if r := f.record(t, "k"); string(r.Steps["crm"]) != "user-1" || len(r.Steps) != 1 {
		t.Fatalf("steps after failure = %v, want crm only", r.Steps)
	}
	failEmail = false
	out = f.do(t, f.ctx(t, time.Minute), "k", fn)
	if out.Kind != idempotency.Done || string(out.Result) != "user-1" || out.Attempts != 2 {
		t.Fatalf("second Do = %+v, want done with user-1 after 2 attempts", out)
	}
	if created != 1 || sent != 1 {
		t.Fatalf("created %d users and sent %d emails, want 1 and 1", created, sent)
	}
}

func TestRunnerStepErrors(t *testing.T) {
	t.Parallel()
	t.Run("recording the step fails", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, idempotency.Settings{})
		f.store.SetFault(func(op, _ string) error {
			if op == "saveStep" {
				return idempotency.ErrUnavailable
			}
			return nil
		})
		ran := 0
		out := f.do(t, f.ctx(t, time.Minute), "k", func(ctx context.Context, a *idempotency.Attempt) ([]byte, error) {
			_, err := a.Step(ctx, "s", func(context.Context) ([]byte, error) { ran++; return nil, nil })
			return nil, err
		})
		if out.Kind != idempotency.Failed || !errors.Is(out.Err, idempotency.ErrUnavailable) || ran != 1 {
			t.Fatalf("Do = %+v (step ran %d times), want failed with ErrUnavailable", out, ran)
		}
	})
	t.Run("lease lost before the step is recorded", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, idempotency.Settings{})
		out, err := f.runner.Do(f.ctx(t, 10*time.Second), "k", "h1", func(ctx context.Context, a *idempotency.Attempt) ([]byte, error) {
			f.clock.Advance(11 * time.Second)
			takeOver(t, f, "k")
			_, err := a.Step(ctx, "s", func(context.Context) ([]byte, error) { return []byte("x"), nil })
			if !errors.Is(err, idempotency.ErrLeaseLost) {
				t.Errorf("Step = %v, want ErrLeaseLost", err)
			}
			return nil, err
		})
		if err != nil || out.Kind != idempotency.Failed {
			t.Fatalf("Do = %+v, %v; want failed", out, err)
		}
		if r := f.record(t, "k"); r.LeaseToken != "other" || len(r.Steps) != 0 || r.Status != idempotency.StatusInProgress {
			t.Fatalf("the stale worker changed the new holder's record: %+v", r)
		}
	})
	t.Run("step after the attempt is over", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, idempotency.Settings{})
		var kept *idempotency.Attempt
		f.do(t, f.ctx(t, time.Minute), "k", func(_ context.Context, a *idempotency.Attempt) ([]byte, error) {
			kept = a
			return nil, nil
		})
		_, err := kept.Step(context.Background(), "late", func(context.Context) ([]byte, error) {
			t.Error("a step ran after its attempt ended")
			return nil, nil
		})
		if !retry.IsPermanent(err) {
			t.Fatalf("Step after the attempt = %v, want a permanent error", err)
		}
	})
}

// takeOver claims key for token "other" at the fake clock's now, as a second worker
// whose delivery arrived after the first lease ran out.
func takeOver(t *testing.T, f *fixture, key string) {
	t.Helper()
	now := f.clock.Now()
	c, err := f.store.Claim(context.Background(), idempotency.ClaimRequest{Key: key, PayloadHash: "h1", LeaseToken: "other",
		LeaseExpiresAtMs: now.Add(time.Minute).UnixMilli(), ExpiresAt: now.Add(time.Hour).Unix(), Now: now})
	if err != nil || c.Status != idempotency.ClaimAcquired {
		t.Fatalf("take over: %v, %v", c.Status, err)
	}
}

func TestRunnerCompletionLost(t *testing.T) {
	t.Parallel()
	f := newFixture(t, idempotency.Settings{})
	out, err := f.runner.Do(f.ctx(t, 10*time.Second), "k", "h1", func(context.Context, *idempotency.Attempt) ([]byte, error) {
		f.clock.Advance(11 * time.Second) // the handler overran its lease
		takeOver(t, f, "k")
		return []byte("late"), nil
	})
	if !errors.Is(err, idempotency.ErrLeaseLost) || out.Kind != 0 {
		t.Fatalf("Do = %+v, %v; want no outcome and ErrLeaseLost", out, err)
	}
	if r := f.record(t, "k"); r.Status != idempotency.StatusInProgress || r.LeaseToken != "other" || r.Result != nil {
		t.Fatalf("the late worker overwrote the new holder's record: %+v", r)
	}
}

func TestRunnerStoreErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		op        string
		handler   idempotency.Handler
		wantErr   bool // Do's error
		wantKind  idempotency.OutcomeKind
		wantRan   bool
		wantState idempotency.Status
	}{
		{"claim", result("x"), true, 0, false, ""},
		{"complete", result("x"), true, 0, true, idempotency.StatusInProgress},
		{"release", func(context.Context, *idempotency.Attempt) ([]byte, error) { return nil, errBoom }, false, idempotency.Failed, true, idempotency.StatusInProgress},
	}
	for _, tt := range tests {
		t.Run(tt.op, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, idempotency.Settings{})
			f.store.SetFault(func(op, _ string) error {
				if op == tt.op {
					return fmt.Errorf("%w: throttled", idempotency.ErrUnavailable)
				}
				return nil
			})
			ran := false
			out, err := f.runner.Do(f.ctx(t, time.Minute), "k", "h1", func(ctx context.Context, a *idempotency.Attempt) ([]byte, error) {
				ran = true
				return tt.handler(ctx, a)
			})
			if (err != nil) != tt.wantErr || out.Kind != tt.wantKind || ran != tt.wantRan {
				t.Fatalf("Do = %+v, %v (ran %v); want error %v, kind %v, ran %v", out, err, ran, tt.wantErr, tt.wantKind, tt.wantRan)
			}
			if err != nil && (!errors.Is(err, idempotency.ErrUnavailable) || retry.IsPermanent(err)) {
				t.Fatalf("Do error %v, want transient ErrUnavailable", err)
			}
			if out.Kind == idempotency.Failed && !(errors.Is(out.Err, errBoom) && errors.Is(out.Err, idempotency.ErrUnavailable)) {
				t.Fatalf("Failed.Err = %v, want the handler's error joined with the release error", out.Err)
			}
			f.store.SetFault(nil)
			r, gerr := f.store.Get(context.Background(), "k", f.clock.Now())
			if tt.wantState == "" {
				if !errors.Is(gerr, idempotency.ErrNotFound) {
					t.Fatalf("record %+v, %v; want none", r, gerr)
				}
			} else if r.Status != tt.wantState {
				t.Fatalf("record status %s, want %s", r.Status, tt.wantState)
			}
		})
	}
}

func TestRunnerPanicReleases(t *testing.T) {
	t.Parallel()
	f := newFixture(t, idempotency.Settings{})
	func() {
		defer func() {
			if p := recover(); p != "handler bug" {
				t.Fatalf("recovered %v, want the handler's panic", p)
			}
		}()
		f.do(t, f.ctx(t, time.Minute), "k", func(context.Context, *idempotency.Attempt) ([]byte, error) {
			panic("handler bug")
		})
	}()
	if r := f.record(t, "k"); r.Status != idempotency.StatusRetryable || r.LeaseToken != "" {
		t.Fatalf("record after panic = %+v, want released", r)
	}
}

func TestRunnerPayloadMismatchAndRetention(t *testing.T) {
	t.Parallel()
	f := newFixture(t, idempotency.Settings{Retention: 48 * time.Hour})
	if _, err := f.runner.Do(f.ctx(t, time.Minute), "k", idempotency.PayloadHash([]byte("a")), result("r")); err != nil {
		t.Fatal(err)
	}
	if r := f.record(t, "k"); r.ExpiresAt != t0.Add(48*time.Hour).Unix() || r.PayloadHash != idempotency.PayloadHash([]byte("a")) {
		t.Fatalf("record = %+v, want expiresAt now+48h and the hash of a", r)
	}
	for body, want := range map[string]bool{"a": false, "b": true} {
		out, err := f.runner.Do(f.ctx(t, time.Minute), "k", idempotency.PayloadHash([]byte(body)), result("r"))
		if err != nil || out.Kind != idempotency.Duplicate || out.PayloadMismatch != want {
			t.Fatalf("duplicate with body %q = %+v, %v; want mismatch %v", body, out, err, want)
		}
	}
	// Retention counts from now: at 48 h + 1 s the record is gone and the event runs again.
	f.clock.Advance(48*time.Hour + time.Second)
	if out := f.do(t, f.ctx(t, time.Minute), "k", result("again")); out.Kind != idempotency.Done || out.Attempts != 1 {
		t.Fatalf("after retention: %+v, want a fresh done", out)
	}
}

func TestPayloadHash(t *testing.T) {
	t.Parallel()
	// SHA-256 of "abc", from FIPS 180-2.
	if got := idempotency.PayloadHash([]byte("abc")); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("PayloadHash(abc) = %s", got)
	}
}

func TestRunnerDefaultsUseRealTokensAndClock(t *testing.T) {
	t.Parallel()
	s := idempotency.NewMemoryStore()
	r := idempotency.NewRunner(s, idempotency.Settings{})
	tokens := map[string]bool{}
	for i := range 3 {
		key := fmt.Sprint("k", i)
		_, err := r.Do(context.Background(), key, "h", func(context.Context, *idempotency.Attempt) ([]byte, error) {
			rec, err := s.Get(context.Background(), key, time.Now())
			if err != nil {
				return nil, err
			}
			if len(rec.LeaseToken) < 16 || tokens[rec.LeaseToken] {
				t.Errorf("token %q: too short or reused", rec.LeaseToken)
			}
			tokens[rec.LeaseToken] = true
			if lease := time.UnixMilli(rec.LeaseExpiresAtMs); time.Until(lease) < idempotency.DefaultLease-time.Minute {
				t.Errorf("lease ends %v, want about %v from now", lease, idempotency.DefaultLease)
			}
			return nil, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestRunnerConcurrentDeliveries(t *testing.T) {
	t.Parallel()
	// Many copies of one event arrive at once: the handler runs once, the others see
	// it in flight or done.
	f := newFixture(t, idempotency.Settings{})
	var mu sync.Mutex
	ran := 0
	kinds := map[idempotency.OutcomeKind]int{}
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			out, err := f.runner.Do(f.ctx(t, time.Minute), "k", "h1", func(context.Context, *idempotency.Attempt) ([]byte, error) {
				mu.Lock()
				ran++
				mu.Unlock()
				return []byte("r"), nil
			})
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			kinds[out.Kind]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if ran != 1 || kinds[idempotency.Done] != 1 || kinds[idempotency.InFlight]+kinds[idempotency.Duplicate] != 31 {
		t.Fatalf("handler ran %d times; outcomes %v", ran, kinds)
	}
	if r := f.record(t, "k"); !bytes.Equal(r.Result, []byte("r")) {
		t.Fatalf("result %q", r.Result)
	}
}
