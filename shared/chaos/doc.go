// Package chaos checks Tenaz's promise — nothing lost, nothing doubled — with a
// seeded, reproducible chaos run over the real code: the ingest service, the
// processor with its idempotency Runner and circuit breaker, and the redrive, all in
// one process on the in-memory adapters (SQS and DynamoDB semantics) and one fake
// clock.
//
// Providers post signed webhooks (some twice or more, and again after a refusal);
// the queue refuses some sends, loses some deletes and redelivers; the idempotency
// and breaker stores throttle; invocations crash at every step boundary; the
// destination answers 503, times out (sometimes after applying the event), rejects
// poison events with 400, fails a few events on every call until they are replayed,
// and goes down long enough to open the breaker. Then the faults stop, the clock
// runs until the queue is empty, the dead-letter queue's non-permanent entries are
// replayed with the redrive (the destination fixed by then), the clock runs until
// the queue is empty again, and the Ledger is drawn up.
//
// Invariants:
//   - Run is deterministic: one goroutine drives everything (processor Concurrency
//     1, one invocation at a time), every random choice and the processor's jitter
//     come from math/rand/v2 sources seeded with Config.Seed, and the fake clock
//     starts at a fixed instant. The same Config gives the same Ledger.
//   - A crash is the invocation dying at a step boundary: the goroutine running it
//     ends (runtime.Goexit) outside any store lock, nothing of its batch is
//     deleted, no visibility is changed after that point, and the lease it held
//     stays until it runs out on the fake clock.
//   - The verdict is drawn from outside Tenaz: what the providers were answered,
//     what the destination applied, what the dead-letter queue holds, and which
//     completions the idempotency store accepted; the processor's own outcome
//     counts are only reported. Effects are counted per event (recognised by its
//     body), while the destination dedupes by Idempotency-Key as an idempotent API
//     would.
//     A webhook is Lost when it was never acknowledged, or was acknowledged and
//     ends neither applied nor in the dead-letter queue with a reason; it is
//     Doubled when its effect was applied twice, or when the destination was
//     called for it after Tenaz had recorded it completed.
package chaos
