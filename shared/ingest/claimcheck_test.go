package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tenaz/tenaz/shared/blob"
	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/internal/samples"
	"github.com/tenaz/tenaz/shared/queue"
)

// githubEvent is a signed GitHub push delivery with the given id and body.
func githubEvent(t *testing.T, id string, body []byte) events.APIGatewayV2HTTPRequest {
	t.Helper()
	h := map[string]string{"x-github-delivery": id, "x-github-event": "push", "content-type": "application/json"}
	if err := samples.Sources(t)["github"].Sign(h, body, samples.SignedAt); err != nil {
		t.Fatal(err)
	}
	r := events.APIGatewayV2HTTPRequest{Headers: h, PathParameters: map[string]string{"source": "github"}, Body: string(body)}
	r.RequestContext.HTTP.Method = "POST"
	return r
}

// jsonBody is a JSON body of exactly n bytes.
func jsonBody(t *testing.T, n int) []byte {
	t.Helper()
	const prefix, suffix = `{"ref":"refs/heads/main","padding":"`, `"}`
	if n < len(prefix)+len(suffix) {
		t.Fatalf("body of %d bytes is too short", n)
	}
	return []byte(prefix + strings.Repeat("p", n-len(prefix)-len(suffix)) + suffix)
}

func storeService(t *testing.T, q Sender, bodies Bodies, log *slog.Logger) *Service {
	t.Helper()
	if log == nil {
		log = quiet()
	}
	o := Options{Sources: samples.Sources(t), Queue: q, Now: func() time.Time { return samples.SignedAt }, Log: log}
	if bodies != nil {
		o.Bodies = bodies
	}
	return New(o)
}

func code(t *testing.T, resp events.APIGatewayV2HTTPResponse) string {
	t.Helper()
	var b struct{ Code string }
	if err := json.Unmarshal([]byte(resp.Body), &b); err != nil {
		t.Fatalf("answer %q is not JSON: %v", resp.Body, err)
	}
	return b.Code
}

func oneEnvelope(t *testing.T, q *queue.Memory) *envelope.Envelope {
	t.Helper()
	msgs := drain(t, q)
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want 1", len(msgs))
	}
	env, err := envelope.Decode([]byte(msgs[0].Body))
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// checkStored asserts env refers to body, stored under blob.Key with its SHA-256.
func checkStored(t *testing.T, env *envelope.Envelope, store *blob.Memory, source, id string, body []byte) {
	t.Helper()
	key, err := blob.Key(source, id)
	if err != nil {
		t.Fatal(err)
	}
	if !env.Stored() || env.BodyRef != key || env.BodySHA256 != blob.Sum(body) || len(env.Body) != 0 {
		t.Fatalf("envelope ref %q sha %q body %d bytes; want ref %q sha %q and no body", env.BodyRef, env.BodySHA256, len(env.Body), key, blob.Sum(body))
	}
	if err := blob.Load(context.Background(), store, env); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(env.Body, body) {
		t.Fatalf("stored body differs: %d bytes, want %d", len(env.Body), len(body))
	}
}

// A message over the inline limit is stored first, then sent as a version 2
// reference; a small one travels inline and touches no store.
func TestClaimCheck(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		size   int
		stored bool
	}{
		{"small body inline", 2 << 10, false},
		{"400 KiB inline", 400 << 10, false},
		{"600 KiB stored", 600 << 10, true},
		{"1 MiB stored", 1 << 20, true},
		{"6 MiB stored", DefaultMaxBodyBytes, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			q := queue.NewMemory(queue.MemoryConfig{})
			store := blob.NewMemory()
			svc := storeService(t, q, store, nil)
			body := jsonBody(t, tc.size)
			resp, _ := svc.HandleAPIGateway(context.Background(), githubEvent(t, "d-big", body))
			if resp.StatusCode != http.StatusAccepted || resp.Body != `{"id":"d-big"}` {
				t.Fatalf("status %d %s, want 202", resp.StatusCode, resp.Body)
			}
			env := oneEnvelope(t, q)
			if !tc.stored {
				if env.Stored() || !bytes.Equal(env.Body, body) || store.Len() != 0 {
					t.Fatalf("inline: stored %v, body %d bytes, %d objects", env.Stored(), len(env.Body), store.Len())
				}
				return
			}
			if store.Len() != 1 {
				t.Fatalf("%d objects stored, want 1", store.Len())
			}
			if env.ID != "d-big" || env.Type != "push" || env.Source != "github" || env.Headers["content-type"] != "application/json" {
				t.Fatalf("envelope %+v", env)
			}
			checkStored(t, env, store, "github", "d-big", body)
		})
	}
}

