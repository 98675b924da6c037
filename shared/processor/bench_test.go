package processor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/esm"
	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/idempotency/dynamostore"
	"github.com/tenaz/tenaz/shared/processor"
	"github.com/tenaz/tenaz/shared/queue"
	"github.com/tenaz/tenaz/shared/route"
	"github.com/tenaz/tenaz/shared/telemetry"
)

// benchBatch is the records of one benchmark batch: the template's BatchSize, which
// the event source mapping fills under load.
const benchBatch = 10

// benchBody is the body of every benchmark event: a Stripe-shaped event of about
// 600 bytes. All events share it, so that they share a payload hash too.
var benchBody = []byte(`{"id":"evt_3OqJ0e2eZvKYlo2C1x7Y2Q0a","object":"event","api_version":"2024-06-20",` +
	`"created":1772366400,"type":"payment_intent.succeeded","livemode":false,"pending_webhooks":1,` +
	`"request":{"id":"req_8Hq2lTq3vJ0XyZ","idempotency_key":"a3f1c2d4-5e6f-4a8b-9c0d-1e2f3a4b5c6d"},` +
	`"data":{"object":{"id":"pi_3OqJ0e2eZvKYlo2C1kqL0bX9","object":"payment_intent","amount":2000,` +
	`"amount_received":2000,"currency":"usd","customer":"cus_PfK2m4n5o6p7q8","description":"T-shirt",` +
	`"metadata":{"order_id":"6735"},"payment_method":"pm_1OqJ0d2eZvKYlo2CyF2uV9aX","status":"succeeded"}}}`)

// benchBatches returns n SQS events of size records each; every record has its own
// event id.
func benchBatches(b *testing.B, prefix string, n, size int) []events.SQSEvent {
	b.Helper()
	out := make([]events.SQSEvent, n)
	for i := range out {
		msgs := make([]queue.Received, size)
		for j := range msgs {
			id := prefix + strconv.Itoa(i*size+j)
			e := &envelope.Envelope{
				Source: "stripe", ID: id, Type: "payment_intent.succeeded",
				ReceivedAt: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
				Headers:    map[string]string{"content-type": "application/json", "stripe-signature": "t=1772366400,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd"},
				Body:       benchBody,
			}
			msgs[j] = delivery(b, "msg-"+id, e, 1)
		}
		out[i] = esm.Event(msgs, queueARN)
	}
	return out
}

// outcomes counts the records a benchmark saw and those whose outcome was not the
// one it expects.
type outcomes struct {
	want      processor.Outcome
	seen, bad atomic.Int64
}

func (o *outcomes) observe(r processor.Result) {
	o.seen.Add(1)
	if r.Outcome != o.want {
		o.bad.Add(1)
	}
}

// benchProcessor is a processor wired as the Lambda wires it (info logs and EMF
// metrics, to io.Discard here) on store, with a no-op route handler. Every record's
// outcome goes to out.
func benchProcessor(store idempotency.Store, out *outcomes) *processor.Processor {
	reg := &route.Registry{}
	reg.Add(route.Route{Source: "stripe", Handler: route.HandlerFunc(
		func(context.Context, *envelope.Envelope, *idempotency.Attempt) ([]byte, error) { return nil, nil })})
	return processor.New(processor.Options{
		Runner:     idempotency.NewRunner(store, idempotency.Settings{}),
		Router:     reg,
		Visibility: &visibility{},
		DeadLetter: queue.NewMemory(queue.MemoryConfig{}),
		Log:        telemetry.NewLogger(io.Discard, slog.LevelInfo).With("fn", "processor"),
		Metrics:    io.Discard,
		Observe:    out.observe,
	})
}

