// Command genevents writes the API Gateway (HTTP API, payload v2) sample events under
// events/ingest, signed with the test secrets of events/sources.json at a fixed time,
// and their manifest. Run from the repository root: go run ./infra/genevents
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
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
	bodyKey bool   // the id is the body's SHA-256 (the scheme has no event id)
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
		if s.ID == "" && s.bodyKey && s.Status == 202 {
			sum := sha256.Sum256([]byte(s.body))
			s.ID = hex.EncodeToString(sum[:])
		}
		for k, v := range s.headers {
			headers[k] = v
		}
		if s.sign {
			src, ok := sources[s.Source]
			if !ok {
				return fmt.Errorf("%s: no source %q", s.File, s.Source)
			}
			b, err := src.SignBody(headers, []byte(s.body), s.at)
			if err != nil {
				return fmt.Errorf("%s: %w", s.File, err)
			}
			s.body = string(b)
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
	// One byte past the largest SQS message (1 MiB): without a body store, too large
	// for the queue however it is wrapped. (The body limit itself, 6 MiB, cannot be
	// passed by an API Gateway event: Lambda refuses an event over 6 MB first.)
	const bigPrefix, bigSuffix = `{"id":"evt_big","type":"charge.updated","padding":"`, `"}`
	big := bigPrefix + strings.Repeat("x", 1<<20+1-len(bigPrefix)-len(bigSuffix)) + bigSuffix
	return []sample{
		{Entry: Entry{File: "stripe.json", Source: "stripe", Status: 202, ID: "evt_3TenazSample0001", Type: "payment_intent.succeeded", Resign: true, Note: "valid Stripe-Signature"},
			sign: true, headers: map[string]string{"user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)"}, body: `{"id":"evt_3TenazSample0001","object":"event","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1","amount":2000,"currency":"usd"}}}`},
		{Entry: Entry{File: "github.json", Source: "github", Status: 202, ID: "5a7c4a10-b7a8-11ef-8e4c-tenaz0000001", Type: "push", Note: "valid X-Hub-Signature-256"},
			sign: true, headers: map[string]string{"x-github-delivery": "5a7c4a10-b7a8-11ef-8e4c-tenaz0000001", "x-github-event": "push", "x-github-hook-id": "42",
				"x-github-hook-installation-target-id": "79929171", "x-github-hook-installation-target-type": "repository", "user-agent": "GitHub-Hookshot/044aadd"},
			body: `{"ref":"refs/heads/main","repository":{"full_name":"tenaz/demo"}}`},
		{Entry: Entry{File: "shopify.json", Source: "shopify", Status: 202, ID: "b54557e4-bdd9-4b37-8a5f-tenaz0000001", Type: "orders/create", Note: "valid X-Shopify-Hmac-Sha256"},
			sign: true, headers: map[string]string{"x-shopify-webhook-id": "b54557e4-bdd9-4b37-8a5f-tenaz0000001", "x-shopify-topic": "orders/create", "x-shopify-shop-domain": "tenaz-demo.myshopify.com",
				"x-shopify-api-version": "2025-10", "x-shopify-event-id": "98880550-7158-44d4-b7cd-2c97c8a091b5", "x-shopify-triggered-at": "2026-11-01T12:00:00.000000Z", "user-agent": "Shopify-Captain-Hook"},
			body: `{"id":820982911946154500,"email":"jon@example.com","total_price":"10.00"}`},
		{Entry: Entry{File: "slack.json", Source: "slack", Status: 202, ID: "Ev08TENAZ0001", Type: "app_mention", Resign: true, Note: "valid X-Slack-Signature, Events API callback"},
			sign: true, headers: map[string]string{"user-agent": "Slackbot 1.0 (+https://api.slack.com/robots)"}, body: `{"token":"x","team_id":"T1","api_app_id":"A1","type":"event_callback","event_id":"Ev08TENAZ0001","event_time":1793534400,"event":{"type":"app_mention","user":"U1","text":"hi","channel":"C1"}}`},
		{Entry: Entry{File: "slack-challenge.json", Source: "slack", Status: 200, Resign: true, Note: "url_verification: answered with the challenge, nothing enqueued"},
			sign: true, body: `{"token":"x","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`},
		{Entry: Entry{File: "standard-webhooks.json", Source: "standard-webhooks", Status: 202, ID: "msg_2TenazSample0001", Type: "invoice.paid", Resign: true, Note: "valid webhook-signature (Standard Webhooks)"},
			sign: true, headers: map[string]string{"webhook-id": "msg_2TenazSample0001"}, body: `{"type":"invoice.paid","timestamp":"2026-11-01T12:00:00Z","data":{"invoice":"in_1"}}`},
		{Entry: Entry{File: "hmac-sha256.json", Source: "acme", Status: 202, ID: "acme-0001", Type: "user.created", Note: "generic HMAC-SHA256, id and type from JSON fields"},
			sign: true, body: `{"event_id":"acme-0001","event_type":"user.created","user":{"id":7}}`},

		{Entry: Entry{File: "hmac.json", Source: "hmac", Status: 202, ID: "hmac-0001", Type: "sample.created", Resign: true, Note: "generic hmac: HMAC-SHA512 over {timestamp}.{body}, t=…,v1=… header, id from a nested field"},
			sign: true, body: `{"kind":"sample.created","data":{"id":"hmac-0001"}}`},
		{Entry: Entry{File: "discord.json", Source: "discord", Status: 202, ID: "1305712345678901234", Type: "APPLICATION_COMMAND", Resign: true, Note: "Ed25519 over timestamp+body, an interaction"},
			sign: true, headers: map[string]string{"user-agent": "Discord-Interactions/1.0 (+https://discord.com)"},
			body: `{"id":"1305712345678901234","type":2,"application_id":"1100000000000000000","token":"interaction-token","data":{"name":"hello","type":1}}`},
		{Entry: Entry{File: "discord-ping.json", Source: "discord", Status: 200, Type: "PING", Resign: true, Note: "PING answered with PONG ({\"type\":1}), nothing enqueued"},
			sign: true, headers: map[string]string{"user-agent": "Discord-Interactions/1.0 (+https://discord.com)"},
			body: `{"id":"1305712345678900000","type":1,"application_id":"1100000000000000000","token":"ping-token","version":1}`},
		{Entry: Entry{File: "sendgrid.json", Source: "sendgrid", Status: 202, Type: "event_batch", Note: "ECDSA P-256 over timestamp+body; a batch, keyed on the body's SHA-256"},
			sign: true, bodyKey: true, headers: map[string]string{"user-agent": "SendGrid Event API"},
			body: `[{"email":"jon@example.com","timestamp":1793534400,"event":"delivered","sg_event_id":"ZGVsaXZlcmVkLTAtMTIz","sg_message_id":"14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0"}]`},
		{Entry: Entry{File: "twilio.json", Source: "twilio", Status: 202, ID: "b2a7c1c0-tenaz-0001", Type: "request", Note: "HMAC-SHA1 over the configured URL and the sorted form parameters"},
			sign: true, headers: map[string]string{"content-type": "application/x-www-form-urlencoded", "user-agent": "TwilioProxy/1.1", "i-twilio-idempotency-token": "b2a7c1c0-tenaz-0001", "x-home-region": "us1"},
			body: `AccountSid=AC0000&Body=hello&From=%2B15550001111&MessageSid=SM0001&SmsStatus=received&To=%2B15550002222`},
		{Entry: Entry{File: "gitlab.json", Source: "gitlab", Status: 202, ID: "9a3c2f51-tenaz-0001", Type: "push", Note: "X-Gitlab-Token compared in constant time"},
			sign: true, headers: map[string]string{"x-gitlab-event": "Push Hook", "x-gitlab-event-uuid": "9a3c2f51-tenaz-0001", "x-gitlab-webhook-uuid": "8f7e6d5c-tenaz-0001",
				"idempotency-key": "9a3c2f51-tenaz-0001", "x-gitlab-instance": "https://gitlab.example.com", "user-agent": "GitLab/17.6.0"},
			body: `{"object_kind":"push","event_name":"push","ref":"refs/heads/main","checkout_sha":"da1560886d4f094c3e6c9ef40349f7d38b5d27d7"}`},
		{Entry: Entry{File: "postmark.json", Source: "postmark", Status: 202, Type: "Delivery", Note: "HTTP Basic credentials; keyed on the body's SHA-256"},
			sign: true, bodyKey: true, headers: map[string]string{"user-agent": "Postmark"},
			body: `{"RecordType":"Delivery","MessageID":"883953f4-6105-42a2-a16a-77a8eac79483","Recipient":"jon@example.com","MessageStream":"outbound","DeliveredAt":"2026-11-01T12:00:00Z"}`},
		{Entry: Entry{File: "zoom.json", Source: "zoom", Status: 202, Type: "meeting.started", Resign: true, Note: "x-zm-signature over v0:timestamp:body; keyed on the body's SHA-256"},
			sign: true, bodyKey: true, headers: map[string]string{"x-zm-trackingid": "v=2.0&s=tenaz0001", "user-agent": "Zoom Marketplace/1.0a"},
			body: `{"event":"meeting.started","event_ts":1793534400000,"payload":{"account_id":"acc1","object":{"id":"85123456789","topic":"Standup"}}}`},
		{Entry: Entry{File: "zoom-url-validation.json", Source: "zoom", Status: 200, Type: "endpoint.url_validation", Resign: true, Note: "endpoint.url_validation answered with plainToken and its HMAC, nothing enqueued"},
			sign: true, headers: map[string]string{"x-zm-trackingid": "v=2.0&s=tenaz0002", "user-agent": "Zoom Marketplace/1.0a"},
			body: `{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1793534400000,"event":"endpoint.url_validation"}`},
		{Entry: Entry{File: "twitch.json", Source: "twitch", Status: 202, ID: "befa7b53-d79d-478f-86b9-120f112b044e", Type: "channel.follow", Resign: true, Note: "HMAC-SHA256 over message id, timestamp and body"},
			sign: true, headers: twitchHeaders("befa7b53-d79d-478f-86b9-120f112b044e", "notification"),
			body: `{"subscription":{"id":"f1c2a387-161a-49f9-a165-0f21d7a4e1c4","type":"channel.follow","version":"2","status":"enabled"},"event":{"user_id":"1337","user_login":"awesome_user","broadcaster_user_id":"12826"}}`},
		{Entry: Entry{File: "twitch-verification.json", Source: "twitch", Status: 200, Type: "webhook_callback_verification", Resign: true, Note: "webhook_callback_verification answered with the challenge as text/plain, nothing enqueued"},
			sign: true, headers: twitchHeaders("e76c6bd4-55c9-4987-8304-da1588d8988b", "webhook_callback_verification"),
			body: `{"challenge":"pogchamp-kappa-360noscope-vohiyo","subscription":{"id":"f1c2a387-161a-49f9-a165-0f21d7a4e1c4","status":"webhook_callback_verification_pending","type":"channel.follow","version":"2"}}`},
		{Entry: Entry{File: "paddle.json", Source: "paddle", Status: 202, ID: "evt_01hv8x2acma2gz3he9ptqtk1sk", Type: "transaction.completed", Resign: true, Note: "Paddle-Signature ts=…;h1=… over ts:body"},
			sign: true, body: `{"event_id":"evt_01hv8x2acma2gz3he9ptqtk1sk","event_type":"transaction.completed","occurred_at":"2026-11-01T12:00:00Z","notification_id":"ntf_01hv8x2b","data":{"id":"txn_01hv8wptq8987qeep44cyrewp9"}}`},
		{Entry: Entry{File: "square.json", Source: "square", Status: 202, ID: "6a8f5f28-54a1-4eb0-a98a-3111513fd4fc", Type: "payment.created", Note: "HMAC-SHA256 over the configured URL and the body"},
			sign: true, headers: map[string]string{"user-agent": "Square Connect v2"},
			body: `{"merchant_id":"MLEFBHHSJGVHD","type":"payment.created","event_id":"6a8f5f28-54a1-4eb0-a98a-3111513fd4fc","created_at":"2026-11-01T12:00:00Z","data":{"type":"payment","id":"KkAkhdMsgzn59SM8A89WgKwekxLZY"}}`},
		{Entry: Entry{File: "hubspot.json", Source: "hubspot", Status: 202, Type: "event_batch", Resign: true, Note: "X-HubSpot-Signature-v3 over method, URL, body and timestamp (ms); keyed on the body's SHA-256"},
			sign: true, bodyKey: true, headers: map[string]string{"user-agent": "HubSpot Connect 2.0 (http://dev.hubspot.com/)"},
			body: `[{"eventId":100,"subscriptionId":1,"portalId":62515,"appId":1,"occurredAt":1793534400000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeFlag":"CREATED","changeSource":"CRM"}]`},
		{Entry: Entry{File: "linear.json", Source: "linear", Status: 202, ID: "234d1a4e-b617-4388-90fe-adc3633d6b72", Type: "Issue", Resign: true, Note: "Linear-Signature, HMAC-SHA256 of the body; webhookTimestamp in the body within 60 s"},
			sign: true, headers: map[string]string{"linear-delivery": "234d1a4e-b617-4388-90fe-adc3633d6b72", "linear-event": "Issue", "user-agent": "Linear-Webhook"},
			body: `{"action":"create","type":"Issue","webhookTimestamp":1793534400000,"webhookId":"wh_1","data":{"id":"2174add1-f7c8-44e3-bbf3-2d60b5ea8bc9","title":"Sample"}}`},
		{Entry: Entry{File: "intercom.json", Source: "intercom", Status: 202, ID: "notif_ccd8a4d0-tenaz-0001", Type: "conversation.user.created", Note: "X-Hub-Signature sha1=, HMAC-SHA1 of the body"},
			sign: true, headers: map[string]string{"user-agent": "intercom-parrot-service-worker"},
			body: `{"type":"notification_event","app_id":"abc123","id":"notif_ccd8a4d0-tenaz-0001","topic":"conversation.user.created","created_at":1793534400,"data":{"item":{"type":"conversation","id":"1"}}}`},
		{Entry: Entry{File: "bitbucket.json", Source: "bitbucket", Status: 202, ID: "fbd0b5a4-tenaz-0001", Type: "repo:push", Note: "X-Hub-Signature sha256=, HMAC-SHA256 of the body"},
			sign: true, headers: map[string]string{"x-event-key": "repo:push", "x-request-uuid": "fbd0b5a4-tenaz-0001", "x-hook-uuid": "{6b7a8c1e-tenaz-0001}", "x-attempt-number": "1", "user-agent": "Bitbucket-Webhooks/2.0"},
			body: `{"push":{"changes":[]},"repository":{"full_name":"tenaz/demo"}}`},
		{Entry: Entry{File: "vercel.json", Source: "vercel", Status: 202, ID: "uDfHpVlVWrUZbsDntvGwpfDa", Type: "deployment.created", Note: "x-vercel-signature, HMAC-SHA1 of the body"},
			sign: true, body: `{"id":"uDfHpVlVWrUZbsDntvGwpfDa","type":"deployment.created","createdAt":1793534400000,"payload":{"deployment":{"id":"dpl_1"}}}`},
		{Entry: Entry{File: "workos.json", Source: "workos", Status: 202, ID: "event_01HWWTJ3VRPV4JEJJSJQW0PAT3", Type: "user.created", Resign: true, Note: "WorkOS-Signature t=… (ms), v1=… over t.body"},
			sign: true, body: `{"id":"event_01HWWTJ3VRPV4JEJJSJQW0PAT3","event":"user.created","created_at":"2026-11-01T12:00:00Z","data":{"id":"user_01"}}`},
		{Entry: Entry{File: "calendly.json", Source: "calendly", Status: 202, Type: "invitee.created", Resign: true, Note: "Calendly-Webhook-Signature t=…,v1=… over t.body; keyed on the body's SHA-256"},
			sign: true, bodyKey: true,
			body: `{"event":"invitee.created","created_at":"2026-11-01T12:00:00.000000Z","created_by":"https://api.calendly.com/users/U1","payload":{"uri":"https://api.calendly.com/scheduled_events/E1/invitees/I1"}}`},
		{Entry: Entry{File: "typeform.json", Source: "typeform", Status: 202, ID: "01HTENAZ0000000000000001", Type: "form_response", Note: "Typeform-Signature sha256=<base64>"},
			sign: true, headers: map[string]string{"user-agent": "Typeform Webhooks"},
			body: `{"event_id":"01HTENAZ0000000000000001","event_type":"form_response","form_response":{"form_id":"lT4Z3j","token":"a3a12ec67a1365927098a606107fac15"}}`},
		{Entry: Entry{File: "clerk.json", Source: "clerk", Status: 202, ID: "msg_2tenazClerk0001", Type: "user.created", Resign: true, Note: "Standard Webhooks under svix- headers"},
			sign: true, headers: map[string]string{"svix-id": "msg_2tenazClerk0001"}, body: `{"type":"user.created","object":"event","timestamp":1793534400000,"data":{"id":"user_29w83sxmDNGwOuEthce5gg56FcC"}}`},
		{Entry: Entry{File: "resend.json", Source: "resend", Status: 202, ID: "msg_2tenazResend0001", Type: "email.delivered", Resign: true, Note: "Standard Webhooks under svix- headers"},
			sign: true, headers: map[string]string{"svix-id": "msg_2tenazResend0001"}, body: `{"type":"email.delivered","created_at":"2026-11-01T12:00:00.000Z","data":{"email_id":"56761188-7520-42d8-8898-ff6fc54ce618"}}`},
		{Entry: Entry{File: "mailgun.json", Source: "mailgun", Status: 202, ID: "CPgfbmQMTCKtHW6uIWtuVe", Type: "delivered", Resign: true, Note: "signature object in the body: HMAC-SHA256 of timestamp+token"},
			sign: true, headers: map[string]string{"user-agent": "mailgun/treq-16.12.0"}, body: `{"event-data":{"id":"CPgfbmQMTCKtHW6uIWtuVe","event":"delivered","timestamp":1793534400,"recipient":"jon@example.com"}}`},
		{Entry: Entry{File: "slack-form.json", Source: "slack", Status: 202, ID: "5522672900359.6335258913941.9a930ce2tenaz", Type: "block_actions", Resign: true,
			Note: "valid X-Slack-Signature, interactivity form post: id the payload's trigger_id, type its type"},
			sign: true, headers: map[string]string{"content-type": "application/x-www-form-urlencoded", "user-agent": "Slackbot 1.0 (+https://api.slack.com/robots)"},
			body: "payload=" + url.QueryEscape(`{"type":"block_actions","user":{"id":"U1","team_id":"T1"},"api_app_id":"A1","token":"x",`+
				`"container":{"type":"message","message_ts":"1793534400.000100","channel_id":"C1"},"trigger_id":"5522672900359.6335258913941.9a930ce2tenaz",`+
				`"team":{"id":"T1"},"response_url":"https://hooks.slack.com/actions/T1/1/tenaz",`+
				`"actions":[{"action_id":"approve","block_id":"b1","type":"button","value":"yes","action_ts":"1793534400.000200"}]}`)},
		{Entry: Entry{File: "plain-text.json", Source: "plain", Status: 202, ID: "plain-0001", Type: "note.created", Note: "generic HMAC-SHA256, text/plain body; id and type from headers, the body never parsed"},
			sign: true, headers: map[string]string{"content-type": "text/plain; charset=utf-8", "x-plain-id": "plain-0001", "x-plain-type": "note.created"},
			body: "Deploy finished: 3 services, 0 errors.\n"},
		{Entry: Entry{File: "reject-no-event-id.json", Source: "slack", Status: 422, Resign: true, Note: "signed Slack form post with neither a payload nor a trigger_id: no event id"},
			sign: true, headers: map[string]string{"content-type": "application/x-www-form-urlencoded"}, body: "command=%2Fdeploy&text=now&user_id=U1"},
		{Entry: Entry{File: "reject-invalid-id.json", Source: "stripe", Status: 400, Resign: true, Note: "signed, but the id holds a space"},
			sign: true, body: `{"id":"evt 1","type":"charge.succeeded"}`},

		{Entry: Entry{File: "reject-unknown-source.json", Source: "nope", Status: 404, Note: "no such source"}, body: `{}`},
		{Entry: Entry{File: "reject-missing-signature.json", Source: "github", Status: 401, Note: "no X-Hub-Signature-256"},
			headers: map[string]string{"x-github-delivery": "d-1", "x-github-event": "push"}, body: `{"ref":"x"}`},
		{Entry: Entry{File: "reject-bad-signature.json", Source: "stripe", Status: 401, Resign: false, Note: "body changed after signing"},
			sign: true, body: `{"id":"evt_1","type":"charge.succeeded","amount":100}`, tamper: `{"id":"evt_1","type":"charge.succeeded","amount":999}`},
		{Entry: Entry{File: "reject-stale-timestamp.json", Source: "slack", Status: 401, Note: "signed an hour before the sample time: outside the 300 s tolerance"},
			sign: true, at: SignedAt.Add(-time.Hour), body: `{"type":"event_callback","event_id":"Ev_stale","event":{"type":"message"}}`},
		{Entry: Entry{File: "reject-too-large.json", Source: "stripe", Status: 413, Resign: true, Note: "signed body one byte past 1 MiB: too large for a queue message, and no body store"},
			sign: true, body: big},
		{Entry: Entry{File: "reject-malformed-json.json", Source: "shopify", Status: 400, Note: "signed, but not JSON"},
			sign: true, headers: map[string]string{"x-shopify-webhook-id": "w-1", "x-shopify-topic": "orders/create"}, body: `{"id": 1,`},
		{Entry: Entry{File: "reject-missing-id.json", Source: "stripe", Status: 400, Resign: true, Note: "signed, but the body has no id"},
			sign: true, body: `{"object":"event","type":"charge.succeeded"}`},
		{Entry: Entry{File: "reject-wrong-method.json", Source: "stripe", Status: 405, Note: "GET instead of POST"}, method: "GET"},
	}
}

// twitchHeaders are the EventSub headers besides the signature and timestamp.
func twitchHeaders(id, kind string) map[string]string {
	return map[string]string{"twitch-eventsub-message-id": id, "twitch-eventsub-message-type": kind, "twitch-eventsub-message-retry": "0",
		"twitch-eventsub-subscription-type": "channel.follow", "twitch-eventsub-subscription-version": "2", "user-agent": "Twitch-Eventsub-Webhooks/1.0"}
}