// The threshold is the whole message as SQS counts it: envelope and attributes.
func TestInlineLimitIsTheMessageSize(t *testing.T) {
	t.Parallel()
	body := jsonBody(t, 10<<10)
	probe := queue.NewMemory(queue.MemoryConfig{})
	if resp, _ := storeService(t, probe, nil, nil).HandleAPIGateway(context.Background(), githubEvent(t, "d-1", body)); resp.StatusCode != 202 {
		t.Fatalf("probe: %d", resp.StatusCode)
	}
	m := drain(t, probe)[0]
	size := len(m.Body)
	for k, v := range m.Attributes {
		size += len(k) + len("String") + len(v)
	}
	for _, tc := range []struct {
		limit  int
		stored bool
	}{{size, false}, {size - 1, true}} {
		q := queue.NewMemory(queue.MemoryConfig{})
		store := blob.NewMemory()
		svc := New(Options{Sources: samples.Sources(t), Queue: q, Bodies: store, InlineMaxBytes: tc.limit,
			Now: func() time.Time { return samples.SignedAt }, Log: quiet()})
		if resp, _ := svc.HandleAPIGateway(context.Background(), githubEvent(t, "d-1", body)); resp.StatusCode != 202 {
			t.Fatalf("limit %d: status %d", tc.limit, resp.StatusCode)
		}
		if env := oneEnvelope(t, q); env.Stored() != tc.stored || store.Len() != map[bool]int{false: 0, true: 1}[tc.stored] {
			t.Fatalf("message of %d bytes, limit %d: stored %v with %d objects, want stored %v", size, tc.limit, env.Stored(), store.Len(), tc.stored)
		}
	}
}

// failingBodies fails every Put with err.
type failingBodies struct{ err error }

func (f failingBodies) Put(context.Context, string, string, []byte) error { return f.err }

// A store that cannot take the body: nothing is sent. An outage answers 503 so the
// sender retries; a store refusing for good is a fault of the deployment (500).
func TestStoreFailure(t *testing.T) {
	t.Parallel()
	outage := blob.NewMemory()
	outage.SetOutage(errors.New("s3: service unavailable"))
	for _, tc := range []struct {
		name   string
		bodies Bodies
		status int
		code   string
	}{
		{"outage", outage, http.StatusServiceUnavailable, OutcomeStoreFailed},
		{"unclassified error", failingBodies{errors.New("connection reset")}, http.StatusServiceUnavailable, OutcomeStoreFailed},
		{"permanent refusal", failingBodies{&blob.Error{Op: "put", Kind: blob.ErrInvalidKey}}, http.StatusInternalServerError, OutcomeInternal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			q := queue.NewMemory(queue.MemoryConfig{})
			var logs bytes.Buffer
			svc := storeService(t, q, tc.bodies, slog.New(slog.NewTextHandler(&logs, nil)))
			resp, _ := svc.HandleAPIGateway(context.Background(), githubEvent(t, "d-out", jsonBody(t, 600<<10)))
			if resp.StatusCode != tc.status || code(t, resp) != tc.code {
				t.Fatalf("status %d %s, want %d %s", resp.StatusCode, resp.Body, tc.status, tc.code)
			}
			if n := len(drain(t, q)); n != 0 {
				t.Fatalf("%d messages sent after a failed put", n)
			}
			if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "id=d-out") {
				t.Fatalf("no ERROR line with the id: %s", logs.String())
			}
		})
	}
}

// A send that fails after the put answers 503; the object stays behind and the
// sender's retry overwrites it under the same key.
func TestSendFailureAfterPut(t *testing.T) {
	t.Parallel()
	q := queue.NewMemory(queue.MemoryConfig{})
	store := blob.NewMemory()
	svc := storeService(t, q, store, nil)
	body := jsonBody(t, 700<<10)
	q.FailSends(1, &queue.Error{Op: "SendMessage", Code: "ServiceUnavailable", Retryable: true, Err: errors.New("unavailable")})
	resp, _ := svc.HandleAPIGateway(context.Background(), githubEvent(t, "d-retry", body))
	if resp.StatusCode != http.StatusServiceUnavailable || code(t, resp) != OutcomeQueueFailed {
		t.Fatalf("status %d %s, want 503 %s", resp.StatusCode, resp.Body, OutcomeQueueFailed)
	}
	if n := len(drain(t, q)); n != 0 || store.Len() != 1 {
		t.Fatalf("%d messages and %d objects after the failed send; want 0 and 1", n, store.Len())
	}
	resp, _ = svc.HandleAPIGateway(context.Background(), githubEvent(t, "d-retry", body))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("retry: status %d", resp.StatusCode)
	}
	if store.Len() != 1 {
		t.Fatalf("%d objects after the retry, want 1", store.Len())
	}
	checkStored(t, oneEnvelope(t, q), store, "github", "d-retry", body)
}

