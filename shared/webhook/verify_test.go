package webhook

import (
	"encoding/base64"
	"errors"
	"maps"
	"strconv"
	"testing"
	"time"
)

// fixture describes one scheme for the cases every scheme shares.
type fixture struct {
	scheme      string
	secrets     []string // configured, in order
	wrong       string   // a well-formed secret that is not configured
	extra       map[string]any
	headers     map[string]string // unsigned headers of a valid request
	body        string
	id, typ     string
	kept        map[string]string
	sigHeader   string
	timestamped bool
	anyBody     bool // id and type come from headers: the body is never parsed
	noID        variant
	noType      variant
}

// variant is a signed request that differs from the valid one.
type variant struct {
	body string // signed body
	drop string // header removed after signing
	code string // expected failure
}

func whsec(key string) string { return "whsec_" + base64.StdEncoding.EncodeToString([]byte(key)) }

func fixtures() []fixture {
	return []fixture{
		{
			scheme:  SchemeStripe,
			secrets: []string{"whsec_stripe_first_0000", "whsec_stripe_second_111", "whsec_stripe_third_2222"},
			wrong:   "whsec_stripe_unknown_999",
			body:    `{"id":"evt_1","object":"event","type":"invoice.paid"}`,
			id:      "evt_1", typ: "invoice.paid",
			sigHeader: "stripe-signature", timestamped: true,
			noID:   variant{body: `{"object":"event","type":"invoice.paid"}`, code: CodeMissingID},
			noType: variant{body: `{"id":"evt_1","object":"event"}`, code: CodeMissingType},
		},
		{
			scheme:  SchemeGitHub,
			secrets: []string{"github-first-secret", "github-second-secret", "github-third-secret"},
			wrong:   "github-unknown-secret",
			headers: map[string]string{"content-type": "application/json", "x-github-event": "push",
				"x-github-delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958", "x-github-hook-id": "42", "user-agent": "GitHub-Hookshot/1"},
			body: `{"ref":"refs/heads/main"}`,
			id:   "72d3162e-cc78-11e3-81ab-4c9367dc0958", typ: "push",
			kept:      map[string]string{"x-github-event": "push", "x-github-delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958", "x-github-hook-id": "42"},
			sigHeader: "x-hub-signature-256",
			noID:      variant{body: `{"ref":"x"}`, drop: "x-github-delivery", code: CodeMissingID},
			noType:    variant{body: `{"ref":"x"}`, drop: "x-github-event", code: CodeMissingType},
		},
		{
			scheme:  SchemeShopify,
			secrets: []string{"shopify-first-secret", "shopify-second-secret", "shopify-third-secret"},
			wrong:   "shopify-unknown-secret",
			headers: map[string]string{"content-type": "application/json", "x-shopify-topic": "orders/create",
				"x-shopify-webhook-id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043", "x-shopify-shop-domain": "demo.myshopify.com",
				"x-shopify-api-version": "2026-04"},
			body: `{"id":820982911946154508,"email":"jon@example.com"}`,
			id:   "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043", typ: "orders/create",
			kept: map[string]string{"x-shopify-topic": "orders/create", "x-shopify-webhook-id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
				"x-shopify-shop-domain": "demo.myshopify.com", "x-shopify-api-version": "2026-04"},
			sigHeader: "x-shopify-hmac-sha256",
			noID:      variant{body: `{"id":1}`, drop: "x-shopify-webhook-id", code: CodeMissingID},
			noType:    variant{body: `{"id":1}`, drop: "x-shopify-topic", code: CodeMissingType},
		},
		{
			scheme:  SchemeSlack,
			secrets: []string{"8f742231b10e8888abcd99aaabbb85a5", "8f742231b10e8888abcd99aaabbb85a6", "8f742231b10e8888abcd99aaabbb85a7"},
			wrong:   "8f742231b10e8888abcd99aaabbb85ff",
			headers: map[string]string{"content-type": "application/json", "x-slack-retry-num": "1", "x-slack-retry-reason": "http_timeout"},
			body:    `{"token":"x","type":"event_callback","event_id":"Ev08MFMKH6","event":{"type":"app_mention","text":"hi"}}`,
			id:      "Ev08MFMKH6", typ: "app_mention",
			kept:      map[string]string{"x-slack-retry-num": "1", "x-slack-retry-reason": "http_timeout"},
			sigHeader: "x-slack-signature", timestamped: true,
			noID:   variant{body: `{"type":"event_callback","event":{"type":"message"}}`, code: CodeMissingID},
			noType: variant{body: `{"event_id":"Ev1","event":{"text":"no type"}}`, code: CodeMissingType},
		},
		{
			scheme:  SchemeStandardWebhooks,
			secrets: []string{whsec("standard-first-key-0123456789"), whsec("standard-second-key-012345678"), whsec("standard-third-key-0123456789")},
			wrong:   whsec("standard-unknown-key-01234567"),
			headers: map[string]string{"content-type": "application/json", "webhook-id": "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"},
			body:    `{"type":"user.created","timestamp":"2023-11-14T22:13:20Z","data":{"id":"u_1"}}`,
			id:      "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", typ: "user.created",
			kept:      map[string]string{"webhook-id": "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", "webhook-timestamp": "1700000000"},
			sigHeader: "webhook-signature", timestamped: true,
			// webhook-id is signed: without it the signature cannot be checked.
			noID:   variant{body: `{"type":"user.created"}`, drop: "webhook-id", code: CodeMissingSignature},
			noType: variant{body: `{"data":{"type":"nested does not count"}}`, code: CodeMissingType},
		},
		{
			scheme:  SchemeHMACSHA256,
			secrets: []string{"acme-first-secret", "acme-second-secret", "acme-third-secret"},
			wrong:   "acme-unknown-secret",
			extra:   map[string]any{"header": "X-Acme-Signature", "prefix": "sha256=", "idField": "event_id", "typeField": "event_type"},
			headers: map[string]string{"content-type": "application/json"},
			body:    `{"event_id":"acme-1","event_type":"user.created","user":{"id":7}}`,
			id:      "acme-1", typ: "user.created",
			sigHeader: "x-acme-signature",
			noID:      variant{body: `{"event_type":"user.created"}`, code: CodeMissingID},
			noType:    variant{body: `{"event_id":"acme-1"}`, code: CodeMissingType},
		},
		{
			scheme:  SchemeHMACSHA256,
			secrets: []string{"acme-b64-first", "acme-b64-second", "acme-b64-third"},
			wrong:   "acme-b64-unknown",
			extra:   map[string]any{"header": "X-Signature", "encoding": "base64", "idHeader": "X-Acme-Id", "typeHeader": "X-Acme-Event"},
			headers: map[string]string{"content-type": "application/json", "x-acme-id": "a-9", "x-acme-event": "thing.done"},
			body:    `{"anything":true}`,
			id:      "a-9", typ: "thing.done",
			kept:      map[string]string{"x-acme-id": "a-9", "x-acme-event": "thing.done"},
			sigHeader: "x-signature", anyBody: true,
			noID:   variant{body: `{}`, drop: "x-acme-id", code: CodeMissingID},
			noType: variant{body: `{}`, drop: "x-acme-event", code: CodeMissingType},
		},
	}
}

