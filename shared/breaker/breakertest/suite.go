package breakertest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/breaker"
	"github.com/tenaz/tenaz/shared/internal/testclock"
	"github.com/tenaz/tenaz/shared/retry"
)

// Harness is one store under test and its controls.
type Harness struct {
	Store breaker.Store
	// Throttle(true) makes every later call fail as the backend does when it
	// throttles; Throttle(false) ends that.
	Throttle func(on bool)
}

// T0 is the suite's first instant.
var T0 = time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)

// Settings are the breaker settings of the suite: the defaults, spelled out so that
// the cases can do arithmetic with them.
var Settings = breaker.Settings{
	FailureThreshold: 5,
	Window:           30 * time.Second,
	OpenFor:          60 * time.Second,
	ProbeLease:       30 * time.Second,
	CacheTTL:         time.Second,
}

// Races is the number of Breakers (containers) in each race.
const Races = 20

// env is one case's store, clock, transitions and breaker name.
type env struct {
	t     *testing.T
	h     Harness
	store *Counting
	clock *testclock.Clock
	rec   *Recorder
	name  string
}

// breaker returns a new Breaker (a container of its own, with its own cache) on the
// case's store, clock and recorder, with Settings changed by edit.
func (e *env) breaker(edit ...func(*breaker.Settings)) *breaker.Breaker {
	s := Settings
	s.Now, s.OnTransition, s.OnStoreError = e.clock.Now, e.rec.OnTransition, e.rec.OnStoreError
	for _, f := range edit {
		f(&s)
	}
	return breaker.New(e.store, s)
}

// Run runs the contract against the stores newHarness makes, one per case.
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	t.Helper()
	cases := []struct {
		name string
		fn   func(e *env)
	}{
		{"absent breaker is closed at generation 0", testAbsent},
		{"store: failures count in a fixed window", testStoreWindow},
		{"store: transitions are conditional", testStoreConditions},
		{"happy path reads once per cache TTL and writes nothing", testHappyPath},
		{"threshold", testThreshold},
		{"failures older than the window do not count", testWindowExpiry},
		{"open until the open period ends, then one probe", testOpenThenProbe},
		{"probe success closes, probe failure reopens", testProbeOutcome},
		{"stale generation reports are ignored", testStaleReports},
		{"probe lease expiry lets another caller probe", testProbeLeaseExpiry},
		{"a released probe lets another caller probe at once", testProbeRelease},
		{"race: exactly one wins each transition and each probe lease", testRace},
		{"race: failures from many containers are all counted", testRaceCounting},
		{"a container learns of an opening within the cache TTL", testCacheLag},
		{"throttled store: transient errors, fail open, nothing changed", testThrottle},
		{"ended context is returned, not a ticket", testContextEnded},
		{"store: pause and resume are conditional and idempotent", testStorePause},
		{"paused: refused, no probe, no failure counted; resume closes at once", testPause},
		{"a container learns of a pause and a resume within the cache TTL", testPauseCacheLag},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			c.fn(&env{
				t: t, h: h, store: &Counting{Store: h.Store}, clock: testclock.New(T0), rec: &Recorder{},
				name: fmt.Sprintf("dep-%s", t.Name()),
			})
		})
	}
}

var ctx = context.Background()

func (e *env) load() breaker.Record {
	e.t.Helper()
	r, err := e.h.Store.Load(ctx, e.name)
	if err != nil {
		e.t.Fatalf("load %s: %v", e.name, err)
	}
	return r
}

func (e *env) allow(b *breaker.Breaker) breaker.Ticket {
	e.t.Helper()
	tk, err := b.Allow(ctx, e.name)
	if err != nil {
		e.t.Fatalf("allow at %s: %v", e.clock.Now().Format(time.RFC3339Nano), err)
	}
	return tk
}

// refused checks that b refuses a call now, with state and retryAt.
func (e *env) refused(b *breaker.Breaker, state breaker.State, retryAt time.Time) {
	e.t.Helper()
	tk, err := b.Allow(ctx, e.name)
	var open *breaker.OpenError
	if !errors.As(err, &open) || !errors.Is(err, breaker.ErrOpen) {
		e.t.Fatalf("allow at %s = %+v, %v; want an *OpenError", e.clock.Now().Format(time.RFC3339Nano), tk, err)
	}
	if open.State != state || !open.RetryAt.Equal(retryAt) || open.Name != e.name {
		e.t.Fatalf("allow refused with %+v, want state %s until %s", open, state, retryAt)
	}
}

func (e *env) report(b *breaker.Breaker, tk breaker.Ticket, success bool) {
	e.t.Helper()
	if err := b.Report(ctx, tk, success); err != nil {
		e.t.Fatalf("report %v: %v", success, err)
	}
}

// fail makes n calls through b that fail.
func (e *env) fail(b *breaker.Breaker, n int) {
	e.t.Helper()
	for range n {
		e.report(b, e.allow(b), false)
	}
}

// wantTransitions checks the transitions reported so far, as (from, to) pairs.
func (e *env) wantTransitions(want ...[2]breaker.State) []breaker.Transition {
	e.t.Helper()
	got := e.rec.Transitions()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		ok = got[i].From == want[i][0] && got[i].To == want[i][1] && got[i].Name == e.name
	}
	if !ok {
		e.t.Fatalf("transitions = %s, want %v", formatTransitions(got), want)
	}
	return got
}

func formatTransitions(ts []breaker.Transition) string {
	s := "["
	for i, t := range ts {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%s→%s(gen %d, %d failures)", t.From, t.To, t.Generation, t.Failures)
	}
	return s + "]"
}

