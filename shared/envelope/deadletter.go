package envelope

// Message attribute names the processor adds, beside the envelope's own, when it
// sends a message to the dead-letter queue; a redriven message goes back without them.
const (
	AttrReason    = "deadLetterReason" // one of the Reason values below
	AttrLastError = "lastError"        // the last attempt's error, at most 512 bytes
	AttrAttempts  = "attempts"         // real attempts made, when any
	AttrFailedAt  = "failedAt"         // RFC 3339, UTC
)

// Dead-letter reasons, the values of AttrReason.
const (
	ReasonPermanent   = "permanent"   // the handler or the store refused the event for good
	ReasonExhausted   = "exhausted"   // MaxAttempts real attempts all failed
	ReasonUndecodable = "undecodable" // the body is not an envelope
)
