// Package telemetry gives Tenaz's functions their structured logs.
//
// Invariants:
//   - Logs are JSON lines (slog) on the writer given, one object per line, so that
//     CloudWatch Logs Insights can query them.
//   - A record logged with a context carrying a Lambda invocation gets the
//     invocation's request id as "requestId".
//   - Nothing here logs bodies or secrets; callers pass only ids, types and outcomes.
package telemetry
