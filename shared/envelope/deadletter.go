package envelope

// Message attribute names the processor adds, beside the envelope's own, when it
// sends a message to the dead-letter queue; a redriven message goes back without them.
const (
	AttrReason    = "deadLetterReason" // one of the Reason values below
	AttrLastError = "lastError"        // the last attempt's error, at most 512 bytes
	AttrAttempts  = "attempts"         // real attempts made, when any
	AttrFailedAt  = "failedAt"         // RFC 3339, UTC
	// AttrDestinations names, comma-separated, the destinations of a fanned-out
	// event whose failure this dead letter holds; a replay delivers only to them.
	// Unlike the others it stays on a replayed message. Absent: every destination.
	AttrDestinations = "destinations"
)

// Dead-letter reasons, the values of AttrReason.
const (
	ReasonPermanent   = "permanent"   // the handler or the store refused the event for good
	ReasonExhausted   = "exhausted"   // MaxAttempts real attempts all failed
	ReasonUndecodable = "undecodable" // the body is not an envelope
	// ReasonBodyMissing: the claim-checked body is not in the body store (expired,
	// deleted, or no store configured).
	ReasonBodyMissing = "bodyMissing"
	// ReasonBodyMismatch: the stored body's SHA-256 is not the one the message carries.
	ReasonBodyMismatch = "bodyMismatch"
	// ReasonExpiring: the message would outlive the main queue's retention before its
	// next delivery; dead-lettered so it is never dropped silently.
	ReasonExpiring = "expiring"
)
