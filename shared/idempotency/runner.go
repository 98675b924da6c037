package idempotency

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tenaz/tenaz/shared/retry"
)

// Runner defaults.
const (
	// DefaultRetention is how long a record is kept after its last claim or its
	// completion: 7 days, longer than any provider's retry window.
	DefaultRetention = 7 * 24 * time.Hour
	// DefaultLease is the lease of a context without a deadline (local runs, tests):
	// 5 minutes. In Lambda the lease is the invocation deadline.
	DefaultLease = 5 * time.Minute
	// finishTimeout bounds the Complete or Release write after the handler returned,
	// which runs even when the handler's context was cancelled.
	finishTimeout = 5 * time.Second
)

// Settings configure a Runner. Zero fields take their defaults.
type Settings struct {
	// Retention is how long a record lives after its last claim or completion
	// (expiresAt). Default DefaultRetention, 7 days.
	Retention time.Duration
	// DefaultLease is the lease when the context has no deadline; the handler's
	// context then gets that deadline, so it never runs past its lease. Default
	// DefaultLease, 5 minutes.
	DefaultLease time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// NewToken returns a lease token, unique per claim. Default: 128 random bits from
	// crypto/rand.
	NewToken func() string
}

// Runner runs a handler at most once to completion per key: claim, run, then complete
// on success or release on failure. It is safe for concurrent use.
type Runner struct {
	store Store
	set   Settings
}

// NewRunner returns a Runner on store.
func NewRunner(store Store, s Settings) *Runner {
	if s.Retention <= 0 {
		s.Retention = DefaultRetention
	}
	if s.DefaultLease <= 0 {
		s.DefaultLease = DefaultLease
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.NewToken == nil {
		s.NewToken = rand.Text
	}
	return &Runner{store: store, set: s}
}

// PayloadHash returns the hash Tenaz stores for a body: hex SHA-256.
func PayloadHash(body []byte) string {
	sum := sha256.Sum256(body)
	var h [2 * sha256.Size]byte
	hex.Encode(h[:], sum[:])
	return string(h[:])
}

// Handler does the work of one event. It returns a small result stored with the
// completed record (nil for none) or an error, marked with retry.Permanent or
// retry.RetryAfter when that applies. Effects that must not repeat go through
// a.Step.
type Handler func(ctx context.Context, a *Attempt) (result []byte, err error)

// OutcomeKind says what Do did.
type OutcomeKind int

// Outcomes of Do.
const (
	// Done: the handler succeeded and the record is COMPLETED.
	Done OutcomeKind = iota + 1
	// Duplicate: the event was already completed; the handler did not run.
	Duplicate
	// InFlight: another worker holds a live lease until Outcome.Until; the handler did
	// not run. Try again after Until.
	InFlight
	// Failed: the handler returned Outcome.Err; the record is RETRYABLE.
	Failed
)

func (k OutcomeKind) String() string {
	switch k {
	case Done:
		return "done"
	case Duplicate:
		return "duplicate"
	case InFlight:
		return "in flight"
	case Failed:
		return "failed"
	}
	return "unknown"
}

// Outcome is what happened to one event.
type Outcome struct {
	Kind OutcomeKind
	// Result is the handler's result (Done) or the stored one (Duplicate).
	Result []byte
	// Attempts counts the attempts made in this record's lifecycle, this one included
	// for Done and Failed.
	Attempts int
	// Until is when the other worker's lease ends (InFlight).
	Until time.Time
	// Err is the handler's error (Failed), with its retry marks. When releasing the
	// record failed too, that error is joined to it.
	Err error
	// PayloadMismatch reports that the stored record was made for a different body
	// under the same key. The event is still handled by its key; report it.
	PayloadMismatch bool
}

// Do claims key and, if the claim is acquired, runs fn and records the result.
//
// The lease ends at ctx's deadline (the Lambda invocation deadline), or
// Settings.DefaultLease from now when ctx has none; fn's context carries that
// deadline either way. A handler that panics has its claim released before the panic
// continues.
//
// Do returns an error only when the store failed or there is no time left before the
// deadline; the event's state is then unknown and it must be retried later (the error
// is transient unless marked retry.Permanent). That includes a handler that succeeded
// but whose completion could not be recorded: its steps are recorded, and the next
// attempt repeats only what came after the last step.
func (r *Runner) Do(ctx context.Context, key, payloadHash string, fn Handler) (Outcome, error) {
	if err := ctx.Err(); err != nil {
		return Outcome{}, fmt.Errorf("run %s: %w", key, err)
	}
	now := r.set.Now()
	leaseEnd, ok := ctx.Deadline()
	if !ok {
		leaseEnd = now.Add(r.set.DefaultLease)
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, leaseEnd)
		defer cancel()
	}
	if leaseEnd.UnixMilli() <= now.UnixMilli() {
		return Outcome{}, fmt.Errorf("run %s: no time left before the deadline: %w", key, context.DeadlineExceeded)
	}
	token := r.set.NewToken()
	c, err := r.store.Claim(ctx, ClaimRequest{
		Key:              key,
		PayloadHash:      payloadHash,
		LeaseToken:       token,
		LeaseExpiresAtMs: leaseEnd.UnixMilli(),
		ExpiresAt:        r.expiresAt(now),
		Now:              now,
	})
	if err != nil {
		return Outcome{}, fmt.Errorf("run %s: %w", key, err)
	}
	out := Outcome{Attempts: c.Record.Attempts, PayloadMismatch: c.PayloadMismatch}
	switch c.Status {
	case ClaimCompleted:
		out.Kind, out.Result = Duplicate, c.Record.Result
		return out, nil
	case ClaimInFlight:
		out.Kind, out.Until = InFlight, time.UnixMilli(c.Record.LeaseExpiresAtMs)
		return out, nil
	case ClaimAcquired:
	default:
		return Outcome{}, fmt.Errorf("run %s: store answered claim status %d", key, c.Status)
	}

	a := &Attempt{attemptState: &attemptState{store: r.store, key: key, token: token, number: c.Record.Attempts, steps: c.Record.Steps}}
	result, fnErr := r.call(ctx, a, fn)
	a.end()

	finish, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	if fnErr != nil {
		out.Kind, out.Err = Failed, fnErr
		if err := r.store.Release(finish, key, token); err != nil {
			out.Err = errors.Join(fnErr, fmt.Errorf("release %s: %w", key, err))
		}
		return out, nil
	}
	if err := r.store.Complete(finish, key, token, result, r.expiresAt(r.set.Now())); err != nil {
		return Outcome{}, fmt.Errorf("run %s: handler succeeded, completion not recorded: %w", key, err)
	}
	out.Kind, out.Result = Done, result
	return out, nil
}

