package processor_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/processor"
	"github.com/tenaz/tenaz/shared/route"
)

// env is a Getenv over a map.
func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestLoadConfigDefaults(t *testing.T) {
	t.Parallel()
	c, err := processor.LoadConfig(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := processor.Settings{
		MaxAttempts:    8,
		RetryBase:      5 * time.Second,
		RetryMax:       15 * time.Minute,
		Concurrency:    10,
		DeadlineMargin: 3 * time.Second,
		DeferMax:       15 * time.Minute,

		RefundMaxReceives: 150,
	}
	if c.Settings != want {
		t.Fatalf("settings %+v, want %+v", c.Settings, want)
	}
	if b := c.Breaker; b.FailureThreshold != 5 || b.Window != 30*time.Second || b.OpenFor != time.Minute || b.CacheTTL != time.Second {
		t.Fatalf("breaker settings %+v", b)
	}
	if c.Retention != 7*24*time.Hour || c.Routes != nil {
		t.Fatalf("retention %v, routes %v; want 168h and none", c.Retention, c.Routes)
	}
	// The defaults are the documented constants.
	if want.MaxAttempts != processor.DefaultMaxAttempts || want.RetryBase != processor.DefaultRetryBase ||
		want.RetryMax != processor.DefaultRetryMax || want.Concurrency != processor.DefaultConcurrency ||
		want.DeadlineMargin != processor.DefaultDeadlineMargin || c.Retention != idempotency.DefaultRetention {
		t.Fatal("LoadConfig defaults differ from the exported Default constants")
	}
}

func TestLoadConfigBounds(t *testing.T) {
	t.Parallel()
	type check func(processor.Config) bool
	for _, tc := range []struct {
		name string
		vars map[string]string
		ok   check // nil: an error naming errVar is expected
		// errVar is the variable the error must name (default: the only one of vars).
		errVar string
	}{
		{"max attempts min", map[string]string{processor.EnvMaxAttempts: "1"}, func(c processor.Config) bool { return c.Settings.MaxAttempts == 1 }, ""},
		{"max attempts max", map[string]string{processor.EnvMaxAttempts: "1000"}, func(c processor.Config) bool { return c.Settings.MaxAttempts == 1000 }, ""},
		{"max attempts zero", map[string]string{processor.EnvMaxAttempts: "0"}, nil, ""},
		{"max attempts above", map[string]string{processor.EnvMaxAttempts: "1001"}, nil, ""},
		{"max attempts text", map[string]string{processor.EnvMaxAttempts: "eight"}, nil, ""},
		{"max attempts spaces trimmed", map[string]string{processor.EnvMaxAttempts: " 12 "}, func(c processor.Config) bool { return c.Settings.MaxAttempts == 12 }, ""},

		{"refund max receives", map[string]string{processor.EnvRefundMaxReceives: "90"}, func(c processor.Config) bool { return c.Settings.RefundMaxReceives == 90 }, ""},
		{"refund max receives zero", map[string]string{processor.EnvRefundMaxReceives: "0"}, nil, ""},
		{"refund max receives text", map[string]string{processor.EnvRefundMaxReceives: "many"}, nil, ""},

		{"retry base seconds", map[string]string{processor.EnvRetryBase: "2"}, func(c processor.Config) bool { return c.Settings.RetryBase == 2*time.Second }, ""},
		{"retry base zero", map[string]string{processor.EnvRetryBase: "0"}, nil, ""},
		{"retry base fractional", map[string]string{processor.EnvRetryBase: "1.5"}, nil, ""},
		{"retry base above", map[string]string{processor.EnvRetryBase: "43201", processor.EnvRetryMax: "43200"}, nil, processor.EnvRetryBase},
		{"retry base max", map[string]string{processor.EnvRetryBase: "43200", processor.EnvRetryMax: "43200"}, func(c processor.Config) bool { return c.Settings.RetryBase == 12*time.Hour }, ""},

		{"retry max seconds", map[string]string{processor.EnvRetryMax: "60"}, func(c processor.Config) bool { return c.Settings.RetryMax == time.Minute }, ""},
		{"retry max zero", map[string]string{processor.EnvRetryMax: "0"}, nil, ""},
		{"retry max above", map[string]string{processor.EnvRetryMax: "43201"}, nil, ""},
		{"retry max equal to base", map[string]string{processor.EnvRetryMax: "5"}, func(c processor.Config) bool { return c.Settings.RetryMax == 5*time.Second }, ""},
		{"retry max below base", map[string]string{processor.EnvRetryMax: "4"}, nil, processor.EnvRetryBase},
		{"retry max below a set base", map[string]string{processor.EnvRetryBase: "60", processor.EnvRetryMax: "30"}, nil, processor.EnvRetryMax},

		{"concurrency min", map[string]string{processor.EnvConcurrency: "1"}, func(c processor.Config) bool { return c.Settings.Concurrency == 1 }, ""},
		{"concurrency max", map[string]string{processor.EnvConcurrency: "1000"}, func(c processor.Config) bool { return c.Settings.Concurrency == 1000 }, ""},
		{"concurrency negative", map[string]string{processor.EnvConcurrency: "-1"}, nil, ""},
		{"concurrency above", map[string]string{processor.EnvConcurrency: "1001"}, nil, ""},

		{"deadline margin ms", map[string]string{processor.EnvDeadlineMargin: "1500"}, func(c processor.Config) bool { return c.Settings.DeadlineMargin == 1500*time.Millisecond }, ""},
		{"deadline margin min", map[string]string{processor.EnvDeadlineMargin: "100"}, func(c processor.Config) bool { return c.Settings.DeadlineMargin == 100*time.Millisecond }, ""},
		{"deadline margin below", map[string]string{processor.EnvDeadlineMargin: "99"}, nil, ""},
		{"deadline margin max", map[string]string{processor.EnvDeadlineMargin: "60000"}, func(c processor.Config) bool { return c.Settings.DeadlineMargin == time.Minute }, ""},
		{"deadline margin above", map[string]string{processor.EnvDeadlineMargin: "60001"}, nil, ""},

		{"retention hours", map[string]string{processor.EnvRetentionHours: "720"}, func(c processor.Config) bool { return c.Retention == 30*24*time.Hour }, ""},
		{"retention min", map[string]string{processor.EnvRetentionHours: "1"}, func(c processor.Config) bool { return c.Retention == time.Hour }, ""},
		{"retention zero", map[string]string{processor.EnvRetentionHours: "0"}, nil, ""},
		{"retention max", map[string]string{processor.EnvRetentionHours: "8760"}, func(c processor.Config) bool { return c.Retention == 365*24*time.Hour }, ""},
		{"retention above", map[string]string{processor.EnvRetentionHours: "8761"}, nil, ""},

		{"routes", map[string]string{processor.EnvRoutes: `[{"source":"stripe","types":["payment_intent.*"],"url":"https://orders.internal/hooks"}]`},
			func(c processor.Config) bool {
				return len(c.Routes) == 1 && c.Routes[0].Source == "stripe" && c.Routes[0].Dependency == "orders.internal"
			}, ""},
		{"routes blank", map[string]string{processor.EnvRoutes: "  \n"}, func(c processor.Config) bool { return c.Routes == nil }, ""},
		{"routes not JSON", map[string]string{processor.EnvRoutes: "stripe=https://x"}, nil, ""},
		{"routes unknown field", map[string]string{processor.EnvRoutes: `[{"source":"stripe","url":"https://x","retries":3}]`}, nil, ""},
		{"routes bad url", map[string]string{processor.EnvRoutes: `[{"source":"stripe","url":"ftp://x"}]`}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := processor.LoadConfig(env(tc.vars))
			if tc.ok != nil {
				if err != nil {
					t.Fatalf("LoadConfig(%v): %v", tc.vars, err)
				}
				if !tc.ok(c) {
					t.Fatalf("LoadConfig(%v) = %+v", tc.vars, c)
				}
				return
			}
			if err == nil {
				t.Fatalf("LoadConfig(%v) = %+v, want an error", tc.vars, c)
			}
			name := tc.errVar
			if name == "" {
				if len(tc.vars) != 1 {
					t.Fatal("test case with several variables needs errVar")
				}
				for k := range tc.vars {
					name = k
				}
			}
			if !strings.Contains(err.Error(), name) {
				t.Fatalf("error %q does not name %s", err, name)
			}
		})
	}
}

