// Command processor is the Lambda behind the webhook queue's event source mapping
// (ReportBatchItemFailures): it runs each record's handler exactly once to completion
// and schedules retries through SQS visibility. Settings (environment):
//
//	TENAZ_QUEUE_URL                main queue URL (required)
//	TENAZ_DLQ_URL                  dead-letter queue URL (required)
//	TENAZ_IDEMPOTENCY_TABLE        DynamoDB table of idempotency records (required)
//	TENAZ_ROUTES                   routes JSON, e.g. [{"source": "stripe", "types": ["payment_intent.*"], "url": "https://…", "timeoutSeconds": 10}]
//	TENAZ_MAX_ATTEMPTS             attempts before dead-lettering (default 8)
//	TENAZ_RETRY_BASE_SECONDS       backoff base in seconds (default 5)
//	TENAZ_RETRY_MAX_SECONDS        backoff cap in seconds (default 900)
//	TENAZ_CONCURRENCY              records of one batch handled at once (default 10)
//	TENAZ_DEADLINE_MARGIN_MS       time kept before the deadline, ms (default 3000)
//	TENAZ_IDEMPOTENCY_RETENTION_H  record retention in hours (default 168)
//	TENAZ_BREAKER_TABLE            DynamoDB table of circuit breaker state (empty: no breakers)
//	TENAZ_BREAKER_FAILURES         failures in a window that open a destination's breaker (default 5)
//	TENAZ_BREAKER_WINDOW_SECONDS   failure window in seconds (default 30)
//	TENAZ_BREAKER_OPEN_SECONDS     open period before one probe, seconds (default 60)
//	TENAZ_BREAKER_CACHE_MS         breaker state cache per container, ms (default 1000)
//	TENAZ_DEFER_MAX_SECONDS        longest deferral while a breaker is open, seconds (default 900)
//	TENAZ_REFUND_MAX_RECEIVES      receives after which a failed probe counts as an attempt (default 150)
//	TENAZ_METRICS_DETAIL           outcome | source | type: EMF outcome counters as totals (default),
//	                               also per source, or also per source and type
//	TENAZ_BODY_BUCKET              S3 bucket of the claim-check body store (optional): a
//	                               message whose body is held there is read from it, and
//	                               the body deleted once the event is done; without it
//	                               such a message is dead-lettered as bodyMissing
//	TENAZ_QUEUE_RETENTION_SECONDS  the main queue's MessageRetentionPeriod in seconds (default 345600, 4 days):
//	                               a record that would come back later than 15 min before it is dead-lettered as expiring
//	TENAZ_SECRET_CACHE_SECONDS     how long a route's signingSecret or header secret is used before it
//	                               is read again, seconds (default 300; 0: read for every delivery)
//	TENAZ_LOG_LEVEL                debug | info | warn | error (default info)
//
// A route's signingSecret and header secrets are read from SSM Parameter Store or
// Secrets Manager (the template grants reads under /tenaz/<stack>/deliveries/ and
// tenaz/<stack>/deliveries/ only); the clients are made only when a route names one.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/tenaz/tenaz/shared/blob"
	"github.com/tenaz/tenaz/shared/breaker"
	breakerstore "github.com/tenaz/tenaz/shared/breaker/dynamostore"
	"github.com/tenaz/tenaz/shared/config"
	"github.com/tenaz/tenaz/shared/forward"
	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/idempotency/dynamostore"
	"github.com/tenaz/tenaz/shared/processor"
	"github.com/tenaz/tenaz/shared/queue"
	"github.com/tenaz/tenaz/shared/ratelimit"
	ratestore "github.com/tenaz/tenaz/shared/ratelimit/dynamostore"
	"github.com/tenaz/tenaz/shared/route"
	"github.com/tenaz/tenaz/shared/secrets"
	"github.com/tenaz/tenaz/shared/secrets/awsstore"
	"github.com/tenaz/tenaz/shared/telemetry"
)

