//go:build integration

package billing_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tenaz/tenaz/shared/blob"
	"github.com/tenaz/tenaz/shared/breaker"
	breakerstore "github.com/tenaz/tenaz/shared/breaker/dynamostore"
	"github.com/tenaz/tenaz/shared/config"
	"github.com/tenaz/tenaz/shared/config/sources"
	"github.com/tenaz/tenaz/shared/esm"
	"github.com/tenaz/tenaz/shared/forward"
	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/idempotency/dynamostore"
	"github.com/tenaz/tenaz/shared/ingest"
	"github.com/tenaz/tenaz/shared/internal/awstest"
	"github.com/tenaz/tenaz/shared/internal/billing"
	"github.com/tenaz/tenaz/shared/internal/samples"
	"github.com/tenaz/tenaz/shared/processor"
	"github.com/tenaz/tenaz/shared/queue"
	"github.com/tenaz/tenaz/shared/redrive"
	"github.com/tenaz/tenaz/shared/route"
	"github.com/tenaz/tenaz/shared/telemetry"
	"github.com/tenaz/tenaz/shared/webhook"
)

// Timing of the functions and the event source mapping stand-in. The timeouts are
// shorter than the template's (ingest 10 s, processor 30 s, redrive 300 s) so that
// a hang fails the test quickly; no request count depends on them.
const (
	batchSize        = 10 // records per processor invocation: the template's BatchSize
	pollWait         = 2 * time.Second
	ingestTimeout    = 10 * time.Second
	processorTimeout = 10 * time.Second
	redriveTimeout   = 30 * time.Second
	// queueVisibility is the main queue's visibility timeout: 6 x the processor's
	// timeout, as in the template.
	queueVisibility = 6 * processorTimeout
	// maxReceiveCount is the main queue's redrive backstop, the template's default.
	maxReceiveCount = 200
	// settle bounds the wait for one scenario's webhooks to reach their outcome.
	settle = 20 * time.Second
	// bodyBytes is the size of a webhook body unless a scenario says otherwise: the
	// 2 KB webhook the cost model prices.
	bodyBytes = 2048
	source    = "stripe"
	eventType = "payment_intent.succeeded"
)

var receiveOp = billing.Op{Service: billing.ServiceSQS, Operation: "ReceiveMessage"}

// pipeline is one Tenaz deployment on moto, run in-process: ingest, the processor
// behind an event source mapping stand-in, and redrive, each wired as its Lambda
// main wires it, every AWS client made from one configuration that counts.
type pipeline struct {
	t *testing.T

	// all counts every request of the functions and the event source mapping;
	// breakerCalls counts the breaker store's alone (its client carries both).
	all, breakerCalls *billing.Counter
	// adminSQS and adminDDB set up and inspect; they are not counted.
	adminSQS *sqs.Client
	adminDDB *dynamodb.Client
	adminS3  *s3.Client

	// bucket holds the claim-checked bodies, those whose message exceeds ingest's
	// inline limit.
	bucket string

	mainURL, dlqURL, arn    string
	idemTable, breakerTable string
	env                     map[string]string
	sources                 webhook.Sources
	dest                    *destination
	dependency              string // the route's breaker name: the destination's host

	ingest   *ingest.Service
	proc     *processor.Processor
	redriver *redrive.Redriver
	poller   *esm.Poller

	// Billed units counted outside the SDK, since the last begin.
	apiRequests                    atomic.Int64 // HTTP API requests
	ingestInv, procInv, redriveInv atomic.Int64 // Lambda invocations
	idleReceives                   atomic.Int64 // event source mapping receives that found nothing
	logs                           byteCount    // what the functions wrote to stdout
	mu                             sync.Mutex
	outcomes                       map[string]int // processor outcome[/reason] since the last begin
	bodies                         map[string][]byte
	bodySize                       int          // bytes of the bodies made from now on
	itemMax                        atomic.Int64 // largest idempotency item seen, bytes
	sampleItems                    atomic.Bool  // the destination reads each record while its attempt runs
}

