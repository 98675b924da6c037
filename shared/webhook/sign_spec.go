package webhook

import (
	"crypto"
	"crypto/ed25519"
	"crypto/hmac"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"time"
)

// signSpec is Sign for a preset or generic hmac source.
func (s *Source) signSpec(headers map[string]string, body []byte, now time.Time) error {
	p := s.sp
	switch p.method {
	case methodToken:
		headers[p.sigHeader] = s.keys.first
		return nil
	case methodBasic:
		headers[p.sigHeader] = "Basic " + base64.StdEncoding.EncodeToString([]byte(s.keys.first))
		return nil
	case methodMailgun:
		return errors.New("sign " + s.name + ": mailgun signs inside the body: use SignBody")
	}
	var ts string
	if p.hasTimestamp() {
		ts = formatTime(now, p.unit)
		if p.tsHeader != "" {
			headers[p.tsHeader] = ts
		}
	}
	if len(p.idHeaders) > 0 && p.idPath == nil && firstHeader(headers, p.idHeaders) == "" {
		headers[p.idHeaders[0]] = uuidFormat(derivedID(body, now))
	}
	msg, verr := s.content(firstHeader(headers, p.idHeaders), ts, body)
	if verr != nil {
		return errors.New("sign " + s.name + ": " + verr.Message)
	}
	var sig []byte
	switch p.method {
	case methodEd25519:
		if s.keys.edPriv == nil {
			return errors.New("sign " + s.name + ": the first secret is a public key; signing needs the private key")
		}
		sig = ed25519.Sign(s.keys.edPriv, msg)
	case methodECDSA:
		if s.keys.ecPriv == nil {
			return errors.New("sign " + s.name + ": the first secret is a public key; signing needs the private key")
		}
		// A nil random source gives RFC 6979 deterministic signatures: the samples
		// stay the same from one generation to the next.
		var err error
		if sig, err = s.keys.ecPriv.Sign(nil, msg32(msg), crypto.SHA256); err != nil {
			return errors.New("sign " + s.name + ": ecdsa: " + err.Error())
		}
	default:
		m := hmac.New(p.alg.new(), s.keys.hmac[0])
		m.Write(msg)
		sig = m.Sum(nil)
	}
	enc := hex.EncodeToString(sig)
	if p.base64 {
		enc = base64.StdEncoding.EncodeToString(sig)
	}
	switch p.layout {
	case layoutFields:
		sep := p.fieldSep
		if sep == "" {
			sep = ","
		}
		headers[p.sigHeader] = p.tsKey + "=" + ts + sep + p.sigKey + "=" + enc
	default:
		headers[p.sigHeader] = p.prefix + enc
	}
	return nil
}

// formatTime writes now as a scheme's timestamp.
func formatTime(now time.Time, u timeUnit) string {
	switch u {
	case unitMillis:
		return strconv.FormatInt(now.UnixMilli(), 10)
	case unitRFC3339:
		return now.UTC().Format(time.RFC3339Nano)
	}
	return strconv.FormatInt(now.Unix(), 10)
}

// SignBody is Sign for every scheme, including those that sign inside the body
// (mailgun) or put their timestamp there (linear): it returns the body to send, which
// is body itself for every other scheme. A mailgun or linear body must be a JSON
// object; its "signature" member (mailgun) or "webhookTimestamp" (linear, set to now
// in milliseconds) is replaced and the object is written again by encoding/json
// (members sorted by name).
func (s *Source) SignBody(headers map[string]string, body []byte, now time.Time) ([]byte, error) {
	if s.sp == nil || (s.sp.method != methodMailgun && s.sp.bodyTS == nil) {
		return body, s.Sign(headers, body, now)
	}
	var d map[string]json.RawMessage
	if err := json.Unmarshal(body, &d); err != nil || d == nil {
		return nil, errors.New("sign " + s.name + ": the body is not a JSON object")
	}
	if s.sp.bodyTS != nil {
		// The timestamp is a top-level member (Linear's webhookTimestamp).
		d[s.sp.bodyTS[0]] = json.RawMessage(strconv.FormatInt(now.UnixMilli(), 10))
		b, err := json.Marshal(d)
		if err != nil {
			return nil, err
		}
		return b, s.Sign(headers, b, now)
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	token := derivedID(body, now) + derivedID([]byte(ts), now)[:18]
	m := hmac.New(s.sp.alg.new(), s.keys.hmac[0])
	m.Write([]byte(ts + token))
	sig, _ := json.Marshal(map[string]string{"timestamp": ts, "token": token, "signature": hex.EncodeToString(m.Sum(nil))})
	d["signature"] = sig
	return json.Marshal(d)
}
