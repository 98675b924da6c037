package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

// Test keys. The Ed25519 and ECDSA private keys are test keys made for this file;
// sources configured with them can also sign.
const (
	testEdPriv  = "a1793e93ff5e82be392119646958aae815fe10a365db669fe1b7691828df496c61fbe9f26a98c9f0367854fe143a2955c5000ae1edff52043a8cd8e51d2ac97f"
	testEdPub   = "61fbe9f26a98c9f0367854fe143a2955c5000ae1edff52043a8cd8e51d2ac97f"
	testEdPub2  = "5616be0a49a97782dc75aa903c58ed13bfcaaf546f5b72d44ff57e9cb13411a3"
	testEdPriv2 = "250e93e68b8857c978fe0433107987e6d1893c3d6ea372a746327cf11e2e57d35616be0a49a97782dc75aa903c58ed13bfcaaf546f5b72d44ff57e9cb13411a3"
	testECPriv  = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg/WczBqbfZB7pC/Ri3ieD/APouGURfqpD6Fwq1rY5fByhRANCAARiYbtzQMAbKYEeCBOY+WIciE7x8aJroE8jKILAcyhoSWvai2dNIFYVnaJDFGHUkb7aTW1liOEWlQAF+MTsaGM8"
	testECPub   = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEYmG7c0DAGymBHggTmPliHIhO8fGia6BPIyiCwHMoaElr2otnTSBWFZ2iQxRh1JG+2k1tZYjhFpUABfjE7GhjPA=="
	testECPriv2 = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgP3PM2ZkAzNdctC2FW3oX89uQk3lzZk7tPTmWWtcwuP2hRANCAARhhRBKUEsOHlwVKK+SSHHpyMPJXaF9HE/9QmBSbvvJACY0UUhzFj1p+g33XQ2fVX21Eat/xcOhukkMzEyFVE6g"
)

// presetCase is one preset's happy path: a source, headers the caller sets, a body,
// and the event Verify must give.
type presetCase struct {
	scheme        string
	secret, wrong string // a signing secret and another one
	verifyWith    string // the secret the verifying source holds, when not secret (a public key)
	extra         map[string]any
	headers       map[string]string
	body          string
	id, typ       string // id "" means the body's SHA-256
	stale         bool   // the scheme checks a signed timestamp
}

