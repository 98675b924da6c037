package route

import (
	"context"
	"strings"
	"testing"

	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/idempotency"
)

func TestMatch(t *testing.T) {
	t.Parallel()
	cases := []struct {
		pattern, typ string
		want         bool
	}{
		{"payment_intent.*", "payment_intent.succeeded", true},
		{"payment_intent.*", "payment_intent.", true},
		{"payment_intent.*", "payment_intents.x", false},
		{"payment_intent.*", "charge.succeeded", false},
		{"orders/*", "orders/create", true},
		{"*", "anything/at.all", true},
		{"*.succeeded", "charge.succeeded", true},
		{"*.succeeded", "charge.failed", false},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
		{"push", "push", true},
		{"push", "pushed", false},
		{"", "", true},
	}
	for _, c := range cases {
		if got := Match(c.pattern, c.typ); got != c.want {
			t.Errorf("Match(%q, %q) = %v, want %v", c.pattern, c.typ, got, c.want)
		}
	}
}

func named(name string) Handler {
	return HandlerFunc(func(context.Context, *envelope.Envelope, *idempotency.Attempt) ([]byte, error) {
		return []byte(name), nil
	})
}

func TestRegistryFirstMatchWins(t *testing.T) {
	t.Parallel()
	var r Registry
	r.Add(Route{Source: "stripe", Types: []string{"payment_intent.*"}, Handler: named("pi")})
	r.Add(Route{Source: "stripe", Handler: named("all-stripe")})
	r.Add(Route{Source: "github", Types: []string{"push", "pull_request"}, Handler: named("gh")})

	check := func(source, typ, want string) {
		t.Helper()
		rt, ok, err := r.Match(source, typ, noBody(t))
		if err != nil {
			t.Fatal(err)
		}
		if want == "" {
			if ok {
				t.Fatalf("%s/%s matched, want unrouted", source, typ)
			}
			return
		}
		if !ok {
			t.Fatalf("%s/%s unrouted, want %s", source, typ, want)
		}
		got, _ := rt.Handler.Handle(context.Background(), nil, nil)
		if string(got) != want {
			t.Fatalf("%s/%s -> %s, want %s", source, typ, got, want)
		}
	}
	check("stripe", "payment_intent.created", "pi")
	check("stripe", "charge.refunded", "all-stripe")
	check("github", "pull_request", "gh")
	check("github", "issues", "")
	check("shopify", "orders/create", "")
}

func TestParseConfig(t *testing.T) {
	t.Parallel()
	cs, err := ParseConfig([]byte(`[{"source": "stripe", "types": ["payment_intent.*"], "url": "https://orders.internal/hooks/stripe", "timeoutSeconds": 10},
		{"source": "gh", "url": "http://127.0.0.1:9000/x"}]`))
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 || cs[0].Handler != "forward" || cs[0].Dependency != "orders.internal" || cs[0].Timeout().Seconds() != 10 {
		t.Fatalf("parsed %+v", cs)
	}
	if cs[1].Timeout() != DefaultTimeout || cs[1].Dependency != "127.0.0.1:9000" {
		t.Fatalf("defaults %+v", cs[1])
	}
	steps, err := ParseConfig([]byte(`[{"source":"app","types":["user.created"],"steps":[{"name":"crm","url":"http://crm.local/users"},{"name":"email","url":"http://mail.local/welcome","timeoutSeconds":3}]}]`))
	if err != nil {
		t.Fatal(err)
	}
	if len(steps[0].Steps) != 2 || steps[0].Dependency != "crm.local" {
		t.Fatalf("steps route %+v", steps[0])
	}

	bad := map[string]string{
		"not json":      `[{`,
		"no source":     `[{"url":"https://x"}]`,
		"relative url":  `[{"source":"s","url":"/x"}]`,
		"ftp":           `[{"source":"s","url":"ftp://x/y"}]`,
		"negative":      `[{"source":"s","url":"https://x","timeoutSeconds":-1}]`,
		"unknown field": `[{"source":"s","url":"https://x","retries":3}]`,
		"empty pattern": `[{"source":"s","url":"https://x","types":[""]}]`,
		"not an array":  `{"source":"s"}`,
		"too long":      `[{"source":"s","url":"https://x","timeoutSeconds":901}]`,
	}
	for name, in := range bad {
		if _, err := ParseConfig([]byte(in)); err == nil {
			t.Errorf("%s: no error", name)
		} else if name != "not json" && name != "unknown field" && name != "not an array" && !strings.Contains(err.Error(), "route 0") {
			t.Errorf("%s: error %q does not name the route", name, err)
		}
	}
}

// noBody is a body accessor for routes without filters: it fails the test if called.
func noBody(t *testing.T) func() ([]byte, error) {
	return func() ([]byte, error) {
		t.Helper()
		t.Fatal("the body was read for routes without a filter")
		return nil, nil
	}
}
