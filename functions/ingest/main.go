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
//	TENAZ_MAX_BODY_BYTES     body limit in bytes (default and most 6291456 = 6 MiB: a body
//	                         reaches the function only if the whole API Gateway or
//	                         function-URL event fits Lambda's 6 MB request payload; text
//	                         travels as a JSON string, which escaping grows, binary as
//	                         base64, so about 4.5 MB of binary. The HTTP API accepts
//	                         10 MB, but Lambda's limit applies first)
//	TENAZ_BODY_BUCKET        S3 bucket of the claim-check body store (optional; without
//	                         it messages travel inline up to 1 MiB, larger ones get 413)
//	TENAZ_INLINE_MAX_BYTES   with a body bucket: the largest message sent with its body
//	                         inline, in bytes (default 458752, 1..1048576); larger
//	                         bodies are stored in the bucket first
//	TENAZ_LOG_LEVEL          debug | info | warn | error (default info)
//
// AWS endpoints, region and credentials come from the SDK's standard settings. With an
// endpoint override (AWS_ENDPOINT_URL: moto server, LocalStack) S3 is addressed
// path-style, as emulators expect.
package main

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/tenaz/tenaz/shared/blob"
	"github.com/tenaz/tenaz/shared/config"
	"github.com/tenaz/tenaz/shared/config/sources"
	"github.com/tenaz/tenaz/shared/ingest"
	"github.com/tenaz/tenaz/shared/queue"
	"github.com/tenaz/tenaz/shared/secrets/awsstore"
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
	// The default is also the most: Lambda cannot receive a larger event.
	maxBody, err := config.Int(os.Getenv, config.EnvMaxBodyBytes, ingest.DefaultMaxBodyBytes, 1, ingest.DefaultMaxBodyBytes)
	if err != nil {
		return nil, err
	}
	inlineMax, err := config.Int(os.Getenv, config.EnvInlineMaxBytes, ingest.DefaultInlineMaxBytes, 1, ingest.MaxMessageBytes)
	if err != nil {
		return nil, err
	}
	bucket := strings.TrimSpace(os.Getenv(config.EnvBodyBucket))
	awsCfg, err := config.AWS(ctx)
	if err != nil {
		return nil, err
	}
	refresh, err := config.Duration(os.Getenv, config.EnvSourcesRefresh, time.Second, sources.DefaultRefresh, 1, 86400)
	if err != nil {
		return nil, err
	}
	catalog, err := sources.NewCatalog(ctx, sources.CatalogOptions{
		Getenv: os.Getenv, Secrets: secretsmanager.NewFromConfig(awsCfg), Parameters: awsstore.NewParameters(ssm.NewFromConfig(awsCfg)),
		Refresh: refresh, Log: log,
	})
	if err != nil {
		return nil, err
	}
	if catalog.Len() == 0 {
		log.Warn("no valid webhook sources configured: every request will get 404")
	}
	o := ingest.Options{
		Catalog:        catalog,
		Queue:          queue.NewSQS(sqs.NewFromConfig(awsCfg), queueURL),
		MaxBodyBytes:   maxBody,
		InlineMaxBytes: inlineMax,
		Log:            log,
	}
	if bucket != "" {
		// No call is made here: the client connects on the first Put.
		o.Bodies = blob.NewS3(blob.NewS3Client(awsCfg), bucket)
	}
	return ingest.New(o), nil
}
