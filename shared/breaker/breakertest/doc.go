// Package breakertest is the contract every breaker.Store passes, run through the
// store's own methods and through Breakers that share it: one suite, run against the
// in-memory store by a normal test and against DynamoDB (moto server) by an
// integration test. It also has the helpers those tests and benchmarks use: a store
// wrapper that counts reads and writes, and a recorder of transitions.
//
// Invariants:
//   - The suite drives time with its own fake clock (instants in 2030), so it never waits
//     and never depends on the machine's clock or on TTL deletion.
//   - Every case gets a fresh harness and its own breaker name, so cases run in
//     parallel.
//   - A refused write is checked by reading the state after it, not only by its
//     answer: a refused or failed write changes nothing.
//   - Races use one Breaker per goroutine (each with its own cache, as separate
//     containers have) on one store, and count the transitions every Breaker reports:
//     each transition must be reported exactly once.
package breakertest
