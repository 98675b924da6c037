// Command dev runs the whole Tenaz pipeline on this machine (`make dev`): the ingest on
// http://127.0.0.1:3000/webhooks/{source}, the processor polling the queue like the
// SQS event source mapping, idempotency records, circuit breakers, a dead-letter
// queue, a demo destination whose behaviour can be switched, and a live view of it
// all at http://127.0.0.1:3000/.
//
//	-addr     listen address, loopback only (default 127.0.0.1:3000)
//	-sources  sources file (default events/sources.json; TENAZ_SOURCES or
//	          TENAZ_SOURCES_SECRET_ID win when set)
//
// By default everything is in memory. With AWS_ENDPOINT_URL set (moto server,
// LocalStack) or any of TENAZ_QUEUE_URL, TENAZ_DLQ_URL, TENAZ_IDEMPOTENCY_TABLE,
// TENAZ_BREAKER_TABLE set, it runs on the AWS APIs instead: SQS for both queues,
// DynamoDB for idempotency records and breakers, region and credentials from the
// SDK's standard settings. On an emulator, whatever is not named is created with the
// prefix tenaz-dev- (reused on the next start); on real AWS nothing is created, and
// the queues and the idempotency table must be named (without TENAZ_BREAKER_TABLE the
// breakers stay in memory).
//
// TENAZ_ROUTES, when set, replaces the default routes (every source to the demo
// destination).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tenaz/tenaz/shared/config"
	"github.com/tenaz/tenaz/shared/config/sources"
	"github.com/tenaz/tenaz/shared/local"
	"github.com/tenaz/tenaz/shared/telemetry"
	"github.com/tenaz/tenaz/shared/webhook"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:3000", "listen address (loopback)")
	sourcesFile := flag.String("sources", "events/sources.json", "sources file (TENAZ_SOURCES format)")
	flag.Parse()
	if err := run(*addr, *sourcesFile); err != nil {
		fmt.Fprintln(os.Stderr, "dev:", err)
		os.Exit(1)
	}
}

func run(addr, sourcesFile string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || !net.ParseIP(host).IsLoopback() {
		return fmt.Errorf("-addr %q: listen on a loopback address only", addr)
	}
	level, _ := telemetry.ParseLevel(os.Getenv(config.EnvLogLevel))
	log := telemetry.NewLogger(os.Stderr, level)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var awsCfg *aws.Config
	if local.UseAWS(os.Getenv) || strings.TrimSpace(os.Getenv(config.EnvSourcesSecretID)) != "" {
		cfg, err := config.AWS(ctx)
		if err != nil {
			return err
		}
		awsCfg = &cfg
	}
	srcs, raw, err := loadSources(ctx, sourcesFile, awsCfg)
	if err != nil {
		return err
	}
	routes, err := config.Routes(os.Getenv)
	if err != nil {
		return err
	}
	base := "http://" + addr
	sender, err := local.NewSender(base, raw)
	if err != nil {
		return fmt.Errorf("sender: %w", err)
	}
	opts := local.Options{Sources: srcs, Routes: routes, DemoURL: base + "/demo/destination", Sender: sender, Log: log}
	where := "in memory (queue, DLQ, idempotency records, breakers)"
	if local.UseAWS(os.Getenv) {
		env, err := openAWS(ctx, *awsCfg)
		if err != nil {
			return err
		}
		opts.Backend, opts.VisibilityTimeout = &env.Backend, env.VisibilityTimeout
		where = describe(env, awsCfg.BaseEndpoint)
	}
	p, err := local.New(opts)
	if err != nil {
		return err
	}

	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: p.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("server", "error", err.Error())
			stop()
		}
	}()
	done := make(chan struct{})
	go func() { _ = p.Run(ctx); close(done) }()

	fmt.Printf(`Tenaz is running locally, %[3]s
  live view:    http://%[1]s/
  webhooks:     POST http://%[1]s/webhooks/{source}   sources: %[2]v
  status:       GET  http://%[1]s/api/status     DLQ: GET http://%[1]s/api/dlq
  DLQ report:   POST http://%[1]s/api/redrive  {"dryRun": true}     replay: {"filter": {"source": "stripe"}}
  destination:  POST http://%[1]s/demo/mode  {"mode": "healthy|flaky|slow|down|reject", "failPercent": 30, "slowMs": 2000}
  burst:        POST http://%[1]s/api/send  {"n": 50, "dup": 0.2}
Send signed samples from another shell:  make send   (or: make send ARGS="-n 50 -dup 0.2")
Stop with Ctrl-C.
`, addr, sortedNames(srcs), where)
	log.Info("started", "addr", addr, "backend", p.Backend)

	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdown)
	<-done
	return nil
}

// loadSources returns the sources and their JSON (the sender signs with it):
// TENAZ_SOURCES or TENAZ_SOURCES_SECRET_ID through sources.Load when either is
// set, else the file.
func loadSources(ctx context.Context, file string, awsCfg *aws.Config) (webhook.Sources, []byte, error) {
	if os.Getenv(config.EnvSources) == "" && os.Getenv(config.EnvSourcesSecretID) == "" {
		raw, err := os.ReadFile(file)
		if err != nil {
			return nil, nil, err
		}
		s, err := webhook.ParseSources(raw)
		return s, raw, err
	}
	var secrets *capture
	var getter sources.SecretGetter
	if awsCfg != nil {
		secrets = &capture{api: secretsmanager.NewFromConfig(*awsCfg)}
		getter = secrets
	}
	s, err := sources.Load(ctx, os.Getenv, getter)
	if err != nil {
		return nil, nil, err
	}
	raw := []byte(os.Getenv(config.EnvSources))
	if len(strings.TrimSpace(string(raw))) == 0 && secrets != nil {
		raw = secrets.value
	}
	return s, raw, nil
}

// capture keeps the secret value sources.Load read, for the sender.
type capture struct {
	api   sources.SecretGetter
	value []byte
}

func (c *capture) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	out, err := c.api.GetSecretValue(ctx, in, opts...)
	if err == nil && out != nil {
		if out.SecretString != nil {
			c.value = []byte(*out.SecretString)
		} else {
			c.value = out.SecretBinary
		}
	}
	return out, err
}

func openAWS(ctx context.Context, cfg aws.Config) (local.AWSEnv, error) {
	setup := local.AWSSetup{
		SQS:       sqs.NewFromConfig(cfg),
		DynamoDB:  dynamodb.NewFromConfig(cfg),
		Resources: local.ResourcesFromEnv(os.Getenv),
		Emulator:  cfg.BaseEndpoint != nil,
	}
	octx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	env, err := setup.Open(octx)
	if err != nil {
		return local.AWSEnv{}, fmt.Errorf("AWS backend: %w", err)
	}
	return env, nil
}

func describe(env local.AWSEnv, endpoint *string) string {
	where := "on AWS"
	if endpoint != nil {
		where = "on the AWS APIs at " + *endpoint
	}
	r := env.Resources
	breakers := r.BreakerTable
	if breakers == "" {
		breakers = "(in memory)"
	}
	s := fmt.Sprintf("%s\n  queue:        %s\n  DLQ:          %s\n  idempotency:  %s\n  breakers:     %s",
		where, r.QueueURL, r.DLQURL, r.IdempotencyTable, breakers)
	if len(env.Created) > 0 {
		s += "\n  created:      " + strings.Join(env.Created, ", ")
	}
	return s
}

func sortedNames(s webhook.Sources) []string {
	names := make([]string, 0, len(s))
	for n := range s {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
