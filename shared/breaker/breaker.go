package breaker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tenaz/tenaz/shared/retry"
)

// Defaults of Settings. The first three are the article's: 5 failures within 30
// seconds open the breaker for a minute.
const (
	DefaultFailureThreshold = 5
	DefaultWindow           = 30 * time.Second
	DefaultOpenFor          = 60 * time.Second
	DefaultProbeLease       = 30 * time.Second
	DefaultCacheTTL         = time.Second
)

// Settings configure a Breaker. Zero fields take their defaults. One Breaker serves
// every dependency name with the same settings.
type Settings struct {
	// FailureThreshold is the number of failures within one window that opens the
	// breaker. Default 5.
	FailureThreshold int
	// Window is the length of the fixed window in which failures are counted; the
	// first failure after a window has passed starts a new one. Default 30 s.
	Window time.Duration
	// OpenFor is how long the breaker stays open before one probe may be tried,
	// after tripping and after a failed probe. Default 60 s.
	OpenFor time.Duration
	// ProbeLease is how long the probe lease lasts. Half-open admits exactly one probe
	// at a time; when the prober neither succeeds nor fails within the lease (it
	// crashed, or its container was frozen), the next caller may probe. Set it above
	// the longest call to the dependency. Default 30 s.
	ProbeLease time.Duration
	// CacheTTL is how long a container trusts the state it last read or wrote before
	// reading it again: at most one read per CacheTTL per dependency per Breaker. A
	// container learns of a transition made elsewhere up to CacheTTL late. Default
	// 1 s; negative disables the cache (one read per Allow).
	CacheTTL time.Duration
	// IsFailure says whether a non-nil error returned to Do counts as a failure of
	// the dependency. Default: every error except those marked retry.Permanent (a
	// request the dependency rejected, such as a 400, shows that it is up) and
	// context.Canceled (the caller gave up; nothing is known of the dependency).
	IsFailure func(error) bool
	// OnTransition, when set, is called once for every transition this Breaker wins,
	// after the write that made it: across all containers sharing the store, each
	// transition is reported exactly once. It runs on the caller's goroutine and must
	// return quickly.
	OnTransition func(Transition)
	// OnStoreError, when set, is called when Allow or Do carried on despite a store
	// error (see Breaker), with the dependency name and the error. Default: ignored.
	OnStoreError func(name string, err error)
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

func (s Settings) withDefaults() Settings {
	if s.FailureThreshold <= 0 {
		s.FailureThreshold = DefaultFailureThreshold
	}
	if s.Window <= 0 {
		s.Window = DefaultWindow
	}
	if s.OpenFor <= 0 {
		s.OpenFor = DefaultOpenFor
	}
	if s.ProbeLease <= 0 {
		s.ProbeLease = DefaultProbeLease
	}
	if s.CacheTTL == 0 {
		s.CacheTTL = DefaultCacheTTL
	}
	if s.IsFailure == nil {
		s.IsFailure = DefaultIsFailure
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	return s
}

// DefaultIsFailure is the default Settings.IsFailure: err is not nil, not marked
// retry.Permanent or retry.Unsent (the call was never made) and not
// context.Canceled.
func DefaultIsFailure(err error) bool {
	return err != nil && !retry.IsPermanent(err) && !retry.IsUnsent(err) && !errors.Is(err, context.Canceled)
}

var errNoName = retry.Permanent(errors.New("breaker name is empty"))

// Breaker guards calls to downstream dependencies, one shared breaker per dependency
// name, kept in a Store and cached per Breaker. Make one Breaker per container and
// share it; it is safe for concurrent use.
//
// When the store fails, the Breaker keeps working from the last state it knew
// (closed if it never knew one): a closed breaker lets calls through, an open one
// refuses them until its open period ends. A decision that needs the store, taking the
// probe lease, lets the call through without a lease (fail-open): an unreachable
// store must not stop the traffic it protects. Such calls are reported to
// Settings.OnStoreError, and a failed read is not retried before CacheTTL.
type Breaker struct {
	store   Store
	set     Settings
	entries sync.Map // name → *entry
}

// New returns a Breaker on store.
func New(store Store, s Settings) *Breaker {
	return &Breaker{store: store, set: s.withDefaults()}
}

// Settings returns the settings in use, defaults filled in.
func (b *Breaker) Settings() Settings { return b.set }

// Ticket lets one call through. Report its result with Report. The zero Ticket is
// invalid.
type Ticket struct {
	name  string
	gen   uint64
	probe bool
}

// Name is the dependency the ticket is for.
func (t Ticket) Name() string { return t.name }

// Generation is the breaker's generation when the ticket was issued; a report from
// an older generation than the stored one is ignored.
func (t Ticket) Generation() uint64 { return t.gen }

// Probe reports whether the ticket holds the probe lease: its result closes or
// reopens the breaker.
func (t Ticket) Probe() bool { return t.probe }

// entry is one dependency's cached state.
type entry struct {
	mu      sync.Mutex
	rec     Record
	readAt  time.Time     // when rec was read or written; zero: never
	loading chan struct{} // closed when the Load under way ends; nil: none
}

func (b *Breaker) entry(name string) *entry {
	if e, ok := b.entries.Load(name); ok {
		return e.(*entry)
	}
	e, _ := b.entries.LoadOrStore(name, &entry{rec: Record{Name: name}})
	return e.(*entry)
}

// update caches rec, read or written at, unless the cache already holds a newer
// state of the same breaker. A read replaces whatever is cached: it is the truth
// (even one that went back to generation 0 because the item expired).
func (e *entry) update(rec Record, at time.Time, read bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if read || e.readAt.IsZero() || newer(rec, e.rec) {
		e.rec, e.readAt = rec, at
	}
}

// fresh reports whether a state read or written at readAt may be used at now.
func (b *Breaker) fresh(readAt, now time.Time) bool {
	return !readAt.IsZero() && !now.Before(readAt) && now.Sub(readAt) < b.set.CacheTTL
}

// current returns the state to decide on: the cached one while fresh, else a read.
// One goroutine per entry reads at a time: while it does, the others use the cached
// state, or, when nothing is cached yet (a cold container), wait for that read, so
// a burst of calls costs one read, not one each. A failed read is reported, and the
// cached state (or the zero Record) is used until CacheTTL has passed. Its error is
// only the context's.
func (b *Breaker) current(ctx context.Context, e *entry, name string, now time.Time) (Record, error) {
	e.mu.Lock()
	waited := false
	for e.loading != nil && b.set.CacheTTL > 0 && e.readAt.IsZero() {
		// Cold: wait for the read under way. If it ended without a state (its
		// context ended), look again: this goroutine may read itself.
		wait := e.loading
		e.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return Record{}, ctx.Err()
		}
		waited = true
		e.mu.Lock()
	}
	if b.fresh(e.readAt, now) || (e.loading != nil && b.set.CacheTTL > 0) || (waited && !e.readAt.IsZero()) {
		rec := e.rec
		e.mu.Unlock()
		return rec, nil
	}
	done := make(chan struct{})
	e.loading = done
	e.mu.Unlock()

	rec, err := b.store.Load(ctx, name)

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.loading == done {
		e.loading = nil
	}
	close(done)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return Record{}, cerr
		}
		e.readAt = now
		b.storeError(name, fmt.Errorf("breaker %s: load state: %w", name, err))
		return e.rec, nil
	}
	e.rec, e.readAt = rec, now
	return rec, nil
}

