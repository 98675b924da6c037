//go:build integration

package local

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/internal/awstest"
	"github.com/tenaz/tenaz/shared/processor"
	"github.com/tenaz/tenaz/shared/webhook"
)

// The local runner on moto: it creates its queues and tables, delivers a webhook
// sent twice exactly once, lists and replays the DLQ through SQS, and reads queue
// depths from SQS.
func TestIntegrationLocalRunnerOnMoto(t *testing.T) {
	ctx := context.Background()
	cfg := awstest.Config(t)
	sqsClient, ddb := sqs.NewFromConfig(cfg), dynamodb.NewFromConfig(cfg)
	setup := AWSSetup{SQS: sqsClient, DynamoDB: ddb, Emulator: true, Prefix: awstest.Name(t, "tenaz-dev") + "-",
		VisibilityTimeout: 12 * time.Second, MaxReceiveCount: 50}
	env, err := setup.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(env.Created) != 4 || env.VisibilityTimeout != 12*time.Second || env.Backend.Name != BackendAWS {
		t.Fatalf("opened %+v", env)
	}
	r := env.Resources
	if !strings.Contains(r.QueueURL, setup.Prefix+"webhooks") || r.IdempotencyTable != setup.Prefix+"idempotency" ||
		r.BreakerTable != setup.Prefix+"breakers" {
		t.Fatalf("resources %+v", r)
	}
	attrs, err := sqsClient.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(r.QueueURL),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameRedrivePolicy}})
	if err != nil || !strings.Contains(attrs.Attributes["RedrivePolicy"], setup.Prefix+"webhooks-dlq") {
		t.Fatalf("redrive policy %v %v", attrs, err)
	}
	// Opening again reuses everything.
	again, err := setup.Open(ctx)
	if err != nil || len(again.Created) != 0 || again.Resources != r {
		t.Fatalf("second open %+v %v", again, err)
	}

	raw := sourcesJSON(t)
	sources, err := webhook.ParseSources(raw)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	sender, err := NewSender(base, raw)
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Options{Sources: sources, Backend: &env.Backend, VisibilityTimeout: env.VisibilityTimeout, DemoURL: base + "/demo/destination",
		Sender:    sender,
		Processor: processor.Settings{RetryBase: time.Second, RetryMax: time.Second, MaxAttempts: 3, DeferMax: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = p.Handler()
	srv.Start()
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = p.Run(runCtx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; srv.Close() })

	// A provider retry: the same webhook twice.
	for range 2 {
		if sent, err := sender.Send(ctx, "stripe", "evt_moto_1"); err != nil || sent.Status != 202 {
			t.Fatalf("send %+v %v", sent, err)
		}
	}
	waitFor(t, "delivery on moto", func() bool {
		st := p.Status(ctx, 0)
		return st.Counts["processed"] == 1 && st.Counts["duplicate"] == 1 && st.Main.Total() == 0
	})
	st := p.Status(ctx, 0)
	if st.Backend != BackendAWS || st.Counts["received"] != 2 || p.Demo.Applied("stripe:evt_moto_1") != 1 || st.Demo.Repeats != 0 ||
		st.Main.Error != "" || st.DLQ.Total() != 0 || len(st.Breakers) != 2 || st.Breakers[0].State != "closed" || st.Breakers[1].State != "closed" {
		t.Fatalf("status %+v", st)
	}
	rec, err := p.Store.Get(ctx, "stripe:evt_moto_1", time.Now())
	if err != nil || rec.Status != idempotency.StatusCompleted {
		t.Fatalf("record %+v %v", rec, err)
	}

	// Rejected: dead-lettered with its reason, listed through SQS, still there after
	// the listing, replayed once fixed.
	if err := p.Demo.SetMode(DemoMode{Mode: ModeReject}); err != nil {
		t.Fatal(err)
	}
	if sent, err := sender.Send(ctx, "github", "gh-moto-1"); err != nil || sent.Status != 202 {
		t.Fatalf("send %+v %v", sent, err)
	}
	waitFor(t, "dead letter on moto", func() bool { return p.Status(ctx, 0).DLQ.Total() == 1 })
	l, err := p.DeadLetters(ctx, 10)
	if err != nil || l.Listed != "receive" || len(l.Messages) != 1 || l.Messages[0].Key != "github:gh-moto-1" ||
		l.Messages[0].Reason != envelope.ReasonPermanent || l.Messages[0].Attempts != 1 {
		t.Fatalf("listing %+v %v", l, err)
	}
	if d := p.Status(ctx, 0).DLQ; d.Visible != 1 || d.InFlight != 0 {
		t.Fatalf("the listing left the dead letter hidden: %+v", d)
	}
	if err := p.Demo.SetMode(DemoMode{Mode: ModeHealthy}); err != nil {
		t.Fatal(err)
	}
	if rep, err := p.Redrive(ctx, []byte(`{"filter": {"ids": ["gh-moto-1"]}}`)); err != nil || rep.Counts.Moved != 1 {
		t.Fatalf("replay %+v %v", rep.Counts, err)
	}
	waitFor(t, "replayed delivery on moto", func() bool { return p.Demo.Applied("github:gh-moto-1") == 1 })
	waitFor(t, "queues empty", func() bool {
		st := p.Status(ctx, 0)
		return st.Main.Total() == 0 && st.DLQ.Total() == 0
	})
}
