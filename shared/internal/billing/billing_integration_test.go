//go:build integration

package billing_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/breaker"
	breakerstore "github.com/tenaz/tenaz/shared/breaker/dynamostore"
	"github.com/tenaz/tenaz/shared/config"
	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/ingest"
	"github.com/tenaz/tenaz/shared/internal/billing"
	"github.com/tenaz/tenaz/shared/processor"
	"github.com/tenaz/tenaz/shared/redrive"
)

const (
	burst   = 50 // webhooks of each burst scenario, all sent before the first poll
	trickle = 20 // webhooks of the trickle scenario, one at a time
	large   = 10 // webhooks of each large-body scenario, all sent before the first poll
	// Large bodies: one that travels inline in 2 chunks of 64 KiB, one above the
	// inline limit (ingest.DefaultInlineMaxBytes) that goes through the body bucket.
	inlineBody = 100_000   // "100 KB"
	storedBody = 1_000_000 // "1 MB"
	// envRunDir names the directory where the test script collects reports.
	envRunDir = "TENAZ_TEST_RUN_DIR"
	// wruBytes is the most an item may hold for a write to cost one write unit.
	wruBytes = 1024
)

// TestBillableRequestsPerWebhook runs the real pipeline in-process on moto (ingest,
// SQS, the event source mapping stand-in, the processor on DynamoDB idempotency and
// breaker stores, a destination over HTTP through the forward handler, redrive) and
// counts the billable requests per webhook of each traffic pattern: HTTP API
// requests, Lambda invocations, SQS requests, DynamoDB reads and writes, and the
// bytes the functions log. With TENAZ_TEST_RUN_DIR set it writes them to
// requests.json there.
func TestBillableRequestsPerWebhook(t *testing.T) {
	began := time.Now()

	// The happy path, then the same webhooks redelivered, then the low-traffic cost,
	// on one deployment (warm containers).
	a := newPipeline(t, nil)
	ids := newIDs(burst)
	happy, breakerReads := happyBurst(t, a, ids)
	dup := duplicates(t, a, ids)
	trick := happyTrickle(t, a, newIDs(trickle))
	inline := happyLarge(t, a, newIDs(large), inlineBody, "happy 100 KB")
	stored := happyLarge(t, a, newIDs(large), storedBody, "happy 1 MB")

	// A breaker threshold above the failures this scenario makes: it prices retries
	// alone (breaker-open prices deferrals).
	b := newPipeline(t, map[string]string{config.EnvBreakerFailures: strconv.Itoa(10 * burst)})
	transient := transientRetry(t, b, newIDs(burst))

	// The same burst fanned out to two and to three destinations.
	fan2 := happyFanOut(t, newPipeline(t, map[string]string{config.EnvRoutes: fanOutRoutes(2)}), newIDs(burst), 2)
	fan3 := happyFanOut(t, newPipeline(t, map[string]string{config.EnvRoutes: fanOutRoutes(3)}), newIDs(burst), 3)

	c := newPipeline(t, nil)
	open := breakerOpen(t, c, newIDs(burst))

	d := newPipeline(t, nil)
	failed := newIDs(burst)
	perm := permanent(t, d, failed)
	replayed := replay(t, d, failed)

	itemMax := 0
	for _, p := range []*pipeline{a, b, c, d} {
		itemMax = max(itemMax, int(p.itemMax.Load()))
	}
	report := billing.Report{Webhooks: burst, BatchSize: batchSize, BreakerReadsPerRecord: breakerReads,
		MaxIdempotencyItemBytes: itemMax,
		Scenarios:               []billing.Scenario{happy, fan2, fan3, trick, inline, stored, dup, transient, open, perm, replayed}}
	for i, s := range report.Scenarios {
		if s.BodyBytes == 0 {
			report.Scenarios[i].BodyBytes = bodyBytes
		}
		posted := 1.0 // every scenario posts each webhook once, but the replay, which posts none
		if s.Name == replayed.Name {
			posted = 0
		}
		if s.Webhooks <= 0 || s.PerWebhook.APIGateway != posted || float64(s.Lambda[billing.FnIngest]) != posted*float64(s.Webhooks) {
			t.Errorf("%s: %d webhooks, %.2f API requests and %d ingest invocations; want %.0f each", s.Name, s.Webhooks,
				s.PerWebhook.APIGateway, s.Lambda[billing.FnIngest], posted)
		}
	}
	t.Logf("billable requests per webhook on moto (%v):\n%s", time.Since(began).Round(time.Millisecond), report.Table())
	dupCalls := float64(dup.Operations["DynamoDB.UpdateItem"]) / float64(dup.Webhooks) // the breaker's reads apart
	t.Logf("targets: happy billable %.2f (<= 5.4: %s); happy DynamoDB writes %.2f (<= 2: %s); duplicate idempotency calls %.2f (= 1: %s); breaker reads per record %.3f (<= 0.01: %s)",
		happy.PerWebhook.Billable, met(happy.PerWebhook.Billable <= 5.4), happy.PerWebhook.DynamoDBWrites, met(happy.PerWebhook.DynamoDBWrites <= 2),
		dupCalls, met(dupCalls == 1), breakerReads, met(breakerReads <= 0.01))

	if itemMax <= 0 || itemMax > wruBytes {
		t.Errorf("largest idempotency item %d bytes: a write of it costs more than one write unit (<= %d bytes)", itemMax, wruBytes)
	}
	if dir := os.Getenv(envRunDir); dir != "" {
		raw, err := json.MarshalIndent(report, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "requests.json"), append(raw, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// happyBurst posts ids as a burst, then lets the event source mapping take them in
// batches of 10: each applied once, with a claim and a completion. It also returns
// the breaker store reads per record.
func happyBurst(t *testing.T, p *pipeline, ids []string) (billing.Scenario, float64) {
	t.Helper()
	p.sampleItems.Store(true)
	defer p.sampleItems.Store(false)
	p.begin()
	began := time.Now()
	for _, id := range ids {
		p.post(id)
	}
	p.pollUntil("every webhook processed", func() bool { return p.outcome(string(processor.Processed)) >= len(ids) })
	elapsed := time.Since(began)
	u := p.usage(t)
	n := len(ids)
	checkUsage(t, "happy", u)
	checkApplied(t, p, ids, 1)
	checkCompleted(t, p, ids, 1)
	checkDepths(t, p, 0, 0)
	if w := u.Requests.Of(billing.DynamoDBWrite); w > 2*n {
		t.Errorf("happy: %d DynamoDB writes for %d webhooks, want at most 2 each (claim + complete): %s", w, n, u.Requests)
	}
	brk := p.breakerCalls.Snapshot()
	if w := brk.Of(billing.DynamoDBWrite); w != 0 {
		t.Errorf("happy: %d breaker store writes; a closed breaker's successes write nothing: %s", w, brk)
	}
	// A container reads the state at most once per cache TTL, its start included: the
	// records of its first batch, run at once, wait for one read.
	reads := brk.Of(billing.DynamoDBRead)
	if bound := readsBound(elapsed, breaker.DefaultCacheTTL); reads < 1 || reads > bound {
		t.Errorf("happy: %d breaker store reads in %v; want at most one per %v (<= %d): %s",
			reads, elapsed.Round(time.Millisecond), breaker.DefaultCacheTTL, bound, brk)
	}
	p.scanItems()
	return billing.NewScenario("happy", "signed webhooks posted as a burst, taken in batches of 10, each applied once (claim + complete)", n, u),
		float64(reads) / float64(n)
}

// happyFanOut posts ids as a burst to a pipeline whose routes send each to n
// destinations: each applied once at each, recorded by a claim, a step for every
// destination but the last to answer, and a completion.
func happyFanOut(t *testing.T, p *pipeline, ids []string, n int) billing.Scenario {
	t.Helper()
	p.begin()
	for _, id := range ids {
		p.post(id)
	}
	p.pollUntil("every webhook processed", func() bool { return p.outcome(string(processor.Processed)) >= len(ids) })
	u := p.usage(t)
	name := fmt.Sprintf("happy fan-out %d", n)
	checkUsage(t, name, u)
	checkApplied(t, p, ids, n)
	checkCompleted(t, p, ids, 1)
	checkDepths(t, p, 0, 0)
	if w, want := u.Requests.Of(billing.DynamoDBWrite), (n+1)*len(ids); w != want {
		t.Errorf("%s: %d DynamoDB writes for %d webhooks, want %d (claim, %d steps, complete)", name, w, len(ids), want, n-1)
	}
	return billing.NewScenario(name, fmt.Sprintf("the happy burst, each webhook fanned out to %d destinations at once: claim, a step for each destination but the last to answer, complete", n), len(ids), u)
}

// happyLarge posts ids with bodies of size bytes as a burst, taken in batches of 10,
// each applied once. A body whose message is within ingest's inline limit costs
// SQS requests per 64 KB chunk and no S3 request; a larger one is stored in the
// body bucket before the 202 (a PUT), read in the attempt (a GET) and deleted once
// processed (a free DELETE), its message a small reference.
func happyLarge(t *testing.T, p *pipeline, ids []string, size int, name string) billing.Scenario {
	t.Helper()
	p.bodySize = size
	defer func() { p.bodySize = bodyBytes }()
	p.begin()
	for _, id := range ids {
		p.post(id)
	}
	p.pollUntil("every webhook processed", func() bool { return p.outcome(string(processor.Processed)) >= len(ids) })
	u := p.usage(t)
	n := len(ids)
	checkUsage(t, name, u)
	checkApplied(t, p, ids, 1)
	checkCompleted(t, p, ids, 1)
	checkDepths(t, p, 0, 0)
	if got := p.objects(); got != 0 {
		t.Errorf("%s: %d bodies left in the bucket, want each deleted once processed", name, got)
	}
	s3ops := u.Requests.Service(billing.ServiceS3)
	sendOp := billing.Op{Service: billing.ServiceSQS, Operation: "SendMessage"}
	sendChunks := billing.Chunks(size) // inline: the body's chunks at least
	var want billing.Counts
	if size > ingest.DefaultInlineMaxBytes {
		sendChunks = 1 // a reference
		want = billing.Counts{{Service: billing.ServiceS3, Operation: "PutObject"}: n,
			{Service: billing.ServiceS3, Operation: "GetObject"}: n, {Service: billing.ServiceS3, Operation: "DeleteObject"}: n}
	}
	if s3ops.String() != want.String() {
		t.Errorf("%s: S3 requests %s for %d webhooks of %d bytes, want %q", name, s3ops, n, size, want)
	}
	if sends, chunks := u.Requests[sendOp], u.SQSChunks[sendOp]; sends != n || chunks != sendChunks*n {
		t.Errorf("%s: %d sends in %d chunks for %d webhooks of %d bytes, want %d sends of %d chunks each", name, sends, chunks, n, size, n, sendChunks)
	}
	sc := billing.NewScenario(name, fmt.Sprintf("signed webhooks of %d bytes posted as a burst, taken in batches of 10, each applied once; "+
		"inline up to the inline limit (%d bytes of message), else through the body bucket", size, ingest.DefaultInlineMaxBytes), n, u)
	sc.BodyBytes = size
	return sc
}

// duplicates redelivers ids, already applied, as the provider does (same body, new
// signature): each costs ingest, the queue and one idempotency call, and applies
// nothing.
func duplicates(t *testing.T, p *pipeline, ids []string) billing.Scenario {
	t.Helper()
	p.begin()
	for _, id := range ids {
		p.post(id)
	}
	p.pollUntil("every redelivery acknowledged as a duplicate", func() bool { return p.outcome(string(processor.Duplicate)) >= len(ids) })
	u := p.usage(t)
	n := len(ids)
	checkUsage(t, "duplicate", u)
	checkApplied(t, p, ids, 1)
	checkDepths(t, p, 0, 0)
	idem := u.Requests.Service(billing.ServiceDynamoDB).Sub(p.breakerCalls.Snapshot())
	if want := (billing.Counts{{Service: billing.ServiceDynamoDB, Operation: "UpdateItem"}: n}); idem.String() != want.String() {
		t.Errorf("duplicate: idempotency store calls %s for %d redeliveries, want exactly one claim each (%s)", idem, n, want)
	}
	return billing.NewScenario("duplicate", "each applied webhook redelivered by the provider (same body, new signature): acknowledged after one failed conditional claim", n, u)
}

// happyTrickle posts ids one at a time, each taken before the next is sent: batches
// of one, the cost at low traffic.
func happyTrickle(t *testing.T, p *pipeline, ids []string) billing.Scenario {
	t.Helper()
	p.begin()
	for i, id := range ids {
		p.post(id)
		p.pollUntil("webhook "+id+" processed", func() bool { return p.outcome(string(processor.Processed)) >= i+1 })
	}
	u := p.usage(t)
	checkUsage(t, "happy-trickle", u)
	checkApplied(t, p, ids, 1)
	checkCompleted(t, p, ids, 1)
	checkDepths(t, p, 0, 0)
	if inv := u.Invocations[billing.FnProcessor]; inv != len(ids) {
		t.Errorf("happy-trickle: %d processor invocations for %d webhooks sent one at a time, want one each", inv, len(ids))
	}
	return billing.NewScenario("happy-trickle", "one webhook at a time, each polled before the next is sent: batches of one, the low-traffic cost", len(ids), u)
}

// transientRetry has the destination fail each webhook's first attempt with 503 and
// accept the second: a release, a visibility change and a breaker failure count,
// then a second claim and a completion.
func transientRetry(t *testing.T, p *pipeline, ids []string) billing.Scenario {
	t.Helper()
	p.dest.set(failFirst)
	p.begin()
	for _, id := range ids {
		p.post(id)
	}
	p.pollUntil("every webhook processed on its second attempt", func() bool { return p.outcome(string(processor.Processed)) >= len(ids) })
	u := p.usage(t)
	n := len(ids)
	checkUsage(t, "transient-retry", u)
	for _, id := range ids {
		if req, applied := p.dest.counts(id); req != 2 || applied != 1 {
			t.Errorf("transient-retry %s: %d requests, applied %d times; want 2 requests (503, then 200), applied once", id, req, applied)
		}
	}
	checkCompleted(t, p, ids, 2)
	checkDepths(t, p, 0, 0)
	if r := p.outcome(string(processor.Retried)); r != n {
		t.Errorf("transient-retry: %d records retried, want %d (each once)", r, n)
	}
	return billing.NewScenario("transient-retry", "the destination answers each webhook's first attempt 503 and its second 200: both attempts, the visibility backoff between them (1 s) and the breaker's failure counts", n, u)
}

// breakerOpen trips the destination's breaker (not counted), then posts ids: each
// is deferred once, without an attempt, until the breaker may half-open.
func breakerOpen(t *testing.T, p *pipeline, ids []string) billing.Scenario {
	t.Helper()
	ctx := context.Background()
	cfg, err := config.LoadProcessor(func(k string) string { return p.env[k] })
	if err != nil {
		t.Fatal(err)
	}
	trip := breaker.New(breakerstore.New(p.breakerTable, p.adminDDB, breakerstore.Options{}), cfg.Breaker)
	for range cfg.Breaker.FailureThreshold {
		tk, err := trip.Allow(ctx, p.dependency)
		if err != nil {
			t.Fatalf("trip the breaker of %s: %v", p.dependency, err)
		}
		if err := trip.Report(ctx, tk, false); err != nil {
			t.Fatal(err)
		}
	}
	if snap, err := trip.State(ctx, p.dependency); err != nil || snap.State != breaker.Open {
		t.Fatalf("breaker of %s: %+v, %v; want open", p.dependency, snap, err)
	}

	p.begin()
	for _, id := range ids {
		p.post(id)
	}
	p.pollUntil("every webhook deferred", func() bool {
		return p.outcome(string(processor.Deferred)+"/"+processor.ReasonBreakerOpen) >= len(ids)
	})
	u := p.usage(t)
	n := len(ids)
	checkUsage(t, "breaker-open", u)
	if got := p.dest.total(); got != 0 {
		t.Errorf("breaker-open: the destination received %d requests through an open breaker", got)
	}
	if d := p.outcome(string(processor.Deferred)); d != n {
		t.Errorf("breaker-open: %d deferrals, want %d (each webhook once)", d, n)
	}
	for _, id := range ids {
		if rec := p.record(id); rec != nil {
			t.Errorf("breaker-open %s: record %+v; a deferral spends no attempt and claims nothing", id, *rec)
		}
	}
	if idem := u.Requests.Service(billing.ServiceDynamoDB).Sub(p.breakerCalls.Snapshot()); idem.Total() != 0 {
		t.Errorf("breaker-open: idempotency store calls %s; a deferred record makes none", idem)
	}
	// The deferrals of a batch are set together: one request per invocation.
	single := u.Requests[billing.Op{Service: billing.ServiceSQS, Operation: "ChangeMessageVisibility"}]
	batched := u.Requests[billing.Op{Service: billing.ServiceSQS, Operation: "ChangeMessageVisibilityBatch"}]
	if inv := u.Invocations[billing.FnProcessor]; single != 0 || batched != inv || inv == 0 {
		t.Errorf("breaker-open: %d single and %d batched visibility requests for %d deferrals in %d invocations, want one batch each",
			single, batched, n, inv)
	}
	if got := p.depth(p.mainURL); got != n {
		t.Errorf("breaker-open: %d messages on the main queue, want the %d deferred ones", got, n)
	}
	return billing.NewScenario("breaker-open", "the destination's breaker already open: each webhook deferred once (visibility until the probe), no attempt and no claim", n, u)
}

// permanent has the destination refuse every webhook with 400: each goes to the DLQ
// with reason permanent after one attempt.
func permanent(t *testing.T, p *pipeline, ids []string) billing.Scenario {
	t.Helper()
	p.dest.set(refuse)
	p.begin()
	for _, id := range ids {
		p.post(id)
	}
	p.pollUntil("every webhook dead-lettered", func() bool {
		return p.outcome(string(processor.DeadLettered)+"/"+envelope.ReasonPermanent) >= len(ids)
	})
	u := p.usage(t)
	n := len(ids)
	checkUsage(t, "permanent", u)
	checkApplied(t, p, ids, 0)
	checkDepths(t, p, 0, n)
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
		if req, _ := p.dest.counts(id); req != 1 {
			t.Errorf("permanent %s: %d requests, want 1 (a 400 is not retried)", id, req)
		}
	}
	for _, m := range p.deadLetters(n) {
		env, err := envelope.Decode([]byte(m.Body))
		if err != nil {
			t.Errorf("dead letter %s: %v", m.ID, err)
			continue
		}
		if !want[env.ID] {
			t.Errorf("dead letter %s: event %s, not one of this scenario's (or seen twice)", m.ID, env.ID)
		}
		delete(want, env.ID)
		if r := m.Attributes[envelope.AttrReason]; r != envelope.ReasonPermanent {
			t.Errorf("dead letter %s: reason %q, want %q", env.ID, r, envelope.ReasonPermanent)
		}
		if e := m.Attributes[envelope.AttrLastError]; !strings.Contains(e, "400") {
			t.Errorf("dead letter %s: lastError %q does not give the destination's answer", env.ID, e)
		}
	}
	if len(want) != 0 {
		t.Errorf("permanent: %d webhooks missing from the DLQ", len(want))
	}
	p.scanItems()
	return billing.NewScenario("permanent", "the destination answers 400: one attempt, then the webhook goes to the DLQ with its reason", n, u)
}

// replay fixes the destination and replays the DLQ with one redrive invocation: the
// redrive's requests and the reprocessing, each webhook applied once.
func replay(t *testing.T, p *pipeline, ids []string) billing.Scenario {
	t.Helper()
	p.dest.set(accept)
	p.begin()
	rep := p.replay(`{"filter": {}}`)
	n := len(ids)
	if rep.Counts.Moved != n || rep.Stop != redrive.StopEmpty {
		t.Fatalf("replay: moved %d, stopped %q, want %d moved and an empty DLQ: %+v", rep.Counts.Moved, rep.Stop, n, rep.Counts)
	}
	if got := p.all.Snapshot().Of(billing.SQSRequest); got != rep.SQSRequests {
		t.Errorf("replay: counted %d SQS requests during the redrive run, the run reports %d", got, rep.SQSRequests)
	}
	p.pollUntil("every replayed webhook processed", func() bool { return p.outcome(string(processor.Processed)) >= n })
	u := p.usage(t)
	checkUsage(t, "replay", u)
	checkApplied(t, p, ids, 1)
	checkCompleted(t, p, ids, 1)
	checkDepths(t, p, 0, 0)
	p.scanItems()
	return billing.NewScenario("replay", "webhooks in the DLQ replayed by one redrive invocation (attempts reset, sent and deleted in batches of 10) and applied: the redrive plus the reprocessing", n, u)
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

// checkUsage requires every SDK request to be of a billed class: a request of none
// would be in no figure.
func checkUsage(t *testing.T, name string, u billing.Usage) {
	t.Helper()
	other := billing.Counts{}
	for op, v := range u.Requests {
		if billing.Classify(op) == billing.Other {
			other[op] = v
		}
		if v < 0 {
			t.Errorf("%s: %s counted %d", name, op, v)
		}
	}
	if len(other) != 0 {
		t.Errorf("%s: requests of no billed class: %s", name, other)
	}
}

// checkApplied requires each id's event to have been applied exactly applied times
// at the destination.
func checkApplied(t *testing.T, p *pipeline, ids []string, applied int) {
	t.Helper()
	for _, id := range ids {
		if _, got := p.dest.counts(id); got != applied {
			t.Errorf("%s applied %d times, want %d", id, got, applied)
		}
	}
}

// checkCompleted requires each id's record to be completed after attempts attempts.
func checkCompleted(t *testing.T, p *pipeline, ids []string, attempts int) {
	t.Helper()
	for _, id := range ids {
		rec := p.record(id)
		if rec == nil || rec.Status != idempotency.StatusCompleted || rec.Attempts != attempts {
			t.Errorf("record of %s: %+v, want completed after %d attempts", id, rec, attempts)
		}
	}
}

// checkDepths requires the main queue and the DLQ to hold main and dlq messages.
func checkDepths(t *testing.T, p *pipeline, main, dlq int) {
	t.Helper()
	if got := p.depth(p.mainURL); got != main {
		t.Errorf("main queue holds %d messages, want %d", got, main)
	}
	if got := p.depth(p.dlqURL); got != dlq {
		t.Errorf("DLQ holds %d messages, want %d", got, dlq)
	}
}