func (e *env) wantRecord(got, want breaker.Record) {
	e.t.Helper()
	if got.Name != want.Name || got.State != want.State || got.Generation != want.Generation ||
		got.Failures != want.Failures || !got.WindowStart.Equal(want.WindowStart) ||
		!got.OpenedAt.Equal(want.OpenedAt) || !got.OpenUntil.Equal(want.OpenUntil) ||
		!got.ProbeUntil.Equal(want.ProbeUntil) || !got.PausedAt.Equal(want.PausedAt) {
		e.t.Fatalf("record = %+v\nwant     %+v", got, want)
	}
}

// trip opens the breaker at the clock's time with b and returns when it may probe.
func (e *env) trip(b *breaker.Breaker) time.Time {
	e.t.Helper()
	e.fail(b, Settings.FailureThreshold)
	r := e.load()
	if r.State != breaker.Open {
		e.t.Fatalf("after %d failures the breaker is %s", Settings.FailureThreshold, r.State)
	}
	return r.OpenUntil
}

func testAbsent(e *env) {
	e.wantRecord(e.load(), breaker.Record{Name: e.name})
	b := e.breaker()
	tk := e.allow(b)
	if tk.Generation() != 0 || tk.Probe() || tk.Name() != e.name {
		e.t.Fatalf("ticket = %+v, want generation 0, no probe", tk)
	}
	snap, err := b.State(ctx, e.name)
	if err != nil || snap != (breaker.Snapshot{Name: e.name, State: breaker.Closed}) {
		e.t.Fatalf("state = %+v, %v", snap, err)
	}
}

func testStoreWindow(e *env) {
	s, w := e.h.Store, Settings.Window
	steps := []struct {
		at      time.Duration
		failure int
		start   time.Duration
	}{
		{0, 1, 0},
		{w / 2, 2, 0},
		{w - time.Millisecond, 3, 0}, // the last millisecond of the window
		{w, 1, w},                    // the window has passed: a new one starts
		{w + time.Millisecond, 2, w},
		{3 * w, 1, 3 * w},
	}
	for _, st := range steps {
		got, won, err := s.RecordFailure(ctx, e.name, 0, T0.Add(st.at), w)
		if err != nil || !won {
			e.t.Fatalf("record failure at +%s = %v, %v", st.at, won, err)
		}
		want := breaker.Record{Name: e.name, WindowStart: T0.Add(st.start), Failures: st.failure}
		e.wantRecord(got, want)
		e.wantRecord(e.load(), want)
	}
}

