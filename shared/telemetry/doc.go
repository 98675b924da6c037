// Package telemetry gives Tenaz's functions their structured logs and metrics.
//
// Invariants:
//   - Logs are JSON lines (slog) on the writer given, one object per line, so that
//     CloudWatch Logs Insights can query them.
//   - A record logged with a context carrying a Lambda invocation gets the
//     invocation's request id as "requestId".
//   - Metrics are CloudWatch Embedded Metric Format lines on the writer given: per
//     flush, one line (detail outcome, the default), one per source (detail source)
//     or one per (source, type) (detail type), however many records were counted.
//     Every line declares its counters without dimensions too, so the totals by
//     counter name exist at every detail; finer detail adds metrics per source or
//     per (source, type), which CloudWatch bills each. A line
//     is one JSON object written by encoding/json, members sorted by name: each
//     counter and dimension under its own name (a dimension replaces a counter of
//     the same name) and "_aws" (the timestamp in Unix milliseconds, and the counters
//     declared by the dimension sets, counters and dimensions sorted by name).
//   - Nothing here logs bodies or secrets; callers pass only ids, types and outcomes.
package telemetry
