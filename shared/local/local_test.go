package local

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/blob"
	"github.com/tenaz/tenaz/shared/breaker"
	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/processor"
	"github.com/tenaz/tenaz/shared/queue"
	"github.com/tenaz/tenaz/shared/webhook"
)

func sourcesJSON(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "events", "sources.json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// start runs a pipeline whose routes reach its own demo destination, with retries,
// deferrals and breaker probes fast enough for tests.
func start(t *testing.T) (*Pipeline, *Sender) {
	t.Helper()
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
	p, err := New(Options{Sources: sources, DemoURL: "http://" + srv.Listener.Addr().String() + "/demo/destination",
		Processor: processor.Settings{RetryBase: 50 * time.Millisecond, RetryMax: 50 * time.Millisecond, MinDelay: time.Millisecond, MaxAttempts: 20,
			DeferMax: 100 * time.Millisecond},
		Breaker: breaker.Settings{OpenFor: 300 * time.Millisecond}, Sender: sender,
		// Invocations of 2 s: a duplicate that finds its twin leased waits at most that.
		VisibilityTimeout: 12 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = p.Handler()
	srv.Start()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = p.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; srv.Close() })
	return p, sender
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Every source's sample, each sent three times, is applied exactly once at the
// destination.
func TestPipelineDeliversEachWebhookOnce(t *testing.T) {
	p, s := start(t)
	ctx := context.Background()
	n := 0
	for _, src := range s.Sources() {
		for i := 0; i < 2; i++ {
			id := fmt.Sprintf("%s-%d", src, i)
			for rep := 0; rep < 3; rep++ {
				sent, err := s.Send(ctx, src, id)
				if err != nil {
					t.Fatal(err)
				}
				if sent.Status != 202 {
					t.Fatalf("%s: %d %s", id, sent.Status, sent.Body)
				}
			}
			n++
		}
	}
	waitFor(t, "every webhook processed", func() bool {
		st := p.Status(context.Background(), 0)
		return st.Counts["processed"] == n && st.Main.Total() == 0
	})
	st := p.Status(context.Background(), 0)
	if st.Demo.Effects != n || st.Demo.Repeats != 0 || st.Counts["duplicate"] != 2*n || st.Counts["received"] != 3*n {
		t.Fatalf("status %+v", st)
	}
}

// With the destination down, nothing is lost: once it is back, every webhook is
// applied once. Rejected ones go to the DLQ.
func TestPipelineRidesOutAnOutage(t *testing.T) {
	p, s := start(t)
	ctx := context.Background()
	if err := p.Demo.SetMode(DemoMode{Mode: ModeDown}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if sent, err := s.Send(ctx, "github", fmt.Sprintf("gh-%d", i)); err != nil || sent.Status != 202 {
			t.Fatalf("send: %v %+v", err, sent)
		}
	}
	waitFor(t, "retries", func() bool { return p.Status(context.Background(), 0).Counts["retried"] >= 5 })
	if err := p.Demo.SetMode(DemoMode{Mode: ModeHealthy}); err != nil {
		t.Fatal(err)
	}
	// The default routes fan out to the demo and the audit destinations: only the
	// demo's breaker opened; the audit destination took every webhook.
	if st := p.Status(context.Background(), 0); len(st.Breakers) != 2 || st.Breakers[0].Dependency != "demo" || st.Breakers[0].State == "closed" ||
		st.Breakers[1].State != "closed" {
		t.Fatalf("breakers during the outage: %+v", st.Breakers)
	}
	waitFor(t, "delivery after recovery", func() bool { return p.Status(context.Background(), 0).Counts["processed"] == 5 })
	waitFor(t, "breaker closed", func() bool { return p.Status(context.Background(), 0).Breakers[0].State == "closed" })
	if n := p.Audit.Stats().Effects; n != 5 {
		t.Fatalf("audit destination applied %d webhooks, want 5", n)
	}
	if st := p.Status(context.Background(), 0); st.Demo.Effects != 5 || st.Demo.Repeats != 0 || st.DLQ.Total() != 0 {
		t.Fatalf("after recovery: %+v", st)
	}

	if err := p.Demo.SetMode(DemoMode{Mode: ModeReject}); err != nil {
		t.Fatal(err)
	}
	if sent, err := s.Send(ctx, "stripe", "evt_rejected"); err != nil || sent.Status != 202 {
		t.Fatalf("send: %v %+v", err, sent)
	}
	waitFor(t, "dead-letter", func() bool { return p.Status(context.Background(), 0).DLQ.Total() == 1 })
	if l, err := p.DeadLetters(ctx, 10); err != nil || len(l.Messages) != 1 || l.Messages[0].Reason != envelope.ReasonPermanent ||
		l.Messages[0].Key != "stripe:evt_rejected" {
		t.Fatalf("dead letters %+v, %v", l, err)
	}

	// The DLQ report over HTTP, then a replay once the destination is fixed.
	report := postJSON(t, s.BaseURL+"/api/redrive", `{"dryRun": true}`)
	if !strings.Contains(report, `"stripe":1`) || !strings.Contains(report, "permanent") {
		t.Fatalf("dry run report %s", report)
	}
	if p.Status(context.Background(), 0).DLQ.Total() != 1 {
		t.Fatal("the dry run changed the DLQ")
	}
	if r := postJSON(t, s.BaseURL+"/api/redrive", `{"filter": {"sourc": "x"}}`); !strings.Contains(r, "error") {
		t.Fatalf("a bad request was accepted: %s", r)
	}
	if err := p.Demo.SetMode(DemoMode{Mode: ModeHealthy}); err != nil {
		t.Fatal(err)
	}
	postJSON(t, s.BaseURL+"/api/redrive", `{"filter": {"source": "stripe"}}`)
	waitFor(t, "replayed delivery", func() bool { return p.Demo.Applied("stripe:evt_rejected") == 1 })
	if st := p.Status(context.Background(), 0); st.DLQ.Total() != 0 || st.Demo.Repeats != 0 {
		t.Fatalf("after replay: %+v", st)
	}
}

func postJSON(t *testing.T, url, body string) string {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestDemoModeValidation(t *testing.T) {
	t.Parallel()
	d := NewDemo()
	for _, bad := range []DemoMode{{Mode: "sideways"}, {Mode: ModeFlaky, FailPercent: 101}, {Mode: ModeSlow, SlowMs: -1}} {
		if err := d.SetMode(bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	if d.Stats().Mode.Mode != ModeHealthy {
		t.Fatal("a rejected mode changed the destination")
	}
}

// A message whose body is held in the body store is delivered with that body and
// the body deleted after; one whose body is missing is dead-lettered as
// bodyMissing, stays in the DLQ through a redrive (listed with its reason) and is
// delivered once its body is back.
func TestPipelineStoredBodies(t *testing.T) {
	p, s := start(t)
	ctx := context.Background()
	stored := func(id string, put bool) *envelope.Envelope {
		t.Helper()
		body := []byte(`{"id":"` + id + `","large":true}`)
		key, err := blob.Key("stripe", id)
		if err != nil {
			t.Fatal(err)
		}
		if put {
			if err := p.Bodies.Put(ctx, key, blob.Sum(body), body); err != nil {
				t.Fatal(err)
			}
		}
		e := &envelope.Envelope{Source: "stripe", ID: id, Type: "charge.succeeded", ReceivedAt: time.Now().UTC(),
			Headers: map[string]string{"content-type": "application/json"}, BodyRef: key, BodySHA256: blob.Sum(body)}
		msg, err := envelope.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Main.Send(ctx, queue.Message{Body: string(msg), Attributes: e.Attributes()}); err != nil {
			t.Fatal(err)
		}
		return e
	}

	kept := stored("evt_stored", true)
	waitFor(t, "stored body delivered", func() bool { return p.Demo.Applied("stripe:evt_stored") == 1 })
	waitFor(t, "stored body deleted", func() bool { _, ok := p.Bodies.Modified(kept.BodyRef); return !ok })

	gone := stored("evt_gone", false)
	waitFor(t, "dead-letter", func() bool { return p.Status(ctx, 0).DLQ.Total() == 1 })
	if l, err := p.DeadLetters(ctx, 10); err != nil || len(l.Messages) != 1 || l.Messages[0].Reason != envelope.ReasonBodyMissing {
		t.Fatalf("dead letters %+v, %v; want the message with reason bodyMissing", l, err)
	}
	report := postJSON(t, s.BaseURL+"/api/redrive", `{}`)
	if !strings.Contains(report, `"bodyMissing":1`) || !strings.Contains(report, gone.BodyRef) {
		t.Fatalf("redrive report %s, want the message listed as bodyMissing", report)
	}
	if p.Status(ctx, 0).DLQ.Total() != 1 {
		t.Fatal("a message whose body is missing left the DLQ")
	}
	body := []byte(`{"id":"evt_gone","large":true}`)
	if err := p.Bodies.Put(ctx, gone.BodyRef, blob.Sum(body), body); err != nil {
		t.Fatal(err)
	}
	postJSON(t, s.BaseURL+"/api/redrive", `{}`)
	waitFor(t, "replayed stored body delivered", func() bool { return p.Demo.Applied("stripe:evt_gone") == 1 })
}
