package breaker

import (
	"fmt"
	"time"
)

// State is where a breaker stands. It is stored as the item's "state" attribute, in
// the form String gives.
type State int

// Breaker states.
const (
	// Closed: calls go through; failures within the window are counted.
	Closed State = iota
	// Open: calls are refused until the open period ends; then the first caller to win
	// the probe lease moves the breaker to HalfOpen.
	Open
	// HalfOpen: one probe call holds a lease; everyone else is refused until the probe
	// reports or its lease runs out.
	HalfOpen
)

// String returns the stored name of s: "closed", "open" or "half-open".
func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case Open:
		return "open"
	case HalfOpen:
		return "half-open"
	}
	return fmt.Sprintf("state(%d)", int(s))
}

// MarshalText makes a State read as its name in JSON ("open").
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a State's name.
func (s *State) UnmarshalText(b []byte) error {
	v, err := ParseState(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// ParseState is the inverse of State.String.
func ParseState(s string) (State, error) {
	switch s {
	case "closed":
		return Closed, nil
	case "open":
		return Open, nil
	case "half-open":
		return HalfOpen, nil
	}
	return 0, fmt.Errorf("unknown breaker state %q", s)
}

// Record is the shared state of one breaker as a Store keeps it. The zero Record (with
// its Name) is the state of a breaker that has no item: closed, generation 0, no
// failures. Times have millisecond precision, as stored.
type Record struct {
	Name       string
	State      State
	Generation uint64 // bumped by every transition; starts at 0
	// WindowStart is the start of the fixed window in which Failures were counted; a
	// failure at or after WindowStart+window starts a new window. Zero when none.
	WindowStart time.Time
	Failures    int       // failures counted since WindowStart
	OpenedAt    time.Time // start of the current open period (Open, HalfOpen)
	OpenUntil   time.Time // end of the open period: from then a probe may be tried
	ProbeUntil  time.Time // end of the probe lease (HalfOpen); zero otherwise
	// PausedAt is when an operator paused the breaker; zero when it is not paused. A
	// paused breaker refuses every call whatever its State, until resumed.
	PausedAt time.Time
}

// Paused reports whether an operator paused the breaker.
func (r Record) Paused() bool { return !r.PausedAt.IsZero() }

// FailuresAt returns the failures that count at now in a window of the given length:
// Failures while the breaker is closed and its window has not passed, else 0.
func (r Record) FailuresAt(now time.Time, window time.Duration) int {
	if r.State != Closed || !windowCurrent(r.WindowStart, now, window) {
		return 0
	}
	return r.Failures
}

// windowCurrent reports whether a window started at start is still running at now,
// in whole milliseconds as stores compare it.
func windowCurrent(start, now time.Time, window time.Duration) bool {
	return !start.IsZero() && start.UnixMilli() > now.UnixMilli()-window.Milliseconds()
}

// newer reports whether a describes a later state of the same breaker than b: a later
// generation, or in the same generation a later window or more failures in it.
func newer(a, b Record) bool {
	if a.Generation != b.Generation {
		return a.Generation > b.Generation
	}
	if !a.WindowStart.Equal(b.WindowStart) {
		return a.WindowStart.After(b.WindowStart)
	}
	return a.Failures >= b.Failures
}

// Snapshot is a breaker's state for reports and the live view.
type Snapshot struct {
	Name       string `json:"dependency"`
	State      State  `json:"state"`
	Generation uint64 `json:"generation"`
	// Failures counted in the current window (0 when the window passed or the
	// breaker is not closed), and when that window started.
	Failures    int       `json:"failures"`
	WindowStart time.Time `json:"windowStart"`
	// OpenedAt is when the current open period began (Open, HalfOpen); zero when
	// closed.
	OpenedAt time.Time `json:"openedAt"`
	// RetryAt is when a call may next be tried: the end of the open period (Open) or
	// of the probe lease (HalfOpen); zero when closed.
	RetryAt time.Time `json:"retryAt"`
	// Paused is true while an operator holds the destination's calls (Pause), since
	// PausedAt; State is then the state the breaker had when paused.
	Paused   bool      `json:"paused"`
	PausedAt time.Time `json:"pausedAt,omitzero"`
}

// Transition is one change of a breaker's generation, reported once, by the Breaker
// whose conditional write made it.
type Transition struct {
	Name     string
	From, To State // From == To == HalfOpen when a probe lease is taken over
	// Failures is the number of failures that caused the transition: those counted in
	// the window for Closed → Open, 1 for a failed probe (HalfOpen → Open), 0 else.
	Failures   int
	At         time.Time
	Generation uint64    // the generation the transition started
	RetryAt    time.Time // as in Snapshot: when a call may next be tried
}

func snapshot(r Record, now time.Time, window time.Duration) Snapshot {
	s := Snapshot{Name: r.Name, State: r.State, Generation: r.Generation, Paused: r.Paused(), PausedAt: r.PausedAt}
	switch r.State {
	case Closed:
		if windowCurrent(r.WindowStart, now, window) {
			s.Failures, s.WindowStart = r.Failures, r.WindowStart
		}
	case Open:
		s.OpenedAt, s.RetryAt = r.OpenedAt, r.OpenUntil
	case HalfOpen:
		s.OpenedAt, s.RetryAt = r.OpenedAt, r.ProbeUntil
	}
	return s
}