// fanOutRoutes is TENAZ_ROUTES sending every Stripe payment intent to n destinations
// ({dest} is the destination server).
func fanOutRoutes(n int) string {
	names := []string{"orders", "analytics", "crm"}[:n]
	var rs []route.Config
	for _, name := range names {
		rs = append(rs, route.Config{Source: source, Name: name, Types: []string{"payment_intent.*"}, URL: "{dest}/hooks/" + name, TimeoutSeconds: 5})
	}
	raw, _ := json.Marshal(rs)
	return string(raw)
}

// newPipeline creates the queues (the main one with a redrive policy to the DLQ),
// the idempotency and breaker tables and a destination, and wires the functions
// with the processor's environment changed by env.
func newPipeline(t *testing.T, env map[string]string) *pipeline {
	t.Helper()
	ctx := context.Background()
	admin := awstest.Config(t)
	p := &pipeline{t: t, all: billing.NewCounter(), breakerCalls: billing.NewCounter(),
		adminSQS: sqs.NewFromConfig(admin), adminDDB: dynamodb.NewFromConfig(admin),
		adminS3: s3.NewFromConfig(admin, func(o *s3.Options) { o.UsePathStyle = true }),
		sources: samples.Sources(t), outcomes: map[string]int{}, bodies: map[string][]byte{}, bodySize: bodyBytes}
	p.dest = newDestination(t, p.observeItem)

	dlq, err := p.adminSQS.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(awstest.Name(t, "billing-dlq")),
		Attributes: map[string]string{string(sqstypes.QueueAttributeNameMessageRetentionPeriod): "1209600"}})
	if err != nil {
		t.Fatal(err)
	}
	p.dlqURL = aws.ToString(dlq.QueueUrl)
	dlqARN, err := queue.NewSQS(p.adminSQS, p.dlqURL).ARN(ctx)
	if err != nil {
		t.Fatal(err)
	}
	policy, _ := json.Marshal(map[string]string{"deadLetterTargetArn": dlqARN, "maxReceiveCount": strconv.Itoa(maxReceiveCount)})
	main, err := p.adminSQS.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(awstest.Name(t, "billing-webhooks")),
		Attributes: map[string]string{
			string(sqstypes.QueueAttributeNameVisibilityTimeout): strconv.Itoa(int(queueVisibility / time.Second)),
			string(sqstypes.QueueAttributeNameRedrivePolicy):     string(policy),
		}})
	if err != nil {
		t.Fatal(err)
	}
	p.mainURL = aws.ToString(main.QueueUrl)
	if p.arn, err = queue.NewSQS(p.adminSQS, p.mainURL).ARN(ctx); err != nil {
		t.Fatal(err)
	}
	p.idemTable, p.breakerTable = awstest.Name(t, "billing-idempotency"), awstest.Name(t, "billing-breakers")
	if err := dynamostore.CreateTable(ctx, p.adminDDB, p.idemTable, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := breakerstore.CreateTable(ctx, p.adminDDB, p.breakerTable, 10*time.Second); err != nil {
		t.Fatal(err)
	}

	p.bucket = awstest.Name(t, "billing-bodies")
	if _, err := p.adminS3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(p.bucket)}); err != nil {
		t.Fatal(err)
	}

	routes, _ := json.Marshal([]route.Config{{Source: source, Types: []string{"payment_intent.*"}, URL: p.dest.srv.URL + "/hooks/stripe", TimeoutSeconds: 5}})
	p.dependency = strings.TrimPrefix(p.dest.srv.URL, "http://")
	p.env = map[string]string{
		config.EnvQueueURL:         p.mainURL,
		config.EnvSources:          string(samples.SourcesJSON(t)),
		config.EnvLogLevel:         "info", // the template's default
		config.EnvDLQURL:           p.dlqURL,
		config.EnvIdempotencyTable: p.idemTable,
		config.EnvBreakerTable:     p.breakerTable,
		config.EnvRoutes:           string(routes),
		// A retried record is visible again after 1 s instead of up to 5 s.
		config.EnvRetryBase: "1",
		config.EnvRetryMax:  "1",
	}
	for k, v := range env {
		p.env[k] = strings.ReplaceAll(v, "{dest}", p.dest.srv.URL) // routes of a scenario's own
	}
	p.wire(ctx)
	return p
}

