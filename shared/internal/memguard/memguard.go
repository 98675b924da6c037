// Package memguard is the lock and the fault hook that Tenaz's in-memory stores
// (idempotency, breaker, rate limit) share: every operation takes the store's one
// lock, and a test may make any operation fail, as a throttled or unreachable
// backend would, before it changes anything.
//
// Invariants:
//   - Begin returns with the lock held and nil, or with the lock released and an
//     error: the context's, the name's (when empty and noName is set) or the fault
//     hook's, each wrapped with the operation and the name.
//   - The fault hook runs under the lock, so it sees operations one at a time.
package memguard

import (
	"context"
	"fmt"
	"sync"
)

// Guard is a store's lock and fault hook. The zero value is ready to use.
type Guard struct {
	mu    sync.Mutex
	fault func(op, name string) error
}

// SetFault installs f, called under the lock before every operation with its name
// and the item's name; a non-nil error fails the operation. nil removes it.
func (g *Guard) SetFault(f func(op, name string) error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.fault = f
}

// Begin starts operation op on the item name: it takes the lock and runs the fault
// hook. noName, when not nil, is the error of an empty name.
func (g *Guard) Begin(ctx context.Context, op, name string, noName error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %s: %w", op, name, err)
	}
	if name == "" && noName != nil {
		return fmt.Errorf("%s: %w", op, noName)
	}
	g.mu.Lock()
	if g.fault != nil {
		if err := g.fault(op, name); err != nil {
			g.mu.Unlock()
			return fmt.Errorf("%s %s: %w", op, name, err)
		}
	}
	return nil
}

// Lock takes the lock, for a read that runs no fault hook.
func (g *Guard) Lock() { g.mu.Lock() }

// Unlock releases the lock Begin or Lock took.
func (g *Guard) Unlock() { g.mu.Unlock() }
