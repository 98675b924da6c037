package webhook

import (
	"maps"
	"strings"
	"testing"
)

// merge returns a copy of base with the entries of over (an empty value deletes).
func merge(base map[string]string, over map[string]string) map[string]string {
	m := maps.Clone(base)
	for k, v := range over {
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return m
}

func TestVerifyStripe(t *testing.T) {
	t.Parallel()
	const a, b = "whsec_stripe_a", "whsec_stripe_b"
	src := source(t, config(SchemeStripe, []string{a}, nil))
	body := `{"id":"evt_1","object":"event","type":"charge.succeeded"}`
	sig := func(secret, body string) string {
		return signed(t, SchemeStripe, secret, nil, nil, body, t0)["stripe-signature"]
	}
	good, other := sig(a, body), sig(b, body)
	goodV1, otherV1 := strings.TrimPrefix(good, "t=1700000000,"), strings.TrimPrefix(other, "t=1700000000,")
	h := func(v string) map[string]string { return map[string]string{"stripe-signature": v} }
	ok := func(name, header, body, id, typ string) verifyCase {
		return verifyCase{name: name, src: src, headers: h(header), body: body, id: id, typ: typ}
	}
	bad := func(name, header, body, code string) verifyCase {
		return verifyCase{name: name, src: src, headers: h(header), body: body, code: code, secrets: []string{a, b}}
	}
	runVerifyCases(t, []verifyCase{
		ok("one v1", good, body, "evt_1", "charge.succeeded"),
		ok("several v1, the matching one last", "t=1700000000,"+otherV1+","+goodV1, body, "evt_1", "charge.succeeded"),
		ok("several v1, the matching one first", "t=1700000000,"+goodV1+","+otherV1, body, "evt_1", "charge.succeeded"),
		ok("v0 and unknown items ignored", "t=1700000000,v0=abc,"+goodV1+",x=1,junk", body, "evt_1", "charge.succeeded"),
		ok("malformed v1 beside a good one", "t=1700000000,v1=zz,"+goodV1, body, "evt_1", "charge.succeeded"),
		ok("t after v1", goodV1+",t=1700000000", body, "evt_1", "charge.succeeded"),
		ok("spaces around items", "t=1700000000, "+goodV1+" ", body, "evt_1", "charge.succeeded"),
		ok("upper-case hex", "t=1700000000,v1="+strings.ToUpper(strings.TrimPrefix(goodV1, "v1=")), body, "evt_1", "charge.succeeded"),
		bad("only other secrets' v1", "t=1700000000,"+otherV1, body, CodeBadSignature),
		bad("v0 only", "t=1700000000,v0="+strings.TrimPrefix(goodV1, "v1="), body, CodeBadSignature),
		bad("no t", goodV1, body, CodeBadSignature),
		bad("two t", "t=1700000000,t=1700000000,"+goodV1, body, CodeBadSignature),
		bad("t not a number", "t=soon,"+goodV1, body, CodeBadSignature),
		bad("negative t", "t=-1700000000,"+goodV1, body, CodeBadSignature),
		bad("t with a fraction", "t=1700000000.5,"+goodV1, body, CodeBadSignature),
		bad("t re-spelled with a leading zero", "t=01700000000,"+goodV1, body, CodeBadSignature),
		bad("more than 8 v1", "t=1700000000"+strings.Repeat(","+otherV1, 8)+","+goodV1, body, CodeBadSignature),
		bad("v1 one digit short", good[:len(good)-1], body, CodeBadSignature),
		// The body rules after the signature matched.
		okBody(t, src, a, "escaped id", `{"id":"evt_\u0031","type":"a\/b"}`, "evt_1", "a/b"),
		okBody(t, src, a, "last of a repeated member wins", `{"id":"evt_first","type":"t","id":"evt_last"}`, "evt_last", "t"),
		okBody(t, src, a, "escaped member name", `{"\u0069d":"evt_1","type":"t"}`, "evt_1", "t"),
		badBody(t, src, a, "unicode id", `{"id":"évt_☃","type":"t"}`, CodeInvalidID),
		badBody(t, src, a, "id with a space", `{"id":"evt 1","type":"t"}`, CodeInvalidID),
		badBody(t, src, a, "id of 257 bytes", `{"id":"`+strings.Repeat("e", 257)+`","type":"t"}`, CodeInvalidID),
		okBody(t, src, a, "id of 256 bytes", `{"id":"`+strings.Repeat("e", 256)+`","type":"t"}`, strings.Repeat("e", 256), "t"),
		badBody(t, src, a, "type with a tab", `{"id":"evt_1","type":"a\tb"}`, CodeInvalidType),
		badBody(t, src, a, "type of 257 bytes", `{"id":"evt_1","type":"`+strings.Repeat("t", 257)+`"}`, CodeInvalidType),
		okBody(t, src, a, "white space everywhere", " \n{ \"id\" : \"evt_1\" ,\t\"type\":\"t\" }\r\n", "evt_1", "t"),
		badBody(t, src, a, "member names match exactly", `{"ID":"evt_1","Type":"t"}`, CodeMissingID),
		badBody(t, src, a, "numeric id", `{"id":123,"type":"t"}`, CodeMissingID),
		badBody(t, src, a, "null id", `{"id":null,"type":"t"}`, CodeMissingID),
		badBody(t, src, a, "empty id", `{"id":"","type":"t"}`, CodeMissingID),
		badBody(t, src, a, "type only nested", `{"id":"evt_1","data":{"type":"t"}}`, CodeMissingType),
		badBody(t, src, a, "object type", `{"id":"evt_1","type":{"name":"t"}}`, CodeMissingType),
		badBody(t, src, a, "trailing data", `{"id":"evt_1","type":"t"} {}`, CodeMalformedJSON),
		badBody(t, src, a, "bad escape", `{"id":"evt\x","type":"t"}`, CodeMalformedJSON),
		badBody(t, src, a, "raw control character", "{\"id\":\"evt\n1\",\"type\":\"t\"}", CodeMalformedJSON),
		badBody(t, src, a, "deeply nested", `{"id":"e","type":"t","x":`+strings.Repeat("[", 10001)+strings.Repeat("]", 10001)+`}`, CodeMalformedJSON),
	})
}

// okBody is a request to src signed with secret whose body gives id and typ.
func okBody(t *testing.T, src *Source, secret, name, body, id, typ string) verifyCase {
	t.Helper()
	return verifyCase{name: name, src: src, headers: signed(t, src.scheme, secret, nil, nil, body, t0), body: body, id: id, typ: typ}
}

// badBody is a request to src signed with secret whose body fails with code.
func badBody(t *testing.T, src *Source, secret, name, body, code string) verifyCase {
	t.Helper()
	return verifyCase{name: name, src: src, headers: signed(t, src.scheme, secret, nil, nil, body, t0), body: body, code: code, secrets: []string{secret}}
}

func TestVerifySlack(t *testing.T) {
	t.Parallel()
	const secret = "slack-signing-secret-0123456789"
	src := source(t, config(SchemeSlack, []string{secret}, nil))
	challenge := `{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`
	signedChallenge := signed(t, SchemeSlack, secret, nil, nil, challenge, t0)
	runVerifyCases(t, []verifyCase{
		{name: "url_verification", src: src, headers: signedChallenge, body: challenge,
			typ: "url_verification", challenge: "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"},
		{name: "url_verification unsigned", src: src, headers: map[string]string{"x-slack-request-timestamp": "1700000000"},
			body: challenge, code: CodeMissingSignature},
		{name: "url_verification with a wrong signature", src: src,
			headers: signed(t, SchemeSlack, "another-secret", nil, nil, challenge, t0), body: challenge, code: CodeBadSignature, secrets: []string{secret}},
		badBody(t, src, secret, "url_verification without challenge", `{"type":"url_verification"}`, CodeMalformedJSON),
		badBody(t, src, secret, "url_verification with an empty challenge", `{"type":"url_verification","challenge":""}`, CodeMalformedJSON),
		okBody(t, src, secret, "event.type wins over type", `{"type":"event_callback","event_id":"Ev1","event":{"type":"reaction_added"}}`, "Ev1", "reaction_added"),
		okBody(t, src, secret, "type when event is not an object", `{"type":"event_callback","event_id":"Ev1","event":"x"}`, "Ev1", "event_callback"),
		okBody(t, src, secret, "type when event has no type", `{"type":"app_rate_limited","event_id":"Ev1","event":{}}`, "Ev1", "app_rate_limited"),
		okBody(t, src, secret, "last event object counts", `{"event_id":"Ev1","event":{"type":"a"},"event":{"type":"b"}}`, "Ev1", "b"),
		okBody(t, src, secret, "a later non-object event clears the type", `{"type":"outer","event_id":"Ev1","event":{"type":"a"},"event":null}`, "Ev1", "outer"),
		okBody(t, src, secret, "only event's own type", `{"type":"outer","event_id":"Ev1","event":{"item":{"type":"deep"}}}`, "Ev1", "outer"),
		{name: "timestamp header missing", src: src, body: `{}`, code: CodeMissingSignature,
			headers: merge(signed(t, SchemeSlack, secret, nil, nil, `{}`, t0), map[string]string{"x-slack-request-timestamp": ""})},
		{name: "timestamp not a number", src: src, body: `{}`, code: CodeBadSignature,
			headers: merge(signed(t, SchemeSlack, secret, nil, nil, `{}`, t0), map[string]string{"x-slack-request-timestamp": "17e8"})},
		{name: "timestamp changed after signing", src: src, body: `{}`, code: CodeBadSignature,
			headers: merge(signed(t, SchemeSlack, secret, nil, nil, `{}`, t0), map[string]string{"x-slack-request-timestamp": "1700000001"})},
		{name: "signature version v1", src: src, body: `{}`, code: CodeBadSignature,
			headers: merge(signed(t, SchemeSlack, secret, nil, nil, `{}`, t0), map[string]string{"x-slack-signature": "v1=" + strings.Repeat("ab", 32)})},
	})
}

func TestVerifyStandardWebhooks(t *testing.T) {
	t.Parallel()
	a, b := whsec("standard-key-a-0123456789abcdef"), whsec("standard-key-b-0123456789abcdef")
	src := source(t, config(SchemeStandardWebhooks, []string{a}, nil))
	body := `{"type":"invoice.paid","data":{}}`
	base := map[string]string{"webhook-id": "msg_1"}
	good := signed(t, SchemeStandardWebhooks, a, nil, base, body, t0)
	other := signed(t, SchemeStandardWebhooks, b, nil, base, body, t0)
	sigA, sigB := good["webhook-signature"], other["webhook-signature"]
	with := func(name string, over map[string]string, code string) verifyCase {
		c := verifyCase{name: name, src: src, headers: merge(good, over), body: body, code: code, secrets: []string{a, b}}
		if code == "" {
			c.id, c.typ = "msg_1", "invoice.paid"
		}
		return c
	}
	svix := map[string]string{"webhook-id": "", "webhook-timestamp": "", "webhook-signature": "",
		"svix-id": "msg_1", "svix-timestamp": "1700000000", "svix-signature": sigA}
	svixCase := with("svix header names", svix, "")
	svixCase.keptHeaders = map[string]string{"svix-id": "msg_1", "svix-timestamp": "1700000000"}
	runVerifyCases(t, []verifyCase{
		with("one signature", nil, ""),
		with("several signatures, the matching one last", map[string]string{"webhook-signature": sigB + " " + sigA}, ""),
		with("several signatures, the matching one first", map[string]string{"webhook-signature": sigA + " " + sigB}, ""),
		with("asymmetric and malformed entries ignored", map[string]string{"webhook-signature": "v1a,abcd v1,!!! " + sigA + " v2,xyz"}, ""),
		with("unpadded base64", map[string]string{"webhook-signature": strings.TrimSuffix(sigA, "=")}, ""),
		with("only other secrets' signatures", map[string]string{"webhook-signature": sigB}, CodeBadSignature),
		with("v1a only", map[string]string{"webhook-signature": "v1a," + strings.TrimPrefix(sigA, "v1,")}, CodeBadSignature),
		with("v1= instead of v1,", map[string]string{"webhook-signature": "v1=" + strings.TrimPrefix(sigA, "v1,")}, CodeBadSignature),
		with("id changed after signing", map[string]string{"webhook-id": "msg_2"}, CodeBadSignature),
		with("timestamp changed after signing", map[string]string{"webhook-timestamp": "1700000001"}, CodeBadSignature),
		with("timestamp missing", map[string]string{"webhook-timestamp": ""}, CodeMissingSignature),
		with("timestamp in milliseconds", map[string]string{"webhook-timestamp": "1700000000000"}, CodeStaleTimestamp),
		with("timestamp not a number", map[string]string{"webhook-timestamp": "2023-11-14T22:13:20Z"}, CodeBadSignature),
		with("more than 8 signatures", map[string]string{"webhook-signature": strings.Repeat(sigB+" ", 8) + sigA}, CodeBadSignature),
		svixCase,
		with("webhook- names win over svix-", map[string]string{"svix-signature": sigB}, ""),
	})
}

func TestVerifyGitHub(t *testing.T) {
	t.Parallel()
	const secret = "github-secret"
	src := source(t, config(SchemeGitHub, []string{secret}, nil))
	base := map[string]string{"x-github-event": "push", "x-github-delivery": "d-1"}
	req := func(name, contentType, body, code string) verifyCase {
		h := merge(base, map[string]string{"content-type": contentType})
		c := verifyCase{name: name, src: src, headers: signed(t, SchemeGitHub, secret, nil, h, body, t0), body: body, code: code, secrets: []string{secret}}
		if code == "" {
			c.id, c.typ = "d-1", "push"
		}
		return c
	}
	form := "payload=%7B%22ref%22%3A%22refs%2Fheads%2Fmain%22%7D"
	runVerifyCases(t, []verifyCase{
		req("JSON", "application/json", `{"ref":"x"}`, ""),
		req("JSON with charset", "application/json; charset=utf-8", `{"ref":"x"}`, ""),
		req("no content type, JSON", "", `{"ref":"x"}`, ""),
		req("form-encoded", "application/x-www-form-urlencoded", form, ""),
		req("form-encoded, upper case", "Application/X-WWW-Form-Urlencoded; charset=utf-8", form, ""),
		req("form body sent as JSON", "application/json", form, CodeMalformedJSON),
		req("form body without content type", "", form, CodeMalformedJSON),
		req("XML is not a GitHub format", "application/xml", "<a/>", CodeMalformedJSON),
		{name: "sha1 header only", src: src, body: `{}`, code: CodeMissingSignature,
			headers: merge(base, map[string]string{"x-hub-signature": "sha1=0beec7b5ea3f0fdbc95d0dd47f3c5bc275da8a33"})},
		{name: "prefix in upper case", src: src, body: `{}`, id: "d-1", typ: "push",
			headers: func() map[string]string {
				h := signed(t, SchemeGitHub, secret, nil, base, `{}`, t0)
				h["x-hub-signature-256"] = "SHA256=" + strings.TrimPrefix(h["x-hub-signature-256"], "sha256=")
				return h
			}()},
		{name: "no prefix", src: src, body: `{}`, code: CodeBadSignature,
			headers: func() map[string]string {
				h := signed(t, SchemeGitHub, secret, nil, base, `{}`, t0)
				h["x-hub-signature-256"] = strings.TrimPrefix(h["x-hub-signature-256"], "sha256=")
				return h
			}()},
	})
}

func TestVerifyShopify(t *testing.T) {
	t.Parallel()
	const secret = "shopify-secret"
	src := source(t, config(SchemeShopify, []string{secret}, nil))
	base := map[string]string{"x-shopify-topic": "orders/create", "x-shopify-webhook-id": " w-1 "}
	req := func(name, contentType, body, code string) verifyCase {
		h := merge(base, map[string]string{"content-type": contentType})
		c := verifyCase{name: name, src: src, headers: signed(t, SchemeShopify, secret, nil, h, body, t0), body: body, code: code, secrets: []string{secret}}
		if code == "" {
			c.id, c.typ = "w-1", "orders/create"
		}
		return c
	}
	runVerifyCases(t, []verifyCase{
		req("JSON, id trimmed", "application/json", `{"id":1}`, ""),
		req("XML format", "application/xml", `<order><id>1</id></order>`, ""),
		req("XML format, text/xml", "text/xml; charset=utf-8", `<order/>`, ""),
		req("not JSON", "application/json", `{"id": 1,`, CodeMalformedJSON),
	})
}

func TestVerifyGeneric(t *testing.T) {
	t.Parallel()
	const secret = "generic-secret"
	both := map[string]any{"header": "X-Sig", "idHeader": "X-Id", "idField": "id", "typeHeader": "X-Type", "typeField": "kind"}
	src := source(t, config(SchemeHMACSHA256, []string{secret}, both))
	req := func(name string, h map[string]string, body, id, typ, code string) verifyCase {
		return verifyCase{name: name, src: src, headers: signed(t, SchemeHMACSHA256, secret, both, h, body, t0), body: body,
			id: id, typ: typ, code: code, secrets: []string{secret}}
	}
	idOnlyHeaders := map[string]any{"header": "X-Sig", "idHeader": "X-Id", "typeHeader": "X-Type", "encoding": "base64", "prefix": "v1="}
	headerOnly := source(t, config(SchemeHMACSHA256, []string{secret}, idOnlyHeaders))
	hdrs := map[string]string{"x-id": "h-1", "x-type": "h.type"}
	runVerifyCases(t, []verifyCase{
		req("headers win over fields", hdrs, `{"id":"f-1","kind":"f.type"}`, "h-1", "h.type", ""),
		req("fields when the headers are absent", map[string]string{}, `{"id":"f-1","kind":"f.type"}`, "f-1", "f.type", ""),
		req("numeric id field", map[string]string{}, `{"id":12345678901234567890,"kind":"k"}`, "12345678901234567890", "k", ""),
		req("numeric type field", map[string]string{}, `{"id":"f-1","kind":7}`, "", "", CodeMissingType),
		req("neither header nor field", map[string]string{}, `{"kind":"k"}`, "", "", CodeMissingID),
		{name: "header-only source, not JSON, form", src: headerOnly, body: "a=b",
			headers: signed(t, SchemeHMACSHA256, secret, idOnlyHeaders, merge(hdrs, map[string]string{"content-type": "application/x-www-form-urlencoded"}), "a=b", t0),
			id:      "h-1", typ: "h.type"},
		{name: "header-only source, not JSON, declared JSON: never parsed", src: headerOnly, body: "a=b",
			headers: signed(t, SchemeHMACSHA256, secret, idOnlyHeaders, merge(hdrs, map[string]string{"content-type": "application/json"}), "a=b", t0),
			id:      "h-1", typ: "h.type"},
		{name: "base64 signature in hex", src: headerOnly, body: "{}", code: CodeBadSignature,
			headers: merge(hdrs, map[string]string{"x-sig": "v1=" + strings.Repeat("ab", 32)})},
	})
}

// TestVerifyKeepsNoSignatureHeader checks Event.Headers against every signature
// header Sign writes.
func TestVerifyKeepsNoSignatureHeader(t *testing.T) {
	t.Parallel()
	for _, f := range fixtures() {
		src := source(t, config(f.scheme, f.secrets, f.extra))
		h := signed(t, f.scheme, f.secrets[0], f.extra, f.headers, f.body, t0)
		ev, err := src.Verify(h, []byte(f.body), t0)
		if err != nil {
			t.Fatalf("%s: %v", f.name(), err)
		}
		for k := range ev.Headers {
			if k == src.sigHeader || k == hSlackSignature || k == hStdSignature || k == hSvixSignature {
				t.Errorf("%s: kept signature header %s", f.name(), k)
			}
		}
		if ev.Headers != nil {
			ev.Headers["x-mutated"] = "1"
			if _, ok := h["x-mutated"]; ok {
				t.Errorf("%s: Event.Headers aliases the request headers", f.name())
			}
		}
	}
}
