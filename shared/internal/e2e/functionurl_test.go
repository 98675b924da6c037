//go:build integration

package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/internal/awstest"
	"github.com/tenaz/tenaz/shared/internal/lambdatest"
	"github.com/tenaz/tenaz/shared/internal/samples"
)

// The real ingest binary behind a Lambda Function URL (FunctionUrl=true): the event
// has no route and no path parameters, only the raw path. A signed webhook to
// /webhooks/stripe is enqueued once; any other path is 404 and enqueues nothing.
func TestE2EIngestFunctionURL(t *testing.T) {
	ctx := context.Background()
	sqsClient := sqs.NewFromConfig(awstest.Config(t))
	queueURL := createQueue(t, sqsClient, "webhooks-url")
	fn := lambdatest.Start(t, "ingest-url", lambdatest.Build(t, "./functions/ingest"), 10*time.Second,
		append(awsEnv(t), "TENAZ_QUEUE_URL="+queueURL, "TENAZ_SOURCES="+string(samples.SourcesJSON(t)))...)

	var stripe samples.Sample
	for _, s := range samples.Load(t) {
		if s.File == "stripe.json" {
			stripe = s
		}
	}
	if stripe.File == "" {
		t.Fatal("no stripe.json sample")
	}
	signed := stripe.AtNow(t, samples.Sources(t), time.Now())
	urlEvent := func(path string) events.LambdaFunctionURLRequest {
		return events.LambdaFunctionURLRequest{
			Version: "2.0", RawPath: path, Headers: signed.Headers, Body: signed.Body, IsBase64Encoded: signed.IsBase64Encoded,
			RequestContext: events.LambdaFunctionURLRequestContext{
				DomainName: "abc123.lambda-url.us-east-1.on.aws", RequestID: "req-1",
				HTTP: events.LambdaFunctionURLRequestContextHTTPDescription{Method: "POST", Path: path, Protocol: "HTTP/1.1", SourceIP: "203.0.113.9"},
			},
		}
	}
	for _, c := range []struct {
		path   string
		status int
	}{{"/webhooks/stripe", 202}, {"/", 404}, {"/webhooks/stripe/extra", 404}} {
		var resp events.LambdaFunctionURLResponse
		if err := fn.Invoke(ctx, urlEvent(c.path), &resp); err != nil {
			t.Fatalf("%s: %v", c.path, err)
		}
		if resp.StatusCode != c.status {
			t.Errorf("%s: status %d (%s), want %d", c.path, resp.StatusCode, resp.Body, c.status)
		}
	}
	bodies := receiveAll(t, sqsClient, queueURL)
	if len(bodies) != 1 {
		t.Fatalf("%d messages enqueued, want 1", len(bodies))
	}
	env, err := envelope.Decode([]byte(bodies[0]))
	if err != nil {
		t.Fatal(err)
	}
	if env.Key() != "stripe:"+stripe.ID {
		t.Fatalf("enqueued %s, want stripe:%s", env.Key(), stripe.ID)
	}
}