// A queue that refuses a message for good is never answered with 503 (the sender
// would retry forever): with a store the body goes through it, without one the
// answer is 500 queue_refused, logged at ERROR.
func TestPermanentQueueRefusal(t *testing.T) {
	t.Parallel()
	refusal := func() error {
		return &queue.Error{Op: "SendMessage", Code: queue.CodeInvalidContents, Err: errors.New("invalid characters")}
	}
	body := jsonBody(t, 2<<10)

	t.Run("store takes the body", func(t *testing.T) {
		t.Parallel()
		q := queue.NewMemory(queue.MemoryConfig{})
		store := blob.NewMemory()
		svc := storeService(t, q, store, nil)
		q.FailSends(1, refusal())
		resp, _ := svc.HandleAPIGateway(context.Background(), githubEvent(t, "d-refused", body))
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("status %d %s, want 202", resp.StatusCode, resp.Body)
		}
		checkStored(t, oneEnvelope(t, q), store, "github", "d-refused", body)
	})
	t.Run("no store", func(t *testing.T) {
		t.Parallel()
		q := queue.NewMemory(queue.MemoryConfig{})
		var logs bytes.Buffer
		svc := storeService(t, q, nil, slog.New(slog.NewTextHandler(&logs, nil)))
		q.FailSends(1, refusal())
		resp, _ := svc.HandleAPIGateway(context.Background(), githubEvent(t, "d-refused", body))
		if resp.StatusCode != http.StatusInternalServerError || code(t, resp) != OutcomeQueueRefused {
			t.Fatalf("status %d %s, want 500 %s", resp.StatusCode, resp.Body, OutcomeQueueRefused)
		}
		if n := len(drain(t, q)); n != 0 {
			t.Fatalf("%d messages", n)
		}
		out := logs.String()
		if !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "source=github") || !strings.Contains(out, "id=d-refused") {
			t.Fatalf("no ERROR line with source and id: %s", out)
		}
	})
	t.Run("reference refused too", func(t *testing.T) {
		t.Parallel()
		q := queue.NewMemory(queue.MemoryConfig{})
		store := blob.NewMemory()
		svc := storeService(t, q, store, nil)
		q.FailSends(2, refusal())
		resp, _ := svc.HandleAPIGateway(context.Background(), githubEvent(t, "d-refused", body))
		if resp.StatusCode != http.StatusInternalServerError || code(t, resp) != OutcomeQueueRefused {
			t.Fatalf("status %d %s, want 500 %s", resp.StatusCode, resp.Body, OutcomeQueueRefused)
		}
		if n := len(drain(t, q)); n != 0 {
			t.Fatalf("%d messages", n)
		}
	})
	t.Run("an error saying it is permanent", func(t *testing.T) {
		t.Parallel()
		svc := storeService(t, refusingSender{}, nil, nil)
		resp, _ := svc.HandleAPIGateway(context.Background(), githubEvent(t, "d-refused", body))
		if resp.StatusCode != http.StatusInternalServerError || code(t, resp) != OutcomeQueueRefused {
			t.Fatalf("status %d %s, want 500 %s", resp.StatusCode, resp.Body, OutcomeQueueRefused)
		}
	})
}

type permanentErr struct{}

func (permanentErr) Error() string   { return "refused" }
func (permanentErr) Retryable() bool { return false }

type refusingSender struct{}

func (refusingSender) Send(context.Context, queue.Message) (string, error) {
	return "", permanentErr{}
}

// The body limit defaults to 6 MiB, what Lambda can receive; without a store a body
// that cannot fit a queue message is refused with 413 after verification.
func TestBodyLimitSixMiB(t *testing.T) {
	t.Parallel()
	if DefaultMaxBodyBytes != 6291456 {
		t.Fatalf("DefaultMaxBodyBytes %d, want 6291456", DefaultMaxBodyBytes)
	}
	q := queue.NewMemory(queue.MemoryConfig{})
	store := blob.NewMemory()
	svc := storeService(t, q, store, nil)
	resp, _ := svc.HandleAPIGateway(context.Background(), githubEvent(t, "d-over", jsonBody(t, DefaultMaxBodyBytes+1)))
	if resp.StatusCode != http.StatusRequestEntityTooLarge || code(t, resp) != OutcomeTooLarge {
		t.Fatalf("6 MiB + 1: status %d %s, want 413", resp.StatusCode, resp.Body)
	}
	if n := len(drain(t, q)); n != 0 || store.Len() != 0 {
		t.Fatalf("%d messages, %d objects after a refused body", n, store.Len())
	}

	plain := storeService(t, q, nil, nil)
	resp, _ = plain.HandleAPIGateway(context.Background(), githubEvent(t, "d-inline", jsonBody(t, 900<<10)))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("900 KiB without a store: status %d %s, want 202 (inline up to 1 MiB)", resp.StatusCode, resp.Body)
	}
	if env := oneEnvelope(t, q); env.Stored() || len(env.Body) != 900<<10 {
		t.Fatalf("900 KiB without a store: stored %v, body %d bytes", env.Stored(), len(env.Body))
	}
	resp, _ = plain.HandleAPIGateway(context.Background(), githubEvent(t, "d-big", jsonBody(t, MaxMessageBytes)))
	if resp.StatusCode != http.StatusRequestEntityTooLarge || code(t, resp) != OutcomeTooLarge {
		t.Fatalf("1 MiB without a store: status %d %s, want 413", resp.StatusCode, resp.Body)
	}
	if n := len(drain(t, q)); n != 0 {
		t.Fatalf("%d messages", n)
	}
}
