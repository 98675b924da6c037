package processor

import (
	"context"
	"errors"

	"github.com/tenaz/tenaz/shared/blob"
	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/retry"
)

// Bodies reads and removes the bodies held in the claim-check store (blob.S3,
// blob.Memory).
type Bodies interface {
	Get(ctx context.Context, key, sum string) ([]byte, error)
	Delete(ctx context.Context, key string) error
}

// bodyError is a failure to load an event's stored body: the attempt ended before
// its handler ran, so it says nothing about the destination.
type bodyError struct{ err error }

func (e *bodyError) Error() string { return "load body: " + e.err.Error() }
func (e *bodyError) Unwrap() error { return e.err }

// payloadHash is the hash the idempotency record keeps of env's body: the hex
// SHA-256 of the body, which a stored body's message carries (BodySHA256), so one
// event sent inline or stored has one payload hash, and no GET is needed to know it.
func payloadHash(env *envelope.Envelope) string {
	if env.Stored() {
		return env.BodySHA256
	}
	return idempotency.PayloadHash(env.Body)
}

// loadBody gives env its stored body, inside an attempt. A store outage (or the
// invocation ending) is a transient failure; a missing or mismatched body, or no
// store, is permanent.
func (p *Processor) loadBody(ctx context.Context, env *envelope.Envelope) error {
	var g blob.Getter
	if p.o.Bodies != nil {
		g = p.o.Bodies
	}
	err := blob.Load(ctx, g, env)
	switch {
	case err == nil:
		return nil
	case blob.Retryable(err) || ctx.Err() != nil:
		return &bodyError{err: err}
	default:
		return retry.Permanent(&bodyError{err: err})
	}
}

// permanentReason is the dead-letter reason of a permanent failure: bodyMissing or
// bodyMismatch when the stored body could not be loaded, else permanent.
func permanentReason(err error) string {
	var be *bodyError
	if errors.As(err, &be) {
		switch {
		case errors.Is(be.err, blob.ErrHashMismatch):
			return envelope.ReasonBodyMismatch
		case errors.Is(be.err, blob.ErrNotFound), errors.Is(be.err, blob.ErrNoStore):
			return envelope.ReasonBodyMissing
		}
	}
	return envelope.ReasonPermanent
}

// calledNothing reports whether a failed attempt reached no destination: its body
// could not be loaded, or its handler could not make its request ready
// (retry.Unsent, e.g. a secret it signs with could not be read).
func calledNothing(err error) bool {
	var be *bodyError
	return errors.As(err, &be) || retry.IsUnsent(err)
}

// dropBody deletes the stored body of an event that is done (processed, or found
// completed already): no delivery of it will read the body again. Best effort: the
// bucket's lifecycle rule removes a body whose delete failed.
func (p *Processor) dropBody(ctx context.Context, env *envelope.Envelope, res Result) {
	if !env.Stored() || p.o.Bodies == nil {
		return
	}
	if err := p.o.Bodies.Delete(context.WithoutCancel(ctx), env.BodyRef); err != nil {
		p.o.Log.WarnContext(ctx, "stored body not deleted; the bucket's lifecycle removes it", "key", res.Key, "bodyRef", env.BodyRef, "error", err.Error())
	}
}
