package forward

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/tenaz/tenaz/shared/route"
	"github.com/tenaz/tenaz/shared/secrets"
)

// Standard Webhooks headers of a signed request (standardwebhooks.com).
const (
	HeaderWebhookID        = "webhook-id"
	HeaderWebhookTimestamp = "webhook-timestamp"
	HeaderWebhookSignature = "webhook-signature"
)

// maxSigningSecrets bounds the secrets one signing value may hold (two during a
// rotation; a few more are tolerated).
const maxSigningSecrets = 5

// Secrets resolves secret references (*secrets.Cache).
type Secrets interface {
	Get(ctx context.Context, ref secrets.Ref) (string, error)
}

// Auth is how a handler signs and authenticates its requests. The zero Auth does
// neither.
type Auth struct {
	Secrets Secrets     // required when Signing or Headers is set
	Signing secrets.Ref // the Standard Webhooks secret(s); zero: unsigned
	Headers []SecretHeader
}

// SecretHeader is a header whose value is Format with "{}" replaced by a secret's
// value, its surrounding whitespace trimmed.
type SecretHeader struct {
	Name   string
	Secret secrets.Ref
	Format string // default "{}"
}

func (a *Auth) empty() bool { return a == nil || (a.Signing.IsZero() && len(a.Headers) == 0) }

// errSecretValue: a secret's value is not usable as it is. Transient like a failed
// read: the delivery succeeds once the value is fixed and re-read.
var errSecretValue = errors.New("unusable secret value")

// headers returns the secret headers' values; resolved before anything is sent.
func (a *Auth) headers(ctx context.Context) (http.Header, error) {
	out := http.Header{}
	for _, sh := range a.Headers {
		v, err := a.Secrets.Get(ctx, sh.Secret)
		if err != nil {
			return nil, fmt.Errorf("forward: header %s: %w", sh.Name, err)
		}
		v = strings.TrimSpace(v)
		if strings.ContainsAny(v, "\r\n\x00") {
			return nil, fmt.Errorf("forward: header %s: %w: secret %s holds a line break or NUL", sh.Name, errSecretValue, sh.Secret)
		}
		format := sh.Format
		if format == "" {
			format = "{}"
		}
		out.Set(sh.Name, strings.Replace(format, "{}", v, 1))
	}
	return out, nil
}

// signingKeys reads the signing secret's keys: the value is one or more
// whsec_<base64> secrets (the whsec_ prefix optional, base64 padded or not)
// separated by whitespace.
func (a *Auth) signingKeys(ctx context.Context) ([][]byte, error) {
	v, err := a.Secrets.Get(ctx, a.Signing)
	if err != nil {
		return nil, fmt.Errorf("forward: signing: %w", err)
	}
	fields := strings.Fields(v)
	if len(fields) == 0 || len(fields) > maxSigningSecrets {
		return nil, fmt.Errorf("forward: signing: %w: secret %s holds %d secrets, want 1 to %d", errSecretValue, a.Signing, len(fields), maxSigningSecrets)
	}
	keys := make([][]byte, len(fields))
	for i, f := range fields {
		b64 := strings.TrimPrefix(f, "whsec_")
		key, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(b64, "="))
		if err != nil || len(key) == 0 {
			return nil, fmt.Errorf("forward: signing: %w: secret %s: entry %d is not whsec_<base64>", errSecretValue, a.Signing, i+1)
		}
		keys[i] = key
	}
	return keys, nil
}

// signature returns the webhook-signature value: "v1,<base64 HMAC-SHA256 of
// id.timestamp.body>" for each key, separated by spaces.
func signature(keys [][]byte, id string, timestamp int64, body []byte) string {
	ts := strconv.FormatInt(timestamp, 10)
	var b strings.Builder
	for i, key := range keys {
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(id))
		mac.Write([]byte{'.'})
		mac.Write([]byte(ts))
		mac.Write([]byte{'.'})
		mac.Write(body)
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("v1,")
		b.WriteString(base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	return b.String()
}

// authFromConfig reads a route's signing secret and headers; nil when it has neither.
func authFromConfig(c route.Config, s Secrets) (*Auth, error) {
	a := &Auth{Secrets: s}
	if c.SigningSecret != "" {
		ref, err := secrets.ParseRef(c.SigningSecret)
		if err != nil {
			return nil, fmt.Errorf("signingSecret: %w", err)
		}
		a.Signing = ref
	}
	for _, name := range slices.Sorted(maps.Keys(c.Headers)) {
		h := c.Headers[name]
		ref, err := secrets.ParseRef(h.Secret)
		if err != nil {
			return nil, fmt.Errorf("headers: %s: %w", name, err)
		}
		a.Headers = append(a.Headers, SecretHeader{Name: name, Secret: ref, Format: h.Format})
	}
	if a.empty() {
		return nil, nil
	}
	if s == nil {
		return nil, errors.New("the route names secrets (signingSecret, headers) but the handler has no secret store")
	}
	return a, nil
}
