package local

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tenaz/tenaz/shared/inspect"
)

// getInspect asks the runner's API where key is.
func getInspect(t *testing.T, base, key string) (int, inspect.Report, string) {
	t.Helper()
	resp, err := http.Get(base + "/api/inspect?key=" + url.QueryEscape(key))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var r inspect.Report
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("inspect answer %s: %v", b, err)
		}
	}
	return resp.StatusCode, r, string(b)
}

// An event rejected by the destination shows as dead-lettered, then, replayed once
// the destination is fixed, as completed with no copy left in the DLQ.
func TestInspectEndpoint(t *testing.T) {
	p, s := start(t)
	ctx := context.Background()
	const key = "stripe:evt_inspected"

	if code, r, body := getInspect(t, s.BaseURL, key); code != http.StatusOK || r.State != inspect.Unknown {
		t.Fatalf("before sending: %d %s, want 200 unknown", code, body)
	}
	if code, _, body := getInspect(t, s.BaseURL, " "); code != http.StatusBadRequest {
		t.Fatalf("blank key: %d %s, want 400", code, body)
	}

	if err := p.Demo.SetMode(DemoMode{Mode: ModeReject}); err != nil {
		t.Fatal(err)
	}
	if sent, err := s.Send(ctx, "stripe", "evt_inspected"); err != nil || sent.Status != 202 {
		t.Fatalf("send: %v %+v", err, sent)
	}
	waitFor(t, "dead-letter", func() bool { return p.Status(ctx, 0).DLQ.Total() == 1 })
	waitFor(t, "dead letter marked", func() bool {
		_, r, _ := getInspect(t, s.BaseURL, key)
		return r.State == inspect.DeadLettered
	})
	_, r, body := getInspect(t, s.BaseURL, key)
	if !r.InDeadLetterQueue || r.Attempts != 1 || r.DeadLetterReason != "permanent" || r.LastError == "" || r.DeadLetteredAt.IsZero() {
		t.Fatalf("dead-lettered event: %s", body)
	}

	if err := p.Demo.SetMode(DemoMode{Mode: ModeHealthy}); err != nil {
		t.Fatal(err)
	}
	postJSON(t, s.BaseURL+"/api/redrive", `{"filter": {"ids": ["`+key+`"]}}`)
	waitFor(t, "replayed delivery", func() bool { return p.Demo.Applied(key) == 1 })
	waitFor(t, "completed", func() bool {
		_, r, _ := getInspect(t, s.BaseURL, key)
		return r.State == inspect.Completed
	})
	_, r, body = getInspect(t, s.BaseURL, key)
	if r.InDeadLetterQueue || r.ReplayedAt.IsZero() || r.Attempts != 1 {
		t.Fatalf("replayed and completed event: %s", body)
	}
}

// format=text answers the text form, headed by the key and its state.
func TestInspectEndpointText(t *testing.T) {
	_, s := start(t)
	resp, err := http.Get(s.BaseURL + "/api/inspect?format=text&key=" + url.QueryEscape("stripe:evt_never"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") ||
		!strings.HasPrefix(string(b), "stripe:evt_never  unknown") {
		t.Fatalf("text inspect: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
}