// maxProbeRounds bounds how often Allow tries the probe lease when it keeps losing it
// to transitions that leave a probe due (possible only when containers' clocks
// disagree by more than OpenFor); the caller is then told to come back after
// contendedRetry.
const (
	maxProbeRounds = 3
	contendedRetry = time.Second
)

// Allow asks whether a call to the dependency name may be made now. It returns a
// Ticket to pass to Report, or an *OpenError (errors.Is(err, ErrOpen)) with the time
// the call may be tried again, or a *PausedError (errors.Is(err, ErrPaused)) while an
// operator has paused the dependency. Its only other error is the context's.
//
// On the happy path (closed, state cached) Allow makes no store call. When the open
// period has ended, the first caller across all containers to win the probe lease gets
// a probe ticket; the others get an *OpenError until the probe's lease ends.
func (b *Breaker) Allow(ctx context.Context, name string) (Ticket, error) {
	if name == "" {
		return Ticket{}, fmt.Errorf("allow: %w", errNoName)
	}
	e := b.entry(name)
	now := b.set.Now()
	rec, err := b.current(ctx, e, name, now)
	if err != nil {
		return Ticket{}, fmt.Errorf("breaker %s: %w", name, err)
	}
	for range maxProbeRounds {
		switch {
		case rec.Paused():
			return Ticket{}, &PausedError{Name: name, PausedAt: rec.PausedAt}
		case rec.State == Closed:
			return Ticket{name: name, gen: rec.Generation}, nil
		case rec.State == Open && now.Before(rec.OpenUntil):
			return Ticket{}, &OpenError{Name: name, State: Open, RetryAt: rec.OpenUntil}
		case rec.State == HalfOpen && now.Before(rec.ProbeUntil):
			return Ticket{}, &OpenError{Name: name, State: HalfOpen, RetryAt: rec.ProbeUntil}
		}
		got, won, err := b.store.AcquireProbe(ctx, name, rec.Generation, now, now.Add(b.set.ProbeLease))
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return Ticket{}, fmt.Errorf("breaker %s: %w", name, cerr)
			}
			b.storeError(name, fmt.Errorf("breaker %s: acquire probe lease: %w", name, err))
			return Ticket{name: name, gen: rec.Generation}, nil
		}
		e.update(got, now, false)
		if won {
			b.transition(Transition{Name: name, From: rec.State, To: HalfOpen, At: now, Generation: got.Generation, RetryAt: got.ProbeUntil})
			return Ticket{name: name, gen: got.Generation, probe: true}, nil
		}
		rec = got
	}
	return Ticket{}, &OpenError{Name: name, State: rec.State, RetryAt: now.Add(contendedRetry)}
}

