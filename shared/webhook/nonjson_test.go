package webhook

import (
	"errors"
	"maps"
	"net/url"
	"strings"
	"testing"
)

const formType = "application/x-www-form-urlencoded"

// slackForm is a Slack interactivity post: one "payload" field holding JSON.
func slackForm(payload string) string { return url.Values{"payload": {payload}}.Encode() }

func TestVerifySlackForms(t *testing.T) {
	t.Parallel()
	const secret = "slack-signing-secret-0123456789"
	src := source(t, config(SchemeSlack, []string{secret}, nil))
	base := map[string]string{"content-type": formType + "; charset=utf-8", "x-slack-retry-num": "1"}
	post := func(name, body, id, typ, code string) verifyCase {
		return verifyCase{name: name, src: src, headers: signed(t, SchemeSlack, secret, nil, base, body, t0), body: body,
			id: id, typ: typ, code: code, secrets: []string{secret}}
	}
	blockActions := slackForm(`{"type":"block_actions","user":{"id":"U1"},"api_app_id":"A1","token":"x",` +
		`"trigger_id":"13345224609.738474920.8088930838d88f008e0","response_url":"https://hooks.slack.com/actions/T1/1/x",` +
		`"actions":[{"action_id":"approve","block_id":"b1","type":"button","value":"yes","action_ts":"1700000000.1"}]}`)
	slash := url.Values{"token": {"x"}, "team_id": {"T0001"}, "channel_id": {"C1"}, "user_id": {"U1"}, "command": {"/weather"},
		"text": {"94070"}, "response_url": {"https://hooks.slack.com/commands/1234/5678"}, "trigger_id": {"13345224609.738474920.8088930838d88f008e0"},
		"api_app_id": {"A1"}}.Encode()
	cases := []verifyCase{
		post("interactivity: block_actions", blockActions, "13345224609.738474920.8088930838d88f008e0", "block_actions", ""),
		post("interactivity: view_submission", slackForm(`{"type":"view_submission","trigger_id":"1.2.vs","view":{"id":"V1","hash":"1.a"}}`), "1.2.vs", "view_submission", ""),
		post("interactivity: shortcut", slackForm(`{"type":"shortcut","callback_id":"c","trigger_id":"1.2.sc"}`), "1.2.sc", "shortcut", ""),
		post("interactivity: message_action", slackForm(`{"type":"message_action","callback_id":"c","trigger_id":"1.2.ma","message":{"ts":"1.0"}}`), "1.2.ma", "message_action", ""),
		post("interactivity: view_closed keyed on its view", slackForm(`{"type":"view_closed","is_cleared":false,"view":{"id":"V0A1","hash":"1700000000.abcd"}}`),
			"view_closed/V0A1/1700000000.abcd", "view_closed", ""),
		post("slash command", slash, "13345224609.738474920.8088930838d88f008e0", "slash_command", ""),
		post("slash command without trigger_id", url.Values{"command": {"/weather"}, "text": {"94070"}}.Encode(), "", "", CodeNoEventID),
		post("payload without trigger_id or view", slackForm(`{"type":"block_suggestion","value":"ab"}`), "", "", CodeNoEventID),
		post("payload without type", slackForm(`{"trigger_id":"1.2.3"}`), "", "", CodeNoEventID),
		post("payload not JSON", slackForm(`type=block_actions`), "", "", CodeNoEventID),
		post("payload a JSON array", slackForm(`["block_actions"]`), "", "", CodeNoEventID),
		post("form that does not parse", "payload=%zz", "", "", CodeNoEventID),
		post("trigger_id with a space", url.Values{"trigger_id": {"1 2"}}.Encode(), "", "", CodeInvalidID),
		{name: "unsigned form", src: src, body: slash, code: CodeMissingSignature,
			headers: map[string]string{"content-type": formType, "x-slack-request-timestamp": "1700000000"}},
		{name: "form signed with another secret", src: src, body: slash, code: CodeBadSignature, secrets: []string{secret},
			headers: signed(t, SchemeSlack, "another-signing-secret-0000000", nil, base, slash, t0)},
		{name: "form changed after signing", src: src, body: slash + "&text=x", code: CodeBadSignature,
			headers: signed(t, SchemeSlack, secret, nil, base, slash, t0)},
		{name: "stale form", src: src, body: slash, code: CodeStaleTimestamp, now: t0.Add(301e9),
			headers: signed(t, SchemeSlack, secret, nil, base, slash, t0)},
		{name: "text/plain body", src: src, body: "hello", code: CodeNoEventID,
			headers: signed(t, SchemeSlack, secret, nil, map[string]string{"content-type": "text/plain"}, "hello", t0)},
		{name: "form body labelled JSON", src: src, body: slash, code: CodeMalformedJSON,
			headers: signed(t, SchemeSlack, secret, nil, map[string]string{"content-type": "application/json"}, slash, t0)},
	}
	runVerifyCases(t, cases)
	ev, err := src.Verify(cases[0].headers, []byte(cases[0].body), t0)
	if err != nil || ev.Headers["x-slack-retry-num"] != "1" {
		t.Errorf("form event headers = %v, %v; want x-slack-retry-num kept", ev.Headers, err)
	}
}

