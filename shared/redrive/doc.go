// Package redrive replays the dead-letter queue: it moves the messages an operator
// selects (by source, type pattern, event ids and a receivedAt window) back to the
// main queue and reports what it found and did. A dry run is the dead-letter queue
// report: how many messages, of which source and type, with which last error.
//
// Invariants:
//   - A run starts only from an explicit request: {} selects every message, while a
//     missing, empty or null payload is refused (ErrEmptyRequest) before any queue
//     call, so an invocation that lost its payload cannot replay the whole queue.
//   - Send first, delete after: a message leaves the dead-letter queue only after the
//     main queue accepted it, and only the entries whose send succeeded are deleted.
//     A crash (or a failed delete) between the two leaves the event on both queues;
//     a later redrive sends it again under the same idempotency key, and the
//     processor absorbs the copy as a duplicate (or defers it while the first copy
//     runs), so the event's effect still happens once.
//   - A replayed message carries its body unchanged (same idempotency key), the
//     envelope's attributes, no dead-letter attributes (deadLetterReason, lastError,
//     attempts, failedAt) and redriveCount one higher; if that makes more than the 10
//     attributes SQS takes, other attributes go, last name first. A message whose
//     redriveCount has reached the redrive limit (default 3) stays where it is
//     (overLimit).
//   - With an idempotency store wired, each event's attempts are reset before it is
//     sent, so an exhausted event gets a fresh budget; the reset also ends the
//     record's dead-letter mark, so a key lookup shows the event replayed. A completed record refuses the
//     reset and the replay is then acknowledged as a duplicate; a missing record needs
//     no reset. A store failure leaves the message in the dead-letter queue.
//   - A run replays the dead-letter queue as it was when the run started: a message
//     sent to it later (SentTimestamp after the run's start; typically an event this
//     run replayed that the processor failed again) stays there (newer). So one run
//     gives a still-failing event one more attempt, not a round trip per redrive the
//     limit allows.
//   - Every message the run receives and does not move (not matching, over the limit,
//     newer, undecodable, failed, beyond max, or a dry run) stays in the dead-letter
//     queue, unchanged, and is made visible again before Run returns. Until then the
//     run keeps it invisible, so that each receive brings messages it has not examined.
//   - A message whose body is held in the claim-check store is replayed only after
//     its body's age is restarted (Touch), so the body outlives the replayed
//     message's new retention. A body that is missing (or no store configured), or
//     that the store cannot be asked about, keeps its message in the dead-letter
//     queue (bodyMissing, bodyFailed), listed message by message in BodyProblems with
//     its reason: a replay would only come back as bodyMissing. A dry run reads each
//     stored body with blob.Load instead (nothing is touched), so its report names
//     the missing and mismatched ones too.
//   - A run terminates: it remembers the ids it has seen and stops when the queue is
//     empty, when a receive brings only seen messages, when max is reached, or
//     DeadlineMargin before the context's deadline (stoppedEarly, with the counts so
//     far). It paces sends to ratePerSecond with the injected clock and sleep.
//   - Queue calls are batched: a receive of 10, one send batch and one delete batch
//     per 10 messages moved, about 0.3 SQS requests per message at steady state.
package redrive
