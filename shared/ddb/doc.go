// Package ddb holds what Tenaz's DynamoDB adapters share: one rule for which errors a
// retry can clear, and the table creation used by local runs and tests.
//
// Invariants:
//   - Classify never loses the cause (errors.Is still finds it) and never retries by
//     itself: the SDK's own retryer has already run when an error reaches it.
//   - A context that ended is returned unchanged; throttling, server faults and
//     failures with no DynamoDB answer are wrapped in the caller's "unavailable"
//     sentinel (transient); every other DynamoDB answer is retry.Permanent.
package ddb
