package forward

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/retry"
	"github.com/tenaz/tenaz/shared/route"
	"github.com/tenaz/tenaz/shared/secrets"
	"github.com/tenaz/tenaz/shared/webhook"
)

// Secrets of these tests: keys of 32 bytes, "new" and "old".
const (
	newSecret = "whsec_c2Vjb25kLXNpZ25pbmcta2V5LTMyLWJ5dGVzLWxvbmc=" // "second-signing-key-32-bytes-long"
	oldSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"             // the Standard Webhooks specification's example secret
)

// fakeSecrets resolves references from a map, or fails; it counts reads.
type fakeSecrets struct {
	mu     sync.Mutex
	values map[string]string
	err    error
	reads  int
}

func (f *fakeSecrets) Get(_ context.Context, ref secrets.Ref) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	if f.err != nil {
		return "", f.err
	}
	v, ok := f.values[ref.String()]
	if !ok {
		return "", errors.New("secret " + ref.String() + ": not found")
	}
	return v, nil
}

// The Standard Webhooks specification's example, and a rotation: the expected
// signatures were computed apart from this code, with
//
//	printf '%s' "$id.$ts.$body" | openssl dgst -sha256 -mac HMAC -macopt hexkey:$(printf %s "$b64" | base64 -d | xxd -p -c 200) -binary | base64
//
// and the first is the one the specification's libraries test against.
func TestSignatureFixedVectors(t *testing.T) {
	t.Parallel()
	key := func(secret string) []byte {
		b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	got := signature([][]byte{key(oldSecret)}, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("specification vector: %s, want %s", got, want)
	}

	// Through the handler of a one-step route whose secret holds both keys.
	d := &destination{statuses: []int{200}}
	srv := httptest.NewServer(d)
	defer srv.Close()
	sec := &fakeSecrets{values: map[string]string{"env:ORDERS_SIGNING": newSecret + "\n" + oldSecret + "\n"}}
	cfgs, err := route.ParseConfig([]byte(`[{"source":"stripe","signingSecret":"env:ORDERS_SIGNING","steps":[{"name":"crm","url":"` + srv.URL + `"}]}]`))
	if err != nil {
		t.Fatal(err)
	}
	h, err := Build(cfgs[0], Options{Secrets: sec})
	if err != nil {
		t.Fatal(err)
	}
	seq := h.(*Sequence)
	seq.steps[0].h.now = func() time.Time { return time.Unix(1700000000, 0) }
	runner := idempotency.NewRunner(idempotency.NewMemoryStore(), idempotency.Settings{})
	if out, err := runner.Do(context.Background(), env().Key(), "h", func(ctx context.Context, a *idempotency.Attempt) ([]byte, error) {
		return seq.Handle(ctx, env(), a)
	}); err != nil || out.Kind != idempotency.Done {
		t.Fatalf("%v, %v", out, err)
	}
	hd := d.hits[0].header
	want := "v1,zNgs45K9aFYgkYe8H7CZYHCjWrfbvETKJL2weXXsGDI= v1,njPK89ut3RePFJfCvCM36g/XYGlY8eInWWdAoKGY0Ic="
	if hd.Get("Webhook-Id") != "stripe:evt_1:crm" || hd.Get("Webhook-Timestamp") != "1700000000" || hd.Get("Webhook-Signature") != want {
		t.Fatalf("headers id %q ts %q sig %q; want stripe:evt_1:crm 1700000000 %s",
			hd.Get("Webhook-Id"), hd.Get("Webhook-Timestamp"), hd.Get("Webhook-Signature"), want)
	}
	// The same by the standard library's HMAC, as a check of the vector itself.
	mac := hmac.New(sha256.New, []byte("second-signing-key-32-bytes-long"))
	mac.Write([]byte("stripe:evt_1:crm.1700000000." + d.hits[0].body))
	if "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)) != strings.Fields(want)[0] {
		t.Fatal("the fixed vector does not match HMAC-SHA256 of id.timestamp.body")
	}
}

