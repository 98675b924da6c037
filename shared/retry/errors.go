package retry

import (
	"errors"
	"time"
)

// ErrPermanent matches, with errors.Is, every error marked by Permanent.
var ErrPermanent = errors.New("permanent error")

// PermanentError marks an error that no retry can fix: a rejected request, an
// undecodable event, a missing resource. Create it with Permanent.
type PermanentError struct {
	Err error
}

// Permanent marks err as one that no retry can fix. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Err: err}
}

// Error returns the text of the marked error unchanged.
func (e *PermanentError) Error() string { return e.Err.Error() }

// Unwrap gives errors.Is and errors.As access to the marked error.
func (e *PermanentError) Unwrap() error { return e.Err }

// Is reports whether target is ErrPermanent.
func (e *PermanentError) Is(target error) bool { return target == ErrPermanent }

// IsPermanent reports whether err, or any error it wraps, is marked Permanent.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// RetryAfterError marks a transient error that must not be retried before After has
// passed, such as an HTTP 429 or 503 with a Retry-After header. Create it with
// RetryAfter.
type RetryAfterError struct {
	Err   error
	After time.Duration // the shortest wait before a retry; never negative
}

// RetryAfter marks err as transient and asks for a wait of at least d before the next
// try. A negative d counts as zero. RetryAfter(nil, d) is nil.
func RetryAfter(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return &RetryAfterError{Err: err, After: max(d, 0)}
}

// Error returns the text of the marked error unchanged.
func (e *RetryAfterError) Error() string { return e.Err.Error() }

// Unwrap gives errors.Is and errors.As access to the marked error.
func (e *RetryAfterError) Unwrap() error { return e.Err }

// RetryAfterOf returns the wait asked for by the outermost RetryAfter mark in err's
// chain. It returns false when there is none or when err is also marked Permanent,
// since a permanent error is never retried.
func RetryAfterOf(err error) (time.Duration, bool) {
	if IsPermanent(err) {
		return 0, false
	}
	var ra *RetryAfterError
	if !errors.As(err, &ra) {
		return 0, false
	}
	return ra.After, true
}

// unsentError marks the error of a call that was never made. Create it with Unsent.
type unsentError struct{ err error }

func (e *unsentError) Error() string { return e.err.Error() }
func (e *unsentError) Unwrap() error { return e.err }

// Unsent marks err as the failure of a call that was never sent (its request could
// not be made ready, e.g. a secret it needs could not be read): it says nothing
// about the destination, so a circuit breaker neither counts it as a failure nor as
// a success. Its other marks (transient by default) still apply. Unsent(nil) is nil.
func Unsent(err error) error {
	if err == nil {
		return nil
	}
	return &unsentError{err: err}
}

// IsUnsent reports whether err, or any error it wraps, is marked Unsent.
func IsUnsent(err error) bool {
	var u *unsentError
	return errors.As(err, &u)
}
