package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tenaz/tenaz/infra/internal/stackout"
)

func TestParseArgs(t *testing.T) {
	t.Parallel()
	good := [][]string{{"pause", "orders.internal"}, {"resume", "crm"}, {"status"}, {"status", "a", "b"}}
	for _, args := range good {
		if _, _, err := parseArgs(args); err != nil {
			t.Errorf("parseArgs(%q) = %v", args, err)
		}
	}
	bad := [][]string{nil, {"pause"}, {"pause", "a", "b"}, {"resume"}, {"stop", "a"}, {"pause", " "}}
	for _, args := range bad {
		var u usageError
		if _, _, err := parseArgs(args); !errors.As(err, &u) {
			t.Errorf("parseArgs(%q) = %v, want a usage error", args, err)
		}
	}
}

func TestParseOutputs(t *testing.T) {
	t.Parallel()
	raw := `[{"OutputKey": "IdempotencyTableName", "OutputValue": "tenaz-IdempotencyTable-1AB"},
	         {"OutputKey": "BreakerTableName", "OutputValue": "tenaz-BreakerTable-9ZY"}]`
	if got, err := stackout.Parse([]byte(raw), tableOutput); err != nil || got != "tenaz-BreakerTable-9ZY" {
		t.Fatalf("parseOutputs = %q, %v", got, err)
	}
	if _, err := stackout.Parse([]byte(`[{"OutputKey": "IdempotencyTableName", "OutputValue": "x"}]`), tableOutput); err == nil {
		t.Fatal("outputs without the breaker table accepted")
	}
}

func TestRunNeedsATable(t *testing.T) {
	t.Parallel()
	var u usageError
	if err := run(context.Background(), &bytes.Buffer{}, []string{"pause", "crm"}, "", "", "", ""); !errors.As(err, &u) {
		t.Fatalf("run without a table = %v, want a usage error", err)
	}
}

func TestLocal(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method + " " + r.URL.Path {
		case "POST /api/destinations/orders.internal/pause":
			_, _ = w.Write([]byte(`{"dependency": "orders.internal", "state": "open", "retryAt": "2030-01-01T12:01:00Z", "paused": true, "pausedAt": "2030-01-01T12:00:00Z"}`))
		case "GET /api/status":
			_, _ = w.Write([]byte(`{"breakers": [{"dependency": "a", "state": "closed", "paused": false}, {"dependency": "b", "state": "closed", "paused": true, "pausedAt": "2030-01-01T12:00:00Z"}]}`))
		default:
			http.Error(w, `{"error": "no route has this destination"}`, http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	ctx := context.Background()
	var out bytes.Buffer
	if err := run(ctx, &out, []string{"pause", "orders.internal"}, "", "", "", srv.URL+"/"); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.Contains(got, "orders.internal") || !strings.Contains(got, "PAUSED since 2030-01-01T12:00:00Z") {
		t.Fatalf("pause printed %q", got)
	}
	out.Reset()
	if err := run(ctx, &out, []string{"status", "b"}, "", "", "", srv.URL); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); strings.Count(got, "\n") != 1 || !strings.HasPrefix(got, "b ") || !strings.Contains(got, "PAUSED") {
		t.Fatalf("status b printed %q", got)
	}
	if err := run(ctx, &out, []string{"resume", "nowhere"}, "", "", "", srv.URL); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("resume of an unknown destination = %v, want the runner's 404", err)
	}
}