// handleBench runs one batch through p and fails unless every record got out.want.
func handleBench(b *testing.B, ctx context.Context, p *processor.Processor, ev events.SQSEvent, out *outcomes) {
	before := out.seen.Load()
	resp, err := p.Handle(ctx, ev)
	if err != nil || len(resp.BatchItemFailures) != 0 {
		b.Fatalf("Handle: %v, failures %v", err, resp.BatchItemFailures)
	}
	if seen := out.seen.Load() - before; seen != int64(len(ev.Records)) || out.bad.Load() != 0 {
		b.Fatalf("%d outcomes for %d records, %d of them not %s", seen, len(ev.Records), out.bad.Load(), out.want)
	}
}

// invocationCtx is a context with a Lambda-like deadline.
func invocationCtx(b *testing.B) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	b.Cleanup(cancel)
	return ctx
}

// BenchmarkProcessRecord measures first deliveries through Handle on the in-memory
// store, a batch of 10 records per op: decode, route, claim, no-op handler, complete,
// one EMF flush per batch. records/op divides the figures per record.
func BenchmarkProcessRecord(b *testing.B) {
	benchFirst(b, benchBatch)
}

// BenchmarkProcessRecordSingle is BenchmarkProcessRecord with one record per batch:
// the whole cost of an invocation carried by a single record.
func BenchmarkProcessRecordSingle(b *testing.B) {
	benchFirst(b, 1)
}

func benchFirst(b *testing.B, size int) {
	const records = 10240
	evs := benchBatches(b, "evt_", records/size, size)
	ctx := invocationCtx(b)
	out := &outcomes{want: processor.Processed}
	p := benchProcessor(idempotency.NewMemoryStore(), out)
	b.ReportAllocs()
	cpu := startCPU(b)
	i, ops := 0, 0
	for b.Loop() {
		if i == len(evs) { // every event of the pool is completed: start on a fresh store
			b.StopTimer()
			p, i = benchProcessor(idempotency.NewMemoryStore(), out), 0
			b.StartTimer()
		}
		handleBench(b, ctx, p, evs[i], out)
		i++
		ops++
	}
	cpu.report(b, ops, size)
	b.ReportMetric(float64(size), "records/op")
}

// BenchmarkProcessRecordDuplicate measures redeliveries of completed events on the
// in-memory store, a batch of 10 per op: decode, route, one claim answered
// "completed", one EMF flush.
func BenchmarkProcessRecordDuplicate(b *testing.B) {
	ev := benchBatches(b, "evt_dup_", 1, benchBatch)[0]
	ctx := invocationCtx(b)
	first := &outcomes{want: processor.Processed}
	store := idempotency.NewMemoryStore()
	handleBench(b, ctx, benchProcessor(store, first), ev, first)
	out := &outcomes{want: processor.Duplicate}
	p := benchProcessor(store, out)
	b.ReportAllocs()
	cpu := startCPU(b)
	ops := 0
	for b.Loop() {
		handleBench(b, ctx, p, ev, out)
		ops++
	}
	cpu.report(b, ops, benchBatch)
	b.ReportMetric(benchBatch, "records/op")
}

// BenchmarkProcessRecordDynamo measures first deliveries, a batch of 10 per op, with
// the DynamoDB store and the real SDK client (serialisation, signing, retryer,
// deserialisation) over a loopback transport that answers canned DynamoDB JSON:
// Tenaz's and the SDK's cost per record, without the network.
func BenchmarkProcessRecordDynamo(b *testing.B) {
	benchDynamo(b, false)
}

// BenchmarkProcessRecordDynamoDuplicate is BenchmarkProcessRecordDynamo for
// redeliveries: each claim fails its condition and returns the completed record.
func BenchmarkProcessRecordDynamoDuplicate(b *testing.B) {
	benchDynamo(b, true)
}

