package idempotencytest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/retry"
)

// Harness is one store under test and its controls.
type Harness struct {
	Store idempotency.Store
	// Throttle(true) makes every later call fail as the backend does when it
	// throttles; Throttle(false) ends that.
	Throttle func(on bool)
	// Calls, when set, returns how many requests reached the backend so far. The suite
	// then checks that a duplicate or in-flight claim costs exactly one.
	Calls func() int
}

// T0 is the suite's "now" for the first claim of each case.
var T0 = time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)

// Lease and Retention are the lease length and the record retention the suite uses.
const (
	Lease     = 30 * time.Second
	Retention = 7 * 24 * time.Hour
)

// Request returns a claim request at now with payload hash "h1", a lease of Lease and
// a retention of Retention.
func Request(key, token string, now time.Time) idempotency.ClaimRequest {
	return idempotency.ClaimRequest{
		Key:              key,
		PayloadHash:      "h1",
		LeaseToken:       token,
		LeaseExpiresAtMs: now.Add(Lease).UnixMilli(),
		ExpiresAt:        now.Add(Retention).Unix(),
		Now:              now,
	}
}

// Run runs the contract against the stores newHarness makes, one per case.
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	t.Helper()
	cases := []struct {
		name string
		fn   func(t *testing.T, h Harness, key string)
	}{
		{"first claim acquires", testFirstClaim},
		{"duplicate of completed answers in one call", testDuplicate},
		{"complete without result", testCompleteNoResult},
		{"live lease elsewhere is in flight", testInFlight},
		{"lease boundary", testLeaseBoundary},
		{"expired lease is reclaimed with attempts and steps", testReclaim},
		{"release keeps attempts and steps", testRelease},
		{"stale token changes nothing", testStaleToken},
		{"expired record starts a fresh lifecycle", testExpired},
		{"different payload hash is reported", testPayloadMismatch},
		{"racing claims: exactly one acquires", testRace},
		{"racing claims on an expired record: exactly one acquires", testRaceExpired},
		{"throttled store: transient error, nothing changed", testThrottle},
		{"reset attempts", testResetAttempts},
		{"reset attempts refused", testResetRefused},
		{"step names and results are data", testStepNames},
		{"get of an absent record", testGetAbsent},
		{"mark dead-lettered, then replay", testMarkDeadLettered},
		{"mark dead-lettered never creates a record", testMarkDeadLetteredAbsent},
		{"invalid claim is permanent", testInvalidClaim},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			c.fn(t, h, fmt.Sprintf("test:%s", t.Name()))
		})
	}
}

func claim(t *testing.T, s idempotency.Store, req idempotency.ClaimRequest) idempotency.Claim {
	t.Helper()
	c, err := s.Claim(context.Background(), req)
	if err != nil {
		t.Fatalf("claim %s by %s: %v", req.Key, req.LeaseToken, err)
	}
	return c
}

func acquire(t *testing.T, s idempotency.Store, req idempotency.ClaimRequest) idempotency.Record {
	t.Helper()
	c := claim(t, s, req)
	if c.Status != idempotency.ClaimAcquired {
		t.Fatalf("claim %s by %s = %v, want acquired", req.Key, req.LeaseToken, c.Status)
	}
	return c.Record
}

func get(t *testing.T, s idempotency.Store, key string, now time.Time) idempotency.Record {
	t.Helper()
	r, err := s.Get(context.Background(), key, now)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	return r
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s = %v, want %v", what, err, target)
	}
}

// sameRecord fails unless got equals want, treating nil and empty as equal.
func sameRecord(t *testing.T, what string, got, want idempotency.Record) {
	t.Helper()
	if diff := diffRecord(got, want); diff != "" {
		t.Fatalf("%s: record differs: %s\n got  %s\n want %s", what, diff, show(got), show(want))
	}
}

