package local

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/blob"
	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/webhook"
)

// The local pipeline's ingest puts a body too large to travel inline in the
// pipeline's own body store, and enqueues a reference to it.
func TestIngestStoresLargeBodies(t *testing.T) {
	t.Parallel()
	sources, err := webhook.ParseSources(sourcesJSON(t))
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Options{Sources: sources})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p.Ingest.Handler())
	defer srv.Close()

	body := `{"ref":"refs/heads/main","padding":"` + strings.Repeat("p", 600<<10) + `"}`
	h := map[string]string{"x-github-delivery": "big-1", "x-github-event": "push", "content-type": "application/json"}
	if err := sources["github"].Sign(h, []byte(body), time.Now()); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/webhooks/github", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d, want 202", resp.StatusCode)
	}
	msgs, err := p.Main.Receive(context.Background(), 10, 0, time.Minute)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("%d messages (%v), want 1", len(msgs), err)
	}
	env, err := envelope.Decode([]byte(msgs[0].Body))
	if err != nil {
		t.Fatal(err)
	}
	if !env.Stored() {
		t.Fatalf("a 600 KiB body travelled inline")
	}
	if err := blob.Load(context.Background(), p.Bodies, env); err != nil {
		t.Fatal(err)
	}
	if string(env.Body) != body {
		t.Fatalf("stored body of %d bytes, want %d", len(env.Body), len(body))
	}
}
