package sources_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/tenaz/tenaz/shared/config"
	"github.com/tenaz/tenaz/shared/config/sources"
	"github.com/tenaz/tenaz/shared/ingest"
	"github.com/tenaz/tenaz/shared/queue"
)

// countingSecrets is a Secrets Manager fake whose value can change (a rotation)
// and which counts its calls.
type countingSecrets struct {
	mu    sync.Mutex
	value string
	calls int
}

func (f *countingSecrets) GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(f.value)}, nil
}

func (f *countingSecrets) set(v string) { f.mu.Lock(); f.value = v; f.mu.Unlock() }
func (f *countingSecrets) count() int   { f.mu.Lock(); defer f.mu.Unlock(); return f.calls }

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func sourcesWith(ghSecret string) string {
	return `{"gh": {"scheme": "github", "secrets": ["` + ghSecret + `"]},
	         "other": {"scheme": "github", "secrets": ["other-secret-value"]},
	         "broken": {"scheme": "no-such-scheme", "secrets": ["x-secret-value"]}}`
}

type rig struct {
	sm    *countingSecrets
	clock *clock
	svc   *ingest.Service
	q     *queue.Memory
}

func newRig(t *testing.T, refresh time.Duration) *rig {
	t.Helper()
	r := &rig{sm: &countingSecrets{value: sourcesWith("first-secret-value")}, clock: &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}}
	getenv := func(k string) string {
		if k == config.EnvSourcesSecretID {
			return "tenaz/sources"
		}
		return ""
	}
	cat, err := sources.NewCatalog(context.Background(), sources.CatalogOptions{
		Getenv: getenv, Secrets: r.sm, Refresh: refresh, Now: r.clock.now,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	r.q = queue.NewMemory(queue.MemoryConfig{})
	r.svc = ingest.New(ingest.Options{Catalog: cat, Queue: r.q, Now: r.clock.now, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	return r
}

func (r *rig) post(t *testing.T, source, secret, id string) int {
	t.Helper()
	body := []byte(`{"zen":"ok"}`)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	res := r.svc.Handle(context.Background(), ingest.Request{Method: http.MethodPost, Source: source, Body: body, Headers: map[string]string{
		"content-type": "application/json", "x-github-event": "push", "x-github-delivery": id,
		"x-hub-signature-256": "sha256=" + hex.EncodeToString(mac.Sum(nil)),
	}})
	return res.Status
}

func TestCatalogBadEntryAnswers404OthersWork(t *testing.T) {
	r := newRig(t, sources.DefaultRefresh)
	if got := r.post(t, "broken", "x-secret-value", "d-1"); got != http.StatusNotFound {
		t.Fatalf("invalid source: status %d, want 404", got)
	}
	if got := r.post(t, "gh", "first-secret-value", "d-2"); got != http.StatusAccepted {
		t.Fatalf("valid source gh: status %d, want 202", got)
	}
	if got := r.post(t, "other", "other-secret-value", "d-3"); got != http.StatusAccepted {
		t.Fatalf("valid source other: status %d, want 202", got)
	}
}

func TestCatalogHappyPathMakesNoCall(t *testing.T) {
	r := newRig(t, 300*time.Second)
	if r.sm.count() != 1 {
		t.Fatalf("start-up made %d calls, want 1", r.sm.count())
	}
	for i := range 100 {
		r.clock.advance(2 * time.Second) // 200 s in all, within the interval
		if got := r.post(t, "gh", "first-secret-value", "d"); got != http.StatusAccepted {
			t.Fatalf("request %d: status %d", i, got)
		}
	}
	if r.sm.count() != 1 {
		t.Fatalf("100 good requests made %d secret calls, want none after start-up", r.sm.count()-1)
	}
}

func TestCatalogRefreshesAfterInterval(t *testing.T) {
	r := newRig(t, 300*time.Second)
	r.sm.set(sourcesWith("rotated-secret-value"))
	r.clock.advance(299 * time.Second)
	r.post(t, "other", "other-secret-value", "d-1")
	if r.sm.count() != 1 {
		t.Fatalf("re-read before the interval: %d calls", r.sm.count())
	}
	r.clock.advance(time.Second)
	if got := r.post(t, "other", "other-secret-value", "d-2"); got != http.StatusAccepted {
		t.Fatalf("status %d", got)
	}
	if r.sm.count() != 2 {
		t.Fatalf("after the interval: %d calls, want 2", r.sm.count())
	}
	// The re-read sources are in use: the rotated secret of gh verifies, with no
	// further call.
	if got := r.post(t, "gh", "rotated-secret-value", "d-3"); got != http.StatusAccepted || r.sm.count() != 2 {
		t.Fatalf("rotated secret: status %d, calls %d", got, r.sm.count())
	}
}

func TestCatalogBadSignatureRefreshesRateLimited(t *testing.T) {
	r := newRig(t, 300*time.Second)
	r.sm.set(sourcesWith("rotated-secret-value"))
	// Within MinRefreshGap of start-up: no re-read, the request is refused.
	r.clock.advance(sources.MinRefreshGap - time.Second)
	if got := r.post(t, "gh", "rotated-secret-value", "d-1"); got != http.StatusUnauthorized || r.sm.count() != 1 {
		t.Fatalf("inside the gap: status %d, calls %d; want 401, 1", got, r.sm.count())
	}
	r.clock.advance(time.Second)
	// The rotated secret is read at once and the same request verifies.
	if got := r.post(t, "gh", "rotated-secret-value", "d-2"); got != http.StatusAccepted || r.sm.count() != 2 {
		t.Fatalf("after the gap: status %d, calls %d; want 202, 2", got, r.sm.count())
	}
	// A flood of bad signatures costs at most one call per gap.
	for range 50 {
		r.clock.advance(time.Second / 5) // 10 s in all
		if got := r.post(t, "gh", "wrong-secret-value", "d"); got != http.StatusUnauthorized {
			t.Fatalf("bad signature: status %d", got)
		}
	}
	if c := r.sm.count(); c != 3 {
		t.Fatalf("50 bad signatures over 10 s made %d calls, want 1", c-2)
	}
}

func TestCatalogInvalidEntriesNameNoSecret(t *testing.T) {
	set, err := sources.LoadSet(context.Background(), func(k string) string {
		if k == config.EnvSources {
			return sourcesWith("first-secret-value")
		}
		return ""
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Sources) != 2 || set.Sources["gh"] == nil || set.Sources["other"] == nil {
		t.Fatalf("valid sources %v", set.Sources)
	}
	bad := set.Invalid["broken"]
	if bad == nil || len(set.Invalid) != 1 || strings.Contains(bad.Error(), "x-secret-value") {
		t.Fatalf("invalid %v", set.Invalid)
	}
	if _, err := sources.LoadSet(context.Background(), func(k string) string {
		if k == config.EnvSources {
			return `[1]`
		}
		return ""
	}, nil); err == nil {
		t.Fatal("a value that is no JSON object: no error")
	}
}

// Requests that all find the sources due at once read the secret once between them.
func TestCatalogConcurrentRefreshReadsOnce(t *testing.T) {
	sm := &countingSecrets{value: sourcesWith("first-secret-value")}
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clockNow := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	cat, err := sources.NewCatalog(context.Background(), sources.CatalogOptions{
		Getenv:  func(k string) string { return map[string]string{config.EnvSourcesSecretID: "s"}[k] },
		Secrets: sm, Refresh: time.Minute, Now: clockNow, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, ok := cat.Source(context.Background(), "gh"); !ok {
				t.Error("gh missing during a refresh")
			}
		}()
	}
	wg.Wait()
	if c := sm.count(); c != 2 {
		t.Fatalf("32 concurrent requests made %d reads, want 1", c-1)
	}
}
