package ratelimittest

import (
	"context"
	"sync/atomic"

	"github.com/tenaz/tenaz/shared/ratelimit"
)

// Counting is a ratelimit.Store that counts the calls it passes to the store it
// wraps: Take is a write, Taken a read (refused and failed calls count too). It is
// safe for concurrent use.
type Counting struct {
	Store         ratelimit.Store
	reads, writes atomic.Int64
}

var _ ratelimit.Store = (*Counting)(nil)

// Reads returns the number of Taken calls so far.
func (c *Counting) Reads() int64 { return c.reads.Load() }

// Writes returns the number of Take calls so far.
func (c *Counting) Writes() int64 { return c.writes.Load() }

// Take implements ratelimit.Store.
func (c *Counting) Take(ctx context.Context, name string, second int64, limit int) (bool, error) {
	c.writes.Add(1)
	return c.Store.Take(ctx, name, second, limit)
}

// Taken implements ratelimit.Store.
func (c *Counting) Taken(ctx context.Context, name string, second int64) (int, error) {
	c.reads.Add(1)
	return c.Store.Taken(ctx, name, second)
}
