//go:build integration

package redrive_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/middleware"

	"github.com/tenaz/tenaz/shared/blob"
	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/idempotency/dynamostore"
	"github.com/tenaz/tenaz/shared/internal/awstest"
	"github.com/tenaz/tenaz/shared/queue"
	"github.com/tenaz/tenaz/shared/redrive"
)

// envRunDir names the directory where the test script collects reports.
const envRunDir = "TENAZ_TEST_RUN_DIR"

// sqsCounter counts the SQS requests of a client: operations (in the Initialize
// step, once per call) and HTTP requests (in the Finalize step, after the retryer,
// once per attempt: what SQS bills).
type sqsCounter struct {
	mu    sync.Mutex
	ops   map[string]int
	https int
}

func (c *sqsCounter) apiOption(st *middleware.Stack) error {
	if err := st.Initialize.Add(middleware.InitializeMiddlewareFunc("tenazCountOperations",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			c.mu.Lock()
			c.ops[awsmiddleware.GetOperationName(ctx)]++
			c.mu.Unlock()
			return next.HandleInitialize(ctx, in)
		}), middleware.Before); err != nil {
		return err
	}
	return st.Finalize.Add(middleware.FinalizeMiddlewareFunc("tenazCountHTTPRequests",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			c.mu.Lock()
			c.https++
			c.mu.Unlock()
			return next.HandleFinalize(ctx, in)
		}), middleware.After)
}

func (c *sqsCounter) snapshot() (ops map[string]int, total, https int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ops = maps.Clone(c.ops)
	for _, n := range ops {
		total += n
	}
	return ops, total, c.https
}

// countedClient returns an SQS client on moto whose requests c counts. The option
// goes in through aws.Config.APIOptions, as config.WithAPIOptions would put it.
func countedClient(t *testing.T, c *sqsCounter) *sqs.Client {
	t.Helper()
	cfg := awstest.Config(t)
	cfg.APIOptions = append(slices.Clone(cfg.APIOptions), c.apiOption)
	return sqs.NewFromConfig(cfg)
}

// newQueues creates a main queue and a dead-letter queue with unique names.
func newQueues(t *testing.T, client *sqs.Client) (mainURL, dlqURL string) {
	t.Helper()
	ctx := context.Background()
	for _, p := range []struct {
		prefix string
		url    *string
	}{{"tenaz-redrive-main", &mainURL}, {"tenaz-redrive-dlq", &dlqURL}} {
		out, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(awstest.Name(t, p.prefix))})
		if err != nil {
			t.Fatalf("create queue: %v", err)
		}
		*p.url = aws.ToString(out.QueueUrl)
	}
	return mainURL, dlqURL
}

// fill puts the envelopes on q as the processor dead-letters them, in batches.
func fill(t *testing.T, q *queue.SQS, es []*envelope.Envelope) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < len(es); i += queue.MaxBatch {
		var ms []queue.Message
		for _, e := range es[i:min(i+queue.MaxBatch, len(es))] {
			body, err := envelope.Encode(e)
			if err != nil {
				t.Fatal(err)
			}
			attrs := e.Attributes()
			attrs[envelope.AttrReason] = envelope.ReasonExhausted
			attrs[envelope.AttrLastError] = "forward: 503 Service Unavailable"
			attrs[envelope.AttrAttempts] = "8"
			attrs[envelope.AttrFailedAt] = "2026-05-01T12:00:00Z"
			ms = append(ms, queue.Message{Body: string(body), Attributes: attrs})
		}
		res, err := q.SendBatch(ctx, ms)
		if err != nil {
			t.Fatalf("fill: %v", err)
		}
		for _, r := range res {
			if r.Err != nil {
				t.Fatalf("fill: %v", r.Err)
			}
		}
	}
}

