package chaos

import (
	"context"
	"runtime"

	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/queue"
	"github.com/tenaz/tenaz/shared/route"
)

// crashPoint kills the running invocation at boundary b with probability CrashRate
// while the chaos lasts. The invocation's goroutine ends there (its deferred calls
// run, as the stack of a dying process would no longer matter): no release, no
// visibility change, no delete. It is only ever called outside the stores' locks.
func (s *sim) crashPoint(b Boundary) {
	if !s.chaos || s.faults.Float64() >= s.cfg.CrashRate {
		return
	}
	s.dead = true
	s.led.Crashes[b]++
	runtime.Goexit()
}

// afterDeath ends the calling goroutine when the invocation has died: the records
// after a crash are never looked at.
func (s *sim) afterDeath() {
	if s.dead {
		runtime.Goexit()
	}
}

// crashStore is the idempotency store as the processor sees it: crashes after a
// claim and around a completion, and the ledger's note of every completion the store
// accepted.
type crashStore struct {
	idempotency.Store
	s *sim
}

func (c crashStore) Claim(ctx context.Context, req idempotency.ClaimRequest) (idempotency.Claim, error) {
	c.s.afterDeath()
	cl, err := c.Store.Claim(ctx, req)
	if err == nil && cl.Status == idempotency.ClaimAcquired {
		c.s.crashPoint(AfterClaim)
	}
	return cl, err
}

func (c crashStore) Complete(ctx context.Context, key, token string, result []byte, expiresAt int64) error {
	c.s.crashPoint(BeforeComplete)
	if err := c.Store.Complete(ctx, key, token, result, expiresAt); err != nil {
		return err
	}
	c.s.completed[key] = true
	c.s.crashPoint(AfterComplete)
	return nil
}

func (c crashStore) SaveStep(ctx context.Context, key, token, step string, result []byte) error {
	c.s.afterDeath()
	if err := c.Store.SaveStep(ctx, key, token, step, result); err != nil {
		return err
	}
	if name, delivered, ok := route.StepDestination(step); ok && delivered {
		c.s.delivered[key+" "+name] = true
		c.s.crashPoint(AfterStep)
	}
	return nil
}

// forgetful is a defective idempotency store for the ledger's own test: it answers
// every completion with success and keeps the record retryable instead.
type forgetful struct{ idempotency.Store }

func (f forgetful) Complete(ctx context.Context, key, token string, _ []byte, _ int64) error {
	return f.Release(ctx, key, token)
}

// crashDeadLetter is the dead-letter queue as the processor sees it: a crash may
// follow an accepted send.
type crashDeadLetter struct {
	q *queue.Memory
	s *sim
}

func (c crashDeadLetter) Send(ctx context.Context, m queue.Message) (string, error) {
	c.s.afterDeath()
	id, err := c.q.Send(ctx, m)
	if err == nil {
		c.s.crashPoint(AfterDeadLetter)
	}
	return id, err
}

// crashRouter is the router as the processor sees it: it is asked first for every
// decodable record, so a dead invocation stops there.
type crashRouter struct {
	r *route.Registry
	s *sim
}

func (c crashRouter) Destinations(source, typ string, body func() ([]byte, error)) ([]route.Route, error) {
	c.s.afterDeath()
	return c.r.Destinations(source, typ, body)
}
