// Package route decides which handler runs for an event, by source and type pattern.
//
// Invariants:
//   - Routes are tried in the order they were configured. An event goes to every
//     route (Destinations) whose source equals the event's source, one of whose type
//     patterns matches and whose content filter (if any) accepts the body, up to and
//     including the first route marked final; Match returns only the first.
//   - Every route has a name, unique among the routes of its source (default: the
//     url's host and path, or the handler's name): it is the key of the
//     destination's recovery point on an event's idempotency record and what a dead
//     letter names.
//   - A content filter (Filter) is declarative data: every condition (equality by
//     JSON value, presence, a '*' pattern on a string, one of a set) on a dotted
//     path must hold. It is evaluated in time linear in the body, and the body is
//     read only when a candidate route has a filter, at most once per event.
//   - A type pattern is literal text where '*' matches any run of characters
//     (including '.' and '/'): "payment_intent.*", "orders/*", "*".
//   - Matching a pattern takes time linear in the pattern's and the type's length
//     and allocates nothing, whatever the pattern (a sender chooses the type).
//   - A route's ratePerSecond (0 = unlimited, the default; at most 10000) caps
//     deliveries per second to its dependency across every container (see
//     shared/ratelimit). A dependency never begins with "rate#", the prefix of rate
//     limit windows in the breaker table.
//   - An event that no route matches is "unrouted": acknowledged, counted, never
//     retried.
//   - Configuration is validated when loaded (TENAZ_ROUTES); a bad route is an error
//     that names its index, never a route silently dropped.
package route
