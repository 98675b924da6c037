//go:build integration

package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	breakerstore "github.com/tenaz/tenaz/shared/breaker/dynamostore"
	"github.com/tenaz/tenaz/shared/config"
	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/processor"
	"github.com/tenaz/tenaz/shared/route"
)

// A destination asking for a day's pause (Retry-After: 86400) gets the event again
// after the retry maximum (1 s here), not a day later: the processor caps what a
// destination asks for, so no record waits out the queue's retention on its word.
func TestE2ERetryAfterIsCapped(t *testing.T) {
	stripe := sample(t, "stripe.json")
	key := stripe.Source + ":" + stripe.ID
	dest := newDestination(t, func(n int) answer {
		if n == 1 {
			return answer{status: http.StatusServiceUnavailable, retryAfter: "86400"}
		}
		return answer{status: http.StatusOK}
	})
	p := newPipeline(t, []route.Config{{Source: stripe.Source, URL: dest.url}})
	p.send(stripe)
	fn := p.startProcessor("processor")
	poller := p.poll(invokeFn(fn), 0)
	p.settled(poller, 1)
	got := dest.received(key)
	if len(got) != 2 || dest.effectsOf(key) != 1 {
		t.Fatalf("%d deliveries (%v), %d effects; want the refused one and one applied", len(got), statuses(got), dest.effectsOf(key))
	}
	if gap := got[1].at.Sub(got[0].at); gap > 10*time.Second {
		t.Fatalf("second delivery %v after the first: Retry-After was not capped at the retry maximum", gap)
	}
	wantOutcomes(t, map[processor.Outcome]int64{processor.Retried: 1, processor.Processed: 1}, fn)
}

// A record whose next delivery would come after the end of the queue's retention is
// dead-lettered with reason "expiring" instead of being left for SQS to drop. The
// processor is told a retention of 2 minutes: with its 15-minute margin, the first
// transient failure already cannot fit.
func TestE2EExpiringIsDeadLettered(t *testing.T) {
	stripe := sample(t, "stripe.json")
	key := stripe.Source + ":" + stripe.ID
	dest := newDestination(t, func(int) answer { return answer{status: http.StatusServiceUnavailable} })
	p := newPipelineWith(t, []route.Config{{Source: stripe.Source, URL: dest.url}}, pipelineOptions{
		env: []string{config.EnvQueueRetention + "=120", config.EnvDeferMax + "=60"},
	})
	p.send(stripe)
	fn := p.startProcessor("processor")
	poller := p.poll(invokeFn(fn), 0)
	p.settled(poller, 1)
	if n := len(dest.received(key)); n != 1 {
		t.Fatalf("%d deliveries, want the one attempt", n)
	}
	// The processor binary marked the dead letter on the event's record: inspect
	// answers from it without reading the DLQ.
	if rec := p.record(key); rec == nil || rec.DeadLetterReason != envelope.ReasonExpiring || !rec.DeadLetterWaiting() {
		t.Fatalf("idempotency record %+v: want it marked dead-lettered as %s", rec, envelope.ReasonExpiring)
	}
	rep := replay(t, p.startRedrive(), `{"dryRun": true}`)
	expiring := 0
	for k, n := range rep.ByError {
		if strings.HasPrefix(k, envelope.ReasonExpiring+": ") && strings.Contains(k, "503") {
			expiring += n
		}
	}
	if rep.Counts.DryRun != 1 || expiring != 1 {
		t.Fatalf("dry run %+v: want the event under %s with the destination's answer", rep, envelope.ReasonExpiring)
	}
	wantOutcomes(t, map[processor.Outcome]int64{processor.DeadLettered: 1}, fn)
}

