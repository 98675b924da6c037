package processor

import (
	"io"
	"log/slog"
	"time"

	"github.com/tenaz/tenaz/shared/breaker"
	"github.com/tenaz/tenaz/shared/telemetry"
)

// MetricBreakerTransition is the EMF metric counted on every breaker transition, with
// dimensions dependency and to (the new state).
const MetricBreakerTransition = "breakerTransition"

// BreakerTelemetry returns the breaker hooks Tenaz uses: one log line and one EMF
// metric (to metrics, when not nil) per state transition, and a warning per store
// error the breaker carried on through.
func BreakerTelemetry(log *slog.Logger, metrics io.Writer) (onTransition func(breaker.Transition), onStoreError func(string, error)) {
	onTransition = func(t breaker.Transition) {
		log.Warn("breaker transition", "dependency", t.Name, "from", t.From.String(), "to", t.To.String(),
			"failures", t.Failures, "generation", t.Generation, "retryAt", t.RetryAt.UTC().Format(time.RFC3339))
		if metrics != nil {
			_ = telemetry.Event(metrics, t.At, map[string]string{"dependency": t.Name, "to": t.To.String()},
				map[string]int64{MetricBreakerTransition: 1})
		}
	}
	onStoreError = func(name string, err error) {
		log.Warn("breaker store error; carrying on with the last known state", "dependency", name, "error", err.Error())
	}
	return onTransition, onStoreError
}
