package ratelimittest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/internal/testclock"
	"github.com/tenaz/tenaz/shared/ratelimit"
	"github.com/tenaz/tenaz/shared/retry"
)

// Harness is one store under test and its controls.
type Harness struct {
	Store ratelimit.Store
	// Throttle(true) makes every later call fail as the backend does when it
	// throttles; Throttle(false) ends that.
	Throttle func(on bool)
}

// T0 is the suite's first instant, the start of a window.
var T0 = time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)

// Races is the number of Limiters (containers) in each race, and Attempts the
// number of Takes each makes at the same instant.
const (
	Races    = 20
	Attempts = 3
)

// env is one case's store, clock and destination names.
type env struct {
	t     *testing.T
	h     Harness
	store *Counting
	clock *testclock.Clock
	name  string
}

// limiter returns a new Limiter (a container of its own) on the case's store and
// clock.
func (e *env) limiter() *ratelimit.Limiter {
	return ratelimit.New(e.store, ratelimit.Settings{Now: e.clock.Now})
}

// Run runs the contract against the stores newHarness makes, one per case.
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	t.Helper()
	cases := []struct {
		name string
		fn   func(e *env)
	}{
		{"limit allowed, then refused until the next window", testLimitThenRefused},
		{"the next window allows again, the last one keeps its count", testNextWindow},
		{"store: take is conditional on the caller's limit", testStoreConditional},
		{"a raised limit is judged in the running window", testRaisedLimit},
		{"race: many containers never exceed the limit", testRace},
		{"race: store takes never exceed the limit", testStoreRace},
		{"destinations are isolated", testIsolation},
		{"unlimited: allowed with no store call", testUnlimited},
		{"a container refuses a window it saw full without a store call", testLocalRefusal},
		{"throttled store: transient error, nothing counted", testThrottle},
		{"ended context is returned, nothing counted", testContextEnded},
		{"no name is a permanent error", testNoName},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			c.fn(&env{t: t, h: h, store: &Counting{Store: h.Store}, clock: testclock.New(T0), name: fmt.Sprintf("dest-%s", t.Name())})
		})
	}
}

var ctx = context.Background()

// taken returns the count of name's window at the instant at.
func (e *env) taken(name string, at time.Time) int {
	e.t.Helper()
	n, err := e.h.Store.Taken(ctx, name, at.Unix())
	if err != nil {
		e.t.Fatalf("taken %s at %s: %v", name, at.Format(time.RFC3339), err)
	}
	return n
}

func (e *env) wantTaken(name string, at time.Time, want int) {
	e.t.Helper()
	if got := e.taken(name, at); got != want {
		e.t.Fatalf("window %s at %s counted %d, want %d", name, at.Format(time.RFC3339), got, want)
	}
}

func (e *env) take(l *ratelimit.Limiter, name string, perSecond int) ratelimit.Decision {
	e.t.Helper()
	d, err := l.Take(ctx, name, perSecond)
	if err != nil {
		e.t.Fatalf("take %s at %s: %v", name, e.clock.Now().Format(time.RFC3339Nano), err)
	}
	return d
}

func (e *env) allowed(l *ratelimit.Limiter, name string, perSecond int) {
	e.t.Helper()
	if d := e.take(l, name, perSecond); !d.Allowed || !d.RetryAt.IsZero() {
		e.t.Fatalf("take %s at %s = %+v, want allowed", name, e.clock.Now().Format(time.RFC3339Nano), d)
	}
}

// refused checks that l refuses name now, with RetryAt the start of the next second.
func (e *env) refused(l *ratelimit.Limiter, name string, perSecond int) ratelimit.Decision {
	e.t.Helper()
	d := e.take(l, name, perSecond)
	want := e.clock.Now().Truncate(time.Second).Add(time.Second)
	if d.Allowed || !d.RetryAt.Equal(want) {
		e.t.Fatalf("take %s at %s = %+v, want refused until %s", name, e.clock.Now().Format(time.RFC3339Nano), d, want.Format(time.RFC3339Nano))
	}
	return d
}

