//go:build integration

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/config"
	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/internal/lambdatest"
	"github.com/tenaz/tenaz/shared/processor"
	"github.com/tenaz/tenaz/shared/queue"
	"github.com/tenaz/tenaz/shared/redrive"
	"github.com/tenaz/tenaz/shared/route"
)

// startRedrive runs the redrive bootstrap on the pipeline's queues and table.
func (p *pipeline) startRedrive() *lambdatest.Function {
	p.t.Helper()
	env := append(awsEnv(p.t), "TENAZ_QUEUE_URL="+p.main.URL(), config.EnvDLQURL+"="+p.dlq.URL(),
		config.EnvIdempotencyTable+"="+p.store.Table())
	env = append(env, p.fnEnv...)
	return lambdatest.Start(p.t, "redrive", lambdatest.Build(p.t, "./functions/redrive"), 30*time.Second, env...)
}

func (p *pipeline) dlqDepth() int {
	p.t.Helper()
	d, err := p.dlq.Depth(context.Background())
	if err != nil {
		p.t.Fatal(err)
	}
	return d.Total()
}

func replay(t *testing.T, fn *lambdatest.Function, request string) redrive.Report {
	t.Helper()
	var rep redrive.Report
	if err := fn.Invoke(context.Background(), jsonRaw(request), &rep); err != nil {
		t.Fatalf("redrive %s: %v", request, err)
	}
	return rep
}

type jsonRaw string

func (j jsonRaw) MarshalJSON() ([]byte, error) { return []byte(j), nil }

// What failed, why, and make it go again — through the real ingest, processor and
// redrive binaries:
//  1. the destination rejects two webhooks (400): both land in the DLQ with the reason;
//  2. the dry run reports them by source, type and reason and changes nothing;
//  3. the destination is fixed; a replay filtered on stripe moves only that one, which
//     is then applied exactly once; the github one stays in the DLQ;
//  4. replaying the stripe event again (it completed) delivers nothing: duplicate;
//  5. a crash between a replay's send and its delete (simulated: the github body is
//     put back on the main queue by hand, as SQS's own console redrive also does with a
//     new message id, and left in the DLQ) and then the real replay: two copies reach
//     the processor, the destination applies the event once.
func TestE2ERedriveReportAndReplay(t *testing.T) {
	ctx := context.Background()
	stripe, github := sample(t, "stripe.json"), sample(t, "github.json")
	stripeKey, githubKey := stripe.Source+":"+stripe.ID, github.Source+":"+github.ID
	var fixed atomic.Bool
	dest := newDestination(t, func(int) answer {
		if fixed.Load() {
			return answer{status: http.StatusOK}
		}
		return answer{status: http.StatusBadRequest}
	})
	p := newPipeline(t, []route.Config{{Source: stripe.Source, URL: dest.url}, {Source: github.Source, URL: dest.url}})
	p.send(stripe)
	p.send(github)
	fn := p.startProcessor("processor")
	poller := p.poll(invokeFn(fn), 0)
	p.settled(poller, 2)
	if n := p.dlqDepth(); n != 2 {
		t.Fatalf("DLQ holds %d messages, want 2", n)
	}

	redriveFn := p.startRedrive()
	rep := replay(t, redriveFn, `{"dryRun": true}`)
	if rep.Counts.DryRun != 2 || rep.Counts.Moved != 0 || rep.BySource["stripe"] != 1 || rep.BySource["github"] != 1 ||
		rep.ByType[stripe.Type] != 1 || rep.ByType[github.Type] != 1 {
		t.Fatalf("dry run report %+v", rep)
	}
	reasons := 0
	for k, n := range rep.ByError {
		if strings.HasPrefix(k, envelope.ReasonPermanent+": ") && strings.Contains(k, "HTTP 400") {
			reasons += n
		}
	}
	if reasons != 2 {
		t.Fatalf("byError %v: want both under the permanent reason with the destination's answer", rep.ByError)
	}
	waitFor(t, settle, "the dry run to release what it read", func() bool {
		d, err := p.dlq.Depth(ctx)
		return err == nil && d.Visible == 2
	})

	fixed.Store(true)
	rep = replay(t, redriveFn, `{"filter": {"source": "stripe"}}`)
	if rep.Counts.Moved != 1 || rep.Counts.Skipped != 1 {
		t.Fatalf("filtered replay report %+v", rep.Counts)
	}
	waitFor(t, settle, "the replayed stripe event applied", func() bool { return dest.effectsOf(stripeKey) == 1 })
	p.settled(poller, 3)
	if n := p.dlqDepth(); n != 1 {
		t.Fatalf("DLQ holds %d messages after the stripe replay, want the github one", n)
	}

	// 4. The completed stripe event, dead-lettered again by hand, replayed: nothing.
	body, err := envelope.Encode(&envelope.Envelope{Source: stripe.Source, ID: stripe.ID, Type: stripe.Type, ReceivedAt: time.Now().UTC(),
		Headers: map[string]string{"content-type": "application/json"}, Body: []byte(stripe.Event.Body)})
	if err != nil {
		t.Fatal(err)
	}
	attrs := map[string]string{envelope.AttrSource: stripe.Source, envelope.AttrType: stripe.Type, envelope.AttrKey: stripeKey,
		envelope.AttrReason: envelope.ReasonPermanent}
	if _, err := p.dlq.Send(ctx, queue.Message{Body: string(body), Attributes: attrs}); err != nil {
		t.Fatal(err)
	}
	raw := dest.raw()
	rep = replay(t, redriveFn, fmt.Sprintf(`{"filter": {"ids": [%q]}}`, stripe.ID))
	if rep.Counts.Moved != 1 {
		t.Fatalf("replay of the completed event: %+v", rep.Counts)
	}
	p.settled(poller, 4)
	if dest.raw() != raw || dest.effectsOf(stripeKey) != 1 {
		t.Fatalf("replaying a completed event reached the destination: %d raw requests (was %d), %d effects", dest.raw(), raw, dest.effectsOf(stripeKey))
	}

	// 5. A copy of the github message on the main queue (new message id, same body),
	// and the same message replayed from the DLQ: one effect.
	held, err := p.dlq.Receive(ctx, queue.MaxBatch, time.Second, 2*time.Second)
	if err != nil || len(held) != 1 {
		t.Fatalf("receive the github dead letter: %d, %v", len(held), err)
	}
	if _, err := p.main.Send(ctx, queue.Message{Body: held[0].Body, Attributes: map[string]string{envelope.AttrKey: githubKey}}); err != nil {
		t.Fatal(err)
	}
	if err := p.dlq.ChangeVisibility(ctx, held[0].ReceiptHandle, 0); err != nil {
		t.Fatal(err)
	}
	rep = replay(t, redriveFn, `{"filter": {"source": "github"}}`)
	if rep.Counts.Moved != 1 {
		t.Fatalf("github replay: %+v", rep.Counts)
	}
	p.settled(poller, 6)
	if n := dest.effectsOf(githubKey); n != 1 {
		t.Fatalf("github event applied %d times, want 1", n)
	}
	if got := dest.received(githubKey); len(got) != 2 {
		t.Fatalf("github: %d requests (%v), want the refused one and one after the fix", len(got), statuses(got))
	}
	if n := p.dlqDepth(); n != 0 {
		t.Fatalf("DLQ still holds %d messages", n)
	}
	wantOutcomes(t, map[processor.Outcome]int64{processor.DeadLettered: 2, processor.Processed: 2, processor.Duplicate: 2}, fn)
}
