// Package forward is Tenaz's built-in handler: it POSTs the original webhook body to a
// route's destination URL, so Tenaz is useful without any Go code.
//
// Invariants:
//   - The body is sent byte for byte as the provider sent it, with its content type.
//   - Every request carries Idempotency-Key: <source>:<id> (the same on every attempt
//     and every replay), X-Tenaz-Source, X-Tenaz-Type and X-Tenaz-Attempt. A
//     destination that honours the key applies the event once even when Tenaz must
//     send it again (after a crash between its answer and Tenaz's record).
//   - One request per call, bounded by the route timeout and the invocation deadline.
//     2xx is success; 408, 425, 429 and 5xx are transient (Retry-After honoured);
//     other statuses are permanent; network errors and timeouts are transient.
//   - A body held in the claim-check store is resolved by the reader (the processor,
//     with blob.Load) before the handler runs; an envelope that is Stored() with an
//     empty body is refused as a permanent error (ErrBodyNotLoaded) and nothing is
//     posted: a destination never receives an empty body in place of the event.
//   - A route with a signingSecret signs every request with the Standard Webhooks
//     scheme: webhook-id is the request's Idempotency-Key (the same on every attempt
//     and replay), webhook-timestamp the Unix seconds at sending, webhook-signature
//     one "v1,<base64 HMAC-SHA256 of id.timestamp.body>" per secret the value holds
//     (two during a rotation, so a destination holding either verifies). A route's
//     secret headers carry their secret's value in their format.
//   - Secrets are read (through a cache, see package secrets) before anything is
//     sent; a failed read or an unusable value is a transient error and nothing is
//     posted: never an unsigned or unauthenticated request. Errors name the secret's
//     reference, never its value.
package forward
