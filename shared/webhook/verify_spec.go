package webhook

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// maxSigBytes bounds a decoded public-key signature (an ASN.1 ECDSA P-256 signature is
// at most 72 bytes; Ed25519's is 64).
const maxSigBytes = 128

// specSig is a parsed signature header: the signatures it carries and the timestamp
// as sent, when the header holds it.
type specSig struct {
	sigs [][]byte
	ts   string
}

// parseSpecSig parses the signature header v as p lays it out. Signatures of the wrong
// length for p's algorithm are skipped: they could never match.
func parseSpecSig(p *spec, v string) (specSig, *Error) {
	var out specSig
	v = strings.TrimSpace(v)
	switch p.layout {
	case layoutFields:
		seenT := false
		for item := range strings.FieldsFuncSeq(v, func(r rune) bool { return r == ',' || r == ';' }) {
			key, val, ok := strings.Cut(item, "=")
			if !ok {
				continue
			}
			key, val = strings.TrimSpace(key), strings.TrimSpace(val)
			switch key {
			case p.tsKey:
				if seenT {
					return out, errBadSignature(p.sigName + " has more than one timestamp (" + p.tsKey + "=)")
				}
				seenT, out.ts = true, val
			case p.sigKey:
				if d, ok := p.decodeSig(val); ok {
					if len(out.sigs) == maxSignatures {
						return out, errBadSignature(p.sigName + " has more than 8 signatures")
					}
					out.sigs = append(out.sigs, d)
				}
			}
		}
		if p.tsKey != "" && !seenT {
			return out, errBadSignature(p.sigName + " has no timestamp (" + p.tsKey + "=)")
		}
	case layoutSpaced:
		for entry := range strings.FieldsSeq(v) {
			if b, ok := strings.CutPrefix(entry, p.sigKey+","); ok {
				if d, ok := p.decodeSig(b); ok && len(out.sigs) < maxSignatures {
					out.sigs = append(out.sigs, d)
				}
			}
		}
	default:
		if len(v) >= len(p.prefix) && strings.EqualFold(v[:len(p.prefix)], p.prefix) {
			if d, ok := p.decodeSig(v[len(p.prefix):]); ok {
				out.sigs = append(out.sigs, d)
			}
		}
	}
	if len(out.sigs) == 0 {
		return out, errBadSignature(p.sigName + " holds no well-formed signature")
	}
	return out, nil
}

// decodeSig decodes one signature in p's encoding, refusing a length that cannot match.
func (p *spec) decodeSig(s string) ([]byte, bool) {
	var b []byte
	var err error
	if p.base64 {
		b, err = decodeB64(s)
	} else {
		b, err = hex.DecodeString(s)
	}
	if err != nil {
		return nil, false
	}
	switch p.method {
	case methodEd25519:
		return b, len(b) == ed25519.SignatureSize
	case methodECDSA:
		return b, len(b) > 0 && len(b) <= maxSigBytes
	}
	return b, len(b) == p.alg.size()
}

// parseTime parses a signed timestamp in unit u to Unix milliseconds.
func parseTime(s string, u timeUnit) (int64, bool) {
	switch u {
	case unitRFC3339:
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return 0, false
		}
		return t.UnixMilli(), true
	case unitMillis:
		return parseUnix(s)
	}
	t, ok := parseUnix(s)
	if !ok || t > 1<<40 {
		return 0, false
	}
	return t * 1000, true
}

var unitWords = [...]string{unitSeconds: "a Unix time in seconds", unitMillis: "a Unix time in milliseconds", unitRFC3339: "an RFC 3339 time"}

// checkSpecTime refuses a timestamp more than the tolerance from now. Milliseconds
// count: exactly the tolerance passes.
func (s *Source) checkSpecTime(ms int64, now time.Time) *Error {
	if s.tolerance == 0 {
		return nil
	}
	if d := now.UnixMilli() - ms; d > s.tolerance*1000 || d < -s.tolerance*1000 {
		return errStale("signed timestamp is more than " + strconv.FormatInt(s.tolerance, 10) + " s from the current time")
	}
	return nil
}

