package webhook

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Event is what a verified webhook yields.
type Event struct {
	ID, Type string
	// Challenge is set for a Slack url_verification request. ID is empty then, and
	// Reply holds the answer.
	Challenge string
	// Reply is set for a provider's endpoint check (Slack url_verification, Zoom
	// endpoint.url_validation, Twitch webhook_callback_verification, Discord PING):
	// the ingest answers it at once and enqueues nothing. ID is empty then.
	Reply *Reply
	// Headers are the provider headers worth keeping on the envelope (lower-case
	// names), never a signature header; nil when there are none. Each Verify makes
	// a new map, which the caller may change.
	Headers map[string]string
}

// Verify checks the signature over the raw body, then extracts the event id and type.
// headers have lower-case names (API Gateway HTTP API payload v2 delivers them so);
// now is the clock the timestamp tolerance is measured against. Every failure is an
// *Error. Nothing in the body is read before the signature matched.
func (s *Source) Verify(headers map[string]string, body []byte, now time.Time) (Event, error) {
	var ev Event
	if s.sp != nil {
		key, err := s.verifySpec(headers, body, now)
		if err != nil {
			return Event{}, err
		}
		if ev, err = s.extractSpec(headers, body, key); err != nil {
			return Event{}, err
		}
	} else {
		if err := s.verify(headers, body, now); err != nil {
			return Event{}, err
		}
		var err *Error
		if ev, err = s.extract(headers, body); err != nil {
			return Event{}, err
		}
	}
	if ev.Reply != nil {
		return ev, nil
	}
	if s.keyBody {
		ev.ID = bodyKey(body)
	}
	if err := checkEvent(&ev); err != nil {
		return Event{}, err
	}
	return ev, nil
}

// Reply is the answer to a provider's endpoint check: status 200, this content type
// and body.
type Reply struct {
	ContentType string
	Body        []byte
}

// verify checks the signature headers against body.
func (s *Source) verify(headers map[string]string, body []byte, now time.Time) *Error {
	var sigs sigSet
	var parts [4]string // signed before the body, in order
	switch s.kind {
	case kindStripe:
		v := strings.TrimSpace(headers[hStripeSignature])
		if v == "" {
			return errMissingSignature("Stripe-Signature header is missing")
		}
		sig, err := parseStripeSignature(v)
		if err != nil {
			return err
		}
		if err := s.checkTime(sig.t, now); err != nil {
			return err
		}
		sigs, parts = sig.v1, [4]string{sig.tRaw, "."}
	case kindSlack:
		v := strings.TrimSpace(headers[hSlackSignature])
		if v == "" {
			return errMissingSignature("X-Slack-Signature header is missing")
		}
		ts := strings.TrimSpace(headers[hSlackTimestamp])
		if ts == "" {
			return errMissingSignature("X-Slack-Request-Timestamp header is missing")
		}
		d, err := parseSlackSignature(v)
		if err != nil {
			return err
		}
		t, ok := parseUnix(ts)
		if !ok {
			return errBadSignature("X-Slack-Request-Timestamp is not a Unix time in seconds")
		}
		if err := s.checkTime(t, now); err != nil {
			return err
		}
		sigs.add(d)
		parts = [4]string{"v0:", ts, ":"}
	case kindStandard:
		h := standardHeaders(headers)
		switch {
		case h.sig == "":
			return errMissingSignature(h.names + "-signature header is missing")
		case h.id == "":
			return errMissingSignature(h.names + "-id header is missing")
		case h.ts == "":
			return errMissingSignature(h.names + "-timestamp header is missing")
		}
		set, err := parseStandardSignature(h.sig)
		if err != nil {
			return err
		}
		t, ok := parseUnix(h.ts)
		if !ok {
			return errBadSignature(h.names + "-timestamp is not a Unix time in seconds")
		}
		if err := s.checkTime(t, now); err != nil {
			return err
		}
		sigs, parts = set, [4]string{h.id, ".", h.ts, "."}
	default:
		v := headers[s.sigHeader]
		if strings.TrimSpace(v) == "" {
			return errMissingSignature(s.sigName + " header is missing")
		}
		d, err := parsePlainSignature(v, s.prefix, s.base64, s.sigName)
		if err != nil {
			return err
		}
		sigs.add(d)
	}
	return s.match(parts, body, &sigs)
}

