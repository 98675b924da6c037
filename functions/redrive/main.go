// Command redrive is the Lambda operators invoke to replay the dead-letter queue: it
// moves the messages a request selects back to the main queue (send first, delete
// after) and returns a report; a dry run only reports. Input: the request JSON (see
// redrive.Request and events/redrive/), e.g.
//
//	{"dryRun": false, "max": 500, "ratePerSecond": 50, "filter": {"source": "stripe", "type": "payment_intent.*"}}
//
// Output: the redrive.Report JSON. A bad request (unknown field, malformed time,
// negative max; no payload, an empty one or null, where {} is the way to ask for
// every message) returns an error and touches no queue. Settings (environment):
//
//	TENAZ_QUEUE_URL          main queue URL (required)
//	TENAZ_DLQ_URL            dead-letter queue URL (required)
//	TENAZ_IDEMPOTENCY_TABLE  DynamoDB table of idempotency records (optional): when set,
//	                         each replayed event's attempts are reset first (fresh budget)
//	TENAZ_REDRIVE_LIMIT      redriveCount at which a message stays in the DLQ (default 3)
//	TENAZ_BREAKER_TABLE      breaker table (optional): with TENAZ_ROUTES, every report
//	TENAZ_ROUTES             carries the breaker state of each route's destination
//	TENAZ_BODY_BUCKET        S3 bucket of the claim-check body store (optional): a stored
//	                         body is touched before its message is replayed; without it a
//	                         message whose body is stored stays in the DLQ (bodyMissing)
//	TENAZ_LOG_LEVEL          debug | info | warn | error (default info)
//
// AWS endpoints, region and credentials come from the SDK's standard settings.
package main

import (
	"context"
	"log/slog"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tenaz/tenaz/shared/blob"
	"github.com/tenaz/tenaz/shared/breaker"
	breakerstore "github.com/tenaz/tenaz/shared/breaker/dynamostore"
	"github.com/tenaz/tenaz/shared/config"
	"github.com/tenaz/tenaz/shared/idempotency/dynamostore"
	"github.com/tenaz/tenaz/shared/queue"
	"github.com/tenaz/tenaz/shared/redrive"
	"github.com/tenaz/tenaz/shared/telemetry"
)

func main() {
	level, _ := telemetry.ParseLevel(os.Getenv(config.EnvLogLevel))
	log := telemetry.NewLogger(os.Stdout, level).With("fn", "redrive")
	r, err := setup(context.Background(), log)
	if err != nil {
		log.Error("configuration", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(r.Handle)
}

func setup(ctx context.Context, log *slog.Logger) (*redrive.Redriver, error) {
	queueURL, err := config.Required(os.Getenv, config.EnvQueueURL)
	if err != nil {
		return nil, err
	}
	dlqURL, err := config.Required(os.Getenv, config.EnvDLQURL)
	if err != nil {
		return nil, err
	}
	settings, err := redrive.LoadSettings(os.Getenv)
	if err != nil {
		return nil, err
	}
	awsCfg, err := config.AWS(ctx)
	if err != nil {
		return nil, err
	}
	sqsClient := sqs.NewFromConfig(awsCfg)
	ddb := dynamodb.NewFromConfig(awsCfg)
	opts := redrive.Options{
		DLQ:      queue.NewSQS(sqsClient, dlqURL),
		Queue:    queue.NewSQS(sqsClient, queueURL),
		Settings: settings,
		Log:      log,
	}
	if table := strings.TrimSpace(os.Getenv(config.EnvIdempotencyTable)); table != "" {
		opts.Budget = dynamostore.New(table, ddb, dynamostore.Options{})
	} else {
		log.Info("no idempotency table: replayed events keep their attempt counts")
	}
	if table := strings.TrimSpace(os.Getenv(config.EnvBreakerTable)); table != "" {
		cfg, err := config.LoadProcessor(os.Getenv)
		if err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		for _, rt := range cfg.Routes {
			if !seen[rt.Dependency] {
				seen[rt.Dependency] = true
				opts.Dependencies = append(opts.Dependencies, rt.Dependency)
			}
		}
		cfg.Breaker.CacheTTL = -1 // a report reads the current state
		opts.Breakers = breaker.New(breakerstore.New(table, ddb, breakerstore.Options{}), cfg.Breaker)
	}
	if bucket := strings.TrimSpace(os.Getenv(config.EnvBodyBucket)); bucket != "" {
		opts.Bodies = blob.NewS3(blob.NewS3Client(awsCfg), bucket)
	}
	return redrive.New(opts), nil
}