func benchDynamo(b *testing.B, completed bool) {
	const records = 10240
	evs := benchBatches(b, "evt_", records/benchBatch, benchBatch)
	fake := newFakeDynamo(idempotency.PayloadHash(benchBody), completed)
	out := &outcomes{want: processor.Processed}
	if completed {
		out.want = processor.Duplicate
	}
	p := benchProcessor(dynamostore.New("tenaz-idempotency", fakeDynamoClient(fake), dynamostore.Options{}), out)
	ctx := invocationCtx(b)
	handleBench(b, ctx, p, evs[0], out) // warm the client (endpoint, credentials)
	fake.calls.Store(0)
	b.ReportAllocs()
	cpu := startCPU(b)
	i := 0
	for b.Loop() {
		handleBench(b, ctx, p, evs[i%len(evs)], out)
		i++
	}
	cpu.report(b, i, benchBatch)
	b.ReportMetric(float64(fake.calls.Load())/float64(i*benchBatch), "ddb-calls/record")
	b.ReportMetric(benchBatch, "records/op")
}

// BenchmarkProcessRecordDynamoFloor is the SDK alone: the client and transport of
// BenchmarkProcessRecordDynamo issuing directly the calls a first delivery costs, the
// claim and the completion, with the inputs the store builds (the same expressions
// and attribute values of the same sizes). The inputs are built as cheaply as any
// caller can: per call what changes per record, once what does not; nothing of Tenaz
// runs. One record per op. The processor runs a batch's records on several cores at
// once and this floor runs one record at a time, so compare cpu-ns/record, not
// ns/op, with the batch benchmarks.
func BenchmarkProcessRecordDynamoFloor(b *testing.B) {
	fake := newFakeDynamo(idempotency.PayloadHash(benchBody), false)
	client := fakeDynamoClient(fake)
	keys := floorKeys(10240)
	ctx := invocationCtx(b)
	hash := idempotency.PayloadHash(benchBody)
	record := func(k string) {
		now := time.Now()
		claim, err := client.UpdateItem(ctx, floorClaim(k, floorToken, hash, now))
		if err != nil || len(claim.Attributes) == 0 {
			b.Fatalf("claim: %v", err)
		}
		if _, err := client.UpdateItem(ctx, floorComplete(k, floorToken, now)); err != nil {
			b.Fatalf("complete: %v", err)
		}
	}
	record(keys[0]) // warm the client
	fake.calls.Store(0)
	b.ReportAllocs()
	cpu := startCPU(b)
	i := 0
	for b.Loop() {
		record(keys[i%len(keys)])
		i++
	}
	cpu.report(b, i, 1)
	b.ReportMetric(float64(fake.calls.Load())/float64(i), "ddb-calls/record")
	b.ReportMetric(1, "records/op")
}

// BenchmarkProcessRecordDynamoDuplicateFloor is the SDK alone for a redelivery: the
// claim, answered with the failed condition and the completed record (ALL_OLD). One
// record per op.
func BenchmarkProcessRecordDynamoDuplicateFloor(b *testing.B) {
	fake := newFakeDynamo(idempotency.PayloadHash(benchBody), true)
	client := fakeDynamoClient(fake)
	keys := floorKeys(10240)
	ctx := invocationCtx(b)
	hash := idempotency.PayloadHash(benchBody)
	record := func(k string) {
		_, err := client.UpdateItem(ctx, floorClaim(k, floorToken, hash, time.Now()))
		var ccf *types.ConditionalCheckFailedException
		if !errors.As(err, &ccf) || len(ccf.Item) == 0 {
			b.Fatalf("claim of a completed record: %v", err)
		}
	}
	record(keys[0]) // warm the client
	fake.calls.Store(0)
	b.ReportAllocs()
	cpu := startCPU(b)
	i := 0
	for b.Loop() {
		record(keys[i%len(keys)])
		i++
	}
	cpu.report(b, i, 1)
	b.ReportMetric(float64(fake.calls.Load())/float64(i), "ddb-calls/record")
	b.ReportMetric(1, "records/op")
}

// floorToken has the length of a lease token (idempotency's default, rand.Text).
const floorToken = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

func floorKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "stripe:evt_" + strconv.Itoa(i)
	}
	return keys
}

