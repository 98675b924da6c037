package redrive

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/route"
)

// ErrBadRequest marks a request Run refuses before it touches a queue: an unknown
// field, a malformed time, a negative max. Retrying the same request cannot help.
var ErrBadRequest = errors.New("bad redrive request")

// ErrEmptyRequest is the refusal of a request with no body, an empty body or JSON
// null; it wraps ErrBadRequest. Send {} to replay everything, or {"dryRun": true}
// for the report.
var ErrEmptyRequest = fmt.Errorf("%w: the request is empty; send {} to replay every message of the dead-letter queue, or {\"dryRun\": true} for a report", ErrBadRequest)

// MaxIDs is the most entries filter.ids may hold: 1000.
const MaxIDs = 1000

// Request is one redrive run, e.g.
//
//	{"dryRun": false, "max": 500, "ratePerSecond": 50,
//	 "filter": {"source": "stripe", "type": "payment_intent.*",
//	            "receivedAfter": "2026-05-01T00:00:00Z", "receivedBefore": "2026-05-02T00:00:00Z"}}
//
// The zero Request, written {}, moves every message of the dead-letter queue that is
// under the redrive limit, as fast as the queues allow. Only the explicit {} asks for
// that: a missing, empty or null request is refused (ErrEmptyRequest), so that an
// invocation that lost its payload cannot replay the whole queue.
type Request struct {
	// DryRun receives and releases only: nothing is sent, deleted or reset. Its
	// report is the dead-letter queue report.
	DryRun bool `json:"dryRun"`
	// Max bounds how many messages the run moves (or, in a dry run, would move);
	// 0 means no bound.
	Max int `json:"max,omitempty"`
	// RatePerSecond paces the sends to the main queue, in messages per second on
	// average over the run; 0 means unpaced.
	RatePerSecond float64 `json:"ratePerSecond,omitempty"`
	Filter        Filter  `json:"filter,omitzero"`
}

// Filter selects the messages to move. Every field that is set must match; the zero
// Filter matches every decodable message.
type Filter struct {
	Source string `json:"source,omitempty"` // the envelope's source, exactly
	// Type is a pattern over the envelope's type where '*' matches any run of
	// characters (route.Match): "payment_intent.*", "orders/*".
	Type string `json:"type,omitempty"`
	// IDs lists events by the provider's event id (the envelope's id, e.g. evt_…) or
	// by idempotency key (source:id); a message matches when either is listed.
	IDs []string `json:"ids,omitempty"`
	// ReceivedAfter and ReceivedBefore bound the envelope's receivedAt (when ingest
	// accepted the webhook) to the window [ReceivedAfter, ReceivedBefore). In JSON
	// they are RFC 3339 times, e.g. "2026-05-01T00:00:00Z".
	ReceivedAfter  time.Time `json:"receivedAfter,omitzero"`
	ReceivedBefore time.Time `json:"receivedBefore,omitzero"`
	// Destination selects the dead letters of a fanned-out event that name this
	// destination (route name) in their destinations attribute: after fixing one
	// destination, replay only its failures. A dead letter that names none (a whole
	// event) does not match.
	Destination string `json:"destination,omitempty"`
}

// wireRequest is the JSON form, with the times as text so that a malformed time gets
// an error that names its field.
type wireRequest struct {
	DryRun        bool       `json:"dryRun"`
	Max           int        `json:"max"`
	RatePerSecond float64    `json:"ratePerSecond"`
	Filter        wireFilter `json:"filter"`
}

type wireFilter struct {
	Source         string   `json:"source"`
	Type           string   `json:"type"`
	IDs            []string `json:"ids"`
	ReceivedAfter  string   `json:"receivedAfter"`
	ReceivedBefore string   `json:"receivedBefore"`
	Destination    string   `json:"destination"`
}

