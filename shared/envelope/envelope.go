package envelope

import (
	"encoding/base64"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// Version is the envelope format this code writes and reads.
const Version = 1

// Message attribute names Tenaz sets on every queue message, so that operators and
// tools can filter without decoding the body.
const (
	AttrSource = "source"
	AttrType   = "type"
	AttrKey    = "idempotencyKey"
)

// ErrInvalid marks an envelope that can never be processed: retrying will not help.
var ErrInvalid = errors.New("invalid envelope")

// Envelope is one accepted webhook.
type Envelope struct {
	Source     string            // route name from the URL, e.g. "stripe"
	ID         string            // the provider's event id
	Type       string            // the provider's event type, e.g. "payment_intent.succeeded"
	ReceivedAt time.Time         // when ingest accepted it (UTC)
	Headers    map[string]string // selected provider headers, lower-case names
	Body       []byte            // the raw body exactly as received
}

// Key is the idempotency key: source + ":" + provider id.
func (e *Envelope) Key() string { return e.Source + ":" + e.ID }

// Attributes are the queue message attributes for e.
func (e *Envelope) Attributes() map[string]string {
	return map[string]string{AttrSource: e.Source, AttrType: e.Type, AttrKey: e.Key()}
}

const encodingBase64 = "base64"

// Encode returns the JSON form of e.
func Encode(e *Envelope) ([]byte, error) {
	return AppendEncode(nil, e)
}

// AppendEncode appends the JSON form of e to dst and returns the extended buffer. The
// bytes are those encoding/json writes for the versioned wire object: members in the
// order v, source, id, type, receivedAt, headers (sorted by name, left out when
// empty), body, bodyEncoding (only "base64"); strings escaped as encoding/json
// escapes them, HTML characters included.
func AppendEncode(dst []byte, e *Envelope) ([]byte, error) {
	if err := e.validate(); err != nil {
		return dst, err
	}
	dst = grow(dst, encodedLenHint(e))
	n0 := len(dst)
	dst = append(dst, `{"v":1,"source":`...)
	dst = appendString(dst, e.Source)
	dst = append(dst, `,"id":`...)
	dst = appendString(dst, e.ID)
	dst = append(dst, `,"type":`...)
	dst = appendString(dst, e.Type)
	dst = append(dst, `,"receivedAt":"`...)
	out, err := appendTime(dst, e.ReceivedAt.UTC())
	if err != nil {
		return dst[:n0], fmt.Errorf("envelope receivedAt: %w", err)
	}
	dst = append(out, '"')
	if len(e.Headers) > 0 {
		dst = append(dst, `,"headers":`...)
		dst = appendHeaders(dst, e.Headers)
	}
	dst = append(dst, `,"body":`...)
	if utf8.Valid(e.Body) {
		dst = appendString(dst, e.Body)
		dst = append(dst, '}')
	} else {
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, e.Body)
		dst = append(dst, `","bodyEncoding":"base64"}`...)
	}
	return dst, nil
}

// Decode parses and validates an envelope. Errors wrap ErrInvalid. It accepts exactly
// what encoding/json accepts for the wire object (member names matched without
// regard to case, the last of a repeated member winning, null leaving a member
// unset), and decodes strings as encoding/json does.
func Decode(data []byte) (*Envelope, error) {
	return DecodeString(string(data))
}

// DecodeString is Decode for a message held as a string, such as an SQS record's body.
// The envelope's strings may share the memory of s.
func DecodeString(s string) (*Envelope, error) {
	var w wire
	if err := w.parse(s); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if w.v != Version {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrInvalid, w.v, Version)
	}
	e := &Envelope{
		Source:     w.source.text(),
		ID:         w.id.text(),
		Type:       w.typ.text(),
		ReceivedAt: w.receivedAt,
		Headers:    w.headers,
	}
	switch w.bodyEncoding.text() {
	case "":
		e.Body = w.body
		if e.Body == nil {
			e.Body = []byte{}
		}
	case encodingBase64:
		b := make([]byte, base64.StdEncoding.DecodedLen(len(w.body)))
		n, err := base64.StdEncoding.Decode(b, w.body)
		if err != nil {
			return nil, fmt.Errorf("%w: body: %v", ErrInvalid, err)
		}
		e.Body = b[:n]
	default:
		return nil, fmt.Errorf("%w: unknown bodyEncoding %q", ErrInvalid, w.bodyEncoding.text())
	}
	if err := e.validate(); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *Envelope) validate() error {
	switch {
	case e.Source == "":
		return fmt.Errorf("%w: missing source", ErrInvalid)
	case e.ID == "":
		return fmt.Errorf("%w: missing id", ErrInvalid)
	case e.Type == "":
		return fmt.Errorf("%w: missing type", ErrInvalid)
	}
	return nil
}