func diffRecord(a, b idempotency.Record) string {
	switch {
	case a.Key != b.Key:
		return "key"
	case a.Status != b.Status:
		return "status"
	case a.LeaseToken != b.LeaseToken:
		return "leaseToken"
	case a.LeaseExpiresAtMs != b.LeaseExpiresAtMs:
		return "leaseExpiresAt"
	case a.Attempts != b.Attempts:
		return "attempts"
	case a.ExpiresAt != b.ExpiresAt:
		return "expiresAt"
	case a.PayloadHash != b.PayloadHash:
		return "payloadHash"
	case !bytes.Equal(a.Result, b.Result):
		return "result"
	case !maps.EqualFunc(a.Steps, b.Steps, bytes.Equal) && (len(a.Steps) != 0 || len(b.Steps) != 0):
		return "steps"
	case a.ClaimedAtMs != b.ClaimedAtMs:
		return "claimedAt"
	case a.DeadLetteredAtMs != b.DeadLetteredAtMs:
		return "deadLetteredAt"
	case a.DeadLetterReason != b.DeadLetterReason:
		return "deadLetterReason"
	case a.LastError != b.LastError:
		return "lastError"
	case a.AttemptsResetAtMs != b.AttemptsResetAtMs:
		return "attemptsResetAt"
	}
	return ""
}

func show(r idempotency.Record) string {
	steps := slices.Sorted(maps.Keys(r.Steps))
	var b bytes.Buffer
	for _, k := range steps {
		fmt.Fprintf(&b, " %s=%q", k, r.Steps[k])
	}
	return fmt.Sprintf("{%s %s token=%q lease=%d attempts=%d expiresAt=%d hash=%q result=%q claimedAt=%d deadLetteredAt=%d reason=%q lastError=%q attemptsResetAt=%d steps:%s}",
		r.Key, r.Status, r.LeaseToken, r.LeaseExpiresAtMs, r.Attempts, r.ExpiresAt, r.PayloadHash, r.Result,
		r.ClaimedAtMs, r.DeadLetteredAtMs, r.DeadLetterReason, r.LastError, r.AttemptsResetAtMs, b.String())
}

// inProgress is the record a claim by token at now should leave.
func inProgress(key, token string, now time.Time, attempts int, steps map[string][]byte) idempotency.Record {
	req := Request(key, token, now)
	return idempotency.Record{
		Key: key, Status: idempotency.StatusInProgress, LeaseToken: token,
		LeaseExpiresAtMs: req.LeaseExpiresAtMs, Attempts: attempts, ExpiresAt: req.ExpiresAt,
		PayloadHash: req.PayloadHash, Steps: steps, ClaimedAtMs: now.UnixMilli(),
	}
}

func testFirstClaim(t *testing.T, h Harness, key string) {
	c := claim(t, h.Store, Request(key, "a", T0))
	if c.Status != idempotency.ClaimAcquired || c.PayloadMismatch {
		t.Fatalf("claim = %v mismatch=%v, want acquired without mismatch", c.Status, c.PayloadMismatch)
	}
	want := inProgress(key, "a", T0, 1, nil)
	sameRecord(t, "claim answer", c.Record, want)
	sameRecord(t, "stored", get(t, h.Store, key, T0), want)
}

func testDuplicate(t *testing.T, h Harness, key string) {
	ctx := context.Background()
	acquire(t, h.Store, Request(key, "a", T0))
	doneAt := T0.Add(time.Second)
	exp := doneAt.Add(Retention).Unix()
	must(t, "complete", h.Store.Complete(ctx, key, "a", []byte(`{"ok":true}`), exp))
	want := idempotency.Record{Key: key, Status: idempotency.StatusCompleted, Attempts: 1, ExpiresAt: exp, PayloadHash: "h1", Result: []byte(`{"ok":true}`), ClaimedAtMs: T0.UnixMilli()}
	sameRecord(t, "after complete", get(t, h.Store, key, doneAt), want)

	for i, now := range []time.Time{doneAt, doneAt.Add(time.Hour), doneAt.Add(Retention - time.Second)} {
		before := calls(h)
		c := claim(t, h.Store, Request(key, fmt.Sprintf("dup%d", i), now))
		if n := calls(h) - before; h.Calls != nil && n != 1 {
			t.Fatalf("duplicate claim made %d backend calls, want 1", n)
		}
		if c.Status != idempotency.ClaimCompleted || c.PayloadMismatch {
			t.Fatalf("duplicate claim = %v mismatch=%v, want completed", c.Status, c.PayloadMismatch)
		}
		sameRecord(t, "duplicate answer", c.Record, want)
		sameRecord(t, "stored after duplicate", get(t, h.Store, key, now), want)
	}
}

func calls(h Harness) int {
	if h.Calls == nil {
		return 0
	}
	return h.Calls()
}