// Report records the result of the call t let through. A success on the happy path
// (closed) costs nothing. A failure is counted in the shared window, and the failure
// that reaches the threshold opens the breaker. A probe's success closes the breaker;
// its failure opens it again for OpenFor. A report whose generation the breaker has
// left (the call started before a transition) changes nothing and returns nil.
//
// The error is the store's, wrapped: ErrUnavailable when a retry may help. The
// result is then lost, and a probe's lease runs out on its own.
func (b *Breaker) Report(ctx context.Context, t Ticket, success bool) error {
	if t.name == "" {
		return fmt.Errorf("report: %w", errNoName)
	}
	if success && !t.probe {
		return nil
	}
	e := b.entry(t.name)
	now := b.set.Now()
	if t.probe {
		return b.reportProbe(ctx, e, t, success, now)
	}
	e.mu.Lock()
	stale := !e.readAt.IsZero() && (e.rec.Generation > t.gen || e.rec.Paused())
	e.mu.Unlock()
	if stale {
		return nil
	}
	got, won, err := b.store.RecordFailure(ctx, t.name, t.gen, now, b.set.Window)
	if err != nil {
		return fmt.Errorf("breaker %s: record failure: %w", t.name, err)
	}
	e.update(got, now, false)
	if !won || got.Failures < b.set.FailureThreshold {
		return nil
	}
	opened, won, err := b.store.Open(ctx, t.name, got.Generation, now, now.Add(b.set.OpenFor))
	if err != nil {
		return fmt.Errorf("breaker %s: open after %d failures: %w", t.name, got.Failures, err)
	}
	e.update(opened, now, false)
	if won {
		b.transition(Transition{Name: t.name, From: Closed, To: Open, Failures: got.Failures, At: now, Generation: opened.Generation, RetryAt: opened.OpenUntil})
	}
	return nil
}

func (b *Breaker) reportProbe(ctx context.Context, e *entry, t Ticket, success bool, now time.Time) error {
	var (
		got Record
		won bool
		err error
	)
	tr := Transition{Name: t.name, From: HalfOpen, At: now}
	if success {
		tr.To = Closed
		got, won, err = b.store.Close(ctx, t.name, t.gen, now)
	} else {
		tr.To, tr.Failures = Open, 1
		got, won, err = b.store.Open(ctx, t.name, t.gen, now, now.Add(b.set.OpenFor))
	}
	if err != nil {
		return fmt.Errorf("breaker %s: %s after probe: %w", t.name, tr.To, err)
	}
	e.update(got, now, false)
	if won {
		tr.Generation, tr.RetryAt = got.Generation, got.OpenUntil
		b.transition(tr)
	}
	return nil
}

