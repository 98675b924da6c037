package webhook

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseSources(t *testing.T) {
	t.Parallel()
	data := `{
		"stripe": {"scheme": "stripe", "secrets": ["whsec_a", "whsec_b"]},
		"gh": {"scheme": "github", "secrets": ["g"]},
		"shop": {"scheme": "shopify", "secrets": ["s"]},
		"slack": {"scheme": "slack", "secrets": ["k"], "tolerance": 60},
		"std": {"scheme": "standard-webhooks", "secrets": ["whsec_c2VjcmV0LWtleS1ieXRlcw=="]},
		"std-raw": {"scheme": "standard-webhooks", "secrets": ["whsec_c2VjcmV0LWtleS1ieXRlcw"]},
		"acme": {"scheme": "hmac-sha256", "secrets": ["x"], "header": "X-Acme-Signature", "encoding": "base64",
			"prefix": "sha256=", "idHeader": "X-Acme-Id", "typeField": "kind"}
	}`
	srcs, err := ParseSources([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		scheme    string
		tolerance int64
		keys      int
	}{
		"stripe": {SchemeStripe, 300, 2}, "gh": {SchemeGitHub, 0, 1}, "shop": {SchemeShopify, 0, 1},
		"slack": {SchemeSlack, 60, 1}, "std": {SchemeStandardWebhooks, 300, 1}, "std-raw": {SchemeStandardWebhooks, 300, 1},
		"acme": {SchemeHMACSHA256, 0, 1},
	}
	if len(srcs) != len(want) {
		t.Fatalf("got %d sources, want %d", len(srcs), len(want))
	}
	for name, w := range want {
		s := srcs[name]
		if s == nil {
			t.Fatalf("no source %q", name)
		}
		if s.Name() != name || s.Scheme() != w.scheme || s.tolerance != w.tolerance || len(s.ring.keys) != w.keys {
			t.Errorf("%s: name %q scheme %q tolerance %d keys %d, want %+v", name, s.Name(), s.Scheme(), s.tolerance, len(s.ring.keys), w)
		}
	}
	// Standard Webhooks keys are the decoded bytes, padded or not; others the text.
	if got := string(srcs["std"].ring.keys[0]); got != "secret-key-bytes" {
		t.Errorf("std key = %q", got)
	}
	if got := string(srcs["std-raw"].ring.keys[0]); got != "secret-key-bytes" {
		t.Errorf("std-raw key = %q", got)
	}
	if got := string(srcs["stripe"].ring.keys[1]); got != "whsec_b" {
		t.Errorf("stripe key = %q, want the whole secret", got)
	}
	acme := srcs["acme"]
	if acme.sigHeader != "x-acme-signature" || acme.idHeader != "x-acme-id" || !acme.base64 || acme.prefix != "sha256=" {
		t.Errorf("acme = %+v", *acme)
	}
}

func TestParseSourcesErrors(t *testing.T) {
	t.Parallel()
	const secret = "whsec_TOPSECRETVALUE"
	src := func(fields string) string { return `{"src": {` + fields + `}}` }
	cases := []struct {
		name, data string
		want       []string // all in the error
	}{
		{"not JSON", `{"src": {"scheme": "stripe", "secrets": ["` + secret + `"]`, []string{"not valid JSON"}},
		{"not JSON inside a secret", `{"src": {"scheme": "stripe", "secrets": ["` + secret + "\x01" + `"]}}`, []string{"not valid JSON"}},
		{"array", `[]`, []string{"not a JSON object"}},
		{"empty", ``, []string{"not a JSON object"}},
		{"trailing data", `{"src": {"scheme": "github", "secrets": ["x"]}} {}`, []string{"after the JSON object"}},
		{"duplicate source", `{"a": {"scheme": "github", "secrets": ["x"]}, "a": {"scheme": "github", "secrets": ["y"]}}`, []string{`"a"`, "twice"}},
		{"bad name", `{"a/b": {"scheme": "github", "secrets": ["x"]}}`, []string{`"a/b"`, "name"}},
		{"source not an object", `{"src": "` + secret + `"}`, []string{`"src"`, "object"}},
		{"unknown field", src(`"scheme": "github", "secret": "` + secret + `"`), []string{`"src"`, `"secret"`}},
		{"secret as a field name", src(`"scheme": "github", "secrets": ["x"], "whsec_TOPSECRETVALUE": 1`), []string{`"src"`, "unknown field"}},
		{"secrets not a list", src(`"scheme": "github", "secrets": "` + secret + `"`), []string{`"src"`, `"secrets"`}},
		{"tolerance not a number", src(`"scheme": "stripe", "secrets": ["` + secret + `"], "tolerance": "300"`), []string{`"tolerance"`}},
		{"no scheme", src(`"secrets": ["` + secret + `"]`), []string{`"src"`, `"scheme"`}},
		{"unknown scheme", src(`"scheme": "paypal", "secrets": ["` + secret + `"]`), []string{`"src"`, `"scheme"`, "paypal"}},
		{"no secrets", src(`"scheme": "stripe"`), []string{`"src"`, `"secrets"`}},
		{"empty secrets", src(`"scheme": "stripe", "secrets": []`), []string{`"src"`, `"secrets"`}},
		{"empty secret", src(`"scheme": "stripe", "secrets": ["` + secret + `", ""]`), []string{`"src"`, "secrets[1]"}},
		{"secret with a newline", src(`"scheme": "stripe", "secrets": ["` + secret + `\n"]`), []string{"secrets[0]", "white space"}},
		{"standard secret without whsec_", src(`"scheme": "standard-webhooks", "secrets": ["TOPSECRETVALUE"]`), []string{"secrets[0]", "whsec_"}},
		{"standard secret not base64", src(`"scheme": "standard-webhooks", "secrets": ["whsec_TOPSECRET!VALUE"]`), []string{"secrets[0]", "base64"}},
		{"standard secret empty key", src(`"scheme": "standard-webhooks", "secrets": ["whsec_"]`), []string{"secrets[0]", "base64"}},
		{"negative tolerance", src(`"scheme": "stripe", "secrets": ["` + secret + `"], "tolerance": -1`), []string{`"tolerance"`}},
		{"tolerance without timestamp", src(`"scheme": "github", "secrets": ["` + secret + `"], "tolerance": 60`), []string{`"tolerance"`, "github"}},
		{"generic field on stripe", src(`"scheme": "stripe", "secrets": ["` + secret + `"], "header": "X-Sig"`), []string{`"header"`, "hmac-sha256"}},
		{"generic without header", src(`"scheme": "hmac-sha256", "secrets": ["` + secret + `"], "idField": "id", "typeField": "type"`), []string{`"header"`}},
		{"generic bad header name", src(`"scheme": "hmac-sha256", "secrets": ["` + secret + `"], "header": "X Sig", "idField": "id", "typeField": "type"`), []string{`"header"`}},
		{"generic without id", src(`"scheme": "hmac-sha256", "secrets": ["` + secret + `"], "header": "X-Sig", "typeField": "type"`), []string{"idHeader", "idField"}},
		{"generic without type", src(`"scheme": "hmac-sha256", "secrets": ["` + secret + `"], "header": "X-Sig", "idField": "id"`), []string{"typeHeader", "typeField"}},
		{"generic bad encoding", src(`"scheme": "hmac-sha256", "secrets": ["` + secret + `"], "header": "X-Sig", "encoding": "base32", "idField": "id", "typeField": "type"`), []string{`"encoding"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srcs, err := ParseSources([]byte(tc.data))
			if err == nil {
				t.Fatalf("ParseSources = %v, want an error", srcs)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %s", err, w)
				}
			}
			for _, leak := range []string{"TOPSECRET", "VALUE"} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("error %q leaks the secret", err)
				}
			}
		})
	}
}

func TestPrintingHidesSecrets(t *testing.T) {
	t.Parallel()
	const secret = "whsec_c2VjcmV0LWtleS1ieXRlcw=="
	srcs, err := ParseSources([]byte(`{"std": {"scheme": "standard-webhooks", "secrets": ["` + secret + `"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	cfg := SourceConfig{Scheme: SchemeStandardWebhooks, Secrets: []string{secret}}
	for _, v := range []any{srcs, srcs["std"], cfg, &cfg} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			out := fmt.Sprintf(verb, v)
			if strings.Contains(out, "c2VjcmV0") || strings.Contains(out, "secret-key-bytes") || strings.Contains(out, "[115 101 99") {
				t.Errorf("%s of %T = %s: shows the secret", verb, v, out)
			}
		}
	}
}

func TestParseSourcesEmptyObject(t *testing.T) {
	t.Parallel()
	s, err := ParseSources([]byte(" {} "))
	if err != nil || s == nil || len(s) != 0 {
		t.Fatalf("ParseSources({}) = %v, %v; want an empty, non-nil set", s, err)
	}
}
