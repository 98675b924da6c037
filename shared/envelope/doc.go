// Package envelope defines the message Tenaz puts on the queue: one versioned JSON
// object per accepted webhook.
//
// Invariants:
//   - The body is carried byte for byte as it was received. A body that is valid UTF-8
//     and no longer written as a JSON string (escapes included) than base64-encoded
//     travels as a JSON string; any other body travels base64-encoded with
//     "bodyEncoding": "base64". Decode always gives back the original bytes.
//   - Encode writes only characters SQS accepts in a message (#x9 | #xA | #xD |
//     #x20–#xD7FF | #xE000–#xFFFD | #x10000–#x10FFFF): encoding/json escapes control
//     characters, and Encode writes U+FFFE and U+FFFF, wherever they occur (body,
//     header names and values, names), as \ufffe and \uffff escapes, which decode to
//     the same string.
//   - A body too large to travel inline is held in the claim-check store (package
//     blob): the message is then version 2, with "bodyRef" (the store key) and
//     "bodySha256" (the body's hex SHA-256) instead of "body", and Decode gives an
//     Envelope whose Stored reports true and whose Body is empty until the reader
//     loads it. Version 1 never carries a reference and version 2 never a body; a
//     reader that knows only version 1 refuses a version 2 message as undecodable.
//   - The idempotency key is Source + ":" + ID, where ID is the provider's event id
//     (Stripe evt_…, X-GitHub-Delivery, webhook-id, …). It never depends on the SQS
//     message id, which changes when SQS or an operator redrives a message.
//   - The wire format is fixed and encoding/json reads and writes it: members in the
//     order v, source, id, type, receivedAt (RFC 3339 in UTC, nanoseconds as needed),
//     headers (sorted by name, left out when empty), body, bodyEncoding (only
//     "base64"); strings escaped as encoding/json escapes them except that HTML
//     characters (<, >, &) are written as they are, and U+FFFE and U+FFFF are escaped.
//     Decode accepts what encoding/json accepts for that object (member names
//     matched without regard to case, the last of a repeated member winning, null
//     leaving a member unset, HTML characters escaped or not, a UTF-8 body as a
//     string or base64), so messages written by any earlier version, which escaped
//     HTML characters and sent every UTF-8 body as a string, still decode, and any
//     reader decodes what this version writes. Fuzz tests hold the round trip, and
//     Encode's output to characters SQS accepts, on arbitrary input.
//   - Decode rejects what the processor could not act on (unknown version, missing
//     source, id or type, bad body encoding) with an error wrapping ErrInvalid; such a
//     record can never succeed on a retry.
package envelope
