// Package blob is the claim-check body store: a webhook body too large to travel
// inside its queue message is stored here, and the message carries only a
// reference (the key) and the body's SHA-256.
//
// How it will be used: ingest stores the body with Put before it answers 202, and
// enqueues the message only once Put has succeeded (an outage at Put answers 503 and
// enqueues nothing); the processor, forward and redrive read the body back with Get,
// which checks it against the SHA-256 the message carries. A missing object or a
// mismatched hash is a permanent failure (a clear dead-letter reason, never a silent
// skip); an outage or throttle is retryable.
//
// Key rules (Key): bodies/<source>/<hex SHA-256 of the event id>. The source name is
// used as is and must be non-empty and free of '/'; the event id is hashed, so any
// bytes a provider uses as an id give a fixed-length key of safe characters. The
// key depends only on source and event id: a provider's retry of the same event
// overwrites the same object instead of adding one.
//
// Invariants:
//   - Put records the body's hex SHA-256 with the object (S3 object metadata
//     "sha256"); Get returns the body only when its SHA-256 equals the one asked
//     for, else an error matching ErrHashMismatch.
//   - Every error an adapter returns is an *Error; Retryable reports whether trying
//     again can help (outage, throttle: yes; ErrNotFound, ErrHashMismatch: no).
//   - The S3 adapter requests server-side encryption (SSE-S3, AES256) on every put
//     and every touch.
//   - Delete is idempotent: deleting an absent object succeeds. The processor
//     deletes a body once its event is processed (or found a duplicate), best effort:
//     the bucket's lifecycle rule removes whatever a failed delete leaves.
//   - Touch restarts an object's age (the one the lifecycle expiry counts from)
//     without changing its body or its recorded SHA-256; an absent object is
//     ErrNotFound. On S3 it is a copy of the object onto itself (MetadataDirective
//     REPLACE with the same metadata), conditional on the version just read. Redrive
//     touches a body before it replays its message, so the body outlives the
//     message's new retention.
package blob