func presetCases() []presetCase {
	return []presetCase{
		{scheme: SchemeDiscord, secret: testEdPriv, wrong: testEdPriv2, verifyWith: testEdPub,
			body: `{"id":"1234567890","type":2,"data":{"name":"ping"}}`, id: "1234567890", typ: "APPLICATION_COMMAND", stale: true},
		{scheme: SchemeSendGrid, secret: testECPriv, wrong: testECPriv2, verifyWith: testECPub,
			body: `[{"email":"a@example.com","event":"delivered","sg_event_id":"ZGVsaXZlcmVk"}]`, typ: "event_batch"},
		{scheme: SchemeTwilio, secret: "twilio-auth-token", wrong: "other-token", extra: map[string]any{"url": "https://hooks.example.com/twilio?x=1"},
			headers: map[string]string{"content-type": "application/x-www-form-urlencoded", "i-twilio-idempotency-token": "idem-1"},
			body:    "MessageSid=SM123&Body=hi+there&From=%2B15550001", id: "idem-1", typ: "request"},
		{scheme: SchemeGitLab, secret: "gitlab-token", wrong: "gitlab-token2",
			headers: map[string]string{"x-gitlab-event": "Push Hook", "idempotency-key": "f7a3c1d2-0000-4000-8000-000000000001"},
			body:    `{"object_kind":"push","ref":"refs/heads/main"}`, id: "f7a3c1d2-0000-4000-8000-000000000001", typ: "push"},
		{scheme: SchemePostmark, secret: "hooks:s3cret", wrong: "hooks:other",
			body: `{"RecordType":"Delivery","MessageID":"883953f4"}`, typ: "Delivery"},
		{scheme: SchemeZoom, secret: "zoom-secret-token", wrong: "zoom-other",
			body: `{"event":"meeting.started","event_ts":1700000000000,"payload":{"object":{"id":"1"}}}`, typ: "meeting.started", stale: true},
		{scheme: SchemeTwitch, secret: "twitch-secret-0123", wrong: "twitch-other-0123",
			headers: map[string]string{"twitch-eventsub-message-id": "msg-1", "twitch-eventsub-message-type": "notification", "twitch-eventsub-subscription-type": "channel.follow"},
			body:    `{"subscription":{"type":"channel.follow"},"event":{"user_id":"1"}}`, id: "msg-1", typ: "channel.follow", stale: true},
		{scheme: SchemePaddle, secret: "pdl_ntfset_test_secret", wrong: "pdl_ntfset_other",
			body: `{"event_id":"evt_01h","event_type":"transaction.completed","data":{}}`, id: "evt_01h", typ: "transaction.completed", stale: true},
		{scheme: SchemeSquare, secret: "square-signature-key", wrong: "square-other", extra: map[string]any{"url": "https://hooks.example.com/square"},
			body: `{"merchant_id":"M","type":"payment.created","event_id":"6a8f5f28"}`, id: "6a8f5f28", typ: "payment.created"},
		{scheme: SchemeHubSpot, secret: "hubspot-client-secret", wrong: "hubspot-other", extra: map[string]any{"url": "https://hooks.example.com/hubspot"},
			body: `[{"eventId":1,"subscriptionType":"contact.creation"}]`, typ: "event_batch", stale: true},
		{scheme: SchemeLinear, secret: "lin_wh_secret", wrong: "lin_wh_other",
			headers: map[string]string{"linear-delivery": "2d2b0b4c-1111-4000-8000-000000000001", "linear-event": "Issue"},
			body:    `{"action":"create","type":"Issue","webhookTimestamp":1700000000000}`, id: "2d2b0b4c-1111-4000-8000-000000000001", typ: "Issue", stale: true},
		{scheme: SchemeIntercom, secret: "intercom-client-secret", wrong: "intercom-other",
			body: `{"type":"notification_event","id":"notif_1","topic":"conversation.user.created"}`, id: "notif_1", typ: "conversation.user.created"},
		{scheme: SchemeBitbucket, secret: "bb-secret", wrong: "bb-other",
			headers: map[string]string{"x-request-uuid": "3c1f0e4a-2222-4000-8000-000000000001", "x-event-key": "repo:push"},
			body:    `{"push":{"changes":[]}}`, id: "3c1f0e4a-2222-4000-8000-000000000001", typ: "repo:push"},
		{scheme: SchemeVercel, secret: "vercel-secret", wrong: "vercel-other",
			body: `{"id":"evt_v1","type":"deployment.created","payload":{}}`, id: "evt_v1", typ: "deployment.created"},
		{scheme: SchemeWorkOS, secret: "workos-secret", wrong: "workos-other",
			body: `{"id":"event_01","event":"user.created","data":{}}`, id: "event_01", typ: "user.created", stale: true},
		{scheme: SchemeCalendly, secret: "calendly-signing-key", wrong: "calendly-other",
			body: `{"event":"invitee.created","created_at":"2026-11-01T12:00:00Z","payload":{}}`, typ: "invitee.created", stale: true},
		{scheme: SchemeTypeform, secret: "typeform-secret", wrong: "typeform-other",
			body: `{"event_id":"01HTF","event_type":"form_response","form_response":{}}`, id: "01HTF", typ: "form_response"},
		{scheme: SchemeClerk, secret: whsec("clerk-key"), wrong: whsec("clerk-other"),
			headers: map[string]string{"svix-id": "msg_clerk1"},
			body:    `{"type":"user.created","object":"event","data":{}}`, id: "msg_clerk1", typ: "user.created", stale: true},
		{scheme: SchemeResend, secret: whsec("resend-key"), wrong: whsec("resend-other"),
			headers: map[string]string{"svix-id": "msg_resend1"},
			body:    `{"type":"email.delivered","created_at":"2026-11-01T12:00:00Z","data":{}}`, id: "msg_resend1", typ: "email.delivered", stale: true},
		{scheme: SchemeMailgun, secret: "key-mailgun-signing", wrong: "key-mailgun-other", extra: map[string]any{"tolerance": 300},
			body: `{"event-data":{"id":"CPgfbmQMTCKtHW6uIWtuVe","event":"delivered"}}`, id: "CPgfbmQMTCKtHW6uIWtuVe", typ: "delivered", stale: true},
	}
}

