// Package ratelimit caps how many deliveries per second go to one destination,
// across every container: the count of each one-second window lives in a Store
// (DynamoDB in production), so all Lambda containers share one limit.
//
// Algorithm: fixed windows of one second, keyed by the destination's name and the
// unix second of the caller's clock. Limiter.Take counts one delivery in the running
// window when fewer than the limit were counted there, in one conditional write, and
// otherwise refuses with RetryAt, the start of the next window. A refusal is a normal
// answer, not an error: the caller defers the record until RetryAt; it is never a
// failure of the event and never a reason to dead-letter it.
//
// Invariants:
//   - Within one window of one name, at most perSecond Takes are allowed, however
//     many containers race (each count is one atomic conditional write). Every
//     allowed Take was counted; a refused or failed Take changes nothing.
//   - Windows are fixed and aligned to the unix second, so the known edge of fixed
//     windows holds: up to 2×perSecond deliveries may start within one second that
//     straddles a window boundary (perSecond at the end of one window, perSecond at
//     the start of the next). Over any n whole windows at most n×perSecond go
//     through. There is no burst allowance.
//   - Each container judges the window by its own clock; clocks that disagree by d
//     let a delivery count in the neighbouring window for d at each boundary, which
//     only moves the edge above, never lifts the cap of a window.
//   - Cost: an allowed Take is one write; a refused Take is one write, except that a
//     Limiter that saw a window of a name full refuses further Takes of that window
//     (at that limit or below) without a store call, since a window's count only
//     grows. perSecond <= 0 means unlimited: Take allows at once with no store call,
//     so an unlimited route costs nothing.
//   - Windows expire: a store forgets a window a minute after it ends (Retention);
//     correctness never depends on when, since no one asks for a past window.
//   - Errors say whether a retry can help: a throttled, failing or unreachable store
//     wraps ErrUnavailable (transient); a request the store rejects is
//     retry.Permanent; an ended context is returned as it is. With any error the
//     limiter does not know whether the delivery may go: the caller defers it, as
//     for a refusal, and never fails the event for it.
//   - Stores take no clock: the Limiter's injected clock gives every store call its
//     window.
//
// Memory is the in-process store for local runs and tests; dynamostore keeps the
// windows in the breaker table; ratelimittest is the contract both pass.
package ratelimit
