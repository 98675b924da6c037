//go:build integration

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	breakerstore "github.com/tenaz/tenaz/shared/breaker/dynamostore"
	"github.com/tenaz/tenaz/shared/config"
	"github.com/tenaz/tenaz/shared/esm"
	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/idempotency/dynamostore"
	"github.com/tenaz/tenaz/shared/internal/awstest"
	"github.com/tenaz/tenaz/shared/internal/lambdatest"
	"github.com/tenaz/tenaz/shared/internal/samples"
	"github.com/tenaz/tenaz/shared/processor"
	"github.com/tenaz/tenaz/shared/queue"
	"github.com/tenaz/tenaz/shared/route"
)

// Timing of the processor under test. The handler's context ends DeadlineMargin
// before the invocation deadline, and the idempotency lease ends with it: a lease
// lasts processorTimeout-deadlineMargin = 3 s from the start of an invocation.
const (
	processorTimeout = 4 * time.Second
	deadlineMargin   = time.Second
	// queueVisibility is the main queue's visibility timeout, seconds: what a record
	// of a failed invocation waits before it is delivered again.
	queueVisibility = 6
	// maxReceiveCount is the main queue's redrive backstop; the processor
	// dead-letters on its own long before.
	maxReceiveCount = 10
	// settle bounds every wait for the pipeline to reach a state.
	settle = 20 * time.Second
)

// pipeline is one isolated Tenaz deployment on moto: a main queue with a redrive
// policy to its dead-letter queue, an idempotency table, optionally a breaker table,
// and the environment of the ingest and processor functions that use them.
type pipeline struct {
	t       *testing.T
	sqs     *sqs.Client
	ddb     *dynamodb.Client
	main    *queue.SQS
	dlq     *queue.SQS
	arn     string // of the main queue
	store   *dynamostore.Store
	procEnv []string
	// breakerTable is the breaker table the processor uses; empty without breakers.
	breakerTable string
	// bucket is the body bucket every function names (TENAZ_BODY_BUCKET); empty
	// without one. s3 is a client of it.
	bucket string
	s3     *s3.Client
	// fnEnv is what the ingest and redrive functions get beside their own settings.
	fnEnv []string

	ingestOnce sync.Once
	ingestFn   *lambdatest.Function
}

// pipelineOptions change what newPipelineWith deploys; the zero value is
// newPipeline's deployment.
type pipelineOptions struct {
	// maxReceiveCount is the main queue's redrive backstop; 0 is maxReceiveCount.
	maxReceiveCount int
	// breakers creates a breaker table and names it to the processor
	// (TENAZ_BREAKER_TABLE): each route's destination is then guarded by its breaker.
	breakers bool
	// env is added to the processor's environment after the pipeline's own settings,
	// so a setting here replaces one of those.
	env []string
	// bodies creates a body bucket and names it to every function
	// (TENAZ_BODY_BUCKET): messages over the inline limit go through it.
	bodies bool
}

// newPipeline creates the queues and the table and prepares the processor's
// environment with routes.
func newPipeline(t *testing.T, routes []route.Config) *pipeline {
	t.Helper()
	return newPipelineWith(t, routes, pipelineOptions{})
}