// match reports whether any signature in sigs is the HMAC of parts and body under any
// of the source's keys. Each comparison takes constant time.
func (s *Source) match(parts [4]string, body []byte, sigs *sigSet) *Error {
	m := s.ring.get()
	defer s.ring.put(m)
	for i := range s.ring.keys {
		d := s.ring.mac(m, i, parts, body)
		for j := 0; j < sigs.n; j++ {
			if equal(&d, &sigs.d[j]) {
				return nil
			}
		}
	}
	return errBadSignature(s.sigName + " does not match: the body or the secret differs")
}

// checkTime refuses a signed Unix time t more than the tolerance away from now, in
// whole seconds: exactly the tolerance passes.
func (s *Source) checkTime(t int64, now time.Time) *Error {
	if d := now.Unix() - t; d > s.tolerance || d < -s.tolerance {
		return errStale("signed timestamp is more than " + strconv.FormatInt(s.tolerance, 10) + " s from the current time")
	}
	return nil
}

// stdHeaders are the Standard Webhooks headers of a request: webhook-*, or svix-* (the
// same scheme under Svix's header names) when there is no webhook-signature.
type stdHeaders struct {
	id, ts, sig string
	names       string // "webhook" or "svix", for messages
}

func standardHeaders(h map[string]string) stdHeaders {
	if _, ok := h[hStdSignature]; !ok {
		if sig, ok := h[hSvixSignature]; ok {
			return stdHeaders{
				id: strings.TrimSpace(h[hSvixID]), ts: strings.TrimSpace(h[hSvixTimestamp]),
				sig: strings.TrimSpace(sig), names: "svix",
			}
		}
	}
	return stdHeaders{
		id: strings.TrimSpace(h[hStdID]), ts: strings.TrimSpace(h[hStdTimestamp]),
		sig: strings.TrimSpace(h[hStdSignature]), names: "webhook",
	}
}

// slackURLVerification is the type of the request Slack sends to check an endpoint.
const slackURLVerification = "url_verification"

// extract reads the event id and type from a verified request.
func (s *Source) extract(headers map[string]string, body []byte) (Event, *Error) {
	ct := headers[hContentType]
	if s.kind == kindSlack && isForm(ct) {
		return s.extractSlackForm(headers, body)
	}
	var r jsonResult
	// opaque: the body is not JSON and its content type says so; only headers are read,
	// and a missing id or type is no_event_id.
	opaque := s.json == jsonNever && declaredNotJSON(ct)
	if s.json != jsonNever && (s.json == jsonAlways || bodyIsJSON(s.json, ct)) {
		if err := scanObject(body, &s.query, &r); err != nil {
			// github and shopify keep their formats: any other body is malformed_json.
			if !declaredNotJSON(ct) || s.kind != kindSlack && s.scheme != SchemeHMACSHA256 {
				return Event{}, errMalformed(err.Error())
			}
			r, opaque = jsonResult{}, true
		}
	}
	if s.kind == kindSlack {
		if r.vals[qType].is(body, slackURLVerification) {
			c, _ := r.vals[qChallenge].text(body, false)
			if c == "" {
				return Event{}, errMalformed(`url_verification without a "challenge" string`)
			}
			b, _ := json.Marshal(map[string]string{"challenge": c})
			return Event{Type: slackURLVerification, Challenge: c, Reply: &Reply{ContentType: "application/json", Body: b}}, nil
		}
	}

	var ev Event
	if s.keyBody {
		ev.ID = "-" // Verify replaces it with the body's hash
	} else if s.kind == kindStandard {
		ev.ID = standardHeaders(headers).id
	} else {
		ev.ID = s.pick(headers, s.idHeader, s.idField, &r.vals[qID], body, s.idNumber)
	}
	if ev.ID == "" {
		if opaque {
			return Event{}, errNoEventID("body is not JSON (content type " + strconv.Quote(mediaType(ct)) + ") and " + s.absent(s.idName, s.idField, s.idNumber))
		}
		if s.kind == kindStandard {
			return Event{}, errMissingID("webhook-id header is missing")
		}
		return Event{}, errMissingID(s.absent(s.idName, s.idField, s.idNumber))
	}

	if s.kind == kindSlack {
		ev.Type, _ = r.nested[0].text(body, false)
	}
	if ev.Type == "" {
		ev.Type = s.pick(headers, s.typeHeader, s.typeField, &r.vals[qType], body, false)
	}
	if ev.Type == "" {
		if opaque {
			return Event{}, errNoEventID("body is not JSON (content type " + strconv.Quote(mediaType(ct)) + ") and " + s.absent(s.typeName, s.typeField, false))
		}
		if s.kind == kindSlack {
			return Event{}, errMissingType(`body has no "event.type" or "type" string`)
		}
		return Event{}, errMissingType(s.absent(s.typeName, s.typeField, false))
	}
	ev.Headers = s.kept(headers)
	return ev, nil
}

