package forward

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/retry"
	"github.com/tenaz/tenaz/shared/route"
)

type hit struct {
	header http.Header
	body   string
}

// destination records requests and answers with the statuses given, in order (the
// last one repeats).
type destination struct {
	mu       sync.Mutex
	hits     []hit
	statuses []int
	header   http.Header
}

func (d *destination) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	d.mu.Lock()
	d.hits = append(d.hits, hit{r.Header.Clone(), string(b)})
	st := d.statuses[min(len(d.hits)-1, len(d.statuses)-1)]
	d.mu.Unlock()
	for k, v := range d.header {
		w.Header()[k] = v
	}
	w.WriteHeader(st)
}

func (d *destination) count() int { d.mu.Lock(); defer d.mu.Unlock(); return len(d.hits) }

func env() *envelope.Envelope {
	return &envelope.Envelope{Source: "stripe", ID: "evt_1", Type: "charge.succeeded", Body: []byte("{\"a\": 1}\n"),
		Headers: map[string]string{"content-type": "application/json; charset=utf-8"}}
}

func TestForwardSendsBodyAndHeaders(t *testing.T) {
	t.Parallel()
	d := &destination{statuses: []int{204}}
	srv := httptest.NewServer(d)
	defer srv.Close()
	if _, err := New(srv.URL, time.Second, nil).Handle(context.Background(), env(), nil); err != nil {
		t.Fatal(err)
	}
	h := d.hits[0]
	if h.body != "{\"a\": 1}\n" || h.header.Get("Content-Type") != "application/json; charset=utf-8" ||
		h.header.Get(HeaderIdempotencyKey) != "stripe:evt_1" || h.header.Get(HeaderSource) != "stripe" || h.header.Get(HeaderType) != "charge.succeeded" {
		t.Fatalf("request %+v", h)
	}
}

func TestForwardClassifiesAnswers(t *testing.T) {
	t.Parallel()
	cases := []struct {
		status     int
		header     http.Header
		permanent  bool
		retryAfter time.Duration
		ok         bool
	}{
		{status: 200, ok: true},
		{status: 202, ok: true},
		{status: 500},
		{status: 503, header: http.Header{"Retry-After": {"7"}}, retryAfter: 7 * time.Second},
		{status: 429},
		{status: 408},
		{status: 400, permanent: true},
		{status: 404, permanent: true},
		{status: 301, header: http.Header{"Location": {"/elsewhere"}}, permanent: true},
	}
	for _, c := range cases {
		d := &destination{statuses: []int{c.status}, header: c.header}
		srv := httptest.NewServer(d)
		_, err := New(srv.URL, time.Second, nil).Handle(context.Background(), env(), nil)
		srv.Close()
		if c.ok != (err == nil) || retry.IsPermanent(err) != c.permanent {
			t.Errorf("%d: err = %v", c.status, err)
		}
		if ra, _ := retry.RetryAfterOf(err); ra != c.retryAfter {
			t.Errorf("%d: retry after %v, want %v", c.status, ra, c.retryAfter)
		}
		if d.count() != 1 {
			t.Errorf("%d: %d requests, want 1 (no redirect followed)", c.status, d.count())
		}
	}
}

func TestForwardTimeoutIsTransient(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer srv.Close()
	defer close(release)
	start := time.Now()
	_, err := New(srv.URL, 100*time.Millisecond, nil).Handle(context.Background(), env(), nil)
	if err == nil || retry.IsPermanent(err) {
		t.Fatalf("err = %v, want a transient error", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Fatalf("timeout not honoured: %v", time.Since(start))
	}
}

// The seed's example: create the user in the CRM, then send the welcome email. The
// email fails once; the retry sends the email and never creates a second CRM user.
func TestSequenceResumesAfterLastStep(t *testing.T) {
	t.Parallel()
	crm := &destination{statuses: []int{201}}
	mail := &destination{statuses: []int{503, 200}}
	crmSrv, mailSrv := httptest.NewServer(crm), httptest.NewServer(mail)
	defer crmSrv.Close()
	defer mailSrv.Close()

	cfgs, err := route.ParseConfig([]byte(`[{"source":"stripe","steps":[{"name":"crm","url":"` + crmSrv.URL + `"},{"name":"email","url":"` + mailSrv.URL + `"}]}]`))
	if err != nil {
		t.Fatal(err)
	}
	// A transport of its own: no connection of another parallel test's pool is reused.
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	h := FromConfig(cfgs[0], client)
	runner := idempotency.NewRunner(idempotency.NewMemoryStore(), idempotency.Settings{})
	run := func() idempotency.Outcome {
		out, err := runner.Do(context.Background(), env().Key(), "h", func(ctx context.Context, a *idempotency.Attempt) ([]byte, error) {
			return h.Handle(ctx, env(), a)
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if out := run(); out.Kind != idempotency.Failed || crm.count() != 1 || mail.count() != 1 {
		t.Fatalf("first attempt %v (%v) after crm %d and email %d calls; want failed after one each", out.Kind, out.Err, crm.count(), mail.count())
	}
	if out := run(); out.Kind != idempotency.Done {
		t.Fatalf("second attempt %v (%v), want done", out.Kind, out.Err)
	}
	if out := run(); out.Kind != idempotency.Duplicate {
		t.Fatalf("third delivery %v, want duplicate", out.Kind)
	}
	if crm.count() != 1 || mail.count() != 2 {
		t.Fatalf("crm %d calls, email %d; want 1 and 2", crm.count(), mail.count())
	}
	if k := crm.hits[0].header.Get(HeaderIdempotencyKey); k != "stripe:evt_1:crm" {
		t.Fatalf("crm key %q", k)
	}
	if a := mail.hits[1].header.Get(HeaderAttempt); a != "2" {
		t.Fatalf("email attempt header %q, want 2", a)
	}
}

// An envelope whose body is held in the store and was not loaded is refused for good,
// without a request; once loaded it is posted.
func TestForwardRefusesAnUnloadedStoredBody(t *testing.T) {
	t.Parallel()
	d := &destination{statuses: []int{200}}
	srv := httptest.NewServer(d)
	defer srv.Close()
	stored := env()
	body := stored.Body
	stored.Body = nil
	stored.BodyRef, stored.BodySHA256 = "bodies/stripe/0a", "ab"
	_, err := New(srv.URL, time.Second, nil).Handle(context.Background(), stored, nil)
	if !retry.IsPermanent(err) || !errors.Is(err, ErrBodyNotLoaded) {
		t.Fatalf("unloaded stored body: %v, want permanent ErrBodyNotLoaded", err)
	}
	if d.count() != 0 {
		t.Fatalf("%d requests posted for an unloaded body", d.count())
	}
	stored.Body = body
	if _, err := New(srv.URL, time.Second, nil).Handle(context.Background(), stored, nil); err != nil || d.count() != 1 || d.hits[0].body != string(body) {
		t.Fatalf("loaded stored body: %v, %d requests", err, d.count())
	}
}
