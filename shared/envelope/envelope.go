package envelope

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// Versions of the envelope format. Version 1 carries the body inline; version 2
// carries a reference to a body held in the claim-check store (BodyRef and
// BodySHA256) and no body. Ref messages get their own version so that a reader that
// knows only version 1 refuses them as undecodable (a dead letter a replay recovers)
// instead of handing a destination an empty body.
const (
	Version    = 1
	VersionRef = 2
)

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
	// BodyRef, when set, is the claim-check store key of a body too large to travel
	// inline (blob.Key), and BodySHA256 its hex SHA-256. The message then carries no
	// body: Body is empty until the reader loads it (blob.Load).
	BodyRef    string
	BodySHA256 string
}

// Stored reports whether e's body is held in the claim-check store.
func (e *Envelope) Stored() bool { return e.BodyRef != "" }

// Key is the idempotency key: source + ":" + provider id.
func (e *Envelope) Key() string { return e.Source + ":" + e.ID }

// Attributes are the queue message attributes for e.
func (e *Envelope) Attributes() map[string]string {
	return map[string]string{AttrSource: e.Source, AttrType: e.Type, AttrKey: e.Key()}
}

// wire is the JSON object on the queue. encoding/json writes its members in this
// order, the headers sorted by name.
type wire struct {
	V            int               `json:"v"`
	Source       string            `json:"source"`
	ID           string            `json:"id"`
	Type         string            `json:"type"`
	ReceivedAt   time.Time         `json:"receivedAt"`
	Headers      map[string]string `json:"headers,omitempty"`
	Body         string            `json:"body"`
	BodyEncoding string            `json:"bodyEncoding,omitempty"`
	BodyRef      string            `json:"bodyRef,omitempty"`
	BodySHA256   string            `json:"bodySha256,omitempty"`
}

// wireRef is the version 2 message: wire without the body members.
type wireRef struct {
	V          int               `json:"v"`
	Source     string            `json:"source"`
	ID         string            `json:"id"`
	Type       string            `json:"type"`
	ReceivedAt time.Time         `json:"receivedAt"`
	Headers    map[string]string `json:"headers,omitempty"`
	BodyRef    string            `json:"bodyRef"`
	BodySHA256 string            `json:"bodySha256"`
}

const encodingBase64 = "base64"

// Encode returns the JSON form of e. It fails, retrying will not help, for an
// envelope without source, id or type (ErrInvalid) and for a ReceivedAt outside the
// years 0 to 9999.
func Encode(e *Envelope) ([]byte, error) {
	if err := e.validate(); err != nil {
		return nil, err
	}
	w := wire{
		V:          Version,
		Source:     e.Source,
		ID:         e.ID,
		Type:       e.Type,
		ReceivedAt: e.ReceivedAt.UTC(),
		Headers:    e.Headers,
	}
	if e.Stored() {
		return marshal(&wireRef{V: VersionRef, Source: w.Source, ID: w.ID, Type: w.Type, ReceivedAt: w.ReceivedAt,
			Headers: w.Headers, BodyRef: e.BodyRef, BodySHA256: e.BodySHA256})
	}
	if utf8.Valid(e.Body) {
		w.Body = string(e.Body)
	} else {
		w.Body = base64.StdEncoding.EncodeToString(e.Body)
		w.BodyEncoding = encodingBase64
	}
	return marshal(&w)
}

func marshal(w any) ([]byte, error) {
	data, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("encode envelope: %w", err)
	}
	return data, nil
}

// Decode parses and validates an envelope. Errors wrap ErrInvalid.
func Decode(data []byte) (*Envelope, error) {
	var w wire
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	switch {
	case w.V != Version && w.V != VersionRef:
		return nil, fmt.Errorf("%w: version %d, want %d or %d", ErrInvalid, w.V, Version, VersionRef)
	case w.V == Version && (w.BodyRef != "" || w.BodySHA256 != ""):
		return nil, fmt.Errorf("%w: version %d with a body reference", ErrInvalid, w.V)
	case w.V == VersionRef && w.BodyRef == "":
		return nil, fmt.Errorf("%w: version %d without a body reference", ErrInvalid, w.V)
	case w.V == VersionRef && (w.Body != "" || w.BodyEncoding != ""):
		return nil, fmt.Errorf("%w: version %d with an inline body", ErrInvalid, w.V)
	}
	e := &Envelope{
		Source:     w.Source,
		ID:         w.ID,
		Type:       w.Type,
		ReceivedAt: w.ReceivedAt,
		Headers:    w.Headers,
		BodyRef:    w.BodyRef,
		BodySHA256: w.BodySHA256,
	}
	switch w.BodyEncoding {
	case "":
		e.Body = []byte(w.Body)
	case encodingBase64:
		b, err := base64.StdEncoding.DecodeString(w.Body)
		if err != nil {
			return nil, fmt.Errorf("%w: body: %v", ErrInvalid, err)
		}
		e.Body = b
	default:
		return nil, fmt.Errorf("%w: unknown bodyEncoding %q", ErrInvalid, w.BodyEncoding)
	}
	if err := e.validate(); err != nil {
		return nil, err
	}
	return e, nil
}

// DecodeString is Decode for a message held as a string, such as an SQS record's body.
func DecodeString(s string) (*Envelope, error) { return Decode([]byte(s)) }

func (e *Envelope) validate() error {
	switch {
	case e.Source == "":
		return fmt.Errorf("%w: missing source", ErrInvalid)
	case e.ID == "":
		return fmt.Errorf("%w: missing id", ErrInvalid)
	case e.Type == "":
		return fmt.Errorf("%w: missing type", ErrInvalid)
	case e.Stored() && !isSHA256Hex(e.BodySHA256):
		return fmt.Errorf("%w: bodySha256 %q is not a hex SHA-256", ErrInvalid, e.BodySHA256)
	case !e.Stored() && e.BodySHA256 != "":
		return fmt.Errorf("%w: bodySha256 without bodyRef", ErrInvalid)
	}
	return nil
}

// isSHA256Hex reports whether s is 64 lower-case hex digits.
func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
