// Package envelope defines the message Tenaz puts on the queue: one versioned JSON
// object per accepted webhook.
//
// Invariants:
//   - The body is carried byte for byte as it was received. A body that is valid UTF-8
//     travels as a JSON string; any other body travels base64-encoded with
//     "bodyEncoding": "base64". Decode always gives back the original bytes.
//   - The idempotency key is Source + ":" + ID, where ID is the provider's event id
//     (Stripe evt_…, X-GitHub-Delivery, webhook-id, …). It never depends on the SQS
//     message id, which changes when SQS or an operator redrives a message.
//   - The wire format is fixed: Encode writes the bytes encoding/json writes for the
//     versioned wire object, and Decode accepts exactly what encoding/json accepts
//     and decodes it to the same values, so messages written by any earlier version
//     still decode. The codec is hand-written (no reflection, no copies of strings
//     without escapes); fuzz tests hold it to encoding/json on arbitrary input.
//   - Decode rejects what the processor could not act on (unknown version, missing
//     source, id or type, bad body encoding) with an error wrapping ErrInvalid; such a
//     record can never succeed on a retry.
package envelope
