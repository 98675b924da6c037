package retry

import (
	"errors"
	"math"
	"net/http"
	"testing"
	"time"
)

func FuzzBackoff(f *testing.F) {
	f.Add(1, int64(time.Millisecond), int64(time.Second), 0.5)
	f.Add(64, int64(1), int64(math.MaxInt64), 0.999999)
	f.Add(math.MaxInt, int64(math.MaxInt64), int64(math.MaxInt64), 0.0)
	f.Add(-3, int64(-1), int64(5), math.NaN())
	f.Fuzz(func(t *testing.T, attempt int, base, maxD int64, r float64) {
		d := Backoff(attempt, time.Duration(base), time.Duration(maxD), func() float64 { return r })
		if d < 0 {
			t.Fatalf("Backoff(%d, %d, %d, %v) = %v < 0", attempt, base, maxD, r, d)
		}
		if limit := backoffCeiling(attempt, time.Duration(base), time.Duration(maxD)); d > limit || (maxD > 0 && d > time.Duration(maxD)) {
			t.Fatalf("Backoff(%d, %d, %d, %v) = %v above its ceiling %v", attempt, base, maxD, r, d, limit)
		}
		if base > 0 && maxD > 0 && attempt >= 1 && attempt < 62 {
			if c := backoffCeiling(attempt+1, time.Duration(base), time.Duration(maxD)); c < backoffCeiling(attempt, time.Duration(base), time.Duration(maxD)) {
				t.Fatalf("ceiling shrinks from attempt %d to %d", attempt, attempt+1)
			}
		}
	})
}

func FuzzHTTPError(f *testing.F) {
	f.Add(503, "120")
	f.Add(429, "Sun, 01 Mar 2026 12:00:30 GMT")
	f.Add(404, "")
	f.Add(200, "1")
	f.Add(503, "99999999999999999999999")
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, status int, retryAfter string) {
		err := HTTPError(status, http.Header{"Retry-After": {retryAfter}}, now)
		if (err == nil) != (status >= 200 && status < 300) {
			t.Fatalf("HTTPError(%d) = %v", status, err)
		}
		if err == nil {
			return
		}
		var se *StatusError
		if !errors.As(err, &se) || se.Code != status {
			t.Fatalf("HTTPError(%d) = %v: no StatusError with the code", status, err)
		}
		if d, ok := RetryAfterOf(err); d < 0 || (ok && IsPermanent(err)) {
			t.Fatalf("HTTPError(%d, %q): retry after %v, %v, permanent %v", status, retryAfter, d, ok, IsPermanent(err))
		}
		if IsPermanent(err) == retryableStatus(status) {
			t.Fatalf("HTTPError(%d): permanent = %v", status, IsPermanent(err))
		}
	})
}
