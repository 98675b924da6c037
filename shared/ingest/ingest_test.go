package ingest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/internal/samples"
	"github.com/tenaz/tenaz/shared/queue"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newService(t *testing.T, q Sender, now time.Time) *Service {
	t.Helper()
	return New(Options{Sources: samples.Sources(t), Queue: q, Now: func() time.Time { return now }, Log: quiet()})
}

func drain(t *testing.T, q *queue.Memory) []queue.Received {
	t.Helper()
	var all []queue.Received
	for {
		got, err := q.Receive(context.Background(), 10, 0, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 {
			return all
		}
		all = append(all, got...)
	}
}

// Every sample gets the status the manifest gives; an accepted one puts exactly one
// message on the queue, carrying the provider's id and the raw body; a refused one
// puts nothing.
func TestSamples(t *testing.T) {
	t.Parallel()
	for _, s := range samples.Load(t) {
		t.Run(s.File, func(t *testing.T) {
			t.Parallel()
			q := queue.NewMemory(queue.MemoryConfig{Name: "webhooks"})
			svc := newService(t, q, samples.SignedAt)
			resp, err := svc.HandleAPIGateway(context.Background(), s.Event)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != s.Status {
				t.Fatalf("status %d, want %d (%s): %s", resp.StatusCode, s.Status, s.Note, resp.Body)
			}
			if s.Type == "webhook_callback_verification" {
				// Twitch wants the challenge back as plain text.
				if resp.Headers["content-type"] != "text/plain" || resp.Body != "pogchamp-kappa-360noscope-vohiyo" {
					t.Fatalf("twitch challenge answered %q %q", resp.Headers, resp.Body)
				}
			} else if resp.Headers["content-type"] != "application/json" || !json.Valid([]byte(resp.Body)) {
				t.Fatalf("response is not JSON: %q %q", resp.Headers, resp.Body)
			}
			msgs := drain(t, q)
			switch {
			case s.Status == http.StatusAccepted:
				if len(msgs) != 1 {
					t.Fatalf("%d messages, want 1", len(msgs))
				}
				var body struct{ ID string }
				_ = json.Unmarshal([]byte(resp.Body), &body)
				if body.ID != s.ID {
					t.Fatalf("answered id %q, want %q", body.ID, s.ID)
				}
				env, err := envelope.Decode([]byte(msgs[0].Body))
				if err != nil {
					t.Fatal(err)
				}
				if env.ID != s.ID || env.Type != s.Type || env.Source != s.Source || string(env.Body) != s.Event.Body {
					t.Fatalf("envelope %+v", env)
				}
				if !env.ReceivedAt.Equal(samples.SignedAt) {
					t.Fatalf("receivedAt %v", env.ReceivedAt)
				}
				if got := msgs[0].Attributes; got[envelope.AttrKey] != s.Source+":"+s.ID || got[envelope.AttrType] != s.Type || got[envelope.AttrSource] != s.Source {
					t.Fatalf("attributes %v", got)
				}
				for k := range env.Headers {
					if strings.Contains(k, "signature") || strings.Contains(k, "hmac") {
						t.Fatalf("signature header %q kept on the envelope", k)
					}
				}
			default:
				if len(msgs) != 0 {
					t.Fatalf("%d messages for a refused request", len(msgs))
				}
				if s.Status >= 400 {
					var e struct{ Error string }
					if json.Unmarshal([]byte(resp.Body), &e); e.Error == "" {
						t.Fatalf("no error message in %s", resp.Body)
					}
				}
			}
		})
	}
}

func TestSlackChallengeAnswered(t *testing.T) {
	t.Parallel()
	for _, s := range samples.Load(t) {
		if s.File != "slack-challenge.json" {
			continue
		}
		resp, _ := newService(t, queue.NewMemory(queue.MemoryConfig{}), samples.SignedAt).HandleAPIGateway(context.Background(), s.Event)
		if resp.StatusCode != 200 || !strings.Contains(resp.Body, `"challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"`) {
			t.Fatalf("got %d %s", resp.StatusCode, resp.Body)
		}
		return
	}
	t.Fatal("no slack-challenge sample")
}

// Each provider's endpoint check is answered as the provider wants it, and nothing is
// enqueued.
func TestHandshakesAnswered(t *testing.T) {
	t.Parallel()
	want := map[string]struct{ contentType, body string }{
		"slack-challenge.json":     {"application/json", `{"challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}`},
		"discord-ping.json":        {"application/json", `{"type":1}`},
		"twitch-verification.json": {"text/plain", "pogchamp-kappa-360noscope-vohiyo"},
		// Zoom's documented check: the encryptedToken is the hex HMAC-SHA256 of the
		// plainToken under the secret token ("tenaz-test-zoom").
		"zoom-url-validation.json": {"application/json", `{"encryptedToken":"` + hmacHex("tenaz-test-zoom", "qgg8vlvZRS6UYooatFL8Aw") + `","plainToken":"qgg8vlvZRS6UYooatFL8Aw"}`},
	}
	n := 0
	for _, s := range samples.Load(t) {
		w, ok := want[s.File]
		if !ok {
			continue
		}
		n++
		q := queue.NewMemory(queue.MemoryConfig{})
		resp, _ := newService(t, q, samples.SignedAt).HandleAPIGateway(context.Background(), s.Event)
		if resp.StatusCode != 200 || resp.Headers["content-type"] != w.contentType || resp.Body != w.body {
			t.Errorf("%s: got %d %v %s", s.File, resp.StatusCode, resp.Headers, resp.Body)
		}
		if msgs := drain(t, q); len(msgs) != 0 {
			t.Errorf("%s: %d messages enqueued", s.File, len(msgs))
		}
	}
	if n != len(want) {
		t.Fatalf("found %d of %d handshake samples", n, len(want))
	}
}

func hmacHex(key, msg string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

// The refusals say what was wrong, with the verification code, and never echo a
// secret.
func TestRefusalsLeakNoSecret(t *testing.T) {
	t.Parallel()
	secrets := []string{"whsec_tenaz_test_stripe_current", "tenaz-test-github", "tenaz-test-shopify", "tenaz-test-slack", "tenaz-test-acme"}
	codes := map[string]string{
		"reject-bad-signature.json":     "bad_signature",
		"reject-missing-signature.json": "missing_signature",
		"reject-stale-timestamp.json":   "stale_timestamp",
		"reject-malformed-json.json":    "malformed_json",
		"reject-missing-id.json":        "missing_id",
		"reject-no-event-id.json":       "no_event_id",
		"reject-unknown-source.json":    OutcomeUnknownSource,
		"reject-too-large.json":         OutcomeTooLarge,
		"reject-wrong-method.json":      OutcomeMethod,
	}
	var logs bytes.Buffer
	for _, s := range samples.Load(t) {
		want, ok := codes[s.File]
		if !ok {
			continue
		}
		delete(codes, s.File)
		svc := New(Options{Sources: samples.Sources(t), Queue: queue.NewMemory(queue.MemoryConfig{}), Now: func() time.Time { return samples.SignedAt },
			Log: slog.New(slog.NewJSONHandler(&logs, nil))})
		resp, _ := svc.HandleAPIGateway(context.Background(), s.Event)
		var e struct{ Error, Code string }
		if err := json.Unmarshal([]byte(resp.Body), &e); err != nil || e.Code != want {
			t.Errorf("%s: body %s, want code %s", s.File, resp.Body, want)
		}
		for _, secret := range secrets {
			if strings.Contains(resp.Body, secret) {
				t.Errorf("%s: response carries a secret", s.File)
			}
		}
	}
	if len(codes) != 0 {
		t.Fatalf("samples missing: %v", codes)
	}
	for _, secret := range secrets {
		if strings.Contains(logs.String(), secret) {
			t.Fatalf("logs carry a secret")
		}
	}
	if strings.Contains(logs.String(), "padding") {
		t.Fatalf("logs carry a body")
	}
}

// A send that fails answers 503 and acknowledges nothing; the sender's retry then
// goes through.
func TestSendFailureAnswers503(t *testing.T) {
	t.Parallel()
	q := queue.NewMemory(queue.MemoryConfig{})
	svc := newService(t, q, samples.SignedAt)
	var stripe samples.Sample
	for _, s := range samples.Load(t) {
		if s.File == "stripe.json" {
			stripe = s
		}
	}
	q.FailSends(1, &queue.Error{Op: "SendMessage", Code: "ServiceUnavailable", Retryable: true, Err: errors.New("unavailable")})
	resp, _ := svc.HandleAPIGateway(context.Background(), stripe.Event)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", resp.StatusCode)
	}
	if n := len(drain(t, q)); n != 0 {
		t.Fatalf("%d messages after a failed send", n)
	}
	resp, _ = svc.HandleAPIGateway(context.Background(), stripe.Event)
	if resp.StatusCode != http.StatusAccepted || len(drain(t, q)) != 1 {
		t.Fatalf("retry: status %d", resp.StatusCode)
	}
}

// A sender that hangs is bounded by the invocation's context: the answer is 503.
func TestSendHonoursContext(t *testing.T) {
	t.Parallel()
	svc := newService(t, hangingSender{}, samples.SignedAt)
	var stripe samples.Sample
	for _, s := range samples.Load(t) {
		if s.File == "stripe.json" {
			stripe = s
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	resp, _ := svc.HandleAPIGateway(ctx, stripe.Event)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", resp.StatusCode)
	}
}

type hangingSender struct{}

func (hangingSender) Send(ctx context.Context, _ queue.Message) (string, error) {
	<-ctx.Done()
	return "", ctx.Err()
}

func TestBodyLimitAndEncodings(t *testing.T) {
	t.Parallel()
	sources := samples.Sources(t)
	q := queue.NewMemory(queue.MemoryConfig{})
	svc := New(Options{Sources: sources, Queue: q, MaxBodyBytes: 64, Now: func() time.Time { return samples.SignedAt }, Log: quiet()})

	sign := func(body string) map[string]string {
		h := map[string]string{"x-github-delivery": "d-1", "x-github-event": "push", "content-type": "application/json"}
		if err := sources["github"].Sign(h, []byte(body), samples.SignedAt); err != nil {
			t.Fatal(err)
		}
		return h
	}
	req := func(body string, b64 bool, headers map[string]string) events.APIGatewayV2HTTPRequest {
		r := events.APIGatewayV2HTTPRequest{Headers: headers, PathParameters: map[string]string{"source": "github"}, Body: body, IsBase64Encoded: b64}
		r.RequestContext.HTTP.Method = "POST"
		return r
	}
	exact := `{"ref":"` + strings.Repeat("a", 64-10) + `"}`
	if len(exact) != 64 {
		t.Fatalf("len %d", len(exact))
	}
	if resp, _ := svc.HandleAPIGateway(context.Background(), req(exact, false, sign(exact))); resp.StatusCode != 202 {
		t.Fatalf("body at the limit: %d %s", resp.StatusCode, resp.Body)
	}
	over := exact + " "
	if resp, _ := svc.HandleAPIGateway(context.Background(), req(over, false, sign(over))); resp.StatusCode != 413 {
		t.Fatalf("body over the limit: %d", resp.StatusCode)
	}
	// API Gateway base64-encodes bodies it does not take for text.
	body := `{"ref":"b64"}`
	if resp, _ := svc.HandleAPIGateway(context.Background(), req(b64(body), true, sign(body))); resp.StatusCode != 202 {
		t.Fatalf("base64 body: %d %s", resp.StatusCode, resp.Body)
	}
	if resp, _ := svc.HandleAPIGateway(context.Background(), req("%%%", true, sign(body))); resp.StatusCode != 400 {
		t.Fatalf("bad base64: %d", resp.StatusCode)
	}
	// Mixed-case header names (a proxy in front) are folded.
	h := sign(body)
	mixed := map[string]string{}
	for k, v := range h {
		mixed[http.CanonicalHeaderKey(k)] = v
	}
	if resp, _ := svc.HandleAPIGateway(context.Background(), req(body, false, mixed)); resp.StatusCode != 202 {
		t.Fatalf("mixed-case headers: %d %s", resp.StatusCode, resp.Body)
	}
	if n := len(drain(t, q)); n != 3 {
		t.Fatalf("%d messages, want 3", n)
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// The net/http handler of the local runner gives the same answers.
func TestHTTPHandler(t *testing.T) {
	t.Parallel()
	q := queue.NewMemory(queue.MemoryConfig{})
	var seen []Result
	svc := New(Options{Sources: samples.Sources(t), Queue: q, Now: func() time.Time { return samples.SignedAt }, Log: quiet(),
		Observe: func(r Result) { seen = append(seen, r) }})
	srv := httptest.NewServer(svc.Handler())
	defer srv.Close()

	for _, s := range samples.Load(t) {
		if s.File == "reject-unknown-source.json" {
			continue // covered below with a path of its own
		}
		req, err := http.NewRequest(s.Event.RequestContext.HTTP.Method, srv.URL+"/webhooks/"+s.Source, strings.NewReader(s.Event.Body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range s.Event.Headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != s.Status {
			t.Errorf("%s: status %d, want %d", s.File, resp.StatusCode, s.Status)
		}
	}
	resp, err := http.Post(srv.URL+"/webhooks/nope", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("unknown source: %d", resp.StatusCode)
	}
	accepted := 0
	for _, r := range seen {
		if r.Outcome == OutcomeAccepted {
			accepted++
		}
	}
	want := 0
	for _, s := range samples.Load(t) {
		if s.Status == http.StatusAccepted {
			want++
		}
	}
	if n := len(drain(t, q)); n != accepted || accepted != want {
		t.Fatalf("%d messages, %d accepted; want %d", n, accepted, want)
	}
}
