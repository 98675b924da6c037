package ratelimit_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/ratelimit"
	"github.com/tenaz/tenaz/shared/ratelimit/ratelimittest"
)

func TestMemoryContract(t *testing.T) {
	ratelimittest.Run(t, func(t *testing.T) ratelimittest.Harness {
		m := ratelimit.NewMemory()
		var throttled atomic.Bool
		m.SetFault(func(op, name string) error {
			if throttled.Load() {
				return fmt.Errorf("throttled: %w", ratelimit.ErrUnavailable)
			}
			return nil
		})
		return ratelimittest.Harness{Store: m, Throttle: throttled.Store}
	})
}

func TestMemoryForgetsWindowsAMinuteAfterTheyEnd(t *testing.T) {
	t.Parallel()
	m := ratelimit.NewMemory()
	ctx := context.Background()
	t0 := ratelimittest.T0.Unix()
	take := func(name string, second int64) {
		t.Helper()
		if ok, err := m.Take(ctx, name, second, 10); err != nil || !ok {
			t.Fatalf("take %s at %d = %v, %v", name, second, ok, err)
		}
	}
	take("a", t0)
	take("b", t0)
	take("a", t0+1)
	if m.Len() != 3 {
		t.Fatalf("store holds %d windows, want 3", m.Len())
	}
	// The window at t0 ends at t0+1 and is kept for Retention after that.
	keep := t0 + 1 + int64(ratelimit.Retention/time.Second) - 1
	take("c", keep)
	if m.Len() != 4 {
		t.Fatalf("a minute after t0 the store holds %d windows, want 4 (none forgotten yet)", m.Len())
	}
	take("c", keep+1)
	if m.Len() != 3 {
		t.Fatalf("after the windows of t0 expired the store holds %d windows, want 3", m.Len())
	}
	if n, err := m.Taken(ctx, "a", t0); err != nil || n != 0 {
		t.Fatalf("an expired window counts %d, %v; want 0", n, err)
	}
	if n, err := m.Taken(ctx, "a", t0+1); err != nil || n != 1 {
		t.Fatalf("a window not yet expired counts %d, %v; want 1", n, err)
	}
}

func TestWindowNames(t *testing.T) {
	t.Parallel()
	if got, want := ratelimit.WindowName("crm.example.com", 1893499200), "rate#crm.example.com#1893499200"; got != want {
		t.Fatalf("WindowName = %q, want %q", got, want)
	}
	seen := map[string]string{}
	for _, name := range []string{"a", "a#1", "a#", "#", "a#1#2", ""} {
		for _, sec := range []int64{1, 2, 12, 21} {
			wn := ratelimit.WindowName(name, sec)
			if prev, dup := seen[wn]; dup {
				t.Fatalf("windows %s and %q at %d share the name %q", prev, name, sec, wn)
			}
			seen[wn] = fmt.Sprintf("%q at %d", name, sec)
			if !ratelimit.IsWindowName(wn) {
				t.Fatalf("IsWindowName(%q) = false", wn)
			}
		}
	}
	for _, breaker := range []string{"crm.example.com", "127.0.0.1:9000", "audit", "rate", "rate.example.com", "ratelimit"} {
		if ratelimit.IsWindowName(breaker) {
			t.Fatalf("IsWindowName(%q) = true for a breaker name", breaker)
		}
	}
	if exp := ratelimit.ExpiresAt(100); exp != 161 {
		t.Fatalf("ExpiresAt(100) = %d, want 161: a minute after the window ends", exp)
	}
}
