package route_test

import (
	"strings"
	"testing"

	"github.com/tenaz/tenaz/shared/route"
)

func TestParseConfigSignedDeliveries(t *testing.T) {
	t.Parallel()
	cs, err := route.ParseConfig([]byte(`[
		{"source": "stripe", "url": "https://orders.internal/hooks", "signingSecret": "ssm:/tenaz/prod/deliveries/orders-signing",
		 "headers": {"Authorization": {"secret": "secretsmanager:tenaz/prod/deliveries/orders-token", "format": "Bearer {}"},
		             "X-Api-Key": {"secret": "env:ORDERS_API_KEY"}}},
		{"source": "github", "url": "https://ci.internal/hooks"}]`))
	if err != nil {
		t.Fatal(err)
	}
	c := cs[0]
	if c.SigningSecret != "ssm:/tenaz/prod/deliveries/orders-signing" || len(c.Headers) != 2 ||
		c.Headers["Authorization"].Format != "Bearer {}" || c.Headers["X-Api-Key"].Format != "{}" ||
		c.Headers["X-Api-Key"].Secret != "env:ORDERS_API_KEY" {
		t.Fatalf("config %+v", c)
	}
	// A route without the fields is unsigned, as before.
	if cs[1].SigningSecret != "" || cs[1].Headers != nil {
		t.Fatalf("unsigned route %+v", cs[1])
	}
}

func TestParseConfigSignedDeliveriesRefused(t *testing.T) {
	t.Parallel()
	const base = `"source": "stripe", "url": "https://orders.internal/hooks"`
	cases := []struct{ name, entry, want string }{
		{"secret value instead of a reference", base + `, "signingSecret": "whsec_c2VjcmV0LXZhbHVl"`, "route 1 (stripe): signingSecret: not a secret reference"},
		{"unknown kind", base + `, "signingSecret": "vault:orders"`, "route 1 (stripe): signingSecret: secret reference of unknown kind"},
		{"header without secret", base + `, "headers": {"Authorization": {"format": "Bearer {}"}}`, `headers: Authorization: "secret" is required`},
		{"header bad ref", base + `, "headers": {"Authorization": {"secret": "Bearer abc"}}`, "headers: Authorization: not a secret reference"},
		{"format without placeholder", base + `, "headers": {"Authorization": {"secret": "env:T", "format": "Bearer"}}`, `format must contain "{}" exactly once`},
		{"format twice", base + `, "headers": {"Authorization": {"secret": "env:T", "format": "{} {}"}}`, `format must contain "{}" exactly once`},
		{"format line break", base + `, "headers": {"Authorization": {"secret": "env:T", "format": "a\r\nB: {}"}}`, "line break"},
		{"reserved header", base + `, "headers": {"Idempotency-Key": {"secret": "env:T"}}`, "Idempotency-Key is set by Tenaz"},
		{"reserved webhook header", base + `, "headers": {"Webhook-Signature": {"secret": "env:T"}}`, "Webhook-Signature is set by Tenaz"},
		{"reserved tenaz header", base + `, "headers": {"X-Tenaz-Source": {"secret": "env:T"}}`, "X-Tenaz-Source is set by Tenaz"},
		{"bad header name", base + `, "headers": {"Bad Header": {"secret": "env:T"}}`, "not a valid header name"},
		{"same header twice", base + `, "headers": {"X-Key": {"secret": "env:A"}, "x-key": {"secret": "env:B"}}`, "are the same header"},
		{"unknown header field", base + `, "headers": {"X-Key": {"secret": "env:A", "value": "x"}}`, "unknown field"},
		{"not a forward route", `"source": "stripe", "handler": "crm", "signingSecret": "env:S"`, "apply to forward routes only"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := route.ParseConfig([]byte(`[{"source": "ok", "url": "https://a.internal/"}, {` + tc.entry + `}]`))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "c2VjcmV0LXZhbHVl") || strings.Contains(err.Error(), "Bearer abc") {
				t.Fatalf("error %q repeats what may be a secret", err)
			}
		})
	}
}
