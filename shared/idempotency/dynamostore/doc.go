// Package dynamostore keeps idempotency records in a DynamoDB table (partition key
// "id", string; TTL attribute "expiresAt").
//
// Invariants:
//   - A claim is one UpdateItem with a condition and ReturnValuesOnConditionCheckFailure
//     ALL_OLD: a duplicate or in-flight answer costs exactly one call. Only a stored
//     record that is expired costs a second call, a conditional PutItem that replaces it
//     with a fresh record (attempts 1, no steps).
//   - Every write is conditional: claims on the lease and expiry, everything else on
//     the caller's lease token. An expired record is treated as absent on every read,
//     since DynamoDB deletes expired items lazily (and emulators never do).
//   - Errors say whether a retry helps: throttling, 5xx and network failures wrap
//     idempotency.ErrUnavailable (transient); a request DynamoDB rejects (validation,
//     missing table, access denied) is retry.Permanent; failed conditions become the
//     typed answers of the idempotency.Store contract.
//   - The store makes no retries of its own: the SDK client's retryer does that.
package dynamostore