// wire builds the three functions as functions/*/main.go do, on the counted
// configuration, each logging to the pipeline's byte count as it would to stdout.
// Two additions change no request: the processor's Observe hook counts outcomes,
// and the breaker store's client carries a second counter.
func (p *pipeline) wire(ctx context.Context) {
	t := p.t
	getenv := func(name string) string { return p.env[name] }
	cfg := p.all.Config(awstest.Config(t))
	level, _ := telemetry.ParseLevel(getenv(config.EnvLogLevel))
	sqsClient := sqs.NewFromConfig(cfg)
	ddb := dynamodb.NewFromConfig(cfg)
	// The breaker store's client is the same but for a second counter, so that its
	// requests can be told from the idempotency store's.
	breakerDDB := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.APIOptions = append(slices.Clip(o.APIOptions), p.breakerCalls.Add)
	})

	// functions/ingest
	maxBody, err := config.Int(getenv, config.EnvMaxBodyBytes, ingest.DefaultMaxBodyBytes, 1, ingest.MaxMessageBytes)
	if err != nil {
		t.Fatal(err)
	}
	srcs, err := sources.Load(ctx, getenv, secretsmanager.NewFromConfig(cfg))
	if err != nil {
		t.Fatal(err)
	}
	bodies := blob.NewS3(blob.NewS3Client(cfg), p.bucket)
	p.ingest = ingest.New(ingest.Options{Sources: srcs, Queue: queue.NewSQS(sqsClient, p.mainURL), MaxBodyBytes: maxBody,
		Bodies: bodies, Log: telemetry.NewLogger(&p.logs, level).With("fn", "ingest")})

	// functions/processor
	pcfg, err := config.LoadProcessor(getenv)
	if err != nil {
		t.Fatal(err)
	}
	registry, err := route.Build(pcfg.Routes, map[string]func(route.Config) (route.Handler, error){
		"forward": func(rc route.Config) (route.Handler, error) { return forward.FromConfig(rc, nil), nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	plog := telemetry.NewLogger(&p.logs, level).With("fn", "processor")
	store := dynamostore.New(p.idemTable, ddb, dynamostore.Options{})
	set := pcfg.Breaker
	set.OnTransition, set.OnStoreError = processor.BreakerTelemetry(plog, &p.logs)
	p.proc = processor.New(processor.Options{
		Runner:     idempotency.NewRunner(store, idempotency.Settings{Retention: pcfg.Retention}),
		Router:     registry,
		Visibility: queue.NewSQS(sqsClient, p.mainURL),
		DeadLetter: queue.NewSQS(sqsClient, p.dlqURL),
		Settings: processor.Settings{MaxAttempts: pcfg.MaxAttempts, RetryBase: pcfg.RetryBase, RetryMax: pcfg.RetryMax,
			Concurrency: pcfg.Concurrency, DeadlineMargin: pcfg.DeadlineMargin, DeferMax: pcfg.DeferMax, RefundMaxReceives: pcfg.RefundMaxReceives},
		Log:      plog,
		Metrics:  &p.logs,
		Breakers: breaker.New(breakerstore.New(p.breakerTable, breakerDDB, breakerstore.Options{}), set),
		Attempts: store,
		Records:  store,
		Bodies:   bodies,
		Observe:  p.observe,
	})

	// functions/redrive
	rset, err := redrive.LoadSettings(getenv)
	if err != nil {
		t.Fatal(err)
	}
	rcfg := pcfg.Breaker
	rcfg.CacheTTL = -1 // a report reads the current state
	var deps []string
	for _, rt := range pcfg.Routes {
		if !slices.Contains(deps, rt.Dependency) {
			deps = append(deps, rt.Dependency)
		}
	}
	p.redriver = redrive.New(redrive.Options{
		DLQ:          queue.NewSQS(sqsClient, p.dlqURL),
		Queue:        queue.NewSQS(sqsClient, p.mainURL),
		Budget:       dynamostore.New(p.idemTable, ddb, dynamostore.Options{}),
		Dependencies: deps,
		Breakers:     breaker.New(breakerstore.New(p.breakerTable, breakerDDB, breakerstore.Options{}), rcfg),
		Settings:     rset,
		Log:          telemetry.NewLogger(&p.logs, level).With("fn", "redrive"),
	})

	// The event source mapping: batches of 10, no batching window, the queue's own
	// visibility timeout. It knows the queue's ARN, as Lambda does.
	p.poller, err = esm.New(esm.Options{
		Queue:          idleCounting{Queue: queue.NewSQS(sqsClient, p.mainURL), idle: &p.idleReceives},
		Invoke:         p.invokeProcessor,
		EventSourceARN: p.arn,
		BatchSize:      batchSize,
		PollWait:       pollWait,
		InvokeTimeout:  processorTimeout,
		Log:            slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
}

// idleCounting is the event source mapping's queue, counting the receives that
// found nothing: the mapping polls an idle queue all the time, a cost the bill
// prices per month, not per webhook.
type idleCounting struct {
	esm.Queue
	idle *atomic.Int64
}

func (q idleCounting) Receive(ctx context.Context, max int, wait, visibility time.Duration) ([]queue.Received, error) {
	got, err := q.Queue.Receive(ctx, max, wait, visibility)
	if err == nil && len(got) == 0 {
		q.idle.Add(1)
	}
	return got, err
}

// invocation is the context Lambda gives a function: its deadline and request id.
func invocation(timeout time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	return lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: requestID()}), cancel
}

// requestID is a Lambda request id: a random UUID.
func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func (p *pipeline) invokeProcessor(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	p.procInv.Add(1)
	return p.proc.Handle(lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: requestID()}), ev)
}