// verifySpec checks a spec source's request and returns the index of the key that
// matched (HMAC methods), which answers a handshake.
func (s *Source) verifySpec(headers map[string]string, body []byte, now time.Time) (int, *Error) {
	p := s.sp
	switch p.method {
	case methodToken:
		v := headers[p.sigHeader]
		if v == "" {
			return 0, errMissingSignature(p.sigName + " header is missing")
		}
		return 0, s.matchSecret(v)
	case methodBasic:
		v := strings.TrimSpace(headers[p.sigHeader])
		if v == "" {
			return 0, errMissingSignature("Authorization header is missing")
		}
		scheme, cred, _ := strings.Cut(v, " ")
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
		if !strings.EqualFold(scheme, "Basic") || err != nil {
			return 0, errBadSignature("Authorization is not Basic <base64 of user:password>")
		}
		return 0, s.matchSecret(string(raw))
	case methodMailgun:
		return s.verifyMailgun(body, now)
	}

	v := headers[p.sigHeader]
	if strings.TrimSpace(v) == "" {
		return 0, errMissingSignature(p.sigName + " header is missing")
	}
	sig, err := parseSpecSig(p, v)
	if err != nil {
		return 0, err
	}
	var id string
	if uses(p.tmpl, varID) {
		if id = firstHeader(headers, p.idHeaders); id == "" {
			return 0, errMissingSignature(headerList(p.idHeaders) + " header is missing")
		}
	}
	if p.tsHeader != "" {
		if sig.ts = strings.TrimSpace(headers[p.tsHeader]); sig.ts == "" {
			return 0, errMissingSignature(p.tsName + " header is missing")
		}
	}
	if p.tsHeader != "" || p.tsKey != "" {
		ms, ok := parseTime(sig.ts, p.unit)
		if !ok {
			name := p.tsName
			if p.tsKey != "" {
				name = p.sigName + " timestamp (" + p.tsKey + "=)"
			}
			return 0, errBadSignature(name + " is not " + unitWords[p.unit])
		}
		if err := s.checkSpecTime(ms, now); err != nil {
			return 0, err
		}
	}
	msg, err := s.content(id, sig.ts, body)
	if err != nil {
		return 0, err
	}
	switch p.method {
	case methodEd25519:
		for _, k := range s.keys.ed {
			for _, d := range sig.sigs {
				if ed25519.Verify(k, msg, d) {
					return 0, nil
				}
			}
		}
	case methodECDSA:
		h := sha256.Sum256(msg)
		for _, k := range s.keys.ec {
			for _, d := range sig.sigs {
				if ecdsa.VerifyASN1(k, h[:], d) {
					return 0, nil
				}
			}
		}
	default:
		if i := s.matchHMAC(msg, sig.sigs); i >= 0 {
			if p.bodyTS != nil {
				return i, s.checkBodyTime(body, now)
			}
			return i, nil
		}
	}
	return 0, errBadSignature(p.sigName + " does not match: the body or the secret differs")
}

// checkBodyTime checks the signed timestamp a scheme puts in its body (Linear's
// webhookTimestamp, Unix milliseconds), read only once the signature matched.
func (s *Source) checkBodyTime(body []byte, now time.Time) *Error {
	d, err := parseDoc(body)
	if err != nil {
		return err
	}
	name := strings.Join(s.sp.bodyTS, ".")
	raw, ok := d.raw(s.sp.bodyTS)
	if !ok || len(raw) == 0 || raw[0] < '0' || raw[0] > '9' {
		return errBadSignature("body has no " + strconv.Quote(name) + " number")
	}
	ms, ok := parseTime(string(raw), unitMillis)
	if !ok {
		return errBadSignature("body " + strconv.Quote(name) + " is not a Unix time in milliseconds")
	}
	return s.checkSpecTime(ms, now)
}

// matchHMAC returns the index of the key whose HMAC of msg is one of sigs, or -1.
// Every comparison takes constant time.
func (s *Source) matchHMAC(msg []byte, sigs [][]byte) int {
	for i, k := range s.keys.hmac {
		m := hmac.New(s.sp.alg.new(), k)
		m.Write(msg)
		d := m.Sum(nil)
		for _, sig := range sigs {
			if hmac.Equal(d, sig) {
				return i
			}
		}
	}
	return -1
}

// matchSecret compares a presented secret with every configured one, through their
// SHA-256 so that the time taken does not depend on the lengths either.
func (s *Source) matchSecret(v string) *Error {
	got := sha256.Sum256([]byte(v))
	ok := 0
	for i := range s.keys.secrets {
		ok |= subtle.ConstantTimeCompare(got[:], s.keys.secrets[i][:])
	}
	if ok == 1 {
		return nil
	}
	return errBadSignature(s.sp.sigName + " does not match a configured secret")
}

