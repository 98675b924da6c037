package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/breaker"
	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/queue"
	"github.com/tenaz/tenaz/shared/webhook"
)

// The ring keeps the RecentMax newest events, newest first, and every count.
func TestStatsKeepsTheNewestEvents(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, RecentMax - 1, RecentMax, RecentMax + 1, 3*RecentMax + 7} {
		s := newStats()
		for i := range n {
			s.add(Event{Key: fmt.Sprint(i)}, "processed")
		}
		counts, all := s.snapshot(0)
		if counts["processed"] != n {
			t.Fatalf("n=%d: count %d", n, counts["processed"])
		}
		if want := min(n, RecentMax); len(all) != want {
			t.Fatalf("n=%d: %d events kept, want %d", n, len(all), want)
		}
		for i, e := range all {
			if e.Key != fmt.Sprint(n-1-i) {
				t.Fatalf("n=%d: event %d is %s, want %d", n, i, e.Key, n-1-i)
			}
		}
		if _, few := s.snapshot(3); len(few) != min(3, n) || (n > 0 && few[0].Key != fmt.Sprint(n-1)) {
			t.Fatalf("n=%d: snapshot(3) = %+v", n, few)
		}
	}
}

// receiveOnly hides queue.Memory's Peek, so the pipeline lists the DLQ as it does
// on SQS: receive, then make visible again.
type receiveOnly struct{ queue.Queue }

// deadLetterQueue returns an in-memory DLQ holding n dead letters as the processor
// writes them.
func deadLetterQueue(t *testing.T, n int) *queue.Memory {
	t.Helper()
	q := queue.NewMemory(queue.MemoryConfig{Name: "dlq"})
	for i := range n {
		e := &envelope.Envelope{Source: "stripe", ID: fmt.Sprintf("evt_%d", i), Type: "payment_intent.succeeded",
			ReceivedAt: time.Now(), Body: []byte(`{}`)}
		body, err := envelope.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		attrs := e.Attributes()
		attrs[envelope.AttrReason], attrs[envelope.AttrLastError], attrs[envelope.AttrAttempts] = envelope.ReasonPermanent, "HTTP 400", "2"
		if _, err := q.Send(context.Background(), queue.Message{Body: string(body), Attributes: attrs}); err != nil {
			t.Fatal(err)
		}
	}
	// One without attributes: the envelope says what it is.
	if _, err := q.Send(context.Background(), queue.Message{Body: mustEnvelope(t, "github", "gh-bare", "push")}); err != nil {
		t.Fatal(err)
	}
	return q
}

