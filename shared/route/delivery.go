package route

import (
	"fmt"
	"sort"
	"strings"

	"github.com/tenaz/tenaz/shared/secrets"
)

// SecretHeader is a request header whose value comes from a secret: Format with
// "{}" replaced by the secret's value (surrounding whitespace trimmed).
type SecretHeader struct {
	Secret string `json:"secret"` // a secret reference, as SigningSecret
	Format string `json:"format"` // contains "{}" once; default "{}" (the value alone)
}

// reservedHeader reports whether a route may not set the header: the ones Tenaz sets
// itself or that belong to the transport.
func reservedHeader(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "host", "content-length", "content-type", "transfer-encoding", "connection", "te", "trailer", "upgrade",
		"idempotency-key", "webhook-id", "webhook-timestamp", "webhook-signature":
		return true
	}
	return strings.HasPrefix(n, "x-tenaz-")
}

// validHeaderName reports whether name is an HTTP token (RFC 9110, section 5.6.2).
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

// validateDelivery checks the signing secret and the secret headers, and sets each
// header's default format.
func (c *Config) validateDelivery() error {
	if c.SigningSecret == "" && len(c.Headers) == 0 {
		return nil
	}
	if c.Handler != "forward" {
		return fmt.Errorf("signingSecret and headers apply to forward routes only, not handler %q", c.Handler)
	}
	if c.SigningSecret != "" {
		if _, err := secrets.ParseRef(c.SigningSecret); err != nil {
			return fmt.Errorf("signingSecret: %w", err)
		}
	}
	names := make([]string, 0, len(c.Headers))
	for n := range c.Headers {
		names = append(names, n)
	}
	sort.Strings(names) // the first error is the same on every run
	seen := map[string]string{}
	for _, n := range names {
		h := c.Headers[n]
		if !validHeaderName(n) {
			return fmt.Errorf("headers: %q is not a valid header name", n)
		}
		if reservedHeader(n) {
			return fmt.Errorf("headers: %s is set by Tenaz and may not be replaced", n)
		}
		if other, dup := seen[strings.ToLower(n)]; dup {
			return fmt.Errorf("headers: %s and %s are the same header", other, n)
		}
		seen[strings.ToLower(n)] = n
		if h.Secret == "" {
			return fmt.Errorf(`headers: %s: "secret" is required (a secret reference)`, n)
		}
		if _, err := secrets.ParseRef(h.Secret); err != nil {
			return fmt.Errorf("headers: %s: %w", n, err)
		}
		if h.Format == "" {
			h.Format = "{}"
		}
		if strings.Count(h.Format, "{}") != 1 {
			return fmt.Errorf(`headers: %s: format must contain "{}" exactly once`, n)
		}
		if strings.ContainsAny(h.Format, "\r\n\x00") {
			return fmt.Errorf("headers: %s: format holds a line break or NUL", n)
		}
		c.Headers[n] = h
	}
	return nil
}