// sign signs as c's scheme with secret, returning the headers and body to send.
func (c presetCase) sign(t *testing.T, secret string, at time.Time) (map[string]string, string) {
	t.Helper()
	h := maps.Clone(c.headers)
	if h == nil {
		h = map[string]string{}
	}
	src := source(t, config(c.scheme, []string{secret}, c.extra))
	b, err := src.SignBody(h, []byte(c.body), at)
	if err != nil {
		t.Fatalf("SignBody: %v", err)
	}
	return h, string(b)
}

func TestPresets(t *testing.T) {
	for _, c := range presetCases() {
		t.Run(c.scheme, func(t *testing.T) {
			verifyWith := c.verifyWith
			if verifyWith == "" {
				verifyWith = c.secret
			}
			src := source(t, config(c.scheme, []string{verifyWith}, c.extra))
			h, body := c.sign(t, c.secret, t0)
			id := c.id
			if id == "" {
				id = bodyKey([]byte(body))
			}
			secrets := []string{c.secret, c.wrong}
			cases := []verifyCase{{name: "valid", src: src, headers: h, body: body, id: id, typ: c.typ}}
			if c.scheme != SchemeGitLab && c.scheme != SchemePostmark { // a token and a password do not sign the body
				cases = append(cases, verifyCase{name: "tampered body", src: src, headers: h, body: tamper(c.scheme, body), code: CodeBadSignature, secrets: secrets})
			}
			wh, wbody := c.sign(t, c.wrong, t0)
			cases = append(cases, verifyCase{name: "wrong key", src: src, headers: wh, body: wbody, code: CodeBadSignature, secrets: secrets})
			if c.stale {
				sh, sbody := c.sign(t, c.secret, t0.Add(-time.Hour))
				cases = append(cases, verifyCase{name: "stale timestamp", src: src, headers: sh, body: sbody, code: CodeStaleTimestamp, secrets: secrets})
			}
			// Rotation: the old key listed after the new one still verifies.
			rot := source(t, config(c.scheme, []string{verifyWithOf(c, c.wrong), verifyWith}, c.extra))
			cases = append(cases, verifyCase{name: "second of two secrets", src: rot, headers: h, body: body, id: id, typ: c.typ})
			for name := range h {
				if _, ok := c.headers[name]; !ok && !strings.Contains(name, "timestamp") && !strings.HasSuffix(name, "-id") {
					missing := maps.Clone(h)
					delete(missing, name)
					if c.scheme != SchemeTwilio || name != "i-twilio-idempotency-token" {
						cases = append(cases, verifyCase{name: "without " + name, src: src, headers: missing, body: body, code: CodeMissingSignature, secrets: secrets})
					}
				}
			}
			runVerifyCases(t, cases)
		})
	}
}