// newPipelineWith is newPipeline changed by o.
func newPipelineWith(t *testing.T, routes []route.Config, o pipelineOptions) *pipeline {
	t.Helper()
	if o.maxReceiveCount == 0 {
		o.maxReceiveCount = maxReceiveCount
	}
	ctx := context.Background()
	cfg := awstest.Config(t)
	client := sqs.NewFromConfig(cfg)
	dlqURL := createQueue(t, client, "tenaz-dlq")
	dlq := queue.NewSQS(client, dlqURL)
	dlqARN, err := dlq.ARN(ctx)
	if err != nil {
		t.Fatal(err)
	}
	redrive, _ := json.Marshal(map[string]string{"deadLetterTargetArn": dlqARN, "maxReceiveCount": fmt.Sprint(o.maxReceiveCount)})
	out, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{
		QueueName: aws.String(awstest.Name(t, "tenaz-webhooks")),
		Attributes: map[string]string{
			string(types.QueueAttributeNameVisibilityTimeout): fmt.Sprint(queueVisibility),
			string(types.QueueAttributeNameRedrivePolicy):     string(redrive),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	main := queue.NewSQS(client, aws.ToString(out.QueueUrl))
	arn, err := main.ARN(ctx)
	if err != nil {
		t.Fatal(err)
	}
	table := awstest.Name(t, "tenaz-idempotency")
	ddb := dynamodb.NewFromConfig(cfg)
	if err := dynamostore.CreateTable(ctx, ddb, table, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	rj, err := json.Marshal(routes)
	if err != nil {
		t.Fatal(err)
	}
	p := &pipeline{
		t: t, sqs: client, ddb: ddb, main: main, dlq: dlq, arn: arn,
		store: dynamostore.New(table, ddb, dynamostore.Options{}),
		procEnv: append(awsEnv(t),
			"TENAZ_QUEUE_URL="+main.URL(),
			config.EnvDLQURL+"="+dlqURL,
			config.EnvIdempotencyTable+"="+table,
			config.EnvRoutes+"="+string(rj),
			config.EnvRetryBase+"=1",
			config.EnvRetryMax+"=1",
			config.EnvDeadlineMargin+"="+fmt.Sprint(deadlineMargin.Milliseconds()),
		),
	}
	if o.breakers {
		p.breakerTable = awstest.Name(t, "tenaz-breakers")
		if err := breakerstore.CreateTable(ctx, ddb, p.breakerTable, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		p.procEnv = append(p.procEnv, config.EnvBreakerTable+"="+p.breakerTable)
	}
	if o.bodies {
		p.bucket = awstest.Name(t, "tenaz-bodies")
		p.s3 = s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
		if _, err := p.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(p.bucket)}); err != nil {
			t.Fatal(err)
		}
		p.fnEnv = append(p.fnEnv, config.EnvBodyBucket+"="+p.bucket)
		p.procEnv = append(p.procEnv, config.EnvBodyBucket+"="+p.bucket)
	}
	// exec keeps the last value of a repeated variable: o.env wins.
	p.procEnv = append(p.procEnv, o.env...)
	return p
}

// startProcessor runs the processor bootstrap under its own emulator.
func (p *pipeline) startProcessor(name string) *lambdatest.Function {
	p.t.Helper()
	return lambdatest.Start(p.t, name, lambdatest.Build(p.t, "./functions/processor"), processorTimeout, p.procEnv...)
}

// send posts the sample through the ingest bootstrap (started on first use), signed
// now, and requires 202: the webhook is on the main queue.
func (p *pipeline) send(s samples.Sample) {
	p.t.Helper()
	p.ingest()
	var resp events.APIGatewayV2HTTPResponse
	if err := p.ingestFn.Invoke(context.Background(), s.AtNow(p.t, samples.Sources(p.t), time.Now()), &resp); err != nil {
		p.t.Fatalf("ingest %s: %v", s.File, err)
	}
	if resp.StatusCode != 202 {
		p.t.Fatalf("ingest %s: status %d, want 202: %s", s.File, resp.StatusCode, resp.Body)
	}
}

// ingest starts the ingest bootstrap on first use.
func (p *pipeline) ingest() {
	p.t.Helper()
	p.ingestOnce.Do(func() {
		p.ingestFn = lambdatest.Start(p.t, "ingest", lambdatest.Build(p.t, "./functions/ingest"), 10*time.Second,
			append(append(awsEnv(p.t), "TENAZ_QUEUE_URL="+p.main.URL(), "TENAZ_SOURCES="+string(samples.SourcesJSON(p.t))), p.fnEnv...)...)
	})
}

// poll runs an event source mapping stand-in on the main queue until the test ends.
// visibility 0 keeps the queue's own visibility timeout; tune, when given, changes
// the poller's options (e.g. its batch size) before it starts.
func (p *pipeline) poll(invoke esm.Invoke, visibility time.Duration, tune ...func(*esm.Options)) *esm.Poller {
	p.t.Helper()
	o := esm.Options{
		Queue:             p.main,
		Invoke:            invoke,
		EventSourceARN:    p.arn,
		PollWait:          time.Second,
		VisibilityTimeout: visibility,
		InvokeTimeout:     processorTimeout + 2*time.Second,
		ErrorBackoff:      200 * time.Millisecond,
	}
	for _, f := range tune {
		f(&o)
	}
	poller, err := esm.New(o)
	if err != nil {
		p.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = poller.Run(ctx)
	}()
	p.t.Cleanup(func() {
		cancel()
		<-done
	})
	return poller
}

// record reads the idempotency record of key; absent is nil.
func (p *pipeline) record(key string) *idempotency.Record {
	p.t.Helper()
	rec, err := p.store.Get(context.Background(), key, time.Now())
	if errors.Is(err, idempotency.ErrNotFound) {
		return nil
	}
	if err != nil {
		p.t.Fatal(err)
	}
	return &rec
}

// depth is the main queue's message count in every state.
func (p *pipeline) depth() int {
	p.t.Helper()
	d, err := p.main.Depth(context.Background())
	if err != nil {
		p.t.Fatal(err)
	}
	return d.Total()
}

// settled waits until the poller has deleted deleted records and the main queue is
// empty.
func (p *pipeline) settled(poller *esm.Poller, deleted int64) {
	p.t.Helper()
	waitFor(p.t, settle, fmt.Sprintf("%d records deleted and an empty queue", deleted), func() bool {
		return poller.Stats().Deleted >= deleted && p.depth() == 0
	})
	if got := poller.Stats().Deleted; got != deleted {
		p.t.Fatalf("poller deleted %d records, want %d", got, deleted)
	}
}

// invokeFn is an esm.Invoke calling fn through its emulator.
func invokeFn(fn *lambdatest.Function) esm.Invoke {
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		var resp events.SQSEventResponse
		err := fn.Invoke(ctx, ev, &resp)
		return resp, err
	}
}

// waitFor checks cond every 100 ms until it holds, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %v waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sample returns the sample event of file from events/ingest.
func sample(t *testing.T, file string) samples.Sample {
	t.Helper()
	for _, s := range samples.Load(t) {
		if s.File == file {
			return s
		}
	}
	t.Fatalf("no sample %s", file)
	return samples.Sample{}
}

// outcomes sums the processor's per-record outcome counters (processed, duplicate,
// deferred, …) from the CloudWatch EMF lines the functions printed.
func outcomes(t *testing.T, fns ...*lambdatest.Function) map[processor.Outcome]int64 {
	t.Helper()
	sum := map[processor.Outcome]int64{}
	for _, fn := range fns {
		for _, line := range strings.Split(fn.Logs(), "\n") {
			i := strings.IndexByte(line, '{')
			if i < 0 || !strings.Contains(line, `"_aws"`) {
				continue
			}
			var emf struct {
				AWS struct {
					CloudWatchMetrics []struct {
						Metrics []struct{ Name string }
					}
				} `json:"_aws"`
			}
			var values map[string]any
			if json.Unmarshal([]byte(line[i:]), &emf) != nil || json.Unmarshal([]byte(line[i:]), &values) != nil {
				t.Fatalf("%s: unreadable metrics line %q", fn.Name, line)
			}
			for _, d := range emf.AWS.CloudWatchMetrics {
				for _, m := range d.Metrics {
					n, _ := values[m.Name].(float64)
					sum[processor.Outcome(m.Name)] += int64(n)
				}
			}
		}
	}
	return sum
}
