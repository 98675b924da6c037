package local

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tenaz/tenaz/shared/webhook"
)

// Sender posts signed sample webhooks, as the providers would, for `make send`, the
// local pipeline's tests and demos.
type Sender struct {
	BaseURL string // e.g. http://127.0.0.1:3000
	configs map[string]webhook.SourceConfig
	sources webhook.Sources
	client  *http.Client
	now     func() time.Time

	mu    sync.Mutex     // guards rnd and newID
	rnd   func() float64 // Burst's duplicate draws, in [0,1); default math/rand/v2
	newID func() string  // Burst's provider ids; default 20 random base32 characters
}

// NewSender parses a sources file (the TENAZ_SOURCES format) and returns a sender
// signing with each source's first secret.
func NewSender(baseURL string, sourcesJSON []byte) (*Sender, error) {
	var configs map[string]webhook.SourceConfig
	if err := json.Unmarshal(sourcesJSON, &configs); err != nil {
		return nil, fmt.Errorf("sources: %w", err)
	}
	sources, err := webhook.ParseSources(sourcesJSON)
	if err != nil {
		return nil, err
	}
	return &Sender{BaseURL: strings.TrimRight(baseURL, "/"), configs: configs, sources: sources,
		client: &http.Client{Timeout: 10 * time.Second}, now: time.Now,
		rnd: mrand.Float64, newID: func() string { return rand.Text()[:20] }}, nil
}

// Sources returns the source names, sorted.
func (s *Sender) Sources() []string {
	names := make([]string, 0, len(s.sources))
	for n := range s.sources {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Sent is one posted webhook and its answer.
type Sent struct {
	Source string
	ID     string
	Status int
	Body   string
}

// Send posts one webhook for source with the provider id id.
func (s *Sender) Send(ctx context.Context, source, id string) (Sent, error) {
	headers, body, err := s.Build(source, id)
	if err != nil {
		return Sent{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.BaseURL+"/webhooks/"+source, bytes.NewReader(body))
	if err != nil {
		return Sent{}, err
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return Sent{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return Sent{Source: source, ID: id, Status: resp.StatusCode, Body: strings.TrimSpace(string(b))}, nil
}

// Build returns the signed headers and body of a sample webhook.
func (s *Sender) Build(source, id string) (map[string]string, []byte, error) {
	src, ok := s.sources[source]
	if !ok {
		return nil, nil, fmt.Errorf("no source %q", source)
	}
	c := s.configs[source]
	now := s.now()
	h := map[string]string{"content-type": "application/json", "user-agent": "tenaz-send"}
	var body map[string]any
	switch c.Scheme {
	case "stripe":
		h["user-agent"] = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
		body = map[string]any{"id": id, "object": "event", "type": "payment_intent.succeeded", "created": now.Unix(),
			"data": map[string]any{"object": map[string]any{"id": "pi_" + id, "amount": 2000, "currency": "usd"}}}
	case "github":
		h["x-github-delivery"], h["x-github-event"], h["x-github-hook-id"] = id, "push", "42"
		h["x-github-hook-installation-target-id"], h["x-github-hook-installation-target-type"] = "79929171", "repository"
		h["user-agent"] = "GitHub-Hookshot/044aadd"
		body = map[string]any{"ref": "refs/heads/main", "after": id}
	case "shopify":
		h["x-shopify-webhook-id"], h["x-shopify-topic"] = id, "orders/create"
		h["x-shopify-shop-domain"], h["x-shopify-api-version"], h["x-shopify-event-id"] = "tenaz-demo.myshopify.com", "2025-10", "evt-"+id
		h["x-shopify-triggered-at"], h["user-agent"] = now.UTC().Format(time.RFC3339Nano), "Shopify-Captain-Hook"
		body = map[string]any{"id": 820982911946154508, "email": "jon@example.com", "note": id}
	case "slack":
		h["user-agent"] = "Slackbot 1.0 (+https://api.slack.com/robots)"
		body = map[string]any{"type": "event_callback", "event_id": id, "event_time": now.Unix(),
			"event": map[string]any{"type": "app_mention", "text": "hello", "channel": "C1"}}
	case "standard-webhooks":
		h["webhook-id"] = id
		body = map[string]any{"type": "invoice.paid", "timestamp": now.UTC().Format(time.RFC3339), "data": map[string]any{"id": id}}
	case "hmac-sha256":
		body = map[string]any{"payload": id}
		if c.IDField != "" {
			body[c.IDField] = id
		} else {
			h[strings.ToLower(c.IDHeader)] = id
		}
		if c.TypeField != "" {
			body[c.TypeField] = "sample.created"
		} else {
			h[strings.ToLower(c.TypeHeader)] = "sample.created"
		}
	case "hmac":
		body = map[string]any{"kind": "sample.created", "data": map[string]any{"id": id}}
	default:
		var raw []byte
		var err error
		if body, raw, err = presetSample(c.Scheme, id, now, h); err != nil {
			return nil, nil, fmt.Errorf("source %q: %w", source, err)
		}
		if raw != nil {
			if err := src.Sign(h, raw, now); err != nil {
				return nil, nil, err
			}
			return h, raw, nil
		}
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, nil, err
	}
	if raw, err = src.SignBody(h, raw, now); err != nil {
		return nil, nil, err
	}
	return h, raw, nil
}