func (p *pipeline) observe(r processor.Result) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.outcomes[string(r.Outcome)]++
	if r.Reason != "" {
		p.outcomes[string(r.Outcome)+"/"+r.Reason]++
	}
}

// outcome is how many records had outcome (or "outcome/reason") since begin.
func (p *pipeline) outcome(o string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.outcomes[o]
}

// begin starts counting a scenario from zero.
func (p *pipeline) begin() {
	p.all.Reset()
	p.breakerCalls.Reset()
	for _, c := range []*atomic.Int64{&p.apiRequests, &p.ingestInv, &p.procInv, &p.redriveInv, &p.idleReceives} {
		c.Store(0)
	}
	p.logs.n.Store(0)
	p.mu.Lock()
	p.outcomes = map[string]int{}
	p.mu.Unlock()
}

// usage is what the scenario used since begin. Receives of the event source mapping
// that found nothing are left out (see idleCounting).
func (p *pipeline) usage(t *testing.T) billing.Usage {
	t.Helper()
	idle := int(p.idleReceives.Load())
	if idle > 0 {
		t.Logf("%d receives of the event source mapping found nothing; left out", idle)
	}
	reqs := p.all.Snapshot().Sub(billing.Counts{receiveOp: idle})
	// An empty receive is one chunk.
	chunks := p.all.Chunks().Sub(billing.Counts{receiveOp: idle})
	return billing.Usage{
		APIGateway: int(p.apiRequests.Load()),
		Invocations: map[string]int{billing.FnIngest: int(p.ingestInv.Load()), billing.FnProcessor: int(p.procInv.Load()),
			billing.FnRedrive: int(p.redriveInv.Load())},
		Requests:  reqs,
		SQSChunks: chunks,
		LogBytes:  int(p.logs.n.Load()),
	}
}

// newIDs returns n Stripe event ids.
func newIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = "evt_" + rand.Text()[:24]
	}
	return ids
}

// body is the webhook of id: a payment_intent.succeeded event of p.bodySize bytes
// (when it was first made), made once and then the same on every delivery, as
// Stripe redelivers it.
func (p *pipeline) body(id string) []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	if b, ok := p.bodies[id]; ok {
		return b
	}
	ev := map[string]any{
		"id": id, "object": "event", "api_version": "2024-06-20", "created": time.Now().Unix(), "type": eventType,
		"livemode": false, "pending_webhooks": 1, "request": map[string]any{"id": nil, "idempotency_key": nil},
		"data": map[string]any{"object": map[string]any{
			"id": "pi_" + strings.TrimPrefix(id, "evt_"), "object": "payment_intent", "amount": 2000, "currency": "usd",
			"status": "succeeded", "description": "",
		}},
	}
	b, _ := json.Marshal(ev)
	ev["data"].(map[string]any)["object"].(map[string]any)["description"] = strings.Repeat("x", p.bodySize-len(b))
	b, _ = json.Marshal(ev)
	if len(b) != p.bodySize {
		p.t.Fatalf("webhook body of %d bytes, want %d", len(b), p.bodySize)
	}
	p.bodies[id] = b
	return b
}

