package route_test

import (
	"strings"
	"testing"

	"github.com/tenaz/tenaz/shared/route"
)

// Every route gets a name, unique among its source's routes: the key of the
// destination's recovery point and what a dead letter names.
func TestRouteNames(t *testing.T) {
	t.Parallel()
	cs, err := route.ParseConfig([]byte(`[
		{"source":"stripe","url":"https://orders.internal/hooks/stripe/"},
		{"source":"stripe","url":"https://analytics.example.com:8443/in?x=1"},
		{"source":"stripe","name":"crm","steps":[{"name":"user","url":"https://crm.example.com/users"}]},
		{"source":"github","url":"https://orders.internal/hooks/stripe"},
		{"source":"github","handler":"audit"}
	]`))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"orders.internal/hooks/stripe", "analytics.example.com:8443/in", "crm", "orders.internal/hooks/stripe", "audit"}
	for i, c := range cs {
		if c.Name != want[i] {
			t.Errorf("route %d named %q, want %q", i, c.Name, want[i])
		}
	}
}

func TestRouteNameErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ json, want string }{
		{`[{"source":"s","url":"https://a.example/x"},{"source":"s","url":"https://a.example/x"}]`, `routes 0 and 1 (s) are both named "a.example/x"`},
		{`[{"source":"s","name":"a,b","url":"https://a.example/"}]`, `only letters, digits`},
		{`[{"source":"s","name":"a#b","url":"https://a.example/"}]`, `only letters, digits`},
		{`[{"source":"s","name":"a b","url":"https://a.example/"}]`, `only letters, digits`},
		{`[{"source":"s","name":"` + strings.Repeat("n", 201) + `","url":"https://a.example/"}]`, `longer than 200 bytes`},
	} {
		if _, err := route.ParseConfig([]byte(c.json)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to contain %q", c.json, err, c.want)
		}
	}
	// Distinct names make the same url twice valid (two payloads of one service).
	if _, err := route.ParseConfig([]byte(`[{"source":"s","name":"one","url":"https://a.example/x"},{"source":"s","name":"two","url":"https://a.example/x"}]`)); err != nil {
		t.Fatal(err)
	}
}

// Destinations returns every matching route in order, up to the first final one;
// Match the first alone.
func TestDestinationsFanOutUntilFinal(t *testing.T) {
	t.Parallel()
	r := &route.Registry{}
	r.Add(route.Route{Source: "stripe", Types: []string{"invoice.*"}, Name: "billing"})
	r.Add(route.Route{Source: "stripe", Name: "analytics"})
	r.Add(route.Route{Source: "stripe", Types: []string{"charge.*"}, Name: "risk", Final: true})
	r.Add(route.Route{Source: "stripe", Name: "archive"})
	r.Add(route.Route{Source: "github", Name: "ci"})
	names := func(source, typ string) string {
		rts, err := r.Destinations(source, typ, nil)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, rt := range rts {
			out = append(out, rt.Name)
		}
		return strings.Join(out, ",")
	}
	for _, c := range []struct{ source, typ, want string }{
		{"stripe", "invoice.paid", "billing,analytics,archive"},
		{"stripe", "charge.refunded", "analytics,risk"},
		{"stripe", "customer.created", "analytics,archive"},
		{"github", "push", "ci"},
		{"shopify", "orders/create", ""},
	} {
		if got := names(c.source, c.typ); got != c.want {
			t.Errorf("%s %s: %q, want %q", c.source, c.typ, got, c.want)
		}
	}
	if rt, ok, _ := r.Match("stripe", "invoice.paid", nil); !ok || rt.Name != "billing" {
		t.Fatalf("Match: %v %+v, want billing", ok, rt)
	}
}

// A route added without a name is named after its dependency, made unique.
func TestAddNamesRoutes(t *testing.T) {
	t.Parallel()
	r := &route.Registry{}
	r.Add(route.Route{Source: "s", Dependency: "orders"})
	r.Add(route.Route{Source: "s", Dependency: "orders"})
	r.Add(route.Route{Source: "t", Dependency: "orders"})
	r.Add(route.Route{Source: "s"})
	rts := r.Routes()
	got := []string{rts[0].Name, rts[1].Name, rts[2].Name, rts[3].Name}
	if strings.Join(got, " ") != "orders orders-1 orders route" {
		t.Fatalf("names %v", got)
	}
}