func testStoreConditions(e *env) {
	s, w := e.h.Store, Settings.Window
	t1, until := T0.Add(time.Second), T0.Add(time.Minute)
	lease := until.Add(30 * time.Second)
	closed := breaker.Record{Name: e.name, WindowStart: T0, Failures: 1}
	open := breaker.Record{Name: e.name, State: breaker.Open, Generation: 1, WindowStart: T0, Failures: 1, OpenedAt: t1, OpenUntil: until}
	half := open
	half.State, half.Generation, half.ProbeUntil = breaker.HalfOpen, 2, lease
	half2 := half
	half2.Generation, half2.ProbeUntil = 3, lease.Add(30*time.Second)
	reopened := half2
	reopened.State, reopened.Generation, reopened.OpenedAt, reopened.OpenUntil, reopened.ProbeUntil = breaker.Open, 4, lease.Add(time.Second), lease.Add(time.Minute), time.Time{}
	type write func() (breaker.Record, bool, error)
	steps := []struct {
		name  string
		do    write
		won   bool
		after breaker.Record
	}{
		{"open an absent breaker", func() (breaker.Record, bool, error) { return s.Open(ctx, e.name, 0, t1, until) }, false, breaker.Record{Name: e.name}},
		{"close an absent breaker", func() (breaker.Record, bool, error) { return s.Close(ctx, e.name, 0, t1) }, false, breaker.Record{Name: e.name}},
		{"probe an absent breaker", func() (breaker.Record, bool, error) { return s.AcquireProbe(ctx, e.name, 0, t1, lease) }, false, breaker.Record{Name: e.name}},
		{"failure of a future generation", func() (breaker.Record, bool, error) { return s.RecordFailure(ctx, e.name, 1, T0, w) }, false, breaker.Record{Name: e.name}},
		{"first failure", func() (breaker.Record, bool, error) { return s.RecordFailure(ctx, e.name, 0, T0, w) }, true, closed},
		{"open from a wrong generation", func() (breaker.Record, bool, error) { return s.Open(ctx, e.name, 1, t1, until) }, false, closed},
		{"close a closed breaker", func() (breaker.Record, bool, error) { return s.Close(ctx, e.name, 0, t1) }, false, closed},
		{"probe a closed breaker", func() (breaker.Record, bool, error) { return s.AcquireProbe(ctx, e.name, 0, t1, lease) }, false, closed},
		{"open", func() (breaker.Record, bool, error) { return s.Open(ctx, e.name, 0, t1, until) }, true, open},
		{"open again from the same generation", func() (breaker.Record, bool, error) { return s.Open(ctx, e.name, 0, t1, until) }, false, open},
		{"open an open breaker", func() (breaker.Record, bool, error) { return s.Open(ctx, e.name, 1, t1, until) }, false, open},
		{"failure of the closed generation", func() (breaker.Record, bool, error) { return s.RecordFailure(ctx, e.name, 0, t1, w) }, false, open},
		{"failure while open", func() (breaker.Record, bool, error) { return s.RecordFailure(ctx, e.name, 1, t1, w) }, false, open},
		{"probe a millisecond early", func() (breaker.Record, bool, error) {
			return s.AcquireProbe(ctx, e.name, 1, until.Add(-time.Millisecond), lease)
		}, false, open},
		{"close an open breaker", func() (breaker.Record, bool, error) { return s.Close(ctx, e.name, 1, until) }, false, open},
		{"probe at the end of the open period", func() (breaker.Record, bool, error) { return s.AcquireProbe(ctx, e.name, 1, until, lease) }, true, half},
		{"probe again from the open generation", func() (breaker.Record, bool, error) { return s.AcquireProbe(ctx, e.name, 1, until, lease) }, false, half},
		{"take over a live lease", func() (breaker.Record, bool, error) {
			return s.AcquireProbe(ctx, e.name, 2, lease.Add(-time.Millisecond), lease.Add(time.Minute))
		}, false, half},
		{"failure while half-open", func() (breaker.Record, bool, error) { return s.RecordFailure(ctx, e.name, 2, until, w) }, false, half},
		{"take over from the open generation when the lease ran out", func() (breaker.Record, bool, error) {
			return s.AcquireProbe(ctx, e.name, 1, lease, lease.Add(time.Minute))
		}, false, half},
		{"take over the lease when it runs out", func() (breaker.Record, bool, error) {
			return s.AcquireProbe(ctx, e.name, 2, lease, lease.Add(30*time.Second))
		}, true, half2},
		{"close from the first prober's generation", func() (breaker.Record, bool, error) { return s.Close(ctx, e.name, 2, lease) }, false, half2},
		{"reopen from the first prober's generation", func() (breaker.Record, bool, error) {
			return s.Open(ctx, e.name, 2, lease, lease.Add(time.Minute))
		}, false, half2},
		{"reopen after a failed probe", func() (breaker.Record, bool, error) {
			return s.Open(ctx, e.name, 3, lease.Add(time.Second), lease.Add(time.Minute))
		}, true, reopened},
		{"probe the reopened breaker", func() (breaker.Record, bool, error) {
			return s.AcquireProbe(ctx, e.name, 4, lease.Add(time.Minute), lease.Add(90*time.Second))
		}, true, breaker.Record{Name: e.name, State: breaker.HalfOpen, Generation: 5, WindowStart: T0, Failures: 1,
			OpenedAt: lease.Add(time.Second), OpenUntil: lease.Add(time.Minute), ProbeUntil: lease.Add(90 * time.Second)}},
		{"close after a successful probe", func() (breaker.Record, bool, error) { return s.Close(ctx, e.name, 5, lease.Add(time.Minute)) }, true,
			breaker.Record{Name: e.name, State: breaker.Closed, Generation: 6}},
		{"close twice", func() (breaker.Record, bool, error) { return s.Close(ctx, e.name, 5, lease.Add(time.Minute)) }, false,
			breaker.Record{Name: e.name, State: breaker.Closed, Generation: 6}},
		{"failure after closing starts a window", func() (breaker.Record, bool, error) {
			return s.RecordFailure(ctx, e.name, 6, lease.Add(time.Minute), w)
		}, true, breaker.Record{Name: e.name, State: breaker.Closed, Generation: 6, WindowStart: lease.Add(time.Minute), Failures: 1}},
	}
	for _, st := range steps {
		got, won, err := st.do()
		if err != nil {
			e.t.Fatalf("%s: %v", st.name, err)
		}
		if won != st.won {
			e.t.Fatalf("%s: won = %v, want %v", st.name, won, st.won)
		}
		// A refused write answers the stored record; a won one the record after it.
		e.wantRecord(got, st.after)
		e.wantRecord(e.load(), st.after)
	}
}

func testHappyPath(e *env) {
	b := e.breaker()
	const calls = 1000
	step := Settings.CacheTTL / (2 * calls) // all calls within half a cache TTL
	for range calls {
		e.report(b, e.allow(b), true)
		e.clock.Advance(step)
	}
	if r, w := e.store.Reads(), e.store.Writes(); r != 1 || w != 0 {
		e.t.Fatalf("%d calls within one cache TTL made %d reads and %d writes, want 1 and 0", calls, r, w)
	}
	e.clock.Set(T0.Add(Settings.CacheTTL))
	e.report(b, e.allow(b), true)
	if r := e.store.Reads(); r != 2 {
		e.t.Fatalf("after the cache TTL: %d reads, want 2", r)
	}
	if got := e.load(); got != (breaker.Record{Name: e.name}) {
		e.t.Fatalf("successes changed the stored state: %+v", got)
	}
	e.wantTransitions()
}

func testThreshold(e *env) {
	for _, threshold := range []int{1, 2, 5} {
		e.t.Run(fmt.Sprintf("%d", threshold), func(t *testing.T) {
			e := &env{t: t, h: e.h, store: &Counting{Store: e.h.Store}, clock: testclock.New(T0), rec: &Recorder{},
				name: fmt.Sprintf("%s-%d", e.name, threshold)}
			b := e.breaker(func(s *breaker.Settings) { s.FailureThreshold = threshold })
			e.clock.Advance(time.Second)
			e.fail(b, threshold-1)
			snap, err := b.State(ctx, e.name)
			if err != nil || snap.State != breaker.Closed || snap.Failures != threshold-1 {
				t.Fatalf("after %d failures: %+v, %v; want closed with %[1]d failures", threshold-1, snap, err)
			}
			e.clock.Advance(time.Second)
			e.fail(b, 1)
			tr := e.wantTransitions([2]breaker.State{breaker.Closed, breaker.Open})[0]
			retryAt := T0.Add(2*time.Second + Settings.OpenFor)
			if tr.Failures != threshold || !tr.RetryAt.Equal(retryAt) || tr.Generation != 1 || !tr.At.Equal(T0.Add(2*time.Second)) {
				t.Fatalf("transition = %+v, want %d failures, retry at %s, generation 1", tr, threshold, retryAt)
			}
			e.refused(b, breaker.Open, retryAt)
			snap, err = b.State(ctx, e.name)
			want := breaker.Snapshot{Name: e.name, State: breaker.Open, Generation: 1, OpenedAt: T0.Add(2 * time.Second), RetryAt: retryAt}
			if err != nil || snap != want {
				t.Fatalf("state = %+v, %v\nwant %+v", snap, err, want)
			}
		})
	}
}