func mustEnvelope(t *testing.T, source, id, typ string) string {
	t.Helper()
	b, err := envelope.Encode(&envelope.Envelope{Source: source, ID: id, Type: typ, ReceivedAt: time.Now(), Body: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func pipelineOn(t *testing.T, dlq queue.Queue) *Pipeline {
	t.Helper()
	sources, err := webhook.ParseSources(sourcesJSON(t))
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Options{Sources: sources, Backend: &Backend{Name: "test", Main: queue.NewMemory(queue.MemoryConfig{}), DLQ: dlq,
		Store: idempotency.NewMemoryStore(), Breakers: breaker.NewMemoryStore()}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDeadLetters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		wrap    bool
		listed  string
		limit   int
		want    int
		receive int // receives of the DLQ the listing costs
	}{
		{name: "peek", listed: "peek", limit: 10, want: 10},
		{name: "peek all", listed: "peek", limit: DLQListMax, want: 26},
		{name: "receive", wrap: true, listed: "receive", limit: 12, want: 12, receive: 12},
		{name: "receive all", wrap: true, listed: "receive", limit: 100, want: 26, receive: 26},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mem := deadLetterQueue(t, 25)
			var dlq queue.Queue = mem
			if tc.wrap {
				dlq = receiveOnly{mem}
			}
			p := pipelineOn(t, dlq)
			l, err := p.DeadLetters(ctx, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if l.Listed != tc.listed || l.Depth != 26 || len(l.Messages) != tc.want {
				t.Fatalf("listed %s, depth %d, %d messages", l.Listed, l.Depth, len(l.Messages))
			}
			seen := map[string]bool{}
			for _, m := range l.Messages {
				if seen[m.Key] {
					t.Fatalf("%s listed twice", m.Key)
				}
				seen[m.Key] = true
				switch m.Key {
				case "github:gh-bare":
					if m.Source != "github" || m.Type != "push" || m.Reason != "" {
						t.Fatalf("bare message %+v", m)
					}
				default:
					if m.Source != "stripe" || m.Reason != envelope.ReasonPermanent || m.LastError != "HTTP 400" || m.Attempts != 2 {
						t.Fatalf("dead letter %+v", m)
					}
				}
			}
			// Every message is visible again, and a listing costs only its receives.
			snap := mem.Snapshot()
			if snap.Visible != 26 || snap.InFlight != 0 || snap.Received != tc.receive {
				t.Fatalf("after listing: %+v", snap)
			}
			// A second listing right away costs nothing more: a peek never receives,
			// and a listing by receiving is reused.
			if again, err := p.DeadLetters(ctx, tc.limit); err != nil || len(again.Messages) != tc.want {
				t.Fatalf("second listing: %d messages, %v", len(again.Messages), err)
			}
			if got := mem.Snapshot().Received; got != tc.receive {
				t.Fatalf("second listing received again: %d receives, want %d", got, tc.receive)
			}
		})
	}
}

// A release that fails is reported: the messages come back only after the hold.
func TestDeadLettersReportsAFailedRelease(t *testing.T) {
	t.Parallel()
	mem := deadLetterQueue(t, 3)
	mem.FailNext(queue.OpChangeVisibility, 1, errors.New("boom"))
	p := pipelineOn(t, receiveOnly{mem})
	if _, err := p.DeadLetters(context.Background(), 10); err == nil || !strings.Contains(err.Error(), "visible again") {
		t.Fatalf("error %v", err)
	}
}

// A redrive waits for a listing and forgets the listing it may have changed.
func TestRedriveDropsTheCachedListing(t *testing.T) {
	t.Parallel()
	mem := deadLetterQueue(t, 4)
	p := pipelineOn(t, receiveOnly{mem})
	ctx := context.Background()
	if l, err := p.DeadLetters(ctx, 10); err != nil || l.Depth != 5 {
		t.Fatalf("%+v %v", l, err)
	}
	rep, err := p.Redrive(ctx, []byte(`{"filter": {"source": "stripe"}}`))
	if err != nil || rep.Counts.Moved != 4 {
		t.Fatalf("redrive %+v %v", rep.Counts, err)
	}
	l, err := p.DeadLetters(ctx, 10)
	if err != nil || l.Depth != 1 || len(l.Messages) != 1 || l.Messages[0].Key != "github:gh-bare" {
		t.Fatalf("after redrive %+v %v", l, err)
	}
}

func TestBurst(t *testing.T) {
	t.Parallel()
	p, s := start(t)
	ctx := context.Background()
	for _, bad := range []Burst{{N: 0}, {N: BurstMax + 1}, {N: 1, Dup: -0.1}, {N: 1, Dup: 1.5}, {N: 1, Source: "nope"}} {
		if _, err := s.Burst(ctx, bad); !errors.Is(err, ErrBadBurst) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
	// Every draw below Dup: every webhook is posted twice.
	s.rnd = func() float64 { return 0.1 }
	res, err := s.Burst(ctx, Burst{N: 13, Dup: 0.5})
	if err != nil || res.Webhooks != 13 || res.Posts != 26 || res.Duplicates != 13 || res.Accepted != 26 || res.Refused != 0 {
		t.Fatalf("%+v %v", res, err)
	}
	// Draws at or above Dup: none twice; one source only.
	s.rnd = func() float64 { return 0.5 }
	res, err = s.Burst(ctx, Burst{N: 7, Dup: 0.5, Source: "github"})
	if err != nil || res.Posts != 7 || res.Duplicates != 0 || res.Accepted != 7 {
		t.Fatalf("%+v %v", res, err)
	}
	waitFor(t, "every webhook processed", func() bool {
		st := p.Status(ctx, 0)
		return st.Counts["processed"] == 20 && st.Main.Total() == 0
	})
	st := p.Status(ctx, 0)
	if st.Counts["received"] != 33 || st.Counts["duplicate"] != 13 || st.Demo.Effects != 20 || st.Demo.Repeats != 0 {
		t.Fatalf("status %+v", st)
	}
}

func TestHandler(t *testing.T) {
	t.Parallel()
	p, s := start(t)
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(s.BaseURL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, page := get("/")
	if code != 200 {
		t.Fatalf("GET / %d", code)
	}
	for _, id := range []string{"count-received", "count-processed", "count-duplicate", "count-deferred", "count-retried",
		"count-dead-lettered", "count-unrouted", "dlq-count", "dlq-rows", "replay", "dry-run", "send-burst", "burst-n",
		"burst-dup", "mode-healthy", "mode-flaky", "mode-slow", "mode-down", "mode-reject", "breakers", "events"} {
		if !strings.Contains(page, `id="`+id+`"`) {
			t.Errorf("the page has no #%s", id)
		}
	}
	// Nothing from elsewhere: no src or href attribute, no URL but the API's paths.
	if m := regexp.MustCompile(`(?i)(src|href)\s*=|https?://|@import|url\(`).FindString(page); m != "" {
		t.Errorf("the page loads something from elsewhere: %q", m)
	}
	if code, _ := get("/nope"); code != 404 {
		t.Errorf("GET /nope %d", code)
	}
	for _, path := range []string{"/api/status?recent=0", "/api/status?recent=x", fmt.Sprintf("/api/status?recent=%d", RecentMax+1),
		"/api/dlq?limit=-1", fmt.Sprintf("/api/dlq?limit=%d", DLQListMax+1)} {
		if code, body := get(path); code != 400 || !strings.Contains(body, "error") {
			t.Errorf("GET %s: %d %s", path, code, body)
		}
	}
	if code, body := get("/api/status?recent=2"); code != 200 || !strings.Contains(body, `"backend":"memory"`) {
		t.Errorf("status: %d %s", code, body)
	}
	if r := postJSON(t, s.BaseURL+"/api/send", `{"n": 3, "dup": 0}`); !strings.Contains(r, `"accepted":3`) {
		t.Errorf("send: %s", r)
	}
	if r := postJSON(t, s.BaseURL+"/api/send", `{"n": 3, "extra": 1}`); !strings.Contains(r, "unknown field") {
		t.Errorf("send with an unknown field: %s", r)
	}
	waitFor(t, "the burst processed", func() bool { return p.Status(context.Background(), 0).Counts["processed"] == 3 })

	// Without a sender there is no burst.
	bare := httptest.NewServer(pipelineOn(t, queue.NewMemory(queue.MemoryConfig{})).Handler())
	defer bare.Close()
	resp, err := http.Post(bare.URL+"/api/send", "application/json", strings.NewReader(`{"n": 1}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotImplemented {
		t.Fatalf("send without a sender: %d", resp.StatusCode)
	}
}