func testCompleteNoResult(t *testing.T, h Harness, key string) {
	ctx := context.Background()
	for i, result := range [][]byte{nil, {}} {
		k := fmt.Sprintf("%s/%d", key, i)
		acquire(t, h.Store, Request(k, "a", T0))
		must(t, "complete", h.Store.Complete(ctx, k, "a", result, T0.Add(Retention).Unix()))
		c := claim(t, h.Store, Request(k, "b", T0))
		if c.Status != idempotency.ClaimCompleted || len(c.Record.Result) != 0 {
			t.Fatalf("claim after complete = %v result %q, want completed without result", c.Status, c.Record.Result)
		}
	}
}

func testInFlight(t *testing.T, h Harness, key string) {
	ctx := context.Background()
	acquire(t, h.Store, Request(key, "a", T0))
	held := inProgress(key, "a", T0, 1, nil)
	for _, now := range []time.Time{T0, T0.Add(time.Second), T0.Add(Lease - time.Millisecond)} {
		before := calls(h)
		c := claim(t, h.Store, Request(key, "b", now))
		if n := calls(h) - before; h.Calls != nil && n != 1 {
			t.Fatalf("in-flight claim made %d backend calls, want 1", n)
		}
		if c.Status != idempotency.ClaimInFlight {
			t.Fatalf("claim at %v = %v, want in flight", now, c.Status)
		}
		if c.Record.LeaseExpiresAtMs != T0.Add(Lease).UnixMilli() {
			t.Fatalf("in flight until %d ms, want the holder's lease end %d", c.Record.LeaseExpiresAtMs, T0.Add(Lease).UnixMilli())
		}
		sameRecord(t, "stored after in-flight claim", get(t, h.Store, key, now), held)
	}
	// The holder still owns it.
	must(t, "holder saves a step", h.Store.SaveStep(ctx, key, "a", "s", []byte("x")))
	must(t, "holder completes", h.Store.Complete(ctx, key, "a", nil, T0.Add(Retention).Unix()))
}

func testLeaseBoundary(t *testing.T, h Harness, key string) {
	acquire(t, h.Store, Request(key, "a", T0))
	end := time.UnixMilli(T0.Add(Lease).UnixMilli()).UTC()
	if c := claim(t, h.Store, Request(key, "b", end.Add(-time.Millisecond))); c.Status != idempotency.ClaimInFlight {
		t.Fatalf("claim 1 ms before the lease ends = %v, want in flight", c.Status)
	}
	r := acquire(t, h.Store, Request(key, "b", end))
	if r.Attempts != 2 || r.LeaseToken != "b" {
		t.Fatalf("claim when the lease ends: attempts %d token %q, want 2, b", r.Attempts, r.LeaseToken)
	}
}

func testReclaim(t *testing.T, h Harness, key string) {
	ctx := context.Background()
	acquire(t, h.Store, Request(key, "a", T0))
	must(t, "save step", h.Store.SaveStep(ctx, key, "a", "crm", []byte("user-1")))
	later := T0.Add(Lease + time.Second)
	c := claim(t, h.Store, Request(key, "b", later))
	steps := map[string][]byte{"crm": []byte("user-1")}
	want := inProgress(key, "b", later, 2, steps)
	if c.Status != idempotency.ClaimAcquired {
		t.Fatalf("claim after the lease ran out = %v, want acquired", c.Status)
	}
	sameRecord(t, "reclaim answer", c.Record, want)

	// The first worker comes back: all of its writes are refused.
	wantErr(t, "stale complete", h.Store.Complete(ctx, key, "a", []byte("late"), later.Add(Retention).Unix()), idempotency.ErrLeaseLost)
	wantErr(t, "stale release", h.Store.Release(ctx, key, "a"), idempotency.ErrLeaseLost)
	wantErr(t, "stale step", h.Store.SaveStep(ctx, key, "a", "email", []byte("sent")), idempotency.ErrLeaseLost)
	sameRecord(t, "after stale writes", get(t, h.Store, key, later), want)

	must(t, "new holder completes", h.Store.Complete(ctx, key, "b", []byte("r"), later.Add(Retention).Unix()))
}

