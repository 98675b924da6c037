//go:build integration

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/internal/awstest"
	"github.com/tenaz/tenaz/shared/internal/lambdatest"
	"github.com/tenaz/tenaz/shared/internal/samples"
)

// awsEnv is the environment a function needs to reach moto.
func awsEnv(t *testing.T) []string {
	return []string{
		"AWS_ENDPOINT_URL=" + awstest.Endpoint(t),
		"AWS_REGION=" + awstest.Region,
		"AWS_ACCESS_KEY_ID=test",
		"AWS_SECRET_ACCESS_KEY=test",
		"TENAZ_LOG_LEVEL=debug",
	}
}

func createQueue(t *testing.T, client *sqs.Client, prefix string) string {
	t.Helper()
	out, err := client.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String(awstest.Name(t, prefix))})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.QueueUrl)
}

func receiveAll(t *testing.T, client *sqs.Client, url string) []string {
	t.Helper()
	var bodies []string
	for {
		out, err := client.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), MaxNumberOfMessages: 10, VisibilityTimeout: 60, WaitTimeSeconds: 0,
			MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			return bodies
		}
		for _, m := range out.Messages {
			if m.MessageAttributes[envelope.AttrKey].StringValue == nil {
				t.Fatalf("message without the %s attribute", envelope.AttrKey)
			}
			bodies = append(bodies, aws.ToString(m.Body))
		}
	}
}

// Every sample through the real ingest binary: each accepted webhook is on the moto
// queue exactly once with the provider's id; each refusal has its status and leaves
// nothing. Sources come from an SSM SecureString parameter, as the template wires
// them by default, and from Secrets Manager (SourcesStore=secret).
func TestE2EIngestSamples(t *testing.T) {
	ctx := context.Background()
	cfg := awstest.Config(t)
	stores := map[string]func(t *testing.T) string{
		"parameter": func(t *testing.T) string {
			name := "/" + awstest.Name(t, "tenaz") + "/sources"
			if _, err := ssm.NewFromConfig(cfg).PutParameter(ctx, &ssm.PutParameterInput{
				Name: aws.String(name), Value: aws.String(string(samples.SourcesJSON(t))), Type: ssmtypes.ParameterTypeSecureString,
			}); err != nil {
				t.Fatal(err)
			}
			return "TENAZ_SOURCES_PARAMETER=" + name
		},
		"secret": func(t *testing.T) string {
			secret := awstest.Name(t, "tenaz-sources")
			if _, err := secretsmanager.NewFromConfig(cfg).CreateSecret(ctx, &secretsmanager.CreateSecretInput{
				Name: aws.String(secret), SecretString: aws.String(string(samples.SourcesJSON(t))),
			}); err != nil {
				t.Fatal(err)
			}
			return "TENAZ_SOURCES_SECRET_ID=" + secret
		},
	}
	for _, store := range []string{"parameter", "secret"} {
		t.Run(store, func(t *testing.T) { ingestSamples(t, stores[store](t)) })
	}
}

func ingestSamples(t *testing.T, sourcesEnv string) {
	ctx := context.Background()
	sqsClient := sqs.NewFromConfig(awstest.Config(t))
	queueURL := createQueue(t, sqsClient, "webhooks")
	fn := lambdatest.Start(t, "ingest", lambdatest.Build(t, "./functions/ingest"), 10*time.Second,
		append(awsEnv(t), "TENAZ_QUEUE_URL="+queueURL, sourcesEnv)...)

	sources := samples.Sources(t)
	var wantIDs []string
	for _, s := range samples.Load(t) {
		var resp events.APIGatewayV2HTTPResponse
		if err := fn.Invoke(ctx, s.AtNow(t, sources, time.Now()), &resp); err != nil {
			t.Fatalf("%s: %v", s.File, err)
		}
		if resp.StatusCode != s.Status {
			t.Errorf("%s: status %d, want %d: %s", s.File, resp.StatusCode, s.Status, resp.Body)
		}
		if s.Status == 202 {
			wantIDs = append(wantIDs, s.Source+":"+s.ID)
		}
	}

	var gotIDs []string
	for _, body := range receiveAll(t, sqsClient, queueURL) {
		env, err := envelope.Decode([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		gotIDs = append(gotIDs, env.Key())
	}
	sort.Strings(wantIDs)
	sort.Strings(gotIDs)
	if fmt.Sprint(gotIDs) != fmt.Sprint(wantIDs) || len(wantIDs) < 6 {
		t.Fatalf("queue holds %v, want each of %v exactly once", gotIDs, wantIDs)
	}
}

// With SQS unreachable the ingest answers 503 so the sender retries; nothing is
// acknowledged and nothing is enqueued.
func TestE2EIngestQueueUnreachable(t *testing.T) {
	ctx := context.Background()
	sqsClient := sqs.NewFromConfig(awstest.Config(t))
	queueURL := createQueue(t, sqsClient, "webhooks")

	// A loopback port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()

	env := []string{
		"AWS_ENDPOINT_URL=" + dead, "AWS_REGION=" + awstest.Region, "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"TENAZ_QUEUE_URL=" + queueURL, "TENAZ_SOURCES=" + string(samples.SourcesJSON(t)),
	}
	fn := lambdatest.Start(t, "ingest-no-sqs", lambdatest.Build(t, "./functions/ingest"), 10*time.Second, env...)

	sources := samples.Sources(t)
	for _, s := range samples.Load(t) {
		if s.Status != 202 {
			continue
		}
		var resp events.APIGatewayV2HTTPResponse
		if err := fn.Invoke(ctx, s.AtNow(t, sources, time.Now()), &resp); err != nil {
			t.Fatalf("%s: %v", s.File, err)
		}
		var body struct{ Error string }
		_ = json.Unmarshal([]byte(resp.Body), &body)
		if resp.StatusCode != 503 || body.Error == "" {
			t.Errorf("%s: status %d %s, want 503 with an error", s.File, resp.StatusCode, resp.Body)
		}
	}
	if got := receiveAll(t, sqsClient, queueURL); len(got) != 0 {
		t.Fatalf("%d messages enqueued while SQS was unreachable", len(got))
	}
}
