package ratelimit_test

import (
	"context"
	"fmt"
	"time"

	"github.com/tenaz/tenaz/shared/ratelimit"
)

// A route limited to 2 deliveries per second: the third in the same second is
// deferred to the start of the next.
func Example() {
	now := time.Date(2030, 1, 1, 12, 0, 0, 250_000_000, time.UTC)
	l := ratelimit.New(ratelimit.NewMemory(), ratelimit.Settings{Now: func() time.Time { return now }})
	for range 3 {
		d, err := l.Take(context.Background(), "crm.example.com", 2)
		if err != nil {
			fmt.Println("defer: the limiter could not decide:", err)
			continue
		}
		if d.Allowed {
			fmt.Println("deliver")
		} else {
			fmt.Println("defer until", d.RetryAt.Format(time.RFC3339Nano))
		}
	}
	// Output:
	// deliver
	// deliver
	// defer until 2030-01-01T12:00:01Z
}