func (f fixture) name() string {
	if f.extra != nil {
		return f.scheme + "/" + f.extra["header"].(string)
	}
	return f.scheme
}

// malformedUnlessAnyBody is the code of a body that is not a JSON object: accepted
// when the source reads nothing from it.
func malformedUnlessAnyBody(f fixture) string {
	if f.anyBody {
		return ""
	}
	return CodeMalformedJSON
}

// commonCases are the cases every scheme passes.
func commonCases(t *testing.T, f fixture) []verifyCase {
	t.Helper()
	all := source(t, config(f.scheme, f.secrets, f.extra))
	sign := func(secret string, body string, at time.Time) map[string]string {
		return signed(t, f.scheme, secret, f.extra, f.headers, body, at)
	}
	valid := verifyCase{src: all, body: f.body, id: f.id, typ: f.typ, keptHeaders: f.kept, secrets: append([]string{f.wrong}, f.secrets...)}
	if f.kept == nil {
		valid.keptHeaders = map[string]string{}
	}
	with := func(name string, mod func(*verifyCase)) verifyCase {
		c := valid
		c.name = name
		c.headers = sign(f.secrets[0], f.body, t0)
		mod(&c)
		return c
	}
	var cases []verifyCase
	for i, sec := range f.secrets {
		cases = append(cases, with("valid/secret "+strconv.Itoa(i), func(c *verifyCase) { c.headers = sign(sec, f.body, t0) }))
	}
	cases = append(cases,
		with("rotation: old secret listed second", func(c *verifyCase) {
			c.src = source(t, config(f.scheme, []string{f.secrets[1], f.secrets[0]}, f.extra))
		}),
		with("rotation: old secret removed", func(c *verifyCase) {
			c.src = source(t, config(f.scheme, []string{f.secrets[1]}, f.extra))
			c.code = CodeBadSignature
		}),
		with("wrong secret", func(c *verifyCase) {
			c.headers = sign(f.wrong, f.body, t0)
			c.code = CodeBadSignature
		}),
		with("tampered body", func(c *verifyCase) {
			c.body = f.body + " " // still valid JSON, but not what was signed
			c.code = CodeBadSignature
		}),
		with("body of another request", func(c *verifyCase) {
			c.body = f.noID.body
			c.code = CodeBadSignature
		}),
		with("missing signature header", func(c *verifyCase) {
			delete(c.headers, f.sigHeader)
			c.code = CodeMissingSignature
		}),
		with("empty signature header", func(c *verifyCase) {
			c.headers[f.sigHeader] = "  "
			c.code = CodeMissingSignature
		}),
		with("no headers at all", func(c *verifyCase) {
			c.headers = nil
			c.code = CodeMissingSignature
		}),
		with("malformed signature header", func(c *verifyCase) {
			c.headers[f.sigHeader] = "garbage"
			c.code = CodeBadSignature
		}),
		with("signature header of another scheme", func(c *verifyCase) {
			c.headers[f.sigHeader] = "sha1=0beec7b5ea3f0fdbc95d0dd47f3c5bc275da8a33"
			c.code = CodeBadSignature
		}),
		with("signature header truncated", func(c *verifyCase) {
			v := c.headers[f.sigHeader]
			c.headers[f.sigHeader] = v[:len(v)-2]
			c.code = CodeBadSignature
		}),
		with("malformed JSON", func(c *verifyCase) {
			c.body = `{"id": "evt_1",`
			c.headers = sign(f.secrets[0], c.body, t0)
			c.code = malformedUnlessAnyBody(f)
		}),
		with("JSON that is not an object", func(c *verifyCase) {
			c.body = `["evt_1","invoice.paid"]`
			c.headers = sign(f.secrets[0], c.body, t0)
			c.code = malformedUnlessAnyBody(f)
		}),
		with("empty body", func(c *verifyCase) {
			c.body = ""
			c.headers = sign(f.secrets[0], c.body, t0)
			c.code = malformedUnlessAnyBody(f)
		}),
		with("missing id", func(c *verifyCase) {
			c.body = f.noID.body
			c.headers = sign(f.secrets[0], c.body, t0)
			delete(c.headers, f.noID.drop)
			c.code = f.noID.code
		}),
		with("missing type", func(c *verifyCase) {
			c.body = f.noType.body
			c.headers = sign(f.secrets[0], c.body, t0)
			delete(c.headers, f.noType.drop)
			c.code = f.noType.code
		}),
	)
	if !f.timestamped {
		return cases
	}
	custom := maps.Clone(f.extra)
	if custom == nil {
		custom = map[string]any{}
	}
	custom["tolerance"] = 60
	short := source(t, config(f.scheme, f.secrets, custom))
	at := func(d time.Duration, src *Source, code string) func(*verifyCase) {
		return func(c *verifyCase) {
			c.headers = sign(f.secrets[0], f.body, t0.Add(d))
			c.src, c.code = src, code
		}
	}
	cases = append(cases,
		with("signed exactly 300 s ago", at(-300*time.Second, all, "")),
		with("signed 301 s ago", at(-301*time.Second, all, CodeStaleTimestamp)),
		with("signed exactly 300 s ahead", at(300*time.Second, all, "")),
		with("signed 301 s ahead", at(301*time.Second, all, CodeStaleTimestamp)),
		with("signed an hour ago", at(-time.Hour, all, CodeStaleTimestamp)),
		with("custom tolerance: exactly 60 s ago", at(-60*time.Second, short, "")),
		with("custom tolerance: 61 s ago", at(-61*time.Second, short, CodeStaleTimestamp)),
		with("custom tolerance: exactly 60 s ahead", at(60*time.Second, short, "")),
		with("custom tolerance: 61 s ahead", at(61*time.Second, short, CodeStaleTimestamp)),
		with("custom tolerance: 200 s ago", at(-200*time.Second, short, CodeStaleTimestamp)),
		with("stale and wrong secret: stale is checked first", func(c *verifyCase) {
			c.headers = sign(f.wrong, f.body, t0.Add(-time.Hour))
			c.code = CodeStaleTimestamp
		}),
		with("now has a fraction of a second", func(c *verifyCase) {
			c.headers = sign(f.secrets[0], f.body, t0.Add(-300*time.Second))
			c.now = t0.Add(999 * time.Millisecond)
		}),
	)
	// Standard Webhooks re-sends under a new timestamp keep the id; others take the
	// kept timestamp header from the signing time.
	for i := range cases {
		if cases[i].code == "" && f.scheme == SchemeStandardWebhooks {
			cases[i].keptHeaders = map[string]string{"webhook-id": f.id, "webhook-timestamp": cases[i].headers["webhook-timestamp"]}
		}
	}
	return cases
}