// verifyWithOf is the secret a verifying source holds for signing secret sec.
func verifyWithOf(c presetCase, sec string) string {
	switch c.scheme {
	case SchemeDiscord:
		return map[string]string{testEdPriv: testEdPub, testEdPriv2: testEdPub2}[sec]
	case SchemeSendGrid:
		if sec == testECPriv2 {
			return "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEYYUQSlBLDh5cFSivkkhx6cjDyV2hfRxP/UJgUm77yQAmNFFIcxY9afoN910Nn1V9tRGrf8XDobpJDMxMhVROoA=="
		}
		return testECPub
	}
	return sec
}

// tamper changes one value of body and keeps it well-formed.
func tamper(scheme, body string) string {
	if scheme == SchemeTwilio {
		return strings.Replace(body, "hi", "ho", 1)
	}
	if scheme == SchemeMailgun { // Mailgun signs the timestamp and token only
		return strings.Replace(body, `"token":"`, `"token":"x`, 1)
	}
	return strings.Replace(body, `{`, `{"x":1,`, 1)
}

func TestPresetsListed(t *testing.T) {
	names := Presets()
	if len(names) < 25 {
		t.Fatalf("%d schemes, want at least 25", len(names))
	}
	for _, n := range names {
		_, isPreset := presets[n]
		if !isPreset && !slices.Contains([]string{SchemeStripe, SchemeGitHub, SchemeShopify, SchemeSlack, SchemeStandardWebhooks, SchemeHMACSHA256, SchemeHMAC, SchemeClerk, SchemeResend}, n) {
			t.Errorf("%s is listed but not a preset", n)
		}
	}
	for n := range presets {
		if !slices.Contains(names, n) {
			t.Errorf("preset %s is not listed", n)
		}
	}
	tested := map[string]bool{}
	for _, c := range presetCases() {
		tested[c.scheme] = true
	}
	for n := range presets {
		if !tested[n] && n != SchemeHMAC {
			t.Errorf("preset %s has no test case", n)
		}
	}
}

func TestHandshakes(t *testing.T) {
	zoom := source(t, config(SchemeZoom, []string{"zoom-secret-token"}, nil))
	body := `{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680,"event":"endpoint.url_validation"}`
	h := signed(t, SchemeZoom, "zoom-secret-token", nil, nil, body, t0)
	ev, err := zoom.Verify(h, []byte(body), t0)
	if err != nil {
		t.Fatal(err)
	}
	// The encryptedToken is the hex HMAC-SHA256 of the plainToken under the secret token.
	var got map[string]string
	if ev.Reply == nil || json.Unmarshal(ev.Reply.Body, &got) != nil || ev.ID != "" {
		t.Fatalf("zoom reply = %+v", ev)
	}
	if got["plainToken"] != "qgg8vlvZRS6UYooatFL8Aw" || got["encryptedToken"] != hmacHex("zoom-secret-token", "qgg8vlvZRS6UYooatFL8Aw") {
		t.Errorf("zoom reply body = %s", ev.Reply.Body)
	}
	if _, err := zoom.Verify(h, []byte(strings.Replace(body, "qgg", "xgg", 1)), t0); err == nil {
		t.Error("an unsigned url_validation was answered")
	}

	twitch := source(t, config(SchemeTwitch, []string{"twitch-secret-0123"}, nil))
	tb := `{"challenge":"pogchamp-kappa-360noscope-vohiyo","subscription":{"type":"channel.follow"}}`
	th := signed(t, SchemeTwitch, "twitch-secret-0123", nil, map[string]string{"twitch-eventsub-message-type": "webhook_callback_verification", "twitch-eventsub-message-id": "m1"}, tb, t0)
	ev, err = twitch.Verify(th, []byte(tb), t0)
	if err != nil || ev.Reply == nil || string(ev.Reply.Body) != "pogchamp-kappa-360noscope-vohiyo" || ev.Reply.ContentType != "text/plain" {
		t.Fatalf("twitch = %+v, %v", ev, err)
	}

	discord := source(t, config(SchemeDiscord, []string{testEdPub}, nil))
	db := `{"type":1,"id":"1","application_id":"2"}`
	dh := signed(t, SchemeDiscord, testEdPriv, nil, nil, db, t0)
	ev, err = discord.Verify(dh, []byte(db), t0)
	if err != nil || ev.Reply == nil || string(ev.Reply.Body) != `{"type":1}` {
		t.Fatalf("discord = %+v, %v", ev, err)
	}
	dh["x-signature-ed25519"] = strings.Repeat("0", 128)
	if _, err := discord.Verify(dh, []byte(db), t0); err == nil {
		t.Error("an unsigned PING was answered")
	}

	slack := source(t, config(SchemeSlack, []string{"s"}, nil))
	sb := `{"type":"url_verification","challenge":"c1"}`
	ev, err = slack.Verify(signed(t, SchemeSlack, "s", nil, nil, sb, t0), []byte(sb), t0)
	if err != nil || ev.Reply == nil || string(ev.Reply.Body) != `{"challenge":"c1"}` || ev.Challenge != "c1" {
		t.Fatalf("slack = %+v, %v", ev, err)
	}
}