// post sends the webhook of id as the provider does, signed now, through the HTTP API
// to ingest, and requires 202: the webhook is on the queue.
func (p *pipeline) post(id string) {
	p.t.Helper()
	body := p.body(id)
	h := map[string]string{"content-type": "application/json; charset=utf-8", "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)"}
	if err := p.sources[source].Sign(h, body, time.Now()); err != nil {
		p.t.Fatal(err)
	}
	path := "/webhooks/" + source
	req := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "POST /webhooks/{source}", RawPath: path, Headers: h, Body: string(body),
		PathParameters: map[string]string{"source": source},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey: "POST /webhooks/{source}", Stage: "$default", RequestID: requestID(), TimeEpoch: time.Now().UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: http.MethodPost, Path: path, Protocol: "HTTP/1.1",
				SourceIP: "203.0.113.7", UserAgent: h["user-agent"]},
		},
	}
	p.apiRequests.Add(1)
	p.ingestInv.Add(1)
	ctx, cancel := invocation(ingestTimeout)
	defer cancel()
	resp, err := p.ingest.HandleAPIGateway(ctx, req)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		p.t.Fatalf("ingest %s: status %d, err %v: %s", id, resp.StatusCode, err, resp.Body)
	}
}

// replay invokes the redrive function once with req and returns its report.
func (p *pipeline) replay(req string) redrive.Report {
	p.t.Helper()
	p.redriveInv.Add(1)
	ctx, cancel := invocation(redriveTimeout)
	defer cancel()
	rep, err := p.redriver.Handle(ctx, json.RawMessage(req))
	if err != nil {
		p.t.Fatalf("redrive %s: %v", req, err)
	}
	return rep
}

// pollUntil runs the event source mapping, one batch at a time, until done holds.
func (p *pipeline) pollUntil(what string, done func() bool) {
	p.t.Helper()
	deadline := time.Now().Add(settle)
	for !done() {
		if time.Now().After(deadline) {
			p.t.Fatalf("gave up after %v waiting for %s (outcomes %v)", settle, what, p.outcomesCopy())
		}
		if _, err := p.poller.PollOnce(context.Background()); err != nil {
			p.t.Fatalf("event source mapping: %v", err)
		}
	}
}

func (p *pipeline) outcomesCopy() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]int{}
	for k, v := range p.outcomes {
		out[k] = v
	}
	return out
}

// depth is the message count of the queue at url, in every state.
func (p *pipeline) depth(url string) int {
	p.t.Helper()
	d, err := queue.NewSQS(p.adminSQS, url).Depth(context.Background())
	if err != nil {
		p.t.Fatal(err)
	}
	return d.Total()
}

// record reads the idempotency record of id; absent is nil.
func (p *pipeline) record(id string) *idempotency.Record {
	p.t.Helper()
	rec, err := dynamostore.New(p.idemTable, p.adminDDB, dynamostore.Options{}).Get(context.Background(), source+":"+id, time.Now())
	if errors.Is(err, idempotency.ErrNotFound) {
		return nil
	}
	if err != nil {
		p.t.Fatal(err)
	}
	return &rec
}

// observeItem notes the size of key's idempotency item when sampling is on: the
// destination calls it while the attempt runs, when the record holds its lease.
func (p *pipeline) observeItem(key string) {
	if !p.sampleItems.Load() {
		return
	}
	out, err := p.adminDDB.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(p.idemTable),
		Key: map[string]ddbtypes.AttributeValue{dynamostore.AttrID: &ddbtypes.AttributeValueMemberS{Value: key}}, ConsistentRead: aws.Bool(true)})
	if err != nil || out.Item == nil {
		p.t.Errorf("read the record of %s during its attempt: %v (found %v)", key, err, out != nil && out.Item != nil)
		return
	}
	p.noteItem(billing.ItemSize(out.Item))
}

