package config

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/telemetry"
)

func TestLoadProcessorDefaults(t *testing.T) {
	t.Parallel()
	c, err := LoadProcessor(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := Processor{
		MaxAttempts:    8,
		RetryBase:      5 * time.Second,
		RetryMax:       15 * time.Minute,
		Concurrency:    10,
		DeadlineMargin: 3 * time.Second,
		DeferMax:       15 * time.Minute,
		QueueRetention: 4 * 24 * time.Hour,

		RefundMaxReceives: 150,
		SecretCache:       5 * time.Minute,
		Retention:         c.Retention, Routes: c.Routes, Breaker: c.Breaker, // checked below
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("settings %+v, want %+v", c, want)
	}
	if b := c.Breaker; b.FailureThreshold != 5 || b.Window != 30*time.Second || b.OpenFor != time.Minute || b.CacheTTL != time.Second {
		t.Fatalf("breaker settings %+v", b)
	}
	if c.MetricsDetail != telemetry.ByOutcome {
		t.Fatalf("metrics detail %v, want outcome", c.MetricsDetail)
	}
	if c.Retention != 7*24*time.Hour || c.Routes != nil {
		t.Fatalf("retention %v, routes %v; want 168h and none", c.Retention, c.Routes)
	}
	// The defaults are the documented constants.
	if want.MaxAttempts != DefaultMaxAttempts || want.RetryBase != DefaultRetryBase ||
		want.RetryMax != DefaultRetryMax || want.Concurrency != DefaultConcurrency ||
		want.DeadlineMargin != DefaultDeadlineMargin || c.Retention != idempotency.DefaultRetention ||
		want.QueueRetention != DefaultQueueRetention {
		t.Fatal("LoadProcessor defaults differ from the exported Default constants")
	}
}

func TestLoadProcessorBounds(t *testing.T) {
	t.Parallel()
	type check func(Processor) bool
	for _, tc := range []struct {
		name string
		vars map[string]string
		ok   check // nil: an error naming errVar is expected
		// errVar is the variable the error must name (default: the only one of vars).
		errVar string
	}{
		{"max attempts min", map[string]string{EnvMaxAttempts: "1"}, func(c Processor) bool { return c.MaxAttempts == 1 }, ""},
		{"max attempts max", map[string]string{EnvMaxAttempts: "1000"}, func(c Processor) bool { return c.MaxAttempts == 1000 }, ""},
		{"max attempts zero", map[string]string{EnvMaxAttempts: "0"}, nil, ""},
		{"max attempts above", map[string]string{EnvMaxAttempts: "1001"}, nil, ""},
		{"max attempts text", map[string]string{EnvMaxAttempts: "eight"}, nil, ""},
		{"max attempts spaces trimmed", map[string]string{EnvMaxAttempts: " 12 "}, func(c Processor) bool { return c.MaxAttempts == 12 }, ""},

		{"metrics detail source", map[string]string{EnvMetricsDetail: "source"}, func(c Processor) bool { return c.MetricsDetail == telemetry.BySource }, ""},
		{"metrics detail type", map[string]string{EnvMetricsDetail: " Type "}, func(c Processor) bool { return c.MetricsDetail == telemetry.ByType }, ""},
		{"metrics detail outcome", map[string]string{EnvMetricsDetail: "outcome"}, func(c Processor) bool { return c.MetricsDetail == telemetry.ByOutcome }, ""},
		{"metrics detail unknown", map[string]string{EnvMetricsDetail: "all"}, nil, ""},

		{"secret cache seconds", map[string]string{EnvSecretCache: "60"}, func(c Processor) bool { return c.SecretCache == time.Minute }, ""},
		{"secret cache zero reads every time", map[string]string{EnvSecretCache: "0"}, func(c Processor) bool { return c.SecretCache < 0 }, ""},
		{"secret cache max", map[string]string{EnvSecretCache: "86400"}, func(c Processor) bool { return c.SecretCache == 24*time.Hour }, ""},
		{"secret cache above", map[string]string{EnvSecretCache: "86401"}, nil, ""},
		{"secret cache negative", map[string]string{EnvSecretCache: "-5"}, nil, ""},

		{"refund max receives", map[string]string{EnvRefundMaxReceives: "90"}, func(c Processor) bool { return c.RefundMaxReceives == 90 }, ""},
		{"refund max receives zero", map[string]string{EnvRefundMaxReceives: "0"}, nil, ""},
		{"refund max receives text", map[string]string{EnvRefundMaxReceives: "many"}, nil, ""},

		{"retry base seconds", map[string]string{EnvRetryBase: "2"}, func(c Processor) bool { return c.RetryBase == 2*time.Second }, ""},
		{"retry base zero", map[string]string{EnvRetryBase: "0"}, nil, ""},
		{"retry base fractional", map[string]string{EnvRetryBase: "1.5"}, nil, ""},
		{"retry base above", map[string]string{EnvRetryBase: "43201", EnvRetryMax: "43200"}, nil, EnvRetryBase},
		{"retry base max", map[string]string{EnvRetryBase: "43200", EnvRetryMax: "43200"}, func(c Processor) bool { return c.RetryBase == 12*time.Hour }, ""},

		{"retry max seconds", map[string]string{EnvRetryMax: "60"}, func(c Processor) bool { return c.RetryMax == time.Minute }, ""},
		{"retry max zero", map[string]string{EnvRetryMax: "0"}, nil, ""},
		{"retry max above", map[string]string{EnvRetryMax: "43201"}, nil, ""},
		{"retry max equal to base", map[string]string{EnvRetryMax: "5"}, func(c Processor) bool { return c.RetryMax == 5*time.Second }, ""},
		{"retry max below base", map[string]string{EnvRetryMax: "4"}, nil, EnvRetryBase},
		{"retry max below a set base", map[string]string{EnvRetryBase: "60", EnvRetryMax: "30"}, nil, EnvRetryMax},

		{"concurrency min", map[string]string{EnvConcurrency: "1"}, func(c Processor) bool { return c.Concurrency == 1 }, ""},
		{"concurrency max", map[string]string{EnvConcurrency: "1000"}, func(c Processor) bool { return c.Concurrency == 1000 }, ""},
		{"concurrency negative", map[string]string{EnvConcurrency: "-1"}, nil, ""},
		{"concurrency above", map[string]string{EnvConcurrency: "1001"}, nil, ""},

		{"deadline margin ms", map[string]string{EnvDeadlineMargin: "1500"}, func(c Processor) bool { return c.DeadlineMargin == 1500*time.Millisecond }, ""},
		{"deadline margin min", map[string]string{EnvDeadlineMargin: "100"}, func(c Processor) bool { return c.DeadlineMargin == 100*time.Millisecond }, ""},
		{"deadline margin below", map[string]string{EnvDeadlineMargin: "99"}, nil, ""},
		{"deadline margin max", map[string]string{EnvDeadlineMargin: "60000"}, func(c Processor) bool { return c.DeadlineMargin == time.Minute }, ""},
		{"deadline margin above", map[string]string{EnvDeadlineMargin: "60001"}, nil, ""},

		{"retention hours", map[string]string{EnvRetentionHours: "720"}, func(c Processor) bool { return c.Retention == 30*24*time.Hour }, ""},
		{"retention min", map[string]string{EnvRetentionHours: "1"}, func(c Processor) bool { return c.Retention == time.Hour }, ""},
		{"retention zero", map[string]string{EnvRetentionHours: "0"}, nil, ""},
		{"retention max", map[string]string{EnvRetentionHours: "8760"}, func(c Processor) bool { return c.Retention == 365*24*time.Hour }, ""},
		{"retention above", map[string]string{EnvRetentionHours: "8761"}, nil, ""},

		{"queue retention seconds", map[string]string{EnvQueueRetention: "86400"}, func(c Processor) bool { return c.QueueRetention == 24*time.Hour }, ""},
		{"queue retention max", map[string]string{EnvQueueRetention: "1209600"}, func(c Processor) bool { return c.QueueRetention == 14*24*time.Hour }, ""},
		{"queue retention above", map[string]string{EnvQueueRetention: "1209601"}, nil, ""},
		{"queue retention below", map[string]string{EnvQueueRetention: "59"}, nil, ""},
		{"queue retention text", map[string]string{EnvQueueRetention: "4d"}, nil, ""},
		{"queue retention at the retry max", map[string]string{EnvQueueRetention: "900"}, nil, ""},
		{"queue retention just above the delays", map[string]string{EnvQueueRetention: "901"}, func(c Processor) bool { return c.QueueRetention == 901*time.Second }, ""},
		{"queue retention below the defer max", map[string]string{EnvQueueRetention: "3600", EnvRetryMax: "60", EnvDeferMax: "3600"}, nil, EnvQueueRetention},
		{"queue retention below the retry max", map[string]string{EnvQueueRetention: "3600", EnvRetryMax: "7200"}, nil, EnvRetryMax},

		{"routes", map[string]string{EnvRoutes: `[{"source":"stripe","types":["payment_intent.*"],"url":"https://orders.internal/hooks"}]`},
			func(c Processor) bool {
				return len(c.Routes) == 1 && c.Routes[0].Source == "stripe" && c.Routes[0].Dependency == "orders.internal"
			}, ""},
		{"routes blank", map[string]string{EnvRoutes: "  \n"}, func(c Processor) bool { return c.Routes == nil }, ""},
		{"routes not JSON", map[string]string{EnvRoutes: "stripe=https://x"}, nil, ""},
		{"routes unknown field", map[string]string{EnvRoutes: `[{"source":"stripe","url":"https://x","retries":3}]`}, nil, ""},
		{"routes bad url", map[string]string{EnvRoutes: `[{"source":"stripe","url":"ftp://x"}]`}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := LoadProcessor(env(tc.vars))
			if tc.ok != nil {
				if err != nil {
					t.Fatalf("LoadProcessor(%v): %v", tc.vars, err)
				}
				if !tc.ok(c) {
					t.Fatalf("LoadProcessor(%v) = %+v", tc.vars, c)
				}
				return
			}
			if err == nil {
				t.Fatalf("LoadProcessor(%v) = %+v, want an error", tc.vars, c)
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
