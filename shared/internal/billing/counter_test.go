package billing_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
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
	// reply, when set, is the body of every 200 answer; unsized sends it without a
	// Content-Length, as a chunked response.
	reply   string
	unsized bool

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
	if tr.reply != "" {
		body = tr.reply
	}
	switch {
	case a.status >= 500:
		body = `{"__type":"InternalFailure","message":"scripted failure"}`
	case a.status >= 400:
		body = `{"__type":"ValidationException","message":"scripted refusal"}`
	}
	length := int64(len(body))
	if tr.unsized {
		length = -1
	}
	return &http.Response{
		StatusCode:    a.status,
		ContentLength: length,
		Header:        http.Header{"Content-Type": []string{"application/x-amz-json-1.0"}},
		Body:          io.NopCloser(strings.NewReader(body)),
		Request:       req,
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
					reqs, chunks := c.Take()
					n := reqs.Total()
					if chunks.Total() != n {
						t.Errorf("took %d requests and %d chunks of empty payloads, want as many", n, chunks.Total())
					}
					mu.Lock()
					taken += n
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	rest, _ := c.Take()
	if got := taken + rest.Total(); got != workers*calls {
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

func TestChunks(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]int{0: 1, 1: 1, 65536: 1, 65537: 2, 100_000: 2, 458752: 7, 458753: 8, 1 << 20: 16} {
		if got := billing.Chunks(n); got != want {
			t.Errorf("Chunks(%d) = %d, want %d", n, got, want)
		}
	}
}

// An SQS call is billed per 64 KB of the larger of its request and its response;
// other services have no chunks.
func TestCounterCountsSQSChunks(t *testing.T) {
	t.Parallel()
	send := billing.Op{Service: "SQS", Operation: "SendMessage"}
	recv := billing.Op{Service: "SQS", Operation: "ReceiveMessage"}
	// receive answers with n messages of a size bytes body each, as SQS does.
	receive := func(n, size int) string {
		body := strings.Repeat("b", size)
		sum := md5.Sum([]byte(body))
		msgs := make([]string, n)
		for i := range msgs {
			msgs[i] = `{"MessageId":"m` + strconv.Itoa(i) + `","ReceiptHandle":"` + strings.Repeat("r", 400) +
				`","MD5OfBody":"` + hex.EncodeToString(sum[:]) + `","Body":"` + body + `"}`
		}
		return `{"Messages":[` + strings.Join(msgs, ",") + `]}`
	}
	tests := []struct {
		name    string
		reply   string
		unsized bool
		call    func(context.Context, aws.Config) error
		op      billing.Op
		want    int
	}{
		{name: "a 2 KB send", call: sendMessage(2048), op: send, want: 1},
		{name: "a 100 KB send", call: sendMessage(100_000), op: send, want: 2},
		{name: "a batch receive of 10 x 2 KB", reply: receive(10, 2048), call: receiveMessage, op: recv, want: 1},
		{name: "a batch receive of 10 x 100 KB", reply: receive(10, 100_000), call: receiveMessage, op: recv, want: 16},
		{name: "a chunked batch receive of 10 x 100 KB", reply: receive(10, 100_000), unsized: true, call: receiveMessage, op: recv, want: 16},
		{name: "an empty receive", call: receiveMessage, op: recv, want: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := billing.NewCounter()
			if err := tc.call(context.Background(), c.Config(fakeConfig(&transport{reply: tc.reply, unsized: tc.unsized}))); err != nil {
				t.Fatal(err)
			}
			want := billing.Counts{tc.op: tc.want}
			if got := c.Chunks(); got.String() != want.String() {
				t.Errorf("chunks %s, want %s", got, want)
			}
			if got := c.Snapshot(); got.String() != (billing.Counts{tc.op: 1}).String() {
				t.Errorf("requests %s, want one", got)
			}
		})
	}
	c := billing.NewCounter()
	if err := getItem(context.Background(), c.Config(fakeConfig(&transport{reply: `{"Item":{"id":{"S":"` + strings.Repeat("x", 100_000) + `"}}}`}))); err != nil {
		t.Fatal(err)
	}
	if got := c.Chunks(); len(got) != 0 {
		t.Errorf("a DynamoDB read has SQS chunks: %s", got)
	}
}

// The body read to size an unsized response reaches the deserializer whole.
func TestCounterHandsOnAnUnsizedResponse(t *testing.T) {
	t.Parallel()
	c := billing.NewCounter()
	tr := &transport{unsized: true, reply: `{"Messages":[{"MessageId":"m1","ReceiptHandle":"rh","Body":"` + strings.Repeat("b", 70_000) + `"}]}`}
	out, err := sqs.NewFromConfig(c.Config(fakeConfig(tr))).ReceiveMessage(context.Background(),
		&sqs.ReceiveMessageInput{QueueUrl: aws.String("http://aws.invalid/123456789012/q")})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) != 1 || len(aws.ToString(out.Messages[0].Body)) != 70_000 {
		t.Fatalf("received %d messages, the first of %d bytes; want one of 70000", len(out.Messages), len(aws.ToString(out.Messages[0].Body)))
	}
	if got := c.Chunks().Total(); got != 2 {
		t.Errorf("%d chunks, want 2", got)
	}
}

func sendMessage(size int) func(context.Context, aws.Config) error {
	return func(ctx context.Context, cfg aws.Config) error {
		_, err := sqs.NewFromConfig(cfg).SendMessage(ctx, &sqs.SendMessageInput{
			QueueUrl: aws.String("http://aws.invalid/123456789012/q"), MessageBody: aws.String(strings.Repeat("b", size))})
		return err
	}
}

func receiveMessage(ctx context.Context, cfg aws.Config) error {
	_, err := sqs.NewFromConfig(cfg).ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl: aws.String("http://aws.invalid/123456789012/q"), MaxNumberOfMessages: 10})
	return err
}
