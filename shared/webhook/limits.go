package webhook

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
)

// Limits of an event id and type. The id is part of the idempotency key in DynamoDB
// (a partition key may hold 2048 bytes; the source name and a separator join it) and
// both travel as SQS message attributes, so each is kept short and plain: 1 to 256
// bytes of printable ASCII without spaces (0x21 to 0x7E). Anything else is refused
// with invalid_id or invalid_type rather than truncated, since a truncated id could
// make two events one.
const (
	MaxIDBytes   = 256
	MaxTypeBytes = 256
)

// checkText reports what is wrong with an id or type, or "" when it is acceptable.
func checkText(s string, max int) string {
	if len(s) > max {
		return "is " + strconv.Itoa(len(s)) + " bytes long; at most " + strconv.Itoa(max) + " are accepted"
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e {
			return "holds a byte outside printable ASCII without spaces (0x21 to 0x7E) at offset " + strconv.Itoa(i)
		}
	}
	return ""
}

// checkEvent applies the limits to a verified event's id and type.
func checkEvent(ev *Event) *Error {
	if msg := checkText(ev.ID, MaxIDBytes); msg != "" {
		return errInvalidID("event id " + msg)
	}
	if msg := checkText(ev.Type, MaxTypeBytes); msg != "" {
		return errInvalidType("event type " + msg)
	}
	return nil
}

// bodyKey is the id of a source keyed on its body: the body's SHA-256 in lower-case hex.
func bodyKey(body []byte) string {
	d := sha256.Sum256(body)
	return hex.EncodeToString(d[:])
}
