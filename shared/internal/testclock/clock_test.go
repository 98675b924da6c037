package testclock_test

import (
	"sync"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/internal/testclock"
)

var t0 = time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)

func TestClockMovesOnlyWhenTold(t *testing.T) {
	t.Parallel()
	c := testclock.New(t0)
	if got := c.Now(); !got.Equal(t0) {
		t.Fatalf("new clock reads %v, want %v", got, t0)
	}
	time.Sleep(time.Millisecond)
	if got := c.Now(); !got.Equal(t0) {
		t.Fatalf("clock moved by itself to %v", got)
	}
	c.Advance(1500 * time.Millisecond)
	if got, want := c.Now(), t0.Add(1500*time.Millisecond); !got.Equal(want) {
		t.Fatalf("after Advance: %v, want %v", got, want)
	}
	c.Set(t0.Add(-time.Hour))
	if got, want := c.Now(), t0.Add(-time.Hour); !got.Equal(want) {
		t.Fatalf("after Set: %v, want %v", got, want)
	}
	c.Advance(-time.Minute)
	if got, want := c.Now(), t0.Add(-time.Hour-time.Minute); !got.Equal(want) {
		t.Fatalf("after a negative Advance: %v, want %v", got, want)
	}
}

// Run with -race: readers and writers on other goroutines, and no step lost.
func TestClockIsSafeForConcurrentUse(t *testing.T) {
	t.Parallel()
	c := testclock.New(t0)
	const goroutines, steps = 8, 100
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range steps {
				c.Advance(time.Millisecond)
				if c.Now().Before(t0) {
					t.Error("clock went back")
				}
			}
		})
	}
	wg.Wait()
	if got, want := c.Now(), t0.Add(goroutines*steps*time.Millisecond); !got.Equal(want) {
		t.Fatalf("after %d concurrent steps: %v, want %v", goroutines*steps, got, want)
	}
}
