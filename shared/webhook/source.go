package webhook

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Scheme names, the values of SourceConfig.Scheme.
const (
	SchemeStripe           = "stripe"
	SchemeGitHub           = "github"
	SchemeShopify          = "shopify"
	SchemeSlack            = "slack"
	SchemeStandardWebhooks = "standard-webhooks"
	SchemeHMACSHA256       = "hmac-sha256"
)

// DefaultToleranceSeconds is the default timestamp tolerance: 300 seconds either side
// of the current time, for the schemes that sign a timestamp (stripe, slack,
// standard-webhooks).
const DefaultToleranceSeconds = 300

// SourceConfig is one entry of TENAZ_SOURCES, a JSON object keyed by source (route)
// name, e.g.
//
//	{"stripe": {"scheme": "stripe", "secrets": ["whsec_..."]},
//	 "gh": {"scheme": "github", "secrets": ["..."]}}
//
// Its String method hides the secrets.
type SourceConfig struct {
	Scheme    string   `json:"scheme"`    // one of Presets(): stripe, github, …, hmac-sha256, hmac, discord, …, mailgun
	Secrets   []string `json:"secrets"`   // one or more (rotation); any may match; Sign uses the first
	Tolerance int      `json:"tolerance"` // seconds either side of now; 0 means the scheme's default (DefaultToleranceSeconds, 300, unless the README table says otherwise); schemes that sign a timestamp only
	// hmac-sha256 and hmac (the generic schemes) only:
	Header     string `json:"header"`     // signature header name, e.g. "X-Signature" (required)
	Encoding   string `json:"encoding"`   // "hex" (default) or "base64" (standard alphabet)
	Prefix     string `json:"prefix"`     // optional, e.g. "sha256=", matched without regard to case
	IDHeader   string `json:"idHeader"`   // id from this header, or
	IDField    string `json:"idField"`    // from this top-level JSON field (a string or a number)
	TypeHeader string `json:"typeHeader"` // type from this header, or
	TypeField  string `json:"typeField"`  // from this top-level JSON string field; for hmac, a dotted path into nested objects
	// hmac (generic) only; hmac also takes the hmac-sha256 fields above:
	Algorithm       string `json:"algorithm"`       // "sha256" (default), "sha1" or "sha512"
	KeyEncoding     string `json:"keyEncoding"`     // how secrets become keys: "raw" (default), "hex", "base64" or "whsec" (whsec_<base64>)
	Signed          string `json:"signed"`          // signed content, default "{body}"; variables {method} {url} {id} {timestamp} {body} {params}
	SignatureKey    string `json:"signatureKey"`    // the header is key=value items split by "," or ";" and this key's items are signatures, e.g. "v1"
	TimestampKey    string `json:"timestampKey"`    // with signatureKey: the item holding the timestamp, e.g. "t"
	TimestampHeader string `json:"timestampHeader"` // or: the header holding the timestamp
	TimestampUnit   string `json:"timestampUnit"`   // "s" (default) or "ms"
	// Any scheme:
	Key string `json:"key"` // idempotency key: "id" (default, the event id) or "body" (the body's SHA-256 in hex)
	URL string `json:"url"` // the public URL the provider posts to, for schemes that sign it (twilio, square, hubspot-v3, hmac with {url})
}

// String describes c without its secrets.
func (c SourceConfig) String() string {
	return fmt.Sprintf("{scheme:%s secrets:%d hidden tolerance:%d header:%s encoding:%s prefix:%s idHeader:%s idField:%s typeHeader:%s typeField:%s"+
		" algorithm:%s keyEncoding:%s signed:%s signatureKey:%s timestampKey:%s timestampHeader:%s timestampUnit:%s key:%s url:%s}",
		c.Scheme, len(c.Secrets), c.Tolerance, c.Header, c.Encoding, c.Prefix, c.IDHeader, c.IDField, c.TypeHeader, c.TypeField,
		c.Algorithm, c.KeyEncoding, c.Signed, c.SignatureKey, c.TimestampKey, c.TimestampHeader, c.TimestampUnit, c.Key, urlShown(c.URL))
}

