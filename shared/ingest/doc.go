// Package ingest is the public door of Tenaz: it verifies a webhook, wraps it in an
// envelope and puts it on the queue.
//
// Invariants:
//   - Nothing is parsed before the signature is verified (only the method, the source
//     name and the body size are looked at first).
//   - 202 is answered only after the queue accepted the message. A failed send answers
//     503, so the sender retries: nothing is lost at the door. A send the queue
//     refuses for good (queue.Error not Retryable: contents SQS does not allow, a
//     message too long) is never answered with 503, which the sender would retry
//     forever: the body goes through the body store instead when there is one, and
//     without one the answer is 500 queue_refused, logged at ERROR with source and id.
//   - Claim check: with a body store (Options.Bodies), a message larger than
//     InlineMaxBytes (default 458752 bytes: envelope and attributes, as SQS counts
//     them) is not sent inline. The body is put first, under blob.Key(source, id)
//     with its SHA-256, and only then the version 2 envelope (BodyRef, BodySHA256, no
//     body) is sent. A store outage or throttle answers 503 store_unavailable and
//     sends nothing; a store that refuses for good answers 500 internal. A send that
//     fails after a successful put answers as any failed send: the object stays
//     behind, harmless (no message refers to it, the bucket's lifecycle expires it,
//     and the sender's retry overwrites the same key). Without a store, a message
//     travels inline up to the SQS maximum (1 MiB) and a larger one answers 413.
//   - Body limit (MaxBodyBytes, default 6 MiB = 6291456 bytes: the most a synchronous
//     Lambda invocation can receive). A body reaches Tenaz only if the whole API
//     Gateway / function-URL event fits Lambda's 6 MB request payload: text bodies
//     travel in it as a JSON string (escaping quotes, backslashes and control
//     characters grows them), binary content types as base64 (4/3 inflation, so
//     about 4.5 MB of binary). The HTTP API itself accepts 10 MB, but Lambda's limit
//     applies first.
//   - Every refusal has its own status and a JSON body {"error": "..."} that says what
//     was wrong and never carries a secret, a signature or the body.
//   - A rejected request changes no state: nothing is sent.
//   - With a Catalog, the sources may change while the Service runs: a failed
//     signature tells the Catalog (which may re-read them) and is verified once more
//     only when the source changed; every other path asks the Catalog for the source
//     and nothing else.
//   - The same Service serves API Gateway (HandleAPIGateway) and plain net/http
//     (Handler, for the local runner): there is one implementation of the logic.
package ingest
