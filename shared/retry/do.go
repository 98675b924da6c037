package retry

import (
	"context"
	"fmt"
	"time"
)

// Policy bounds the retries Do makes inside one invocation. A field at zero or below
// takes its default.
type Policy struct {
	// Attempts is the most calls Do makes, the first included. Default 3.
	Attempts int
	// Base is the backoff ceiling after the first failure; it doubles per attempt.
	// Default 100 ms.
	Base time.Duration
	// Max caps the backoff ceiling. Default 2 s.
	Max time.Duration
	// Margin is the time Do keeps free before the context's deadline: it never starts
	// a wait that would end later than deadline - Margin. Default 1 s.
	Margin time.Duration
}

// Policy defaults.
const (
	DefaultAttempts = 3
	DefaultBase     = 100 * time.Millisecond
	DefaultMax      = 2 * time.Second
	DefaultMargin   = 1 * time.Second
)

func (p Policy) withDefaults() Policy {
	if p.Attempts <= 0 {
		p.Attempts = DefaultAttempts
	}
	if p.Base <= 0 {
		p.Base = DefaultBase
	}
	if p.Max <= 0 {
		p.Max = DefaultMax
	}
	if p.Margin <= 0 {
		p.Margin = DefaultMargin
	}
	return p
}

// Clock is the time source Do reads and waits on. Tests pass a fake whose Sleep
// advances its Now.
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx is done, whichever is first, and returns
	// ctx.Err() in the second case.
	Sleep(ctx context.Context, d time.Duration) error
}

// SystemClock is the real clock.
var SystemClock Clock = systemClock{}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Do calls fn until it succeeds, returns a Permanent error, or the policy or the
// context says stop, and returns fn's last error (nil on success).
//
// After a transient failure of attempt n, Do waits Backoff(n, p.Base, p.Max, rnd),
// or the error's RetryAfter delay when that is longer. It does not wait, and returns
// the last error, when the attempts are used up or when the wait would end after the
// context's deadline minus p.Margin. When the context ends during a wait, Do returns
// the last error joined with the context's error. A nil rnd uses math/rand/v2; a nil
// clock is SystemClock. Without a deadline, only ctx bounds a long RetryAfter wait.
//
// Do is for calls to other services, such as HTTP destinations (see HTTPError). Do not
// wrap AWS SDK calls: their clients have their own retryer.
func Do(ctx context.Context, p Policy, rnd func() float64, clock Clock, fn func(ctx context.Context) error) error {
	p = p.withDefaults()
	if clock == nil {
		clock = SystemClock
	}
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil || IsPermanent(err) || attempt >= p.Attempts {
			return err
		}
		wait := Backoff(attempt, p.Base, p.Max, rnd)
		if d, ok := RetryAfterOf(err); ok && d > wait {
			wait = d
		}
		if deadline, ok := ctx.Deadline(); ok && clock.Now().Add(wait).After(deadline.Add(-p.Margin)) {
			return err
		}
		if serr := clock.Sleep(ctx, wait); serr != nil {
			return fmt.Errorf("%w (stopped retrying: %w)", err, serr)
		}
	}
}
