// Package ratelimittest is the contract every ratelimit.Store passes, run through
// the store's own methods and through Limiters that share it: one suite, run against
// the in-memory store by a normal test and against DynamoDB (moto server) by an
// integration test. It also has a store wrapper that counts calls.
//
// Invariants:
//   - The suite drives time with its own fake clock (instants in 2030), so it never
//     waits and never depends on the machine's clock or on TTL deletion.
//   - Every case gets a fresh harness and its own destination names, so cases run in
//     parallel.
//   - A refused or failed Take is checked by reading the count after it, not only by
//     its answer: it must change nothing.
//   - Races use one Limiter per goroutine (each with its own memory of full windows,
//     as separate containers have) on one store, all at the same instant, and count
//     the allowed answers: never more than the limit, and exactly the limit when the
//     attempts outnumber it.
package ratelimittest
