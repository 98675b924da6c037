package redrive_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/breaker"
	"github.com/tenaz/tenaz/shared/redrive"
)

// The DLQ report carries each route dependency's breaker state: an operator sees
// that a destination is still down before replaying into it.
func TestReportCarriesBreakerStates(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.deadLetter(t, event("stripe", "evt_1", "charge.succeeded", 0), nil)
	store := breaker.NewMemoryStore()
	b := breaker.New(store, breaker.Settings{Now: h.clock.Now, FailureThreshold: 1})
	ticket, err := b.Allow(context.Background(), "orders.internal")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Report(context.Background(), ticket, false); err != nil { // one failure opens it
		t.Fatal(err)
	}
	r := h.redriver(func(o *redrive.Options) {
		o.Breakers = b
		o.Dependencies = []string{"orders.internal", "crm.internal"}
	})
	rep, err := r.Run(context.Background(), redrive.Request{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Breakers) != 2 || rep.Breakers[0].State != breaker.Open || rep.Breakers[1].State != breaker.Closed {
		t.Fatalf("breakers %+v", rep.Breakers)
	}
	out, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `"dependency":"orders.internal","state":"open"`) {
		t.Fatalf("report JSON %s", out)
	}
}

type failingStates struct{}

func (failingStates) State(context.Context, string) (breaker.Snapshot, error) {
	return breaker.Snapshot{}, errors.New("throttled")
}

// An unreadable breaker leaves it out of the report; the run itself goes on.
func TestReportWithoutReadableBreakers(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.deadLetter(t, event("stripe", "evt_1", "charge.succeeded", 0), nil)
	r := h.redriver(func(o *redrive.Options) {
		o.Breakers = failingStates{}
		o.Dependencies = []string{"orders.internal"}
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := r.Run(ctx, redrive.Request{DryRun: true})
	if err != nil || rep.Counts.DryRun != 1 || len(rep.Breakers) != 0 {
		t.Fatalf("rep %+v, %v", rep, err)
	}
}
