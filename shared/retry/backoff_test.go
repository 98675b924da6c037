package retry

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func TestBackoffCeiling(t *testing.T) {
	t.Parallel()
	const ms = time.Millisecond
	tests := []struct {
		name    string
		attempt int
		base    time.Duration
		max     time.Duration
		want    time.Duration
	}{
		{"first attempt is base", 1, 100 * ms, 2 * time.Second, 100 * ms},
		{"doubles", 2, 100 * ms, 2 * time.Second, 200 * ms},
		{"doubles again", 5, 100 * ms, 2 * time.Second, 1600 * ms},
		{"capped", 6, 100 * ms, 2 * time.Second, 2 * time.Second},
		{"attempt zero counts as one", 0, 100 * ms, 2 * time.Second, 100 * ms},
		{"negative attempt counts as one", -7, 100 * ms, 2 * time.Second, 100 * ms},
		{"max below base", 1, time.Second, 10 * ms, 10 * ms},
		{"shift 62 saturates", 63, 1, time.Duration(math.MaxInt64), 1 << 62},
		{"shift 63 would overflow", 64, 1, time.Duration(math.MaxInt64), time.Duration(math.MaxInt64)},
		{"huge attempt", math.MaxInt, time.Second, time.Hour, time.Hour},
		{"huge base", 3, time.Duration(math.MaxInt64 / 2), time.Duration(math.MaxInt64), time.Duration(math.MaxInt64)},
		{"zero base", 3, 0, time.Second, 0},
		{"zero max", 3, time.Second, 0, 0},
		{"negative base", 3, -time.Second, time.Second, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := backoffCeiling(tt.attempt, tt.base, tt.max); got != tt.want {
				t.Fatalf("backoffCeiling(%d, %v, %v) = %v, want %v", tt.attempt, tt.base, tt.max, got, tt.want)
			}
			// The largest random number gives the ceiling (to float64 precision, 2^-52
			// relative), the smallest gives 0.
			got := Backoff(tt.attempt, tt.base, tt.max, func() float64 { return math.Nextafter(1, 0) })
			if got > tt.want || got < tt.want-tt.want>>50 {
				t.Fatalf("Backoff with rnd→1 = %v, want the ceiling %v", got, tt.want)
			}
			if got := Backoff(tt.attempt, tt.base, tt.max, func() float64 { return 0 }); got != 0 {
				t.Fatalf("Backoff with rnd=0 = %v, want 0", got)
			}
		})
	}
}

// TestBackoffBounds draws many random inputs and checks the invariants: never
// negative, never above min(max, base·2^(attempt-1)), monotone in the random number.
func TestBackoffBounds(t *testing.T) {
	t.Parallel()
	src := rand.New(rand.NewPCG(1, 2))
	durations := []time.Duration{1, time.Microsecond, time.Millisecond, 100 * time.Millisecond, time.Second, time.Hour, time.Duration(math.MaxInt64)}
	for i := 0; i < 20000; i++ {
		attempt := src.IntN(200) - 5
		if i%100 == 0 {
			attempt = math.MaxInt - src.IntN(3)
		}
		base := durations[src.IntN(len(durations))] + time.Duration(src.Int64N(1000))
		maxD := durations[src.IntN(len(durations))]
		base, maxD = max(base, 0), max(maxD, 0) // the additions above may wrap
		r1, r2 := src.Float64(), src.Float64()
		if r1 > r2 {
			r1, r2 = r2, r1
		}
		d1 := Backoff(attempt, base, maxD, func() float64 { return r1 })
		d2 := Backoff(attempt, base, maxD, func() float64 { return r2 })
		limit := min(maxD, base)
		if attempt > 1 {
			limit = backoffCeiling(attempt, base, maxD)
		}
		if d1 < 0 || d2 > limit || d2 > maxD || d1 > d2 {
			t.Fatalf("Backoff(%d, %v, %v): %v (r=%v), %v (r=%v); limit %v", attempt, base, maxD, d1, r1, d2, r2, limit)
		}
		// Independent check of the ceiling for small attempts, where the power of two
		// is exact in float64.
		if attempt >= 1 && attempt <= 60 {
			want := math.Min(float64(maxD), float64(base)*math.Pow(2, float64(attempt-1)))
			if got := float64(backoffCeiling(attempt, base, maxD)); math.Abs(got-want) > want*1e-12 {
				t.Fatalf("ceiling(%d, %v, %v) = %v, want %v", attempt, base, maxD, got, want)
			}
		}
	}
}

func TestBackoffUniform(t *testing.T) {
	t.Parallel()
	// With a ceiling of 1000 ns, a million draws fill ten buckets about evenly.
	src := rand.New(rand.NewPCG(3, 4))
	var buckets [10]int
	const n = 1_000_000
	for i := 0; i < n; i++ {
		d := Backoff(1, 1000, 1000, src.Float64)
		buckets[min(int(d)/100, 9)]++
	}
	for i, c := range buckets {
		if c < n/10*95/100 || c > n/10*105/100 {
			t.Fatalf("bucket %d has %d of %d draws: not uniform (%v)", i, c, n, buckets)
		}
	}
}

func TestBackoffOddRandomNumbers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		r    float64
		want time.Duration
	}{
		{"negative clamps to 0", -0.5, 0},
		{"NaN clamps to 0", math.NaN(), 0},
		{"one clamps to the ceiling", 1, time.Second},
		{"above one clamps to the ceiling", 7, time.Second},
		{"half", 0.5, time.Second / 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Backoff(1, time.Second, time.Minute, func() float64 { return tt.r }); got != tt.want {
				t.Fatalf("Backoff with rnd=%v = %v, want %v", tt.r, got, tt.want)
			}
		})
	}
}

func TestBackoffNilRand(t *testing.T) {
	t.Parallel()
	for i := 0; i < 1000; i++ {
		if d := Backoff(3, time.Second, time.Minute, nil); d < 0 || d > 4*time.Second {
			t.Fatalf("Backoff with nil rnd = %v, want within [0, 4s]", d)
		}
	}
}