func testRelease(t *testing.T, h Harness, key string) {
	ctx := context.Background()
	acquire(t, h.Store, Request(key, "a", T0))
	must(t, "save step", h.Store.SaveStep(ctx, key, "a", "crm", []byte("user-1")))
	must(t, "release", h.Store.Release(ctx, key, "a"))
	steps := map[string][]byte{"crm": []byte("user-1")}
	want := inProgress(key, "a", T0, 1, steps)
	want.Status, want.LeaseToken, want.LeaseExpiresAtMs = idempotency.StatusRetryable, "", 0
	sameRecord(t, "after release", get(t, h.Store, key, T0), want)

	// No lease left: the next claim acquires at once, attempts grow, steps stay.
	c := claim(t, h.Store, Request(key, "b", T0.Add(time.Second)))
	if c.Status != idempotency.ClaimAcquired {
		t.Fatalf("claim after release = %v, want acquired", c.Status)
	}
	sameRecord(t, "claim after release", c.Record, inProgress(key, "b", T0.Add(time.Second), 2, steps))
	wantErr(t, "complete by the released token", h.Store.Complete(ctx, key, "a", nil, 0), idempotency.ErrLeaseLost)
}

func testStaleToken(t *testing.T, h Harness, key string) {
	ctx := context.Background()
	exp := T0.Add(Retention).Unix()
	// On a record that does not exist.
	wantErr(t, "complete absent", h.Store.Complete(ctx, key, "a", nil, exp), idempotency.ErrLeaseLost)
	wantErr(t, "release absent", h.Store.Release(ctx, key, "a"), idempotency.ErrLeaseLost)
	wantErr(t, "step absent", h.Store.SaveStep(ctx, key, "a", "s", nil), idempotency.ErrLeaseLost)
	if _, err := h.Store.Get(ctx, key, T0); !errors.Is(err, idempotency.ErrNotFound) {
		t.Fatalf("stale writes created a record: get = %v", err)
	}
	// On a record held by someone else.
	acquire(t, h.Store, Request(key, "a", T0))
	must(t, "save step", h.Store.SaveStep(ctx, key, "a", "s", []byte("1")))
	before := get(t, h.Store, key, T0)
	for _, tok := range []string{"other", "", "A"} {
		wantErr(t, "complete "+tok, h.Store.Complete(ctx, key, tok, []byte("x"), exp), idempotency.ErrLeaseLost)
		wantErr(t, "release "+tok, h.Store.Release(ctx, key, tok), idempotency.ErrLeaseLost)
		wantErr(t, "step "+tok, h.Store.SaveStep(ctx, key, tok, "s", []byte("2")), idempotency.ErrLeaseLost)
		sameRecord(t, "after stale writes", get(t, h.Store, key, T0), before)
	}
	// After completion nobody holds the lease, not even the one who completed.
	must(t, "complete", h.Store.Complete(ctx, key, "a", []byte("r"), exp))
	done := get(t, h.Store, key, T0)
	wantErr(t, "release after complete", h.Store.Release(ctx, key, "a"), idempotency.ErrLeaseLost)
	wantErr(t, "complete twice", h.Store.Complete(ctx, key, "a", []byte("r2"), exp), idempotency.ErrLeaseLost)
	wantErr(t, "step after complete", h.Store.SaveStep(ctx, key, "a", "t", nil), idempotency.ErrLeaseLost)
	sameRecord(t, "after writes on a completed record", get(t, h.Store, key, T0), done)
}

