package route

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/idempotency"
)

// Handler performs an event's effect. It returns an optional small result, stored on
// the completed idempotency record, or an error classified with the retry package
// (permanent, retry-after, or transient by default). Multi-step handlers use
// attempt.Step so that a retry resumes after the last completed step.
type Handler interface {
	Handle(ctx context.Context, e *envelope.Envelope, attempt *idempotency.Attempt) ([]byte, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, e *envelope.Envelope, attempt *idempotency.Attempt) ([]byte, error)

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, e *envelope.Envelope, a *idempotency.Attempt) ([]byte, error) {
	return f(ctx, e, a)
}

// Route sends events of one source whose type matches one of Types to Handler.
type Route struct {
	Source string
	Types  []string // patterns; empty means every type
	// Dependency names the downstream this route calls (its circuit breaker); the
	// forward handler uses the destination's host.
	Dependency string
	Handler    Handler
}

// Registry holds routes in order.
type Registry struct{ routes []Route }

// Add appends a route.
func (r *Registry) Add(rt Route) { r.routes = append(r.routes, rt) }

// Match returns the first route for source and typ.
func (r *Registry) Match(source, typ string) (Route, bool) {
	for _, rt := range r.routes {
		if rt.Source != source {
			continue
		}
		if len(rt.Types) == 0 {
			return rt, true
		}
		for _, p := range rt.Types {
			if Match(p, typ) {
				return rt, true
			}
		}
	}
	return Route{}, false
}

// Routes returns the configured routes in order.
func (r *Registry) Routes() []Route { return append([]Route(nil), r.routes...) }

// Match reports whether typ matches pattern, where '*' matches any run of characters.
func Match(pattern, typ string) bool {
	star := strings.IndexByte(pattern, '*')
	if star < 0 {
		return pattern == typ
	}
	if !strings.HasPrefix(typ, pattern[:star]) {
		return false
	}
	rest := pattern[star+1:]
	typ = typ[star:]
	if rest == "" {
		return true
	}
	for i := 0; i <= len(typ); i++ {
		if Match(rest, typ[i:]) {
			return true
		}
	}
	return false
}

// Config is one entry of TENAZ_ROUTES, e.g.
//
//	[{"source": "stripe", "types": ["payment_intent.*"], "url": "https://orders.internal/hooks/stripe", "timeoutSeconds": 10}]
type Config struct {
	Source         string   `json:"source"`
	Types          []string `json:"types"`          // patterns; empty = all types of the source
	Handler        string   `json:"handler"`        // "forward" (default) or a name registered in Go
	URL            string   `json:"url"`            // forward: destination, http or https
	TimeoutSeconds int      `json:"timeoutSeconds"` // forward: per-request timeout in seconds; default 10
	Dependency     string   `json:"dependency"`     // breaker name; default the URL's host
}

// DefaultTimeout is the forward handler's default per-request timeout.
const DefaultTimeout = 10 * time.Second

// ParseConfig parses TENAZ_ROUTES and validates each entry.
func ParseConfig(data []byte) ([]Config, error) {
	var cs []Config
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cs); err != nil {
		return nil, fmt.Errorf("routes: %w", err)
	}
	for i := range cs {
		c := &cs[i]
		if c.Source == "" {
			return nil, fmt.Errorf("route %d: source is required", i)
		}
		if c.Handler == "" {
			c.Handler = "forward"
		}
		if c.TimeoutSeconds < 0 || c.TimeoutSeconds > 900 {
			return nil, fmt.Errorf("route %d: timeoutSeconds %d outside [0, 900]", i, c.TimeoutSeconds)
		}
		if c.Handler == "forward" {
			u, err := url.Parse(c.URL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return nil, fmt.Errorf("route %d (%s): url must be an absolute http(s) URL", i, c.Source)
			}
			if c.Dependency == "" {
				c.Dependency = u.Host
			}
		}
		if c.Dependency == "" {
			c.Dependency = c.Handler
		}
		for _, p := range c.Types {
			if p == "" {
				return nil, fmt.Errorf("route %d (%s): empty type pattern", i, c.Source)
			}
		}
	}
	return cs, nil
}

// Timeout is the route's per-request timeout.
func (c Config) Timeout() time.Duration {
	if c.TimeoutSeconds == 0 {
		return DefaultTimeout
	}
	return time.Duration(c.TimeoutSeconds) * time.Second
}
