// Package processor turns the queue's at-least-once delivery into exactly-once
// effects. It handles one SQS batch (Lambda event source mapping with
// ReportBatchItemFailures) record by record:
//
//	decode envelope → route → claim key → run handler → complete
//
// and maps each outcome to what the record gets:
//
//	success                        acknowledged (not in batchItemFailures)
//	already completed (duplicate)  acknowledged, counted as duplicate
//	no route                       acknowledged, counted as unrouted
//	claimed by a live worker       failure, visible again when that lease ends
//	transient error or panic       failure, visible again after backoff(ApproximateReceiveCount), full jitter
//	retry-after(d) error           failure, visible again after max(min(d, RetryMax), backoff)
//	store unavailable              failure, visible again after backoff; the handler does not run
//	permanent error (handler or    sent to the dead-letter queue with the reason, then
//	store), undecodable, or        acknowledged (deleted by the event source mapping)
//	attempts exhausted
//	retry or deferral that would   sent to the dead-letter queue as "expiring" with
//	outlive the queue's retention  the last error, then acknowledged
//
// Invariants:
//   - Retries between invocations are scheduled through SQS visibility, never slept
//     inside a billed invocation: the records of a batch that must come back are
//     given their delays together (ChangeMessageVisibilityBatch, 10 per request)
//     after the batch ran.
//   - The idempotency key is source:id from the envelope, never the SQS message id.
//   - A record is acknowledged only when its outcome is durable: completed in the
//     idempotency store, or accepted by the dead-letter queue. Anything else
//     (including a failed dead-letter send or a store error) is reported as a
//     failure, so SQS delivers it again.
//   - After the dead-letter queue accepted a copy, the event's idempotency record is
//     marked (Options.DeadLetters: deadLetteredAt, reason, last error) so a key lookup
//     tells it waits there; best effort, a failed mark is logged at WARN and changes
//     no outcome. An event without a record (undecodable, or dead-lettered before any
//     claim) is not marked.
//   - No record is left to expire in the main queue: before a retry or a deferral,
//     its next delivery (now + delay + ExpiryMargin, 15 min) is compared with the
//     message's SentTimestamp + QueueRetention (TENAZ_QUEUE_RETENTION_SECONDS, 4 days),
//     and a record that would come back later is dead-lettered as "expiring".
//   - A destination's Retry-After is honoured up to RetryMax, never beyond.
//   - Tenaz counts real attempts in the idempotency record and dead-letters after
//     MaxAttempts; the queue's maxReceiveCount is only a backstop for records that
//     crash the processor.
//   - Records of one batch run concurrently, at most Concurrency at a time; the
//     handler's context ends DeadlineMargin before the invocation deadline, so the
//     outcome can still be recorded. Records of one batch with the same key (one
//     event sent twice) run one after another, so a later copy finds the event
//     completed and is acknowledged as a duplicate.
//   - A handler that panics fails its attempt like a transient error: its claim is
//     released, the attempt counts towards MaxAttempts, and the rest of the batch
//     is unaffected.
//   - A message whose body is held in the claim-check store (envelope version 2) is
//     resolved with blob.Load inside the attempt, after the claim: a duplicate, an
//     event another worker holds and a breaker deferral cost no GET. Its payload hash
//     is the SHA-256 the message carries, the hash the record keeps of an inline
//     body, so one event sent inline or stored has one payload hash.
//   - A body missing from the store (or no store configured) is dead-lettered with
//     reason bodyMissing, a body whose SHA-256 differs with bodyMismatch: never a
//     silent skip. The dead letter is the original message, so a replay once the
//     body is back processes the event. A store outage is a transient failure. A
//     failure to load a body never reaches the destination, so it is not reported to
//     the destination's breaker (a probe ticket is handed on).
//   - A record whose destination an operator paused (breaker.ErrPaused) is deferred
//     without an attempt, reason "paused", for the deferral that grows with its
//     receive count (1 s, 2 s, 4 s, ..., jittered) up to DeferMax, whatever the
//     breaker's state: a pause never spends an attempt nor dead-letters a record by
//     itself, and after a resume each record is delivered within DeferMax. A pause
//     that outlasts the queue's retention dead-letters its records as "expiring",
//     like any deferral; each deferral is also a receive, so at the default 15
//     minutes a pause of about 40 hours reaches the queue's maxReceiveCount (200).
//   - An event goes to every destination the router returns (fan-out). With one,
//     the record runs as above: one claim, one completion. With more (or for a
//     replayed dead letter naming some), each destination is its own recovery point:
//     one that took the event is recorded (step route.DeliveredStep(name)) and never
//     called again for it, the last to answer recorded by the completion itself; one
//     that fails is retried without the others; one whose breaker is open or that is
//     paused is held without an attempt (and, when every destination that may be
//     called already took the event, without a claim: the record is read first);
//     one that refuses the event for good or exhausts its attempts is dead-lettered
//     at once, by a copy naming it (envelope.AttrDestinations) whose replay calls
//     only it, and recorded (route.DeadLetteredStep(name)) so later attempts skip it.
//     The record is completed once every destination took the event; until then its
//     stored body is kept.
//   - The stored body is deleted once its event is processed or found a duplicate
//     (best effort, logged at WARN; the bucket's lifecycle rule removes what is
//     left), never on a retry, deferral or dead letter, which a replay needs.
package processor
