package breaker_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/tenaz/tenaz/shared/breaker"
	"github.com/tenaz/tenaz/shared/breaker/breakertest"
)

// memoryHarness wraps a MemoryStore with a fault hook that throttles on demand.
func memoryHarness(t *testing.T) breakertest.Harness {
	t.Helper()
	s := breaker.NewMemoryStore()
	var throttled atomic.Bool
	s.SetFault(func(op, name string) error {
		if throttled.Load() {
			return fmt.Errorf("%w: simulated throttling", breaker.ErrUnavailable)
		}
		return nil
	})
	return breakertest.Harness{Store: s, Throttle: throttled.Store}
}

func TestMemoryStoreContract(t *testing.T) {
	t.Parallel()
	breakertest.Run(t, memoryHarness)
}
