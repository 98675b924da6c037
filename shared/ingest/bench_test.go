package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/internal/samples"
	"github.com/tenaz/tenaz/shared/queue"
	"github.com/tenaz/tenaz/shared/telemetry"
)

// benchQueueURL is the queue every benchmark sends to.
const benchQueueURL = "https://sqs.us-east-1.amazonaws.com/123456789012/tenaz-webhooks"

// stripeSample is the signed Stripe sample event.
func stripeSample(b testing.TB) events.APIGatewayV2HTTPRequest {
	b.Helper()
	for _, s := range samples.Load(b) {
		if s.File == "stripe.json" {
			return s.Event
		}
	}
	b.Fatal("no stripe.json sample")
	return events.APIGatewayV2HTTPRequest{}
}

// benchBodyFile is the webhook the benchmarks send: a Stripe payment_intent.succeeded
// of 2 KB, indented as Stripe sends it.
const benchBodyFile = "testdata/stripe-payment-intent.json"

// benchEvent is the API Gateway event Lambda receives for the benchmarks' webhook,
// signed at samples.SignedAt: the Stripe sample's route and request context, the 2 KB
// body, and the headers a request through an HTTP API carries.
func benchEvent(b testing.TB) events.APIGatewayV2HTTPRequest {
	b.Helper()
	body, err := os.ReadFile(benchBodyFile)
	if err != nil {
		b.Fatal(err)
	}
	if n := len(body); n < 1900 || n > 2200 {
		b.Fatalf("%s is %d bytes; the benchmarks measure a webhook of about 2 KB", benchBodyFile, n)
	}
	ev := stripeSample(b)
	h := map[string]string{
		"accept":            "*/*; q=0.5, application/xml",
		"cache-control":     "no-cache",
		"content-length":    strconv.Itoa(len(body)),
		"content-type":      "application/json; charset=utf-8",
		"host":              ev.RequestContext.DomainName,
		"user-agent":        "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
		"x-amzn-trace-id":   "Root=1-6724c3c0-5f2e8a1b9c3d4e5f6a7b8c9d",
		"x-forwarded-for":   "54.187.174.169",
		"x-forwarded-port":  "443",
		"x-forwarded-proto": "https",
	}
	if err := samples.Sources(b)["stripe"].Sign(h, body, samples.SignedAt); err != nil {
		b.Fatal(err)
	}
	ev.Headers, ev.Body = h, string(body)
	ev.RequestContext.RequestID = "Kq3bVhTfIAMEVdg="
	ev.RequestContext.HTTP.SourceIP, ev.RequestContext.HTTP.UserAgent = h["x-forwarded-for"], h["user-agent"]
	return ev
}

