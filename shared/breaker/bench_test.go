package breaker_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/breaker"
	"github.com/tenaz/tenaz/shared/breaker/breakertest"
)

// reportStoreCalls reports the store calls per Allow+Report and fails the benchmark
// when the happy path costs more than 0.01 reads or any write per call.
func reportStoreCalls(b *testing.B, store *breakertest.Counting, calls int) {
	b.Helper()
	reads := float64(store.Reads()) / float64(calls)
	writes := float64(store.Writes()) / float64(calls)
	b.ReportMetric(reads, "reads/op")
	b.ReportMetric(writes, "writes/op")
	if calls >= 1000 && (reads > 0.01 || writes != 0) {
		b.Fatalf("happy path: %.4f reads and %.4f writes per call", reads, writes)
	}
}

// BenchmarkHappyPath measures Allow + Report(success) on a closed breaker with a warm
// cache, the clock moving 1 ms per call: 1000 calls per cache TTL (1 s).
func BenchmarkHappyPath(b *testing.B) {
	store := &breakertest.Counting{Store: breaker.NewMemoryStore()}
	var ms atomic.Int64
	start := breakertest.T0.UnixMilli()
	now := func() time.Time { return time.UnixMilli(start + ms.Add(1)) }
	br := breaker.New(store, breaker.Settings{Now: now})
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		t, err := br.Allow(ctx, "crm")
		if err != nil {
			b.Fatal(err)
		}
		if err := br.Report(ctx, t, true); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportStoreCalls(b, store, b.N)
}

// BenchmarkHappyPathParallel is BenchmarkHappyPath from every core at once, on the
// real clock, over ten dependencies.
func BenchmarkHappyPathParallel(b *testing.B) {
	store := &breakertest.Counting{Store: breaker.NewMemoryStore()}
	br := breaker.New(store, breaker.Settings{})
	ctx := context.Background()
	names := []string{"crm", "mailer", "billing", "search", "erp", "ledger", "sms", "push", "cdn", "auth"}
	var calls atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			name := names[i%len(names)]
			t, err := br.Allow(ctx, name)
			if err != nil {
				b.Error(err)
				return
			}
			if err := br.Report(ctx, t, true); err != nil {
				b.Error(err)
				return
			}
		}
		calls.Add(int64(i))
	})
	b.StopTimer()
	reportStoreCalls(b, store, int(calls.Load()))
}
