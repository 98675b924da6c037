package envelope

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
	"unicode/utf16"
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

// head is what every version of the message starts with. encoding/json writes its
// members in this order, the headers sorted by name, before those of the struct
// that embeds it.
type head struct {
	V          int               `json:"v"`
	Source     string            `json:"source"`
	ID         string            `json:"id"`
	Type       string            `json:"type"`
	ReceivedAt time.Time         `json:"receivedAt"`
	Headers    map[string]string `json:"headers,omitempty"`
}

// wire is the JSON object on the queue, as Decode reads every version and Encode
// writes version 1.
type wire struct {
	head
	Body         string `json:"body"`
	BodyEncoding string `json:"bodyEncoding,omitempty"`
	BodyRef      string `json:"bodyRef,omitempty"`
	BodySHA256   string `json:"bodySha256,omitempty"`
}

// wireRef is the version 2 message: a reference to the stored body instead of it.
type wireRef struct {
	head
	BodyRef    string `json:"bodyRef"`
	BodySHA256 string `json:"bodySha256"`
}

const encodingBase64 = "base64"

// Encode returns the JSON form of e, made only of characters SQS accepts. An inline
// body travels as a JSON string when it is valid UTF-8 and no longer so written
// than base64-encoded; otherwise base64-encoded. It fails, retrying will not help, for an
// envelope without source, id or type (ErrInvalid) and for a ReceivedAt outside the
// years 0 to 9999.
func Encode(e *Envelope) ([]byte, error) {
	if err := e.validate(); err != nil {
		return nil, err
	}
	h := head{V: Version, Source: e.Source, ID: e.ID, Type: e.Type, ReceivedAt: e.ReceivedAt.UTC(), Headers: e.Headers}
	if e.Stored() {
		h.V = VersionRef
		return marshal(&wireRef{head: h, BodyRef: e.BodyRef, BodySHA256: e.BodySHA256})
	}
	w := wire{head: h}
	if inlineLen(e.Body) <= base64.StdEncoding.EncodedLen(len(e.Body)) {
		w.Body = string(e.Body)
	} else {
		w.Body = base64.StdEncoding.EncodeToString(e.Body)
		w.BodyEncoding = encodingBase64
	}
	return marshal(&w)
}

// marshal writes w as encoding/json does, without escaping HTML characters and with
// every character SQS refuses written as a \u escape.
func marshal(w any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(w); err != nil {
		return nil, fmt.Errorf("encode envelope: %w", err)
	}
	return escapeForSQS(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))), nil
}

// sqsLegal reports whether SQS accepts r in a message body or attribute value:
// #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF.
func sqsLegal(r rune) bool {
	switch {
	case r == 0x9 || r == 0xA || r == 0xD:
		return true
	case r >= 0x20 && r <= 0xD7FF:
		return true
	case r >= 0xE000 && r <= 0xFFFD:
		return true
	}
	return r >= 0x10000 && r <= 0x10FFFF
}

// escapeForSQS rewrites every character of data that SQS refuses as a JSON \u
// escape. encoding/json writes valid UTF-8 and escapes control characters, so what is
// left to rewrite are the non-characters U+FFFE and U+FFFF, which occur only inside
// JSON strings: the result is the same JSON value. data is returned as is when it
// holds nothing to rewrite.
func escapeForSQS(data []byte) []byte {
	var out []byte
	last := 0
	for i := 0; i < len(data); {
		if c := data[i]; c >= 0x20 && c < utf8.RuneSelf {
			i++
			continue
		}
		r, n := utf8.DecodeRune(data[i:])
		if sqsLegal(r) && n > 1 {
			i += n
			continue
		}
		if out == nil {
			out = make([]byte, 0, len(data)+16)
		}
		out = append(out, data[last:i]...)
		if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
			out = fmt.Appendf(out, `\u%04x\u%04x`, r1, r2)
		} else {
			out = fmt.Appendf(out, `\u%04x`, r)
		}
		i += n
		last = i
	}
	if out == nil {
		return data
	}
	return append(out, data[last:]...)
}

// inlineLen is the length of body written as a JSON string by marshal, quotes left
// out, or a length larger than any base64 encoding of it when body is not valid
// UTF-8 (and so cannot travel as a string).
func inlineLen(body []byte) int {
	n := 0
	for i := 0; i < len(body); {
		c := body[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t':
				n += 2
			case c < 0x20:
				n += len(`\u0000`)
			default:
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(body[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			return math.MaxInt
		case r == '\u2028' || r == '\u2029' || !sqsLegal(r):
			n += len(`\u0000`)
		default:
			n += size
		}
		i += size
	}
	return n
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