// headerMap is what Tenaz's ingest verifier takes: lower-case names.
func headerMap(h http.Header) map[string]string {
	m := map[string]string{}
	for k := range h {
		m[strings.ToLower(k)] = h.Get(k)
	}
	return m
}

func verifier(t *testing.T, secret string) *webhook.Source {
	t.Helper()
	srcs, err := webhook.ParseSources([]byte(`{"tenaz": {"scheme": "standard-webhooks", "secrets": ["` + secret + `"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	return srcs["tenaz"]
}

// A signed route: a destination holding either secret of a rotation verifies each
// attempt, whose webhook-id stays the same; a tampered body does not verify. The
// secret headers are there.
func TestSignedDeliveryVerifiesAndAuthenticates(t *testing.T) {
	t.Parallel()
	d := &destination{statuses: []int{503, 200}}
	srv := httptest.NewServer(d)
	defer srv.Close()
	sec := &fakeSecrets{values: map[string]string{
		"ssm:/tenaz/t/deliveries/signing":       newSecret + " " + oldSecret,
		"secretsmanager:tenaz/t/deliveries/tok": "tok-123\n",
	}}
	cfgs, err := route.ParseConfig([]byte(`[{"source":"stripe","url":"` + srv.URL + `","signingSecret":"ssm:/tenaz/t/deliveries/signing",
		"headers":{"Authorization":{"secret":"secretsmanager:tenaz/t/deliveries/tok","format":"Bearer {}"},"X-Api-Key":{"secret":"secretsmanager:tenaz/t/deliveries/tok"}}}]`))
	if err != nil {
		t.Fatal(err)
	}
	h, err := Build(cfgs[0], Options{Secrets: sec})
	if err != nil {
		t.Fatal(err)
	}
	// Tenaz's own verifier wants the event type in the body.
	e := env()
	e.Body = []byte(`{"type":"charge.succeeded","data":{"id":"ch_1"}}`)
	if _, err := h.Handle(context.Background(), e, nil); err == nil || retry.IsPermanent(err) {
		t.Fatalf("503: %v, want transient", err)
	}
	if _, err := h.Handle(context.Background(), e, nil); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i, hit := range d.hits {
		if got := hit.header.Get("Webhook-Id"); got != "stripe:evt_1" || got != hit.header.Get(HeaderIdempotencyKey) {
			t.Errorf("attempt %d: webhook-id %q, want the Idempotency-Key stripe:evt_1", i+1, got)
		}
		if sigs := strings.Fields(hit.header.Get("Webhook-Signature")); len(sigs) != 2 {
			t.Errorf("attempt %d: %d signatures, want one per secret", i+1, len(sigs))
		}
		if a := hit.header.Get("Authorization"); a != "Bearer tok-123" || hit.header.Get("X-Api-Key") != "tok-123" {
			t.Errorf("attempt %d: Authorization %q, X-Api-Key %q", i+1, a, hit.header.Get("X-Api-Key"))
		}
		for _, s := range []string{newSecret, oldSecret} {
			if _, err := verifier(t, s).Verify(headerMap(hit.header), []byte(hit.body), now); err != nil {
				t.Errorf("attempt %d: a destination holding one secret refuses it: %v", i+1, err)
			}
		}
		if _, err := verifier(t, newSecret).Verify(headerMap(hit.header), []byte(hit.body+" "), now); err == nil {
			t.Errorf("attempt %d: tampered body verifies", i+1)
		}
		if _, err := verifier(t, "whsec_b3RoZXItc2VjcmV0LW9mLTMyLWJ5dGVzLWxvbmchIQ==").Verify(headerMap(hit.header), []byte(hit.body), now); err == nil {
			t.Errorf("attempt %d: another secret verifies", i+1)
		}
	}
}

// Without the route fields nothing is signed and no secret is read.
func TestUnsignedRouteIsUnchanged(t *testing.T) {
	t.Parallel()
	d := &destination{statuses: []int{200}}
	srv := httptest.NewServer(d)
	defer srv.Close()
	cfgs, err := route.ParseConfig([]byte(`[{"source":"stripe","url":"` + srv.URL + `"}]`))
	if err != nil {
		t.Fatal(err)
	}
	sec := &fakeSecrets{}
	h, err := Build(cfgs[0], Options{Secrets: sec})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Handle(context.Background(), env(), nil); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"Webhook-Id", "Webhook-Timestamp", "Webhook-Signature", "Authorization"} {
		if v := d.hits[0].header.Get(k); v != "" {
			t.Errorf("unsigned route sent %s: %q", k, v)
		}
	}
	if sec.reads != 0 {
		t.Errorf("unsigned route read %d secrets", sec.reads)
	}
}

// A secret that cannot be read, or is not usable, fails the delivery transiently and
// nothing is posted: never an unsigned or unauthenticated request. The error names
// the reference and never a value.
func TestSecretFailuresPostNothing(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		values  map[string]string
		readErr error
		want    string
	}{
		{"signing secret unreadable", nil, errors.New("secret ssm:/s: AccessDeniedException"), "AccessDenied"},
		{"header secret missing", map[string]string{"ssm:/s": newSecret}, nil, "header Authorization"},
		{"signing secret not whsec", map[string]string{"ssm:/s": "plain-text-secret!", "env:TOK": "t"}, nil, "entry 1 is not whsec_<base64>"},
		{"signing secret bad second entry", map[string]string{"ssm:/s": newSecret + " whsec_%%%", "env:TOK": "t"}, nil, "entry 2 is not whsec_<base64>"},
		{"header secret with a line break", map[string]string{"ssm:/s": newSecret, "env:TOK": "a\nInjected: yes"}, nil, "line break"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := &destination{statuses: []int{200}}
			srv := httptest.NewServer(d)
			defer srv.Close()
			cfgs, err := route.ParseConfig([]byte(`[{"source":"stripe","url":"` + srv.URL + `","signingSecret":"ssm:/s",
				"headers":{"Authorization":{"secret":"env:TOK","format":"Bearer {}"}}}]`))
			if err != nil {
				t.Fatal(err)
			}
			h, err := Build(cfgs[0], Options{Secrets: &fakeSecrets{values: tc.values, err: tc.readErr}})
			if err != nil {
				t.Fatal(err)
			}
			_, err = h.Handle(context.Background(), env(), nil)
			if err == nil || retry.IsPermanent(err) || !retry.IsUnsent(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v: want a transient, unsent one containing %q", err, tc.want)
			}
			for _, v := range tc.values {
				if len(v) > 3 && strings.Contains(err.Error(), v) {
					t.Fatalf("error %q holds a secret value", err)
				}
			}
			if d.count() != 0 {
				t.Fatalf("%d requests posted", d.count())
			}
		})
	}
}

// A route naming secrets needs a secret store: Build refuses it, and FromConfig's
// handler posts nothing and fails permanently, saying why.
func TestRouteWithSecretsNeedsAStore(t *testing.T) {
	t.Parallel()
	d := &destination{statuses: []int{200}}
	srv := httptest.NewServer(d)
	defer srv.Close()
	cfgs, err := route.ParseConfig([]byte(`[{"source":"stripe","url":"` + srv.URL + `","signingSecret":"env:S"}]`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Build(cfgs[0], Options{}); err == nil || !strings.Contains(err.Error(), "no secret store") {
		t.Fatalf("Build without secrets: %v", err)
	}
	_, err = FromConfig(cfgs[0], nil).Handle(context.Background(), env(), nil)
	if !retry.IsPermanent(err) || !strings.Contains(err.Error(), "no secret store") || d.count() != 0 {
		t.Fatalf("FromConfig: %v after %d requests", err, d.count())
	}
}
