package telemetry

import (
	"io"
	"testing"
	"time"
)

// BenchmarkMetricsBatch is what one processor batch costs in metrics at the default
// detail: ten records counted under one (source, type), then one flush.
func BenchmarkMetricsBatch(b *testing.B) {
	now := time.UnixMilli(1_790_000_000_123)
	b.ReportAllocs()
	for b.Loop() {
		m := NewMetrics(ByOutcome)
		for range 10 {
			m.Count("processed", "stripe", "payment_intent.succeeded", 1)
		}
		if err := m.Flush(io.Discard, now); err != nil {
			b.Fatal(err)
		}
	}
}