// urlShown is a configured URL without what may be a secret: user information (a
// URL may carry Basic credentials) and the query.
func urlShown(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

// GoString describes c without its secrets, for %#v.
func (c SourceConfig) GoString() string { return "webhook.SourceConfig" + c.String() }

// Sources are the configured sources by name, the {source} of the URL path.
type Sources map[string]*Source

// kind is how a scheme places its signature.
type kind uint8

const (
	kindPlain    kind = iota // HMAC of the body in one header: github, shopify, hmac-sha256
	kindStripe               // Stripe-Signature over "<t>.<body>"
	kindSlack                // X-Slack-Signature over "v0:<ts>:<body>"
	kindStandard             // webhook-signature over "<id>.<ts>.<body>"
)

// jsonRule says when the body must be a JSON object.
type jsonRule uint8

const (
	jsonAlways      jsonRule = iota // the id or type comes from the body
	jsonUnlessForm                  // unless content-type is form-encoded (GitHub can send form posts)
	jsonUnlessOther                 // unless content-type names form or XML data
	jsonNever                       // never: id and type come from headers (or the id is the body's hash)
)

// Source is one configured, validated source, ready to verify. It is safe for
// concurrent use. Its String method hides the keys.
type Source struct {
	name, scheme string
	kind         kind
	tolerance    int64 // seconds; 0 for schemes without a timestamp
	ring         *keyring

	sigHeader, sigName string // signature header: lower-case, and as providers spell it
	prefix             string // kindPlain: before the digest
	base64             bool   // kindPlain: digest in base64, else hex

	idHeader, idName     string // id from this header (lower-case; display name) ...
	typeHeader, typeName string // type from this header ...
	idField, typeField   string // ... or from these body members
	idNumber             bool   // a JSON number is an acceptable id

	query jsonQuery // members read from the body
	json  jsonRule
	keep  []string // lower-case header names copied to Event.Headers

	sp      *spec   // a preset or the generic hmac scheme; nil for the six original schemes
	keys    *keyset // sp's decoded secrets
	url     string  // the configured public URL, for templates that sign {url}
	keyBody bool    // the event id is the body's SHA-256 ("key": "body")
	svix    bool    // kindStandard: Sign writes svix- headers (clerk, resend)
}

// Indexes into jsonQuery.keys.
const (
	qID = iota
	qType
	qChallenge
)

// Name is the source's name, as in the URL path.
func (s *Source) Name() string { return s.name }

// Scheme is the source's signature scheme, one of the Scheme constants.
func (s *Source) Scheme() string { return s.scheme }

// String names the source and its scheme; it never shows keys.
func (s *Source) String() string { return "webhook source " + s.name + " (" + s.scheme + ")" }

// GoString is String, so that %#v cannot print the keys either.
func (s *Source) GoString() string { return s.String() }

// ParseSources parses and validates the TENAZ_SOURCES JSON. An empty object is valid
// (a freshly deployed stack): every request then gets 404 until sources are added.
// Errors name the source
// and the field that is wrong and never contain a secret. Configuration errors are
// permanent: retrying with the same data never helps.
func ParseSources(data []byte) (Sources, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("sources: not a JSON object keyed by source name")
	}
	raw := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, syntaxError(err)
		}
		name := tok.(string) // object keys are strings once Token succeeds
		var msg json.RawMessage
		if err := dec.Decode(&msg); err != nil {
			return nil, fmt.Errorf("source %q: %w", name, syntaxError(err))
		}
		if _, dup := raw[name]; dup {
			return nil, fmt.Errorf("source %q: defined twice", name)
		}
		raw[name] = msg
	}
	if _, err := dec.Token(); err != nil {
		return nil, syntaxError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("sources: data after the JSON object")
	}
	names := make([]string, 0, len(raw))
	for name := range raw {
		names = append(names, name)
	}
	sort.Strings(names)
	out := make(Sources, len(raw))
	for _, name := range names {
		if err := checkName(name); err != nil {
			return nil, err
		}
		cfg, err := decodeConfig(raw[name])
		if err != nil {
			return nil, fmt.Errorf("source %q: %w", name, err)
		}
		src, err := newSource(name, cfg)
		if err != nil {
			return nil, fmt.Errorf("source %q: %w", name, err)
		}
		out[name] = src
	}
	return out, nil
}

// syntaxError describes a JSON error by position only: the text at fault may be a
// secret.
func syntaxError(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("sources: not valid JSON near byte %d", se.Offset)
	}
	return errors.New("sources: not valid JSON")
}

