package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Decision is the answer of Limiter.Take.
type Decision struct {
	// Allowed says the delivery may go now; it was counted in the running window.
	Allowed bool
	// RetryAt, when not Allowed, is the start of the next window: the first instant a
	// delivery may be counted again. Zero when Allowed.
	RetryAt time.Time
	// Local says the refusal came from the Limiter's memory of a full window, with
	// no store call.
	Local bool
}

// Settings tune a Limiter. The zero value is the default.
type Settings struct {
	// Now is the clock that picks the window. Default time.Now.
	Now func() time.Time
}

// Limiter takes deliveries from per-destination limits kept in a Store. One per
// container; it is safe for concurrent use.
type Limiter struct {
	store Store
	now   func() time.Time

	mu sync.Mutex
	// full holds, per name, the last window this Limiter saw full and the limit it
	// was full at. A window's count only grows, so it stays full at that limit and
	// any lower one until it ends.
	full map[string]fullWindow
}

type fullWindow struct {
	second int64
	limit  int
}

// New returns a Limiter on store.
func New(store Store, s Settings) *Limiter {
	if s.Now == nil {
		s.Now = time.Now
	}
	return &Limiter{store: store, now: s.Now, full: map[string]fullWindow{}}
}

// Take asks for one delivery to the destination name, whose limit is perSecond
// deliveries per second across every container. perSecond <= 0 means unlimited: the
// answer is Allowed at once, with no store call. Otherwise Take costs at most one
// store write (none when this Limiter already saw the window full).
//
// A refusal is Decision{Allowed: false, RetryAt: next window}, with a nil error. An
// error means the limiter could not decide: the zero Decision and an error that
// wraps ErrUnavailable (transient), is retry.Permanent, or is the context's own
// error. The caller defers the delivery then, as for a refusal.
func (l *Limiter) Take(ctx context.Context, name string, perSecond int) (Decision, error) {
	if perSecond <= 0 {
		return Decision{Allowed: true}, nil
	}
	if name == "" {
		return Decision{}, fmt.Errorf("rate limit: %w", errNoName)
	}
	second := l.now().Unix()
	next := time.Unix(second+1, 0).UTC()
	l.mu.Lock()
	f, ok := l.full[name]
	l.mu.Unlock()
	if ok && f.second == second && perSecond <= f.limit {
		return Decision{RetryAt: next, Local: true}, nil
	}
	allowed, err := l.store.Take(ctx, name, second, perSecond)
	if err != nil {
		return Decision{}, fmt.Errorf("rate limit %s: %w", name, err)
	}
	if allowed {
		return Decision{Allowed: true}, nil
	}
	l.mu.Lock()
	if f, ok := l.full[name]; !ok || f.second < second || (f.second == second && f.limit < perSecond) {
		l.full[name] = fullWindow{second, perSecond}
	}
	l.mu.Unlock()
	return Decision{RetryAt: next}, nil
}
