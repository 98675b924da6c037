//go:build integration

package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tenaz/tenaz/shared/blob"
	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/internal/awstest"
	"github.com/tenaz/tenaz/shared/internal/lambdatest"
	"github.com/tenaz/tenaz/shared/internal/samples"
)

// The ingest binary with a body bucket on moto: a body whose message exceeds the
// inline limit is in the bucket, checked by its SHA-256, and the queue holds a
// version 2 reference to it; a small body travels inline and stores nothing.
func TestE2EIngestClaimCheck(t *testing.T) {
	ctx := context.Background()
	cfg := awstest.Config(t)
	sqsClient := sqs.NewFromConfig(cfg)
	s3Client := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	queueURL := createQueue(t, sqsClient, "webhooks")
	bucket := awstest.Name(t, "bodies")
	if _, err := s3Client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	env := append(awsEnv(t), "TENAZ_QUEUE_URL="+queueURL, "TENAZ_SOURCES="+string(samples.SourcesJSON(t)),
		"TENAZ_BODY_BUCKET="+bucket)
	fn := lambdatest.Start(t, "ingest-claim-check", lambdatest.Build(t, "./functions/ingest"), 10*time.Second, env...)

	sources := samples.Sources(t)
	send := func(id, body string) {
		t.Helper()
		h := map[string]string{"x-github-delivery": id, "x-github-event": "push", "content-type": "application/json"}
		if err := sources["github"].Sign(h, []byte(body), time.Now()); err != nil {
			t.Fatal(err)
		}
		req := events.APIGatewayV2HTTPRequest{Headers: h, PathParameters: map[string]string{"source": "github"}, Body: body}
		req.RequestContext.HTTP.Method = "POST"
		var resp events.APIGatewayV2HTTPResponse
		if err := fn.Invoke(ctx, req, &resp); err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 202 {
			t.Fatalf("%s: status %d %s, want 202", id, resp.StatusCode, resp.Body)
		}
	}
	large := `{"ref":"refs/heads/main","padding":"` + strings.Repeat("p", 600<<10) + `"}`
	small := `{"ref":"refs/heads/main"}`
	send("d-large", large)
	send("d-small", small)

	got := map[string]*envelope.Envelope{}
	for _, body := range receiveAll(t, sqsClient, queueURL) {
		e, err := envelope.Decode([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		got[e.ID] = e
	}
	if len(got) != 2 {
		t.Fatalf("%d messages, want 2", len(got))
	}
	if e := got["d-small"]; e == nil || e.Stored() || string(e.Body) != small {
		t.Fatalf("small body: %+v, want it inline", e)
	}
	e := got["d-large"]
	key, err := blob.Key("github", "d-large")
	if err != nil {
		t.Fatal(err)
	}
	if e == nil || e.BodyRef != key || e.BodySHA256 != blob.Sum([]byte(large)) || len(e.Body) != 0 {
		t.Fatalf("large body: %+v, want a reference to %s", e, key)
	}
	if err := blob.Load(ctx, blob.NewS3(s3Client, bucket), e); err != nil {
		t.Fatal(err)
	}
	if string(e.Body) != large {
		t.Fatalf("stored body of %d bytes, want %d", len(e.Body), len(large))
	}
	out, err := s3Client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Contents) != 1 {
		t.Fatalf("%d objects in the bucket, want 1", len(out.Contents))
	}
}

// An S3 outage at ingest (the S3 endpoint does not answer) is a 503 the provider
// retries, and nothing is enqueued: a reference to a body that was never stored
// would be a dead letter nobody could replay.
func TestE2EIngestBodyStoreOutage(t *testing.T) {
	ctx := context.Background()
	cfg := awstest.Config(t)
	sqsClient := sqs.NewFromConfig(cfg)
	queueURL := createQueue(t, sqsClient, "webhooks")
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close() // a port nothing listens on any more
	env := append(awsEnv(t), "TENAZ_QUEUE_URL="+queueURL, "TENAZ_SOURCES="+string(samples.SourcesJSON(t)),
		"TENAZ_BODY_BUCKET=bodies", "AWS_ENDPOINT_URL_S3="+closed.URL)
	fn := lambdatest.Start(t, "ingest-store-outage", lambdatest.Build(t, "./functions/ingest"), 20*time.Second, env...)

	body := `{"ref":"refs/heads/main","padding":"` + strings.Repeat("p", 600<<10) + `"}`
	h := map[string]string{"x-github-delivery": "d-outage", "x-github-event": "push", "content-type": "application/json"}
	if err := samples.Sources(t)["github"].Sign(h, []byte(body), time.Now()); err != nil {
		t.Fatal(err)
	}
	req := events.APIGatewayV2HTTPRequest{Headers: h, PathParameters: map[string]string{"source": "github"}, Body: body}
	req.RequestContext.HTTP.Method = "POST"
	var resp events.APIGatewayV2HTTPResponse
	if err := fn.Invoke(ctx, req, &resp); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(resp.Body, "store_unavailable") {
		t.Fatalf("status %d %s, want 503 store_unavailable", resp.StatusCode, resp.Body)
	}
	if got := receiveAll(t, sqsClient, queueURL); len(got) != 0 {
		t.Fatalf("%d messages enqueued during an S3 outage", len(got))
	}
}