func testLimitThenRefused(e *env) {
	l := e.limiter()
	e.clock.Set(T0.Add(100 * time.Millisecond))
	for range 3 {
		e.allowed(l, e.name, 3)
	}
	e.wantTaken(e.name, T0, 3)
	e.clock.Set(T0.Add(999 * time.Millisecond))
	if d := e.refused(l, e.name, 3); d.Local {
		e.t.Fatal("the first refusal of a window came from memory, want the store's answer")
	}
	// Another container, which never saw the window full, is refused by the store.
	if d := e.refused(e.limiter(), e.name, 3); d.Local {
		e.t.Fatal("a fresh container refused from memory")
	}
	e.wantTaken(e.name, T0, 3)
}

func testNextWindow(e *env) {
	l := e.limiter()
	for range 2 {
		e.allowed(l, e.name, 2)
	}
	e.refused(l, e.name, 2)
	e.clock.Set(T0.Add(time.Second - time.Nanosecond))
	e.refused(l, e.name, 2)
	e.clock.Set(T0.Add(time.Second))
	e.allowed(l, e.name, 2)
	e.allowed(e.limiter(), e.name, 2)
	e.refused(l, e.name, 2)
	e.wantTaken(e.name, T0, 2)
	e.wantTaken(e.name, T0.Add(time.Second), 2)
	// A window is judged afresh even after idle ones.
	e.clock.Set(T0.Add(10*time.Second + 500*time.Millisecond))
	e.allowed(l, e.name, 2)
	e.wantTaken(e.name, e.clock.Now(), 1)
}

func testStoreConditional(e *env) {
	s, sec := e.h.Store, T0.Unix()
	take := func(limit int, want bool) {
		e.t.Helper()
		got, err := s.Take(ctx, e.name, sec, limit)
		if err != nil || got != want {
			e.t.Fatalf("store take with limit %d = %v, %v; want %v", limit, got, err, want)
		}
	}
	e.wantTaken(e.name, T0, 0)
	take(1, true)
	take(1, false)
	e.wantTaken(e.name, T0, 1)
	take(3, true)
	take(3, true)
	take(3, false)
	take(2, false)
	e.wantTaken(e.name, T0, 3)
	// The window of the next second is another item.
	got, err := s.Take(ctx, e.name, sec+1, 1)
	if err != nil || !got {
		e.t.Fatalf("store take in the next window = %v, %v", got, err)
	}
	e.wantTaken(e.name, T0, 3)
	e.wantTaken(e.name, T0.Add(time.Second), 1)
}

func testRaisedLimit(e *env) {
	l := e.limiter()
	e.allowed(l, e.name, 1)
	e.refused(l, e.name, 1)
	// The same container asks with a higher limit (a route changed, or another route
	// to the same destination): its memory of a full window at 1 does not apply.
	before := e.store.Writes()
	e.allowed(l, e.name, 2)
	if e.store.Writes() != before+1 {
		e.t.Fatalf("a raised limit made %d store calls, want 1", e.store.Writes()-before)
	}
	e.refused(l, e.name, 2)
	if d := e.refused(l, e.name, 1); !d.Local {
		e.t.Fatal("a lower limit in a window seen full asked the store")
	}
	e.wantTaken(e.name, T0, 2)
}

// raceLimit is below Races*Attempts, so the race always reaches the limit.
const raceLimit = 7

