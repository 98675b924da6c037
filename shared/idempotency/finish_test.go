package idempotency

import (
	"context"
	"errors"
	"testing"
	"time"
)

type ctxKey struct{}

// A finish context behaves as context.WithTimeout(context.WithoutCancel(parent), d):
// the parent's values, none of its cancellation, its own deadline, cancelled by stop,
// whether or not anything waited on it before.
func TestFinishContext(t *testing.T) {
	t.Parallel()
	const d = 30 * time.Millisecond
	newParent := func() (context.Context, context.CancelFunc) {
		return context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "v"))
	}
	cases := map[string]func(t *testing.T){
		"deadline passes, nothing waited": func(t *testing.T) {
			parent, cancel := newParent()
			cancel()
			var c finishContext
			c.start(parent, d)
			defer c.stop()
			if dl, ok := c.Deadline(); !ok || time.Until(dl) > d {
				t.Fatalf("deadline %v, %v", dl, ok)
			}
			if err := c.Err(); err != nil {
				t.Fatalf("Err before the deadline, parent cancelled: %v", err)
			}
			time.Sleep(d + 5*time.Millisecond)
			if err := c.Err(); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Err after the deadline: %v", err)
			}
			select {
			case <-c.Done():
			case <-time.After(time.Second):
				t.Fatal("Done not closed after the deadline")
			}
		},
		"deadline passes while waiting": func(t *testing.T) {
			parent, cancel := newParent()
			defer cancel()
			var c finishContext
			c.start(parent, d)
			defer c.stop()
			if c.Value(ctxKey{}) != "v" {
				t.Fatal("parent's value lost")
			}
			child, stopChild := context.WithCancel(&c)
			defer stopChild()
			cancel() // the parent's end does not reach c
			select {
			case <-c.Done():
				if time.Until(c.deadline) > 0 {
					t.Fatal("Done closed before the deadline")
				}
			case <-time.After(time.Second):
				t.Fatal("Done not closed after the deadline")
			}
			select {
			case <-child.Done():
			case <-time.After(time.Second):
				t.Fatal("child not ended with its parent")
			}
			if !errors.Is(c.Err(), context.DeadlineExceeded) || !errors.Is(child.Err(), context.DeadlineExceeded) {
				t.Fatalf("Err %v, child %v", c.Err(), child.Err())
			}
		},
		"stopped before waiting": func(t *testing.T) {
			parent, cancel := newParent()
			defer cancel()
			var c finishContext
			c.start(parent, time.Hour)
			c.stop()
			if !errors.Is(c.Err(), context.Canceled) {
				t.Fatalf("Err after stop: %v", c.Err())
			}
			select {
			case <-c.Done():
			default:
				t.Fatal("Done open after stop")
			}
			if !errors.Is(c.Err(), context.Canceled) {
				t.Fatalf("Err after stop and Done: %v", c.Err())
			}
		},
		"stopped while waiting": func(t *testing.T) {
			parent, cancel := newParent()
			defer cancel()
			var c finishContext
			c.start(parent, time.Hour)
			child, stopChild := context.WithCancel(&c)
			defer stopChild()
			c.stop()
			select {
			case <-child.Done():
			case <-time.After(time.Second):
				t.Fatal("child not cancelled by stop")
			}
			if !errors.Is(c.Err(), context.Canceled) || !errors.Is(context.Cause(&c), context.Canceled) {
				t.Fatalf("Err %v, cause %v", c.Err(), context.Cause(&c))
			}
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tc(t)
		})
	}
}