// What does not change from call to call is built once, as a caller of the SDK can
// (the SDK only reads its inputs): the table name, expressions, attribute names and
// constant values.
var (
	floorTable          = "tenaz-idempotency"
	floorClaimUpdate    = "SET #status = :inProgress, #token = :token, #lease = :lease, #exp = :exp, #claimed = :nowMs, #hash = if_not_exists(#hash, :hash), #steps = if_not_exists(#steps, :noSteps) ADD #att :one"
	floorClaimCondition = "attribute_not_exists(#id) OR (#exp >= :nowS AND #status <> :completed AND (attribute_not_exists(#lease) OR #lease <= :nowMs))"
	floorCompleteUpdate = "SET #status = :completed, #exp = :exp REMOVE #token, #lease, #result"
	floorOwned          = "#token = :token"
	floorClaimNames     = map[string]string{
		"#id": "id", "#status": "status", "#token": "leaseToken", "#lease": "leaseExpiresAt",
		"#exp": "expiresAt", "#hash": "payloadHash", "#steps": "steps", "#att": "attempts", "#claimed": "claimedAt",
	}
	floorCompleteNames = map[string]string{
		"#status": "status", "#exp": "expiresAt", "#token": "leaseToken", "#lease": "leaseExpiresAt", "#result": "result",
	}
	floorInProgress types.AttributeValue = &types.AttributeValueMemberS{Value: "IN_PROGRESS"}
	floorCompleted  types.AttributeValue = &types.AttributeValueMemberS{Value: "COMPLETED"}
	floorOne        types.AttributeValue = &types.AttributeValueMemberN{Value: "1"}
	floorNoSteps    types.AttributeValue = &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}}
)

// floorClaim is the claim the DynamoDB store sends for key at now.
func floorClaim(key, token, hash string, now time.Time) *dynamodb.UpdateItemInput {
	return &dynamodb.UpdateItemInput{
		TableName:                &floorTable,
		Key:                      map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: key}},
		UpdateExpression:         &floorClaimUpdate,
		ConditionExpression:      &floorClaimCondition,
		ExpressionAttributeNames: floorClaimNames,
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":inProgress": floorInProgress,
			":completed":  floorCompleted,
			":token":      &types.AttributeValueMemberS{Value: token},
			":lease":      &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Add(time.Hour).UnixMilli(), 10)},
			":exp":        &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Add(idempotency.DefaultRetention).Unix(), 10)},
			":hash":       &types.AttributeValueMemberS{Value: hash},
			":noSteps":    floorNoSteps,
			":one":        floorOne,
			":nowS":       &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Unix(), 10)},
			":nowMs":      &types.AttributeValueMemberN{Value: strconv.FormatInt(now.UnixMilli(), 10)},
		},
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
}

// floorComplete is the completion (no result) the DynamoDB store sends for key.
func floorComplete(key, token string, now time.Time) *dynamodb.UpdateItemInput {
	return &dynamodb.UpdateItemInput{
		TableName:                &floorTable,
		Key:                      map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: key}},
		UpdateExpression:         &floorCompleteUpdate,
		ConditionExpression:      &floorOwned,
		ExpressionAttributeNames: floorCompleteNames,
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":completed": floorCompleted,
			":exp":       &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Add(idempotency.DefaultRetention).Unix(), 10)},
			":token":     &types.AttributeValueMemberS{Value: token},
		},
	}
}

// fakeDynamoClient is a real DynamoDB client whose HTTP transport is fake.
func fakeDynamoClient(fake http.RoundTripper) *dynamodb.Client {
	return dynamodb.NewFromConfig(aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		HTTPClient:   &http.Client{Transport: fake},
		BaseEndpoint: aws.String("http://dynamodb.loopback.invalid"),
	})
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

// recorder keeps the request bodies it passes on to next.
type recorder struct {
	next   http.RoundTripper
	mu     sync.Mutex
	bodies [][]byte
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	req.Body.Close()
	r.mu.Lock()
	r.bodies = append(r.bodies, body)
	r.mu.Unlock()
	req.Body = io.NopCloser(bytes.NewReader(body))
	return r.next.RoundTrip(req)
}