// dropped removes a header from a case's signed request.
func dropped(c verifyCase, header string) verifyCase {
	c.headers = merge(c.headers, map[string]string{header: ""})
	return c
}

func TestVerifyGenericAnyBody(t *testing.T) {
	t.Parallel()
	const secret = "generic-secret"
	type src struct {
		scheme string
		extra  map[string]any
	}
	headerOnly := src{SchemeHMACSHA256, map[string]any{"header": "X-Plain-Signature", "idHeader": "X-Plain-Id", "typeHeader": "X-Plain-Type"}}
	keyBody := src{SchemeHMACSHA256, map[string]any{"header": "X-Sig", "idField": "id", "typeHeader": "X-Plain-Type", "key": "body"}}
	both := src{SchemeHMACSHA256, map[string]any{"header": "X-Sig", "idHeader": "X-Plain-Id", "idField": "id", "typeHeader": "X-Plain-Type", "typeField": "kind"}}
	fields := src{SchemeHMACSHA256, map[string]any{"header": "X-Sig", "idField": "id", "typeField": "kind"}}
	specHeaders := src{SchemeHMAC, map[string]any{"header": "X-Sig", "idHeader": "X-Plain-Id", "typeHeader": "X-Plain-Type"}}
	specKeyBody := src{SchemeHMAC, map[string]any{"header": "X-Sig", "idField": "id", "typeHeader": "X-Plain-Type", "key": "body"}}
	specFields := src{SchemeHMAC, map[string]any{"header": "X-Sig", "idField": "data.id", "typeField": "kind"}}
	ids := map[string]string{"x-plain-id": "p-1", "x-plain-type": "note.created"}
	typeOnly := map[string]string{"x-plain-type": "note.created"}
	const xml = `<?xml version="1.0"?><note id="1"><body>hi</body></note>`
	binary := string([]byte{0x00, 0xff, 0x7b, 0x0a, 0x80})
	req := func(name string, s src, ct string, h map[string]string, body, id, typ, code string) verifyCase {
		hh := merge(h, map[string]string{"content-type": ct})
		return verifyCase{name: name, src: source(t, config(s.scheme, []string{secret}, s.extra)),
			headers: signed(t, s.scheme, secret, s.extra, hh, body, t0), body: body, id: id, typ: typ, code: code, secrets: []string{secret}}
	}
	runVerifyCases(t, []verifyCase{
		req("headers: text/plain", headerOnly, "text/plain; charset=utf-8", ids, "just some text", "p-1", "note.created", ""),
		req("headers: XML", headerOnly, "application/xml", ids, xml, "p-1", "note.created", ""),
		req("headers: binary", headerOnly, "application/octet-stream", ids, binary, "p-1", "note.created", ""),
		req("headers: no content type", headerOnly, "", ids, binary, "p-1", "note.created", ""),
		req("headers: empty body", headerOnly, "text/plain", ids, "", "p-1", "note.created", ""),
		dropped(req("headers: text/plain, id header missing", headerOnly, "text/plain", ids, "x", "", "", CodeNoEventID), "x-plain-id"),
		dropped(req("headers: JSON, id header missing", headerOnly, "application/json", ids, "{}", "", "", CodeMissingID), "x-plain-id"),
		dropped(req("headers: text/plain, type header missing", headerOnly, "text/plain", ids, "x", "", "", CodeNoEventID), "x-plain-type"),
		dropped(req("hmac headers: XML, id header missing", specHeaders, "application/xml", ids, xml, "", "", CodeNoEventID), "x-plain-id"),
		dropped(req("hmac headers: no content type, id header missing", specHeaders, "", ids, "x", "", "", CodeMissingID), "x-plain-id"),
		req("key body: text/plain", keyBody, "text/plain", typeOnly, "just some text", bodyKey([]byte("just some text")), "note.created", ""),
		req("key body: XML", keyBody, "text/xml", typeOnly, xml, bodyKey([]byte(xml)), "note.created", ""),
		req("headers and fields: text/plain, headers present", both, "text/plain", ids, "x", "p-1", "note.created", ""),
		req("headers and fields: text/plain, id header absent", both, "text/plain", typeOnly, "x", "", "", CodeNoEventID),
		req("headers and fields: text/plain, type header absent", both, "text/plain", map[string]string{"x-plain-id": "p-1"}, "x", "", "", CodeNoEventID),
		req("headers and fields: JSON declared, malformed", both, "application/json", ids, "x", "", "", CodeMalformedJSON),
		req("fields: text/plain", fields, "text/plain", map[string]string{}, "x", "", "", CodeNoEventID),
		req("fields: XML", fields, "application/xml", map[string]string{}, xml, "", "", CodeNoEventID),
		req("fields: JSON sent as text/plain still read", fields, "text/plain", map[string]string{}, `{"id":"f-1","kind":"k"}`, "f-1", "k", ""),
		req("fields: vendor +json malformed", fields, "application/vnd.acme+json", map[string]string{}, "x", "", "", CodeMalformedJSON),
		req("fields: no content type, malformed", fields, "", map[string]string{}, "x", "", "", CodeMalformedJSON),
		req("hmac headers: text/plain", specHeaders, "text/plain", ids, "just some text", "p-1", "note.created", ""),
		req("hmac headers: binary labelled JSON", specHeaders, "application/json", ids, binary, "p-1", "note.created", ""),
		req("hmac key body: XML", specKeyBody, "application/xml", typeOnly, xml, bodyKey([]byte(xml)), "note.created", ""),
		req("hmac fields: text/plain", specFields, "text/plain", map[string]string{}, "x", "", "", CodeNoEventID),
		req("hmac fields: JSON declared, malformed", specFields, "application/json", map[string]string{}, "x", "", "", CodeMalformedJSON),
		{name: "headers: text/plain unsigned", src: source(t, config(SchemeHMACSHA256, []string{secret}, headerOnly.extra)), body: "x",
			headers: merge(ids, map[string]string{"content-type": "text/plain"}), code: CodeMissingSignature},
		{name: "headers: text/plain signed with another secret", src: source(t, config(SchemeHMACSHA256, []string{secret}, headerOnly.extra)), body: "x",
			headers: signed(t, SchemeHMACSHA256, "another", headerOnly.extra, merge(ids, map[string]string{"content-type": "text/plain"}), "x", t0),
			code:    CodeBadSignature, secrets: []string{secret}},
	})
}

