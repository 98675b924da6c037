// Package local wires Tenaz's real services — ingest, processor, the event source
// mapping stand-in — onto the embedded in-memory adapters, so the whole pipeline runs
// on one machine with no cloud account (`make dev`). It is wiring only: every
// decision is made by the same code the Lambda functions run.
//
// It also hosts a demo destination whose behaviour can be switched at run time
// (healthy, failing a percentage, slow, down, rejecting), which counts effects by
// Idempotency-Key the way an idempotent API would.
//
// Invariants:
//   - Queue semantics are SQS's (visibility, receive counts, redrive to the DLQ),
//     provided by queue.Memory; idempotency semantics are DynamoDB's, provided by
//     idempotency.MemoryStore.
//   - Everything listens on loopback only.
package local
