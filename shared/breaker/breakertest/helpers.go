package breakertest

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tenaz/tenaz/shared/breaker"
)

// Counting is a breaker.Store that counts the calls it passes to the store it wraps:
// Load is a read, every other method a write (attempted: refused and failed writes
// count too). It is safe for concurrent use.
type Counting struct {
	Store         breaker.Store
	reads, writes atomic.Int64
}

var _ breaker.Store = (*Counting)(nil)

// Reads returns the number of Load calls so far.
func (c *Counting) Reads() int64 { return c.reads.Load() }

// Writes returns the number of write calls so far.
func (c *Counting) Writes() int64 { return c.writes.Load() }

// Load implements breaker.Store.
func (c *Counting) Load(ctx context.Context, name string) (breaker.Record, error) {
	c.reads.Add(1)
	return c.Store.Load(ctx, name)
}

// RecordFailure implements breaker.Store.
func (c *Counting) RecordFailure(ctx context.Context, name string, gen uint64, now time.Time, window time.Duration) (breaker.Record, bool, error) {
	c.writes.Add(1)
	return c.Store.RecordFailure(ctx, name, gen, now, window)
}

// Open implements breaker.Store.
func (c *Counting) Open(ctx context.Context, name string, from uint64, now, until time.Time) (breaker.Record, bool, error) {
	c.writes.Add(1)
	return c.Store.Open(ctx, name, from, now, until)
}

// AcquireProbe implements breaker.Store.
func (c *Counting) AcquireProbe(ctx context.Context, name string, gen uint64, now, leaseUntil time.Time) (breaker.Record, bool, error) {
	c.writes.Add(1)
	return c.Store.AcquireProbe(ctx, name, gen, now, leaseUntil)
}

// ReleaseProbe implements breaker.Store.
func (c *Counting) ReleaseProbe(ctx context.Context, name string, gen uint64, now time.Time) (breaker.Record, bool, error) {
	c.writes.Add(1)
	return c.Store.ReleaseProbe(ctx, name, gen, now)
}

// Close implements breaker.Store.
func (c *Counting) Close(ctx context.Context, name string, gen uint64, now time.Time) (breaker.Record, bool, error) {
	c.writes.Add(1)
	return c.Store.Close(ctx, name, gen, now)
}

// Pause implements breaker.Store.
func (c *Counting) Pause(ctx context.Context, name string, now time.Time) (breaker.Record, bool, error) {
	c.writes.Add(1)
	return c.Store.Pause(ctx, name, now)
}

// Resume implements breaker.Store.
func (c *Counting) Resume(ctx context.Context, name string, now time.Time) (breaker.Record, bool, error) {
	c.writes.Add(1)
	return c.Store.Resume(ctx, name, now)
}

// Recorder collects the transitions and store errors Breakers report. It is safe for
// concurrent use; pass its methods as Settings.OnTransition and Settings.OnStoreError.
type Recorder struct {
	mu          sync.Mutex
	transitions []breaker.Transition
	storeErrors []error
}

// OnTransition records t.
func (r *Recorder) OnTransition(t breaker.Transition) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.transitions = append(r.transitions, t)
}

// OnStoreError records err.
func (r *Recorder) OnStoreError(_ string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.storeErrors = append(r.storeErrors, err)
}

// Transitions returns the transitions recorded so far, in order.
func (r *Recorder) Transitions() []breaker.Transition {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]breaker.Transition(nil), r.transitions...)
}

// StoreErrors returns the store errors recorded so far, in order.
func (r *Recorder) StoreErrors() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.storeErrors...)
}