func testRace(e *env) {
	e.clock.Set(T0.Add(300 * time.Millisecond))
	var allowed, refused atomic.Int64
	errs := make(chan error, Races*Attempts)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range Races {
		l := e.limiter()
		wg.Go(func() {
			<-start
			for range Attempts {
				d, err := l.Take(ctx, e.name, raceLimit)
				switch {
				case err != nil:
					errs <- err
				case d.Allowed:
					allowed.Add(1)
				default:
					refused.Add(1)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		e.t.Errorf("take in the race: %v", err)
	}
	if allowed.Load() != raceLimit || refused.Load() != Races*Attempts-raceLimit {
		e.t.Fatalf("race: %d allowed, %d refused; want %d and %d", allowed.Load(), refused.Load(), raceLimit, Races*Attempts-raceLimit)
	}
	e.wantTaken(e.name, T0, raceLimit)
}

func testStoreRace(e *env) {
	const racers = Races * Attempts
	var allowed atomic.Int64
	errs := make(chan error, racers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range racers {
		wg.Go(func() {
			<-start
			ok, err := e.h.Store.Take(ctx, e.name, T0.Unix(), raceLimit)
			if err != nil {
				errs <- err
			}
			if ok {
				allowed.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		e.t.Errorf("store take in the race: %v", err)
	}
	if allowed.Load() != raceLimit {
		e.t.Fatalf("store race: %d allowed, want %d", allowed.Load(), raceLimit)
	}
	e.wantTaken(e.name, T0, raceLimit)
}

func testIsolation(e *env) {
	l := e.limiter()
	a, b := e.name+"-a", e.name+"-b"
	// A name that is another's prefix, or holds the separator, has windows of its own.
	c, d := e.name+"-a#1", e.name+"-a#"
	e.allowed(l, a, 1)
	e.refused(l, a, 1)
	for _, other := range []string{b, c, d} {
		e.allowed(l, other, 1)
		e.refused(l, other, 1)
	}
	e.allowed(e.limiter(), e.name+"-a#1#", 5)
	for _, n := range []string{a, b, c, d} {
		e.wantTaken(n, T0, 1)
	}
}

func testUnlimited(e *env) {
	l := e.limiter()
	for range 1000 {
		e.allowed(l, e.name, 0)
	}
	e.allowed(l, e.name, -1)
	if w, r := e.store.Writes(), e.store.Reads(); w != 0 || r != 0 {
		e.t.Fatalf("unlimited takes made %d writes and %d reads, want none", w, r)
	}
	e.wantTaken(e.name, T0, 0)
}

func testLocalRefusal(e *env) {
	l := e.limiter()
	e.allowed(l, e.name, 2)
	e.allowed(l, e.name, 2)
	e.refused(l, e.name, 2)
	if w := e.store.Writes(); w != 3 {
		e.t.Fatalf("two allowed takes and a refusal made %d store writes, want 3", w)
	}
	for range 100 {
		e.clock.Advance(5 * time.Millisecond)
		if d := e.refused(l, e.name, 2); !d.Local {
			e.t.Fatalf("refusal at %s was not local", e.clock.Now().Format(time.RFC3339Nano))
		}
	}
	if w := e.store.Writes(); w != 3 {
		e.t.Fatalf("refusals of a window seen full made %d more store writes, want none", w-3)
	}
	e.clock.Set(T0.Add(time.Second))
	e.allowed(l, e.name, 2)
	if w := e.store.Writes(); w != 4 {
		e.t.Fatalf("the next window made %d store writes, want 1", w-3)
	}
}

func testThrottle(e *env) {
	l := e.limiter()
	e.allowed(l, e.name, 2)
	e.h.Throttle(true)
	for _, other := range []*ratelimit.Limiter{l, e.limiter()} {
		d, err := other.Take(ctx, e.name, 2)
		if !errors.Is(err, ratelimit.ErrUnavailable) || retry.IsPermanent(err) {
			e.h.Throttle(false)
			e.t.Fatalf("take on a throttled store = %+v, %v; want a transient ErrUnavailable", d, err)
		}
		if d != (ratelimit.Decision{}) {
			e.h.Throttle(false)
			e.t.Fatalf("take on a throttled store answered %+v with its error, want the zero Decision", d)
		}
	}
	if _, err := e.h.Store.Taken(ctx, e.name, T0.Unix()); !errors.Is(err, ratelimit.ErrUnavailable) {
		e.h.Throttle(false)
		e.t.Fatalf("taken on a throttled store = %v, want ErrUnavailable", err)
	}
	e.h.Throttle(false)
	e.wantTaken(e.name, T0, 1)
	e.allowed(l, e.name, 2)
	e.refused(l, e.name, 2)
}

func testContextEnded(e *env) {
	c, cancel := context.WithCancel(ctx)
	cancel()
	d, err := e.limiter().Take(c, e.name, 2)
	if !errors.Is(err, context.Canceled) || errors.Is(err, ratelimit.ErrUnavailable) || retry.IsPermanent(err) || d.Allowed {
		e.t.Fatalf("take with an ended context = %+v, %v; want context.Canceled", d, err)
	}
	e.wantTaken(e.name, T0, 0)
}

func testNoName(e *env) {
	if d, err := e.limiter().Take(ctx, "", 2); !retry.IsPermanent(err) || d.Allowed {
		e.t.Fatalf("take without a name = %+v, %v; want a permanent error", d, err)
	}
	if ok, err := e.h.Store.Take(ctx, "", T0.Unix(), 2); !retry.IsPermanent(err) || ok {
		e.t.Fatalf("store take without a name = %v, %v; want a permanent error", ok, err)
	}
}
