package retry

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// StatusError is a non-2xx answer from an HTTP destination. Read it from any
// classified error with errors.As.
type StatusError struct {
	Code int // the HTTP status code
}

// Error says the status, e.g. "HTTP 503 Service Unavailable".
func (e *StatusError) Error() string {
	if text := http.StatusText(e.Code); text != "" {
		return fmt.Sprintf("HTTP %d %s", e.Code, text)
	}
	return fmt.Sprintf("HTTP %d", e.Code)
}

// HTTPError classifies an HTTP response by its status code and headers:
//
//   - 2xx: nil.
//   - 408, 425, 429 and 5xx: transient. A Retry-After header (delay in seconds or an
//     HTTP date, measured from now) makes it RetryAfter with that delay; a date in the
//     past gives a zero delay; an unreadable header is ignored.
//   - every other status (1xx, 3xx, the rest of 4xx): Permanent. Redirects are not
//     followed by Tenaz; a destination that redirects is misconfigured.
//
// The error is a *StatusError (possibly marked) whose text says the status.
func HTTPError(status int, header http.Header, now time.Time) error {
	if status >= 200 && status <= 299 {
		return nil
	}
	err := &StatusError{Code: status}
	if !retryableStatus(status) {
		return Permanent(err)
	}
	if d, ok := parseRetryAfter(header.Get("Retry-After"), now); ok {
		return RetryAfter(err, d)
	}
	return err
}

func retryableStatus(status int) bool {
	switch status {
	case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests:
		return true
	}
	return status >= 500 && status <= 599
}

// maxRetryAfterSeconds keeps seconds·1e9 inside time.Duration.
const maxRetryAfterSeconds = math.MaxInt64 / int64(time.Second)

// parseRetryAfter reads a Retry-After value: delta-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		secs, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			// All digits but too large for int64: as long as can be.
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				return time.Duration(math.MaxInt64), true
			}
			return 0, false
		}
		if secs > maxRetryAfterSeconds {
			return time.Duration(math.MaxInt64), true
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}
