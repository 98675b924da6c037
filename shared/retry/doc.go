// Package retry decides whether and when a failed call to a downstream service is
// tried again.
//
// Invariants:
//   - Backoff is a pure function of the attempt number, its two bounds and a random
//     number: full jitter, uniform in [0, min(max, base·2^(attempt-1))], never
//     negative, never above max, and free of overflow for any attempt.
//   - An error is transient unless marked: Permanent means no retry can help,
//     RetryAfter means a retry can help but not before the given delay. The marks
//     survive wrapping with fmt.Errorf("…: %w", err) and are read with IsPermanent,
//     RetryAfterOf, errors.Is and errors.As. A Permanent mark wins over RetryAfter.
//   - A RetryAfter delay (a destination's Retry-After header) is a lower bound the
//     destination asks for, not a promise to keep: whoever schedules the retry caps
//     it (the processor at its RetryMax), so one header cannot park an event for days.
//   - Do never sleeps past the context's deadline minus Policy.Margin: when the next
//     wait would cross it, Do returns the last error at once, leaving the caller time
//     to record the outcome. Retries across invocations are scheduled through the
//     queue, not slept here.
//   - Do is for calls Tenaz makes to other services (HTTP destinations). AWS SDK
//     calls are not wrapped in Do: configure the SDK client's own retryer instead, or
//     the two retry loops multiply.
package retry
