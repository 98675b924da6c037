package route

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func mustFilter(t testing.TB, spec string) *Filter {
	t.Helper()
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(spec), &raw); err != nil {
		t.Fatal(err)
	}
	f, err := ParseFilter(raw)
	if err != nil {
		t.Fatalf("ParseFilter(%s): %v", spec, err)
	}
	return f
}

func TestFilterAccepts(t *testing.T) {
	t.Parallel()
	const stripe = `{"id":"evt_1","type":"invoice.paid","data":{"object":{"currency":"eur","amount":2000,"livemode":true,"customer":null,"note":"x.y"}}}`
	cases := []struct {
		filter, body string
		want         bool
	}{
		{`{"data.object.currency": "eur"}`, stripe, true},
		{`{"data.object.currency": "usd"}`, stripe, false},
		{`{"data.object.currency": "EUR"}`, stripe, false},
		{`{"data.object.amount": 2000}`, stripe, true},
		{`{"data.object.amount": 2000.0}`, stripe, true},
		{`{"data.object.amount": 2e3}`, stripe, true},
		{`{"data.object.amount": "2000"}`, stripe, false},
		{`{"data.object.livemode": true}`, stripe, true},
		{`{"data.object.livemode": false}`, stripe, false},
		{`{"data.object.customer": null}`, stripe, true},
		{`{"data.object.missing": null}`, stripe, false},
		{`{"data.object.customer": {"exists": true}}`, stripe, true},
		{`{"data.object.missing": {"exists": true}}`, stripe, false},
		{`{"data.object.missing": {"exists": false}}`, stripe, true},
		{`{"data.object.currency.deeper": {"exists": true}}`, stripe, false},
		{`{"type": {"pattern": "invoice.*"}}`, stripe, true},
		{`{"type": {"pattern": "charge.*"}}`, stripe, false},
		{`{"data.object.amount": {"pattern": "*"}}`, stripe, false},
		{`{"data.object.currency": {"anyOf": ["usd", "eur"]}}`, stripe, true},
		{`{"data.object.currency": {"anyOf": ["usd", "gbp"]}}`, stripe, false},
		{`{"data.object.amount": {"anyOf": [1, 2000.00]}}`, stripe, true},
		// Every condition must hold.
		{`{"data.object.currency": "eur", "data.object.livemode": true}`, stripe, true},
		{`{"data.object.currency": "eur", "data.object.livemode": false}`, stripe, false},
		// Bodies that are not a JSON object.
		{`{"data.object.currency": "eur"}`, `payload=%7B%7D`, false},
		{`{"data.object.currency": "eur"}`, `["eur"]`, false},
		{`{"data.object.currency": "eur"}`, ``, false},
		{`{"data.object.currency": "eur"}`, stripe + ` {}`, false},
		{`{"data.object.currency": {"exists": false}}`, `not json`, true},
	}
	for _, c := range cases {
		if got := mustFilter(t, c.filter).Accepts([]byte(c.body)); got != c.want {
			t.Errorf("%s on %.60s = %v, want %v", c.filter, c.body, got, c.want)
		}
	}
	var none *Filter
	if !none.Accepts([]byte("anything")) {
		t.Error("a nil filter refused a body")
	}
}