func TestVerifyCommon(t *testing.T) {
	t.Parallel()
	for _, f := range fixtures() {
		t.Run(f.name(), func(t *testing.T) {
			t.Parallel()
			runVerifyCases(t, commonCases(t, f))
		})
	}
}

// TestSignRoundTrip signs from the headers a caller must give (type headers only) and
// verifies the result: Sign fills the timestamp and id headers the scheme needs.
func TestSignRoundTrip(t *testing.T) {
	t.Parallel()
	typeOnly := map[string]map[string]string{
		SchemeGitHub:  {"x-github-event": "push"},
		SchemeShopify: {"x-shopify-topic": "orders/create"},
	}
	for _, f := range fixtures() {
		t.Run(f.name(), func(t *testing.T) {
			t.Parallel()
			src := source(t, config(f.scheme, f.secrets, f.extra))
			base := map[string]string{"user-agent": "test"}
			maps.Copy(base, typeOnly[f.scheme])
			if f.extra != nil && f.extra["typeHeader"] != nil {
				base["x-acme-event"] = "thing.done"
			}
			h1, h2 := maps.Clone(base), maps.Clone(base)
			if err := src.Sign(h1, []byte(f.body), t0); err != nil {
				t.Fatal(err)
			}
			if err := src.Sign(h2, []byte(f.body), t0); err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(h1, h2) {
				t.Errorf("Sign is not deterministic: %v, %v", h1, h2)
			}
			if h1["user-agent"] != "test" {
				t.Errorf("Sign changed an unrelated header: %v", h1)
			}
			ev, err := src.Verify(h1, []byte(f.body), t0)
			if err != nil {
				t.Fatalf("Verify(Sign(...)): %v (headers %v)", err, h1)
			}
			if ev.ID == "" || ev.Type == "" {
				t.Errorf("event %+v", ev)
			}
			// Another body or time gives another derived id.
			h3 := maps.Clone(base)
			if err := src.Sign(h3, []byte(f.body), t0.Add(time.Second)); err != nil {
				t.Fatal(err)
			}
			if ev3, err := src.Verify(h3, []byte(f.body), t0); err != nil {
				t.Fatal(err)
			} else if src.idField == "" && ev3.ID == ev.ID {
				t.Errorf("same derived id %q at another time", ev.ID)
			}
			if err := src.Sign(nil, []byte(f.body), t0); err == nil {
				t.Error("Sign(nil headers) succeeded")
			}
		})
	}
}

// TestVerifyConcurrent runs Verify from many goroutines on shared sources (run with
// -race): the pooled hash states must never mix requests.
func TestVerifyConcurrent(t *testing.T) {
	t.Parallel()
	for _, f := range fixtures() {
		src := source(t, config(f.scheme, f.secrets, f.extra))
		good := signed(t, f.scheme, f.secrets[1], f.extra, f.headers, f.body, t0)
		wrong := signed(t, f.scheme, f.wrong, f.extra, f.headers, f.body, t0)
		done := make(chan error)
		for g := range 8 {
			go func() {
				var err error
				for i := range 200 {
					h, valid := good, (g+i)%3 != 0
					if !valid {
						h = wrong
					}
					_, verr := src.Verify(h, []byte(f.body), t0)
					switch {
					case valid && verr != nil:
						err = verr
					case !valid && verr == nil:
						err = errAccepted
					}
				}
				done <- err
			}()
		}
		for range 8 {
			if err := <-done; err != nil {
				t.Errorf("%s: %v", f.name(), err)
			}
		}
	}
}

var errAccepted = errors.New("accepted a request signed with a wrong secret")