// drain receives and deletes every message of q and returns them.
func drain(t *testing.T, q *queue.SQS) []queue.Received {
	t.Helper()
	ctx := context.Background()
	var all []queue.Received
	for {
		got, err := q.Receive(ctx, queue.MaxBatch, time.Second, time.Minute)
		if err != nil {
			t.Fatalf("drain: %v", err)
		}
		if len(got) == 0 {
			return all
		}
		all = append(all, got...)
		hs := make([]string, len(got))
		for i, m := range got {
			hs[i] = m.ReceiptHandle
		}
		if _, err := q.DeleteBatch(ctx, hs); err != nil {
			t.Fatalf("drain: %v", err)
		}
	}
}

func report(t *testing.T, name, text string) {
	t.Helper()
	t.Log(text)
	if dir := os.Getenv(envRunDir); dir != "" {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := fmt.Fprintln(f, text); err != nil {
			t.Fatal(err)
		}
	}
}

func formatOps(ops map[string]int) string {
	names := slices.Sorted(maps.Keys(ops))
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s=%d", n, ops[n])
	}
	return strings.Join(parts, " ")
}

// TestIntegrationRedrive1000 moves 1,000 dead letters back to the main queue on moto
// and measures the SQS requests per message, counted by an SDK middleware.
func TestIntegrationRedrive1000(t *testing.T) {
	const n = 1000
	setup := sqs.NewFromConfig(awstest.Config(t))
	mainURL, dlqURL := newQueues(t, setup)
	var es []*envelope.Envelope
	for i := range n {
		es = append(es, event([]string{"stripe", "github", "shopify"}[i%3], fmt.Sprintf("evt_%04d", i), "payment_intent.succeeded", i%120))
	}
	fill(t, queue.NewSQS(setup, dlqURL), es)

	counter := &sqsCounter{ops: map[string]int{}}
	client := countedClient(t, counter)
	r := redrive.New(redrive.Options{DLQ: queue.NewSQS(client, dlqURL), Queue: queue.NewSQS(client, mainURL)})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rep, err := r.Run(ctx, redrive.Request{})
	if err != nil {
		t.Fatal(err)
	}
	checkPartition(t, rep)
	ops, calls, https := counter.snapshot()

	if rep.Counts.Moved != n || rep.Counts.Seen != n {
		t.Fatalf("counts %+v, want %d seen and moved", rep.Counts, n)
	}
	if calls != rep.SQSRequests || !maps.Equal(ops, rep.SQSRequestsByCall) {
		t.Fatalf("report counts %d requests %v, the middleware %d %v", rep.SQSRequests, rep.SQSRequestsByCall, calls, ops)
	}
	perMessage := float64(https) / n
	report(t, "redrive.txt", fmt.Sprintf(
		"redrive on moto: %d messages moved in %d ms (%.0f messages/s); %d SQS HTTP requests, %.3f per message (target ≤ 1.3); operations: %s",
		rep.Counts.Moved, rep.ElapsedMs, rep.MovedPerSecond, https, perMessage, formatOps(ops)))
	if perMessage > 1.3 {
		t.Fatalf("%.3f SQS requests per moved message, want ≤ 1.3", perMessage)
	}

	// The main queue holds every event once, body unchanged, redriveCount 1, no
	// dead-letter attributes; the dead-letter queue is empty.
	if left := drain(t, queue.NewSQS(setup, dlqURL)); len(left) != 0 {
		t.Fatalf("%d messages left in the dead-letter queue", len(left))
	}
	want := map[string]string{}
	for _, e := range es {
		body, _ := envelope.Encode(e)
		want[e.Key()] = string(body)
	}
	got := drain(t, queue.NewSQS(setup, mainURL))
	if len(got) != n {
		t.Fatalf("main queue holds %d messages, want %d", len(got), n)
	}
	for _, m := range got {
		key := m.Attributes[envelope.AttrKey]
		if body, ok := want[key]; !ok || body != m.Body {
			t.Fatalf("message %s (%s): unknown, a repeat, or its body changed", m.ID, key)
		}
		delete(want, key)
		if m.Attributes[redrive.AttrRedriveCount] != "1" || m.Attributes[envelope.AttrReason] != "" || m.Attributes[envelope.AttrLastError] != "" {
			t.Fatalf("message %s attributes %v", m.ID, m.Attributes)
		}
	}
}

