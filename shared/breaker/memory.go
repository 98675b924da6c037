package breaker

import (
	"context"
	"time"

	"github.com/tenaz/tenaz/shared/internal/memguard"
)

// MemoryStore is a Store in process memory with the same semantics as the DynamoDB
// store: conditional transitions on the generation, fixed failure windows and probe
// leases judged by the times the caller passes, millisecond precision. It is safe for
// concurrent use. It is the embedded default for local runs and the fast backend of
// unit tests; a breaker kept here is shared only by the Breakers of one process.
type MemoryStore struct {
	guard memguard.Guard // its one lock and the fault hook
	items map[string]Record
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty store: every breaker closed.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{items: map[string]Record{}}
}

// SetFault installs a hook called before every operation with its name ("load",
// "recordFailure", "open", "acquireProbe", "releaseProbe", "close", "pause",
// "resume") and the breaker name. A non-nil
// error fails the operation, changing nothing, and is returned wrapped; return one
// that wraps ErrUnavailable to act like a throttled backend. nil removes the hook.
func (m *MemoryStore) SetFault(f func(op, name string) error) { m.guard.SetFault(f) }

// begin locks the store and runs the fault hook. On error the store is unlocked.
func (m *MemoryStore) begin(ctx context.Context, op, name string) error {
	return m.guard.Begin(ctx, op, name, errNoName)
}

func (m *MemoryStore) get(name string) (Record, bool) {
	r, ok := m.items[name]
	if !ok {
		r = Record{Name: name}
	}
	return r, ok
}

// ms drops what a store cannot keep: anything below a millisecond, the location and
// the monotonic reading.
func ms(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()).UTC() }

// Load implements Store.
func (m *MemoryStore) Load(ctx context.Context, name string) (Record, error) {
	if err := m.begin(ctx, "load", name); err != nil {
		return Record{}, err
	}
	defer m.guard.Unlock()
	r, _ := m.get(name)
	return r, nil
}

// RecordFailure implements Store.
func (m *MemoryStore) RecordFailure(ctx context.Context, name string, gen uint64, now time.Time, window time.Duration) (Record, bool, error) {
	if err := m.begin(ctx, "recordFailure", name); err != nil {
		return Record{}, false, err
	}
	defer m.guard.Unlock()
	r, _ := m.get(name)
	if r.State != Closed || r.Generation != gen || r.Paused() {
		return r, false, nil
	}
	if windowCurrent(r.WindowStart, now, window) {
		r.Failures++
	} else {
		r.WindowStart, r.Failures = ms(now), 1
	}
	m.items[name] = r
	return r, true, nil
}

// Open implements Store.
func (m *MemoryStore) Open(ctx context.Context, name string, from uint64, now, until time.Time) (Record, bool, error) {
	if err := m.begin(ctx, "open", name); err != nil {
		return Record{}, false, err
	}
	defer m.guard.Unlock()
	r, ok := m.get(name)
	if !ok || r.Generation != from || r.State == Open {
		return r, false, nil
	}
	r.State, r.Generation = Open, from+1
	r.OpenedAt, r.OpenUntil, r.ProbeUntil = ms(now), ms(until), time.Time{}
	m.items[name] = r
	return r, true, nil
}

// AcquireProbe implements Store.
func (m *MemoryStore) AcquireProbe(ctx context.Context, name string, gen uint64, now, leaseUntil time.Time) (Record, bool, error) {
	if err := m.begin(ctx, "acquireProbe", name); err != nil {
		return Record{}, false, err
	}
	defer m.guard.Unlock()
	r, ok := m.get(name)
	nowMs := now.UnixMilli()
	free := (r.State == Open && r.OpenUntil.UnixMilli() <= nowMs) ||
		(r.State == HalfOpen && r.ProbeUntil.UnixMilli() <= nowMs)
	if !ok || r.Generation != gen || !free || r.Paused() {
		return r, false, nil
	}
	r.State, r.Generation, r.ProbeUntil = HalfOpen, gen+1, ms(leaseUntil)
	m.items[name] = r
	return r, true, nil
}

// ReleaseProbe implements Store.
func (m *MemoryStore) ReleaseProbe(ctx context.Context, name string, gen uint64, now time.Time) (Record, bool, error) {
	if err := m.begin(ctx, "releaseProbe", name); err != nil {
		return Record{}, false, err
	}
	defer m.guard.Unlock()
	r, ok := m.get(name)
	if !ok || r.Generation != gen || r.State != HalfOpen {
		return r, false, nil
	}
	r.Generation, r.ProbeUntil = gen+1, ms(now)
	m.items[name] = r
	return r, true, nil
}

// Close implements Store.
func (m *MemoryStore) Close(ctx context.Context, name string, gen uint64, now time.Time) (Record, bool, error) {
	if err := m.begin(ctx, "close", name); err != nil {
		return Record{}, false, err
	}
	defer m.guard.Unlock()
	r, ok := m.get(name)
	if !ok || r.Generation != gen || r.State != HalfOpen {
		return r, false, nil
	}
	r = Record{Name: name, State: Closed, Generation: gen + 1}
	m.items[name] = r
	return r, true, nil
}

// Pause implements Store.
func (m *MemoryStore) Pause(ctx context.Context, name string, now time.Time) (Record, bool, error) {
	if err := m.begin(ctx, "pause", name); err != nil {
		return Record{}, false, err
	}
	defer m.guard.Unlock()
	r, _ := m.get(name)
	if r.Paused() {
		return r, false, nil
	}
	r.Generation++
	r.PausedAt = ms(now)
	m.items[name] = r
	return r, true, nil
}

// Resume implements Store.
func (m *MemoryStore) Resume(ctx context.Context, name string, now time.Time) (Record, bool, error) {
	if err := m.begin(ctx, "resume", name); err != nil {
		return Record{}, false, err
	}
	defer m.guard.Unlock()
	r, _ := m.get(name)
	if !r.Paused() {
		return r, false, nil
	}
	r = Record{Name: name, State: Closed, Generation: r.Generation + 1}
	m.items[name] = r
	return r, true, nil
}
