package sources

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/tenaz/tenaz/shared/config"
	"github.com/tenaz/tenaz/shared/webhook"
)

// Defaults of the catalog's refresh.
const (
	// DefaultRefresh is how old the sources may get before a request re-reads the
	// parameter or secret: 300 s (TENAZ_SOURCES_REFRESH_SECONDS).
	DefaultRefresh = 300 * time.Second
	// MinRefreshGap is the least time between two reads of the store caused by
	// failed signatures or failed reads: 10 s. A flood of badly signed requests
	// costs at most one store call per 10 s per container.
	MinRefreshGap = 10 * time.Second
)

// Catalog serves the sources to ingest and keeps them fresh. Sources from
// TENAZ_SOURCES are fixed; sources from the parameter or secret are re-read when a
// request finds them older than the refresh interval, and at once (at most once per
// MinRefreshGap) when a signature fails, as the sender's secret may have rotated.
// A request within the interval makes no store call. A failed re-read
// keeps the sources in hand and is logged.
type Catalog struct {
	getenv    config.Getenv
	stores    Stores
	refreshes bool // false for inline sources: nothing to refresh
	refresh   time.Duration
	now       func() time.Time
	log       *slog.Logger

	mu        sync.Mutex
	set       Set
	loadedAt  time.Time // last successful read
	triedAt   time.Time // last read attempted
	reloading bool
}

// CatalogOptions configure NewCatalog.
type CatalogOptions struct {
	Getenv  config.Getenv
	Secrets SecretGetter // may be nil unless TENAZ_SOURCES_SECRET_ID is the source
	// Parameters may be nil unless TENAZ_SOURCES_PARAMETER is the source.
	Parameters ParameterGetter
	Refresh    time.Duration    // default DefaultRefresh
	Now        func() time.Time // default time.Now
	Log        *slog.Logger     // default slog.Default()
}

// NewCatalog reads the sources once. It fails only when nothing can be read;
// invalid entries are logged (by name and reason) and answer 404.
func NewCatalog(ctx context.Context, o CatalogOptions) (*Catalog, error) {
	c := &Catalog{stores: Stores{Secrets: o.Secrets, Parameters: o.Parameters}, refresh: o.Refresh, now: o.Now, log: o.Log}
	if c.refresh <= 0 {
		c.refresh = DefaultRefresh
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	set, err := LoadSetFrom(ctx, o.Getenv, c.stores)
	if err != nil {
		return nil, err
	}
	c.getenv = o.Getenv
	c.refreshes = strings.TrimSpace(o.Getenv(config.EnvSources)) == ""
	c.set, c.loadedAt, c.triedAt = set, c.now(), c.now()
	c.logInvalid(set)
	return c, nil
}

// Len returns the number of valid sources.
func (c *Catalog) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.set.Sources)
}

// Source returns the named source, re-reading the store first when the sources
// are older than the refresh interval.
func (c *Catalog) Source(ctx context.Context, name string) (*webhook.Source, bool) {
	c.mu.Lock()
	stale := c.refreshes && c.now().Sub(c.loadedAt) >= c.refresh && c.now().Sub(c.triedAt) >= MinRefreshGap
	c.mu.Unlock()
	if stale {
		c.reload(ctx)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.set.Sources[name]
	return s, ok
}

// SignatureFailed re-reads the store unless it was read less than MinRefreshGap
// ago, and returns the named source afterwards with whether it changed.
func (c *Catalog) SignatureFailed(ctx context.Context, name string) (*webhook.Source, bool) {
	c.mu.Lock()
	before := c.set.Sources[name]
	due := c.refreshes && c.now().Sub(c.triedAt) >= MinRefreshGap
	c.mu.Unlock()
	if !due {
		return before, false
	}
	c.reload(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	after := c.set.Sources[name]
	return after, after != nil && after != before
}

// reload reads the store unless a read is under way or was started less than
// MinRefreshGap ago (checked again here: callers decide they are due outside the
// lock, so two of them may race to this point).
func (c *Catalog) reload(ctx context.Context) {
	c.mu.Lock()
	if c.reloading || c.now().Sub(c.triedAt) < MinRefreshGap {
		c.mu.Unlock()
		return
	}
	c.reloading, c.triedAt = true, c.now()
	c.mu.Unlock()
	set, err := LoadSetFrom(ctx, c.getenv, c.stores)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reloading = false
	if err != nil {
		c.log.WarnContext(ctx, "sources refresh failed; keeping the sources in hand", "error", err.Error())
		return
	}
	c.set, c.loadedAt = set, c.now()
	c.logInvalid(set)
}

func (c *Catalog) logInvalid(set Set) {
	for name, err := range set.Invalid {
		c.log.Error("invalid source: it answers 404 until fixed", "source", name, "error", err.Error())
	}
}