// content builds the signed content from the template.
func (s *Source) content(id, ts string, body []byte) ([]byte, *Error) {
	p := s.sp
	if len(p.tmpl) == 1 && p.tmpl[0].v == varBody {
		return body, nil
	}
	msg := make([]byte, 0, len(body)+len(s.url)+64)
	for _, part := range p.tmpl {
		switch part.v {
		case varLiteral:
			msg = append(msg, part.lit...)
		case varMethod:
			msg = append(msg, "POST"...) // ingest serves POST only
		case varURL:
			msg = append(msg, s.url...)
		case varID:
			msg = append(msg, id...)
		case varTimestamp:
			msg = append(msg, ts...)
		case varBody:
			msg = append(msg, body...)
		case varParams:
			q, err := url.ParseQuery(string(body))
			if err != nil {
				return nil, errMalformed("body is not application/x-www-form-urlencoded")
			}
			msg = appendParams(msg, q)
		}
	}
	return msg, nil
}

// appendParams appends form parameters sorted by name, each name then its value (every
// value of a repeated name, sorted), as Twilio signs them.
func appendParams(dst []byte, q url.Values) []byte {
	names := make([]string, 0, len(q))
	for k := range q {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		vals := append([]string(nil), q[k]...)
		sort.Strings(vals)
		for _, v := range vals {
			dst = append(dst, k...)
			dst = append(dst, v...)
		}
	}
	return dst
}

func firstHeader(h map[string]string, names []string) string {
	for _, n := range names {
		if v := strings.TrimSpace(h[n]); v != "" {
			return v
		}
	}
	return ""
}

func headerList(names []string) string { return strings.Join(names, " or ") }

// extractSpec reads the event id and type, or the handshake answer, from a verified
// spec request. key is the index of the key that matched.
func (s *Source) extractSpec(headers map[string]string, body []byte, key int) (Event, *Error) {
	p := s.sp
	ct := headers[hContentType]
	var d doc
	// opaque: the body is not JSON and its content type says so; only headers are read,
	// and a missing id or type is no_event_id.
	opaque := s.scheme == SchemeHMAC && p.body == bodyFree && declaredNotJSON(ct)
	switch {
	case p.body == bodyObject:
		var err *Error
		if d, err = parseDoc(body); err != nil {
			if !declaredNotJSON(ct) {
				return Event{}, err
			}
			d, opaque = nil, true
		}
	case p.body == bodyJSON && !json.Valid(body):
		return Event{}, errMalformed(errJSONSyntax.Error())
	}
	if ev, ok, err := s.handshake(headers, d, key); ok || err != nil {
		return ev, err
	}
	var ev Event
	switch {
	case s.keyBody:
	default:
		ev.ID = firstHeader(headers, p.idHeaders)
		if ev.ID == "" && p.idPath != nil {
			ev.ID, _ = d.text(p.idPath, p.idNumber)
		}
		if ev.ID == "" && !p.idBodyHash {
			if opaque {
				return Event{}, errNoEventID("body is not JSON (content type " + strconv.Quote(mediaType(ct)) + ") and " + specAbsent(p.idHeaders, p.idPath, p.idNumber))
			}
			return Event{}, errMissingID(specAbsent(p.idHeaders, p.idPath, p.idNumber))
		}
	}
	if ev.ID == "" && !s.keyBody {
		ev.ID = bodyKey(body)
	}
	if p.typeHeader != "" {
		ev.Type = strings.TrimSpace(headers[p.typeHeader])
	}
	if ev.Type == "" && p.typePath != nil {
		ev.Type, _ = d.text(p.typePath, p.typeNumber)
		if n, ok := p.typeNames[ev.Type]; ok {
			ev.Type = n
		}
	}
	if ev.Type == "" {
		ev.Type = p.typeConst
	}
	if ev.Type == "" {
		var hs []string
		if p.typeHeader != "" {
			hs = []string{p.typeHeader}
		}
		if opaque {
			return Event{}, errNoEventID("body is not JSON (content type " + strconv.Quote(mediaType(ct)) + ") and " + specAbsent(hs, p.typePath, p.typeNumber))
		}
		return Event{}, errMissingType(specAbsent(hs, p.typePath, p.typeNumber))
	}
	ev.Headers = s.kept(headers)
	return ev, nil
}

// specAbsent says where a missing id or type was looked for.
func specAbsent(headers, path []string, numberOK bool) string {
	what := "string"
	if numberOK {
		what = "string or number"
	}
	field := strconv.Quote(strings.Join(path, "."))
	switch {
	case len(headers) > 0 && path != nil:
		return "no " + headerList(headers) + " header and the body has no " + field + " " + what
	case len(headers) > 0:
		return headerList(headers) + " header is missing"
	}
	return "body has no " + field + " " + what
}
