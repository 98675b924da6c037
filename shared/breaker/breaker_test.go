package breaker_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/breaker"
	"github.com/tenaz/tenaz/shared/breaker/breakertest"
	"github.com/tenaz/tenaz/shared/internal/testclock"
	"github.com/tenaz/tenaz/shared/retry"
)

var ctx = context.Background()

// newBreaker returns a breaker on a fresh memory store with the suite's settings, a
// manual clock and a recorder, changed by edit.
func newBreaker(t *testing.T, edit func(*breaker.Settings)) (*breaker.Breaker, *breaker.MemoryStore, *testclock.Clock, *breakertest.Recorder) {
	t.Helper()
	store := breaker.NewMemoryStore()
	clock := testclock.New(breakertest.T0)
	rec := &breakertest.Recorder{}
	s := breakertest.Settings
	s.Now, s.OnTransition, s.OnStoreError = clock.Now, rec.OnTransition, rec.OnStoreError
	if edit != nil {
		edit(&s)
	}
	return breaker.New(store, s), store, clock, rec
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	s := breaker.New(breaker.NewMemoryStore(), breaker.Settings{}).Settings()
	if s.FailureThreshold != 5 || s.Window != 30*time.Second || s.OpenFor != time.Minute ||
		s.ProbeLease != 30*time.Second || s.CacheTTL != time.Second || s.IsFailure == nil || s.Now == nil {
		t.Fatalf("defaults = %+v", s)
	}
}

func TestDefaultIsFailure(t *testing.T) {
	t.Parallel()
	boom := errors.New("connection reset")
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain error", boom, true},
		{"wrapped", fmt.Errorf("post: %w", boom), true},
		{"5xx", retry.HTTPError(503, nil, breakertest.T0), true},
		{"429 with retry-after", retry.HTTPError(429, map[string][]string{"Retry-After": {"5"}}, breakertest.T0), true},
		{"400: the destination is up", retry.HTTPError(400, nil, breakertest.T0), false},
		{"permanent, wrapped", fmt.Errorf("handler: %w", retry.Permanent(boom)), false},
		{"caller cancelled", fmt.Errorf("post: %w", context.Canceled), false},
		{"timed out", fmt.Errorf("post: %w", context.DeadlineExceeded), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := breaker.DefaultIsFailure(tt.err); got != tt.want {
				t.Fatalf("DefaultIsFailure(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestDoCountsWhatIsFailure(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	tests := []struct {
		name         string
		isFailure    func(error) bool
		err          error
		wantFailures int
	}{
		{"success", nil, nil, 0},
		{"error", nil, boom, 1},
		{"permanent error", nil, retry.Permanent(boom), 0},
		{"custom: only boom", func(err error) bool { return errors.Is(err, boom) }, boom, 1},
		{"custom: not this one", func(err error) bool { return errors.Is(err, boom) }, errors.New("other"), 0},
		{"custom is not asked about success", func(error) bool { return true }, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, _, _, _ := newBreaker(t, func(s *breaker.Settings) { s.IsFailure = tt.isFailure })
			calls := 0
			err := b.Do(ctx, "crm", func(context.Context) error { calls++; return tt.err })
			if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) || calls != 1 {
				t.Fatalf("Do = %v after %d calls, want fn's error %v", err, calls, tt.err)
			}
			snap, err := b.State(ctx, "crm")
			if err != nil || snap.Failures != tt.wantFailures {
				t.Fatalf("state = %+v, %v; want %d failures", snap, err, tt.wantFailures)
			}
		})
	}
}

