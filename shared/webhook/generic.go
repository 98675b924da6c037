package webhook

import (
	"errors"
	"fmt"
	"strings"
)

// genericSpec builds the spec of a source of scheme hmac from its fields. Its errors
// name the field, never a secret.
func genericSpec(c SourceConfig) (*spec, error) {
	p := &spec{}
	if c.Header == "" {
		return nil, errors.New(`field "header" is required for scheme hmac`)
	}
	for _, h := range []struct{ field, value string }{{"header", c.Header}, {"idHeader", c.IDHeader}, {"typeHeader", c.TypeHeader}, {"timestampHeader", c.TimestampHeader}} {
		if h.value != "" && !isToken(h.value) {
			return nil, fmt.Errorf("field %q: %q is not a valid header name", h.field, h.value)
		}
	}
	p.sigHeader, p.sigName, p.prefix = strings.ToLower(c.Header), c.Header, c.Prefix
	switch c.Algorithm {
	case "", "sha256":
	case "sha1":
		p.alg = algSHA1
	case "sha512":
		p.alg = algSHA512
	default:
		return nil, fmt.Errorf(`field "algorithm": %q is not sha256, sha1 or sha512`, c.Algorithm)
	}
	switch c.KeyEncoding {
	case "", "raw":
	case "hex":
		p.key = keyHex
	case "base64":
		p.key = keyBase64
	case "whsec":
		p.key = keyWhsec
	default:
		return nil, fmt.Errorf(`field "keyEncoding": %q is not raw, hex, base64 or whsec`, c.KeyEncoding)
	}
	switch c.Encoding {
	case "", "hex":
	case "base64":
		p.base64 = true
	default:
		return nil, fmt.Errorf(`field "encoding": %q is not hex or base64`, c.Encoding)
	}
	signed := c.Signed
	if signed == "" {
		signed = "{body}"
	}
	tm, err := parseTemplate(signed)
	if err != nil {
		return nil, fmt.Errorf(`field "signed": %v`, err)
	}
	p.tmpl, p.needURL = tm, uses(tm, varURL)
	if uses(tm, varParams) {
		p.body = bodyForm
	}
	switch {
	case c.SignatureKey != "" && c.Prefix != "":
		return nil, errors.New(`fields "prefix" and "signatureKey" exclude each other`)
	case c.SignatureKey != "":
		p.layout, p.sigKey = layoutFields, c.SignatureKey
	case c.TimestampKey != "":
		return nil, errors.New(`field "timestampKey" needs "signatureKey" (the header is then key=value items)`)
	}
	switch {
	case c.TimestampKey != "" && c.TimestampHeader != "":
		return nil, errors.New(`fields "timestampKey" and "timestampHeader" exclude each other`)
	case c.TimestampKey != "":
		p.tsKey = c.TimestampKey
	case c.TimestampHeader != "":
		p.tsHeader, p.tsName = strings.ToLower(c.TimestampHeader), c.TimestampHeader
	}
	switch c.TimestampUnit {
	case "", "s":
	case "ms":
		p.unit = unitMillis
	default:
		return nil, fmt.Errorf(`field "timestampUnit": %q is not s or ms`, c.TimestampUnit)
	}
	if p.hasTimestamp() {
		p.tolerance = DefaultToleranceSeconds
	} else if c.TimestampUnit != "" {
		return nil, errors.New(`field "timestampUnit" needs "timestampKey" or "timestampHeader"`)
	}
	if uses(tm, varTimestamp) != p.hasTimestamp() {
		return nil, errors.New(`field "signed" must hold {timestamp} exactly when a timestamp is configured (timestampKey or timestampHeader)`)
	}
	if c.IDHeader == "" && c.IDField == "" && c.Key != "body" {
		return nil, errors.New(`scheme hmac needs "idHeader" or "idField" to find the event id, or "key": "body"`)
	}
	if uses(tm, varID) && c.IDHeader == "" {
		return nil, errors.New(`field "signed" holds {id}: "idHeader" must name the header it comes from`)
	}
	if c.TypeHeader == "" && c.TypeField == "" {
		return nil, errors.New(`scheme hmac needs "typeHeader" or "typeField" to find the event type`)
	}
	if c.IDHeader != "" {
		p.idHeaders = []string{strings.ToLower(c.IDHeader)}
	}
	if c.IDField != "" {
		p.idPath, p.idNumber = strings.Split(c.IDField, "."), true
	}
	p.typeHeader = strings.ToLower(c.TypeHeader)
	if c.TypeField != "" {
		p.typePath = strings.Split(c.TypeField, ".")
	}
	// A source keyed on its body never reads its id field, so only a type field makes
	// it read the body; otherwise any body is taken unparsed.
	if (p.idPath != nil && c.Key != "body" || p.typePath != nil) && p.body != bodyForm {
		p.body = bodyObject
	}
	for _, h := range []string{p.typeHeader, p.tsHeader} {
		if h != "" && h != p.sigHeader {
			p.keep = append(p.keep, h)
		}
	}
	if len(p.idHeaders) > 0 && p.idHeaders[0] != p.sigHeader {
		p.keep = append(p.keep, p.idHeaders[0])
	}
	return p, nil
}
