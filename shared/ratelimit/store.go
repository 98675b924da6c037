package ratelimit

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/tenaz/tenaz/shared/retry"
)

// Store keeps the count of each window, for every container. Implementations:
// Memory and dynamostore.Store; ratelimittest.Run checks both against this
// contract.
//
// A window is named by the destination's name and its second (unix seconds, the
// window runs from that second, inclusive, to the next, exclusive). Stores take no
// clock: the caller passes the window.
//
// Errors say whether a retry can help: ErrUnavailable (throttling, 5xx, network) is
// transient; a request the store rejects is retry.Permanent; an ended context is
// returned as it is.
type Store interface {
	// Take counts one delivery in the window of name at second and answers true
	// when fewer than limit (>= 1) were counted there before; otherwise it changes
	// nothing and answers false. Of callers racing on a window that starts empty,
	// at most limit win, and exactly limit when more than limit race.
	Take(ctx context.Context, name string, second int64, limit int) (bool, error)
	// Taken returns how many deliveries the window of name at second has counted:
	// 0 for a window with none, or one the store has forgotten.
	Taken(ctx context.Context, name string, second int64) (int, error)
}

// ErrUnavailable matches, with errors.Is, a store that is throttled, failing or
// unreachable. Transient: retrying later can help. The caller defers the delivery.
var ErrUnavailable = errors.New("rate limit store unavailable")

// errNoName is the error of a call without a destination name: permanent.
var errNoName = retry.Permanent(errors.New("no destination name"))

// Retention is how long a store keeps a window after it ends: one minute. Nothing
// reads a past window; the time only bounds what a store holds.
const Retention = time.Minute

// WindowPrefix begins the store name of every window. Breaker names, which share the
// table in DynamoDB, never begin with it: they are hosts (which cannot hold '#') or
// names route.ParseConfig accepts, and it refuses a dependency that begins with it.
const WindowPrefix = "rate#"

// WindowName is the store name of the window of name at second:
// "rate#<name>#<second>", e.g. "rate#crm.example.com#1893499200". The second is
// the text after the last '#', so no two windows share a name whatever name holds.
func WindowName(name string, second int64) string {
	return WindowPrefix + name + "#" + strconv.FormatInt(second, 10)
}

// IsWindowName reports whether a store name is a window's (see WindowName) rather
// than a breaker's. Readers that list the shared table skip such names.
func IsWindowName(name string) bool { return strings.HasPrefix(name, WindowPrefix) }