// TestIntegrationFilteredRedrive has the non-matching messages first: moto, like
// SQS, may hand out the same visible messages again and again, and the run must still
// reach the matching ones behind them and leave the others visible.
func TestIntegrationFilteredRedrive(t *testing.T) {
	setup := sqs.NewFromConfig(awstest.Config(t))
	mainURL, dlqURL := newQueues(t, setup)
	var es []*envelope.Envelope
	for i := range 35 {
		es = append(es, event("github", fmt.Sprintf("d-%d", i), "push", i))
	}
	for i := range 12 {
		es = append(es, event("stripe", fmt.Sprintf("evt_%d", i), "payment_intent.payment_failed", i))
	}
	fill(t, queue.NewSQS(setup, dlqURL), es)

	r := redrive.New(redrive.Options{DLQ: queue.NewSQS(setup, dlqURL), Queue: queue.NewSQS(setup, mainURL)})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	dry, err := r.Run(ctx, redrive.Request{DryRun: true, Filter: redrive.Filter{Type: "payment_intent.*"}})
	if err != nil {
		t.Fatal(err)
	}
	checkPartition(t, dry)
	if dry.Counts.Seen != 47 || dry.Counts.DryRun != 12 || dry.BySource["github"] != 35 || dry.Counts.ReleaseFailed != 0 {
		t.Fatalf("dry run %+v by source %v", dry.Counts, dry.BySource)
	}
	// The dry run released everything at once.
	if d, err := queue.NewSQS(setup, dlqURL).Depth(ctx); err != nil || d.Visible != 47 {
		t.Fatalf("after the dry run the dead-letter queue has %+v (%v), want 47 visible", d, err)
	}

	rep, err := r.Run(ctx, redrive.Request{Filter: redrive.Filter{Source: "stripe", Type: "payment_intent.*"}})
	if err != nil {
		t.Fatal(err)
	}
	checkPartition(t, rep)
	if rep.Counts.Moved != 12 || rep.Counts.Skipped != 35 || rep.Counts.ReleaseFailed != 0 {
		t.Fatalf("counts %+v, want moved 12, skipped 35", rep.Counts)
	}
	if d, err := queue.NewSQS(setup, dlqURL).Depth(ctx); err != nil || d.Visible != 35 || d.InFlight != 0 {
		t.Fatalf("dead-letter queue %+v (%v), want the 35 non-matching visible", d, err)
	}
	if got := drain(t, queue.NewSQS(setup, mainURL)); len(got) != 12 {
		t.Fatalf("main queue holds %d, want 12", len(got))
	}
}

