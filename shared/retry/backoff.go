package retry

import (
	"math"
	"math/rand/v2"
	"time"
)

// Backoff returns how long to wait before retrying after the given failed attempt
// (1 for the first call): full jitter, uniform in [0, min(max, base·2^(attempt-1))].
//
// With base = 100 ms and max = 2 s the ceilings are 100 ms, 200 ms, 400 ms, 800 ms,
// 1.6 s, then 2 s for every later attempt. An attempt below 1 counts as 1. A base or
// max of zero or less gives zero. rnd returns a number in [0, 1); values outside are
// clamped, and a nil rnd uses math/rand/v2. Backoff is safe for any attempt number,
// including math.MaxInt: the ceiling saturates at max instead of overflowing.
func Backoff(attempt int, base, max time.Duration, rnd func() float64) time.Duration {
	ceiling := backoffCeiling(attempt, base, max)
	if ceiling <= 0 {
		return 0
	}
	if rnd == nil {
		rnd = rand.Float64
	}
	r := rnd()
	switch {
	case r != r || r < 0: // NaN or negative
		r = 0
	case r >= 1:
		r = math.Nextafter(1, 0)
	}
	// Scale over ceiling+1 nanoseconds so that the ceiling itself can be drawn; the
	// float product can round up to ceiling+1 for large ceilings, hence the clamp.
	d := time.Duration(r * (float64(ceiling) + 1))
	if d > ceiling {
		d = ceiling
	}
	if d < 0 {
		d = 0
	}
	return d
}

// backoffCeiling is min(max, base·2^(attempt-1)) without overflow.
func backoffCeiling(attempt int, base, max time.Duration) time.Duration {
	if base <= 0 || max <= 0 {
		return 0
	}
	if attempt < 1 {
		attempt = 1
	}
	shift := attempt - 1
	// base<<shift fits when shift < 63 and base <= MaxInt64>>shift; otherwise, or
	// when it would pass max anyway, the ceiling is max.
	if shift >= 63 || base > max>>shift {
		return max
	}
	return min(base<<shift, max)
}
