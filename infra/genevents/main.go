// Command genevents writes the API Gateway (HTTP API, payload v2) sample events under
// events/ingest, signed with the test secrets of events/sources.json at a fixed time,
// and their manifest. Run from the repository root: go run ./infra/genevents
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tenaz/tenaz/shared/webhook"
)

// SignedAt is when every sample was signed. Tests that verify samples with the real
// clock re-sign the ones whose scheme has a timestamp (manifest "resign": true).
var SignedAt = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// Entry describes one sample in events/ingest/manifest.json.
type Entry struct {
	File   string `json:"file"`
	Source string `json:"source"`
	Status int    `json:"status"`         // the status ingest must answer
	ID     string `json:"id,omitempty"`   // provider id of an accepted webhook
	Type   string `json:"type,omitempty"` // its type
	Resign bool   `json:"resign"`         // signed over a timestamp: re-sign before verifying with a real clock
	Note   string `json:"note"`
}

type sample struct {
	Entry
	method  string
	headers map[string]string
	body    string
	sign    bool
	tamper  string // body swapped in after signing
	at      time.Time
}

func main() {
	if err := run(filepath.Join("events", "sources.json"), filepath.Join("events", "ingest")); err != nil {
		fmt.Fprintln(os.Stderr, "genevents:", err)
		os.Exit(1)
	}
}

// run writes the samples signed with the sources file into outDir.
func run(sourcesFile, outDir string) error {
	raw, err := os.ReadFile(sourcesFile)
	if err != nil {
		return err
	}
	sources, err := webhook.ParseSources(raw)
	if err != nil {
		return err
	}
	var manifest []Entry
	for _, s := range samples() {
		if s.method == "" {
			s.method = "POST"
		}
		if s.at.IsZero() {
			s.at = SignedAt
		}
		headers := map[string]string{"content-type": "application/json", "user-agent": "tenaz-sample"}
		for k, v := range s.headers {
			headers[k] = v
		}
		if s.sign {
			src, ok := sources[s.Source]
			if !ok {
				return fmt.Errorf("%s: no source %q", s.File, s.Source)
			}
			if err := src.Sign(headers, []byte(s.body), s.at); err != nil {
				return fmt.Errorf("%s: %w", s.File, err)
			}
		}
		body := s.body
		if s.tamper != "" {
			body = s.tamper
		}
		ev := apiEvent(s.method, s.Source, headers, body)
		data, err := json.MarshalIndent(ev, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(outDir, s.File), append(data, '\n'), 0o644); err != nil {
			return err
		}
		manifest = append(manifest, s.Entry)
	}
	data, err := json.MarshalIndent(manifest, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(outDir, "manifest.json"), append(data, '\n'), 0o644)
}

func apiEvent(method, source string, headers map[string]string, body string) events.APIGatewayV2HTTPRequest {
	path := "/webhooks/" + source
	return events.APIGatewayV2HTTPRequest{
		Version:        "2.0",
		RouteKey:       "POST /webhooks/{source}",
		RawPath:        path,
		Headers:        headers,
		PathParameters: map[string]string{"source": source},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     "POST /webhooks/{source}",
			AccountID:    "123456789012",
			Stage:        "$default",
			RequestID:    "sample-" + strings.TrimSuffix(source, "/"),
			APIID:        "tenazapi01",
			DomainName:   "tenazapi01.execute-api.us-east-1.amazonaws.com",
			DomainPrefix: "tenazapi01",
			Time:         SignedAt.Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:    SignedAt.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    method,
				Path:      path,
				Protocol:  "HTTP/1.1",
				SourceIP:  "203.0.113.10",
				UserAgent: headers["user-agent"],
			},
		},
		Body: body,
	}
}

