package local

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func postDestination(t *testing.T, h http.Handler, name, op string) (int, BreakerState) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/destinations/"+name+"/"+op, nil))
	var st BreakerState
	if rec.Code == http.StatusOK {
		if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
			t.Fatalf("%s %s: %v: %s", op, name, err, rec.Body)
		}
	}
	return rec.Code, st
}

// A destination paused through the API receives nothing, its records waiting
// (deferred, reason paused, no attempt spent); resumed, it receives each webhook
// once.
func TestPauseHoldsADestinationUntilResumed(t *testing.T) {
	p, s := start(t)
	ctx := context.Background()
	h := p.Handler()
	dest := p.Dependencies()[0]
	for _, d := range p.Dependencies() {
		code, st := postDestination(t, h, d, "pause")
		if code != http.StatusOK || !st.Paused || st.PausedAt == nil || st.Dependency != d {
			t.Fatalf("pause %s: %d %+v", d, code, st)
		}
	}
	// Pausing again changes nothing; an unknown destination is a 404.
	if code, st := postDestination(t, h, dest, "pause"); code != http.StatusOK || !st.Paused {
		t.Fatalf("pause again: %d %+v", code, st)
	}
	if code, _ := postDestination(t, h, "nowhere.example", "pause"); code != http.StatusNotFound {
		t.Fatalf("pause of an unknown destination: %d, want 404", code)
	}

	const n = 4
	for i := range n {
		if sent, err := s.Send(ctx, "github", fmt.Sprintf("gh-paused-%d", i)); err != nil || sent.Status != 202 {
			t.Fatalf("send: %v %+v", err, sent)
		}
	}
	waitFor(t, "paused deferrals", func() bool { return p.Status(ctx, 0).Counts["deferred"] >= 2*n })
	// Well past DeferMax (100 ms) and the breaker's open period: still held.
	time.Sleep(500 * time.Millisecond)
	st := p.Status(ctx, 0)
	if st.Demo.Requests != 0 || st.Counts["processed"] != 0 || st.DLQ.Total() != 0 || st.Main.Total() != n {
		t.Fatalf("while paused: status %+v", st)
	}
	for _, e := range st.Recent {
		if e.Stage == "processor" && (e.Outcome != "deferred" || e.Reason != "paused" || e.Attempts != 0) {
			t.Fatalf("while paused: event %+v", e)
		}
	}
	for _, b := range st.Breakers {
		if !b.Paused {
			t.Fatalf("status shows %+v, want paused", b)
		}
	}

	for _, d := range p.Dependencies() {
		if code, st := postDestination(t, h, d, "resume"); code != http.StatusOK || st.Paused || st.State != "closed" {
			t.Fatalf("resume %s: %d %+v", d, code, st)
		}
	}
	waitFor(t, "every webhook processed after the resume", func() bool {
		st := p.Status(ctx, 0)
		return st.Counts["processed"] == n && st.Main.Total() == 0
	})
	if st := p.Status(ctx, 0); st.Demo.Effects != n || st.Demo.Repeats != 0 || st.DLQ.Total() != 0 {
		t.Fatalf("after the resume: status %+v", st)
	}
}
