package retry_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/tenaz/tenaz/shared/retry"
)

func ExampleBackoff() {
	// The ceilings for base 100 ms and max 1 s; a random number of 0.5 gives half.
	for attempt := 1; attempt <= 6; attempt++ {
		fmt.Println(attempt, retry.Backoff(attempt, 100*time.Millisecond, time.Second, func() float64 { return 0.5 }))
	}
	// Output:
	// 1 50ms
	// 2 100ms
	// 3 200ms
	// 4 400ms
	// 5 500ms
	// 6 500ms
}

func ExampleHTTPError() {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	h := http.Header{"Retry-After": {"30"}}
	for _, status := range []int{204, 400, 503} {
		err := retry.HTTPError(status, h, now)
		d, after := retry.RetryAfterOf(err)
		fmt.Printf("%d: err=%v permanent=%v retryAfter=%v %v\n", status, err, retry.IsPermanent(err), after, d)
	}
	// Output:
	// 204: err=<nil> permanent=false retryAfter=false 0s
	// 400: err=HTTP 400 Bad Request permanent=true retryAfter=false 0s
	// 503: err=HTTP 503 Service Unavailable permanent=false retryAfter=true 30s
}

func ExampleDo() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	calls := 0
	err := retry.Do(ctx, retry.Policy{Attempts: 3, Base: time.Millisecond, Max: 5 * time.Millisecond}, nil, nil,
		func(ctx context.Context) error {
			calls++
			if calls == 1 {
				return retry.HTTPError(http.StatusBadGateway, nil, time.Now())
			}
			return retry.Permanent(errors.New("destination rejected the event"))
		})
	fmt.Println(calls, err, retry.IsPermanent(err))
	// Output:
	// 2 destination rejected the event true
}
