package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tenaz/tenaz/shared/config"
	"github.com/tenaz/tenaz/shared/redrive"
)

// function is one binary the bench builds and starts.
type function struct {
	name string // as in startup.json: the directory under functions/, or hello
	pkg  string // package path from the module root
	// settings returns the function's own environment given the loopback AWS
	// endpoint: enough to initialise without network I/O, as the template would set
	// it apart from the sources secret, which is given inline.
	settings func(endpoint string) map[string]string
}

// helloName is the baseline, built and started like the functions.
const helloName = "hello"

// sourcesJSON is TENAZ_SOURCES for ingest: one source of each signature scheme, with
// made-up secrets.
const sourcesJSON = `{
  "stripe": {"scheme": "stripe", "secrets": ["whsec_startup_bench_current", "whsec_startup_bench_previous"]},
  "github": {"scheme": "github", "secrets": ["startup-bench-github"]},
  "shopify": {"scheme": "shopify", "secrets": ["startup-bench-shopify"]},
  "slack": {"scheme": "slack", "secrets": ["startup-bench-slack"]},
  "standard-webhooks": {"scheme": "standard-webhooks", "secrets": ["whsec_c3RhcnR1cC1iZW5jaC1zdGFuZGFyZC13ZWJob29rcw=="]},
  "acme": {"scheme": "hmac-sha256", "secrets": ["startup-bench-acme"], "header": "X-Acme-Signature", "encoding": "hex", "prefix": "sha256=", "idField": "event_id", "typeField": "event_type"}
}`

// routesJSON is TENAZ_ROUTES for the processor and redrive: two forward routes, one
// with steps, whose destinations are the loopback endpoint, so a connection to
// either during init is counted too.
func routesJSON(endpoint string) string {
	routes := []map[string]any{
		{"source": "stripe", "types": []string{"payment_intent.*"}, "url": endpoint + "/destinations/payments", "timeoutSeconds": 10},
		{"source": "github", "steps": []map[string]any{
			{"name": "ci", "url": endpoint + "/destinations/ci"},
			{"name": "audit", "url": endpoint + "/destinations/audit", "timeoutSeconds": 5},
		}},
	}
	b, err := json.Marshal(routes)
	if err != nil {
		panic(err) // maps of strings and numbers always marshal
	}
	return string(b)
}

func queueURL(endpoint, name string) string { return endpoint + "/000000000000/" + name }

// functions returns the bench's functions: one per functions/*/main.go, then hello.
// It fails when a function directory has no environment here, or the reverse, so a
// new function is not silently left out.
func functions(root string) ([]function, error) {
	known := map[string]func(endpoint string) map[string]string{
		"ingest": func(ep string) map[string]string {
			return map[string]string{
				config.EnvQueueURL:     queueURL(ep, "tenaz-webhooks"),
				config.EnvSources:      sourcesJSON,
				config.EnvMaxBodyBytes: "262144",
				config.EnvLogLevel:     "info",
			}
		},
		"processor": func(ep string) map[string]string {
			return map[string]string{
				config.EnvQueueURL:         queueURL(ep, "tenaz-webhooks"),
				config.EnvDLQURL:           queueURL(ep, "tenaz-webhooks-dlq"),
				config.EnvIdempotencyTable: "tenaz-idempotency",
				config.EnvRoutes:           routesJSON(ep),
				config.EnvMaxAttempts:      "8",
				config.EnvRetryBase:        "5",
				config.EnvRetryMax:         "900",
				config.EnvBreakerTable:     "tenaz-breakers",
				config.EnvBreakerFailures:  "5",
				config.EnvBreakerWindow:    "30",
				config.EnvBreakerOpen:      "60",
				config.EnvBreakerCache:     "1000",
				config.EnvDeferMax:         "900",
				config.EnvLogLevel:         "info",
			}
		},
		"redrive": func(ep string) map[string]string {
			return map[string]string{
				config.EnvQueueURL:         queueURL(ep, "tenaz-webhooks"),
				config.EnvDLQURL:           queueURL(ep, "tenaz-webhooks-dlq"),
				config.EnvIdempotencyTable: "tenaz-idempotency",
				redrive.EnvLimit:           "3",
				config.EnvBreakerTable:     "tenaz-breakers",
				config.EnvRoutes:           routesJSON(ep),
				config.EnvBreakerFailures:  "5",
				config.EnvBreakerWindow:    "30",
				config.EnvBreakerOpen:      "60",
				config.EnvLogLevel:         "info",
			}
		},
	}
	mains, err := filepath.Glob(filepath.Join(root, "functions", "*", "main.go"))
	if err != nil {
		return nil, err
	}
	var fns []function
	for _, m := range mains {
		name := filepath.Base(filepath.Dir(m))
		settings, ok := known[name]
		if !ok {
			return nil, fmt.Errorf("functions/%s has no start-up environment in infra/bench/startup", name)
		}
		delete(known, name)
		fns = append(fns, function{name: name, pkg: "./functions/" + name, settings: settings})
	}
	if len(known) > 0 {
		missing := make([]string, 0, len(known))
		for name := range known {
			missing = append(missing, "functions/"+name)
		}
		slices.Sort(missing)
		return nil, fmt.Errorf("no main.go in %s", strings.Join(missing, ", "))
	}
	if _, err := os.Stat(filepath.Join(root, "infra", "bench", "hello", "main.go")); err != nil {
		return nil, fmt.Errorf("the hello-world baseline: %w", err)
	}
	fns = append(fns, function{name: helloName, pkg: "./infra/bench/hello", settings: func(string) map[string]string { return nil }})
	return fns, nil
}

// Static made-up credentials: with them the SDK needs no credential provider that
// does I/O.
const (
	fakeAccessKeyID = "AKIDSTARTUPBENCH0000"
	fakeSecretKey   = "startup-bench-secret-access-key-not-a-real-one"
	fakeToken       = "startup-bench-session-token"
)

// lambdaEnv is the environment of a function's process as Lambda sets it for
// provided.al2023 with the template's settings (256 MB, JSON logs), with made-up
// credentials and the AWS endpoint (and instance metadata endpoint) on loopback,
// followed by the function's own settings. The process inherits nothing else.
// measure adds AWS_LAMBDA_RUNTIME_API and HOME.
func lambdaEnv(fn function, endpoint string) []string {
	env := []string{
		"AWS_LAMBDA_FUNCTION_NAME=tenaz-" + fn.name,
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256",
		"AWS_LAMBDA_INITIALIZATION_TYPE=on-demand",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/tenaz-" + fn.name,
		"AWS_LAMBDA_LOG_STREAM_NAME=2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef",
		"AWS_LAMBDA_LOG_FORMAT=JSON",
		"AWS_REGION=us-east-1",
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=" + fakeAccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + fakeSecretKey,
		"AWS_SESSION_TOKEN=" + fakeToken,
		"AWS_ENDPOINT_URL=" + endpoint,
		"AWS_EC2_METADATA_SERVICE_ENDPOINT=" + endpoint,
		"LAMBDA_TASK_ROOT=/var/task",
		"LAMBDA_RUNTIME_DIR=/var/runtime",
		"_HANDLER=bootstrap",
		"TZ=:UTC",
		"LANG=en_US.UTF-8",
		"PATH=/usr/local/bin:/usr/bin/:/bin:/opt/bin",
	}
	settings := fn.settings(endpoint)
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		env = append(env, k+"="+settings[k])
	}
	return env
}
