package ingest

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/internal/samples"
	"github.com/tenaz/tenaz/shared/queue"
)

// At the default level an accepted webhook writes no log line (CloudWatch Logs bills
// by the byte; SQS and the API count accepted webhooks), a refusal writes a WARN
// line and a failed enqueue ERROR lines, naming the source and the outcome.
func TestLogLinesOnlyForWhatNeedsAttention(t *testing.T) {
	t.Parallel()
	byFile := map[string]samples.Sample{}
	for _, s := range samples.Load(t) {
		byFile[s.File] = s
	}
	stripe, ok := byFile["stripe.json"]
	if !ok {
		t.Fatal("no stripe.json sample")
	}
	refused := stripe.Event
	refused.Headers = map[string]string{"content-type": "application/json", "stripe-signature": "t=1,v1=00"}
	down := queue.NewMemory(queue.MemoryConfig{})
	down.FailSends(1, &queue.Error{Op: "SendMessage", Code: "ServiceUnavailable", Retryable: true, Err: errors.New("unavailable")})
	cases := []struct {
		name  string
		queue Sender
		want  string // "" for no line
	}{
		{"accepted", queue.NewMemory(queue.MemoryConfig{}), ""},
		{"refused", queue.NewMemory(queue.MemoryConfig{}), "level=WARN"},
		{"queue down", down, "level=ERROR"},
	}
	for _, c := range cases {
		var buf bytes.Buffer
		svc := New(Options{Sources: samples.Sources(t), Queue: c.queue, Now: func() time.Time { return samples.SignedAt },
			Log: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))})
		ev := stripe.Event
		if c.name == "refused" {
			ev = refused
		}
		if _, err := svc.HandleAPIGateway(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		if c.want == "" {
			if out != "" {
				t.Errorf("%s: logged %q at info level, want nothing", c.name, out)
			}
			continue
		}
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		for _, l := range lines {
			if !strings.Contains(l, c.want) || !strings.Contains(l, "source=stripe") {
				t.Errorf("%s: logged %q, want %s lines naming the source", c.name, out, c.want)
			}
		}
		if !strings.Contains(out, "outcome=") {
			t.Errorf("%s: logged %q, want the outcome", c.name, out)
		}
	}
}