// Linear's timestamp is in the signed body: it is checked once the signature matched,
// within 60 s.
func TestLinearBodyTimestamp(t *testing.T) {
	src := source(t, config(SchemeLinear, []string{"l"}, nil))
	hdr := map[string]string{"linear-event": "Issue", "linear-delivery": "d1"}
	for _, c := range []struct {
		body, code string
	}{
		{`{"type":"Issue","webhookTimestamp":1700000060000}`, ""},
		{`{"type":"Issue","webhookTimestamp":1699999940000}`, ""},
		{`{"type":"Issue","webhookTimestamp":1700000060001}`, CodeStaleTimestamp},
		{`{"type":"Issue","webhookTimestamp":1699999939999}`, CodeStaleTimestamp},
		{`{"type":"Issue","webhookTimestamp":"1700000000000"}`, CodeBadSignature},
		{`{"type":"Issue","webhookTimestamp":1.7e12}`, CodeBadSignature},
		{`{"type":"Issue"}`, CodeBadSignature},
		{`[1]`, CodeMalformedJSON},
	} {
		h := signed(t, SchemeLinear, "l", nil, hdr, c.body, t0)
		_, err := src.Verify(h, []byte(c.body), t0)
		if (c.code == "") != (err == nil) || (err != nil && err.(*Error).Code != c.code) {
			t.Errorf("%s: %v, want %q", c.body, err, c.code)
		}
	}
}

func TestPublicKeySourceCannotSign(t *testing.T) {
	for _, c := range []struct{ scheme, pub string }{{SchemeDiscord, testEdPub}, {SchemeSendGrid, testECPub}} {
		if err := source(t, config(c.scheme, []string{c.pub}, nil)).Sign(map[string]string{}, []byte(`{}`), t0); err == nil {
			t.Errorf("%s: Sign with a public key succeeded", c.scheme)
		}
	}
}

func TestKeyBody(t *testing.T) {
	body := `{"id":"evt_1","type":"t"}`
	src := source(t, config(SchemeStripe, []string{"whsec_a"}, map[string]any{"key": "body"}))
	h := signed(t, SchemeStripe, "whsec_a", nil, nil, body, t0)
	ev, err := src.Verify(h, []byte(body), t0)
	if err != nil || ev.ID != bodyKey([]byte(body)) || len(ev.ID) != 64 {
		t.Fatalf("key body: %+v, %v", ev, err)
	}
	gh := source(t, config(SchemeGitHub, []string{"g"}, map[string]any{"key": "body"}))
	h = signed(t, SchemeGitHub, "g", nil, map[string]string{"x-github-event": "push"}, body, t0)
	ev1, err1 := gh.Verify(h, []byte(body), t0)
	h["x-github-delivery"] = "another-delivery"
	ev2, err2 := gh.Verify(h, []byte(body), t0)
	if err1 != nil || err2 != nil || ev1.ID != ev2.ID {
		t.Errorf("a body replayed under a new delivery id got a new key: %q %q (%v %v)", ev1.ID, ev2.ID, err1, err2)
	}
	lin := source(t, config(SchemeLinear, []string{"l"}, map[string]any{"key": "body"}))
	body = `{"type":"Issue","webhookTimestamp":1700000000000}`
	h = signed(t, SchemeLinear, "l", nil, map[string]string{"linear-event": "Issue"}, body, t0)
	if ev, err := lin.Verify(h, []byte(body), t0); err != nil || ev.ID != bodyKey([]byte(body)) {
		t.Errorf("linear key body: %+v %v", ev, err)
	}
}

