package webhook

import "net/http"

// Verification failure codes, the Code of an *Error.
const (
	CodeMissingSignature = "missing_signature" // 401: a signature or timestamp header is absent
	CodeBadSignature     = "bad_signature"     // 401: a header does not parse, or no signature matches
	CodeStaleTimestamp   = "stale_timestamp"   // 401: the signed timestamp is outside the tolerance
	CodeMalformedJSON    = "malformed_json"    // 400: the body is not the JSON object the scheme needs
	CodeMissingID        = "missing_id"        // 400: no event id where the scheme puts it
	CodeMissingType      = "missing_type"      // 400: no event type where the scheme puts it
	CodeInvalidID        = "invalid_id"        // 400: the event id is longer than MaxIDBytes or not printable ASCII without spaces
	CodeInvalidType      = "invalid_type"      // 400: the event type is longer than MaxTypeBytes or not printable ASCII without spaces
	// 422: the signature matched but the body is not JSON (its content type says so:
	// a form, text, XML, binary) and neither it nor the headers yield the event id or
	// type the scheme looks for. 422 rather than 400: the request is well formed and
	// authentic; Tenaz cannot key it for idempotency, so it refuses it rather than
	// guess.
	CodeNoEventID = "no_event_id"
)

// Error is every verification failure. Status is the HTTP status to answer; Message
// says what was wrong in words safe to return to the sender: it never holds a secret,
// an expected signature or body content. A sender can only fix these by sending a
// different request, so retrying the same one never helps.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return "webhook " + e.Code + ": " + e.Message }

func errMissingSignature(msg string) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: CodeMissingSignature, Message: msg}
}

func errBadSignature(msg string) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: CodeBadSignature, Message: msg}
}

func errStale(msg string) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: CodeStaleTimestamp, Message: msg}
}

func errMalformed(msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeMalformedJSON, Message: msg}
}

func errMissingID(msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeMissingID, Message: msg}
}

func errMissingType(msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeMissingType, Message: msg}
}

func errInvalidID(msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidID, Message: msg}
}

func errInvalidType(msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidType, Message: msg}
}

func errNoEventID(msg string) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Code: CodeNoEventID, Message: msg}
}
