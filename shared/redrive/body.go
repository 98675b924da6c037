package redrive

import (
	"context"
	"errors"
	"sync"

	"github.com/tenaz/tenaz/shared/blob"
	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/queue"
)

// Bodies reads and refreshes the bodies held in the claim-check store (blob.S3,
// blob.Memory).
type Bodies interface {
	Get(ctx context.Context, key, sum string) ([]byte, error)
	Touch(ctx context.Context, key string) error
}

// ReasonBodyUnavailable is the BodyProblem reason of a body the store could not be
// asked about (an outage or throttle): a later run can replay the message.
const ReasonBodyUnavailable = "bodyUnavailable"

// BodyProblem is a matched message whose stored body could not be had: it stays in
// the dead-letter queue, since a replay would only come back as bodyMissing.
type BodyProblem struct {
	MessageID string `json:"messageId"`
	Key       string `json:"key"`     // the idempotency key, source:id
	BodyRef   string `json:"bodyRef"` // the body's key in the store
	// Reason is envelope.ReasonBodyMissing (no object, or no store configured),
	// envelope.ReasonBodyMismatch (a dry run read a body whose SHA-256 differs) or
	// ReasonBodyUnavailable.
	Reason string `json:"reason"`
	Error  string `json:"error"`
}

// MaxBodyProblems is the most BodyProblem entries a report lists: 100. The counts
// cover them all.
const MaxBodyProblems = 100

// bodyProblem records that m's body could not be had, and holds m in the
// dead-letter queue.
func (x *run) bodyProblem(ctx context.Context, m queue.Received, env *envelope.Envelope, err error) {
	reason := ReasonBodyUnavailable
	switch {
	case errors.Is(err, blob.ErrNotFound), errors.Is(err, blob.ErrNoStore):
		reason = envelope.ReasonBodyMissing
		x.rep.Counts.BodyMissing++
	case errors.Is(err, blob.ErrHashMismatch):
		reason = envelope.ReasonBodyMismatch
		x.rep.Counts.BodyFailed++
	default:
		x.rep.Counts.BodyFailed++
	}
	if len(x.rep.BodyProblems) < MaxBodyProblems {
		x.rep.BodyProblems = append(x.rep.BodyProblems, BodyProblem{
			MessageID: m.ID, Key: env.Key(), BodyRef: env.BodyRef, Reason: reason, Error: err.Error(),
		})
	}
	x.hold(m)
	x.r.o.Log.WarnContext(ctx, "stored body unavailable; message left in the dead-letter queue",
		"key", env.Key(), "messageId", m.ID, "bodyRef", env.BodyRef, "reason", reason, "error", err.Error())
}

// getter returns the store as a blob.Getter, nil when none is configured.
func (x *run) getter() blob.Getter {
	if x.r.o.Bodies == nil {
		return nil
	}
	return x.r.o.Bodies
}

// checkBody reports whether a dry run would replay m as far as its body goes: an
// inline body, or a stored one that blob.Load reads back intact. The body read is
// dropped.
func (x *run) checkBody(ctx context.Context, m queue.Received, env *envelope.Envelope) bool {
	if !env.Stored() {
		return true
	}
	probe := *env
	x.rep.BodyRequests++
	if err := blob.Load(ctx, x.getter(), &probe); err != nil {
		x.bodyProblem(ctx, m, env, err)
		return false
	}
	return true
}

// touchBodies restarts the age of each candidate's stored body, so that it outlives
// the replayed message's new retention, and returns the candidates that may be sent.
// A body that is missing, or could not be touched, keeps its message in the
// dead-letter queue.
func (x *run) touchBodies(ctx context.Context, cs []candidate) []candidate {
	errs := make([]error, len(cs))
	var wg sync.WaitGroup
	for i := range cs {
		env := cs[i].env
		if !env.Stored() {
			continue
		}
		if x.r.o.Bodies == nil {
			errs[i] = &blob.Error{Op: "touch", Key: env.BodyRef, Kind: blob.ErrNoStore}
			continue
		}
		x.rep.BodyRequests++
		wg.Go(func() { errs[i] = x.r.o.Bodies.Touch(ctx, env.BodyRef) })
	}
	wg.Wait()
	out := cs[:0]
	for i, cand := range cs {
		if errs[i] != nil {
			x.bodyProblem(ctx, cand.m, cand.env, errs[i])
			continue
		}
		out = append(out, cand)
	}
	return out
}