func TestDoOpenSkipsTheCall(t *testing.T) {
	t.Parallel()
	b, _, clock, rec := newBreaker(t, nil)
	fail := func(context.Context) error { return errors.New("503") }
	for range breakertest.Settings.FailureThreshold {
		_ = b.Do(ctx, "crm", fail)
	}
	called := false
	err := b.Do(ctx, "crm", func(context.Context) error { called = true; return nil })
	retryAt, ok := breaker.RetryAt(err)
	if called || !errors.Is(err, breaker.ErrOpen) || !ok || !retryAt.Equal(clock.Now().Add(breakertest.Settings.OpenFor)) {
		t.Fatalf("Do on an open breaker = %v (retry at %s), called %v", err, retryAt, called)
	}
	if !strings.Contains(err.Error(), "crm") || !strings.Contains(err.Error(), "open") {
		t.Fatalf("error text %q does not name the breaker and its state", err)
	}
	// Another dependency is not affected.
	if err := b.Do(ctx, "mailer", func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	// The probe's success closes it.
	clock.Set(retryAt)
	if err := b.Do(ctx, "crm", func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if got := len(rec.Transitions()); got != 3 {
		t.Fatalf("%d transitions, want trip, probe, close", got)
	}
	if _, ok := breaker.RetryAt(errors.New("other")); ok {
		t.Fatal("RetryAt found an OpenError in a plain error")
	}
}

func TestDoReportsStoreErrorsToTheHook(t *testing.T) {
	t.Parallel()
	b, store, _, rec := newBreaker(t, nil)
	if err := b.Do(ctx, "crm", func(context.Context) error { return nil }); err != nil {
		t.Fatal(err) // warm the cache
	}
	store.SetFault(func(op, name string) error { return fmt.Errorf("%w: throttled", breaker.ErrUnavailable) })
	boom := errors.New("boom")
	if err := b.Do(ctx, "crm", func(context.Context) error { return boom }); err != boom {
		t.Fatalf("Do = %v, want fn's own error", err)
	}
	errs := rec.StoreErrors()
	if len(errs) != 1 || !errors.Is(errs[0], breaker.ErrUnavailable) || !strings.Contains(errs[0].Error(), "crm") {
		t.Fatalf("store errors = %v", errs)
	}
}

func TestInvalidNames(t *testing.T) {
	t.Parallel()
	b, _, _, _ := newBreaker(t, nil)
	checks := map[string]error{}
	_, checks["allow"] = b.Allow(ctx, "")
	checks["report zero ticket"] = b.Report(ctx, breaker.Ticket{}, false)
	_, checks["state"] = b.State(ctx, "")
	_, checks["store"] = breaker.NewMemoryStore().Load(ctx, "")
	for what, err := range checks {
		if !retry.IsPermanent(err) {
			t.Errorf("%s with an empty name = %v, want a permanent error", what, err)
		}
	}
}

func TestNegativeCacheTTLReadsEveryTime(t *testing.T) {
	t.Parallel()
	store := &breakertest.Counting{Store: breaker.NewMemoryStore()}
	clock := testclock.New(breakertest.T0)
	b := breaker.New(store, breaker.Settings{CacheTTL: -1, Now: clock.Now})
	for range 10 {
		if err := b.Do(ctx, "crm", func(context.Context) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if store.Reads() != 10 || store.Writes() != 0 {
		t.Fatalf("reads %d, writes %d; want 10, 0", store.Reads(), store.Writes())
	}
}

// blockingStore holds every Load until release is closed.
type blockingStore struct {
	breaker.Store
	entered chan struct{}
	release chan struct{}
}

func (s *blockingStore) Load(ctx context.Context, name string) (breaker.Record, error) {
	s.entered <- struct{}{}
	<-s.release
	return s.Store.Load(ctx, name)
}

// While one goroutine refreshes an expired cache entry, the others decide on the state
// they have instead of piling up reads.
func TestOneReadAtATimePerDependency(t *testing.T) {
	t.Parallel()
	inner := &breakertest.Counting{Store: breaker.NewMemoryStore()}
	clock := testclock.New(breakertest.T0)
	bs := &blockingStore{Store: inner, entered: make(chan struct{}), release: make(chan struct{})}
	b := breaker.New(bs, breaker.Settings{Now: clock.Now})
	// Warm the cache through a first read, released at once.
	go func() { <-bs.entered; bs.release <- struct{}{} }()
	if _, err := b.Allow(ctx, "crm"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err := b.Allow(ctx, "crm"); err != nil {
			t.Error(err)
		}
	}()
	<-bs.entered // the refresh is under way
	for range 50 {
		if _, err := b.Allow(ctx, "crm"); err != nil {
			t.Fatal(err)
		}
	}
	close(bs.release)
	wg.Wait()
	if n := inner.Reads(); n != 2 {
		t.Fatalf("%d reads, want 2 (the first and the refresh)", n)
	}
}

// A cold container (nothing cached yet) hit by a burst reads once: the first caller
// reads, the others wait for its answer instead of each reading the store.
func TestColdBurstReadsOnce(t *testing.T) {
	t.Parallel()
	inner := &breakertest.Counting{Store: breaker.NewMemoryStore()}
	clock := testclock.New(breakertest.T0)
	const burst = 20
	// entered has room for every caller, so that a wrong extra read is counted
	// instead of blocking.
	bs := &blockingStore{Store: inner, entered: make(chan struct{}, burst), release: make(chan struct{})}
	b := breaker.New(bs, breaker.Settings{Now: clock.Now})
	var wg sync.WaitGroup
	for range burst {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if tk, err := b.Allow(ctx, "crm"); err != nil || tk.Name() != "crm" {
				t.Errorf("Allow: %+v, %v", tk, err)
			}
		}()
	}
	<-bs.entered // one read is under way; give the others time to arrive
	time.Sleep(20 * time.Millisecond)
	close(bs.release)
	wg.Wait()
	if n := inner.Reads(); n != 1 {
		t.Fatalf("%d reads for a cold burst of %d, want 1", n, burst)
	}
}

// A waiter whose context ends while the cold read is under way gets the context's
// error, not a guess; when the reader's own context ends, a waiter reads itself.
func TestColdWaitEndsWithTheContext(t *testing.T) {
	t.Parallel()
	inner := &breakertest.Counting{Store: breaker.NewMemoryStore()}
	clock := testclock.New(breakertest.T0)
	bs := &blockingStore{Store: inner, entered: make(chan struct{}), release: make(chan struct{})}
	b := breaker.New(bs, breaker.Settings{Now: clock.Now})
	readerCtx, cancelReader := context.WithCancel(ctx)
	readerDone := make(chan error, 1)
	go func() { _, err := b.Allow(readerCtx, "crm"); readerDone <- err }()
	<-bs.entered

	waiterCtx, cancelWaiter := context.WithCancel(ctx)
	waiterDone := make(chan error, 1)
	go func() { _, err := b.Allow(waiterCtx, "crm"); waiterDone <- err }()
	time.Sleep(10 * time.Millisecond)
	cancelWaiter()
	if err := <-waiterDone; !errors.Is(err, context.Canceled) {
		t.Fatalf("waiter: %v, want context.Canceled", err)
	}

	second := make(chan error, 1)
	go func() { _, err := b.Allow(ctx, "crm"); second <- err }()
	time.Sleep(10 * time.Millisecond)
	cancelReader()
	close(bs.release) // the reader's Load returns; its context has ended
	if err := <-readerDone; !errors.Is(err, context.Canceled) {
		t.Fatalf("reader: %v, want context.Canceled", err)
	}
	<-bs.entered // the waiter left without a state reads itself
	if err := <-second; err != nil {
		t.Fatalf("the waiter that read itself: %v", err)
	}
}

func TestStateStrings(t *testing.T) {
	t.Parallel()
	for _, s := range []breaker.State{breaker.Closed, breaker.Open, breaker.HalfOpen} {
		got, err := breaker.ParseState(s.String())
		if err != nil || got != s {
			t.Errorf("ParseState(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := breaker.ParseState("ajar"); err == nil {
		t.Error("ParseState accepted an unknown state")
	}
}

// barrierStore holds each RecordFailure after it was counted until n of them were,
// so that n callers all see the threshold reached before any of them opens.
type barrierStore struct {
	breaker.Store
	wg *sync.WaitGroup
}

func (s barrierStore) RecordFailure(ctx context.Context, name string, gen uint64, now time.Time, window time.Duration) (breaker.Record, bool, error) {
	rec, won, err := s.Store.RecordFailure(ctx, name, gen, now, window)
	s.wg.Done()
	s.wg.Wait()
	return rec, won, err
}

func TestOnlyTheWinnerReportsATransition(t *testing.T) {
	t.Parallel()
	const callers = 4
	var wg sync.WaitGroup
	wg.Add(callers)
	store := barrierStore{Store: breaker.NewMemoryStore(), wg: &wg}
	clock := testclock.New(breakertest.T0)
	rec := &breakertest.Recorder{}
	var done sync.WaitGroup
	for range callers {
		b := breaker.New(store, breaker.Settings{FailureThreshold: 1, Now: clock.Now, OnTransition: rec.OnTransition})
		tk, err := b.Allow(ctx, "crm")
		if err != nil {
			t.Fatal(err)
		}
		done.Add(1)
		go func() {
			defer done.Done()
			if err := b.Report(ctx, tk, false); err != nil {
				t.Error(err)
			}
		}()
	}
	done.Wait()
	if tr := rec.Transitions(); len(tr) != 1 || tr[0].To != breaker.Open || tr[0].Failures < 1 {
		t.Fatalf("transitions = %+v, want one Closed → Open", tr)
	}
}

// A container that knows of a pause keeps it while the store is unreachable: the
// fail-open rule lets calls through only where the store alone could decide.
func TestPauseHoldsWhileTheStoreFails(t *testing.T) {
	t.Parallel()
	b, store, clock, rec := newBreaker(t, nil)
	if _, err := b.Pause(ctx, "crm"); err != nil {
		t.Fatal(err)
	}
	store.SetFault(func(op, name string) error { return fmt.Errorf("throttled: %w", breaker.ErrUnavailable) })
	clock.Advance(10 * breakertest.Settings.CacheTTL)
	if _, err := b.Allow(ctx, "crm"); !errors.Is(err, breaker.ErrPaused) {
		t.Fatalf("allow with the store down = %v, want ErrPaused", err)
	}
	if len(rec.StoreErrors()) == 0 {
		t.Fatal("the failed read was not reported")
	}
	// Pause and resume themselves fail with the store's error, transient.
	if _, err := b.Resume(ctx, "crm"); !errors.Is(err, breaker.ErrUnavailable) {
		t.Fatalf("resume with the store down = %v, want ErrUnavailable", err)
	}
	store.SetFault(nil)
	if _, err := b.Resume(ctx, "crm"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Allow(ctx, "crm"); err != nil {
		t.Fatalf("allow after the resume = %v", err)
	}
	if _, err := b.Pause(ctx, ""); !retry.IsPermanent(err) {
		t.Fatalf("pause of an empty name = %v, want a permanent error", err)
	}
}