// ParseRequest decodes and validates a request. An empty, blank or null payload is
// ErrEmptyRequest; {} is the zero Request. Unknown fields, trailing data and invalid
// values are errors wrapping ErrBadRequest.
func ParseRequest(data []byte) (Request, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || string(data) == "null" {
		return Request{}, ErrEmptyRequest
	}
	var w wireRequest
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return Request{}, fmt.Errorf("%w: %s", ErrBadRequest, describe(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return Request{}, fmt.Errorf("%w: unexpected data after the request object", ErrBadRequest)
	}
	r := Request{
		DryRun:        w.DryRun,
		Max:           w.Max,
		RatePerSecond: w.RatePerSecond,
		Filter: Filter{
			Source: w.Filter.Source,
			Type:   w.Filter.Type,
			IDs:    w.Filter.IDs,

			Destination: strings.TrimSpace(w.Filter.Destination),
		},
	}
	var err error
	if r.Filter.ReceivedAfter, err = parseTime("filter.receivedAfter", w.Filter.ReceivedAfter); err != nil {
		return Request{}, err
	}
	if r.Filter.ReceivedBefore, err = parseTime("filter.receivedBefore", w.Filter.ReceivedBefore); err != nil {
		return Request{}, err
	}
	if err := r.Validate(); err != nil {
		return Request{}, err
	}
	return r, nil
}

// describe says what is wrong with a request that does not decode, in the request's
// own terms.
func describe(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" {
			return fmt.Sprintf("the request is a JSON %s, want an object", te.Value)
		}
		want := "a " + te.Type.String()
		switch te.Type.Kind() {
		case reflect.Int:
			want = "a whole number"
		case reflect.Float64:
			want = "a number"
		case reflect.Bool:
			want = "true or false"
		case reflect.String:
			want = "a string"
		case reflect.Struct:
			want = "an object"
		case reflect.Slice:
			want = "an array"
		}
		return fmt.Sprintf("%s: a JSON %s, want %s", te.Field, te.Value, want)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "the request is not complete JSON"
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

func parseTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %s: %q is not an RFC 3339 time such as 2026-05-01T00:00:00Z", ErrBadRequest, field, s)
	}
	return t, nil
}

// Validate reports the first invalid value, wrapping ErrBadRequest.
func (r Request) Validate() error {
	f := r.Filter
	switch {
	case r.Max < 0:
		return fmt.Errorf("%w: max %d is negative (0 means no bound)", ErrBadRequest, r.Max)
	case r.RatePerSecond < 0 || math.IsNaN(r.RatePerSecond) || math.IsInf(r.RatePerSecond, 0):
		return fmt.Errorf("%w: ratePerSecond %v must be a positive number of messages per second (0 means unpaced)", ErrBadRequest, r.RatePerSecond)
	case len(f.IDs) > MaxIDs:
		return fmt.Errorf("%w: filter.ids has %d entries, at most %d", ErrBadRequest, len(f.IDs), MaxIDs)
	case !f.ReceivedAfter.IsZero() && !f.ReceivedBefore.IsZero() && !f.ReceivedAfter.Before(f.ReceivedBefore):
		return fmt.Errorf("%w: filter.receivedAfter %s is not before filter.receivedBefore %s", ErrBadRequest,
			f.ReceivedAfter.Format(time.RFC3339), f.ReceivedBefore.Format(time.RFC3339))
	}
	for i, id := range f.IDs {
		if strings.TrimSpace(id) == "" {
			return fmt.Errorf("%w: filter.ids[%d] is empty", ErrBadRequest, i)
		}
	}
	return nil
}

// matcher is a Filter ready to test envelopes.
type matcher struct {
	f   Filter
	ids map[string]bool
}

func newMatcher(f Filter) matcher {
	m := matcher{f: f}
	if len(f.IDs) > 0 {
		m.ids = make(map[string]bool, len(f.IDs))
		for _, id := range f.IDs {
			m.ids[id] = true
		}
	}
	return m
}

// match reports whether e, dead-lettered with attrs, passes every condition of the
// filter.
func (m matcher) match(e *envelope.Envelope, attrs map[string]string) bool {
	f := m.f
	switch {
	case f.Destination != "" && !slices.Contains(strings.Split(attrs[envelope.AttrDestinations], ","), f.Destination):
		return false
	case f.Source != "" && e.Source != f.Source:
		return false
	case f.Type != "" && !route.Match(f.Type, e.Type):
		return false
	case m.ids != nil && !m.ids[e.ID] && !m.ids[e.Key()]:
		return false
	case !f.ReceivedAfter.IsZero() && e.ReceivedAt.Before(f.ReceivedAfter):
		return false
	case !f.ReceivedBefore.IsZero() && !e.ReceivedAt.Before(f.ReceivedBefore):
		return false
	}
	return true
}
