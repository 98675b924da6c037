package ingest

import (
	"context"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/internal/samples"
	"github.com/tenaz/tenaz/shared/queue"
)

// nullSender accepts every message: the benchmark measures ingest's own work
// (verify, envelope, answer), not a queue.
type nullSender struct{}

func (nullSender) Send(context.Context, queue.Message) (string, error) { return "id", nil }

// BenchmarkIngest is one signed Stripe webhook through HandleAPIGateway: verification,
// envelope encoding and the 202 answer, with a queue that costs nothing.
func BenchmarkIngest(b *testing.B) {
	var stripe samples.Sample
	for _, s := range samples.Load(b) {
		if s.File == "stripe.json" {
			stripe = s
		}
	}
	svc := New(Options{Sources: samples.Sources(b), Queue: nullSender{}, Now: func() time.Time { return samples.SignedAt }, Log: quiet()})
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		resp, _ := svc.HandleAPIGateway(ctx, stripe.Event)
		if resp.StatusCode != 202 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}
