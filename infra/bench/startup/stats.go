package main

import (
	"math"
	"slices"
	"time"
)

// percentile returns the p-th percentile (0 to 100) of xs by linear interpolation
// between the two nearest ranks: rank p/100 x (n-1) of the sorted values, so p = 50
// of an even count is the mean of the middle two. NaN when xs is empty or p is out
// of range. xs is not modified.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 || p < 0 || p > 100 || math.IsNaN(p) {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	rank := p / 100 * float64(len(s)-1)
	lo := int(math.Floor(rank))
	hi := int(math.Ceil(rank))
	return s[lo] + (s[hi]-s[lo])*(rank-float64(lo))
}

// millis is d in milliseconds, fractions kept.
func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