func testExpired(t *testing.T, h Harness, key string) {
	ctx := context.Background()
	shortExp := T0.Add(time.Hour)
	setups := []struct {
		name  string
		setup func(k string)
	}{
		{"completed", func(k string) {
			acquire(t, h.Store, Request(k, "a", T0))
			must(t, "complete", h.Store.Complete(ctx, k, "a", []byte("old"), shortExp.Unix()))
		}},
		{"retryable with attempts and steps", func(k string) {
			for i, tok := range []string{"a", "b", "c"} {
				req := Request(k, tok, T0.Add(time.Duration(i)*time.Minute))
				req.ExpiresAt = shortExp.Unix()
				acquire(t, h.Store, req)
				must(t, "step", h.Store.SaveStep(ctx, k, tok, "crm", []byte("user-1")))
				must(t, "release", h.Store.Release(ctx, k, tok))
			}
		}},
		{"in progress with an ended lease", func(k string) {
			req := Request(k, "a", T0)
			req.ExpiresAt = shortExp.Unix()
			acquire(t, h.Store, req)
			must(t, "step", h.Store.SaveStep(ctx, k, "a", "crm", []byte("user-1")))
		}},
	}
	for _, s := range setups {
		k := key + "/" + s.name
		s.setup(k)
		// Still there one second before the end of retention.
		get(t, h.Store, k, time.Unix(shortExp.Unix(), 0))
		after := time.Unix(shortExp.Unix()+1, 0).UTC()
		if _, err := h.Store.Get(ctx, k, after); !errors.Is(err, idempotency.ErrNotFound) {
			t.Fatalf("%s: get of an expired record = %v, want ErrNotFound", s.name, err)
		}
		req := Request(k, "fresh", after)
		req.PayloadHash = "h2"
		c := claim(t, h.Store, req)
		if c.Status != idempotency.ClaimAcquired || c.PayloadMismatch {
			t.Fatalf("%s: claim of an expired record = %v mismatch=%v, want acquired, no mismatch", s.name, c.Status, c.PayloadMismatch)
		}
		want := inProgress(k, "fresh", after, 1, nil)
		want.PayloadHash = "h2"
		sameRecord(t, s.name+": fresh lifecycle", c.Record, want)
		sameRecord(t, s.name+": stored", get(t, h.Store, k, after), want)
		// The old lifecycle's holder cannot touch the new one.
		wantErr(t, "old token", h.Store.Release(ctx, k, "a"), idempotency.ErrLeaseLost)
	}
}

func testPayloadMismatch(t *testing.T, h Harness, key string) {
	ctx := context.Background()
	other := func(tok string, now time.Time) idempotency.ClaimRequest {
		r := Request(key, tok, now)
		r.PayloadHash = "h2"
		return r
	}
	acquire(t, h.Store, Request(key, "a", T0))
	if c := claim(t, h.Store, other("b", T0)); c.Status != idempotency.ClaimInFlight || !c.PayloadMismatch {
		t.Fatalf("in-flight claim with another body = %v mismatch=%v, want in flight with mismatch", c.Status, c.PayloadMismatch)
	}
	if c := claim(t, h.Store, Request(key, "b", T0)); c.PayloadMismatch {
		t.Fatal("same body reported as a mismatch")
	}
	must(t, "release", h.Store.Release(ctx, key, "a"))
	c := claim(t, h.Store, other("c", T0))
	if c.Status != idempotency.ClaimAcquired || !c.PayloadMismatch || c.Record.PayloadHash != "h1" {
		t.Fatalf("acquired with another body = %v mismatch=%v stored hash %q, want acquired, mismatch, h1 kept",
			c.Status, c.PayloadMismatch, c.Record.PayloadHash)
	}
	must(t, "complete", h.Store.Complete(ctx, key, "c", nil, T0.Add(Retention).Unix()))
	if c := claim(t, h.Store, other("d", T0)); c.Status != idempotency.ClaimCompleted || !c.PayloadMismatch {
		t.Fatalf("duplicate with another body = %v mismatch=%v, want completed with mismatch", c.Status, c.PayloadMismatch)
	}
	if c := claim(t, h.Store, Request(key, "e", T0)); c.Status != idempotency.ClaimCompleted || c.PayloadMismatch {
		t.Fatalf("duplicate with the first body = %v mismatch=%v, want completed, no mismatch", c.Status, c.PayloadMismatch)
	}
}

// race has n workers claim key at now at once and returns their answers.
func race(t *testing.T, s idempotency.Store, key string, now time.Time, n int) []idempotency.Claim {
	t.Helper()
	out := make([]idempotency.Claim, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			out[i], errs[i] = s.Claim(context.Background(), Request(key, fmt.Sprintf("w%d", i), now))
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("worker %d: %v", i, err)
		}
	}
	return out
}

func checkOneWinner(t *testing.T, claims []idempotency.Claim, now time.Time) string {
	t.Helper()
	winner := ""
	for i, c := range claims {
		switch c.Status {
		case idempotency.ClaimAcquired:
			if winner != "" {
				t.Fatalf("workers %s and w%d both acquired", winner, i)
			}
			winner = fmt.Sprintf("w%d", i)
			if c.Record.Attempts != 1 {
				t.Fatalf("winner's attempts = %d, want 1", c.Record.Attempts)
			}
		case idempotency.ClaimInFlight:
		default:
			t.Fatalf("worker %d: %v, want acquired or in flight", i, c.Status)
		}
	}
	if winner == "" {
		t.Fatal("no worker acquired")
	}
	for i, c := range claims {
		if c.Status == idempotency.ClaimInFlight && (c.Record.LeaseToken != winner || c.Record.LeaseExpiresAtMs != now.Add(Lease).UnixMilli()) {
			t.Fatalf("worker %d saw lease %q until %d, want the winner's %s", i, c.Record.LeaseToken, c.Record.LeaseExpiresAtMs, winner)
		}
	}
	return winner
}

