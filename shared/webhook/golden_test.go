package webhook

import (
	"errors"
	"maps"
	"testing"
	"time"
)

// Golden vectors. Each signature was computed outside this package when the test was
// written, so Sign and Verify cannot be wrong together:
//
//	printf '%s' "$content" | openssl dgst -sha256 -hmac "$secret"            # hex
//	printf '%s' "$content" | openssl dgst -sha256 -hmac "$secret" -binary | base64
//
// (Standard Webhooks: -mac HMAC -macopt hexkey:<the decoded key>), cross-checked with
// Python's hmac module. The vectors marked "provider docs" are the worked examples
// the providers publish.
type golden struct {
	name    string
	cfg     string
	headers map[string]string // as the provider sends them, signature included
	body    string
	at      time.Time
	// Verify's outcome: an event, or (for provider examples whose body is not what
	// the scheme routes) the code of the check after the signature.
	id, typ, code string
}

func goldens() []golden {
	return []golden{
		{
			name: "stripe",
			cfg:  `{"scheme":"stripe","secrets":["whsec_tenaz_golden_stripe"]}`,
			headers: map[string]string{
				"stripe-signature": "t=1700000000,v1=ff59e5e640e087e56296a6199f9445e1a18e17f108458bf718ee97fb974e8d2f",
			},
			body: `{"id":"evt_golden_1","object":"event","type":"invoice.paid"}`,
			at:   time.Unix(1700000000, 0),
			id:   "evt_golden_1", typ: "invoice.paid",
		},
		{
			name: "github",
			cfg:  `{"scheme":"github","secrets":["tenaz-golden-github"]}`,
			headers: map[string]string{
				"x-hub-signature-256": "sha256=12fccdd570ade5434568aaec430dcd44472e3c63d94eb0b1c58e87b26f7d0e0d",
				"x-github-delivery":   "72d3162e-cc78-11e3-81ab-4c9367dc0958", "x-github-event": "pull_request",
				"content-type": "application/json",
			},
			body: `{"action":"opened","number":1}`,
			at:   time.Unix(1700000000, 0),
			id:   "72d3162e-cc78-11e3-81ab-4c9367dc0958", typ: "pull_request",
		},
		{
			name: "github provider docs",
			cfg:  `{"scheme":"github","secrets":["It's a Secret to Everybody"]}`,
			headers: map[string]string{
				"x-hub-signature-256": "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
				"x-github-delivery":   "d-1", "x-github-event": "ping",
				"content-type": "application/x-www-form-urlencoded",
			},
			body: "Hello, World!",
			at:   time.Unix(1700000000, 0),
			id:   "d-1", typ: "ping",
		},
		{
			name: "shopify",
			cfg:  `{"scheme":"shopify","secrets":["tenaz-golden-shopify"]}`,
			headers: map[string]string{
				"x-shopify-hmac-sha256": "SyvSL8CX+8UsneCstc7LwfTXdeMgGD9VFxZRFzooK0s=",
				"x-shopify-webhook-id":  "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043", "x-shopify-topic": "orders/create",
			},
			body: `{"id":820982911946154508,"email":"jon@example.com"}`,
			at:   time.Unix(1700000000, 0),
			id:   "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043", typ: "orders/create",
		},
		{
			name: "slack",
			cfg:  `{"scheme":"slack","secrets":["tenaz-golden-slack"]}`,
			headers: map[string]string{
				"x-slack-signature":         "v0=33d623d581865d290b7098087e09f8520474acce26173369072d4f4a7c89031f",
				"x-slack-request-timestamp": "1700000000",
			},
			body: `{"type":"event_callback","event_id":"Ev0GOLDEN","event":{"type":"app_mention","text":"hi"}}`,
			at:   time.Unix(1700000000, 0),
			id:   "Ev0GOLDEN", typ: "app_mention",
		},
		{
			// A slash command, which is form-encoded: the signature matches, and the
			// Events API scheme then refuses the non-JSON body.
			name: "slack provider docs",
			cfg:  `{"scheme":"slack","secrets":["8f742231b10e8888abcd99yyyzzz85a5"]}`,
			headers: map[string]string{
				"x-slack-signature":         "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
				"x-slack-request-timestamp": "1531420618",
			},
			body: "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c",
			at:   time.Unix(1531420618, 0),
			code: CodeMalformedJSON,
		},
		{
			name: "standard webhooks",
			cfg:  `{"scheme":"standard-webhooks","secrets":["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]}`,
			headers: map[string]string{
				"webhook-id":        "msg_golden_1",
				"webhook-timestamp": "1700000000",
				"webhook-signature": "v1,fJBl5e//JReWIrZEOZdlBkqJVDj9vv9Edap8Wdwa2lg=",
			},
			body: `{"type":"user.created","data":{"id":"u_1"}}`,
			at:   time.Unix(1700000000, 0),
			id:   "msg_golden_1", typ: "user.created",
		},
		{
			// The specification's example has no "type" in its body.
			name: "standard webhooks provider docs",
			cfg:  `{"scheme":"standard-webhooks","secrets":["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]}`,
			headers: map[string]string{
				"webhook-id":        "msg_p5jXN8AQM9LWM0D4loKWxJek",
				"webhook-timestamp": "1614265330",
				"webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
			},
			body: `{"test": 2432232314}`,
			at:   time.Unix(1614265330, 0),
			code: CodeMissingType,
		},
		{
			name: "hmac-sha256 hex with prefix",
			cfg:  `{"scheme":"hmac-sha256","secrets":["tenaz-golden-acme"],"header":"X-Acme-Signature","prefix":"sha256=","idField":"event_id","typeField":"event_type"}`,
			headers: map[string]string{
				"x-acme-signature": "sha256=03377cb951146087a157eea8ab8ca7930c16e761071aca6aa3fb26aba15fce21",
			},
			body: `{"event_id":"acme-1","event_type":"user.created"}`,
			at:   time.Unix(1700000000, 0),
			id:   "acme-1", typ: "user.created",
		},
		{
			name: "hmac-sha256 base64",
			cfg:  `{"scheme":"hmac-sha256","secrets":["tenaz-golden-acme"],"header":"X-Signature","encoding":"base64","idField":"event_id","typeField":"event_type"}`,
			headers: map[string]string{
				"x-signature": "Azd8uVEUYIehV+6oq4ynkwwW52EHGspqo/smq6FfziE=",
			},
			body: `{"event_id":"acme-1","event_type":"user.created"}`,
			at:   time.Unix(1700000000, 0),
			id:   "acme-1", typ: "user.created",
		},
	}
}