// benchPayload is the invocation payload of ev: the JSON the Lambda runtime reads from
// the Runtime API and hands to the handler.
func benchPayload(b testing.TB, ev events.APIGatewayV2HTTPRequest) []byte {
	b.Helper()
	p, err := json.Marshal(ev)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// benchService is ingest wired as the Lambda wires it (JSON logs at info, here to
// io.Discard) on q, with the clock at the samples' signing time.
func benchService(b *testing.B, q Sender) *Service {
	b.Helper()
	return New(Options{
		Sources: samples.Sources(b),
		Queue:   q,
		Now:     func() time.Time { return samples.SignedAt },
		Log:     telemetry.NewLogger(io.Discard, slog.LevelInfo).With("fn", "ingest"),
	})
}

// BenchmarkIngestMemory is one signed Stripe webhook of 2 KB through HandleAPIGateway
// onto the in-memory queue, the event already decoded: verification, envelope, send,
// the 202 answer. It is ingest's own work, without the Lambda runtime's.
func BenchmarkIngestMemory(b *testing.B) {
	ev := benchEvent(b)
	ctx := context.Background()
	benchMemoryQueue(b, func(svc *Service) func() {
		return func() {
			resp, _ := svc.HandleAPIGateway(ctx, ev)
			if resp.StatusCode != http.StatusAccepted {
				b.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
			}
		}
	})
}

// BenchmarkIngestInvoke is one invocation of ingest as Lambda runs it, on the
// in-memory queue: aws-lambda-go's handler (what lambda.Start serves) decodes the
// invocation payload of BenchmarkIngestMemory's webhook into an API Gateway event,
// calls HandleAPIGateway and encodes its answer. The exchange with the Runtime API
// around it (an HTTP request for the next event, one to post the answer) is not in
// the figure.
func BenchmarkIngestInvoke(b *testing.B) {
	payload := benchPayload(b, benchEvent(b))
	ctx := context.Background()
	benchMemoryQueue(b, func(svc *Service) func() {
		h := lambda.NewHandler(svc.HandleAPIGateway)
		return func() {
			out, err := h.Invoke(ctx, payload)
			if err != nil || !bytes.HasPrefix(out, acceptedAnswer) {
				b.Fatalf("invoke: %v: %s", err, out)
			}
		}
	})
}

// accepted is how the encoded answer to an accepted webhook starts.
var acceptedAnswer = []byte(`{"statusCode":202,`)

// BenchmarkIngestRuntimeCodec is the Lambda runtime's own work around one invocation
// of ingest: BenchmarkIngestInvoke with a handler that returns ingest's answer to the
// webhook without doing ingest's work, so what is measured is aws-lambda-go decoding
// the payload into the handler's argument and encoding the answer.
func BenchmarkIngestRuntimeCodec(b *testing.B) {
	ev := benchEvent(b)
	payload := benchPayload(b, ev)
	ctx := context.Background()
	answer, _ := benchService(b, &captureSender{}).HandleAPIGateway(ctx, ev)
	if answer.StatusCode != http.StatusAccepted {
		b.Fatalf("status %d: %s", answer.StatusCode, answer.Body)
	}
	h := lambda.NewHandler(func(_ context.Context, in events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		if len(in.Body) != len(ev.Body) || len(in.Headers) != len(ev.Headers) {
			return events.APIGatewayV2HTTPResponse{}, errors.New("the event was not decoded whole")
		}
		return answer, nil
	})
	b.ReportAllocs()
	cpu := startCPU(b)
	ops := 0
	for b.Loop() {
		out, err := h.Invoke(ctx, payload)
		if err != nil || !bytes.HasPrefix(out, acceptedAnswer) {
			b.Fatalf("invoke: %v: %s", err, out)
		}
		ops++
	}
	cpu.report(b, ops)
}

// benchMemoryQueue runs the call that handler(svc) returns once per op, svc being
// ingest (benchService) on an in-memory queue, and checks that every call enqueued
// one message. The queue keeps what it holds, so a fresh queue and service replace
// them now and then, off the clock.
func benchMemoryQueue(b *testing.B, handler func(svc *Service) func()) {
	b.Helper()
	const drainEvery = 4096
	q := queue.NewMemory(queue.MemoryConfig{Name: "webhooks"})
	call := handler(benchService(b, q))
	b.ReportAllocs()
	cpu := startCPU(b)
	n, ops := 0, 0
	for b.Loop() {
		if n == drainEvery {
			b.StopTimer()
			if got := q.Snapshot().Sent; got != n {
				b.Fatalf("queue holds %d messages after %d webhooks", got, n)
			}
			q = queue.NewMemory(queue.MemoryConfig{Name: "webhooks"})
			call, n = handler(benchService(b, q)), 0
			b.StartTimer()
		}
		call()
		n++
		ops++
	}
	cpu.report(b, ops)
	if got := q.Snapshot().Sent; got != n {
		b.Fatalf("queue holds %d messages after %d webhooks", got, n)
	}
}

// BenchmarkIngestSQS is BenchmarkIngestMemory on the SQS adapter and the real SDK
// client (serialisation, signing, retryer, checksum validation, deserialisation),
// over a loopback transport that answers as SQS does.
func BenchmarkIngestSQS(b *testing.B) {
	ev := benchEvent(b)
	fake := &fakeSQS{}
	svc := benchService(b, queue.NewSQS(fakeSQSClient(fake), benchQueueURL))
	ctx := context.Background()
	if resp, _ := svc.HandleAPIGateway(ctx, ev); resp.StatusCode != http.StatusAccepted { // warm the client
		b.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
	}
	fake.calls.Store(0)
	b.ReportAllocs()
	cpu := startCPU(b)
	n := int64(0)
	for b.Loop() {
		resp, _ := svc.HandleAPIGateway(ctx, ev)
		if resp.StatusCode != http.StatusAccepted {
			b.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
		}
		n++
	}
	cpu.report(b, int(n))
	if got := fake.calls.Load(); got != n {
		b.Fatalf("%d SendMessage calls for %d webhooks", got, n)
	}
}

// BenchmarkIngestSQSFloor is the SDK alone: the client and transport of
// BenchmarkIngestSQS calling SendMessage directly with what ingest sends for the
// sample (the same queue URL, envelope body and message attributes). The difference
// between the two is ingest's own cost with the SDK.
func BenchmarkIngestSQSFloor(b *testing.B) {
	msg := sentBy(b, benchEvent(b))
	fake := &fakeSQS{}
	client := fakeSQSClient(fake)
	ctx := context.Background()
	send := func() {
		out, err := client.SendMessage(ctx, floorSendInput(msg))
		if err != nil || aws.ToString(out.MessageId) == "" {
			b.Fatalf("SendMessage: %v", err)
		}
	}
	send() // warm the client
	fake.calls.Store(0)
	b.ReportAllocs()
	cpu := startCPU(b)
	n := int64(0)
	for b.Loop() {
		send()
		n++
	}
	cpu.report(b, int(n))
	if got := fake.calls.Load(); got != n {
		b.Fatalf("%d SendMessage calls for %d sends", got, n)
	}
}

// floorSendInput is the SendMessage input a caller of the SDK builds for m, at the
// least cost: what any code sending this message must construct.
func floorSendInput(m queue.Message) *sqs.SendMessageInput {
	attrs := make(map[string]types.MessageAttributeValue, len(m.Attributes))
	for k, v := range m.Attributes {
		attrs[k] = types.MessageAttributeValue{DataType: &floorDataType, StringValue: aws.String(v)}
	}
	return &sqs.SendMessageInput{QueueUrl: aws.String(benchQueueURL), MessageBody: aws.String(m.Body), MessageAttributes: attrs}
}

// floorDataType is the DataType of the floor's attributes, shared as the adapter
// shares its own.
var floorDataType = "String"

// captureSender keeps the last message sent.
type captureSender struct{ last queue.Message }

func (c *captureSender) Send(_ context.Context, m queue.Message) (string, error) {
	c.last = m
	return "id", nil
}

// sentBy returns the message ingest sends for ev.
func sentBy(b testing.TB, ev events.APIGatewayV2HTTPRequest) queue.Message {
	b.Helper()
	c := &captureSender{}
	svc := New(Options{Sources: samples.Sources(b), Queue: c, Now: func() time.Time { return samples.SignedAt }, Log: quiet()})
	if resp, _ := svc.HandleAPIGateway(context.Background(), ev); resp.StatusCode != http.StatusAccepted {
		b.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
	}
	return c.last
}

// fakeSQSClient is a real SQS client whose HTTP transport is fake.
func fakeSQSClient(fake *fakeSQS) *sqs.Client {
	return sqs.NewFromConfig(aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		HTTPClient:   &http.Client{Transport: fake},
		BaseEndpoint: aws.String("http://sqs.loopback.invalid"),
	})
}