func TestGenericHMAC(t *testing.T) {
	body := `{"data":{"id":"e1","kind":"order.paid"}}`
	cfgs := []map[string]any{
		{"header": "X-Sig", "idField": "data.id", "typeField": "data.kind"},
		{"header": "X-Sig", "algorithm": "sha512", "encoding": "base64", "keyEncoding": "hex", "idField": "data.id", "typeField": "data.kind"},
		{"header": "X-Sig", "algorithm": "sha1", "prefix": "sha1=", "idField": "data.id", "typeField": "data.kind"},
		{"header": "X-Sig", "signatureKey": "v1", "timestampKey": "t", "timestampUnit": "ms", "signed": "{timestamp}.{body}", "idField": "data.id", "typeField": "data.kind"},
		{"header": "X-Sig", "timestampHeader": "X-Ts", "signed": "v0:{timestamp}:{body}", "idField": "data.id", "typeField": "data.kind"},
		{"header": "X-Sig", "keyEncoding": "whsec", "signed": "{id}.{timestamp}.{body}", "idHeader": "X-Id", "timestampHeader": "X-Ts", "typeField": "data.kind"},
		{"header": "X-Sig", "signed": "{method}{url}{body}", "url": "https://h.example.com/x", "idField": "data.id", "typeField": "data.kind"},
	}
	for i, extra := range cfgs {
		secret := "0a1b2c3d"
		if extra["keyEncoding"] == "whsec" {
			secret = whsec("k")
		}
		src := source(t, config(SchemeHMAC, []string{secret}, extra))
		h := signed(t, SchemeHMAC, secret, extra, nil, body, t0)
		ev, err := src.Verify(h, []byte(body), t0)
		if err != nil || ev.Type != "order.paid" || (ev.ID != "e1" && extra["idHeader"] == nil) {
			t.Errorf("config %d: %+v, %v", i, ev, err)
		}
		if _, err := src.Verify(h, []byte(tamper("", body)), t0); err == nil {
			t.Errorf("config %d: tampered body verified", i)
		}
		if extra["signed"] != nil && strings.Contains(extra["signed"].(string), "timestamp") {
			if _, err := src.Verify(h, []byte(body), t0.Add(time.Hour)); err == nil || err.(*Error).Code != CodeStaleTimestamp {
				t.Errorf("config %d: stale: %v", i, err)
			}
		}
	}
}

