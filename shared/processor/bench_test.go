package processor_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/esm"
	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/idempotency/dynamostore"
	"github.com/tenaz/tenaz/shared/processor"
	"github.com/tenaz/tenaz/shared/queue"
	"github.com/tenaz/tenaz/shared/route"
	"github.com/tenaz/tenaz/shared/telemetry"
)

// benchBody is the body of every benchmark event: a Stripe-shaped event of about
// 600 bytes. All events share it, so that they share a payload hash too.
var benchBody = []byte(`{"id":"evt_3OqJ0e2eZvKYlo2C1x7Y2Q0a","object":"event","api_version":"2024-06-20",` +
	`"created":1772366400,"type":"payment_intent.succeeded","livemode":false,"pending_webhooks":1,` +
	`"request":{"id":"req_8Hq2lTq3vJ0XyZ","idempotency_key":"a3f1c2d4-5e6f-4a8b-9c0d-1e2f3a4b5c6d"},` +
	`"data":{"object":{"id":"pi_3OqJ0e2eZvKYlo2C1kqL0bX9","object":"payment_intent","amount":2000,` +
	`"amount_received":2000,"currency":"usd","customer":"cus_PfK2m4n5o6p7q8","description":"T-shirt",` +
	`"metadata":{"order_id":"6735"},"payment_method":"pm_1OqJ0d2eZvKYlo2CyF2uV9aX","status":"succeeded"}}}`)

// benchEvents returns n one-record SQS events, each with its own event id.
func benchEvents(b *testing.B, prefix string, n int) []events.SQSEvent {
	b.Helper()
	out := make([]events.SQSEvent, n)
	for i := range out {
		e := &envelope.Envelope{
			Source: "stripe", ID: prefix + strconv.Itoa(i), Type: "payment_intent.succeeded",
			ReceivedAt: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
			Headers:    map[string]string{"content-type": "application/json", "stripe-signature": "t=1772366400,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd"},
			Body:       benchBody,
		}
		out[i] = esm.Event([]queue.Received{delivery(b, "msg-"+prefix+strconv.Itoa(i), e, 1)}, queueARN)
	}
	return out
}

// benchProcessor is a processor wired as the Lambda wires it (info logs and EMF
// metrics, to io.Discard here) on store, with a no-op route handler.
func benchProcessor(store idempotency.Store) *processor.Processor {
	reg := &route.Registry{}
	reg.Add(route.Route{Source: "stripe", Handler: route.HandlerFunc(
		func(context.Context, *envelope.Envelope, *idempotency.Attempt) ([]byte, error) { return nil, nil })})
	return processor.New(processor.Options{
		Runner:     idempotency.NewRunner(store, idempotency.Settings{}),
		Router:     reg,
		Visibility: &visibility{},
		DeadLetter: queue.NewMemory(queue.MemoryConfig{}),
		Log:        telemetry.NewLogger(io.Discard, slog.LevelInfo),
		Metrics:    io.Discard,
	})
}

// handleBench runs one event through p and checks that nothing failed.
func handleBench(b *testing.B, ctx context.Context, p *processor.Processor, ev events.SQSEvent) {
	resp, err := p.Handle(ctx, ev)
	if err != nil || len(resp.BatchItemFailures) != 0 {
		b.Fatalf("Handle: %v, failures %v", err, resp.BatchItemFailures)
	}
}

// invocationCtx is a context with a Lambda-like deadline.
func invocationCtx(b *testing.B) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	b.Cleanup(cancel)
	return ctx
}

// BenchmarkProcessRecord measures a first delivery of one record through Handle on
// the in-memory store: decode, route, claim, no-op handler, complete, EMF flush.
func BenchmarkProcessRecord(b *testing.B) {
	const pool = 1024
	evs := benchEvents(b, "evt_", pool)
	ctx := invocationCtx(b)
	p := benchProcessor(idempotency.NewMemoryStore())
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == pool { // every event of the pool is completed: start on a fresh store
			b.StopTimer()
			p, i = benchProcessor(idempotency.NewMemoryStore()), 0
			b.StartTimer()
		}
		handleBench(b, ctx, p, evs[i])
		i++
	}
}

// BenchmarkProcessRecordDuplicate measures a redelivery of a completed event on the
// in-memory store: decode, route, one claim answered "completed".
func BenchmarkProcessRecordDuplicate(b *testing.B) {
	ev := benchEvents(b, "evt_dup_", 1)[0]
	ctx := invocationCtx(b)
	p := benchProcessor(idempotency.NewMemoryStore())
	handleBench(b, ctx, p, ev)
	b.ReportAllocs()
	for b.Loop() {
		handleBench(b, ctx, p, ev)
	}
}

// BenchmarkProcessRecordDynamo measures a first delivery with the DynamoDB store and
// the real SDK client (serialisation, signing, retryer, deserialisation) over a
// loopback transport that answers canned DynamoDB JSON: Tenaz's and the SDK's cost
// per record, without the network.
func BenchmarkProcessRecordDynamo(b *testing.B) {
	benchDynamo(b, false)
}

// BenchmarkProcessRecordDynamoDuplicate is BenchmarkProcessRecordDynamo for a
// redelivery: the claim fails its condition and returns the completed record.
func BenchmarkProcessRecordDynamoDuplicate(b *testing.B) {
	benchDynamo(b, true)
}