// call runs fn, releasing the claim if fn panics.
func (r *Runner) call(ctx context.Context, a *Attempt, fn Handler) (result []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			a.end()
			finish, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
			defer cancel()
			_ = r.store.Release(finish, a.key, a.token) // best effort: the panic matters more
			panic(p)
		}
	}()
	return fn(ctx, a)
}

// expiresAt is the TTL, epoch seconds, of a record written at now.
func (r *Runner) expiresAt(now time.Time) int64 { return now.Add(r.set.Retention).Unix() }

// Attempt is one acquired attempt at an event, handed to the Handler. Its methods are
// safe for concurrent use, but steps of one attempt are meant to run one after another.
type Attempt struct {
	*attemptState
	prefix string // put before every step name (Within)
}

// attemptState is what the views of one attempt (Within) share.
type attemptState struct {
	store  Store
	key    string
	token  string
	number int

	mu    sync.Mutex
	steps map[string][]byte // nil until a step completes
	over  bool
}

// Within returns a view of the attempt whose step names are prefixed with prefix,
// so that handlers sharing one event (one per destination of a fan-out) keep their
// steps apart. It shares the attempt's lease and steps.
func (a *Attempt) Within(prefix string) *Attempt {
	return &Attempt{attemptState: a.attemptState, prefix: a.prefix + prefix}
}

// Key is the event's idempotency key. Derive downstream Idempotency-Key headers from
// it (for example Key() + ":" + step name) so that a destination can drop a repeat
// that Tenaz could not prevent.
func (a *Attempt) Key() string { return a.key }

// Number is how many attempts this record's lifecycle has had, this one included: 1
// on the first.
func (a *Attempt) Number() int { return a.number }

// HasStep reports whether step completed in an earlier attempt or in this one.
func (a *Attempt) HasStep(step string) bool {
	step = a.prefix + step
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.steps[step]
	return ok
}

// Step runs a recovery point: if step completed in an earlier attempt, Step returns
// the stored result without calling fn; otherwise it calls fn and, on success, records
// the result under the lease before returning it. fn's error comes back wrapped, with
// its retry marks. An error recording the step (ErrLeaseLost, ErrUnavailable) comes
// back too, and the handler must stop: the step may be repeated by a later attempt.
// The record is written even when ctx ended while fn ran, since the effect happened.
// Keep results small; they are stored in the record.
func (a *Attempt) Step(ctx context.Context, step string, fn func(ctx context.Context) ([]byte, error)) ([]byte, error) {
	step = a.prefix + step
	a.mu.Lock()
	over := a.over
	stored, done := a.steps[step]
	a.mu.Unlock()
	if over {
		return nil, retry.Permanent(fmt.Errorf("step %q of %s: the attempt is over", step, a.key))
	}
	if done {
		return append([]byte{}, stored...), nil
	}
	result, err := fn(ctx)
	if err != nil {
		return nil, fmt.Errorf("step %q: %w", step, err)
	}
	// The effect happened: record it even if ctx ended meanwhile. The write is
	// conditional on the lease token, so it is safe after the lease too.
	save, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	if err := a.store.SaveStep(save, a.key, a.token, step, result); err != nil {
		return nil, fmt.Errorf("step %q: %w", step, err)
	}
	a.mu.Lock()
	if a.steps == nil {
		a.steps = map[string][]byte{}
	}
	a.steps[step] = append([]byte{}, result...)
	a.mu.Unlock()
	return result, nil
}

func (a *Attempt) end() {
	a.mu.Lock()
	a.over = true
	a.mu.Unlock()
}
