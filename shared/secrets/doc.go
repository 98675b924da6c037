// Package secrets resolves references to secret values kept outside the routes'
// configuration, for signed and authenticated deliveries: a Ref names where a value
// lives ("ssm:/tenaz/<stack>/deliveries/orders-signing",
// "secretsmanager:tenaz/<stack>/deliveries/orders-token" or an ARN, and for local
// runs and tests "env:NAME"), and a Cache reads it through a Store, keeps it in
// memory for a TTL (TENAZ_SECRET_CACHE_SECONDS, seconds, default 300) and re-reads it
// after, so a rotated value is used without a redeploy. The AWS stores are in
// package awsstore; this package links no AWS SDK.
//
// Invariants:
//   - A value is read at most once per TTL per reference and container while reads
//     succeed; concurrent callers that find it due share one read.
//   - A failed read with no value in hand is an error (transient: the caller's
//     delivery is retried) that names the reference and never a value. A failed
//     re-read of a value in hand keeps serving that value, logs a warning, and is
//     tried again no sooner than MinRetryGap (10 s), so an outage of the store costs
//     one call per 10 s per reference, not one per delivery.
//   - Values are never logged, nor put in errors.
package secrets
