// Package idempotencytest is the contract every idempotency.Store passes: one suite,
// run against the in-memory store by a normal test and against DynamoDB (moto
// server) by an integration test.
//
// Invariants:
//   - The suite passes its own times to the store (fixed instants in 2030), so it
//     never waits and never depends on the machine's clock or on TTL deletion.
//   - Every case gets a fresh harness and its own keys, so cases run in parallel.
//   - Each case checks the state after a refused write, not only the error: a refused
//     or failed write changes nothing.
package idempotencytest
