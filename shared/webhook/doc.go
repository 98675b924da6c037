// Package webhook verifies incoming webhooks and extracts the provider's event id and
// type. Sources come from the TENAZ_SOURCES JSON (ParseSources); each names one scheme:
// stripe, github, shopify, slack, standard-webhooks or a generic hmac-sha256.
//
// Invariants:
//   - Verify before parse: Verify reads only the signature headers until a signature
//     matched; the body is scanned for its id and type only afterwards. A stale
//     timestamp is refused before any HMAC is computed.
//   - Signatures are compared in constant time (hmac.Equal), against every configured
//     secret, so a source can rotate secrets by listing the new and the old.
//   - Errors never carry a secret, an expected signature or body content: a
//     verification failure is an *Error whose Message is safe to send back, and a
//     configuration error names the source, the field and the secret's index only.
//   - Timestamp tolerance is 300 s either side of now unless a source sets its own; it
//     applies to stripe, slack and standard-webhooks, in whole seconds, and exactly the
//     tolerance passes.
//   - Event.Headers keeps the provider's routing and delivery headers, never a
//     signature: x-github-event, x-github-delivery, x-github-hook-id,
//     x-github-hook-installation-target-{id,type}; x-shopify-topic,
//     x-shopify-webhook-id, x-shopify-shop-domain, x-shopify-event-id,
//     x-shopify-api-version, x-shopify-triggered-at; x-slack-retry-num,
//     x-slack-retry-reason; webhook-id and webhook-timestamp (or their svix-
//     spellings); a generic source's idHeader and typeHeader. Stripe keeps none.
//   - The body must be a JSON object (encoding/json's grammar, member names matched
//     exactly, the last of repeated members wins), except for github when it is
//     form-encoded and for shopify and header-only generic sources when the content
//     type is form-encoded or XML. The slack scheme serves the Events API: its
//     form-encoded posts (slash commands, interactivity) are refused as malformed_json.
//   - The id and type are read by a validating scanner of this package (jsonscan.go),
//     not encoding/json: it accepts exactly what json.Valid accepts, matches member
//     names exactly and allocates nothing, in one pass over the body. On a body of
//     256 KiB (ingest's default limit) it takes about 0.19 ms of CPU where
//     encoding/json takes 1.3 to 1.45 ms, saving about 1.1 to 1.3 ms per webhook
//     (BenchmarkScanObjectVsJSON, AMD EPYC).
//   - standard-webhooks also accepts the same scheme under Svix's header names
//     (svix-id, svix-timestamp, svix-signature) when webhook-signature is absent.
//   - A Source is safe for concurrent use and verifying allocates no hash: keys are
//     decoded once by ParseSources and their HMAC states are pooled.
package webhook
