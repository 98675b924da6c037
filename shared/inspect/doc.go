// Package inspect answers "where is my event": given an idempotency key
// (source:id), it tells the event's state, attempts, completed steps, last error and
// timestamps, and whether a copy waits in the dead-letter queue.
//
// Invariants:
//   - One key lookup: an inspection is exactly one Get of the idempotency record (a
//     strongly consistent GetItem on DynamoDB). Nothing is scanned and the dead-letter
//     queue is never received from: SQS cannot be looked up by key, so the record
//     itself says the event was dead-lettered (deadLetteredAt, set by the processor
//     once the queue accepted the copy) and replayed (attemptsResetAt, set by the
//     redrive's reset).
//   - The state is a function of that record and now (epoch times as stored):
//     unknown (no record, or past its retention), completed, inProgress (a live
//     lease), deadLettered (marked and not reset since), replayed (dead-lettered,
//     then reset to no attempts), retrying (anything else: failed attempts, a lease
//     that ran out).
//   - InDeadLetterQueue is true exactly when the record's mark was not followed by
//     a reset, whatever the state: a completed event can still have a copy there,
//     which a replay acknowledges as a duplicate.
//   - unknown covers what has no record: an event never received, one past its
//     retention (TENAZ_IDEMPOTENCY_RETENTION_H, 7 days by default), and one
//     dead-lettered before any attempt claimed it (undecodable, or deferred behind an
//     open breaker until the queue's retention ran out); the DLQ report
//     (make dlq-report) lists those.
//   - A store error is returned as it came: ErrUnavailable is transient, and
//     retrying the inspection can help.
package inspect