const racers = 16

func testRace(t *testing.T, h Harness, key string) {
	winner := checkOneWinner(t, race(t, h.Store, key, T0, racers), T0)
	sameRecord(t, "after the race", get(t, h.Store, key, T0), inProgress(key, winner, T0, 1, nil))
}

func testRaceExpired(t *testing.T, h Harness, key string) {
	ctx := context.Background()
	req := Request(key, "old", T0)
	req.ExpiresAt = T0.Add(time.Hour).Unix()
	acquire(t, h.Store, req)
	must(t, "step", h.Store.SaveStep(ctx, key, "old", "crm", []byte("x")))
	must(t, "release", h.Store.Release(ctx, key, "old"))
	now := T0.Add(2 * time.Hour)
	winner := checkOneWinner(t, race(t, h.Store, key, now, racers), now)
	sameRecord(t, "after the race", get(t, h.Store, key, now), inProgress(key, winner, now, 1, nil))
}

func testThrottle(t *testing.T, h Harness, key string) {
	ctx := context.Background()
	acquire(t, h.Store, Request(key, "a", T0))
	must(t, "step", h.Store.SaveStep(ctx, key, "a", "s", []byte("1")))
	before := get(t, h.Store, key, T0)
	h.Throttle(true)
	_, claimErr := h.Store.Claim(ctx, Request(key, "b", T0.Add(time.Hour)))
	_, getErr := h.Store.Get(ctx, key, T0)
	ops := map[string]error{
		"claim":    claimErr,
		"complete": h.Store.Complete(ctx, key, "a", []byte("r"), T0.Add(Retention).Unix()),
		"release":  h.Store.Release(ctx, key, "a"),
		"saveStep": h.Store.SaveStep(ctx, key, "a", "s", []byte("2")),
		"get":      getErr,
		"reset":    h.Store.ResetAttempts(ctx, key, T0.Add(time.Hour)),
		"mark":     marker(t, h).MarkDeadLettered(ctx, key, "permanent", "boom", T0),
	}
	h.Throttle(false)
	for op, err := range ops {
		if !errors.Is(err, idempotency.ErrUnavailable) || retry.IsPermanent(err) {
			t.Errorf("%s while throttled = %v, want a transient ErrUnavailable", op, err)
		}
	}
	sameRecord(t, "after throttled writes", get(t, h.Store, key, T0), before)
}

func testResetAttempts(t *testing.T, h Harness, key string) {
	ctx := context.Background()
	steps := map[string][]byte{"crm": []byte("user-1")}
	for i, tok := range []string{"a", "b"} {
		acquire(t, h.Store, Request(key, tok, T0.Add(time.Duration(i)*time.Minute)))
		must(t, "step", h.Store.SaveStep(ctx, key, tok, "crm", []byte("user-1")))
		must(t, "release", h.Store.Release(ctx, key, tok))
	}
	now := T0.Add(time.Hour)
	must(t, "reset", h.Store.ResetAttempts(ctx, key, now))
	r := get(t, h.Store, key, now)
	if r.Attempts != 0 || r.Status != idempotency.StatusRetryable || !maps.EqualFunc(r.Steps, steps, bytes.Equal) {
		t.Fatalf("after reset: %s, want attempts 0, RETRYABLE, steps kept", show(r))
	}
	if r.AttemptsResetAtMs != now.UnixMilli() {
		t.Fatalf("attemptsResetAt = %d, want %d (epoch ms of the reset)", r.AttemptsResetAtMs, now.UnixMilli())
	}
	c := acquire(t, h.Store, Request(key, "c", now))
	want := inProgress(key, "c", now, 1, steps)
	want.AttemptsResetAtMs = now.UnixMilli()
	sameRecord(t, "claim after reset", c, want)
}