func testWindowExpiry(e *env) {
	w, n := Settings.Window, Settings.FailureThreshold
	cases := []struct {
		name      string
		lastAt    time.Duration // when the last of n failures comes; the others at 0
		wantOpen  bool
		wantCount int // failures counted after the last one, when closed
	}{
		{"all within the window", w - time.Millisecond, true, 0},
		{"last one when the window has passed", w, false, 1},
		{"last one long after", 10 * w, false, 1},
	}
	for _, c := range cases {
		e.t.Run(c.name, func(t *testing.T) {
			e := &env{t: t, h: e.h, store: &Counting{Store: e.h.Store}, clock: testclock.New(T0), rec: &Recorder{},
				name: fmt.Sprintf("%s-%s", e.name, c.name)}
			b := e.breaker()
			e.fail(b, n-1)
			e.clock.Advance(c.lastAt)
			e.fail(b, 1)
			snap, err := b.State(ctx, e.name)
			if err != nil {
				t.Fatal(err)
			}
			if c.wantOpen {
				e.wantTransitions([2]breaker.State{breaker.Closed, breaker.Open})
				if snap.State != breaker.Open {
					t.Fatalf("state = %+v, want open", snap)
				}
				return
			}
			e.wantTransitions()
			if snap.State != breaker.Closed || snap.Failures != c.wantCount || !snap.WindowStart.Equal(T0.Add(c.lastAt)) {
				t.Fatalf("state = %+v, want closed with %d failures in a window from +%s", snap, c.wantCount, c.lastAt)
			}
			// The new window needs its own n failures to open.
			e.fail(b, n-1)
			e.wantTransitions([2]breaker.State{breaker.Closed, breaker.Open})
		})
	}
}

func testOpenThenProbe(e *env) {
	b1, b2 := e.breaker(), e.breaker()
	retryAt := e.trip(b1)
	if want := T0.Add(Settings.OpenFor); !retryAt.Equal(want) {
		e.t.Fatalf("open until %s, want %s", retryAt, want)
	}
	e.refused(b1, breaker.Open, retryAt)
	e.refused(b2, breaker.Open, retryAt)
	e.clock.Set(retryAt.Add(-time.Millisecond))
	e.refused(b1, breaker.Open, retryAt)
	e.refused(b2, breaker.Open, retryAt)
	e.clock.Set(retryAt)
	probe := e.allow(b2)
	if !probe.Probe() || probe.Generation() != 2 {
		e.t.Fatalf("ticket at the end of the open period = %+v, want a probe of generation 2", probe)
	}
	leaseEnd := retryAt.Add(Settings.ProbeLease)
	e.refused(b1, breaker.HalfOpen, leaseEnd)
	e.refused(b2, breaker.HalfOpen, leaseEnd)
	tr := e.wantTransitions([2]breaker.State{breaker.Closed, breaker.Open}, [2]breaker.State{breaker.Open, breaker.HalfOpen})
	if !tr[1].RetryAt.Equal(leaseEnd) || tr[1].Generation != 2 {
		e.t.Fatalf("probe transition = %+v", tr[1])
	}
}

func testProbeOutcome(e *env) {
	b := e.breaker()
	retryAt := e.trip(b)
	e.clock.Set(retryAt)
	e.report(b, e.allow(b), false)
	reopenedUntil := retryAt.Add(Settings.OpenFor)
	e.refused(b, breaker.Open, reopenedUntil)
	e.wantRecord(e.load(), breaker.Record{Name: e.name, State: breaker.Open, Generation: 3, WindowStart: T0,
		Failures: Settings.FailureThreshold, OpenedAt: retryAt, OpenUntil: reopenedUntil})
	e.clock.Set(reopenedUntil)
	e.report(b, e.allow(b), true)
	tk := e.allow(b)
	if tk.Probe() || tk.Generation() != 5 {
		e.t.Fatalf("ticket after closing = %+v, want generation 5, no probe", tk)
	}
	e.wantRecord(e.load(), breaker.Record{Name: e.name, State: breaker.Closed, Generation: 5})
	tr := e.wantTransitions(
		[2]breaker.State{breaker.Closed, breaker.Open},
		[2]breaker.State{breaker.Open, breaker.HalfOpen},
		[2]breaker.State{breaker.HalfOpen, breaker.Open},
		[2]breaker.State{breaker.Open, breaker.HalfOpen},
		[2]breaker.State{breaker.HalfOpen, breaker.Closed},
	)
	for i, t := range tr {
		if t.Generation != uint64(i+1) {
			e.t.Fatalf("transition %d started generation %d, want %d", i, t.Generation, i+1)
		}
	}
	if tr[2].Failures != 1 || !tr[2].RetryAt.Equal(reopenedUntil) || !tr[4].RetryAt.IsZero() {
		e.t.Fatalf("transitions = %+v", tr)
	}
	// After closing, the count starts from zero.
	e.fail(b, Settings.FailureThreshold-1)
	if s, _ := b.State(ctx, e.name); s.State != breaker.Closed || s.Failures != Settings.FailureThreshold-1 {
		e.t.Fatalf("state = %+v", s)
	}
}