// The redrive function refuses a request with no payload, an empty one or null (once
// the way to replay the whole DLQ by accident) and changes nothing; {} stays the
// explicit "every message".
func TestE2ERedriveRefusesAnEmptyRequest(t *testing.T) {
	ctx := context.Background()
	stripe := sample(t, "stripe.json")
	dest := newDestination(t, func(int) answer { return answer{status: http.StatusBadRequest} })
	p := newPipeline(t, []route.Config{{Source: stripe.Source, URL: dest.url}})
	p.send(stripe)
	fn := p.startProcessor("processor")
	poller := p.poll(invokeFn(fn), 0)
	p.settled(poller, 1)
	if n := p.dlqDepth(); n != 1 {
		t.Fatalf("DLQ holds %d, want 1", n)
	}
	redriveFn := p.startRedrive()
	for req, want := range map[string]string{`null`: "the request is empty", `""`: "want an object"} {
		var out map[string]any
		err := redriveFn.Invoke(ctx, jsonRaw(req), &out)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("redrive %s: %v, %v; want it refused (%q)", req, out, err, want)
		}
	}
	if d, err := p.dlq.Depth(ctx); err != nil || d.Visible != 1 {
		t.Fatalf("DLQ after the refusals: %+v, %v; want its message untouched", d, err)
	}
	if rep := replay(t, redriveFn, `{}`); rep.Counts.Moved != 1 {
		t.Fatalf("{} moved %+v, want the one message", rep.Counts)
	}
}

// A paused destination receives nothing, without an attempt spent or a dead letter,
// until it is resumed (as `make pause` / `make resume` write the breaker table); then
// every held event is applied once.
func TestE2EPausedDestinationHoldsUntilResumed(t *testing.T) {
	ctx := context.Background()
	stripe, github := sample(t, "stripe.json"), sample(t, "github.json")
	dest := newDestination(t, nil)
	const name = "orders"
	p := newPipelineWith(t, []route.Config{
		{Source: stripe.Source, URL: dest.url, Dependency: name},
		{Source: github.Source, URL: dest.url, Dependency: name},
	}, pipelineOptions{breakers: true, env: []string{config.EnvDeferMax + "=2"}})
	store := breakerstore.New(p.breakerTable, p.ddb, breakerstore.Options{})
	if _, _, err := store.Pause(ctx, name, time.Now()); err != nil {
		t.Fatal(err)
	}
	p.send(stripe)
	p.send(github)
	fn := p.startProcessor("processor")
	poller := p.poll(invokeFn(fn), 0)
	waitFor(t, settle, "both records deferred while paused", func() bool {
		return outcomes(t, fn)[processor.Deferred] >= 4
	})
	if n := dest.raw(); n != 0 {
		t.Fatalf("a paused destination received %d requests", n)
	}
	for _, k := range []string{stripe.Source + ":" + stripe.ID, github.Source + ":" + github.ID} {
		if rec := p.record(k); rec != nil && rec.Attempts != 0 {
			t.Fatalf("%s: %d attempts spent while paused", k, rec.Attempts)
		}
	}
	if _, _, err := store.Resume(ctx, name, time.Now()); err != nil {
		t.Fatal(err)
	}
	p.settled(poller, 2)
	for _, k := range []string{stripe.Source + ":" + stripe.ID, github.Source + ":" + github.ID} {
		if got := dest.received(k); len(got) != 1 || dest.effectsOf(k) != 1 {
			t.Fatalf("%s after the resume: %d deliveries, %d effects; want 1", k, len(got), dest.effectsOf(k))
		}
	}
	if n := p.dlqDepth(); n != 0 {
		t.Fatalf("DLQ holds %d after a pause", n)
	}
	wantOutcomes(t, map[processor.Outcome]int64{processor.Processed: 2, processor.DeadLettered: 0}, fn)
}

// Content filters in TENAZ_ROUTES, through the processor binary: the Stripe sample
// (currency usd) skips the route filtered on eur and reaches the next one.
func TestE2EContentFilterRoutes(t *testing.T) {
	stripe := sample(t, "stripe.json")
	key := stripe.Source + ":" + stripe.ID
	eu, us := newDestination(t, nil), newDestination(t, nil)
	p := newPipeline(t, []route.Config{
		{Source: stripe.Source, URL: eu.url, Filter: map[string]json.RawMessage{"data.object.currency": json.RawMessage(`"eur"`)}},
		{Source: stripe.Source, URL: us.url, Filter: map[string]json.RawMessage{"data.object.currency": json.RawMessage(`{"anyOf": ["usd", "cad"]}`)}},
	})
	p.send(stripe)
	fn := p.startProcessor("processor")
	poller := p.poll(invokeFn(fn), 0)
	p.settled(poller, 1)
	if eu.raw() != 0 || us.effectsOf(key) != 1 {
		t.Fatalf("eur route got %d requests, usd route %d effects; want 0 and 1", eu.raw(), us.effectsOf(key))
	}
}