func testResetRefused(t *testing.T, h Harness, key string) {
	ctx := context.Background()
	wantErr(t, "reset absent", h.Store.ResetAttempts(ctx, key+"/absent", T0), idempotency.ErrNotFound)

	leased := key + "/leased"
	acquire(t, h.Store, Request(leased, "a", T0))
	before := get(t, h.Store, leased, T0)
	wantErr(t, "reset leased", h.Store.ResetAttempts(ctx, leased, T0.Add(time.Second)), idempotency.ErrLeaseHeld)
	sameRecord(t, "after refused reset", get(t, h.Store, leased, T0), before)
	// Once the lease ran out, the reset goes through.
	must(t, "reset after the lease", h.Store.ResetAttempts(ctx, leased, T0.Add(Lease)))
	if r := get(t, h.Store, leased, T0.Add(Lease)); r.Attempts != 0 {
		t.Fatalf("attempts after reset = %d, want 0", r.Attempts)
	}

	done := key + "/done"
	acquire(t, h.Store, Request(done, "a", T0))
	must(t, "complete", h.Store.Complete(ctx, done, "a", nil, T0.Add(time.Hour).Unix()))
	before = get(t, h.Store, done, T0)
	wantErr(t, "reset completed", h.Store.ResetAttempts(ctx, done, T0), idempotency.ErrAlreadyCompleted)
	sameRecord(t, "after refused reset", get(t, h.Store, done, T0), before)
	// Expired counts as absent.
	wantErr(t, "reset expired", h.Store.ResetAttempts(ctx, done, T0.Add(2*time.Hour)), idempotency.ErrNotFound)
}

func testStepNames(t *testing.T, h Harness, key string) {
	ctx := context.Background()
	acquire(t, h.Store, Request(key, "a", T0))
	steps := map[string][]byte{
		"crm":        []byte("user-1"),
		"a.b":        []byte("dot"),
		"#name":      []byte("hash"),
		":value":     []byte("colon"),
		"with space": {0, 1, 2, 255},
		"ünïcode":    []byte("ü"),
		"empty":      {},
	}
	for name, v := range steps {
		must(t, "step "+name, h.Store.SaveStep(ctx, key, "a", name, v))
	}
	// A step saved again keeps the last result.
	must(t, "step again", h.Store.SaveStep(ctx, key, "a", "crm", []byte("user-2")))
	steps["crm"] = []byte("user-2")
	r := get(t, h.Store, key, T0)
	if !maps.EqualFunc(r.Steps, steps, bytes.Equal) {
		t.Fatalf("steps = %s, want %v", show(r), steps)
	}
	if _, ok := r.Steps["empty"]; !ok {
		t.Fatal("a step with an empty result was lost")
	}
	must(t, "release", h.Store.Release(ctx, key, "a"))
	if c := acquire(t, h.Store, Request(key, "b", T0)); !maps.EqualFunc(c.Steps, steps, bytes.Equal) {
		t.Fatalf("steps after reclaim = %s", show(c))
	}
}

func testGetAbsent(t *testing.T, h Harness, key string) {
	if _, err := h.Store.Get(context.Background(), key, T0); !errors.Is(err, idempotency.ErrNotFound) || retry.IsPermanent(err) {
		t.Fatalf("get absent = %v, want ErrNotFound", err)
	}
}

func testInvalidClaim(t *testing.T, h Harness, key string) {
	bad := map[string]func(r *idempotency.ClaimRequest){
		"empty key":       func(r *idempotency.ClaimRequest) { r.Key = "" },
		"empty token":     func(r *idempotency.ClaimRequest) { r.LeaseToken = "" },
		"lease over":      func(r *idempotency.ClaimRequest) { r.LeaseExpiresAtMs = r.Now.UnixMilli() },
		"expiry in past":  func(r *idempotency.ClaimRequest) { r.ExpiresAt = r.Now.Unix() - 1 },
		"zero time":       func(r *idempotency.ClaimRequest) { r.Now = time.Time{} },
		"empty step name": nil,
	}
	for name, mut := range bad {
		var err error
		if mut == nil {
			acquire(t, h.Store, Request(key, "a", T0))
			err = h.Store.SaveStep(context.Background(), key, "a", "", []byte("x"))
		} else {
			req := Request(key+"/"+name, "a", T0)
			mut(&req)
			_, err = h.Store.Claim(context.Background(), req)
		}
		if !retry.IsPermanent(err) {
			t.Errorf("%s: %v, want a permanent error", name, err)
		}
	}
}