func testStaleReports(e *env) {
	b, other := e.breaker(), e.breaker()
	slow := e.allow(other) // a call that starts while closed, generation 0
	retryAt := e.trip(b)
	e.clock.Set(retryAt)
	probe := e.allow(b)
	slowProbe := probe
	e.report(b, probe, true) // closed again, generation 3
	want := breaker.Record{Name: e.name, Generation: 3}
	// The slow call of generation 0 fails now: it must not count in generation 3,
	// neither through a Breaker that saw the transitions nor through one that did not.
	e.report(other, slow, false)
	e.report(b, slow, false)
	// A late second report of the probe changes nothing either.
	e.report(other, slowProbe, false)
	e.wantRecord(e.load(), want)
	e.wantTransitions(
		[2]breaker.State{breaker.Closed, breaker.Open},
		[2]breaker.State{breaker.Open, breaker.HalfOpen},
		[2]breaker.State{breaker.HalfOpen, breaker.Closed},
	)
	// A fresh container, whose cache knows nothing, is refused by the store alone.
	fresh := e.breaker()
	e.report(fresh, slow, false)
	e.wantRecord(e.load(), want)
}

func testProbeLeaseExpiry(e *env) {
	a, b := e.breaker(), e.breaker()
	retryAt := e.trip(a)
	e.clock.Set(retryAt)
	first := e.allow(a) // this prober will not report in time
	leaseEnd := retryAt.Add(Settings.ProbeLease)
	e.clock.Set(leaseEnd.Add(-time.Millisecond))
	e.refused(b, breaker.HalfOpen, leaseEnd)
	e.clock.Set(leaseEnd)
	second := e.allow(b)
	if !second.Probe() || second.Generation() != first.Generation()+1 {
		e.t.Fatalf("second probe = %+v after %+v", second, first)
	}
	e.refused(a, breaker.HalfOpen, leaseEnd.Add(Settings.ProbeLease))
	e.report(a, first, true) // too late: ignored
	e.wantRecord(e.load(), breaker.Record{Name: e.name, State: breaker.HalfOpen, Generation: 3, WindowStart: T0,
		Failures: Settings.FailureThreshold, OpenedAt: T0, OpenUntil: retryAt, ProbeUntil: leaseEnd.Add(Settings.ProbeLease)})
	e.report(b, second, false)
	e.refused(b, breaker.Open, leaseEnd.Add(Settings.OpenFor))
	tr := e.wantTransitions(
		[2]breaker.State{breaker.Closed, breaker.Open},
		[2]breaker.State{breaker.Open, breaker.HalfOpen},
		[2]breaker.State{breaker.HalfOpen, breaker.HalfOpen},
		[2]breaker.State{breaker.HalfOpen, breaker.Open},
	)
	if tr[3].Generation != 4 {
		e.t.Fatalf("reopen started generation %d, want 4", tr[3].Generation)
	}
}

func testProbeRelease(e *env) {
	a, b := e.breaker(), e.breaker()
	retryAt := e.trip(a)
	e.clock.Set(retryAt)
	first := e.allow(a)
	if !first.Probe() {
		e.t.Fatalf("first ticket after the open period is not a probe: %+v", first)
	}
	// A ticket that is not a probe, and an unnamed one, release nothing.
	if err := a.Release(ctx, breaker.Ticket{}); err == nil {
		e.t.Fatal("releasing the zero ticket: no error")
	}
	e.clock.Advance(time.Second)
	writes := e.store.Writes()
	if err := a.Release(ctx, first); err != nil {
		e.t.Fatal(err)
	}
	if w := e.store.Writes() - writes; w != 1 {
		e.t.Fatalf("release made %d writes, want 1", w)
	}
	released := e.load()
	if released.State != breaker.HalfOpen || released.Generation != first.Generation()+1 || !released.ProbeUntil.Equal(e.clock.Now()) {
		e.t.Fatalf("after release %+v", released)
	}
	// Another container probes at once, not after the 30 s lease.
	second := e.allow(b)
	if !second.Probe() || second.Generation() != first.Generation()+2 {
		e.t.Fatalf("ticket after release = %+v, want a probe at generation %d", second, first.Generation()+2)
	}
	// The released ticket is stale: releasing or reporting it again changes nothing.
	if err := a.Release(ctx, first); err != nil {
		e.t.Fatal(err)
	}
	e.report(a, first, true)
	if r := e.load(); r.State != breaker.HalfOpen || r.Generation != second.Generation() {
		e.t.Fatalf("a stale ticket changed the breaker: %+v", r)
	}
	e.report(b, second, true)
	if r := e.load(); r.State != breaker.Closed {
		e.t.Fatalf("the second probe's success did not close the breaker: %+v", r)
	}
	e.wantTransitions(
		[2]breaker.State{breaker.Closed, breaker.Open},
		[2]breaker.State{breaker.Open, breaker.HalfOpen},
		[2]breaker.State{breaker.HalfOpen, breaker.HalfOpen},
		[2]breaker.State{breaker.HalfOpen, breaker.Closed},
	)
}

// race runs fn on every breaker at once and waits for all.
func race(bs []*breaker.Breaker, fn func(i int, b *breaker.Breaker)) {
	var start, done sync.WaitGroup
	start.Add(1)
	for i, b := range bs {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			fn(i, b)
		}()
	}
	start.Done()
	done.Wait()
}

