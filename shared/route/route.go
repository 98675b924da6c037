package route

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/ratelimit"
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
	// Filter, when set, also requires the body's fields to match (see Filter).
	Filter *Filter
	// Name identifies the destination among the routes of its source: the key of
	// its recovery point on an event's idempotency record, and what a dead letter
	// names when this destination failed.
	Name string
	// Final stops matching: no route after this one is tried for an event it takes.
	Final bool
	// RatePerSecond caps deliveries per second to Dependency across every container
	// (see shared/ratelimit); 0 = unlimited.
	RatePerSecond int
}

// Registry holds routes in order.
type Registry struct{ routes []Route }

// Add appends a route. A route without a name is named after its dependency (or
// "route"), with "-<index>" added when a route of its source already has that name.
func (r *Registry) Add(rt Route) {
	if rt.Name == "" {
		rt.Name = rt.Dependency
		if rt.Name == "" {
			rt.Name = "route"
		}
		for _, o := range r.routes {
			if o.Source == rt.Source && o.Name == rt.Name {
				rt.Name += "-" + strconv.Itoa(len(r.routes))
				break
			}
		}
	}
	r.routes = append(r.routes, rt)
}

// Match returns the first route for source and typ whose filter, if it has one,
// accepts the body (see Destinations).
func (r *Registry) Match(source, typ string, body func() ([]byte, error)) (Route, bool, error) {
	rts, err := r.match(source, typ, body, true)
	if err != nil || len(rts) == 0 {
		return Route{}, false, err
	}
	return rts[0], true, nil
}

// Destinations returns every route, in order, for source and typ whose filter, if it
// has one, accepts the body, up to and including the first Final one: the
// destinations an event fans out to. body is called only when a candidate route has
// a filter, at most once, so routes without filters never need it (a stored body
// costs no read); its error is returned as it is.
func (r *Registry) Destinations(source, typ string, body func() ([]byte, error)) ([]Route, error) {
	return r.match(source, typ, body, false)
}

func (r *Registry) match(source, typ string, body func() ([]byte, error), first bool) ([]Route, error) {
	var data []byte
	var out []Route
	loaded := false
	for _, rt := range r.routes {
		if rt.Source != source || !typeMatches(rt.Types, typ) {
			continue
		}
		if rt.Filter != nil {
			if !loaded {
				var err error
				if data, err = body(); err != nil {
					return nil, err
				}
				loaded = true
			}
			if !rt.Filter.Accepts(data) {
				continue
			}
		}
		out = append(out, rt)
		if first || rt.Final {
			break
		}
	}
	return out, nil
}

func typeMatches(patterns []string, typ string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if Match(p, typ) {
			return true
		}
	}
	return false
}

// Routes returns the routes in order.
func (r *Registry) Routes() []Route { return append([]Route(nil), r.routes...) }

// Match reports whether typ matches pattern, where '*' matches any run of bytes
// (including none, '.' and '/') and every other byte matches itself; a pattern
// without '*' matches only the identical type.
//
// It runs in time linear in len(pattern)+len(typ) up to the cost of
// strings.Index, never backtracks more than once per '*', and allocates nothing:
// the text before the first '*' must be a prefix of typ, the text after the last
// '*' a suffix, and each piece between stars is taken at its leftmost occurrence
// after the previous one. Taking the leftmost occurrence is always safe because a
// '*' can absorb whatever lies between two pieces, so an earlier choice never
// excludes a match that a later one would find.
func Match(pattern, typ string) bool {
	first := strings.IndexByte(pattern, '*')
	if first < 0 {
		return pattern == typ
	}
	last := strings.LastIndexByte(pattern, '*')
	prefix, suffix := pattern[:first], pattern[last+1:]
	if len(typ) < len(prefix)+len(suffix) || !strings.HasPrefix(typ, prefix) || !strings.HasSuffix(typ, suffix) {
		return false
	}
	// The pieces between the first and the last '*' must appear in order, without
	// overlapping, in what the prefix and suffix leave of typ.
	middle := ""
	if last > first {
		middle = pattern[first+1 : last]
	}
	rest := typ[len(prefix) : len(typ)-len(suffix)]
	for middle != "" {
		piece := middle
		next := ""
		if i := strings.IndexByte(middle, '*'); i >= 0 {
			piece, next = middle[:i], middle[i+1:]
		}
		middle = next
		if piece == "" {
			continue // "**" is the same as "*"
		}
		at := strings.Index(rest, piece)
		if at < 0 {
			return false
		}
		rest = rest[at+len(piece):]
	}
	return true
}

