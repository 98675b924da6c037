package secrets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Defaults of the cache.
const (
	// DefaultTTL is how long a value read is used before it is read again: 300 s
	// (TENAZ_SECRET_CACHE_SECONDS). A rotated value is in use at most this long after
	// the rotation.
	DefaultTTL = 300 * time.Second
	// MinRetryGap is the least time between two reads of one reference after a
	// failed read: 10 s.
	MinRetryGap = 10 * time.Second
)

// Store reads the current value of a reference of one kind, by name. Its errors
// must not carry the value.
type Store interface {
	Read(ctx context.Context, name string) (string, error)
}

// Stores are the stores of each kind; a nil one makes references of its kind fail
// with ErrNoStore.
type Stores struct {
	SSM            Store
	SecretsManager Store
	Env            Store // Getenv(os.Getenv) for env: references
}

// ErrNoStore: a reference's kind has no store in this process (a wiring fault, or an
// env: reference in a deployment without it).
var ErrNoStore = errors.New("no store for this kind of reference")

// ErrEmpty: the store holds an empty value.
var ErrEmpty = errors.New("the value is empty")

// Getenv is a Store over environment variables (os.Getenv's shape).
type Getenv func(string) string

// Read returns the variable's value; an unset or empty variable is ErrEmpty.
func (g Getenv) Read(_ context.Context, name string) (string, error) {
	if v := g(name); v != "" {
		return v, nil
	}
	return "", ErrEmpty
}

// Options configure NewCache.
type Options struct {
	TTL time.Duration    // default DefaultTTL; negative: read on every Get
	Now func() time.Time // default time.Now
	Log *slog.Logger     // default slog.Default()
}

// Cache reads references through its stores and keeps their values for a TTL. It is
// safe for concurrent use.
type Cache struct {
	stores Stores
	ttl    time.Duration
	now    func() time.Time
	log    *slog.Logger

	mu      sync.Mutex
	entries map[Ref]*entry
}

type entry struct {
	value    string
	has      bool          // value was read at least once
	readAt   time.Time     // last successful read
	failedAt time.Time     // last failed read, zero after a success
	inflight chan struct{} // closed when the read under way ends; nil when none
	err      error         // the last read's error, for those who waited on it
}

// NewCache returns a cache over stores.
func NewCache(stores Stores, o Options) *Cache {
	c := &Cache{stores: stores, ttl: o.TTL, now: o.Now, log: o.Log, entries: map[Ref]*entry{}}
	if c.ttl == 0 {
		c.ttl = DefaultTTL
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	return c
}

// Get returns ref's value: the one in hand when it was read less than the TTL ago,
// else a fresh read. When the read fails it returns the value in hand, if any (the
// failure is logged as a warning); otherwise an error naming ref, which a caller
// treats as transient.
func (c *Cache) Get(ctx context.Context, ref Ref) (string, error) {
	for {
		c.mu.Lock()
		e := c.entries[ref]
		if e == nil {
			e = &entry{}
			c.entries[ref] = e
		}
		now := c.now()
		fresh := e.has && now.Sub(e.readAt) < c.ttl
		// After a failure, the next read waits MinRetryGap: the value in hand serves
		// meanwhile; without one, the failure is returned again.
		backingOff := !e.failedAt.IsZero() && now.Sub(e.failedAt) < MinRetryGap
		switch {
		case fresh || (backingOff && e.has):
			v := e.value
			c.mu.Unlock()
			return v, nil
		case backingOff:
			err := e.err
			c.mu.Unlock()
			return "", err
		case e.inflight != nil:
			// Another caller is reading it: serve the value in hand, or wait.
			if e.has {
				v := e.value
				c.mu.Unlock()
				return v, nil
			}
			done := e.inflight
			c.mu.Unlock()
			select {
			case <-done:
				continue
			case <-ctx.Done():
				return "", fmt.Errorf("secret %s: %w", ref, ctx.Err())
			}
		}
		done := make(chan struct{})
		e.inflight = done
		c.mu.Unlock()

		v, err := c.read(ctx, ref)

		c.mu.Lock()
		e.inflight = nil
		close(done)
		if err == nil {
			e.value, e.has, e.readAt, e.failedAt, e.err = v, true, c.now(), time.Time{}, nil
			c.mu.Unlock()
			return v, nil
		}
		err = fmt.Errorf("secret %s: %w", ref, err)
		if ctx.Err() == nil {
			// The store failed, not this caller's deadline: the others back off too.
			e.failedAt, e.err = c.now(), err
		}
		if e.has {
			v := e.value
			age := c.now().Sub(e.readAt)
			c.mu.Unlock()
			c.log.WarnContext(ctx, "secret re-read failed; using the value in hand", "ref", ref.String(),
				"ageSeconds", int64(age/time.Second), "error", err.Error())
			return v, nil
		}
		c.mu.Unlock()
		return "", err
	}
}

func (c *Cache) read(ctx context.Context, ref Ref) (string, error) {
	var s Store
	switch ref.Kind {
	case KindSSM:
		s = c.stores.SSM
	case KindSecretsManager:
		s = c.stores.SecretsManager
	case KindEnv:
		s = c.stores.Env
	}
	if s == nil {
		return "", ErrNoStore
	}
	v, err := s.Read(ctx, ref.Name)
	if err == nil && v == "" {
		err = ErrEmpty
	}
	return v, err
}
