package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/tenaz/tenaz/shared/breaker"
	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/route"
	"github.com/tenaz/tenaz/shared/secrets"
	"github.com/tenaz/tenaz/shared/telemetry"
)

// Names of the processor's settings, beside EnvQueueURL; the redrive function reads
// the queue, table and route names too.
const (
	EnvIdempotencyTable  = "TENAZ_IDEMPOTENCY_TABLE"       // DynamoDB table of idempotency records (required by the processor)
	EnvDLQURL            = "TENAZ_DLQ_URL"                 // dead-letter queue URL (required by the processor and redrive)
	EnvRoutes            = "TENAZ_ROUTES"                  // routes JSON (see route.Config); empty = every event unrouted
	EnvMaxAttempts       = "TENAZ_MAX_ATTEMPTS"            // attempts before dead-lettering; default 8
	EnvRetryBase         = "TENAZ_RETRY_BASE_SECONDS"      // backoff base, seconds; default 5
	EnvRetryMax          = "TENAZ_RETRY_MAX_SECONDS"       // backoff cap, seconds; default 900
	EnvConcurrency       = "TENAZ_CONCURRENCY"             // records of a batch at once; default 10
	EnvDeadlineMargin    = "TENAZ_DEADLINE_MARGIN_MS"      // kept free before the deadline, ms; default 3000
	EnvRetentionHours    = "TENAZ_IDEMPOTENCY_RETENTION_H" // idempotency record retention, hours; default 168 (7 days)
	EnvDeferMax          = "TENAZ_DEFER_MAX_SECONDS"       // longest deferral while a breaker is open, seconds; default 900
	EnvRefundMaxReceives = "TENAZ_REFUND_MAX_RECEIVES"     // receives after which a failed probe is an attempt; default 150
	EnvQueueRetention    = "TENAZ_QUEUE_RETENTION_SECONDS" // the main queue's MessageRetentionPeriod, seconds; default 345600 (4 days)
	// EnvMetricsDetail breaks the processor's outcome counters (CloudWatch custom
	// metrics, billed per metric) down: outcome (default: one metric per outcome,
	// totals over every source and type), source (adds one per outcome and source)
	// or type (adds one per outcome and source, and per outcome, source and type).
	EnvMetricsDetail = "TENAZ_METRICS_DETAIL"

	EnvBreakerTable    = "TENAZ_BREAKER_TABLE"          // DynamoDB table of breaker state; empty = no breakers
	EnvBreakerFailures = "TENAZ_BREAKER_FAILURES"       // failures in a window that open a breaker; default 5
	EnvBreakerWindow   = "TENAZ_BREAKER_WINDOW_SECONDS" // failure window, seconds; default 30
	EnvBreakerOpen     = "TENAZ_BREAKER_OPEN_SECONDS"   // open period before a probe, seconds; default 60
	EnvBreakerCache    = "TENAZ_BREAKER_CACHE_MS"       // breaker state cache per container, ms; default 1000

	// EnvSecretCache is how long a container uses a delivery secret (a route's
	// signingSecret or header secret) before reading it again, in seconds; default
	// 300, 0 reads it for every delivery. A rotated secret is in use at most this long
	// after the rotation.
	EnvSecretCache = "TENAZ_SECRET_CACHE_SECONDS"
)

// Defaults of the processor's settings; processor.Settings takes the same for a zero
// field.
const (
	DefaultMaxAttempts       = 8
	DefaultRetryBase         = 5 * time.Second
	DefaultRetryMax          = 15 * time.Minute
	DefaultConcurrency       = 10
	DefaultDeadlineMargin    = 3 * time.Second
	DefaultDeferMax          = 15 * time.Minute
	DefaultRefundMaxReceives = 150
	// DefaultQueueRetention is the main queue's MessageRetentionPeriod in the template
	// (and the SQS default): 4 days.
	DefaultQueueRetention = 4 * 24 * time.Hour
)

// Processor is the processor's configuration read from the environment (not the AWS
// resource names, which only the Lambda main needs). The fields mean what the
// processor.Settings fields of the same names mean.
type Processor struct {
	MaxAttempts, Concurrency, RefundMaxReceives   int
	RetryBase, RetryMax, DeadlineMargin, DeferMax time.Duration
	Retention                                     time.Duration // of idempotency records
	QueueRetention                                time.Duration // of the main queue's messages
	Routes                                        []route.Config
	// Breaker holds the breaker thresholds; the caller adds the clock and hooks.
	Breaker breaker.Settings
	// MetricsDetail is how finely the outcome counters are broken down.
	MetricsDetail telemetry.Detail
	// SecretCache is how long a delivery secret is used before it is read again;
	// negative: read for every delivery (secrets.Options.TTL).
	SecretCache time.Duration
}

