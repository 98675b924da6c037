package billing_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tenaz/tenaz/shared/internal/billing"
)

// answer is one reply of the fake transport: an HTTP status, or a network error.
type answer struct {
	status int
	netErr bool
}

// transport is an AWS endpoint on a script: each request gets the next answer, and
// an empty JSON object once the script is used up. It records what it was sent.
type transport struct {
	mu      sync.Mutex
	script  []answer
	targets []string // X-Amz-Target of every request received
}

func (tr *transport) Do(req *http.Request) (*http.Response, error) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.targets = append(tr.targets, req.Header.Get("X-Amz-Target"))
	a := answer{status: http.StatusOK}
	if len(tr.script) > 0 {
		a, tr.script = tr.script[0], tr.script[1:]
	}
	if a.netErr {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	}
	body := "{}"
	switch {
	case a.status >= 500:
		body = `{"__type":"InternalFailure","message":"scripted failure"}`
	case a.status >= 400:
		body = `{"__type":"ValidationException","message":"scripted refusal"}`
	}
	return &http.Response{
		StatusCode: a.status,
		Header:     http.Header{"Content-Type": []string{"application/x-amz-json-1.0"}},
		Body:       io.NopCloser(strings.NewReader(body)),
		Request:    req,
	}, nil
}

func (tr *transport) received() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return len(tr.targets)
}

// fakeConfig is an SDK configuration whose requests go to tr, retried at once (up to
// 3 attempts) by the standard retryer.
func fakeConfig(tr *transport) aws.Config {
	return aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		HTTPClient:   tr,
		BaseEndpoint: aws.String("http://aws.invalid"),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = 3
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
			})
		},
	}
}

func deleteMessage(ctx context.Context, cfg aws.Config) error {
	_, err := sqs.NewFromConfig(cfg).DeleteMessage(ctx, &sqs.DeleteMessageInput{
		QueueUrl: aws.String("http://aws.invalid/123456789012/q"), ReceiptHandle: aws.String("rh")})
	return err
}

func getItem(ctx context.Context, cfg aws.Config) error {
	_, err := dynamodb.NewFromConfig(cfg).GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String("t"), Key: map[string]ddbtypes.AttributeValue{"id": &ddbtypes.AttributeValueMemberS{Value: "k"}}})
	return err
}

func TestCounterCountsEveryAttempt(t *testing.T) {
	t.Parallel()
	sqsDelete := billing.Op{Service: "SQS", Operation: "DeleteMessage"}
	ddbGet := billing.Op{Service: "DynamoDB", Operation: "GetItem"}
	tests := []struct {
		name     string
		script   []answer
		call     func(context.Context, aws.Config) error
		op       billing.Op
		attempts int // the SDK's attempts, each one billed
		wantErr  bool
	}{
		{name: "one attempt", call: deleteMessage, op: sqsDelete, attempts: 1},
		{name: "retried after a 500", script: []answer{{status: 500}}, call: deleteMessage, op: sqsDelete, attempts: 2},
		{name: "retried after a network error", script: []answer{{netErr: true}}, call: getItem, op: ddbGet, attempts: 2},
		{name: "retried twice", script: []answer{{status: 503}, {status: 500}}, call: getItem, op: ddbGet, attempts: 3},
		{name: "gives up after 3 attempts", script: []answer{{status: 500}, {status: 500}, {status: 500}},
			call: deleteMessage, op: sqsDelete, attempts: 3, wantErr: true},
		{name: "not retried: a client error", script: []answer{{status: 400}}, call: getItem, op: ddbGet, attempts: 1, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tr := &transport{script: append([]answer(nil), tc.script...)}
			c := billing.NewCounter()
			err := tc.call(context.Background(), c.Config(fakeConfig(tr)))
			if (err != nil) != tc.wantErr {
				t.Fatalf("call: err %v, want error %v", err, tc.wantErr)
			}
			if tr.received() != tc.attempts {
				t.Fatalf("the endpoint received %d requests, want %d: the script does not drive the SDK as intended", tr.received(), tc.attempts)
			}
			want := billing.Counts{tc.op: tc.attempts}
			if got := c.Snapshot(); got.String() != want.String() {
				t.Errorf("counted %s, want %s", got, want)
			}
		})
	}
}