func TestRegistryBuildsForwardAndNamedHandlers(t *testing.T) {
	t.Parallel()
	var hits int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		if r.Header.Get("Idempotency-Key") != "stripe:evt_1" {
			w.WriteHeader(http.StatusBadRequest)
		}
	}))
	t.Cleanup(srv.Close)
	c, err := processor.LoadConfig(env(map[string]string{processor.EnvRoutes: `[
		{"source":"stripe","url":"` + srv.URL + `"},
		{"source":"github","handler":"audit"}]`}))
	if err != nil {
		t.Fatal(err)
	}
	var audited []string
	audit := route.HandlerFunc(func(_ context.Context, e *envelope.Envelope, _ *idempotency.Attempt) ([]byte, error) {
		audited = append(audited, e.Key())
		return nil, nil
	})
	reg, err := c.Registry(nil, map[string]route.Handler{"audit": audit})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []*envelope.Envelope{event("stripe", "evt_1", "charge.succeeded"), event("github", "d-1", "push")} {
		rt, ok := reg.Match(e.Source, e.Type)
		if !ok {
			t.Fatalf("no route for %s", e.Source)
		}
		if _, err := rt.Handler.Handle(context.Background(), e, nil); err != nil {
			t.Fatalf("%s: %v", e.Source, err)
		}
	}
	if hits != 1 || len(audited) != 1 || audited[0] != "github:d-1" {
		t.Fatalf("forward hits %d, audited %v; want one each", hits, audited)
	}
	if _, ok := reg.Match("shopify", "orders/create"); ok {
		t.Fatal("a source without a route matched")
	}

	if _, err := c.Registry(nil, nil); err == nil || !strings.Contains(err.Error(), `"audit"`) {
		t.Fatalf("Registry without the named handler: %v, want an error naming it", err)
	}
}