// LoadProcessor reads and validates the processor's settings.
func LoadProcessor(getenv Getenv) (Processor, error) {
	var c Processor
	var err error
	if c.MaxAttempts, err = Int(getenv, EnvMaxAttempts, DefaultMaxAttempts, 1, 1000); err != nil {
		return c, err
	}
	if c.RetryBase, err = Duration(getenv, EnvRetryBase, time.Second, DefaultRetryBase, 1, 43200); err != nil {
		return c, err
	}
	if c.RetryMax, err = Duration(getenv, EnvRetryMax, time.Second, DefaultRetryMax, 1, 43200); err != nil {
		return c, err
	}
	if c.RetryMax < c.RetryBase {
		return c, fmt.Errorf("%s (%v) is below %s (%v)", EnvRetryMax, c.RetryMax, EnvRetryBase, c.RetryBase)
	}
	if c.Concurrency, err = Int(getenv, EnvConcurrency, DefaultConcurrency, 1, 1000); err != nil {
		return c, err
	}
	if c.DeadlineMargin, err = Duration(getenv, EnvDeadlineMargin, time.Millisecond, DefaultDeadlineMargin, 100, 60000); err != nil {
		return c, err
	}
	if c.Retention, err = Duration(getenv, EnvRetentionHours, time.Hour, idempotency.DefaultRetention, 1, 24*365); err != nil {
		return c, err
	}
	if c.DeferMax, err = Duration(getenv, EnvDeferMax, time.Second, DefaultDeferMax, 1, 43200); err != nil {
		return c, err
	}
	// SQS keeps a message between 60 s and 14 days.
	if c.QueueRetention, err = Duration(getenv, EnvQueueRetention, time.Second, DefaultQueueRetention, 60, 1209600); err != nil {
		return c, err
	}
	if longest := max(c.RetryMax, c.DeferMax); c.QueueRetention <= longest {
		return c, fmt.Errorf("%s (%v) leaves no room for a delay of %v (%s, %s): every record retried or deferred would be dead-lettered as expiring",
			EnvQueueRetention, c.QueueRetention, longest, EnvRetryMax, EnvDeferMax)
	}
	if c.RefundMaxReceives, err = Int(getenv, EnvRefundMaxReceives, DefaultRefundMaxReceives, 1, 100000); err != nil {
		return c, err
	}
	if c.Breaker.FailureThreshold, err = Int(getenv, EnvBreakerFailures, breaker.DefaultFailureThreshold, 1, 10000); err != nil {
		return c, err
	}
	if c.Breaker.Window, err = Duration(getenv, EnvBreakerWindow, time.Second, breaker.DefaultWindow, 1, 3600); err != nil {
		return c, err
	}
	if c.Breaker.OpenFor, err = Duration(getenv, EnvBreakerOpen, time.Second, breaker.DefaultOpenFor, 1, 3600); err != nil {
		return c, err
	}
	if c.Breaker.CacheTTL, err = Duration(getenv, EnvBreakerCache, time.Millisecond, breaker.DefaultCacheTTL, 0, 60000); err != nil {
		return c, err
	}
	if c.Breaker.CacheTTL == 0 {
		c.Breaker.CacheTTL = -1 // 0 from the environment: read the state on every call
	}
	if c.SecretCache, err = Duration(getenv, EnvSecretCache, time.Second, secrets.DefaultTTL, 0, 86400); err != nil {
		return c, err
	}
	if c.SecretCache == 0 {
		c.SecretCache = -1 // 0 from the environment: read on every delivery
	}
	detail, ok := telemetry.ParseDetail(getenv(EnvMetricsDetail))
	if !ok {
		return c, fmt.Errorf("%s: %q is not outcome, source or type", EnvMetricsDetail, strings.TrimSpace(getenv(EnvMetricsDetail)))
	}
	c.MetricsDetail = detail
	c.Routes, err = Routes(getenv)
	return c, err
}

// Routes parses TENAZ_ROUTES; none when it is unset or blank.
func Routes(getenv Getenv) ([]route.Config, error) {
	raw := strings.TrimSpace(getenv(EnvRoutes))
	if raw == "" {
		return nil, nil
	}
	routes, err := route.ParseConfig([]byte(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvRoutes, err)
	}
	return routes, nil
}
