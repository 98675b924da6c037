package processor

import (
	"fmt"
	"strings"
	"time"

	"github.com/tenaz/tenaz/shared/breaker"
	"github.com/tenaz/tenaz/shared/config"
	"github.com/tenaz/tenaz/shared/forward"
	"github.com/tenaz/tenaz/shared/route"
)

// Environment settings of the processor, beside config.EnvQueueURL. Each is a
// contract with the template and operators.
const (
	EnvIdempotencyTable  = "TENAZ_IDEMPOTENCY_TABLE"       // DynamoDB table of idempotency records (required in Lambda)
	EnvDLQURL            = "TENAZ_DLQ_URL"                 // dead-letter queue URL (required in Lambda)
	EnvRoutes            = "TENAZ_ROUTES"                  // routes JSON (see route.Config); empty = every event unrouted
	EnvMaxAttempts       = "TENAZ_MAX_ATTEMPTS"            // attempts before dead-lettering; default 8
	EnvRetryBase         = "TENAZ_RETRY_BASE_SECONDS"      // backoff base, seconds; default 5
	EnvRetryMax          = "TENAZ_RETRY_MAX_SECONDS"       // backoff cap, seconds; default 900
	EnvConcurrency       = "TENAZ_CONCURRENCY"             // records of a batch at once; default 10
	EnvDeadlineMargin    = "TENAZ_DEADLINE_MARGIN_MS"      // kept free before the deadline, ms; default 3000
	EnvRetentionHours    = "TENAZ_IDEMPOTENCY_RETENTION_H" // idempotency record retention, hours; default 168 (7 days)
	EnvDeferMax          = "TENAZ_DEFER_MAX_SECONDS"       // longest deferral while a breaker is open, seconds; default 900
	EnvRefundMaxReceives = "TENAZ_REFUND_MAX_RECEIVES"     // receives after which a failed probe is an attempt; default 150

	EnvBreakerTable    = "TENAZ_BREAKER_TABLE"          // DynamoDB table of breaker state; empty = no breakers
	EnvBreakerFailures = "TENAZ_BREAKER_FAILURES"       // failures in a window that open a breaker; default 5
	EnvBreakerWindow   = "TENAZ_BREAKER_WINDOW_SECONDS" // failure window, seconds; default 30
	EnvBreakerOpen     = "TENAZ_BREAKER_OPEN_SECONDS"   // open period before a probe, seconds; default 60
	EnvBreakerCache    = "TENAZ_BREAKER_CACHE_MS"       // breaker state cache per container, ms; default 1000
)

// Config is the processor's configuration read from the environment.
type Config struct {
	Settings  Settings
	Routes    []route.Config
	Retention time.Duration
	// Breaker holds the breaker thresholds; the caller adds the clock and hooks.
	Breaker breaker.Settings
}

// LoadConfig reads and validates the processor's settings (not the AWS resource
// names, which only the Lambda main needs).
func LoadConfig(getenv config.Getenv) (Config, error) {
	var c Config
	var err error
	if c.Settings.MaxAttempts, err = config.Int(getenv, EnvMaxAttempts, DefaultMaxAttempts, 1, 1000); err != nil {
		return c, err
	}
	if c.Settings.RetryBase, err = config.Duration(getenv, EnvRetryBase, time.Second, DefaultRetryBase, 1, 43200); err != nil {
		return c, err
	}
	if c.Settings.RetryMax, err = config.Duration(getenv, EnvRetryMax, time.Second, DefaultRetryMax, 1, 43200); err != nil {
		return c, err
	}
	if c.Settings.RetryMax < c.Settings.RetryBase {
		return c, fmt.Errorf("%s (%v) is below %s (%v)", EnvRetryMax, c.Settings.RetryMax, EnvRetryBase, c.Settings.RetryBase)
	}
	if c.Settings.Concurrency, err = config.Int(getenv, EnvConcurrency, DefaultConcurrency, 1, 1000); err != nil {
		return c, err
	}
	if c.Settings.DeadlineMargin, err = config.Duration(getenv, EnvDeadlineMargin, time.Millisecond, DefaultDeadlineMargin, 100, 60000); err != nil {
		return c, err
	}
	if c.Retention, err = config.Duration(getenv, EnvRetentionHours, time.Hour, 7*24*time.Hour, 1, 24*365); err != nil {
		return c, err
	}
	if c.Settings.DeferMax, err = config.Duration(getenv, EnvDeferMax, time.Second, DefaultDeferMax, 1, 43200); err != nil {
		return c, err
	}
	if c.Settings.RefundMaxReceives, err = config.Int(getenv, EnvRefundMaxReceives, DefaultRefundMaxReceives, 1, 100000); err != nil {
		return c, err
	}
	if c.Breaker.FailureThreshold, err = config.Int(getenv, EnvBreakerFailures, breaker.DefaultFailureThreshold, 1, 10000); err != nil {
		return c, err
	}
	if c.Breaker.Window, err = config.Duration(getenv, EnvBreakerWindow, time.Second, breaker.DefaultWindow, 1, 3600); err != nil {
		return c, err
	}
	if c.Breaker.OpenFor, err = config.Duration(getenv, EnvBreakerOpen, time.Second, breaker.DefaultOpenFor, 1, 3600); err != nil {
		return c, err
	}
	if c.Breaker.CacheTTL, err = config.Duration(getenv, EnvBreakerCache, time.Millisecond, breaker.DefaultCacheTTL, 0, 60000); err != nil {
		return c, err
	}
	if c.Breaker.CacheTTL == 0 {
		c.Breaker.CacheTTL = -1 // 0 from the environment: read the state on every call
	}
	if raw := strings.TrimSpace(getenv(EnvRoutes)); raw != "" {
		if c.Routes, err = route.ParseConfig([]byte(raw)); err != nil {
			return c, fmt.Errorf("%s: %w", EnvRoutes, err)
		}
	}
	return c, nil
}

// Registry builds the routes with the built-in forward handler (through client, nil
// for the default) and the named Go handlers given.
func (c Config) Registry(client forward.Doer, named map[string]route.Handler) (*route.Registry, error) {
	makers := map[string]func(route.Config) (route.Handler, error){
		"forward": func(rc route.Config) (route.Handler, error) { return forward.FromConfig(rc, client), nil },
	}
	for name, h := range named {
		h := h
		makers[name] = func(route.Config) (route.Handler, error) { return h, nil }
	}
	return route.Build(c.Routes, makers)
}
