// Package breaker is a circuit breaker shared by every container that calls a
// downstream dependency: the state of each dependency lives in a Store (DynamoDB in
// production), so concurrent Lambda containers learn of an outage together and stop
// calling a destination that is down, instead of each discovering it alone.
//
// Closed, a breaker counts failures in fixed windows of Settings.Window; the failure
// that brings a window's count to Settings.FailureThreshold opens it for
// Settings.OpenFor. Then exactly one caller, across all containers, wins the probe
// lease (half-open) and makes one call: its success closes the breaker, its failure
// opens it again for another OpenFor. If the prober reports nothing within
// Settings.ProbeLease, the next caller may probe.
//
// Invariants:
//   - Every transition is one conditional write on the generation the caller saw, and
//     bumps the generation: of many callers racing for a transition or a probe lease,
//     exactly one wins, and only the winner reports it (Settings.OnTransition).
//   - A ticket carries the generation it was issued in. A report from a generation the
//     breaker has left is ignored: a slow call that started before a transition never
//     counts in the state after it.
//   - Every counted failure is at most Window old when counted; a failure at or after
//     WindowStart+Window starts a new window. Successes are not counted: the count
//     is of failures in a window, not of consecutive failures.
//   - The happy path (closed, state cached) makes no store call: Allow reads the
//     state at most once per Settings.CacheTTL per dependency per Breaker, and a
//     successful report writes nothing. The price: a container learns of a transition
//     made elsewhere up to CacheTTL late (default 1 s) — unless one of its own calls
//     fails first, since the refused write answers the current state.
//   - Stores take no clock. The Breaker's injected clock gives every store call its
//     now, in milliseconds, so all stores judge windows and leases alike.
//   - A failing store never stops traffic: Allow decides from the last state it knew
//     and lets the call through where only the store could decide (fail-open), and
//     says so through Settings.OnStoreError. Store errors say whether a retry can
//     help: ErrUnavailable is transient; a request the store rejects is
//     retry.Permanent.
//
// An operator may pause a dependency (Breaker.Pause) and resume it (Breaker.Resume):
// while paused, Allow refuses every call with a *PausedError (ErrPaused, not ErrOpen),
// whatever the state; no probe is granted and no failure is counted. A resume closes
// the breaker with no failures, so the next call goes through at once, not as a
// probe. The pause lives in the store like the rest of the state, so every container
// sees it, within CacheTTL, and it survives restarts; a paused item never expires.
// With the store unreachable, a container that knew of the pause keeps it; one that
// never read the state (a cold start) lets calls through, as for any state.
//
// MemoryStore is the embedded store for local runs and tests; dynamostore is the
// DynamoDB one; breakertest is the contract both pass.
package breaker
