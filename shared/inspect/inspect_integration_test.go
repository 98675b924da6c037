//go:build integration

package inspect_test

import (
	"context"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/idempotency/dynamostore"
	"github.com/tenaz/tenaz/shared/inspect"
	"github.com/tenaz/tenaz/shared/internal/awstest"
	"github.com/tenaz/tenaz/shared/internal/testclock"
)

// TestDynamoLifecycle follows one event through the DynamoDB store, failing,
// dead-lettered, replayed and completed, and inspects it at each stage with exactly
// one GetItem.
func TestDynamoLifecycle(t *testing.T) {
	tb := awstest.NewTable(t, awstest.Config(t), "inspect", dynamostore.CreateTable)
	store := dynamostore.New(tb.Name, tb.Client, dynamostore.Options{})
	clock := testclock.New(t0)
	in := inspect.New(store, clock.Now)
	ctx := context.Background()
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	claim := func(token string) {
		t.Helper()
		now := clock.Now()
		c, err := store.Claim(ctx, idempotency.ClaimRequest{Key: key, PayloadHash: "h1", LeaseToken: token, Now: now,
			LeaseExpiresAtMs: now.Add(lease).UnixMilli(), ExpiresAt: now.Add(retention).Unix()})
		if err != nil || c.Status != idempotency.ClaimAcquired {
			t.Fatalf("claim: %v %v", c.Status, err)
		}
	}
	check := func(stage string, want inspect.State, inDLQ bool, attempts int) inspect.Report {
		t.Helper()
		tb.Calls.Reset()
		r, err := in.Inspect(ctx, key)
		if err != nil {
			t.Fatalf("%s: inspect: %v", stage, err)
		}
		if tb.Calls.Total() != 1 || tb.Calls.Of("GetItem") != 1 {
			t.Fatalf("%s: inspection made %d calls (%d GetItem), want one GetItem", stage, tb.Calls.Total(), tb.Calls.Of("GetItem"))
		}
		if r.State != want || r.InDeadLetterQueue != inDLQ || r.Attempts != attempts {
			t.Fatalf("%s: state %s inDLQ %v attempts %d, want %s %v %d", stage, r.State, r.InDeadLetterQueue, r.Attempts, want, inDLQ, attempts)
		}
		return r
	}

	check("never seen", inspect.Unknown, false, 0)
	claim("a")
	must("step", store.SaveStep(ctx, key, "a", "crm", []byte("user-1")))
	r := check("leased", inspect.InProgress, false, 1)
	if !r.ClaimedAt.Equal(t0) || !r.LeaseExpiresAt.Equal(t0.Add(lease)) || len(r.Steps) != 1 || r.Steps[0] != "crm" {
		t.Fatalf("leased: %+v", r)
	}
	must("release", store.Release(ctx, key, "a"))
	check("released", inspect.Retrying, false, 1)

	clock.Advance(time.Minute)
	must("mark", store.MarkDeadLettered(ctx, key, "exhausted", "HTTP 503 from https://example.com", clock.Now()))
	r = check("dead-lettered", inspect.DeadLettered, true, 1)
	if r.DeadLetterReason != "exhausted" || r.LastError != "HTTP 503 from https://example.com" || !r.DeadLetteredAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("dead-lettered: %+v", r)
	}

	clock.Advance(time.Hour)
	must("reset", store.ResetAttempts(ctx, key, clock.Now()))
	r = check("replayed", inspect.Replayed, false, 0)
	if !r.ReplayedAt.Equal(clock.Now()) {
		t.Fatalf("replayedAt = %v, want %v", r.ReplayedAt, clock.Now())
	}

	claim("b")
	must("complete", store.Complete(ctx, key, "b", nil, clock.Now().Add(retention).Unix()))
	check("completed", inspect.Completed, false, 1)

	clock.Advance(retention + time.Second)
	check("past its retention", inspect.Unknown, false, 0)
}