func TestCounterOnConfigCountsEveryClient(t *testing.T) {
	t.Parallel()
	tr := &transport{}
	base := fakeConfig(tr)
	c := billing.NewCounter()
	cfg := c.Config(base)
	ctx := context.Background()
	for range 3 {
		if err := deleteMessage(ctx, cfg); err != nil {
			t.Fatal(err)
		}
	}
	if err := getItem(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	// A client of the original configuration is not counted.
	if err := getItem(ctx, base); err != nil {
		t.Fatal(err)
	}
	want := billing.Counts{{Service: "SQS", Operation: "DeleteMessage"}: 3, {Service: "DynamoDB", Operation: "GetItem"}: 1}
	if got := c.Snapshot(); got.String() != want.String() {
		t.Errorf("counted %s, want %s", got, want)
	}
	if len(base.APIOptions) != 0 {
		t.Errorf("Config changed the original configuration: %d APIOptions", len(base.APIOptions))
	}
}

func TestTwoCountersOnOneClient(t *testing.T) {
	t.Parallel()
	tr := &transport{script: []answer{{status: 500}}}
	all, store := billing.NewCounter(), billing.NewCounter()
	cfg := all.Config(fakeConfig(tr))
	client := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.APIOptions = append(slices.Clip(o.APIOptions), store.Add) })
	if _, err := client.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String("t"),
		Key: map[string]ddbtypes.AttributeValue{"id": &ddbtypes.AttributeValueMemberS{Value: "k"}}}); err != nil {
		t.Fatal(err)
	}
	if err := deleteMessage(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if got := all.Snapshot().Total(); got != 3 {
		t.Errorf("the configuration's counter counted %d requests, want 3 (GetItem twice, DeleteMessage)", got)
	}
	if got := store.Snapshot().Total(); got != 2 {
		t.Errorf("the client's counter counted %d requests, want 2 (GetItem and its retry)", got)
	}
}

func TestCounterAddedTwiceFailsTheCall(t *testing.T) {
	t.Parallel()
	tr := &transport{}
	c := billing.NewCounter()
	cfg := c.Config(c.Config(fakeConfig(tr)))
	if err := deleteMessage(context.Background(), cfg); err == nil {
		t.Fatal("a call with the counter on its stack twice succeeded; it would count double")
	}
	if n := c.Snapshot().Total(); n != 0 {
		t.Errorf("counted %d requests of a call that was never sent", n)
	}
}

func TestCounterConcurrentTakeLosesNothing(t *testing.T) {
	t.Parallel()
	tr := &transport{}
	c := billing.NewCounter()
	cfg := c.Config(fakeConfig(tr))
	const workers, calls = 8, 25
	var wg sync.WaitGroup
	var mu sync.Mutex
	taken := 0
	for range workers {
		wg.Go(func() {
			for i := range calls {
				if err := deleteMessage(context.Background(), cfg); err != nil {
					t.Error(err)
					return
				}
				if i%5 == 0 {
					n := c.Take().Total()
					mu.Lock()
					taken += n
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if got := taken + c.Take().Total(); got != workers*calls {
		t.Errorf("took %d requests in all, want %d", got, workers*calls)
	}
	if got := c.Snapshot().Total(); got != 0 {
		t.Errorf("after Take the counter holds %d", got)
	}
}

func TestSnapshotIsACopyAndResetForgets(t *testing.T) {
	t.Parallel()
	tr := &transport{}
	c := billing.NewCounter()
	cfg := c.Config(fakeConfig(tr))
	if err := deleteMessage(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	snap := c.Snapshot()
	snap[billing.Op{Service: "SQS", Operation: "DeleteMessage"}] = 100
	if got := c.Snapshot().Total(); got != 1 {
		t.Errorf("changing a snapshot changed the counter: %d", got)
	}
	c.Reset()
	if got := c.Snapshot().Total(); got != 0 {
		t.Errorf("after Reset: %d", got)
	}
	if err := deleteMessage(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if got := c.Snapshot().Total(); got != 1 {
		t.Errorf("after Reset and one call: %d", got)
	}
}