// Config is one entry of TENAZ_ROUTES, e.g.
//
//	[{"source": "stripe", "types": ["payment_intent.*"], "url": "https://orders.internal/hooks/stripe", "timeoutSeconds": 10}]
//
// A forward route has either one url or a list of steps: destinations called in
// order, each a recovery point ("create the user in the CRM, then send the welcome
// email"), so a retry resumes after the last step that succeeded.
type Config struct {
	Source         string   `json:"source"`
	Types          []string `json:"types"`          // patterns; empty = all types of the source
	Handler        string   `json:"handler"`        // "forward" (default) or a name registered in Go
	URL            string   `json:"url"`            // forward: destination, http or https
	Steps          []Step   `json:"steps"`          // forward: destinations in order, instead of url
	TimeoutSeconds int      `json:"timeoutSeconds"` // forward: per-request timeout in seconds; default 10
	Dependency     string   `json:"dependency"`     // breaker name; default the (first) URL's host
	// Filter requires body fields to match (see Filter); empty = every event of the
	// source and types.
	Filter map[string]json.RawMessage `json:"filter,omitempty"`
	// Name names the destination (see Route.Name): letters, digits and . _ - / @ :,
	// unique among the routes of a source. Default: the url's host and path (the
	// first step's for steps), or the handler's name.
	Name string `json:"name,omitempty"`
	// Final: an event this route takes goes to no later route (first match only).
	Final bool `json:"final,omitempty"`
	// SigningSecret, when set, makes the forward handler sign every request with the
	// Standard Webhooks scheme (webhook-id, webhook-timestamp, webhook-signature). It
	// is a secret reference, "ssm:<parameter name>", "secretsmanager:<name or ARN>"
	// or, for local runs, "env:<NAME>" (see package secrets), never the secret itself;
	// the value is one or more whsec_<base64> secrets separated by spaces. Empty: no
	// signature.
	SigningSecret string `json:"signingSecret,omitempty"`
	// Headers are added to every forwarded request, each value read from a secret,
	// e.g. {"Authorization": {"secret": "secretsmanager:tenaz/prod/deliveries/orders-token", "format": "Bearer {}"}}.
	Headers map[string]SecretHeader `json:"headers,omitempty"`
	// RatePerSecond caps deliveries per second to the dependency, across every
	// container; records over it wait for a later second, never failed for it. 0 (the
	// default) = unlimited; at most MaxRatePerSecond.
	RatePerSecond int `json:"ratePerSecond"`
}

// MaxRatePerSecond is the highest RatePerSecond a route may set.
const MaxRatePerSecond = 10000

// Step is one destination of a multi-step forward route.
type Step struct {
	Name           string `json:"name"`           // unique within the route; part of the Idempotency-Key
	URL            string `json:"url"`            // http or https
	TimeoutSeconds int    `json:"timeoutSeconds"` // default: the route's timeout
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
			if (c.URL == "") == (len(c.Steps) == 0) {
				return nil, fmt.Errorf("route %d (%s): a forward route has a url or steps, not both", i, c.Source)
			}
			first := c.URL
			seen := map[string]bool{}
			for j, st := range c.Steps {
				if st.Name == "" || seen[st.Name] || strings.ContainsAny(st.Name, ": ") {
					return nil, fmt.Errorf("route %d (%s): step %d needs a unique name without ':' or spaces", i, c.Source, j)
				}
				seen[st.Name] = true
				if _, err := httpURL(st.URL); err != nil {
					return nil, fmt.Errorf("route %d (%s): step %s: %w", i, c.Source, st.Name, err)
				}
				if st.TimeoutSeconds < 0 || st.TimeoutSeconds > 900 {
					return nil, fmt.Errorf("route %d (%s): step %s: timeoutSeconds outside [0, 900]", i, c.Source, st.Name)
				}
				if j == 0 {
					first = st.URL
				}
			}
			u, err := httpURL(first)
			if err != nil {
				return nil, fmt.Errorf("route %d (%s): %w", i, c.Source, err)
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
		if c.Filter != nil {
			if _, err := ParseFilter(c.Filter); err != nil {
				return nil, fmt.Errorf("route %d (%s): %w", i, c.Source, err)
			}
		}
		if c.RatePerSecond < 0 || c.RatePerSecond > MaxRatePerSecond {
			return nil, fmt.Errorf("route %d (%s): ratePerSecond %d outside [0, %d]", i, c.Source, c.RatePerSecond, MaxRatePerSecond)
		}
		if ratelimit.IsWindowName(c.Dependency) {
			return nil, fmt.Errorf("route %d (%s): dependency %q begins with %q, which names rate limit windows", i, c.Source, c.Dependency, ratelimit.WindowPrefix)
		}
		if err := c.defaultName(); err != nil {
			return nil, fmt.Errorf("route %d (%s): %w", i, c.Source, err)
		}
		if err := c.validateDelivery(); err != nil {
			return nil, fmt.Errorf("route %d (%s): %w", i, c.Source, err)
		}
	}
	// A name is the key of a destination's recovery point on an event's record:
	// two routes of one source must not share one.
	seen := map[[2]string]int{}
	for i, c := range cs {
		k := [2]string{c.Source, c.Name}
		if j, dup := seen[k]; dup {
			return nil, fmt.Errorf("routes %d and %d (%s) are both named %q: give each a distinct name", j, i, c.Source, c.Name)
		}
		seen[k] = i
	}
	return cs, nil
}