func TestSpecConfigErrors(t *testing.T) {
	for _, c := range []struct {
		scheme string
		extra  map[string]any
		want   string
	}{
		{SchemeHMAC, map[string]any{"idField": "id", "typeField": "t"}, `"header" is required`},
		{SchemeHMAC, map[string]any{"header": "X", "algorithm": "md5", "idField": "id", "typeField": "t"}, `"algorithm"`},
		{SchemeHMAC, map[string]any{"header": "X", "signed": "{nope}", "idField": "id", "typeField": "t"}, `unknown variable {nope}`},
		{SchemeHMAC, map[string]any{"header": "X", "signed": "{timestamp}.{body}", "idField": "id", "typeField": "t"}, `{timestamp}`},
		{SchemeHMAC, map[string]any{"header": "X", "signed": "{url}{body}", "idField": "id", "typeField": "t"}, `"url" is required`},
		{SchemeHMAC, map[string]any{"header": "X", "typeField": "t"}, `"idHeader" or "idField"`},
		{SchemeTwilio, nil, `"url" is required`},
		{SchemeSquare, map[string]any{"url": "/relative"}, `absolute`},
		{SchemeGitHub, map[string]any{"url": "https://x.example.com"}, `signs no URL`},
		{SchemeStripe, map[string]any{"key": "hash"}, `"key"`},
		{SchemeLinear, map[string]any{"tolerance": 10}, `signs no timestamp`},
		{SchemeStripe, map[string]any{"algorithm": "sha1"}, `hmac only`},
		{SchemeDiscord, nil, `Ed25519`},
		{SchemeSendGrid, nil, `base64 DER`},
		{SchemePostmark, nil, `user:password`},
		{"nope", nil, `unknown scheme`},
	} {
		secret := "not-a-key-at-all"
		_, err := ParseSources([]byte(`{"src":` + config(c.scheme, []string{secret}, c.extra) + `}`))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %v: error %v, want %q", c.scheme, c.extra, err, c.want)
		} else if strings.Contains(err.Error(), secret) {
			t.Errorf("error shows the secret: %v", err)
		}
	}
}

func TestParseSpecSig(t *testing.T) {
	p := presets[SchemeWorkOS]()
	d := strings.Repeat("ab", 32)
	for _, c := range []struct {
		v    string
		code string
		n    int
	}{
		{"t=1, v1=" + d, "", 1},
		{"t=1;v1=" + d + ";v1=" + d, "", 2},
		{"v1=" + d, CodeBadSignature, 0},
		{"t=1,t=2,v1=" + d, CodeBadSignature, 0},
		{"t=1,v1=abc", CodeBadSignature, 0},
		{"t=1,v0=" + d, CodeBadSignature, 0},
	} {
		s, err := parseSpecSig(p, c.v)
		switch {
		case c.code == "" && (err != nil || len(s.sigs) != c.n || s.ts != "1"):
			t.Errorf("%q: %+v %v", c.v, s, err)
		case c.code != "" && (err == nil || err.Code != c.code):
			t.Errorf("%q: error %v, want %s", c.v, err, c.code)
		}
	}
}

func TestBasicAuthForms(t *testing.T) {
	src := source(t, config(SchemePostmark, []string{"u:p"}, nil))
	body := `{"RecordType":"Bounce"}`
	for _, c := range []struct {
		auth, code string
	}{
		{"Basic " + base64.StdEncoding.EncodeToString([]byte("u:p")), ""},
		{"basic " + base64.StdEncoding.EncodeToString([]byte("u:p")), ""},
		{"Basic " + base64.StdEncoding.EncodeToString([]byte("u:q")), CodeBadSignature},
		{"Bearer u:p", CodeBadSignature},
		{"Basic !!", CodeBadSignature},
	} {
		_, err := src.Verify(map[string]string{"authorization": c.auth}, []byte(body), t0)
		if (c.code == "") != (err == nil) || (err != nil && err.(*Error).Code != c.code) {
			t.Errorf("%q: %v", c.auth, err)
		}
	}
}

// hmacHex is the hex HMAC-SHA256 of msg under key, by the standard library directly.
func hmacHex(key, msg string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

func TestConfigStringHidesURLCredentials(t *testing.T) {
	c := SourceConfig{Scheme: SchemeTwilio, Secrets: []string{"tok"}, URL: "https://user:pa55word@hooks.example.com/t?sig=q5ecret"}
	for _, s := range []string{c.String(), c.GoString()} {
		if strings.Contains(s, "pa55word") || strings.Contains(s, "q5ecret") || strings.Contains(s, "tok") || !strings.Contains(s, "hooks.example.com/t") {
			t.Errorf("%s", s)
		}
	}
}
