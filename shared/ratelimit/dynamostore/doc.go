// Package dynamostore keeps rate limit windows in DynamoDB, in the breaker table
// (partition key "name", string; TTL attribute "expiresAt"), shared by every
// container: one small item per destination and second, named
// ratelimit.WindowName ("rate#<destination>#<unix second>"), which never equals a
// breaker's name.
//
// Invariants:
//   - Take is one UpdateItem: ADD taken :one, SET expiresAt, on the condition
//     attribute_not_exists(taken) OR taken < :limit. DynamoDB applies it atomically,
//     so of racing containers exactly limit win a window; a refused Take is the
//     ConditionalCheckFailedException, a normal answer that changed nothing. Each
//     costs one write request unit, allowed or refused (the item is far below 1 KB).
//   - Nothing is read on the way: Taken (one strongly consistent GetItem) is for
//     tests and inspection only.
//   - expiresAt (epoch s) is ratelimit.ExpiresAt: a minute after the window ends.
//     Correctness never depends on TTL deletion, since nobody takes from a past
//     window; TTL only keeps the table small.
//   - Errors say whether a retry helps: throttling, 5xx and network failures wrap
//     ratelimit.ErrUnavailable (transient); a request DynamoDB rejects (validation,
//     missing table, access denied) or an item that is not a window is
//     retry.Permanent. The store makes no retries of its own: the SDK client's
//     retryer does that.
//   - One item takes every delivery of a destination in a second, and DynamoDB
//     serves about 1,000 writes per second per item's partition: a limit near that,
//     with the refused attempts it draws, is throttled (transient, so deliveries are
//     deferred, not failed).
package dynamostore
