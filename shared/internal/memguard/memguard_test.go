package memguard

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestBegin(t *testing.T) {
	var g Guard
	noName := errors.New("name is empty")
	if err := g.Begin(context.Background(), "take", "orders", noName); err != nil {
		t.Fatal(err)
	}
	g.Unlock()

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := g.Begin(ctx, "take", "orders", noName); !errors.Is(err, context.Canceled) || err.Error() != "take orders: context canceled" {
		t.Fatalf("cancelled: %v", err)
	}
	if err := g.Begin(context.Background(), "take", "", noName); !errors.Is(err, noName) {
		t.Fatalf("empty name: %v", err)
	}
	if err := g.Begin(context.Background(), "get", "", nil); err != nil {
		t.Fatalf("empty name allowed: %v", err)
	}
	g.Unlock()

	boom := errors.New("throttled")
	var seen []string
	g.SetFault(func(op, name string) error {
		seen = append(seen, op+" "+name)
		if op == "take" {
			return boom
		}
		return nil
	})
	if err := g.Begin(context.Background(), "take", "orders", noName); !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "take orders: ") {
		t.Fatalf("fault: %v", err)
	}
	// A failed Begin released the lock: the next one gets it.
	if err := g.Begin(context.Background(), "load", "orders", noName); err != nil {
		t.Fatal(err)
	}
	g.Unlock()
	g.SetFault(nil)
	if err := g.Begin(context.Background(), "take", "orders", noName); err != nil {
		t.Fatal(err)
	}
	g.Unlock()
	if strings.Join(seen, ",") != "take orders,load orders" {
		t.Fatalf("hook saw %v", seen)
	}
}
