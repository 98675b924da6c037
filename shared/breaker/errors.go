package breaker

import (
	"errors"
	"fmt"
	"time"
)

// ErrOpen matches, with errors.Is, every *OpenError: the breaker refused the call.
var ErrOpen = errors.New("circuit breaker open")

// OpenError is the answer of Allow and Do when the breaker refuses a call. Read it
// with errors.As to learn when to try again. A refused call is transient: the event
// should be retried at RetryAt, not dead-lettered.
type OpenError struct {
	Name  string
	State State // Open, or HalfOpen while another caller holds the probe lease
	// RetryAt is when a call may next be tried: the end of the open period, or of the
	// live probe lease (at the latest the probe's result is known then, or another
	// caller may probe).
	RetryAt time.Time
}

func (e *OpenError) Error() string {
	return fmt.Sprintf("circuit breaker %s is %s until %s", e.Name, e.State, e.RetryAt.UTC().Format(time.RFC3339Nano))
}

// Is reports whether target is ErrOpen.
func (e *OpenError) Is(target error) bool { return target == ErrOpen }

// RetryAt returns when the refused call may be tried again, if err is or wraps an
// *OpenError.
func RetryAt(err error) (time.Time, bool) {
	var o *OpenError
	if errors.As(err, &o) {
		return o.RetryAt, true
	}
	return time.Time{}, false
}

// ErrPaused matches, with errors.Is, every *PausedError: an operator paused the
// destination. It does not match ErrOpen.
var ErrPaused = errors.New("destination paused")

// PausedError is the answer of Allow and Do while an operator has paused the
// breaker (Breaker.Pause). Like an open breaker's refusal it is transient: the event
// should wait, not be dead-lettered. There is no RetryAt: the pause lasts until
// someone resumes it, so the caller chooses when to look again.
type PausedError struct {
	Name     string
	PausedAt time.Time
}

func (e *PausedError) Error() string {
	return fmt.Sprintf("destination %s is paused since %s", e.Name, e.PausedAt.UTC().Format(time.RFC3339Nano))
}

// Is reports whether target is ErrPaused.
func (e *PausedError) Is(target error) bool { return target == ErrPaused }
