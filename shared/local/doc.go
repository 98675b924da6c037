// Package local wires Tenaz's real services — ingest, processor, redrive, the event
// source mapping stand-in — into one process, so the whole pipeline runs on one
// machine (`make dev`): on the embedded in-memory adapters with no cloud account, or
// on the AWS adapters against moto server, LocalStack or a real account. It is wiring
// only: every decision is made by the same code the Lambda functions run.
//
// It also hosts a demo destination whose behaviour can be switched at run time
// (healthy, failing a percentage, slow, down, rejecting), which counts effects by
// Idempotency-Key the way an idempotent API would; a sender of signed sample
// webhooks; and a live view, one embedded static page that polls the JSON API.
//
// Invariants:
//   - Queue semantics are SQS's (visibility, receive counts, redrive to the DLQ),
//     provided by queue.Memory or SQS; idempotency and breaker semantics are
//     DynamoDB's, provided by the memory stores or the DynamoDB ones.
//   - The status API costs the same whatever the number of webhooks seen: counters,
//     a ring of the RecentMax newest events, one depth read per queue and one state
//     read per breaker. The page renders at most 100 rows per table.
//   - Listing the DLQ changes nothing in memory (peek). On SQS it receives the
//     messages and makes them visible again before it answers; a listing and a
//     redrive never run at once.
//   - AWS resources are created only on an emulator (an endpoint is set), never on
//     real AWS.
//   - Everything listens on loopback only.
//   - Bodies too large for the queue are held in an in-memory claim-check store
//     (blob.Memory) on either backend; the processor reads them with blob.Load and
//     redrive touches them before a replay, as in AWS. The live view and the DLQ
//     view show envelope fields and dead-letter attributes, never a body, so they
//     need no body read; a message whose body is missing shows reason bodyMissing.
package local
