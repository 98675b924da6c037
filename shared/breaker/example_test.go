package breaker_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tenaz/tenaz/shared/breaker"
	"github.com/tenaz/tenaz/shared/internal/testclock"
)

// A processor guards a destination: a refused call is deferred until RetryAt instead
// of being counted against the event.
func Example() {
	clock := testclock.New(time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC))
	b := breaker.New(breaker.NewMemoryStore(), breaker.Settings{
		Now: clock.Now,
		OnTransition: func(t breaker.Transition) {
			fmt.Printf("breaker %s: %s → %s after %d failures\n", t.Name, t.From, t.To, t.Failures)
		},
	})
	ctx := context.Background()
	down := func(context.Context) error { return errors.New("503 Service Unavailable") }
	for range 5 {
		_ = b.Do(ctx, "crm", down)
	}

	err := b.Do(ctx, "crm", down)
	if at, ok := breaker.RetryAt(err); ok {
		fmt.Println("defer the message for", at.Sub(clock.Now()))
	}

	clock.Advance(time.Minute)
	tk, err := b.Allow(ctx, "crm") // the one probe across all containers
	fmt.Println("probe:", tk.Probe(), err)
	_ = b.Report(ctx, tk, true)
	// Output:
	// breaker crm: closed → open after 5 failures
	// defer the message for 1m0s
	// breaker crm: open → half-open after 0 failures
	// probe: true <nil>
	// breaker crm: half-open → closed after 0 failures
}
