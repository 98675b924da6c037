// Package dynamostore keeps circuit breakers in a DynamoDB table (partition key
// "name", string; TTL attribute "expiresAt"), one item per dependency, shared by
// every container.
//
// Invariants:
//   - Every transition (open, probe lease, close) is one UpdateItem whose condition
//     names the generation the caller saw, with ReturnValuesOnConditionCheckFailure
//     ALL_OLD: of racing callers exactly one wins, and each loser learns the current
//     state from that same call.
//   - A failure is counted with an atomic ADD in a fixed window (windowStartMs,
//     failures), conditional on the window still running; the first failure after
//     it has passed starts a new window with a conditional SET. Two callers never
//     both start a window; a caller that lost that race counts in the winner's.
//   - Nothing on the happy path writes: successes are not stored.
//   - Correctness comes from the timestamps in the item (epoch ms), never from TTL
//     deletion. expiresAt (epoch s) is set Options.Retention (default 24 h) after the
//     last instant the item matters (end of the window, open period or probe lease);
//     an item TTL removes reads as a closed breaker at generation 0, which is what a
//     closed item with no failure in its window already meant. Only an open breaker
//     nobody called for a whole Retention is forgotten: its next call goes through as
//     an ordinary call instead of a lone probe.
//   - Errors say whether a retry helps: throttling, 5xx and network failures wrap
//     breaker.ErrUnavailable (transient); a request DynamoDB rejects (validation,
//     missing table, access denied) or an item that is not a breaker is
//     retry.Permanent.
//   - The store makes no retries of its own: the SDK client's retryer does that.
package dynamostore