func samples() []sample {
	big := `{"id":"evt_big","type":"charge.updated","padding":"` + strings.Repeat("x", 256<<10) + `"}`
	return []sample{
		{Entry: Entry{File: "stripe.json", Source: "stripe", Status: 202, ID: "evt_3TenazSample0001", Type: "payment_intent.succeeded", Resign: true, Note: "valid Stripe-Signature"},
			sign: true, body: `{"id":"evt_3TenazSample0001","object":"event","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1","amount":2000,"currency":"usd"}}}`},
		{Entry: Entry{File: "github.json", Source: "github", Status: 202, ID: "5a7c4a10-b7a8-11ef-8e4c-tenaz0000001", Type: "push", Note: "valid X-Hub-Signature-256"},
			sign: true, headers: map[string]string{"x-github-delivery": "5a7c4a10-b7a8-11ef-8e4c-tenaz0000001", "x-github-event": "push", "x-github-hook-id": "42"},
			body: `{"ref":"refs/heads/main","repository":{"full_name":"tenaz/demo"}}`},
		{Entry: Entry{File: "shopify.json", Source: "shopify", Status: 202, ID: "b54557e4-bdd9-4b37-8a5f-tenaz0000001", Type: "orders/create", Note: "valid X-Shopify-Hmac-Sha256"},
			sign: true, headers: map[string]string{"x-shopify-webhook-id": "b54557e4-bdd9-4b37-8a5f-tenaz0000001", "x-shopify-topic": "orders/create", "x-shopify-shop-domain": "tenaz-demo.myshopify.com"},
			body: `{"id":820982911946154500,"email":"jon@example.com","total_price":"10.00"}`},
		{Entry: Entry{File: "slack.json", Source: "slack", Status: 202, ID: "Ev08TENAZ0001", Type: "app_mention", Resign: true, Note: "valid X-Slack-Signature, Events API callback"},
			sign: true, body: `{"token":"x","team_id":"T1","api_app_id":"A1","type":"event_callback","event_id":"Ev08TENAZ0001","event_time":1793534400,"event":{"type":"app_mention","user":"U1","text":"hi","channel":"C1"}}`},
		{Entry: Entry{File: "slack-challenge.json", Source: "slack", Status: 200, Resign: true, Note: "url_verification: answered with the challenge, nothing enqueued"},
			sign: true, body: `{"token":"x","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`},
		{Entry: Entry{File: "standard-webhooks.json", Source: "standard-webhooks", Status: 202, ID: "msg_2TenazSample0001", Type: "invoice.paid", Resign: true, Note: "valid webhook-signature (Standard Webhooks)"},
			sign: true, headers: map[string]string{"webhook-id": "msg_2TenazSample0001"}, body: `{"type":"invoice.paid","timestamp":"2026-11-01T12:00:00Z","data":{"invoice":"in_1"}}`},
		{Entry: Entry{File: "hmac-sha256.json", Source: "acme", Status: 202, ID: "acme-0001", Type: "user.created", Note: "generic HMAC-SHA256, id and type from JSON fields"},
			sign: true, body: `{"event_id":"acme-0001","event_type":"user.created","user":{"id":7}}`},

		{Entry: Entry{File: "reject-unknown-source.json", Source: "nope", Status: 404, Note: "no such source"}, body: `{}`},
		{Entry: Entry{File: "reject-missing-signature.json", Source: "github", Status: 401, Note: "no X-Hub-Signature-256"},
			headers: map[string]string{"x-github-delivery": "d-1", "x-github-event": "push"}, body: `{"ref":"x"}`},
		{Entry: Entry{File: "reject-bad-signature.json", Source: "stripe", Status: 401, Resign: false, Note: "body changed after signing"},
			sign: true, body: `{"id":"evt_1","type":"charge.succeeded","amount":100}`, tamper: `{"id":"evt_1","type":"charge.succeeded","amount":999}`},
		{Entry: Entry{File: "reject-stale-timestamp.json", Source: "slack", Status: 401, Note: "signed an hour before the sample time: outside the 300 s tolerance"},
			sign: true, at: SignedAt.Add(-time.Hour), body: `{"type":"event_callback","event_id":"Ev_stale","event":{"type":"message"}}`},
		{Entry: Entry{File: "reject-too-large.json", Source: "stripe", Status: 413, Note: "body one byte past 256 KiB and more"}, body: big},
		{Entry: Entry{File: "reject-malformed-json.json", Source: "shopify", Status: 400, Note: "signed, but not JSON"},
			sign: true, headers: map[string]string{"x-shopify-webhook-id": "w-1", "x-shopify-topic": "orders/create"}, body: `{"id": 1,`},
		{Entry: Entry{File: "reject-missing-id.json", Source: "stripe", Status: 400, Resign: true, Note: "signed, but the body has no id"},
			sign: true, body: `{"object":"event","type":"charge.succeeded"}`},
		{Entry: Entry{File: "reject-wrong-method.json", Source: "stripe", Status: 405, Note: "GET instead of POST"}, method: "GET"},
	}
}
