// Package ingest is the public door of Tenaz: it verifies a webhook, wraps it in an
// envelope and puts it on the queue.
//
// Invariants:
//   - Nothing is parsed before the signature is verified (only the method, the source
//     name and the body size are looked at first).
//   - 202 is answered only after the queue accepted the message. A failed send answers
//     503, so the sender retries: nothing is lost at the door.
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