func main() {
	level, _ := telemetry.ParseLevel(os.Getenv(config.EnvLogLevel))
	log := telemetry.NewLogger(os.Stdout, level).With("fn", "processor")
	p, err := setup(context.Background(), log)
	if err != nil {
		log.Error("configuration", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(p.Handle)
}

func setup(ctx context.Context, log *slog.Logger) (*processor.Processor, error) {
	queueURL, err := config.Required(os.Getenv, config.EnvQueueURL)
	if err != nil {
		return nil, err
	}
	dlqURL, err := config.Required(os.Getenv, config.EnvDLQURL)
	if err != nil {
		return nil, err
	}
	table, err := config.Required(os.Getenv, config.EnvIdempotencyTable)
	if err != nil {
		return nil, err
	}
	cfg, err := config.LoadProcessor(os.Getenv)
	if err != nil {
		return nil, err
	}
	awsCfg, err := config.AWS(ctx)
	if err != nil {
		return nil, err
	}
	stores := secrets.Stores{Env: secrets.Getenv(os.Getenv)}
	if routesUse(cfg.Routes, secrets.KindSSM) {
		stores.SSM = awsstore.NewParameters(ssm.NewFromConfig(awsCfg))
	}
	if routesUse(cfg.Routes, secrets.KindSecretsManager) {
		stores.SecretsManager = awsstore.NewSecrets(secretsmanager.NewFromConfig(awsCfg))
	}
	fwd := forward.Options{Secrets: secrets.NewCache(stores, secrets.Options{TTL: cfg.SecretCache, Log: log})}
	routes, err := route.Build(cfg.Routes, map[string]func(route.Config) (route.Handler, error){
		"forward": func(rc route.Config) (route.Handler, error) { return forward.Build(rc, fwd) },
	})
	if err != nil {
		return nil, err
	}
	sqsClient := sqs.NewFromConfig(awsCfg)
	ddb := dynamodb.NewFromConfig(awsCfg)
	store := dynamostore.New(table, ddb, dynamostore.Options{})
	opts := processor.Options{
		Runner:     idempotency.NewRunner(store, idempotency.Settings{Retention: cfg.Retention}),
		Router:     routes,
		Visibility: queue.NewSQS(sqsClient, queueURL),
		DeadLetter: queue.NewSQS(sqsClient, dlqURL),
		Settings: processor.Settings{MaxAttempts: cfg.MaxAttempts, RetryBase: cfg.RetryBase, RetryMax: cfg.RetryMax,
			Concurrency: cfg.Concurrency, DeadlineMargin: cfg.DeadlineMargin, DeferMax: cfg.DeferMax, RefundMaxReceives: cfg.RefundMaxReceives,
			QueueRetention: cfg.QueueRetention},
		DeadLetters:   store,
		Records:       store,
		Log:           log,
		Metrics:       os.Stdout,
		MetricsDetail: cfg.MetricsDetail,
	}
	if breakerTable := os.Getenv(config.EnvBreakerTable); breakerTable != "" {
		set := cfg.Breaker
		set.OnTransition, set.OnStoreError = processor.BreakerTelemetry(log, os.Stdout)
		opts.Breakers = breaker.New(breakerstore.New(breakerTable, ddb, breakerstore.Options{}), set)
		opts.Attempts = store
		// Routes with a ratePerSecond share their windows through the same table.
		opts.Limiter = ratelimit.New(ratestore.New(breakerTable, ddb), ratelimit.Settings{})
	} else {
		for _, rc := range cfg.Routes {
			if rc.RatePerSecond > 0 {
				return nil, fmt.Errorf("route %s (%s): ratePerSecond needs %s, the table its windows are kept in", rc.Name, rc.Source, config.EnvBreakerTable)
			}
		}
	}
	if bucket := strings.TrimSpace(os.Getenv(config.EnvBodyBucket)); bucket != "" {
		opts.Bodies = blob.NewS3(blob.NewS3Client(awsCfg), bucket)
	}
	return processor.New(opts), nil
}

// routesUse reports whether a route names a secret of kind k.
func routesUse(routes []route.Config, k secrets.Kind) bool {
	uses := func(raw string) bool {
		ref, err := secrets.ParseRef(raw)
		return err == nil && ref.Kind == k
	}
	for _, rc := range routes {
		if uses(rc.SigningSecret) {
			return true
		}
		for _, h := range rc.Headers {
			if uses(h.Secret) {
				return true
			}
		}
	}
	return false
}