// allowAll has every breaker ask at once and returns the tickets (zero when refused)
// and the number of probe tickets. Any error other than ErrOpen fails the test.
func (e *env) allowAll(bs []*breaker.Breaker) ([]breaker.Ticket, int) {
	e.t.Helper()
	tickets := make([]breaker.Ticket, len(bs))
	errs := make([]error, len(bs))
	race(bs, func(i int, b *breaker.Breaker) { tickets[i], errs[i] = b.Allow(ctx, e.name) })
	probes := 0
	for i, err := range errs {
		if err != nil && !errors.Is(err, breaker.ErrOpen) {
			e.t.Fatalf("allow: %v", err)
		}
		if err == nil && tickets[i].Probe() {
			probes++
		}
	}
	return tickets, probes
}

func (e *env) reportAll(bs []*breaker.Breaker, tickets []breaker.Ticket, success bool) {
	e.t.Helper()
	errs := make([]error, len(bs))
	race(bs, func(i int, b *breaker.Breaker) {
		if tickets[i] != (breaker.Ticket{}) {
			errs[i] = b.Report(ctx, tickets[i], success)
		}
	})
	if err := errors.Join(errs...); err != nil {
		e.t.Fatalf("report: %v", err)
	}
}

func testRace(e *env) {
	bs := make([]*breaker.Breaker, Races)
	for i := range bs {
		bs[i] = e.breaker()
	}
	var want [][2]breaker.State
	const rounds = 3
	for round := range rounds {
		// Every container lets a call through while closed, then all fail at once.
		tickets, probes := e.allowAll(bs)
		if probes != 0 {
			e.t.Fatalf("round %d: %d probes while closed", round, probes)
		}
		for i, tk := range tickets {
			if tk == (breaker.Ticket{}) {
				e.t.Fatalf("round %d: container %d refused while closed", round, i)
			}
		}
		e.reportAll(bs, tickets, false)
		want = append(want, [2]breaker.State{breaker.Closed, breaker.Open})
		e.wantTransitions(want...)
		r := e.load()
		if r.State != breaker.Open {
			e.t.Fatalf("round %d: after %d failures: %+v", round, Races, r)
		}

		// The open period ends: exactly one container wins the probe lease.
		e.clock.Set(r.OpenUntil)
		probeTickets, probes := e.allowAll(bs)
		if probes != 1 {
			e.t.Fatalf("round %d: %d probes won at the end of the open period, want 1", round, probes)
		}
		want = append(want, [2]breaker.State{breaker.Open, breaker.HalfOpen})

		// The prober is slow: its lease runs out and exactly one takes it over.
		e.clock.Set(r.OpenUntil.Add(Settings.ProbeLease))
		takeover, probes := e.allowAll(bs)
		if probes != 1 {
			e.t.Fatalf("round %d: %d probes won after the lease ran out, want 1", round, probes)
		}
		want = append(want, [2]breaker.State{breaker.HalfOpen, breaker.HalfOpen})

		// Both probers succeed at once: only the live one closes the breaker.
		for i := range takeover {
			if takeover[i] == (breaker.Ticket{}) {
				takeover[i] = probeTickets[i]
			}
		}
		e.reportAll(bs, takeover, true)
		want = append(want, [2]breaker.State{breaker.HalfOpen, breaker.Closed})
		tr := e.wantTransitions(want...)
		for i := 1; i < len(tr); i++ {
			if tr[i].Generation != tr[i-1].Generation+1 {
				e.t.Fatalf("round %d: transitions %s skip a generation", round, formatTransitions(tr))
			}
		}
		if r := e.load(); r.State != breaker.Closed || r.Generation != uint64(4*(round+1)) {
			e.t.Fatalf("round %d: after closing: %+v", round, r)
		}
		e.clock.Advance(Settings.CacheTTL) // every container sees it closed again
	}
}

func testRaceCounting(e *env) {
	bs := make([]*breaker.Breaker, Races)
	for i := range bs {
		bs[i] = e.breaker(func(s *breaker.Settings) { s.FailureThreshold = 1000 })
	}
	tickets, _ := e.allowAll(bs)
	e.reportAll(bs, tickets, false)
	e.clock.Advance(time.Millisecond)
	e.reportAll(bs, tickets, false)
	if r := e.load(); r.Failures != 2*Races || r.State != breaker.Closed || !r.WindowStart.Equal(T0) {
		e.t.Fatalf("after %d concurrent failures: %+v", 2*Races, r)
	}
	// The window passes: of many failures racing to start the next one, one starts it
	// and every failure is counted in it.
	e.clock.Advance(Settings.Window)
	e.reportAll(bs, tickets, false)
	if r := e.load(); r.Failures != Races || !r.WindowStart.Equal(T0.Add(Settings.Window+time.Millisecond)) {
		e.t.Fatalf("after %d concurrent failures in a new window: %+v", Races, r)
	}
}

func testCacheLag(e *env) {
	a, b, c := e.breaker(), e.breaker(), e.breaker()
	e.report(b, e.allow(b), true) // b and c cache "closed"
	late := e.allow(c)
	retryAt := e.trip(a)
	// Within its cache TTL, b still lets calls through...
	e.allow(b)
	e.clock.Advance(Settings.CacheTTL - time.Millisecond)
	e.allow(b)
	// ...and learns of the opening once it has passed.
	e.clock.Advance(time.Millisecond)
	e.refused(b, breaker.Open, retryAt)

	// c learns sooner, because one of its calls failed: the refused write answers
	// the stored state.
	e.clock.Set(T0)
	e.report(c, late, false)
	e.refused(c, breaker.Open, retryAt)
	e.wantTransitions([2]breaker.State{breaker.Closed, breaker.Open})
}

