// Package idempotency turns at-least-once delivery into exactly-once effects: every
// event key has one record that a worker must claim, under a lease, before it acts.
//
// Invariants:
//   - Claim is a single conditional write. It succeeds when the record is absent,
//     expired, or neither COMPLETED nor held by a live lease; otherwise it answers
//     ClaimCompleted (a duplicate, with the stored result) or ClaimInFlight (with the
//     end of the other worker's lease) from that same call. Only replacing an expired
//     record costs a second call.
//   - A lease is live while now < leaseExpiresAt (epoch ms). A record is expired when
//     expiresAt (epoch s, the TTL attribute) < now; expired records are treated as
//     absent on every path, because TTL deletion is lazy. A new lifecycle starts with
//     attempts = 1 and no steps: nothing of the expired record carries over.
//   - attempts counts real attempts (claims that were acquired). Release after a
//     failure keeps attempts and steps, so the event's budget and its recovery points
//     survive retries.
//   - Complete, Release and SaveStep are conditional on the caller's lease token. A
//     worker whose lease ran out and was taken over gets ErrLeaseLost and changes
//     nothing.
//   - The payload hash of the first claim is kept; a later claim with a different
//     hash is reported (Claim.PayloadMismatch), never silently accepted or overwritten.
//   - A record says whether its event waits in the dead-letter queue: the processor
//     calls MarkDeadLettered (deadLetteredAt, deadLetterReason, lastError) after the
//     queue accepted a copy, and ResetAttempts (a replay) stamps attemptsResetAt,
//     which ends that mark while keeping it as history. The mark never creates a
//     record: an event dead-lettered before any claim has none.
//   - Stores have no clock: the caller passes now, so every store judges leases and
//     expiry the same way and tests control time without waiting.
//   - Store errors say whether a retry can help: ErrUnavailable (throttling, 5xx,
//     network) is transient; a request the store rejects is retry.Permanent.
//
// Runner puts it together: claim, run the handler with recovery points (Attempt.Step),
// complete or release. MemoryStore is the embedded store for local runs and tests;
// dynamostore is the DynamoDB one; idempotencytest is the contract both pass.
package idempotency