// marker is the store's DeadLetterMarker; every store of the contract has one.
func marker(t *testing.T, h Harness) idempotency.DeadLetterMarker {
	t.Helper()
	m, ok := h.Store.(idempotency.DeadLetterMarker)
	if !ok {
		t.Fatalf("%T is not an idempotency.DeadLetterMarker", h.Store)
	}
	return m
}

func testMarkDeadLettered(t *testing.T, h Harness, key string) {
	ctx := context.Background()
	m := marker(t, h)
	acquire(t, h.Store, Request(key, "a", T0))
	must(t, "step", h.Store.SaveStep(ctx, key, "a", "crm", []byte("user-1")))
	must(t, "release", h.Store.Release(ctx, key, "a"))
	steps := map[string][]byte{"crm": []byte("user-1")}
	want := inProgress(key, "a", T0, 1, steps)
	want.Status, want.LeaseToken, want.LeaseExpiresAtMs = idempotency.StatusRetryable, "", 0
	if r := get(t, h.Store, key, T0); r.DeadLetterWaiting() {
		t.Fatalf("a record never dead-lettered says it waits in the DLQ: %s", show(r))
	}

	deadAt := T0.Add(time.Second)
	must(t, "mark", m.MarkDeadLettered(ctx, key, "permanent", "HTTP 410 from https://example.com", deadAt))
	want.DeadLetteredAtMs, want.DeadLetterReason, want.LastError = deadAt.UnixMilli(), "permanent", "HTTP 410 from https://example.com"
	r := get(t, h.Store, key, deadAt)
	sameRecord(t, "after mark", r, want)
	if !r.DeadLetterWaiting() {
		t.Fatalf("marked record does not say it waits in the DLQ: %s", show(r))
	}

	// A replay resets the attempts: the mark stays as history, no longer waiting.
	replayAt := T0.Add(time.Hour)
	must(t, "reset", h.Store.ResetAttempts(ctx, key, replayAt))
	want.Attempts, want.AttemptsResetAtMs = 0, replayAt.UnixMilli()
	r = get(t, h.Store, key, replayAt)
	sameRecord(t, "after replay", r, want)
	if r.DeadLetterWaiting() {
		t.Fatalf("replayed record still says it waits in the DLQ: %s", show(r))
	}

	// The replayed copy fails for good again, under a live lease: marked again.
	c := acquire(t, h.Store, Request(key, "b", replayAt))
	again := replayAt.Add(time.Second)
	must(t, "mark while leased", m.MarkDeadLettered(ctx, key, "exhausted", "", again))
	want = inProgress(key, "b", replayAt, 1, steps)
	want.AttemptsResetAtMs = replayAt.UnixMilli()
	want.DeadLetteredAtMs, want.DeadLetterReason, want.LastError = again.UnixMilli(), "exhausted", ""
	r = get(t, h.Store, key, again)
	sameRecord(t, "after the second mark", r, want)
	if !r.DeadLetterWaiting() || c.Attempts != 1 {
		t.Fatalf("second dead letter: waiting=%v attempts=%d, want waiting, 1", r.DeadLetterWaiting(), c.Attempts)
	}
	// The mark changes no lease: the holder still owns the record.
	must(t, "holder completes", h.Store.Complete(ctx, key, "b", nil, again.Add(Retention).Unix()))
}

func testMarkDeadLetteredAbsent(t *testing.T, h Harness, key string) {
	ctx := context.Background()
	m := marker(t, h)
	err := m.MarkDeadLettered(ctx, key, "permanent", "boom", T0)
	if !errors.Is(err, idempotency.ErrNotFound) || retry.IsPermanent(err) {
		t.Fatalf("mark absent = %v, want ErrNotFound", err)
	}
	if _, err := h.Store.Get(ctx, key, T0); !errors.Is(err, idempotency.ErrNotFound) {
		t.Fatalf("mark created a record: get = %v", err)
	}
	// An expired record counts as absent and keeps its old attributes.
	req := Request(key, "a", T0)
	req.ExpiresAt = T0.Add(time.Hour).Unix()
	acquire(t, h.Store, req)
	must(t, "release", h.Store.Release(ctx, key, "a"))
	before := get(t, h.Store, key, T0)
	late := T0.Add(2 * time.Hour)
	wantErr(t, "mark expired", m.MarkDeadLettered(ctx, key, "permanent", "boom", late), idempotency.ErrNotFound)
	sameRecord(t, "expired record after a refused mark", get(t, h.Store, key, T0), before)
}