func benchDynamo(b *testing.B, completed bool) {
	const pool = 1024
	evs := benchEvents(b, "evt_", pool)
	fake := newFakeDynamo(idempotency.PayloadHash(benchBody), completed)
	client := dynamodb.NewFromConfig(aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		HTTPClient:   &http.Client{Transport: fake},
		BaseEndpoint: aws.String("http://dynamodb.loopback.invalid"),
	})
	p := benchProcessor(dynamostore.New("tenaz-idempotency", client, dynamostore.Options{}))
	ctx := invocationCtx(b)
	handleBench(b, ctx, p, evs[0]) // warm the client (endpoint, credentials)
	fake.calls.Store(0)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		handleBench(b, ctx, p, evs[i%pool])
		i++
	}
	b.ReportMetric(float64(fake.calls.Load())/float64(i), "ddb-calls/op")
}

// fakeDynamo is an http.RoundTripper that plays DynamoDB for the idempotency store:
// a claim (UpdateItem returning ALL_NEW) is acquired, or, when completed is set,
// fails its condition with the completed record; any other UpdateItem succeeds.
type fakeDynamo struct {
	acquired, duplicate []byte
	completed           bool
	calls               atomic.Int64
	bufs                sync.Pool
}

func newFakeDynamo(payloadHash string, completed bool) *fakeDynamo {
	exp := strconv.FormatInt(time.Now().Add(7*24*time.Hour).Unix(), 10)
	lease := strconv.FormatInt(time.Now().Add(time.Hour).UnixMilli(), 10)
	return &fakeDynamo{
		completed: completed,
		acquired: []byte(`{"Attributes":{"id":{"S":"stripe:evt_0"},"status":{"S":"IN_PROGRESS"},` +
			`"leaseToken":{"S":"token"},"leaseExpiresAt":{"N":"` + lease + `"},"attempts":{"N":"1"},` +
			`"expiresAt":{"N":"` + exp + `"},"payloadHash":{"S":"` + payloadHash + `"},"steps":{"M":{}}}}`),
		duplicate: []byte(`{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",` +
			`"message":"The conditional request failed","Item":{"id":{"S":"stripe:evt_0"},"status":{"S":"COMPLETED"},` +
			`"attempts":{"N":"1"},"expiresAt":{"N":"` + exp + `"},"payloadHash":{"S":"` + payloadHash + `"},"steps":{"M":{}}}}`),
		bufs: sync.Pool{New: func() any { return new(bytes.Buffer) }},
	}
}

var claimMarker = []byte(`"ReturnValues":"ALL_NEW"`)

func (f *fakeDynamo) RoundTrip(req *http.Request) (*http.Response, error) {
	f.calls.Add(1)
	buf := f.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer f.bufs.Put(buf)
	if req.Body != nil {
		_, _ = buf.ReadFrom(req.Body)
		req.Body.Close()
	}
	status, body := http.StatusOK, []byte(`{}`)
	if req.Header.Get("X-Amz-Target") != "DynamoDB_20120810.UpdateItem" {
		status, body = http.StatusBadRequest, []byte(`{"__type":"com.amazon.coral.validate#ValidationException","message":"unexpected operation"}`)
	} else if bytes.Contains(buf.Bytes(), claimMarker) {
		if f.completed {
			status, body = http.StatusBadRequest, f.duplicate
		} else {
			body = f.acquired
		}
	}
	return &http.Response{
		Status:     strconv.Itoa(status) + " " + http.StatusText(status),
		StatusCode: status,
		Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{
			"Content-Type":     {"application/x-amz-json-1.0"},
			"X-Amzn-Requestid": {"BENCHREQUEST"},
		},
		ContentLength: int64(len(body)),
		Body:          io.NopCloser(bytes.NewReader(body)),
		Request:       req,
	}, nil
}

// TestFakeDynamoAnswersAsDynamoDB checks the benchmark's transport against the store:
// a claim is acquired, a duplicate is recognised, completion succeeds.
func TestFakeDynamoAnswersAsDynamoDB(t *testing.T) {
	t.Parallel()
	for _, completed := range []bool{false, true} {
		fake := newFakeDynamo(idempotency.PayloadHash(benchBody), completed)
		client := dynamodb.NewFromConfig(aws.Config{
			Region:       "us-east-1",
			Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
			HTTPClient:   &http.Client{Transport: fake},
			BaseEndpoint: aws.String("http://dynamodb.loopback.invalid"),
		})
		r := idempotency.NewRunner(dynamostore.New("t", client, dynamostore.Options{}), idempotency.Settings{})
		ran := false
		out, err := r.Do(context.Background(), "stripe:evt_0", idempotency.PayloadHash(benchBody), func(context.Context, *idempotency.Attempt) ([]byte, error) {
			ran = true
			return nil, nil
		})
		want, calls := idempotency.Done, int64(2)
		if completed {
			want, calls = idempotency.Duplicate, 1
		}
		if err != nil || out.Kind != want || out.PayloadMismatch || ran == completed || fake.calls.Load() != calls {
			t.Fatalf("completed=%v: outcome %+v, err %v, ran %v, calls %d; want %s in %d calls", completed, out, err, ran, fake.calls.Load(), want, calls)
		}
	}
}
