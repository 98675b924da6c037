package secrets

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// store is a Store whose value can change (a rotation) or fail, counting reads.
type store struct {
	mu    sync.Mutex
	value string
	err   error
	reads int
	gate  chan struct{} // when set, a read waits for it
}

func (s *store) Read(ctx context.Context, name string) (string, error) {
	s.mu.Lock()
	s.reads++
	gate := s.gate
	s.mu.Unlock()
	if gate != nil {
		<-gate
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return "", s.err
	}
	return s.value, nil
}

func (s *store) set(v string, err error) { s.mu.Lock(); s.value, s.err = v, err; s.mu.Unlock() }
func (s *store) count() int              { s.mu.Lock(); defer s.mu.Unlock(); return s.reads }

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

var ref = Ref{KindSSM, "/tenaz/test/deliveries/signing"}

func newCache(t *testing.T, s *store, ttl time.Duration) (*Cache, *clock, *bytes.Buffer) {
	t.Helper()
	clk := &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	var logs bytes.Buffer
	c := NewCache(Stores{SSM: s}, Options{TTL: ttl, Now: clk.now, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	return c, clk, &logs
}

func get(t *testing.T, c *Cache) string {
	t.Helper()
	v, err := c.Get(context.Background(), ref)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	return v
}

func TestCacheServesWithinTTLAndRereadsAfter(t *testing.T) {
	t.Parallel()
	s := &store{value: "first-value"}
	c, clk, _ := newCache(t, s, time.Minute)
	for range 10 {
		if v := get(t, c); v != "first-value" {
			t.Fatalf("value %q", v)
		}
		clk.advance(5 * time.Second) // 50 s in all
	}
	if s.count() != 1 {
		t.Fatalf("10 gets within the TTL made %d reads, want 1", s.count())
	}
	s.set("rotated-value", nil)
	clk.advance(9 * time.Second) // 59 s
	if v := get(t, c); v != "first-value" || s.count() != 1 {
		t.Fatalf("before the TTL: %q after %d reads", v, s.count())
	}
	clk.advance(time.Second) // 60 s: due
	if v := get(t, c); v != "rotated-value" || s.count() != 2 {
		t.Fatalf("after the TTL: %q after %d reads, want the rotated value on the 2nd", v, s.count())
	}
}

func TestCacheFailedRereadKeepsValueAndWarns(t *testing.T) {
	t.Parallel()
	s := &store{value: "first-value"}
	c, clk, logs := newCache(t, s, time.Minute)
	get(t, c)
	s.set("", errors.New("AccessDeniedException: not allowed"))
	clk.advance(time.Minute)
	if v := get(t, c); v != "first-value" {
		t.Fatalf("failed re-read: %q, want the value in hand", v)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), ref.String()) ||
		!strings.Contains(logs.String(), "AccessDenied") || strings.Contains(logs.String(), "first-value") {
		t.Fatalf("log %q: want a warning naming the ref and the error, not the value", logs.String())
	}
	// The store is not asked again until MinRetryGap has passed.
	for range 9 {
		clk.advance(time.Second)
		get(t, c)
	}
	if s.count() != 2 {
		t.Fatalf("within the retry gap: %d reads, want 2", s.count())
	}
	s.set("second-value", nil)
	clk.advance(time.Second)
	if v := get(t, c); v != "second-value" || s.count() != 3 {
		t.Fatalf("after the gap: %q after %d reads", v, s.count())
	}
}

func TestCacheFailureWithoutValueIsAnError(t *testing.T) {
	t.Parallel()
	s := &store{err: errors.New("ParameterNotFound")}
	c, clk, _ := newCache(t, s, time.Minute)
	_, err := c.Get(context.Background(), ref)
	if err == nil || !strings.Contains(err.Error(), ref.String()) || !strings.Contains(err.Error(), "ParameterNotFound") {
		t.Fatalf("error %v: want one naming the ref and the cause", err)
	}
	// Backing off: the same error, no new read.
	if _, err2 := c.Get(context.Background(), ref); err2 == nil || s.count() != 1 {
		t.Fatalf("second get: %v after %d reads", err2, s.count())
	}
	s.set("now-there", nil)
	clk.advance(MinRetryGap)
	if v := get(t, c); v != "now-there" {
		t.Fatalf("after the gap: %q", v)
	}
	// An empty value is an error too, not an empty secret.
	e := NewCache(Stores{SSM: &store{value: ""}}, Options{})
	if _, err := e.Get(context.Background(), ref); !errors.Is(err, ErrEmpty) {
		t.Fatalf("empty value: %v", err)
	}
}

func TestCacheKindsAndMissingStore(t *testing.T) {
	t.Parallel()
	env := Getenv(func(k string) string { return map[string]string{"ORDERS_TOKEN": "tok"}[k] })
	sm := &store{value: "sm-value"}
	c := NewCache(Stores{SecretsManager: sm, Env: env}, Options{})
	cases := []struct {
		ref  Ref
		want string
		err  error
	}{
		{Ref{KindEnv, "ORDERS_TOKEN"}, "tok", nil},
		{Ref{KindEnv, "UNSET"}, "", ErrEmpty},
		{Ref{KindSecretsManager, "tenaz/x"}, "sm-value", nil},
		{Ref{KindSSM, "/tenaz/x"}, "", ErrNoStore},
	}
	for _, tc := range cases {
		v, err := c.Get(context.Background(), tc.ref)
		if v != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("%s: %q, %v; want %q, %v", tc.ref, v, err, tc.want, tc.err)
		}
	}
}

// Callers that find a value due at once share one read; with a value in hand they
// do not wait for it.
func TestCacheConcurrentReadsOnce(t *testing.T) {
	t.Parallel()
	s := &store{value: "v1", gate: make(chan struct{})}
	c, clk, _ := newCache(t, s, time.Minute)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if v, err := c.Get(context.Background(), ref); err != nil || v != "v1" {
				errs <- errors.New("got " + v)
			}
		}()
	}
	for s.count() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // let the others queue behind the read
	close(s.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if s.count() != 1 {
		t.Fatalf("16 concurrent first gets made %d reads, want 1", s.count())
	}
	// A re-read under way: the value in hand is served without waiting.
	s.mu.Lock()
	s.gate = make(chan struct{})
	s.value = "v2"
	s.mu.Unlock()
	clk.advance(time.Minute)
	go func() { _, _ = c.Get(context.Background(), ref) }()
	for s.count() < 2 {
		time.Sleep(time.Millisecond)
	}
	if v := get(t, c); v != "v1" {
		t.Fatalf("during a re-read: %q, want the value in hand", v)
	}
	close(s.gate)
}

// A caller whose context ends during the read does not make the others back off.
func TestCacheCancelledReadDoesNotBackOff(t *testing.T) {
	t.Parallel()
	s := &store{value: "v"}
	c, _, _ := newCache(t, s, time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s.set("", context.Canceled)
	if _, err := c.Get(ctx, ref); err == nil {
		t.Fatal("no error")
	}
	s.set("v", nil)
	if v := get(t, c); v != "v" || s.count() != 2 {
		t.Fatalf("after a cancelled read: %q after %d reads, want a fresh read", v, s.count())
	}
}

func TestCacheNegativeTTLReadsEveryTime(t *testing.T) {
	t.Parallel()
	s := &store{value: "v"}
	c, _, _ := newCache(t, s, -1)
	get(t, c)
	get(t, c)
	if s.count() != 2 {
		t.Fatalf("%d reads, want 2", s.count())
	}
}
