package breaker

import (
	"context"
	"errors"
	"time"
)

// Store keeps the shared state of breakers, one Record per name, for every container.
// Implementations: MemoryStore and dynamostore.Store; breakertest.Run checks both
// against this contract.
//
// RecordFailure and AcquireProbe are also conditional on the breaker not being
// paused; the others need not be, since a pause bumps the generation.
//
// Every write is conditional on the generation the caller saw (and on the state and
// times that generation allows), so of many callers racing for one transition exactly
// one wins. A write answers the record after it and won = true, or, when its condition
// failed, the record as stored (the zero Record with the name when there is none) and
// won = false, having changed nothing. Stores take no clock: the caller passes now, in
// millisecond precision, so every store judges windows and leases the same way.
//
// Errors say whether a retry can help: ErrUnavailable (throttling, 5xx, network) is
// transient; a request the store rejects is retry.Permanent.
type Store interface {
	// Load returns the record of name, or the zero Record with Name set when there is
	// none.
	Load(ctx context.Context, name string) (Record, error)
	// RecordFailure counts one failure in the fixed window of length window that is
	// running at now, or starts a new window at now with one failure when the last one
	// has passed (WindowStart <= now-window). Condition: the breaker is Closed at
	// generation gen (an absent record is Closed at generation 0).
	RecordFailure(ctx context.Context, name string, gen uint64, now time.Time, window time.Duration) (rec Record, won bool, err error)
	// Open starts an open period from now until until, keeping the failure count, and
	// bumps the generation. Condition: the breaker is Closed or HalfOpen at generation
	// from.
	Open(ctx context.Context, name string, from uint64, now, until time.Time) (rec Record, won bool, err error)
	// AcquireProbe takes the probe lease until leaseUntil and bumps the generation: the
	// breaker becomes HalfOpen. Condition: generation gen, and either Open with
	// OpenUntil <= now or HalfOpen with ProbeUntil <= now (the prober's lease ran out).
	AcquireProbe(ctx context.Context, name string, gen uint64, now, leaseUntil time.Time) (rec Record, won bool, err error)
	// Close closes the breaker with no failures counted and bumps the generation.
	// Condition: HalfOpen at generation gen.
	Close(ctx context.Context, name string, gen uint64, now time.Time) (rec Record, won bool, err error)
	// ReleaseProbe ends the probe lease at now without a result, so that the next
	// caller may probe at once, and bumps the generation (the released ticket is
	// stale from then on). Condition: HalfOpen at generation gen.
	ReleaseProbe(ctx context.Context, name string, gen uint64, now time.Time) (rec Record, won bool, err error)
	// Pause marks the breaker paused at now and bumps the generation (tickets issued
	// before are stale from then on), keeping its state and creating the record when
	// there is none. A paused record never expires. Condition: not paused; pausing a
	// paused breaker changes nothing and answers won = false.
	Pause(ctx context.Context, name string, now time.Time) (rec Record, won bool, err error)
	// Resume clears the pause and closes the breaker with no failures counted, and
	// bumps the generation. Condition: paused; resuming a breaker that is not paused
	// changes nothing (not even an open one) and answers won = false.
	Resume(ctx context.Context, name string, now time.Time) (rec Record, won bool, err error)
}

// ErrUnavailable matches, with errors.Is, a store that is throttled, failing or
// unreachable. Transient: retrying later can help.
var ErrUnavailable = errors.New("breaker store unavailable")
