//go:build integration

package processor_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/esm"
	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/idempotency/dynamostore"
	"github.com/tenaz/tenaz/shared/internal/awstest"
	"github.com/tenaz/tenaz/shared/processor"
	"github.com/tenaz/tenaz/shared/queue"
	"github.com/tenaz/tenaz/shared/route"
	"github.com/tenaz/tenaz/shared/telemetry"
)

// envRunDir names the directory where the test script collects reports.
const envRunDir = "TENAZ_TEST_RUN_DIR"

// opCounter counts the DynamoDB operations a client makes, by operation name. It sits
// in the Initialize step, so an operation the SDK retries counts once.
type opCounter struct {
	mu  sync.Mutex
	ops map[string]int
}

func (c *opCounter) option(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("tenazCountCalls",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				c.mu.Lock()
				c.ops[awsmiddleware.GetOperationName(ctx)]++
				c.mu.Unlock()
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	})
}

// take returns the counts so far and starts again from zero.
func (c *opCounter) take() (total int, ops map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ops, c.ops = c.ops, map[string]int{}
	for _, n := range ops {
		total += n
	}
	return total, ops
}

func formatOps(ops map[string]int) string {
	names := make([]string, 0, len(ops))
	for n := range ops {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s=%d", n, ops[n])
	}
	return strings.Join(parts, ",")
}

// TestDynamoCallsPerRecord processes records through the processor with the
// DynamoDB store on moto and counts the DynamoDB calls per record: a first delivery
// costs a claim and a completion, a duplicate costs the claim alone.
func TestDynamoCallsPerRecord(t *testing.T) {
	const records = 25
	ctx := context.Background()
	cfg := awstest.Config(t)
	counter := &opCounter{ops: map[string]int{}}
	client := dynamodb.NewFromConfig(cfg, counter.option)
	table := awstest.Name(t, "idem-calls")
	if err := dynamostore.CreateTable(ctx, dynamodb.NewFromConfig(cfg), table, time.Minute); err != nil {
		t.Fatal(err)
	}
	store := dynamostore.New(table, client, dynamostore.Options{})

	var mu sync.Mutex
	effects := map[string]int{}
	reg := &route.Registry{}
	reg.Add(route.Route{Source: "stripe", Handler: route.HandlerFunc(func(_ context.Context, e *envelope.Envelope, _ *idempotency.Attempt) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		effects[e.Key()]++
		return nil, nil
	})})
	var outcomes []processor.Outcome
	vis := &visibility{}
	dlq := queue.NewMemory(queue.MemoryConfig{Name: "dlq"})
	proc := processor.New(processor.Options{
		Runner:     idempotency.NewRunner(store, idempotency.Settings{}),
		Router:     reg,
		Visibility: vis,
		DeadLetter: dlq,
		Log:        telemetry.NewLogger(io.Discard, slog.LevelInfo),
		Observe: func(r processor.Result) {
			mu.Lock()
			defer mu.Unlock()
			outcomes = append(outcomes, r.Outcome)
		},
	})

	// The same events as batches of up to 10 (the event source mapping's default),
	// first with fresh message ids, then again with new ones (provider resends).
	batches := func(round string) [][]queue.Received {
		var out [][]queue.Received
		for i := 0; i < records; i += 10 {
			var batch []queue.Received
			for j := i; j < min(i+10, records); j++ {
				e := event("stripe", "evt_calls_"+strconv.Itoa(j), "payment_intent.succeeded")
				batch = append(batch, delivery(t, round+strconv.Itoa(j), e, 1))
			}
			out = append(out, batch)
		}
		return out
	}
	run := func(round string, want processor.Outcome) (int, map[string]int) {
		t.Helper()
		invocation, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		mu.Lock()
		outcomes = nil
		mu.Unlock()
		for _, batch := range batches(round) {
			resp, err := proc.Handle(invocation, esm.Event(batch, queueARN))
			if err != nil || len(resp.BatchItemFailures) != 0 {
				t.Fatalf("%s: Handle: %v, failures %v", round, err, resp.BatchItemFailures)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if len(outcomes) != records {
			t.Fatalf("%s: %d outcomes, want %d", round, len(outcomes), records)
		}
		for _, o := range outcomes {
			if o != want {
				t.Fatalf("%s: outcome %s, want %s for every record", round, o, want)
			}
		}
		return counter.take()
	}

	counter.take() // table creation went through another client; start from zero
	happy, happyOps := run("first-", processor.Processed)
	dup, dupOps := run("resend-", processor.Duplicate)

	happyPer := float64(happy) / records
	dupPer := float64(dup) / records
	t.Logf("DynamoDB calls per record over %d records: happy path %.2f (%s), duplicate %.2f (%s)",
		records, happyPer, formatOps(happyOps), dupPer, formatOps(dupOps))
	if dir := os.Getenv(envRunDir); dir != "" {
		report := fmt.Sprintf("records %d\nhappy_calls %d\nhappy_per_record %.2f\nhappy_ops %s\nduplicate_calls %d\nduplicate_per_record %.2f\nduplicate_ops %s\n",
			records, happy, happyPer, formatOps(happyOps), dup, dupPer, formatOps(dupOps))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "ddb-calls.txt"), []byte(report), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	if happy > 2*records {
		t.Errorf("happy path: %d calls for %d records (%.2f per record), want at most 2 (claim + complete)", happy, records, happyPer)
	}
	if dup != records {
		t.Errorf("duplicates: %d calls for %d records (%.2f per record), want exactly 1 (the claim)", dup, records, dupPer)
	}
	for k, n := range effects {
		if n != 1 {
			t.Errorf("%s: %d effects, want 1", k, n)
		}
	}
	if len(effects) != records {
		t.Errorf("%d events had an effect, want %d", len(effects), records)
	}
	if len(vis.all()) != 0 || len(dlq.Peek(0)) != 0 {
		t.Errorf("visibility changes %v, dead letters %d; want none", vis.all(), len(dlq.Peek(0)))
	}
}
