package blob

import (
	"context"
	"errors"

	"github.com/tenaz/tenaz/shared/envelope"
)

// Getter reads a stored body back (Store).
type Getter interface {
	Get(ctx context.Context, key, sum string) ([]byte, error)
}

// ErrNoStore: an envelope refers to a stored body but no store is configured.
// Permanent until the reader is given a store.
var ErrNoStore = errors.New("no body store configured")

// Load gives e its body when the body is held in the store (e.Stored()), checked
// against e.BodySHA256; an envelope that carries its body inline is left as it is.
// It is the one place every reader of the queue (processor, forward, redrive, the
// local runner) resolves a claim check. Errors are *Error: ErrNotFound,
// ErrHashMismatch and ErrNoStore are permanent, an outage retryable.
func Load(ctx context.Context, g Getter, e *envelope.Envelope) error {
	if !e.Stored() || len(e.Body) > 0 {
		return nil
	}
	if g == nil {
		return &Error{Op: "get", Key: e.BodyRef, Kind: ErrNoStore}
	}
	body, err := g.Get(ctx, e.BodyRef, e.BodySHA256)
	if err != nil {
		return err
	}
	e.Body = body
	return nil
}