func TestGoldenVerify(t *testing.T) {
	t.Parallel()
	for _, g := range goldens() {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			src := source(t, g.cfg)
			if err := src.verify(g.headers, []byte(g.body), g.at); err != nil {
				t.Fatalf("signature check: %v", err)
			}
			ev, err := src.Verify(g.headers, []byte(g.body), g.at)
			if g.code != "" {
				var e *Error
				if !errors.As(err, &e) || e.Code != g.code {
					t.Fatalf("Verify error = %v, want %s", err, g.code)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if ev.ID != g.id || ev.Type != g.typ {
				t.Errorf("event = %q %q, want %q %q", ev.ID, ev.Type, g.id, g.typ)
			}
			// One flipped bit in the signature must fail.
			for k, v := range g.headers {
				if k != src.sigHeader && !(src.kind == kindStandard && k == hStdSignature) {
					continue
				}
				b := []byte(v)
				b[len(b)-3] ^= 1
				h := maps.Clone(g.headers)
				h[k] = string(b)
				if _, err := src.Verify(h, []byte(g.body), g.at); err == nil {
					t.Errorf("Verify passed with %s = %s", k, b)
				}
			}
		})
	}
}

// TestGoldenSign checks that Sign writes exactly the provider's headers.
func TestGoldenSign(t *testing.T) {
	t.Parallel()
	for _, g := range goldens() {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			src := source(t, g.cfg)
			// Start from the headers Sign does not write.
			h := maps.Clone(g.headers)
			for _, k := range []string{src.sigHeader, hSlackTimestamp, hStdTimestamp} {
				delete(h, k)
			}
			if err := src.Sign(h, []byte(g.body), g.at); err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(h, g.headers) {
				t.Errorf("Sign gave\n%v\nwant\n%v", h, g.headers)
			}
		})
	}
}