// fakeSQS is an http.RoundTripper that plays SQS for SendMessage (AWS JSON 1.0): it
// answers with a message id and the MD5s of the body and attributes it received, as
// SQS does (the SDK checks the body's). It remembers its last answer by message body,
// so that the same message sent again costs a comparison, not a JSON decode: the
// benchmarks measure the client, not the fake. (The SDK writes the attributes in map
// order, which changes from call to call; it does not check their MD5.)
type fakeSQS struct {
	calls atomic.Int64

	mu       sync.Mutex
	lastReq  []byte // the last request decoded
	lastBody []byte // its MessageBody, as JSON
	lastResp []byte
}

func (f *fakeSQS) RoundTrip(req *http.Request) (*http.Response, error) {
	f.calls.Add(1)
	var buf bytes.Buffer
	if req.Body != nil {
		_, _ = buf.ReadFrom(req.Body)
		req.Body.Close()
	}
	status, body := http.StatusOK, []byte(nil)
	if req.Header.Get("X-Amz-Target") != "AmazonSQS.SendMessage" {
		status, body = http.StatusBadRequest, []byte(`{"__type":"com.amazonaws.sqs#InvalidAction","message":"unexpected operation"}`)
	} else if body = f.answer(buf.Bytes()); body == nil {
		status, body = http.StatusBadRequest, []byte(`{"__type":"com.amazonaws.sqs#InvalidParameterValue","message":"unreadable request"}`)
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

// answer is the SendMessage answer to the request body in, nil when it is unreadable.
func (f *fakeSQS) answer(in []byte) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	body := messageBodyJSON(in)
	if body != nil && bytes.Equal(body, f.lastBody) {
		return f.lastResp
	}
	var r struct {
		QueueURL          string `json:"QueueUrl"`
		MessageBody       string
		MessageAttributes map[string]struct{ DataType, StringValue string }
	}
	if err := json.Unmarshal(in, &r); err != nil || r.QueueURL == "" || r.MessageBody == "" {
		return nil
	}
	attrs := make(map[string]string, len(r.MessageAttributes))
	for k, v := range r.MessageAttributes {
		if v.DataType != "String" {
			return nil
		}
		attrs[k] = v.StringValue
	}
	out, _ := json.Marshal(map[string]string{
		"MessageId":              "6f3b1f0e-3c2a-4d7e-9a0b-2c1d4e5f6a7b",
		"MD5OfMessageBody":       queue.BodyMD5(r.MessageBody),
		"MD5OfMessageAttributes": queue.AttributesMD5(attrs),
	})
	f.lastReq = append(f.lastReq[:0], in...)
	f.lastBody, f.lastResp = append(f.lastBody[:0], body...), out
	return out
}

// messageBodyJSON returns the JSON string of the request's MessageBody member, quotes
// included, or nil.
func messageBodyJSON(in []byte) []byte {
	const member = `"MessageBody":"`
	i := bytes.Index(in, []byte(member))
	if i < 0 {
		return nil
	}
	start := i + len(member) - 1
	for j := start + 1; j < len(in); j++ {
		switch in[j] {
		case '\\':
			j++
		case '"':
			return in[start : j+1]
		}
	}
	return nil
}

// TestFakeSQSAnswersAsSQS checks the benchmark's transport: the SQS adapter's send is
// accepted (checksums included), and the floor sends the same request as ingest.
func TestFakeSQSAnswersAsSQS(t *testing.T) {
	t.Parallel()
	var reqs [2]map[string]any
	for i := range reqs {
		fake := &fakeSQS{}
		client := fakeSQSClient(fake)
		ev := samples.Load(t)[0].Event
		for _, s := range samples.Load(t) {
			if s.File == "stripe.json" {
				ev = s.Event
			}
		}
		if i == 0 {
			svc := New(Options{Sources: samples.Sources(t), Queue: queue.NewSQS(client, benchQueueURL), Now: func() time.Time { return samples.SignedAt }, Log: quiet()})
			if resp, _ := svc.HandleAPIGateway(context.Background(), ev); resp.StatusCode != http.StatusAccepted {
				t.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
			}
		} else if _, err := client.SendMessage(context.Background(), floorSendInput(sentBy(t, ev))); err != nil {
			t.Fatal(err)
		}
		if fake.calls.Load() != 1 {
			t.Fatalf("%d calls, want 1", fake.calls.Load())
		}
		if err := json.Unmarshal(fake.lastReq, &reqs[i]); err != nil {
			t.Fatal(err)
		}
	}
	a, _ := json.Marshal(reqs[0])
	b, _ := json.Marshal(reqs[1])
	if !bytes.Equal(a, b) {
		t.Fatalf("the floor sends\n%s\ningest sends\n%s", b, a)
	}
	// A body that does not match its checksum is refused by the SDK: the check is live.
	fake := &fakeSQS{}
	client := fakeSQSClient(fake)
	in := floorSendInput(queue.Message{Body: "one"})
	if _, err := client.SendMessage(context.Background(), in); err != nil || string(fake.lastBody) != `"one"` {
		t.Fatalf("%v, body %s", err, fake.lastBody)
	}
	fake.lastResp = bytes.Replace(fake.lastResp, []byte(queue.BodyMD5("one")), []byte(queue.BodyMD5("two")), 1)
	if _, err := client.SendMessage(context.Background(), in); err == nil {
		t.Fatal("a wrong MD5OfMessageBody was accepted")
	}
}

// cpuClock measures the CPU time the process spends (user and system, every thread,
// the garbage collector included) over a benchmark loop: cpu-ns/op is what a webhook
// costs, whatever the number of cores the collector runs on.
type cpuClock struct{ start time.Duration }

func startCPU(b *testing.B) *cpuClock {
	b.Helper()
	return &cpuClock{start: cpuTime(b)}
}

// report adds cpu-ns/op over the ops the loop ran.
func (c *cpuClock) report(b *testing.B, ops int) {
	b.Helper()
	if ops > 0 {
		b.ReportMetric(float64(cpuTime(b)-c.start)/float64(ops), "cpu-ns/op")
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

// TestBenchInvocation checks what the invocation benchmarks measure: the payload is
// the whole 2 KB webhook, which the runtime's decode hands to ingest intact, and
// ingest accepts and enqueues it.
func TestBenchInvocation(t *testing.T) {
	t.Parallel()
	ev := benchEvent(t)
	c := &captureSender{}
	svc := New(Options{Sources: samples.Sources(t), Queue: c, Now: func() time.Time { return samples.SignedAt }, Log: quiet()})
	out, err := lambda.NewHandler(svc.HandleAPIGateway).Invoke(context.Background(), benchPayload(t, ev))
	if err != nil || !bytes.HasPrefix(out, acceptedAnswer) {
		t.Fatalf("invoke: %v: %s", err, out)
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("answer %s: %v", out, err)
	}
	env, err := envelope.DecodeString(c.last.Body)
	if err != nil {
		t.Fatalf("message %s: %v", c.last.Body, err)
	}
	if string(env.Body) != ev.Body || env.ID != "evt_3TenazBench0000001" {
		t.Fatalf("the message carries %s %q, not the webhook", env.ID, env.Body)
	}
}
