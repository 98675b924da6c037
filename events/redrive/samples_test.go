// Package redrive_test checks the sample requests of the redrive function: each one
// decodes as a redrive.Request and encodes back to the same file, so `sam local
// invoke -e` and the tests see the same request, and each does what its name says on
// a dead-letter queue in memory.
package redrive_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/queue"
	"github.com/tenaz/tenaz/shared/redrive"
)

func samples(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Fatalf("found %d samples, want at least 3 (dry run, by source, by ids)", len(files))
	}
	return files
}

func load(t *testing.T, file string) ([]byte, redrive.Request) {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	req, err := redrive.ParseRequest(raw)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return raw, req
}

func TestSamplesRoundTrip(t *testing.T) {
	t.Parallel()
	for _, f := range samples(t) {
		t.Run(f, func(t *testing.T) {
			t.Parallel()
			raw, req := load(t, f)
			again, err := json.MarshalIndent(req, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			again = append(again, '\n')
			if !bytes.Equal(again, raw) {
				t.Fatalf("round trip changed the request:\n--- %s\n%s--- encoded\n%s", f, raw, again)
			}
		})
	}
}

// dlq is what the dead-letter queue holds when a sample runs.
var dlq = []*envelope.Envelope{
	ev("stripe", "evt_3TenazSample0001", "payment_intent.succeeded", "2026-05-01T09:00:00Z"),
	ev("stripe", "evt_3TenazSample0002", "payment_intent.payment_failed", "2026-05-01T23:59:59Z"),
	ev("stripe", "evt_3TenazSample0003", "payment_intent.succeeded", "2026-05-02T00:00:00Z"),
	ev("stripe", "evt_3TenazSample0004", "charge.refunded", "2026-05-01T10:00:00Z"),
	ev("github", "5a7c4a10-b7a8-11ef-8e4c-tenaz0000001", "push", "2026-05-01T11:00:00Z"),
	ev("shopify", "b54557e4-bdd9-4b37-8a5f-tenaz0000001", "orders/create", "2026-05-01T12:00:00Z"),
}

func ev(source, id, typ, at string) *envelope.Envelope {
	ts, err := time.Parse(time.RFC3339, at)
	if err != nil {
		panic(err)
	}
	return &envelope.Envelope{Source: source, ID: id, Type: typ, ReceivedAt: ts, Body: []byte(`{"id":"` + id + `"}`)}
}

func TestSamplesDoWhatTheySay(t *testing.T) {
	t.Parallel()
	inWindow := func(e *envelope.Envelope) bool {
		return !e.ReceivedAt.Before(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)) && e.ReceivedAt.Before(time.Date(2026, 5, 2, 0, 0, 0, 0, time.UTC))
	}
	uses := map[string]func(e *envelope.Envelope) bool{
		"dry-run.json": func(*envelope.Envelope) bool { return false },
		"replay-by-source.json": func(e *envelope.Envelope) bool {
			return e.Source == "stripe" && strings.HasPrefix(e.Type, "payment_intent.") && inWindow(e)
		},
		"replay-by-ids.json": func(e *envelope.Envelope) bool {
			return e.ID == "evt_3TenazSample0001" || e.Key() == "github:5a7c4a10-b7a8-11ef-8e4c-tenaz0000001"
		},
	}
	for _, f := range samples(t) {
		t.Run(f, func(t *testing.T) {
			t.Parallel()
			moves, ok := uses[f]
			if !ok {
				t.Fatalf("%s: no expectation for this sample; add one", f)
			}
			raw, _ := load(t, f)
			main := queue.NewMemory(queue.MemoryConfig{Name: "webhooks"})
			dl := queue.NewMemory(queue.MemoryConfig{Name: "webhooks-dlq"})
			ctx := context.Background()
			for _, e := range dlq {
				body, err := envelope.Encode(e)
				if err != nil {
					t.Fatal(err)
				}
				attrs := e.Attributes()
				attrs[envelope.AttrReason] = envelope.ReasonExhausted
				if _, err := dl.Send(ctx, queue.Message{Body: string(body), Attributes: attrs}); err != nil {
					t.Fatal(err)
				}
			}
			r := redrive.New(redrive.Options{DLQ: dl, Queue: main, Settings: redrive.Settings{ReceiveWait: time.Millisecond}})
			rep, err := r.Handle(ctx, raw)
			if err != nil {
				t.Fatal(err)
			}
			var want, got []string
			for _, e := range dlq {
				if moves(e) {
					want = append(want, e.Key())
				}
			}
			for _, m := range main.Peek(0) {
				e, err := envelope.Decode([]byte(m.Body))
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, e.Key())
			}
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("moved %v, want %v", got, want)
			}
			if f == "dry-run.json" && (rep.Counts.DryRun != len(dlq) || !rep.DryRun) {
				t.Fatalf("dry run reported %+v, want all %d as would-move", rep.Counts, len(dlq))
			}
		})
	}
}