// TestIntegrationFreshBudget resets attempts in the DynamoDB idempotency table on
// moto before the replay: an exhausted event gets a fresh budget, a completed one
// stays completed (its replay will be a duplicate), an unknown one needs nothing.
func TestIntegrationFreshBudget(t *testing.T) {
	ctx := context.Background()
	cfg := awstest.Config(t)
	ddb := dynamodb.NewFromConfig(cfg)
	table := awstest.Name(t, "tenaz-redrive-idem")
	if err := dynamostore.CreateTable(ctx, ddb, table, time.Minute); err != nil {
		t.Fatal(err)
	}
	store := dynamostore.New(table, ddb, dynamostore.Options{})
	runner := idempotency.NewRunner(store, idempotency.Settings{})
	for range 8 {
		if _, err := runner.Do(ctx, "stripe:evt_exhausted", "h", func(context.Context, *idempotency.Attempt) ([]byte, error) {
			return nil, errors.New("503")
		}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := runner.Do(ctx, "stripe:evt_done", "h", func(context.Context, *idempotency.Attempt) ([]byte, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}

	setup := sqs.NewFromConfig(cfg)
	mainURL, dlqURL := newQueues(t, setup)
	fill(t, queue.NewSQS(setup, dlqURL), []*envelope.Envelope{
		event("stripe", "evt_exhausted", "invoice.paid", 0),
		event("stripe", "evt_done", "invoice.paid", 1),
		event("stripe", "evt_unknown", "invoice.paid", 2),
	})
	r := redrive.New(redrive.Options{DLQ: queue.NewSQS(setup, dlqURL), Queue: queue.NewSQS(setup, mainURL), Budget: store})
	rep, err := r.Run(ctx, redrive.Request{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Counts.Moved != 3 || rep.StoreRequests != 3 || rep.Counts.ResetFailed != 0 {
		t.Fatalf("report %+v, store requests %d", rep.Counts, rep.StoreRequests)
	}
	if rec, err := store.Get(ctx, "stripe:evt_exhausted", time.Now()); err != nil || rec.Attempts != 0 {
		t.Fatalf("exhausted record %+v, %v: want attempts 0", rec, err)
	}
	if rec, err := store.Get(ctx, "stripe:evt_done", time.Now()); err != nil || rec.Status != idempotency.StatusCompleted {
		t.Fatalf("completed record %+v, %v", rec, err)
	}
	keys := []string{}
	for _, m := range drain(t, queue.NewSQS(setup, mainURL)) {
		keys = append(keys, m.Attributes[envelope.AttrKey])
	}
	sort.Strings(keys)
	if want := []string{"stripe:evt_done", "stripe:evt_exhausted", "stripe:evt_unknown"}; !slices.Equal(keys, want) {
		t.Fatalf("main queue holds %v, want %v", keys, want)
	}
}

// TestIntegrationRedriveStoredBodies replays dead letters whose bodies are held in
// an S3 bucket on moto: the one whose body is there is touched and moved, the one
// whose body is gone stays in the dead-letter queue, listed as bodyMissing.
func TestIntegrationRedriveStoredBodies(t *testing.T) {
	ctx := context.Background()
	cfg := awstest.Config(t)
	client := sqs.NewFromConfig(cfg)
	mainURL, dlqURL := newQueues(t, client)
	s3c := blob.NewS3Client(cfg)
	bucket := awstest.Name(t, "tenaz-bodies")
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	store := blob.NewS3(s3c, bucket)

	var es []*envelope.Envelope
	for _, id := range []string{"evt_kept", "evt_gone"} {
		e := event("stripe", id, "charge.succeeded", 0)
		key, _ := blob.Key(e.Source, e.ID)
		if id == "evt_kept" {
			if err := store.Put(ctx, key, blob.Sum(e.Body), e.Body); err != nil {
				t.Fatal(err)
			}
		}
		e.BodyRef, e.BodySHA256, e.Body = key, blob.Sum(e.Body), nil
		es = append(es, e)
	}
	fill(t, queue.NewSQS(client, dlqURL), es)
	head := func() time.Time {
		t.Helper()
		h, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(es[0].BodyRef)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToTime(h.LastModified)
	}
	before := head()
	time.Sleep(1100 * time.Millisecond) // Last-Modified counts whole seconds

	r := redrive.New(redrive.Options{DLQ: queue.NewSQS(client, dlqURL), Queue: queue.NewSQS(client, mainURL), Bodies: store,
		Settings: redrive.Settings{ReceiveWait: time.Second}})
	rep, err := r.Run(ctx, redrive.Request{})
	if err != nil {
		t.Fatal(err)
	}
	checkPartition(t, rep)
	if rep.Counts.Moved != 1 || rep.Counts.BodyMissing != 1 || len(rep.BodyProblems) != 1 ||
		rep.BodyProblems[0].Key != "stripe:evt_gone" || rep.BodyProblems[0].Reason != envelope.ReasonBodyMissing {
		t.Fatalf("report %+v, problems %+v", rep.Counts, rep.BodyProblems)
	}
	if !head().After(before) {
		t.Fatal("the replayed message's body was not touched")
	}
	moved, left := drain(t, queue.NewSQS(client, mainURL)), drain(t, queue.NewSQS(client, dlqURL))
	if len(moved) != 1 || moved[0].Attributes[envelope.AttrKey] != "stripe:evt_kept" || len(left) != 1 || left[0].Attributes[envelope.AttrKey] != "stripe:evt_gone" {
		t.Fatalf("main queue %d messages, dead-letter queue %d: want evt_kept moved, evt_gone left", len(moved), len(left))
	}
}
