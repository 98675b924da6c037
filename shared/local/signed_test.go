package local

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/processor"
	"github.com/tenaz/tenaz/shared/route"
	"github.com/tenaz/tenaz/shared/webhook"
)

// A route of the local runner with a signing secret and an Authorization header from
// env: references (the default secret store) delivers signed, authenticated
// requests that a Standard Webhooks verifier accepts.
func TestLocalSignedRoute(t *testing.T) {
	const secret = "whsec_bG9jYWwtc2lnbmluZy1rZXktb2YtMzItYnl0ZXMhIQ=="
	t.Setenv("TENAZ_TEST_LOCAL_SIGNING", secret)
	t.Setenv("TENAZ_TEST_LOCAL_TOKEN", "local-token")
	var mu sync.Mutex
	var got []*http.Request
	var bodies []string
	dest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got, bodies = append(got, r), append(bodies, string(b))
		mu.Unlock()
	}))
	defer dest.Close()
	routes, err := route.ParseConfig([]byte(`[{"source": "stripe", "url": "` + dest.URL + `", "signingSecret": "env:TENAZ_TEST_LOCAL_SIGNING",
		"headers": {"Authorization": {"secret": "env:TENAZ_TEST_LOCAL_TOKEN", "format": "Bearer {}"}}}]`))
	if err != nil {
		t.Fatal(err)
	}
	raw := sourcesJSON(t)
	sources, err := webhook.ParseSources(raw)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	sender, err := NewSender("http://"+srv.Listener.Addr().String(), raw)
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Options{Sources: sources, Routes: routes, Sender: sender,
		Processor: processor.Settings{RetryBase: 50 * time.Millisecond, RetryMax: 50 * time.Millisecond, MinDelay: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = p.Handler()
	srv.Start()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = p.Run(ctx); close(done) }()
	defer func() { cancel(); <-done; srv.Close() }()

	if sent, err := sender.Send(ctx, "stripe", "evt_signed_1"); err != nil || sent.Status != 202 {
		t.Fatalf("send: %+v, %v", sent, err)
	}
	waitFor(t, "the signed delivery", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 1 })
	mu.Lock()
	r, body := got[0], bodies[0]
	mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer local-token" || r.Header.Get("Webhook-Id") != r.Header.Get("Idempotency-Key") {
		t.Fatalf("headers %v", r.Header)
	}
	srcs, err := webhook.ParseSources([]byte(`{"tenaz": {"scheme": "standard-webhooks", "secrets": ["` + secret + `"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	h := map[string]string{}
	for k := range r.Header {
		h[strings.ToLower(k)] = r.Header.Get(k)
	}
	if _, err := srcs["tenaz"].Verify(h, []byte(body), time.Now()); err != nil {
		t.Fatalf("the delivery does not verify: %v", err)
	}
}
