package ingest_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/esm"
	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/ingest"
	"github.com/tenaz/tenaz/shared/processor"
	"github.com/tenaz/tenaz/shared/queue"
	"github.com/tenaz/tenaz/shared/route"
	"github.com/tenaz/tenaz/shared/webhook"
)

// bytesSecret signs for the generic source of FuzzSignedBytesArrive.
const bytesSecret = "fuzz-secret"

// bytesSources is one generic hmac-sha256 source taking the event id and type from
// headers, so that any body, JSON or not, verifies when signed.
func bytesSources(t testing.TB) webhook.Sources {
	t.Helper()
	srcs, err := webhook.ParseSources([]byte(`{"generic": {"scheme": "hmac-sha256", "secrets": ["` + bytesSecret + `"],
		"header": "X-Signature", "idHeader": "X-Webhook-Id", "typeHeader": "X-Webhook-Type"}}`))
	if err != nil {
		t.Fatal(err)
	}
	return srcs
}

// contentTypes are the content types FuzzSignedBytesArrive sends with: the verifier
// reads a JSON body for its id (and refuses a body that is not JSON), and takes any
// bytes with the others.
var contentTypes = []string{"application/xml", "application/json", "application/x-www-form-urlencoded", "text/xml; charset=utf-8"}

// FuzzSignedBytesArrive holds the path from the door to the destination to the bytes
// a sender signed: any body signed with HMAC-SHA256 for a generic source that the
// verifier accepts is enqueued (202), and the processor, reading the message from the
// queue as Lambda would hand it over, gives the route's handler exactly those bytes.
func FuzzSignedBytesArrive(f *testing.F) {
	f.Add([]byte(`{"id":"evt_1","amount":100}`), uint8(1))
	f.Add([]byte("\uFFFF"), uint8(0))
	f.Add([]byte("{\"note\":\"\uFFFE\uFFFF\"}"), uint8(1))
	f.Add(bytes.Repeat([]byte("<"), 200<<10), uint8(0))
	f.Add([]byte{0xff, 0xfe, 0xfd, 'x', 0xc3}, uint8(0))
	f.Add([]byte("a\xed\xa0\x80b"), uint8(0))
	f.Add([]byte{0, 0, 0, 1, 0}, uint8(0))
	f.Add([]byte("<script>&amp;</script>\u2028\u2029\t\r\n\"\\"), uint8(0))
	f.Add([]byte{}, uint8(0))
	f.Add([]byte("a=1&b=%FF%00"), uint8(2))
	srcs := bytesSources(f)
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, body []byte, ct uint8) {
		checkArrives(t, srcs, "evt_"+strconv.FormatInt(n.Add(1), 10), body, contentTypes[int(ct)%len(contentTypes)])
	})
}

// TestSignedBytesArrive holds bodies that used to be lost or grown at the door
// (non-characters SQS refuses, HTML characters escaped six-fold, bytes that are not
// UTF-8, NULs) to an accepted webhook whose handler gets the signed bytes.
func TestSignedBytesArrive(t *testing.T) {
	t.Parallel()
	srcs := bytesSources(t)
	for i, tc := range []struct {
		body []byte
		ct   string
	}{
		{[]byte("\uFFFF"), "application/xml"},
		{[]byte("{\"id\":\"\uFFFE\uFFFF\"}"), "application/json"},
		{bytes.Repeat([]byte("<"), 200<<10), "application/xml"},
		{bytes.Repeat([]byte("&"), 250<<10), "text/xml"},
		{[]byte{0xff, 0xfe, 0xfd, 'x', 0xc3}, "application/xml"},
		{[]byte{0, 0, 0, 1, 0}, "application/x-www-form-urlencoded"},
		{[]byte("<a>\u2028\t\r\n\"\\</a>"), "application/xml"},
		{nil, "application/xml"},
	} {
		if !checkArrives(t, srcs, "evt_"+strconv.Itoa(i), tc.body, tc.ct) {
			t.Errorf("case %d (%d bytes, %s) was not accepted", i, len(tc.body), tc.ct)
		}
	}
}

// checkArrives sends body, signed, as a webhook of the generic source and, when the
// verifier accepts it, runs the queued message through the processor: the handler
// must get exactly body. It reports whether the webhook was accepted.
func checkArrives(t *testing.T, srcs webhook.Sources, id string, body []byte, contentType string) bool {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	main := queue.NewMemory(queue.MemoryConfig{Name: "tenaz-webhooks"})
	dlq := queue.NewMemory(queue.MemoryConfig{Name: "tenaz-webhooks-dlq"})
	svc := ingest.New(ingest.Options{Sources: srcs, Queue: main, Log: log})

	mac := hmac.New(sha256.New, []byte(bytesSecret))
	mac.Write(body)
	res := svc.Handle(context.Background(), ingest.Request{
		Method: http.MethodPost,
		Source: "generic",
		Headers: map[string]string{
			"content-type":   contentType,
			"x-signature":    hex.EncodeToString(mac.Sum(nil)),
			"x-webhook-id":   id,
			"x-webhook-type": "thing.happened",
		},
		Body: bytes.Clone(body),
	})
	if res.Status != http.StatusAccepted {
		// Only what the verifier refuses (a 4xx), never the queue.
		if res.Status >= 500 {
			t.Fatalf("a signed body of %d bytes got %d %s: %s", len(body), res.Status, res.Outcome, res.Body)
		}
		if res.Outcome == webhook.CodeBadSignature {
			t.Fatalf("a correctly signed body of %d bytes was refused: %s", len(body), res.Body)
		}
		if d := main.Snapshot().Depth; d.Total() != 0 {
			t.Fatalf("a refused webhook (%d) was queued: %+v", res.Status, d)
		}
		return false
	}

	var got []byte
	var handled int
	routes := &route.Registry{}
	routes.Add(route.Route{Source: "generic", Handler: route.HandlerFunc(func(_ context.Context, e *envelope.Envelope, _ *idempotency.Attempt) ([]byte, error) {
		handled++
		got = bytes.Clone(e.Body)
		return nil, nil
	})})
	var results []processor.Result
	proc := processor.New(processor.Options{
		Runner:     idempotency.NewRunner(idempotency.NewMemoryStore(), idempotency.Settings{}),
		Router:     routes,
		Visibility: main,
		DeadLetter: dlq,
		Log:        log,
		Observe:    func(r processor.Result) { results = append(results, r) },
	})
	msgs, err := main.Receive(context.Background(), queue.MaxBatch, 0, time.Minute)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("receive: %d messages, %v; want the one accepted", len(msgs), err)
	}
	resp, err := proc.Handle(context.Background(), esm.Event(msgs, "arn:aws:sqs:us-east-1:000000000000:tenaz-webhooks"))
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("processor: %+v, %v; outcomes %+v", resp, err, results)
	}
	switch {
	case len(results) != 1 || results[0].Outcome != processor.Processed:
		t.Fatalf("outcomes %+v, want one processed", results)
	case handled != 1:
		t.Fatalf("handler called %d times, want 1", handled)
	case !bytes.Equal(got, body):
		t.Fatalf("the handler got %d bytes %.64q…, the sender signed %d bytes %.64q…", len(got), got, len(body), body)
	case results[0].Key != "generic:"+id:
		t.Fatalf("key %q, want generic:%s", results[0].Key, id)
	}
	if d := dlq.Snapshot().Depth; d.Total() != 0 {
		t.Fatalf("dead-lettered: %+v", d)
	}
	return true
}
