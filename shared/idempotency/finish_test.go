package idempotency

import (
	"context"
	"errors"
	"testing"
	"time"
)

type ctxKey struct{}

// seenStore records the context of each completion, release and step write, as it
// was when the write began.
type seenStore struct {
	Store
	op       string // the write to watch: "complete", "release" or "saveStep"
	ctx      context.Context
	err      error
	deadline time.Duration // from the write's start; 0 when none
	value    any
}

func (s *seenStore) see(op string, ctx context.Context) {
	if op != s.op {
		return
	}
	s.ctx, s.err, s.value = ctx, ctx.Err(), ctx.Value(ctxKey{})
	if dl, ok := ctx.Deadline(); ok {
		s.deadline = time.Until(dl)
	}
}

func (s *seenStore) Complete(ctx context.Context, key, token string, result []byte, expiresAt int64) error {
	s.see("complete", ctx)
	return s.Store.Complete(ctx, key, token, result, expiresAt)
}

func (s *seenStore) Release(ctx context.Context, key, token string) error {
	s.see("release", ctx)
	return s.Store.Release(ctx, key, token)
}

func (s *seenStore) SaveStep(ctx context.Context, key, token, step string, result []byte) error {
	s.see("saveStep", ctx)
	return s.Store.SaveStep(ctx, key, token, step, result)
}

// The completion, release and step writes happen even when the caller's context
// ended while the handler ran: with the caller's values, none of its cancellation,
// and a deadline of their own at most finishTimeout away, ended once the write
// returned.
func TestFinishWritesOutliveTheCaller(t *testing.T) {
	t.Parallel()
	for op, fn := range map[string]func(cancel context.CancelFunc) Handler{
		"complete": func(cancel context.CancelFunc) Handler {
			return func(context.Context, *Attempt) ([]byte, error) { cancel(); return []byte("ok"), nil }
		},
		"release": func(cancel context.CancelFunc) Handler {
			return func(context.Context, *Attempt) ([]byte, error) { cancel(); return nil, errors.New("boom") }
		},
		"saveStep": func(cancel context.CancelFunc) Handler {
			return func(ctx context.Context, a *Attempt) ([]byte, error) {
				return a.Step(ctx, "s", func(context.Context) ([]byte, error) { cancel(); return []byte("x"), nil })
			}
		},
	} {
		t.Run(op, func(t *testing.T) {
			t.Parallel()
			store := &seenStore{Store: NewMemoryStore(), op: op}
			parent, cancel := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "v"))
			defer cancel()
			out, err := NewRunner(store, Settings{}).Do(parent, "k", "h1", fn(cancel))
			if store.ctx == nil {
				t.Fatalf("no %s write (Do = %+v, %v)", op, out, err)
			}
			if store.err != nil || store.value != "v" {
				t.Fatalf("%s write began with Err %v, value %v; want nil and the caller's", op, store.err, store.value)
			}
			if store.deadline <= 0 || store.deadline > finishTimeout {
				t.Fatalf("%s write deadline %v away, want within (0, %v]", op, store.deadline, finishTimeout)
			}
			if !errors.Is(store.ctx.Err(), context.Canceled) {
				t.Fatalf("%s write context after Do: %v, want cancelled", op, store.ctx.Err())
			}
			r, gerr := store.Get(context.Background(), "k", time.Now())
			if gerr != nil {
				t.Fatal(gerr)
			}
			if want := map[string]Status{"complete": StatusCompleted, "release": StatusRetryable, "saveStep": StatusCompleted}[op]; r.Status != want {
				t.Fatalf("record %+v, want %s", r, want)
			}
			if op == "saveStep" && string(r.Steps["s"]) != "x" {
				t.Fatalf("step not recorded: %+v", r)
			}
		})
	}
}
