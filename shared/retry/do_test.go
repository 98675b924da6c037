package retry

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/internal/testclock"
)

// fakeClock is a Clock on the test clock that moves only when Do sleeps, and records
// every wait.
type fakeClock struct {
	*testclock.Clock
	sleeps []time.Duration
	// cancelOnSleep, when set, is called instead of sleeping (a context ending
	// during the wait).
	cancelOnSleep context.CancelFunc
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.sleeps = append(c.sleeps, d)
	if c.cancelOnSleep != nil {
		c.cancelOnSleep()
		return ctx.Err()
	}
	c.Advance(d)
	return nil
}

// script returns a fn that returns errs in order (nil once they run out) and a
// pointer to the number of calls.
func script(errs ...error) (func(context.Context) error, *int) {
	calls := 0
	return func(context.Context) error {
		calls++
		if calls <= len(errs) {
			return errs[calls-1]
		}
		return nil
	}, &calls
}

var (
	t0       = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	errBoom  = errors.New("boom")
	errFatal = errors.New("fatal")
)

func half() float64 { return 0.5 }

func TestDo(t *testing.T) {
	t.Parallel()
	const ms = time.Millisecond
	p := Policy{Attempts: 4, Base: 100 * ms, Max: time.Second, Margin: time.Second}
	tests := []struct {
		name       string
		policy     Policy
		deadline   time.Duration // from t0; 0 = no deadline
		errs       []error
		wantErr    error // nil = success
		wantCalls  int
		wantSleeps []time.Duration
	}{
		{
			name: "success first time", policy: p,
			wantCalls: 1,
		},
		{
			name: "transient then success", policy: p,
			errs: []error{errBoom, errBoom}, wantCalls: 3,
			wantSleeps: []time.Duration{50 * ms, 100 * ms}, // half of 100 ms, 200 ms
		},
		{
			name: "attempts used up returns last error", policy: p,
			errs:    []error{errors.New("first"), errBoom, errBoom, errFatal, errBoom},
			wantErr: errFatal, wantCalls: 4,
			wantSleeps: []time.Duration{50 * ms, 100 * ms, 200 * ms},
		},
		{
			name: "permanent stops at once", policy: p,
			errs:    []error{errBoom, Permanent(errFatal)},
			wantErr: errFatal, wantCalls: 2,
			wantSleeps: []time.Duration{50 * ms},
		},
		{
			name: "retry after longer than backoff is honoured", policy: p,
			errs:      []error{RetryAfter(errBoom, 700*ms)},
			wantCalls: 2, wantSleeps: []time.Duration{700 * ms},
		},
		{
			name: "retry after shorter than backoff keeps backoff", policy: p,
			errs:      []error{RetryAfter(errBoom, 10*ms)},
			wantCalls: 2, wantSleeps: []time.Duration{50 * ms},
		},
		{
			name: "wait that would cross deadline minus margin is not started", policy: p,
			deadline: time.Second + 120*ms, // 120 ms usable: 50 ms fits, then 50+100 does not
			errs:     []error{errBoom, errFatal, errBoom},
			wantErr:  errFatal, wantCalls: 2, wantSleeps: []time.Duration{50 * ms},
		},
		{
			name: "wait ending exactly at deadline minus margin is allowed", policy: p,
			deadline: time.Second + 50*ms,
			errs:     []error{errBoom}, wantCalls: 2, wantSleeps: []time.Duration{50 * ms},
		},
		{
			name: "retry after beyond the deadline stops", policy: p,
			deadline: time.Minute,
			errs:     []error{RetryAfter(errFatal, time.Hour)},
			wantErr:  errFatal, wantCalls: 1,
		},
		{
			name: "deadline inside the margin already: one call only", policy: p,
			deadline: 500 * ms,
			errs:     []error{errFatal}, wantErr: errFatal, wantCalls: 1,
		},
		{
			name: "single attempt", policy: Policy{Attempts: 1},
			errs: []error{errFatal}, wantErr: errFatal, wantCalls: 1,
		},
		{
			name: "zero policy takes defaults", policy: Policy{},
			errs:    []error{errBoom, errBoom, errFatal, errBoom},
			wantErr: errFatal, wantCalls: DefaultAttempts,
			wantSleeps: []time.Duration{DefaultBase / 2, DefaultBase},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			if tt.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithDeadline(ctx, t0.Add(tt.deadline))
				defer cancel()
			}
			clock := &fakeClock{Clock: testclock.New(t0)}
			fn, calls := script(tt.errs...)
			err := Do(ctx, tt.policy, half, clock, fn)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Errorf("Do = %v, want %v", err, tt.wantErr)
			}
			if *calls != tt.wantCalls {
				t.Errorf("fn called %d times, want %d", *calls, tt.wantCalls)
			}
			if fmt.Sprint(clock.sleeps) != fmt.Sprint(tt.wantSleeps) {
				t.Errorf("slept %v, want %v", clock.sleeps, tt.wantSleeps)
			}
			if dl, ok := ctx.Deadline(); ok && len(clock.sleeps) > 0 && clock.Now().After(dl.Add(-tt.policy.withDefaults().Margin)) {
				t.Errorf("clock at %v, past deadline %v minus margin", clock.Now(), dl)
			}
		})
	}
}

func TestDoKeepsPermanentMark(t *testing.T) {
	t.Parallel()
	fn, _ := script(fmt.Errorf("post: %w", Permanent(errFatal)))
	err := Do(context.Background(), Policy{}, half, &fakeClock{Clock: testclock.New(t0)}, fn)
	if !IsPermanent(err) || !errors.Is(err, errFatal) {
		t.Fatalf("Do = %v: want the permanent error unchanged", err)
	}
}

func TestDoContextEndsDuringWait(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clock := &fakeClock{Clock: testclock.New(t0), cancelOnSleep: cancel}
	fn, calls := script(errBoom, errBoom)
	err := Do(ctx, Policy{Attempts: 5}, half, clock, fn)
	if !errors.Is(err, errBoom) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Do = %v, want the last error joined with context.Canceled", err)
	}
	if *calls != 1 {
		t.Fatalf("fn called %d times after the context ended, want 1", *calls)
	}
}

func TestDoSystemClock(t *testing.T) {
	t.Parallel()
	fn, calls := script(errBoom, errBoom)
	start := time.Now()
	err := Do(context.Background(), Policy{Attempts: 3, Base: time.Millisecond, Max: time.Millisecond}, func() float64 { return 0.99 }, nil, fn)
	if err != nil || *calls != 3 {
		t.Fatalf("Do = %v after %d calls, want success on the third", err, *calls)
	}
	if el := time.Since(start); el < 1500*time.Microsecond {
		t.Fatalf("Do took %v: the real clock did not wait", el)
	}
}

func TestSystemClockSleepCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if err := SystemClock.Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sleep = %v, want context.Canceled", err)
	}
	if time.Since(start) > time.Second {
		t.Fatal("Sleep did not return when the context ended")
	}
}
