package idempotency_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/idempotency/idempotencytest"
)

// memoryHarness wraps a MemoryStore with a fault hook that counts operations and
// throttles on demand.
func memoryHarness(t *testing.T) idempotencytest.Harness {
	t.Helper()
	s := idempotency.NewMemoryStore()
	var throttled atomic.Bool
	var n atomic.Int64
	s.SetFault(func(op, key string) error {
		n.Add(1)
		if throttled.Load() {
			return fmt.Errorf("%w: simulated throttling", idempotency.ErrUnavailable)
		}
		return nil
	})
	return idempotencytest.Harness{
		Store:    s,
		Throttle: throttled.Store,
		Calls:    func() int { return int(n.Load()) },
	}
}

func TestMemoryStoreContract(t *testing.T) {
	t.Parallel()
	idempotencytest.Run(t, memoryHarness)
}

func TestMemoryStoreFaultHookRemoved(t *testing.T) {
	t.Parallel()
	s := idempotency.NewMemoryStore()
	var mu sync.Mutex
	var ops []string
	s.SetFault(func(op, key string) error {
		mu.Lock()
		defer mu.Unlock()
		ops = append(ops, op+" "+key)
		return nil
	})
	_, _ = s.Claim(t.Context(), idempotencytest.Request("k", "a", idempotencytest.T0))
	s.SetFault(nil)
	_, _ = s.Get(t.Context(), "k", idempotencytest.T0)
	if fmt.Sprint(ops) != "[claim k]" {
		t.Fatalf("hook saw %v, want only the claim", ops)
	}
}