// TestFakeDynamoAnswersAsDynamoDB checks the benchmark's transport against the store:
// a claim is acquired, a duplicate is recognised, completion succeeds.
func TestFakeDynamoAnswersAsDynamoDB(t *testing.T) {
	t.Parallel()
	for _, completed := range []bool{false, true} {
		fake := newFakeDynamo(idempotency.PayloadHash(benchBody), completed)
		r := idempotency.NewRunner(dynamostore.New("t", fakeDynamoClient(fake), dynamostore.Options{}), idempotency.Settings{})
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

// TestDynamoFloorSendsWhatTheStoreSends checks that the floor benchmarks issue the
// requests the store issues for a first delivery: the same calls, expressions, names,
// and attribute values of the same types and sizes (values such as the token and the
// times differ from run to run).
func TestDynamoFloorSendsWhatTheStoreSends(t *testing.T) {
	t.Parallel()
	hash := idempotency.PayloadHash(benchBody)
	const key = "stripe:evt_12345"

	store := &recorder{next: newFakeDynamo(hash, false)}
	r := idempotency.NewRunner(dynamostore.New("tenaz-idempotency", fakeDynamoClient(store), dynamostore.Options{}), idempotency.Settings{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	if out, err := r.Do(ctx, key, hash, func(context.Context, *idempotency.Attempt) ([]byte, error) { return nil, nil }); err != nil || out.Kind != idempotency.Done {
		t.Fatalf("store: %+v, %v", out, err)
	}

	floor := &recorder{next: newFakeDynamo(hash, false)}
	client := fakeDynamoClient(floor)
	now := time.Now()
	if _, err := client.UpdateItem(ctx, floorClaim(key, floorToken, hash, now)); err != nil {
		t.Fatal(err)
	}
	if _, err := client.UpdateItem(ctx, floorComplete(key, floorToken, now)); err != nil {
		t.Fatal(err)
	}

	if len(store.bodies) != 2 || len(floor.bodies) != 2 {
		t.Fatalf("store made %d calls, floor %d; want 2 each", len(store.bodies), len(floor.bodies))
	}
	for i := range store.bodies {
		s, f := requestShape(t, store.bodies[i]), requestShape(t, floor.bodies[i])
		if s != f {
			t.Errorf("call %d:\nstore %s\nfloor %s", i+1, s, f)
		}
	}
}

// requestShape is a DynamoDB request with each attribute value replaced by its type
// and length, as canonical JSON.
func requestShape(t *testing.T, body []byte) string {
	t.Helper()
	var req map[string]any
	if err := json.Unmarshal(body, &req); err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"Key", "ExpressionAttributeValues"} {
		values, _ := req[field].(map[string]any)
		for name, v := range values {
			for typ, x := range v.(map[string]any) {
				if s, ok := x.(string); ok {
					values[name] = typ + ":" + strconv.Itoa(len(s))
				} else {
					values[name] = typ + ":" + strconv.Itoa(len(x.(map[string]any)))
				}
			}
		}
	}
	out, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// cpuClock measures the CPU time the process spends (user and system, every thread,
// the garbage collector included) over a benchmark loop. A batch's records run on
// several cores at once, so ns/op can be less than the work done: cpu-ns/record is
// what the records cost, whatever the number of cores.
type cpuClock struct{ start time.Duration }

func startCPU(b *testing.B) *cpuClock {
	b.Helper()
	return &cpuClock{start: cpuTime(b)}
}

// report adds cpu-ns/record over the ops and records/op the loop ran.
func (c *cpuClock) report(b *testing.B, ops, recordsPerOp int) {
	b.Helper()
	if ops > 0 {
		b.ReportMetric(float64(cpuTime(b)-c.start)/float64(ops*recordsPerOp), "cpu-ns/record")
	}
}

func cpuTime(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
