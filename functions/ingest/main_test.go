package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tenaz/tenaz/shared/blob"
	"github.com/tenaz/tenaz/shared/config"
)

// fakeAWS records every request; S3 puts succeed, SQS refuses (400) so that nothing
// waits on retries.
type fakeAWS struct {
	mu   sync.Mutex
	reqs []string // method path
	puts map[string]http.Header
}

func (f *fakeAWS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	f.mu.Lock()
	f.reqs = append(f.reqs, r.Method+" "+r.URL.Path)
	if r.Method == http.MethodPut {
		f.puts[r.URL.Path] = r.Header.Clone()
	}
	f.mu.Unlock()
	if r.Method == http.MethodPut {
		w.WriteHeader(http.StatusOK)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = io.WriteString(w, `{"__type":"com.amazonaws.sqs#InvalidParameterValue","message":"refused by the test"}`)
}

func (f *fakeAWS) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.reqs...)
}

func setEnv(t *testing.T, endpoint string, extra map[string]string) {
	t.Helper()
	env := map[string]string{
		"AWS_ENDPOINT_URL": endpoint, "AWS_REGION": "us-east-1",
		"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_SESSION_TOKEN": "",
		"AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_EC2_METADATA_DISABLED": "true",
		config.EnvQueueURL:   endpoint + "/000000000000/webhooks",
		config.EnvSources:    `{"github": {"scheme": "github", "secrets": ["s3cret"]}}`,
		config.EnvBodyBucket: "", config.EnvInlineMaxBytes: "", config.EnvMaxBodyBytes: "",
	}
	for k, v := range extra {
		env[k] = v
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// With a body bucket, start-up makes no AWS call; a large body is then put to the
// bucket, path-style on the endpoint override, with SSE-S3 and its SHA-256, before
// the queue is called.
func TestBodyBucket(t *testing.T) {
	fake := &fakeAWS{puts: map[string]http.Header{}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	// A host name, not an IP address: the SDK addresses an IP endpoint path-style on
	// its own.
	endpoint := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	setEnv(t, endpoint, map[string]string{config.EnvBodyBucket: "tenaz-bodies"})

	svc, err := setup(context.Background(), quiet())
	if err != nil {
		t.Fatal(err)
	}
	if got := fake.requests(); len(got) != 0 {
		t.Fatalf("start-up made AWS calls: %v", got)
	}

	body := `{"ref":"refs/heads/main","padding":"` + strings.Repeat("p", 600<<10) + `"}`
	m := hmac.New(sha256.New, []byte("s3cret"))
	m.Write([]byte(body))
	req := events.APIGatewayV2HTTPRequest{
		Headers: map[string]string{"x-github-delivery": "d-1", "x-github-event": "push",
			"x-hub-signature-256": "sha256=" + hex.EncodeToString(m.Sum(nil))},
		PathParameters: map[string]string{"source": "github"}, Body: body,
	}
	req.RequestContext.HTTP.Method = "POST"
	resp, err := svc.HandleAPIGateway(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	// SQS refuses the reference for good: 500, not a 503 the sender would retry forever.
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(resp.Body, "queue_refused") {
		t.Fatalf("status %d %s, want 500 queue_refused", resp.StatusCode, resp.Body)
	}
	key, err := blob.Key("github", "d-1")
	if err != nil {
		t.Fatal(err)
	}
	got := fake.requests()
	if len(got) < 2 || got[0] != "PUT /tenaz-bodies/"+key {
		t.Fatalf("requests %v, want first PUT /tenaz-bodies/%s", got, key)
	}
	h := fake.puts["/tenaz-bodies/"+key]
	if h.Get("X-Amz-Server-Side-Encryption") != "AES256" || h.Get("X-Amz-Meta-Sha256") != blob.Sum([]byte(body)) {
		t.Fatalf("put headers %v: want SSE AES256 and the body's sha256", h)
	}
}

func TestSettingsBounds(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		ok   bool
	}{
		{"defaults", nil, true},
		{"body limit 6 MiB", map[string]string{config.EnvMaxBodyBytes: "6291456"}, true},
		{"body limit past 6 MiB", map[string]string{config.EnvMaxBodyBytes: "6291457"}, false},
		{"inline 1 MiB", map[string]string{config.EnvInlineMaxBytes: "1048576"}, true},
		{"inline past 1 MiB", map[string]string{config.EnvInlineMaxBytes: "1048577"}, false},
		{"inline zero", map[string]string{config.EnvInlineMaxBytes: "0"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			setEnv(t, "http://127.0.0.1:1", tc.env)
			_, err := setup(context.Background(), quiet())
			if (err == nil) != tc.ok {
				t.Fatalf("setup: %v, want ok %v", err, tc.ok)
			}
		})
	}
}
