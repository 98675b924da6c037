//go:build integration

package e2e

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tenaz/tenaz/shared/config"
	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/processor"
	"github.com/tenaz/tenaz/shared/route"
)

// One event, three destinations, through the processor and redrive binaries on
// moto: the healthy one gets it once at once; the one that is down gets it once
// after it recovers, without the others being called again; the one that answers
// 400 is dead-lettered with a copy naming it alone, and the replay of that copy,
// once it is fixed, delivers there and nowhere else.
func TestE2EFanOutThreeDestinations(t *testing.T) {
	ctx := context.Background()
	stripe := sample(t, "stripe.json")
	key := stripe.Source + ":" + stripe.ID
	var down, broken atomic.Bool
	down.Store(true)
	broken.Store(true)
	healthy := newDestination(t, nil)
	recovering := newDestination(t, outage(&down))
	rejecting := newDestination(t, func(int) answer {
		if broken.Load() {
			return answer{status: http.StatusBadRequest}
		}
		return answer{status: http.StatusOK}
	})
	p := newPipelineWith(t, []route.Config{
		{Source: stripe.Source, Name: "healthy", URL: healthy.url},
		{Source: stripe.Source, Name: "recovering", URL: recovering.url},
		{Source: stripe.Source, Name: "rejecting", URL: rejecting.url},
	}, pipelineOptions{breakers: true, env: []string{
		config.EnvBreakerFailures + "=3", config.EnvBreakerOpen + "=2", config.EnvDeferMax + "=2", config.EnvBreakerCache + "=0",
	}})
	start := time.Now()
	p.send(stripe)
	fn := p.startProcessor("processor")
	p.poll(invokeFn(fn), 0)

	waitFor(t, settle, "the healthy destination to take the event and the rejection to be dead-lettered", func() bool {
		return healthy.effectsOf(key) == 1 && p.dlqDepth() == 1
	})
	if got := healthy.received(key); len(got) != 1 || got[0].at.Sub(start) > 10*time.Second {
		t.Fatalf("healthy destination: %d deliveries, first after %v; want 1 at once", len(got), got[0].at.Sub(start))
	}
	// The dead letter names the rejecting destination alone.
	out, err := p.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(p.dlq.URL()), MaxNumberOfMessages: 10,
		MessageAttributeNames: []string{"All"}})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("DLQ receive: %v, %d messages", err, len(out.Messages))
	}
	attrs := out.Messages[0].MessageAttributes
	if v := aws.ToString(attrs[envelope.AttrDestinations].StringValue); v != "rejecting" {
		t.Fatalf("dead letter names %q, want rejecting", v)
	}
	if v := aws.ToString(attrs[envelope.AttrLastError].StringValue); !strings.Contains(v, "rejecting: ") || !strings.Contains(v, "400") {
		t.Fatalf("dead letter's last error %q", v)
	}
	if _, err := p.sqs.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(p.dlq.URL()),
		ReceiptHandle: out.Messages[0].ReceiptHandle, VisibilityTimeout: 0}); err != nil {
		t.Fatal(err)
	}
	if n := recovering.raw(); n == 0 {
		t.Fatal("the destination that is down was never tried")
	}

	down.Store(false)
	waitFor(t, settle, "the recovered destination to take the event", func() bool { return recovering.effectsOf(key) == 1 })
	waitFor(t, settle, "the event to rest", func() bool {
		rec := p.record(key)
		return rec != nil && rec.LeaseToken == "" && p.depth() == 0
	})
	rec := p.record(key)
	if _, ok := rec.Steps["dlq:rejecting"]; !ok || rec.Status == idempotency.StatusCompleted {
		t.Fatalf("record %+v: want the rejection recorded and the event not completed", rec)
	}

	broken.Store(false)
	if rep := replay(t, p.startRedrive(), `{}`); rep.Counts.Moved != 1 {
		t.Fatalf("replay moved %d, want 1: %+v", rep.Counts.Moved, rep.Counts)
	}
	waitFor(t, settle, "the replay to reach the fixed destination", func() bool { return rejecting.effectsOf(key) == 1 })
	waitFor(t, settle, "the event to complete", func() bool {
		rec := p.record(key)
		return rec != nil && rec.Status == idempotency.StatusCompleted
	})

	if n := len(healthy.received(key)); n != 1 {
		t.Fatalf("healthy destination received %d deliveries, want 1", n)
	}
	if n, e := len(recovering.received(key)), recovering.effectsOf(key); e != 1 || n < 2 {
		t.Fatalf("recovering destination: %d deliveries, %d effects; want failures then one effect", n, e)
	}
	if n := len(rejecting.received(key)); n != 2 {
		t.Fatalf("rejecting destination received %d deliveries, want the rejected one and the replay", n)
	}
	if n := p.dlqDepth(); n != 0 {
		t.Fatalf("DLQ holds %d after the replay", n)
	}
}

// A route capped at one delivery a second, through the processor binary on moto:
// ten events sent at once are all delivered once, the excess deferred (never failed,
// never dead-lettered), and the windows are counted in the breaker table.
func TestE2ERateLimitedRoute(t *testing.T) {
	dest := newDestination(t, nil)
	p := newPipelineWith(t, []route.Config{{Source: "stripe", URL: dest.url, RatePerSecond: 1}},
		pipelineOptions{breakers: true, env: []string{config.EnvDeferMax + "=2"}})
	keys := enqueue(t, p, "rate", 10)
	fn := p.startProcessor("processor")
	poller := p.poll(invokeFn(fn), 0)
	p.settled(poller, 10)
	for _, k := range keys {
		if n := dest.effectsOf(k); n != 1 {
			t.Fatalf("%s applied %d times, want 1", k, n)
		}
	}
	got := outcomes(t, fn)
	if got[processor.Deferred] == 0 || got[processor.Processed] != 10 || got[processor.DeadLettered] != 0 || p.dlqDepth() != 0 {
		t.Fatalf("outcomes %v, DLQ %d: want 10 processed, some deferred, none dead-lettered", got, p.dlqDepth())
	}
	out, err := p.ddb.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(p.breakerTable)})
	if err != nil {
		t.Fatal(err)
	}
	windows := 0
	for _, it := range out.Items {
		if v, ok := it["name"].(*ddbtypes.AttributeValueMemberS); ok && strings.HasPrefix(v.Value, "rate#") {
			windows++
		}
	}
	if windows < 5 {
		t.Fatalf("%d rate windows in the breaker table for 10 deliveries at 1 a second, want at least 5", windows)
	}
}