// Release gives back a probe ticket whose call was not made (the work turned out to
// need no call: a duplicate, work another worker holds), so that the next caller may
// probe at once instead of waiting for the lease to run out. Releasing a ticket that
// is not a probe, or whose generation the breaker has left, changes nothing and
// returns nil. The error is the store's, wrapped; the lease then runs out on its own.
func (b *Breaker) Release(ctx context.Context, t Ticket) error {
	if t.name == "" {
		return fmt.Errorf("release: %w", errNoName)
	}
	if !t.probe {
		return nil
	}
	e := b.entry(t.name)
	now := b.set.Now()
	got, _, err := b.store.ReleaseProbe(ctx, t.name, t.gen, now)
	if err != nil {
		return fmt.Errorf("breaker %s: release probe: %w", t.name, err)
	}
	e.update(got, now, false)
	return nil
}

// Pause holds every call to the dependency name until Resume, whatever the breaker's
// state: Allow refuses with a *PausedError, no probe is granted and no failure is
// counted (the pause bumps the generation, so the reports of calls already under way
// are ignored). It is shared through the store and survives restarts; this Breaker
// sees it at once, the other containers within CacheTTL. Pausing a paused breaker
// changes nothing. It answers the state after the call.
func (b *Breaker) Pause(ctx context.Context, name string) (Snapshot, error) {
	return b.operate(ctx, "pause", name, b.store.Pause)
}

// Resume ends a pause: the breaker is closed, with no failures counted, and the next
// Allow lets the call through (no probe). This Breaker sees it at once, the other
// containers within CacheTTL. Resuming a breaker that is not paused changes nothing,
// not even an open breaker. It answers the state after the call.
func (b *Breaker) Resume(ctx context.Context, name string) (Snapshot, error) {
	return b.operate(ctx, "resume", name, b.store.Resume)
}

func (b *Breaker) operate(ctx context.Context, op, name string, write func(context.Context, string, time.Time) (Record, bool, error)) (Snapshot, error) {
	if name == "" {
		return Snapshot{}, fmt.Errorf("%s: %w", op, errNoName)
	}
	now := b.set.Now()
	rec, _, err := write(ctx, name, now)
	if err != nil {
		return Snapshot{}, fmt.Errorf("breaker %s: %s: %w", name, op, err)
	}
	// Won or not, rec is the stored state: the cache takes it as a read.
	b.entry(name).update(rec, now, true)
	return snapshot(rec, now, b.set.Window), nil
}

// Do runs fn if the breaker allows a call to name, and reports its result:
// Settings.IsFailure decides whether fn's error counts as a failure. It returns fn's
// error, or an *OpenError without calling fn when the breaker is open, or a
// *PausedError when it is paused, or the context's error. A store error while reporting goes to Settings.OnStoreError, not
// to the caller: fn's result is what the caller must act on.
//
// If fn panics, nothing is reported; a probe's lease then runs out and another
// caller probes.
func (b *Breaker) Do(ctx context.Context, name string, fn func(ctx context.Context) error) error {
	t, err := b.Allow(ctx, name)
	if err != nil {
		return err
	}
	err = fn(ctx)
	if rerr := b.Report(ctx, t, err == nil || !b.set.IsFailure(err)); rerr != nil {
		b.storeError(name, rerr)
	}
	return err
}

// State reads the breaker's state from the store (never from the cache, which it
// refreshes) for reports and the live view.
func (b *Breaker) State(ctx context.Context, name string) (Snapshot, error) {
	if name == "" {
		return Snapshot{}, fmt.Errorf("state: %w", errNoName)
	}
	now := b.set.Now()
	rec, err := b.store.Load(ctx, name)
	if err != nil {
		return Snapshot{}, fmt.Errorf("breaker %s: load state: %w", name, err)
	}
	b.entry(name).update(rec, now, true)
	return snapshot(rec, now, b.set.Window), nil
}

func (b *Breaker) transition(t Transition) {
	if b.set.OnTransition != nil {
		b.set.OnTransition(t)
	}
}

func (b *Breaker) storeError(name string, err error) {
	if b.set.OnStoreError != nil {
		b.set.OnStoreError(name, err)
	}
}
