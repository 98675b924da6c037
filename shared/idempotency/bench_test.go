package idempotency_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/idempotency"
)

func benchRunner() *idempotency.Runner {
	n := 0
	return idempotency.NewRunner(idempotency.NewMemoryStore(), idempotency.Settings{
		NewToken: func() string { n++; return strconv.Itoa(n) },
	})
}

// BenchmarkRunnerDo measures a first delivery: claim, handler, complete.
func BenchmarkRunnerDo(b *testing.B) {
	r := benchRunner()
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	keys := make([]string, b.N)
	for i := range keys {
		keys[i] = "stripe:evt_" + strconv.Itoa(i)
	}
	result := []byte("ok")
	fn := func(context.Context, *idempotency.Attempt) ([]byte, error) { return result, nil }
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if out, err := r.Do(ctx, keys[i], "h", fn); err != nil || out.Kind != idempotency.Done {
			b.Fatal(out, err)
		}
	}
}

// BenchmarkRunnerDoDuplicate measures a redelivery of a completed event.
func BenchmarkRunnerDoDuplicate(b *testing.B) {
	r := benchRunner()
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	fn := func(context.Context, *idempotency.Attempt) ([]byte, error) { return []byte("ok"), nil }
	if _, err := r.Do(ctx, "k", "h", fn); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if out, err := r.Do(ctx, "k", "h", fn); err != nil || out.Kind != idempotency.Duplicate {
			b.Fatal(out, err)
		}
	}
}

// BenchmarkRunnerDoSteps measures a first delivery with two recovery points.
func BenchmarkRunnerDoSteps(b *testing.B) {
	r := benchRunner()
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	keys := make([]string, b.N)
	for i := range keys {
		keys[i] = "stripe:evt_" + strconv.Itoa(i)
	}
	step := func(context.Context) ([]byte, error) { return []byte("x"), nil }
	fn := func(ctx context.Context, a *idempotency.Attempt) ([]byte, error) {
		if _, err := a.Step(ctx, "one", step); err != nil {
			return nil, err
		}
		return a.Step(ctx, "two", step)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if out, err := r.Do(ctx, keys[i], "h", fn); err != nil || out.Kind != idempotency.Done {
			b.Fatal(out, err)
		}
	}
}