func TestParseFilterRefuses(t *testing.T) {
	t.Parallel()
	for spec, want := range map[string]string{
		`{}`:                      "empty",
		`{"": "x"}`:               "none empty",
		`{"data..currency": "x"}`: "none empty",
		`{"a": ["eur", "usd"]}`:   "anyOf",
		`{"a": {"equals": "x"}}`:  "unknown operator",
		`{"a": {"exists": true, "pattern": "x"}}`: "exactly one",
		`{"a": {"exists": "yes"}}`:                "true or false",
		`{"a": {"pattern": ""}}`:                  "non-empty string",
		`{"a": {"pattern": 1}}`:                   "non-empty string",
		`{"a": {"anyOf": []}}`:                    "non-empty array",
		`{"a": {"anyOf": [{"b": 1}]}}`:            "strings, numbers",
		`{"a": {}}`:                               "exactly one",
	} {
		var raw map[string]json.RawMessage
		if err := json.Unmarshal([]byte(spec), &raw); err != nil {
			t.Fatal(err)
		}
		_, err := ParseFilter(raw)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseFilter(%s) = %v, want an error saying %q", spec, err, want)
		}
	}
	if _, err := ParseConfig([]byte(`[{"source": "stripe", "url": "https://x.example/h", "filter": {"a": {"nope": 1}}}]`)); err == nil ||
		!strings.Contains(err.Error(), "route 0 (stripe)") {
		t.Errorf("ParseConfig with a bad filter: %v", err)
	}
}

// The first route whose type and filter both accept the event wins; the body is read
// once, and only when a candidate route has a filter.
func TestRegistryMatchFilters(t *testing.T) {
	t.Parallel()
	var r Registry
	r.Add(Route{Source: "stripe", Types: []string{"invoice.*"}, Filter: mustFilter(t, `{"data.object.currency": "eur"}`), Handler: named("eu")})
	r.Add(Route{Source: "stripe", Types: []string{"invoice.*"}, Filter: mustFilter(t, `{"data.object.currency": "usd"}`), Handler: named("us")})
	r.Add(Route{Source: "github", Handler: named("gh")})
	reads := 0
	body := func(b string) func() ([]byte, error) {
		return func() ([]byte, error) { reads++; return []byte(b), nil }
	}
	for _, c := range []struct {
		source, typ, body, want string
		reads                   int
	}{
		{"stripe", "invoice.paid", `{"data":{"object":{"currency":"eur"}}}`, "eu", 1},
		{"stripe", "invoice.paid", `{"data":{"object":{"currency":"usd"}}}`, "us", 1},
		{"stripe", "invoice.paid", `{"data":{"object":{"currency":"gbp"}}}`, "", 1},
		{"stripe", "charge.refunded", `{"data":{"object":{"currency":"eur"}}}`, "", 0},
		{"github", "push", `{}`, "gh", 0},
	} {
		reads = 0
		rt, ok, err := r.Match(c.source, c.typ, body(c.body))
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if ok {
			b, _ := rt.Handler.Handle(t.Context(), nil, nil)
			got = string(b)
		}
		if got != c.want || reads != c.reads {
			t.Errorf("%s/%s %s -> %q after %d reads, want %q after %d", c.source, c.typ, c.body, got, reads, c.want, c.reads)
		}
	}
	boom := errors.New("store down")
	if _, _, err := r.Match("stripe", "invoice.paid", func() ([]byte, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Errorf("a failed body read: %v, want it returned", err)
	}
}

// FuzzFilter: no filter or body makes Accepts panic, and a filter on a field accepts
// exactly the bodies holding that value there.
func FuzzFilter(f *testing.F) {
	f.Add(`{"a.b": "x"}`, `{"a":{"b":"x"}}`)
	f.Add(`{"a": {"pattern": "*.*.*x"}}`, `{"a":"`+strings.Repeat(".", 2000)+`"}`)
	f.Add(`{"a": {"anyOf": [1, "1", null]}}`, `{"a":1.0}`)
	f.Fuzz(func(t *testing.T, spec, body string) {
		var raw map[string]json.RawMessage
		if json.Unmarshal([]byte(spec), &raw) != nil {
			return
		}
		flt, err := ParseFilter(raw)
		if err != nil {
			return
		}
		_ = flt.Accepts([]byte(body))
		// The field's own value, written back into a body, is accepted by an
		// equality filter on it.
		v, err := json.Marshal(body)
		if err != nil {
			return
		}
		eq := mustFilter(t, `{"k": `+string(v)+`}`)
		if !eq.Accepts([]byte(`{"k": ` + string(v) + `}`)) {
			t.Fatalf("equality filter refused its own value %s", v)
		}
	})
}
