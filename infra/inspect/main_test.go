package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tenaz/tenaz/infra/internal/stackout"
	"github.com/tenaz/tenaz/shared/inspect"
)

func TestParseOutputs(t *testing.T) {
	t.Parallel()
	raw := `[{"OutputKey": "QueueUrl", "OutputValue": "https://sqs/x", "Description": "q"},
	         {"OutputKey": "IdempotencyTableName", "OutputValue": "tenaz-IdempotencyTable-1AB", "Description": "t"}]`
	if got, err := stackout.Parse([]byte(raw), tableOutput); err != nil || got != "tenaz-IdempotencyTable-1AB" {
		t.Fatalf("parseOutputs = %q, %v", got, err)
	}
	for _, bad := range []string{`[]`, `{"not": "a list"}`, `[{"OutputKey": "IdempotencyTableName", "OutputValue": ""}]`} {
		if _, err := stackout.Parse([]byte(bad), tableOutput); err == nil {
			t.Errorf("parseOutputs(%s) accepted", bad)
		}
	}
}

func TestAskLocal(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/inspect" || r.URL.Query().Get("key") != "stripe:evt_1 x" {
			http.Error(w, `{"error": "unexpected request"}`, http.StatusBadRequest)
			return
		}
		_, _ = w.Write([]byte(`{"key": "stripe:evt_1 x", "state": "deadLettered", "inDeadLetterQueue": true, "attempts": 8}`))
	}))
	t.Cleanup(srv.Close)
	rep, err := askLocal(context.Background(), srv.URL+"/", "stripe:evt_1 x")
	if err != nil || rep.State != inspect.DeadLettered || !rep.InDeadLetterQueue || rep.Attempts != 8 {
		t.Fatalf("askLocal = %+v, %v", rep, err)
	}
	if _, err := askLocal(context.Background(), srv.URL, "other"); err == nil || !strings.Contains(err.Error(), "400") {
		t.Fatalf("askLocal of a refused request = %v, want the runner's 400", err)
	}
}