// FuzzVerifyNonJSON signs any body under several content types for the sources that
// take non-JSON bodies: a signed request is never refused for its signature; a body
// whose content type says it is not JSON is never malformed_json; a source that reads
// its id and type from headers accepts every body; every refusal is a well-formed
// *Error.
func FuzzVerifyNonJSON(f *testing.F) {
	const secret = "fuzz-secret-0123456789"
	cts := []string{formType, "text/plain", "application/xml", "application/octet-stream", "application/json", ""}
	type fx struct {
		scheme  string
		extra   map[string]any
		headers map[string]string
		anyBody bool
	}
	ids := map[string]string{"x-plain-id": "p-1", "x-plain-type": "t"}
	fxs := []fx{
		{scheme: SchemeSlack},
		{SchemeHMACSHA256, map[string]any{"header": "X-Sig", "idHeader": "X-Plain-Id", "typeHeader": "X-Plain-Type"}, ids, true},
		{SchemeHMACSHA256, map[string]any{"header": "X-Sig", "idField": "id", "typeHeader": "X-Plain-Type", "key": "body"}, ids, true},
		{SchemeHMACSHA256, map[string]any{"header": "X-Sig", "idHeader": "X-Plain-Id", "idField": "id", "typeField": "kind"}, ids, false},
		{SchemeHMAC, map[string]any{"header": "X-Sig", "idHeader": "X-Plain-Id", "typeHeader": "X-Plain-Type"}, ids, true},
		{SchemeHMAC, map[string]any{"header": "X-Sig", "idField": "id", "typeField": "kind"}, nil, false},
	}
	srcs := make([]*Source, len(fxs))
	for i, x := range fxs {
		srcs[i] = source(f, config(x.scheme, []string{secret}, x.extra))
	}
	f.Add(uint8(0), uint8(0), []byte(slackForm(`{"type":"block_actions","trigger_id":"1.2.3"}`)))
	f.Add(uint8(0), uint8(0), []byte("trigger_id=1.2.3&command=%2Fx"))
	f.Add(uint8(0), uint8(0), []byte(slackForm(`{"type":"view_closed","view":{"id":"V","hash":"h"}}`)))
	f.Add(uint8(1), uint8(1), []byte("text"))
	f.Add(uint8(3), uint8(2), []byte(`<a id="1"/>`))
	f.Add(uint8(5), uint8(4), []byte(`{"id":"1","kind":"k"}`))
	f.Fuzz(func(t *testing.T, which, ct uint8, body []byte) {
		i := int(which) % len(fxs)
		x, src := fxs[i], srcs[i]
		h := map[string]string{}
		maps.Copy(h, x.headers)
		if c := cts[int(ct)%len(cts)]; c != "" {
			h["content-type"] = c
		}
		if err := src.Sign(h, body, t0); err != nil {
			t.Fatal(err)
		}
		ev, err := src.Verify(h, body, t0)
		if err == nil {
			if ev.Reply == nil && (ev.ID == "" || ev.Type == "") {
				t.Fatalf("accepted without id or type: %+v", ev)
			}
			return
		}
		var e *Error
		if !errors.As(err, &e) || wantStatus[e.Code] == 0 || e.Status != wantStatus[e.Code] || e.Message == "" {
			t.Fatalf("bad error %v", err)
		}
		switch {
		case e.Status == 401:
			t.Fatalf("signed request refused: %v", e)
		case x.anyBody && e.Code != CodeInvalidID:
			t.Fatalf("source reading headers only refused %q: %v", body, e)
		case e.Code == CodeMalformedJSON && declaredNotJSON(h["content-type"]):
			t.Fatalf("non-JSON body (%s) refused as malformed_json: %v", h["content-type"], e)
		case strings.Contains(e.Message, secret):
			t.Fatalf("message %q leaks the secret", e.Message)
		}
	})
}
