package webhook

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
)

// A spec describes a scheme as data: the presets (presets.go) and the generic "hmac"
// scheme are specs; one verifier (verify_spec.go) and one signer (sign_spec.go)
// serve them all.

// method is how a spec's signature is checked.
type method uint8

const (
	methodHMAC    method = iota // HMAC over the signed-content template
	methodEd25519               // Ed25519 over the template, public key in hex (Discord)
	methodECDSA                 // ECDSA P-256 with SHA-256 over the template, ASN.1 signature in base64 (SendGrid)
	methodToken                 // the header holds the shared secret itself (GitLab)
	methodBasic                 // HTTP Basic authorization "user:password" (Postmark)
	methodMailgun               // HMAC-SHA256 of timestamp+token, all three in the JSON body (Mailgun)
)

// algorithm is an HMAC's hash.
type algorithm uint8

const (
	algSHA256 algorithm = iota
	algSHA1
	algSHA512
)

func (a algorithm) new() func() hash.Hash {
	switch a {
	case algSHA1:
		return sha1.New
	case algSHA512:
		return sha512.New
	}
	return sha256.New
}

func (a algorithm) size() int {
	switch a {
	case algSHA1:
		return sha1.Size
	case algSHA512:
		return sha512.Size
	}
	return sha256.Size
}

// keyEncoding is how a configured secret turns into key bytes.
type keyEncoding uint8

const (
	keyRaw    keyEncoding = iota // the secret's bytes as given
	keyHex                       // hex digits
	keyBase64                    // standard base64, padded or not
	keyWhsec                     // "whsec_" then standard base64 (Standard Webhooks, Svix)
)

// timeUnit is how a signed timestamp is written.
type timeUnit uint8

const (
	unitSeconds timeUnit = iota // Unix seconds
	unitMillis                  // Unix milliseconds
	unitRFC3339                 // RFC 3339 with optional fraction (Twitch)
)

// handshake is a provider's endpoint check, answered at the door once verified.
type handshake uint8

const (
	handshakeNone    handshake = iota
	handshakeZoom              // event endpoint.url_validation: answer plainToken and its HMAC
	handshakeTwitch            // message type webhook_callback_verification: answer the challenge as text
	handshakeDiscord           // interaction type 1 (PING): answer {"type":1}
)

// bodyRule says what the body must be.
type bodyRule uint8

const (
	bodyFree   bodyRule = iota // anything; nothing is read from it
	bodyObject                 // a JSON object (id, type or a handshake is read from it)
	bodyJSON                   // any JSON value (SendGrid and HubSpot post arrays)
	bodyForm                   // application/x-www-form-urlencoded (Twilio)
)

// Template variables of the signed content.
const (
	varLiteral   = iota
	varMethod    // {method}: the HTTP method, POST
	varURL       // {url}: the source's configured public URL
	varID        // {id}: the id header's value
	varTimestamp // {timestamp}: the timestamp as sent
	varBody      // {body}: the raw body
	varParams    // {params}: form parameters sorted by name, each name then value (Twilio)
)

// part is one piece of a template: a literal or a variable.
type part struct {
	v   uint8
	lit string
}

// parseTemplate parses a signed-content template such as "{timestamp}.{body}". Text
// outside braces is literal; "{{" and "}}" are literal braces.
func parseTemplate(t string) ([]part, error) {
	vars := map[string]uint8{"method": varMethod, "url": varURL, "id": varID, "timestamp": varTimestamp, "body": varBody, "params": varParams}
	var out []part
	var lit strings.Builder
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c == '{' && i+1 < len(t) && t[i+1] == '{', c == '}' && i+1 < len(t) && t[i+1] == '}':
			lit.WriteByte(c)
			i++
		case c == '{':
			end := strings.IndexByte(t[i:], '}')
			if end < 0 {
				return nil, errors.New("an unclosed {")
			}
			v, ok := vars[t[i+1:i+end]]
			if !ok {
				return nil, fmt.Errorf("unknown variable {%s} (want method, url, id, timestamp, body or params)", t[i+1:i+end])
			}
			if lit.Len() > 0 {
				out = append(out, part{v: varLiteral, lit: lit.String()})
				lit.Reset()
			}
			out = append(out, part{v: v})
			i += end
		case c == '}':
			return nil, errors.New("a } without {")
		default:
			lit.WriteByte(c)
		}
	}
	if lit.Len() > 0 {
		out = append(out, part{v: varLiteral, lit: lit.String()})
	}
	return out, nil
}

// uses reports whether the template has variable v.
func uses(tmpl []part, v uint8) bool {
	for _, p := range tmpl {
		if p.v == v {
			return true
		}
	}
	return false
}

// sigLayout is how the signature header is written.
type sigLayout uint8

const (
	layoutPlain  sigLayout = iota // prefix then one signature
	layoutFields                  // key=value items split by "," or ";" (t=…,v1=…; ts=…;h1=…)
	layoutSpaced                  // space-separated "v1,<sig>" entries (Standard Webhooks)
)