func testThrottle(e *env) {
	s := e.h.Store
	e.h.Throttle(true)
	checks := []struct {
		op string
		do func() error
	}{
		{"load", func() error { _, err := s.Load(ctx, e.name); return err }},
		{"recordFailure", func() error { _, _, err := s.RecordFailure(ctx, e.name, 0, T0, Settings.Window); return err }},
		{"open", func() error { _, _, err := s.Open(ctx, e.name, 0, T0, T0.Add(time.Minute)); return err }},
		{"acquireProbe", func() error { _, _, err := s.AcquireProbe(ctx, e.name, 0, T0, T0.Add(time.Minute)); return err }},
		{"close", func() error { _, _, err := s.Close(ctx, e.name, 0, T0); return err }},
	}
	for _, c := range checks {
		err := c.do()
		if !errors.Is(err, breaker.ErrUnavailable) || retry.IsPermanent(err) {
			e.t.Fatalf("%s on a throttled store = %v, want transient ErrUnavailable", c.op, err)
		}
	}

	// Allow fails open, reports the error once, and does not read again within the
	// cache TTL.
	b := e.breaker()
	for range 100 {
		tk := e.allow(b)
		if tk.Probe() || tk.Name() != e.name {
			e.t.Fatalf("fail-open ticket = %+v", tk)
		}
	}
	if n := e.store.Reads(); n != 1 {
		e.t.Fatalf("100 calls on a throttled store made %d reads, want 1", n)
	}
	if errs := e.rec.StoreErrors(); len(errs) != 1 || !errors.Is(errs[0], breaker.ErrUnavailable) {
		e.t.Fatalf("store errors = %v, want one ErrUnavailable", errs)
	}
	// Reporting a failure returns the transient error.
	if err := b.Report(ctx, e.allow(b), false); !errors.Is(err, breaker.ErrUnavailable) || retry.IsPermanent(err) {
		e.t.Fatalf("report on a throttled store = %v, want transient ErrUnavailable", err)
	}
	if _, err := b.State(ctx, e.name); !errors.Is(err, breaker.ErrUnavailable) {
		e.t.Fatalf("state on a throttled store = %v", err)
	}
	e.h.Throttle(false)
	e.wantRecord(e.load(), breaker.Record{Name: e.name})

	// An open breaker stays open from the last known state while the store throttles,
	// and lets calls through (without a probe lease) once its open period has ended.
	retryAt := e.trip(b)
	e.h.Throttle(true)
	e.clock.Advance(Settings.CacheTTL)
	e.refused(b, breaker.Open, retryAt)
	e.clock.Set(retryAt)
	if tk := e.allow(b); tk.Probe() {
		e.t.Fatalf("a probe lease was granted by a throttled store: %+v", tk)
	}
	e.h.Throttle(false)
	e.wantRecord(e.load(), breaker.Record{Name: e.name, State: breaker.Open, Generation: 1, WindowStart: T0,
		Failures: Settings.FailureThreshold, OpenedAt: T0, OpenUntil: retryAt})
	e.wantTransitions([2]breaker.State{breaker.Closed, breaker.Open})
}

func testContextEnded(e *env) {
	b := e.breaker()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	tk, err := b.Allow(cctx, e.name)
	if !errors.Is(err, context.Canceled) || tk != (breaker.Ticket{}) {
		e.t.Fatalf("allow with an ended context = %+v, %v", tk, err)
	}
	if errs := e.rec.StoreErrors(); len(errs) != 0 {
		e.t.Fatalf("an ended context was reported as a store error: %v", errs)
	}
	e.report(b, e.allow(b), true)
}

// paused checks that b refuses a call now because the breaker was paused at pausedAt.
func (e *env) paused(b *breaker.Breaker, pausedAt time.Time) {
	e.t.Helper()
	tk, err := b.Allow(ctx, e.name)
	var p *breaker.PausedError
	if !errors.As(err, &p) || !errors.Is(err, breaker.ErrPaused) || errors.Is(err, breaker.ErrOpen) {
		e.t.Fatalf("allow at %s = %+v, %v; want a *PausedError", e.clock.Now().Format(time.RFC3339Nano), tk, err)
	}
	if p.Name != e.name || !p.PausedAt.Equal(pausedAt) {
		e.t.Fatalf("allow refused with %+v, want paused at %s", p, pausedAt)
	}
	if _, ok := breaker.RetryAt(err); ok {
		e.t.Fatalf("a pause has a RetryAt: %v", err)
	}
}

