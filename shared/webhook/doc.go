// Package webhook verifies incoming webhooks and extracts the provider's event id and
// type. Sources come from the TENAZ_SOURCES JSON (ParseSources); each names one scheme
// (Presets lists them): stripe, github, shopify, slack, standard-webhooks and the
// generic hmac-sha256, each with its own code; 20 provider presets (discord, sendgrid,
// twilio, gitlab, postmark, zoom, twitch, paddle, square, hubspot-v3, linear, intercom,
// bitbucket, vercel, workos, calendly, typeform, clerk, resend, mailgun); and the
// configurable hmac scheme. Most presets are data (a spec, presets.go) served by one
// verifier (verify_spec.go) and one signer (sign_spec.go).
//
// Invariants:
//   - Verify before parse: Verify reads only the signature headers until a signature
//     matched; the body is scanned for its id and type only afterwards. A stale
//     timestamp is refused before any signature is computed. The one exception is
//     mailgun, whose signature is inside the JSON body: the body is parsed first.
//   - Signatures are compared in constant time (hmac.Equal), against every configured
//     secret, so a source can rotate secrets by listing the new and the old. A shared
//     token (gitlab) or Basic credential (postmark) is compared through its SHA-256
//     with subtle.ConstantTimeCompare, so neither its bytes nor its length show in
//     the time taken. Ed25519 and ECDSA signatures are checked by crypto/ed25519 and
//     crypto/ecdsa against every configured public key.
//   - Errors never carry a secret, an expected signature or body content: a
//     verification failure is an *Error whose Message is safe to send back, and a
//     configuration error names the source, the field and the secret's index only.
//   - Timestamp tolerance is 300 s either side of now unless the scheme's row in the
//     README says otherwise (twitch 600, workos and calendly 180, linear 60 on
//     the body's webhookTimestamp, sendgrid and mailgun not checked) or a source sets its own; exactly the tolerance passes.
//     Millisecond and RFC 3339 timestamps are compared in milliseconds.
//   - A handshake (Slack url_verification, Zoom endpoint.url_validation, Twitch
//     webhook_callback_verification, Discord PING) yields Event.Reply only after the
//     request's signature verified; such an event has no id and is never enqueued.
//   - Every accepted event has an id and a type of 1 to MaxIDBytes / MaxTypeBytes
//     (256) bytes of printable ASCII without spaces; anything else is invalid_id or
//     invalid_type (400), never truncated. A source with "key": "body" takes the
//     body's SHA-256 in hex as its id, and so do presets whose provider sends no id.
//   - Event.Headers keeps the provider's routing and delivery headers, never a
//     signature or a credential: x-github-event, x-github-delivery, x-github-hook-id,
//     x-github-hook-installation-target-{id,type}; x-shopify-topic,
//     x-shopify-webhook-id, x-shopify-shop-domain, x-shopify-event-id,
//     x-shopify-api-version, x-shopify-triggered-at; x-slack-retry-num,
//     x-slack-retry-reason; webhook-id and webhook-timestamp (or their svix-
//     spellings); a generic source's idHeader and typeHeader (and, for hmac, its
//     timestampHeader); and each preset's keep list in presets.go. Stripe keeps none.
//   - The body must be a JSON object (encoding/json's grammar, member names matched
//     exactly, the last of repeated members wins), except for github when it is
//     form-encoded, for shopify when the content type is form-encoded or XML, for
//     sendgrid and hubspot-v3 (any JSON value: they post arrays), for twilio (a form)
//     and for presets that read nothing from it (linear, bitbucket). A generic source
//     (hmac-sha256, hmac) whose id and type come from headers, or whose id is the
//     body's hash ("key": "body") and type a header, never parses its body: text,
//     XML, binary, anything signed is kept.
//   - The slack scheme takes its form-encoded posts (slash commands, interactivity)
//     as well as the Events API's JSON (slackform.go): interactivity's id is the
//     "payload" JSON's trigger_id (or, without one, "<type>/<view.id>/<view.hash>")
//     and its type the payload's "type"; a slash command's id is its trigger_id
//     field and its type slash_command.
//   - A signed body that is not JSON and says so in its content type (anything but
//     none, application/json, text/json and +json) is kept when the headers give
//     its id and type (slack, generic and spec sources; github and shopify keep their
//     formats); when they do not, it is refused as no_event_id (422), never as
//     malformed_json, which stays the answer for a body declared (or presumed) JSON
//     that does not parse. Signatures are checked first: an unsigned form is
//     missing_signature or bad_signature like any other body.
//   - The id and type are read by a validating scanner of this package (jsonscan.go),
//     not encoding/json: it accepts exactly what json.Valid accepts, matches member
//     names exactly and allocates nothing, in one pass over the body. On a body of
//     256 KiB (ingest's default limit) it takes about 0.19 ms of CPU where
//     encoding/json takes 1.3 to 1.45 ms, saving about 1.1 to 1.3 ms per webhook
//     (BenchmarkScanObjectVsJSON, AMD EPYC).
//   - standard-webhooks also accepts the same scheme under Svix's header names
//     (svix-id, svix-timestamp, svix-signature) when webhook-signature is absent;
//     clerk and resend are that scheme, and Sign writes their svix- headers.
//   - A Source is safe for concurrent use. The six original schemes allocate no hash
//     per verification (keys decoded once by ParseSources, HMAC states pooled); spec
//     schemes decode their keys once too and build an HMAC per verification.
//   - Sign and SignBody produce what Verify accepts, and what the providers' own
//     libraries accept (infra/signers tests both directions). Public-key schemes sign
//     only when their first secret is a private key; ECDSA signatures are
//     deterministic (RFC 6979), so generated samples do not change between runs.
package webhook