func checkName(name string) error {
	if name == "" || len(name) > 128 {
		return fmt.Errorf("source %q: name must have 1 to 128 characters", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~') {
			return fmt.Errorf("source %q: name may hold only letters, digits and - _ . ~ (it is a URL path segment)", name)
		}
	}
	return nil
}

// decodeConfig decodes one source entry, refusing unknown fields. Its errors name the
// field, never its value.
func decodeConfig(raw json.RawMessage) (SourceConfig, error) {
	var c SourceConfig
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err := dec.Decode(&c)
	if err == nil {
		return c, nil
	}
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &te) && te.Field != "":
		return c, fmt.Errorf("field %q must be of type %s", te.Field, te.Type)
	case errors.As(err, &te):
		return c, errors.New("must be a JSON object")
	case strings.HasPrefix(err.Error(), `json: unknown field "`):
		// Name the field only when it looks like a field name: a secret pasted in the
		// wrong place must not come back in the message.
		name, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		if looksLikeFieldName(name) {
			return c, fmt.Errorf("unknown field %q", name)
		}
		return c, errors.New("unknown field (name not shown)")
	}
	return c, errors.New("not a valid source object")
}

// looksLikeFieldName reports whether s is 1 to 32 letters, like every SourceConfig
// field and its likely misspellings.
func looksLikeFieldName(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// Header names, lower case as they arrive.
const (
	hStripeSignature = "stripe-signature"
	hGitHubSignature = "x-hub-signature-256"
	hGitHubDelivery  = "x-github-delivery"
	hGitHubEvent     = "x-github-event"
	hShopifyHMAC     = "x-shopify-hmac-sha256"
	hShopifyID       = "x-shopify-webhook-id"
	hShopifyTopic    = "x-shopify-topic"
	hSlackSignature  = "x-slack-signature"
	hSlackTimestamp  = "x-slack-request-timestamp"
	hStdID           = "webhook-id"
	hStdTimestamp    = "webhook-timestamp"
	hStdSignature    = "webhook-signature"
	hSvixID          = "svix-id"
	hSvixTimestamp   = "svix-timestamp"
	hSvixSignature   = "svix-signature"
	hContentType     = "content-type"
)

func newSource(name string, c SourceConfig) (*Source, error) {
	s := &Source{name: name, scheme: c.Scheme}
	if err := checkGenericFields(c); err != nil {
		return nil, err
	}
	timestamped := false
	switch c.Scheme {
	case SchemeStripe:
		s.kind, timestamped = kindStripe, true
		s.sigHeader, s.sigName = hStripeSignature, "Stripe-Signature"
		s.idField, s.typeField = "id", "type"
	case SchemeGitHub:
		s.sigHeader, s.sigName, s.prefix = hGitHubSignature, "X-Hub-Signature-256", "sha256="
		s.idHeader, s.idName = hGitHubDelivery, "X-GitHub-Delivery"
		s.typeHeader, s.typeName = hGitHubEvent, "X-GitHub-Event"
		s.json = jsonUnlessForm
		s.keep = []string{hGitHubEvent, hGitHubDelivery, "x-github-hook-id",
			"x-github-hook-installation-target-id", "x-github-hook-installation-target-type"}
	case SchemeShopify:
		s.sigHeader, s.sigName, s.base64 = hShopifyHMAC, "X-Shopify-Hmac-Sha256", true
		s.idHeader, s.idName = hShopifyID, "X-Shopify-Webhook-Id"
		s.typeHeader, s.typeName = hShopifyTopic, "X-Shopify-Topic"
		s.json = jsonUnlessOther
		s.keep = []string{hShopifyTopic, hShopifyID, "x-shopify-shop-domain", "x-shopify-event-id",
			"x-shopify-api-version", "x-shopify-triggered-at"}
	case SchemeSlack:
		s.kind, timestamped = kindSlack, true
		s.sigHeader, s.sigName = hSlackSignature, "X-Slack-Signature"
		s.idField, s.typeField = "event_id", "type"
		s.query.keys[qChallenge] = "challenge"
		s.query.obj, s.query.inner[0] = "event", "type"
		s.keep = []string{"x-slack-retry-num", "x-slack-retry-reason"}
	case SchemeStandardWebhooks, SchemeClerk, SchemeResend:
		s.kind, timestamped = kindStandard, true
		s.svix = c.Scheme != SchemeStandardWebhooks
		s.sigHeader, s.sigName = hStdSignature, "webhook-signature"
		s.typeField = "type"
		s.keep = []string{hStdID, hStdTimestamp, hSvixID, hSvixTimestamp}
	case SchemeHMACSHA256:
		if err := s.setGeneric(c); err != nil {
			return nil, err
		}
	case "":
		return nil, errors.New(`field "scheme" is required`)
	default:
		return newSpecSource(s, c)
	}
	s.query.keys[qID], s.query.keys[qType] = s.idField, s.typeField

	switch {
	case c.Tolerance < 0:
		return nil, errors.New(`field "tolerance" must not be negative (seconds; 0 means 300)`)
	case c.Tolerance > 0 && !timestamped:
		return nil, fmt.Errorf(`field "tolerance": scheme %s signs no timestamp`, c.Scheme)
	case timestamped && c.Tolerance == 0:
		s.tolerance = DefaultToleranceSeconds
	case timestamped:
		s.tolerance = int64(c.Tolerance)
	}

	keys, err := decodeSecrets(s.kind == kindStandard, c.Secrets)
	if err != nil {
		return nil, err
	}
	s.ring = newKeyring(keys)
	if err := s.setCommon(c, false); err != nil {
		return nil, err
	}
	return s, nil
}

// setCommon applies the fields every scheme takes: key and url.
func (s *Source) setCommon(c SourceConfig, signsURL bool) error {
	switch c.Key {
	case "", "id":
	case "body":
		s.keyBody = true
	default:
		return fmt.Errorf(`field "key": %q is not id or body`, c.Key)
	}
	switch {
	case c.URL != "" && !signsURL:
		return fmt.Errorf(`field "url": scheme %s signs no URL`, c.Scheme)
	case c.URL == "" && signsURL:
		return fmt.Errorf(`field "url" is required: scheme %s signs the public URL the provider posts to`, c.Scheme)
	case signsURL:
		u, err := url.Parse(c.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return errors.New(`field "url" must be an absolute http or https URL`)
		}
		s.url = c.URL
	}
	return nil
}

// newSpecSource finishes a source whose scheme is a preset or the generic hmac.
func newSpecSource(s *Source, c SourceConfig) (*Source, error) {
	var p *spec
	if c.Scheme == SchemeHMAC {
		var err error
		if p, err = genericSpec(c); err != nil {
			return nil, err
		}
	} else if f, ok := presets[c.Scheme]; ok {
		p = f()
	} else {
		return nil, fmt.Errorf(`field "scheme": unknown scheme %q (want one of %s)`, c.Scheme, strings.Join(Presets(), ", "))
	}
	if p.tmpl == nil && (p.method == methodHMAC || p.method == methodEd25519 || p.method == methodECDSA) {
		p.tmpl = tmpl("{body}")
	}
	s.sp, s.sigName, s.keep = p, p.sigName, p.keep
	switch {
	case c.Tolerance < 0:
		return nil, errors.New(`field "tolerance" must not be negative (seconds)`)
	case c.Tolerance > 0 && !p.hasTimestamp():
		return nil, fmt.Errorf(`field "tolerance": scheme %s signs no timestamp`, c.Scheme)
	case c.Tolerance > 0:
		s.tolerance = int64(c.Tolerance)
	default:
		s.tolerance = p.tolerance
	}
	if len(c.Secrets) == 0 {
		return nil, errors.New(`field "secrets" needs at least one secret`)
	}
	for i, sec := range c.Secrets {
		switch {
		case sec == "":
			return nil, fmt.Errorf(`field "secrets": secrets[%d] is empty`, i)
		case strings.TrimSpace(sec) != sec:
			return nil, fmt.Errorf(`field "secrets": secrets[%d] has leading or trailing white space`, i)
		}
	}
	keys, err := decodeKeys(p, c.Secrets)
	if err != nil {
		return nil, err
	}
	s.keys = keys
	if err := s.setCommon(c, p.needURL); err != nil {
		return nil, err
	}
	return s, nil
}

// checkGenericFields refuses the hmac-sha256 settings on another scheme: they would be
// silently ignored.
func checkGenericFields(c SourceConfig) error {
	if c.Scheme == SchemeHMAC {
		return nil
	}
	if c.Scheme != SchemeHMACSHA256 {
		for _, f := range []struct{ name, value string }{
			{"header", c.Header}, {"encoding", c.Encoding}, {"prefix", c.Prefix},
			{"idHeader", c.IDHeader}, {"idField", c.IDField}, {"typeHeader", c.TypeHeader}, {"typeField", c.TypeField},
		} {
			if f.value != "" {
				return fmt.Errorf("field %q applies to schemes hmac-sha256 and hmac only", f.name)
			}
		}
	}
	for _, f := range []struct{ name, value string }{
		{"algorithm", c.Algorithm}, {"keyEncoding", c.KeyEncoding}, {"signed", c.Signed}, {"signatureKey", c.SignatureKey},
		{"timestampKey", c.TimestampKey}, {"timestampHeader", c.TimestampHeader}, {"timestampUnit", c.TimestampUnit},
	} {
		if f.value != "" {
			return fmt.Errorf("field %q applies to scheme hmac only", f.name)
		}
	}
	return nil
}

func (s *Source) setGeneric(c SourceConfig) error {
	if c.Header == "" {
		return errors.New(`field "header" is required for scheme hmac-sha256`)
	}
	for _, h := range []struct{ field, value string }{{"header", c.Header}, {"idHeader", c.IDHeader}, {"typeHeader", c.TypeHeader}} {
		if h.value != "" && !isToken(h.value) {
			return fmt.Errorf("field %q: %q is not a valid header name", h.field, h.value)
		}
	}
	s.sigHeader, s.sigName, s.prefix = strings.ToLower(c.Header), c.Header, c.Prefix
	switch c.Encoding {
	case "", "hex":
	case "base64":
		s.base64 = true
	default:
		return fmt.Errorf(`field "encoding": %q is not hex or base64`, c.Encoding)
	}
	if c.IDHeader == "" && c.IDField == "" {
		return errors.New(`scheme hmac-sha256 needs "idHeader" or "idField" to find the event id`)
	}
	if c.TypeHeader == "" && c.TypeField == "" {
		return errors.New(`scheme hmac-sha256 needs "typeHeader" or "typeField" to find the event type`)
	}
	s.idHeader, s.idName, s.idField, s.idNumber = strings.ToLower(c.IDHeader), c.IDHeader, c.IDField, true
	s.typeHeader, s.typeName, s.typeField = strings.ToLower(c.TypeHeader), c.TypeHeader, c.TypeField
	// The body is read only when a member of it can give the id or the type: a source
	// whose id and type come from headers, or whose id is the body's hash and type a
	// header, takes any body (text, XML, binary) and never parses it.
	if s.idField != "" && c.Key != "body" || s.typeField != "" {
		s.json = jsonAlways
	} else {
		s.json = jsonNever
	}
	for _, h := range []string{s.idHeader, s.typeHeader} {
		if h != "" && h != s.sigHeader {
			s.keep = append(s.keep, h)
		}
	}
	return nil
}

// isToken reports whether h is an HTTP header name (an RFC 9110 token).
func isToken(h string) bool {
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return h != ""
}

// decodeSecrets turns the configured secrets into HMAC keys. Errors give the secret's
// index, never its text.
func decodeSecrets(whsec bool, secrets []string) ([][]byte, error) {
	if len(secrets) == 0 {
		return nil, errors.New(`field "secrets" needs at least one secret`)
	}
	keys := make([][]byte, len(secrets))
	for i, sec := range secrets {
		switch {
		case sec == "":
			return nil, fmt.Errorf(`field "secrets": secrets[%d] is empty`, i)
		case strings.TrimSpace(sec) != sec:
			return nil, fmt.Errorf(`field "secrets": secrets[%d] has leading or trailing white space`, i)
		}
		if !whsec {
			// Stripe keys with the whole string, whsec_ included; the others with the
			// secret's bytes as given.
			keys[i] = []byte(sec)
			continue
		}
		b64, ok := strings.CutPrefix(sec, "whsec_")
		if !ok {
			return nil, fmt.Errorf(`field "secrets": secrets[%d] is not whsec_<base64>`, i)
		}
		key, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			key, err = base64.RawStdEncoding.DecodeString(b64)
		}
		if err != nil || len(key) == 0 {
			return nil, fmt.Errorf(`field "secrets": secrets[%d] is not whsec_<base64>: the part after whsec_ is not base64`, i)
		}
		keys[i] = key
	}
	return keys, nil
}