func (p *pipeline) noteItem(n int) {
	for {
		cur := p.itemMax.Load()
		if int64(n) <= cur || p.itemMax.CompareAndSwap(cur, int64(n)) {
			return
		}
	}
}

// scanItems notes the size of every idempotency item as stored now.
func (p *pipeline) scanItems() {
	p.t.Helper()
	pages := dynamodb.NewScanPaginator(p.adminDDB, &dynamodb.ScanInput{TableName: aws.String(p.idemTable)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(context.Background())
		if err != nil {
			p.t.Fatal(err)
		}
		for _, item := range page.Items {
			p.noteItem(billing.ItemSize(item))
		}
	}
}

// deadLetters receives every message of the DLQ (at most want), then makes them
// visible again for a replay.
func (p *pipeline) deadLetters(want int) []queue.Received {
	p.t.Helper()
	ctx := context.Background()
	dlq := queue.NewSQS(p.adminSQS, p.dlqURL)
	var got []queue.Received
	seen := map[string]bool{}
	for len(got) < want {
		msgs, err := dlq.Receive(ctx, queue.MaxBatch, time.Second, 30*time.Second)
		if err != nil {
			p.t.Fatal(err)
		}
		if len(msgs) == 0 {
			break
		}
		for _, m := range msgs {
			if !seen[m.ID] {
				seen[m.ID] = true
				got = append(got, m)
			}
		}
	}
	for chunk := range slices.Chunk(got, queue.MaxBatch) {
		changes := make([]queue.VisibilityChange, len(chunk))
		for i, m := range chunk {
			changes[i] = queue.VisibilityChange{ReceiptHandle: m.ReceiptHandle}
		}
		res, err := dlq.ChangeVisibilityBatch(ctx, changes)
		if err != nil {
			p.t.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				p.t.Fatal(r.Err)
			}
		}
	}
	return got
}

// byteCount is a function's stdout: it counts the bytes written.
type byteCount struct{ n atomic.Int64 }

func (b *byteCount) Write(p []byte) (int, error) {
	b.n.Add(int64(len(p)))
	return len(p), nil
}

// destination is the route's endpoint. answer gives the status of a key's n-th
// request (from 1); a 2xx answer applies the event.
type destination struct {
	srv *httptest.Server

	mu       sync.Mutex
	answer   func(n int) int
	requests map[string]int // by Idempotency-Key
	applied  map[string]int // 2xx answers by Idempotency-Key
}

func accept(int) int { return http.StatusOK }
func refuse(int) int { return http.StatusBadRequest }

// failFirst fails a key's first request with 503 and accepts the next.
func failFirst(n int) int {
	if n == 1 {
		return http.StatusServiceUnavailable
	}
	return http.StatusOK
}

// newDestination serves the route; during returns before the answer, while the
// attempt holds its lease.
func newDestination(t *testing.T, during func(key string)) *destination {
	d := &destination{answer: accept, requests: map[string]int{}, applied: map[string]int{}}
	d.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		key := r.Header.Get(forward.HeaderIdempotencyKey)
		during(key)
		d.mu.Lock()
		d.requests[key]++
		status := d.answer(d.requests[key])
		if status < 300 {
			d.applied[key]++
		}
		d.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(d.srv.Close)
	return d
}

func (d *destination) set(answer func(int) int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.answer = answer
}

// counts returns the requests and applications of id's event.
func (d *destination) counts(id string) (requests, applied int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.requests[source+":"+id], d.applied[source+":"+id]
}

// total is every request the destination received.
func (d *destination) total() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, v := range d.requests {
		n += v
	}
	return n
}

// readsBound is the most breaker store reads one container may make in elapsed:
// one per cache TTL, and one more for the window the scenario started in.
func readsBound(elapsed, ttl time.Duration) int {
	return int(math.Ceil(float64(elapsed)/float64(ttl))) + 1
}

// objects is the number of bodies in the bucket.
func (p *pipeline) objects() int {
	p.t.Helper()
	out, err := p.adminS3.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(p.bucket)})
	if err != nil {
		p.t.Fatal(err)
	}
	return len(out.Contents)
}