// pick takes a value from header when it is set and present, else from the captured
// body member.
func (s *Source) pick(headers map[string]string, header, field string, v *jsonValue, body []byte, numberOK bool) string {
	if header != "" {
		if h := strings.TrimSpace(headers[header]); h != "" {
			return h
		}
	}
	if field != "" {
		t, _ := v.text(body, numberOK)
		return t
	}
	return ""
}

// absent says where a missing id or type was looked for.
func (s *Source) absent(header, field string, numberOK bool) string {
	what := "string"
	if numberOK {
		what = "string or number"
	}
	switch {
	case header != "" && field != "":
		return "no " + header + " header and the body has no " + strconv.Quote(field) + " " + what
	case header != "":
		return header + " header is missing"
	}
	return "body has no " + strconv.Quote(field) + " " + what
}

// mediaType is a content type without its parameters.
func mediaType(contentType string) string {
	mt, _, _ := strings.Cut(contentType, ";")
	return strings.TrimSpace(mt)
}

// isForm reports whether a content type is application/x-www-form-urlencoded.
func isForm(contentType string) bool {
	return strings.EqualFold(mediaType(contentType), "application/x-www-form-urlencoded")
}

// declaredNotJSON reports whether a content type says the body is not JSON: it is
// set and is neither application/json, text/json nor a +json type. A body without a
// content type, or labelled JSON, that does not parse is malformed_json; one that
// says it is something else is kept when headers give its id and type.
func declaredNotJSON(contentType string) bool {
	mt := mediaType(contentType)
	if mt == "" || strings.EqualFold(mt, "application/json") || strings.EqualFold(mt, "text/json") {
		return false
	}
	return len(mt) < 5 || !strings.EqualFold(mt[len(mt)-5:], "+json")
}

// bodyIsJSON applies a jsonRule to the request's content type.
func bodyIsJSON(rule jsonRule, contentType string) bool {
	mt := mediaType(contentType)
	if strings.EqualFold(mt, "application/x-www-form-urlencoded") {
		return false
	}
	if rule == jsonUnlessOther && len(mt) >= 4 {
		tail := mt[len(mt)-4:]
		if strings.EqualFold(tail, "/xml") || strings.EqualFold(tail, "+xml") {
			return false
		}
	}
	return true
}

// kept copies the headers worth keeping on the envelope.
func (s *Source) kept(h map[string]string) map[string]string {
	var m map[string]string
	for _, k := range s.keep {
		if v := h[k]; v != "" {
			if m == nil {
				m = make(map[string]string, len(s.keep))
			}
			m[k] = v
		}
	}
	return m
}
