package ratelimit

import (
	"context"

	"github.com/tenaz/tenaz/shared/internal/memguard"
)

// Memory is a Store in process memory with the same semantics as the DynamoDB
// store: a count per window, changed only while below the caller's limit, forgotten
// Retention after the window ends. It is safe for concurrent use. It is the store of
// local runs and the fast backend of unit tests; a limit kept here is shared only by
// the Limiters of one process.
type Memory struct {
	guard   memguard.Guard // its one lock and the fault hook
	windows map[window]int
	// swept is the latest second at which windows were forgotten.
	swept int64
}

type window struct {
	name   string
	second int64
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty store: every window empty.
func NewMemory() *Memory { return &Memory{windows: map[window]int{}} }

// SetFault installs a hook called before every operation with its name ("take",
// "taken") and the destination name. A non-nil error fails the operation, changing
// nothing, and is returned wrapped; return one that wraps ErrUnavailable to act like
// a throttled backend. nil removes the hook.
func (m *Memory) SetFault(f func(op, name string) error) { m.guard.SetFault(f) }

// begin locks the store and runs the fault hook. On error the store is unlocked.
func (m *Memory) begin(ctx context.Context, op, name string) error {
	return m.guard.Begin(ctx, op, name, errNoName)
}

// Take implements Store. A Take in a later second than any before forgets the
// windows that ended Retention before it.
func (m *Memory) Take(ctx context.Context, name string, second int64, limit int) (bool, error) {
	if err := m.begin(ctx, "take", name); err != nil {
		return false, err
	}
	defer m.guard.Unlock()
	if second > m.swept {
		m.swept = second
		for w := range m.windows {
			if expired(w.second, second) {
				delete(m.windows, w)
			}
		}
	}
	w := window{name, second}
	if m.windows[w] >= limit {
		return false, nil
	}
	m.windows[w]++
	return true, nil
}

// Taken implements Store.
func (m *Memory) Taken(ctx context.Context, name string, second int64) (int, error) {
	if err := m.begin(ctx, "taken", name); err != nil {
		return 0, err
	}
	defer m.guard.Unlock()
	return m.windows[window{name, second}], nil
}

// Len returns how many windows the store holds.
func (m *Memory) Len() int {
	m.guard.Lock()
	defer m.guard.Unlock()
	return len(m.windows)
}

// expired reports whether the window at second is forgotten at now (unix seconds):
// Retention after it ends.
func expired(second, now int64) bool {
	return now >= ExpiresAt(second)
}

// ExpiresAt is when (unix seconds) a store may forget the window at second:
// Retention after it ends. The DynamoDB store writes it as the item's TTL.
func ExpiresAt(second int64) int64 {
	return second + 1 + int64(Retention.Seconds())
}