// defaultName fills in Name when it is empty, and validates it.
func (c *Config) defaultName() error {
	if c.Name == "" {
		c.Name = c.Handler
		if c.Handler == "forward" {
			first := c.URL
			if len(c.Steps) > 0 {
				first = c.Steps[0].URL
			}
			if u, err := url.Parse(first); err == nil {
				c.Name = strings.TrimSuffix(u.Host+u.EscapedPath(), "/")
			}
			c.Name = strings.Map(func(r rune) rune {
				if nameChar(r) {
					return r
				}
				return '_'
			}, c.Name)
		}
	}
	if len(c.Name) > 200 {
		return fmt.Errorf("name %.20q… is longer than 200 bytes", c.Name)
	}
	for _, r := range c.Name {
		if !nameChar(r) {
			return fmt.Errorf("name %q: only letters, digits and . _ - / @ : are allowed", c.Name)
		}
	}
	return nil
}

func nameChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-/@:", r)
}

func httpURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("url must be an absolute http(s) URL")
	}
	return u, nil
}

// Timeout is the route's per-request timeout.
func (c Config) Timeout() time.Duration {
	if c.TimeoutSeconds == 0 {
		return DefaultTimeout
	}
	return time.Duration(c.TimeoutSeconds) * time.Second
}

// Build makes a registry from configs. handlers maps a handler name to a factory;
// "forward" must be among them when a config uses it. An unknown name is an error.
func Build(configs []Config, handlers map[string]func(Config) (Handler, error)) (*Registry, error) {
	r := &Registry{}
	for i, c := range configs {
		mk, ok := handlers[c.Handler]
		if !ok {
			return nil, fmt.Errorf("route %d (%s): no handler named %q", i, c.Source, c.Handler)
		}
		h, err := mk(c)
		if err != nil {
			return nil, fmt.Errorf("route %d (%s): %w", i, c.Source, err)
		}
		var f *Filter
		if c.Filter != nil {
			if f, err = ParseFilter(c.Filter); err != nil {
				return nil, fmt.Errorf("route %d (%s): %w", i, c.Source, err)
			}
		}
		name := c.Name
		if name == "" { // a config that did not come through ParseConfig
			if err := c.defaultName(); err != nil {
				return nil, fmt.Errorf("route %d (%s): %w", i, c.Source, err)
			}
			name = c.Name
		}
		r.Add(Route{Source: c.Source, Types: c.Types, Dependency: c.Dependency, Handler: h, Filter: f, Name: name, Final: c.Final, RatePerSecond: c.RatePerSecond})
	}
	return r, nil
}

// DeliveredStep is the step on an event's idempotency record that says destination
// name took the event; the destination's own steps (a forward sequence) are kept
// under DeliveredStep(name)+"#".
func DeliveredStep(name string) string { return "dest:" + name }

// DeadLetteredStep is the step that says destination name's failure was
// dead-lettered; a replay naming it delivers there.
func DeadLetteredStep(name string) string { return "dlq:" + name }

// StepDestination tells which destination a step of an event's record is about and
// whether it says delivered or dead-lettered; ok is false for any other step.
func StepDestination(step string) (name string, delivered, ok bool) {
	if n, found := strings.CutPrefix(step, "dest:"); found && !strings.Contains(n, "#") {
		return n, true, true
	}
	if n, found := strings.CutPrefix(step, "dlq:"); found {
		return n, false, true
	}
	return "", false, false
}
