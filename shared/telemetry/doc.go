// Package telemetry gives Tenaz's functions their structured logs and metrics.
//
// Invariants:
//   - Logs are JSON lines (slog) on the writer given, one object per line, so that
//     CloudWatch Logs Insights can query them.
//   - A record logged with a context carrying a Lambda invocation gets the
//     invocation's request id as "requestId".
//   - Metrics are CloudWatch Embedded Metric Format lines on the writer given: one
//     line per (source, type) and flush, however many records were counted. A line
//     is one JSON object written by encoding/json, members sorted by name: each
//     counter and dimension under its own name (a dimension replaces a counter of
//     the same name) and "_aws" (the timestamp in Unix milliseconds, and the counters
//     declared by the dimensions, both lists sorted by name).
//   - Nothing here logs bodies or secrets; callers pass only ids, types and outcomes.
package telemetry
