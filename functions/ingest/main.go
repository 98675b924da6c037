// Command ingest is the Lambda behind POST /webhooks/{source}: it verifies each
// webhook and puts it on the queue. Settings (environment):
//
//	TENAZ_QUEUE_URL          main queue URL (required)
//	TENAZ_SOURCES            sources JSON, inline; or
//	TENAZ_SOURCES_PARAMETER  SSM parameter (SecureString, read decrypted) holding it; or
//	TENAZ_SOURCES_SECRET_ID  Secrets Manager secret holding it
//	TENAZ_SOURCES_REFRESH_SECONDS  seconds before the parameter or secret is read again
//	                         (default 300, 1..86400); a failed signature re-reads it at
//	                         once, at most once per 10 s. An invalid source is logged
//	                         and answers 404.
//	TENAZ_MAX_BODY_BYTES     body limit in bytes (default 262144, at most 1 MiB)
//	TENAZ_LOG_LEVEL          debug | info | warn | error (default info)
//
// AWS endpoints, region and credentials come from the SDK's standard settings.
package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tenaz/tenaz/shared/config"
	"github.com/tenaz/tenaz/shared/config/sources"
	"github.com/tenaz/tenaz/shared/ingest"
	"github.com/tenaz/tenaz/shared/queue"
	"github.com/tenaz/tenaz/shared/telemetry"
)

func main() {
	level, _ := telemetry.ParseLevel(os.Getenv(config.EnvLogLevel))
	log := telemetry.NewLogger(os.Stdout, level).With("fn", "ingest")
	svc, err := setup(context.Background(), log)
	if err != nil {
		log.Error("configuration", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(svc.HandleAPIGateway)
}

func setup(ctx context.Context, log *slog.Logger) (*ingest.Service, error) {
	queueURL, err := config.Required(os.Getenv, config.EnvQueueURL)
	if err != nil {
		return nil, err
	}
	maxBody, err := config.Int(os.Getenv, config.EnvMaxBodyBytes, ingest.DefaultMaxBodyBytes, 1, ingest.MaxMessageBytes)
	if err != nil {
		return nil, err
	}
	awsCfg, err := config.AWS(ctx)
	if err != nil {
		return nil, err
	}
	refresh, err := config.Duration(os.Getenv, config.EnvSourcesRefresh, time.Second, sources.DefaultRefresh, 1, 86400)
	if err != nil {
		return nil, err
	}
	catalog, err := sources.NewCatalog(ctx, sources.CatalogOptions{
		Getenv: os.Getenv, Secrets: secretsmanager.NewFromConfig(awsCfg), Parameters: sources.NewParameterStore(awsCfg, os.Getenv("AWS_ENDPOINT_URL_SSM")),
		Refresh: refresh, Log: log,
	})
	if err != nil {
		return nil, err
	}
	if catalog.Len() == 0 {
		log.Warn("no valid webhook sources configured: every request will get 404")
	}
	return ingest.New(ingest.Options{
		Catalog:      catalog,
		Queue:        queue.NewSQS(sqs.NewFromConfig(awsCfg), queueURL),
		MaxBodyBytes: maxBody,
		Log:          log,
	}), nil
}
