package idempotency

import (
	"context"
	"sync"
	"time"
)

// finishContext is the context of a store write that must happen even when the
// caller's context has ended (completing, releasing, recording a step): it behaves
// as context.WithTimeout(context.WithoutCancel(parent), d) made at start, and stop is
// its cancel function.
//
// It builds that context (a timer, and a goroutine-free link for children) only when
// something waits on it: Done, Value, or a child context. A store that only checks
// Err, like MemoryStore, gets the deadline without a timer; until then Err reports the
// deadline from the clock, as the timer would.
type finishContext struct {
	parent   context.Context
	deadline time.Time

	mu      sync.Mutex
	real    context.Context // built on first wait
	cancel  context.CancelFunc
	stopped bool
}

// start readies c for a write that may take d from now.
func (c *finishContext) start(parent context.Context, d time.Duration) {
	c.parent, c.deadline = parent, time.Now().Add(d)
}

// stop cancels c and releases its timer, if it has one.
func (c *finishContext) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
	if c.cancel != nil {
		c.cancel()
	}
}

// wait returns the real context, building it on first use.
func (c *finishContext) wait() context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.real == nil {
		c.real, c.cancel = context.WithDeadline(context.WithoutCancel(c.parent), c.deadline)
		if c.stopped {
			c.cancel()
		}
	}
	return c.real
}

func (c *finishContext) Deadline() (time.Time, bool) { return c.deadline, true }
func (c *finishContext) Done() <-chan struct{}       { return c.wait().Done() }
func (c *finishContext) Value(key any) any           { return c.wait().Value(key) }

func (c *finishContext) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.real != nil:
		return c.real.Err()
	case c.stopped:
		return context.Canceled
	case !time.Now().Before(c.deadline):
		return context.DeadlineExceeded
	}
	return nil
}
