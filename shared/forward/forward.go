package forward

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/retry"
	"github.com/tenaz/tenaz/shared/route"
)

// Header names set on every forwarded request.
const (
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderSource         = "X-Tenaz-Source"
	HeaderType           = "X-Tenaz-Type"
	HeaderAttempt        = "X-Tenaz-Attempt"
)

// ErrBodyNotLoaded: the envelope's body is held in the claim-check store and was not
// loaded before forwarding. Permanent: nothing is posted.
var ErrBodyNotLoaded = errors.New("stored body not loaded")

// Doer is the HTTP call the handler makes (*http.Client satisfies it).
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// Handler forwards events to one destination.
type Handler struct {
	keySuffix string // ":<step>" for a step of a Sequence
	url       string
	timeout   time.Duration
	client    Doer
	now       func() time.Time
	auth      *Auth // nil: unsigned, no secret headers
}

// New returns a handler posting to url with a per-request timeout (default 10 s when
// zero). client may be nil for a default client that does not follow redirects (a
// redirect is reported as a permanent 3xx: fix the URL instead).
func New(url string, timeout time.Duration, client Doer) *Handler {
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	if client == nil {
		client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return &Handler{url: url, timeout: timeout, client: client, now: time.Now}
}

// WithAuth makes h sign its requests and add secret headers as a says, and returns
// h. A nil or zero a does neither.
func (h *Handler) WithAuth(a *Auth) *Handler {
	if a.empty() {
		a = nil
	}
	h.auth = a
	return h
}

// Handle posts e to the destination.
func (h *Handler) Handle(ctx context.Context, e *envelope.Envelope, a *idempotency.Attempt) ([]byte, error) {
	if e.Stored() && len(e.Body) == 0 {
		// The reader did not resolve the claim check (blob.Load): posting would hand
		// the destination an empty body as if it were the event.
		return nil, retry.Permanent(fmt.Errorf("forward: %w: body %s held in the store was not loaded", ErrBodyNotLoaded, e.BodyRef))
	}
	// Secrets first: a failed read is a transient error and nothing is posted, never
	// an unsigned or unauthenticated request.
	var extra http.Header
	var keys [][]byte
	if h.auth != nil {
		var err error
		if extra, err = h.auth.headers(ctx); err != nil {
			return nil, retry.Unsent(err)
		}
		if !h.auth.Signing.IsZero() {
			if keys, err = h.auth.signingKeys(ctx); err != nil {
				return nil, retry.Unsent(err)
			}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(e.Body))
	if err != nil {
		return nil, retry.Permanent(fmt.Errorf("forward: build request: %w", err))
	}
	for k, v := range extra {
		req.Header[k] = v
	}
	ct := e.Headers["content-type"]
	if ct == "" {
		ct = "application/json"
	}
	req.Header.Set("Content-Type", ct)
	id := e.Key() + h.keySuffix
	req.Header.Set(HeaderIdempotencyKey, id)
	if keys != nil {
		// webhook-id is the Idempotency-Key: the same on every attempt and replay.
		ts := h.now().Unix()
		req.Header.Set(HeaderWebhookID, id)
		req.Header.Set(HeaderWebhookTimestamp, strconv.FormatInt(ts, 10))
		req.Header.Set(HeaderWebhookSignature, signature(keys, id, ts, e.Body))
	}
	req.Header.Set(HeaderSource, e.Source)
	req.Header.Set(HeaderType, e.Type)
	if a != nil {
		req.Header.Set(HeaderAttempt, strconv.Itoa(a.Number()))
	}
	req.Header.Set("User-Agent", "Tenaz-Forward/1")
	resp, err := h.client.Do(req)
	if err != nil {
		// Network error or timeout: the destination may or may not have applied it;
		// the Idempotency-Key makes the retry safe.
		return nil, fmt.Errorf("forward to %s: %w", req.URL.Host, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if err := retry.HTTPError(resp.StatusCode, resp.Header, h.now()); err != nil {
		return nil, fmt.Errorf("forward to %s: %w", req.URL.Host, err)
	}
	return nil, nil
}

// Step is one destination of a Sequence.
type Step struct {
	Name    string
	URL     string
	Timeout time.Duration // default 10 s
}

// Sequence forwards an event to several destinations in order, each a recovery
// point: a step that succeeded is never called again for that event, even when a
// later step fails and the event is retried. Each step's Idempotency-Key is
// <source>:<id>:<step>.
type Sequence struct {
	steps []stepHandler
}

type stepHandler struct {
	name string
	h    *Handler
}

// NewSequence returns a handler calling steps in order through client (nil for the
// default client).
func NewSequence(steps []Step, client Doer) *Sequence {
	s := &Sequence{}
	for _, st := range steps {
		h := New(st.URL, st.Timeout, client)
		h.keySuffix = ":" + st.Name
		s.steps = append(s.steps, stepHandler{name: st.Name, h: h})
	}
	return s
}

// Handle runs the steps not yet completed, in order.
func (s *Sequence) Handle(ctx context.Context, e *envelope.Envelope, a *idempotency.Attempt) ([]byte, error) {
	if a == nil {
		return nil, retry.Permanent(fmt.Errorf("forward: a sequence needs an idempotency attempt"))
	}
	for _, st := range s.steps {
		if _, err := a.Step(ctx, st.name, func(ctx context.Context) ([]byte, error) {
			return st.h.Handle(ctx, e, a)
		}); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// WithAuth makes every step sign its requests and add secret headers as a says,
// and returns s.
func (s *Sequence) WithAuth(a *Auth) *Sequence {
	for _, st := range s.steps {
		st.h.WithAuth(a)
	}
	return s
}

// Options are what Build gives the handlers it makes.
type Options struct {
	Client Doer // nil: the default client (see New)
	// Secrets resolves the routes' signingSecret and headers (a *secrets.Cache);
	// required for a route that names either.
	Secrets Secrets
}

// Build builds the forward handler of a route: one destination or a sequence,
// signing and adding secret headers when the route says so. A route that names
// secrets needs o.Secrets.
func Build(c route.Config, o Options) (route.Handler, error) {
	a, err := authFromConfig(c, o.Secrets)
	if err != nil {
		return nil, err
	}
	if len(c.Steps) == 0 {
		return New(c.URL, c.Timeout(), o.Client).WithAuth(a), nil
	}
	return sequenceFromConfig(c, o.Client).WithAuth(a), nil
}

// FromConfig builds the forward handler of a route without a secret store: for
// routes that name no secrets. A route that names some gets a handler that posts
// nothing and fails each event permanently, saying so (build it with Build).
func FromConfig(c route.Config, client Doer) route.Handler {
	h, err := Build(c, Options{Client: client})
	if err != nil {
		return route.HandlerFunc(func(context.Context, *envelope.Envelope, *idempotency.Attempt) ([]byte, error) {
			return nil, retry.Permanent(fmt.Errorf("forward: %w", err))
		})
	}
	return h
}

func sequenceFromConfig(c route.Config, client Doer) *Sequence {
	steps := make([]Step, len(c.Steps))
	for i, st := range c.Steps {
		t := c.Timeout()
		if st.TimeoutSeconds > 0 {
			t = time.Duration(st.TimeoutSeconds) * time.Second
		}
		steps[i] = Step{Name: st.Name, URL: st.URL, Timeout: t}
	}
	return NewSequence(steps, client)
}