func testStorePause(e *env) {
	s, w := e.h.Store, Settings.Window
	t1, t2 := T0.Add(time.Second), T0.Add(2*time.Second)
	// An absent breaker: the pause creates it, closed.
	got, won, err := s.Pause(ctx, e.name, T0)
	pausedClosed := breaker.Record{Name: e.name, Generation: 1, PausedAt: T0}
	if err != nil || !won {
		e.t.Fatalf("pause an absent breaker = %v, %v", won, err)
	}
	e.wantRecord(got, pausedClosed)
	e.wantRecord(e.load(), pausedClosed)
	// Pausing again changes nothing, not even the time of the pause.
	got, won, err = s.Pause(ctx, e.name, t1)
	if err != nil || won {
		e.t.Fatalf("pause a paused breaker = %v, %v", won, err)
	}
	e.wantRecord(got, pausedClosed)
	// No failure is counted on the paused generation, nor a probe taken.
	if got, won, err := s.RecordFailure(ctx, e.name, 1, t1, w); err != nil || won {
		e.t.Fatalf("record failure while paused = %+v, %v, %v", got, won, err)
	}
	if got, won, err := s.AcquireProbe(ctx, e.name, 1, t1, t1.Add(time.Minute)); err != nil || won {
		e.t.Fatalf("acquire probe while paused = %+v, %v, %v", got, won, err)
	}
	e.wantRecord(e.load(), pausedClosed)
	// Resume closes it on a new generation; resuming again changes nothing.
	resumed := breaker.Record{Name: e.name, Generation: 2}
	for i, wantWon := range []bool{true, false} {
		got, won, err = s.Resume(ctx, e.name, t2)
		if err != nil || won != wantWon {
			e.t.Fatalf("resume #%d = %v, %v; want won %v", i+1, won, err, wantWon)
		}
		e.wantRecord(got, resumed)
	}
	e.wantRecord(e.load(), resumed)

	// An open breaker keeps its state while paused, takes no probe after its open
	// period, and resumes closed with no failures.
	other := e.name + "-open"
	if _, won, err := s.RecordFailure(ctx, other, 0, T0, w); err != nil || !won {
		e.t.Fatalf("record failure = %v, %v", won, err)
	}
	if _, won, err := s.Open(ctx, other, 0, T0, t1); err != nil || !won {
		e.t.Fatalf("open = %v, %v", won, err)
	}
	got, won, err = s.Pause(ctx, other, T0)
	pausedOpen := breaker.Record{Name: other, State: breaker.Open, Generation: 2, WindowStart: T0, Failures: 1, OpenedAt: T0, OpenUntil: t1, PausedAt: T0}
	if err != nil || !won {
		e.t.Fatalf("pause an open breaker = %v, %v", won, err)
	}
	e.wantRecord(got, pausedOpen)
	if got, won, err := s.AcquireProbe(ctx, other, 2, t2, t2.Add(time.Minute)); err != nil || won {
		e.t.Fatalf("acquire probe on a paused open breaker = %+v, %v, %v", got, won, err)
	}
	got, won, err = s.Resume(ctx, other, t2)
	if err != nil || !won {
		e.t.Fatalf("resume an open breaker = %v, %v", won, err)
	}
	e.wantRecord(got, breaker.Record{Name: other, Generation: 3})
	// Resume does not close an open breaker that is not paused.
	if _, won, err := s.RecordFailure(ctx, other, 3, t2, w); err != nil || !won {
		e.t.Fatalf("record failure = %v, %v", won, err)
	}
	opened, won, err := s.Open(ctx, other, 3, t2, t2.Add(time.Minute))
	if err != nil || !won {
		e.t.Fatalf("open = %v, %v", won, err)
	}
	if got, won, err := s.Resume(ctx, other, t2); err != nil || won {
		e.t.Fatalf("resume an open breaker that is not paused = %+v, %v, %v", got, won, err)
	}
	if got, err := s.Load(ctx, other); err != nil {
		e.t.Fatal(err)
	} else {
		e.wantRecord(got, opened)
	}
}

func testPause(e *env) {
	a, b := e.breaker(), e.breaker()
	before := e.allow(a) // a call under way when the pause comes
	retryAt := e.trip(b)
	snap, err := a.Pause(ctx, e.name)
	if err != nil || !snap.Paused || !snap.PausedAt.Equal(T0) || snap.State != breaker.Open {
		e.t.Fatalf("pause = %+v, %v", snap, err)
	}
	e.paused(a, T0)
	// Its open period ends: still paused, no probe.
	e.clock.Set(retryAt.Add(time.Second))
	e.paused(a, T0)
	e.paused(b, T0)
	e.report(a, before, false)
	gen := e.load().Generation
	// Resume: the next call goes through at once, closed, not as a probe.
	if snap, err = a.Resume(ctx, e.name); err != nil || snap.Paused || snap.State != breaker.Closed || snap.Failures != 0 {
		e.t.Fatalf("resume = %+v, %v", snap, err)
	}
	tk := e.allow(a)
	if tk.Probe() || tk.Generation() != gen+1 {
		e.t.Fatalf("ticket after resume = %+v, want generation %d, no probe", tk, gen+1)
	}
	// A failure now counts in a fresh window, from zero.
	e.report(a, tk, false)
	if r := e.load(); r.State != breaker.Closed || r.Failures != 1 || r.Paused() {
		e.t.Fatalf("after resume and one failure: %+v", r)
	}
	// Pause and resume report no transition; the trip did.
	e.wantTransitions([2]breaker.State{breaker.Closed, breaker.Open})
}

func testPauseCacheLag(e *env) {
	a, b := e.breaker(), e.breaker()
	e.allow(b) // b caches "closed"
	if _, err := a.Pause(ctx, e.name); err != nil {
		e.t.Fatal(err)
	}
	// b lets calls through within its cache TTL, and learns of the pause after it.
	e.clock.Advance(Settings.CacheTTL - time.Millisecond)
	late := e.allow(b)
	e.clock.Advance(time.Millisecond)
	e.paused(b, T0)
	// A failure of a call let through before is not counted.
	e.report(b, late, false)
	if r := e.load(); r.Failures != 0 || !r.Paused() {
		e.t.Fatalf("a failure counted while paused: %+v", r)
	}
	// The same for a resume: a sees it at once, b within its cache TTL.
	if _, err := a.Resume(ctx, e.name); err != nil {
		e.t.Fatal(err)
	}
	e.allow(a)
	e.clock.Advance(Settings.CacheTTL - time.Millisecond)
	e.paused(b, T0)
	e.clock.Advance(time.Millisecond)
	e.allow(b)
}