// spec is a scheme as data. Zero values are the common case: HMAC-SHA256, raw key,
// hex, no timestamp.
type spec struct {
	method method
	alg    algorithm
	key    keyEncoding

	sigHeader, sigName string // lower-case; as providers spell it
	layout             sigLayout
	prefix             string // layoutPlain: before the signature, matched without regard to case
	base64             bool   // signature in standard base64, else hex
	sigKey             string // layoutFields: the signature items' key, e.g. "v1"
	tsKey              string // layoutFields: the timestamp item's key, e.g. "t"
	fieldSep           string // layoutFields: what Sign puts between the items; default ","

	tmpl []part // signed content

	tsHeader, tsName string   // timestamp header (lower-case; display name), unless tsKey
	bodyTS           []string // or: a body member holding Unix milliseconds, checked once the signature matched (Linear)
	unit             timeUnit
	tolerance        int64 // seconds; 0 = the timestamp is signed but not checked

	idHeaders  []string // id from the first of these headers that is present ...
	idPath     []string // ... or from this body member (a path into nested objects) ...
	idBodyHash bool     // ... or the body's SHA-256, when the scheme has no id at all
	idNumber   bool     // a JSON number is an acceptable id

	typeHeader string   // type from this header ...
	typePath   []string // ... or this body member ...
	typeConst  string   // ... or this fixed text
	typeNumber bool     // a JSON number is an acceptable type
	typeNames  map[string]string

	body      bodyRule
	handshake handshake
	needURL   bool // the template signs {url}: the source must configure "url"
	keep      []string
}

// hasTimestamp reports whether the spec signs a timestamp.
func (p *spec) hasTimestamp() bool {
	return p.tsHeader != "" || p.tsKey != "" || p.method == methodMailgun
}

// keyset is a spec source's decoded secrets: HMAC keys, public keys, or tokens.
type keyset struct {
	hmac    [][]byte
	ed      []ed25519.PublicKey
	edPriv  ed25519.PrivateKey // set when the first secret is a private key: Sign can sign
	ec      []*ecdsa.PublicKey
	ecPriv  *ecdsa.PrivateKey
	secrets [][32]byte // methodToken, methodBasic: SHA-256 of each secret, compared in constant time
	first   string     // methodToken, methodBasic: the first secret, for Sign
}

// decodeKeys decodes the secrets for p. Errors give the index, never the text.
func decodeKeys(p *spec, secrets []string) (*keyset, error) {
	ks := &keyset{}
	for i, sec := range secrets {
		bad := func(what string) error { return fmt.Errorf(`field "secrets": secrets[%d] is not %s`, i, what) }
		switch p.method {
		case methodHMAC, methodMailgun:
			k, err := decodeKey(p.key, sec)
			if err != nil {
				return nil, bad(err.Error())
			}
			ks.hmac = append(ks.hmac, k)
		case methodEd25519:
			b, err := hex.DecodeString(sec)
			switch {
			case err == nil && len(b) == ed25519.PublicKeySize:
				ks.ed = append(ks.ed, ed25519.PublicKey(b))
			case err == nil && len(b) == ed25519.PrivateKeySize:
				priv := ed25519.PrivateKey(b)
				pub := priv.Public().(ed25519.PublicKey)
				if !hmac.Equal(ed25519.NewKeyFromSeed(priv.Seed()), priv) {
					return nil, bad("a consistent Ed25519 private key")
				}
				ks.ed = append(ks.ed, pub)
				if i == 0 {
					ks.edPriv = priv
				}
			default:
				return nil, bad("an Ed25519 public key in hex (64 digits)")
			}
		case methodECDSA:
			der, err := base64.StdEncoding.DecodeString(sec)
			if err != nil {
				return nil, bad("a base64 DER key")
			}
			if pub, err := x509.ParsePKIXPublicKey(der); err == nil {
				ec, ok := pub.(*ecdsa.PublicKey)
				if !ok || ec.Curve.Params().Name != "P-256" {
					return nil, bad("an ECDSA P-256 public key")
				}
				ks.ec = append(ks.ec, ec)
				continue
			}
			priv, err := x509.ParsePKCS8PrivateKey(der)
			if err != nil {
				if priv, err = x509.ParseECPrivateKey(der); err != nil {
					return nil, bad("a base64 DER ECDSA P-256 public key")
				}
			}
			ec, ok := priv.(*ecdsa.PrivateKey)
			if !ok || ec.Curve.Params().Name != "P-256" {
				return nil, bad("an ECDSA P-256 key")
			}
			ks.ec = append(ks.ec, &ec.PublicKey)
			if i == 0 {
				ks.ecPriv = ec
			}
		case methodToken, methodBasic:
			if p.method == methodBasic && !strings.Contains(sec, ":") {
				return nil, bad("user:password")
			}
			ks.secrets = append(ks.secrets, sha256.Sum256([]byte(sec)))
			if i == 0 {
				ks.first = sec
			}
		}
	}
	return ks, nil
}

// decodeKey turns one secret into HMAC key bytes.
func decodeKey(enc keyEncoding, sec string) ([]byte, error) {
	var k []byte
	var err error
	switch enc {
	case keyRaw:
		return []byte(sec), nil
	case keyHex:
		if k, err = hex.DecodeString(sec); err != nil {
			return nil, errors.New("hex")
		}
	case keyBase64:
		if k, err = decodeB64(sec); err != nil {
			return nil, errors.New("base64")
		}
	case keyWhsec:
		b, ok := strings.CutPrefix(sec, "whsec_")
		if !ok {
			return nil, errors.New("whsec_<base64>")
		}
		if k, err = decodeB64(b); err != nil {
			return nil, errors.New("whsec_<base64>: the part after whsec_ is not base64")
		}
	}
	if len(k) == 0 {
		return nil, errors.New("a non-empty key")
	}
	return k, nil
}

// decodeB64 decodes standard base64, padded or not.
func decodeB64(s string) ([]byte, error) {
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// msg32 is the SHA-256 of msg, the digest ECDSA signs.
func msg32(msg []byte) []byte {
	h := sha256.Sum256(msg)
	return h[:]
}
