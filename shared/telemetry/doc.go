// Package telemetry gives Tenaz's functions their structured logs and metrics.
//
// Invariants:
//   - Logs are JSON lines (slog) on the writer given, one object per line, so that
//     CloudWatch Logs Insights can query them.
//   - A record logged with a context carrying a Lambda invocation gets the
//     invocation's request id as "requestId".
//   - Metrics are CloudWatch Embedded Metric Format lines on the writer given: one
//     line per (source, type) and flush, however many records were counted. A line
//     is the JSON encoding/json would write for the same members (tests hold the two
//     to the same bytes), built by appending, without maps or reflection.
//   - Nothing here logs bodies or secrets; callers pass only ids, types and outcomes.
package telemetry
