//go:build integration

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	breakerstore "github.com/tenaz/tenaz/shared/breaker/dynamostore"
	"github.com/tenaz/tenaz/shared/config"
	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/esm"
	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/internal/lambdatest"
	"github.com/tenaz/tenaz/shared/processor"
	"github.com/tenaz/tenaz/shared/queue"
	"github.com/tenaz/tenaz/shared/route"
)

// The tests below run the processor with its destination guarded by the DynamoDB
// circuit breaker on moto, with settings short enough for an outage, several probes
// and the recovery to fit in seconds: 3 failures within 30 s open the breaker for
// 3 s, and a record is deferred at most 3 s, so a deferred record is back at the
// probe time. The main queue keeps the template's default redrive backstop (50
// receives): deferrals count there, and nothing may reach the dead-letter queue.
const (
	breakerFailures = 3
	breakerOpen     = 3 * time.Second
	breakerDeferMax = 3 * time.Second
	breakerReceives = 50
)

// breakerPipeline deploys a pipeline whose processor guards the route to dest with a
// breaker that re-reads the shared state after cacheMs milliseconds (0: every call),
// handling one record of a batch at a time.
func breakerPipeline(t *testing.T, dest *destination, cacheMs int) *pipeline {
	t.Helper()
	return newPipelineWith(t, []route.Config{{Source: "stripe", URL: dest.url}}, pipelineOptions{
		maxReceiveCount: breakerReceives,
		breakers:        true,
		env: []string{
			config.EnvBreakerFailures + "=" + strconv.Itoa(breakerFailures),
			config.EnvBreakerWindow + "=30",
			config.EnvBreakerOpen + "=" + strconv.Itoa(int(breakerOpen/time.Second)),
			config.EnvBreakerCache + "=" + strconv.Itoa(cacheMs),
			config.EnvDeferMax + "=" + strconv.Itoa(int(breakerDeferMax/time.Second)),
			config.EnvConcurrency + "=1",
		},
	})
}

// outage is a destination script: 503 while down is set, 200 otherwise.
func outage(down *atomic.Bool) func(int) answer {
	return func(int) answer {
		if down.Load() {
			return answer{status: http.StatusServiceUnavailable}
		}
		return answer{status: http.StatusOK}
	}
}

// dependencyOf is the breaker name of a route to rawURL: its host.
func dependencyOf(t *testing.T, rawURL string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// enqueue puts n distinct Stripe events straight on the main queue, as ingest would,
// and returns their idempotency keys.
func enqueue(t *testing.T, p *pipeline, prefix string, n int) []string {
	t.Helper()
	keys := make([]string, n)
	for i := range keys {
		id := fmt.Sprintf("evt_%s_%d", prefix, i)
		e := &envelope.Envelope{
			Source: "stripe", ID: id, Type: "payment_intent.succeeded", ReceivedAt: time.Now().UTC(),
			Headers: map[string]string{"content-type": "application/json"},
			Body:    []byte(`{"id":"` + id + `","type":"payment_intent.succeeded"}`),
		}
		body, err := envelope.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.main.Send(context.Background(), queue.Message{Body: string(body), Attributes: e.Attributes()}); err != nil {
			t.Fatal(err)
		}
		keys[i] = e.Key()
	}
	return keys
}

// breakerItem is a breaker's item as stored on moto.
type breakerItem struct {
	state               string // "" when there is no item
	generation          int64
	openedAt, openUntil time.Time
	probeUntil          time.Time
}

// breakerItem reads the item of the breaker name straight from the table.
func (p *pipeline) breakerItem(name string) breakerItem {
	p.t.Helper()
	out, err := p.ddb.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName:      aws.String(p.breakerTable),
		Key:            map[string]ddbtypes.AttributeValue{breakerstore.AttrName: &ddbtypes.AttributeValueMemberS{Value: name}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		p.t.Fatal(err)
	}
	num := func(attr string) int64 {
		v, ok := out.Item[attr].(*ddbtypes.AttributeValueMemberN)
		if !ok {
			return 0
		}
		n, err := strconv.ParseInt(v.Value, 10, 64)
		if err != nil {
			p.t.Fatalf("breaker item %s: %s = %q: %v", name, attr, v.Value, err)
		}
		return n
	}
	it := breakerItem{
		generation: num(breakerstore.AttrGeneration),
		openedAt:   time.UnixMilli(num(breakerstore.AttrOpenedAtMs)),
		openUntil:  time.UnixMilli(num(breakerstore.AttrOpenUntilMs)),
		probeUntil: time.UnixMilli(num(breakerstore.AttrProbeUntilMs)),
	}
	if s, ok := out.Item[breakerstore.AttrState].(*ddbtypes.AttributeValueMemberS); ok {
		it.state = s.Value
	}
	return it
}

// calls returns a copy of every request dest received, in arrival order.
func calls(dest *destination) []delivery {
	dest.mu.Lock()
	defer dest.mu.Unlock()
	out := make([]delivery, len(dest.deliveries))
	for i, d := range dest.deliveries {
		out[i] = *d
	}
	return out
}

// between returns the calls that arrived in [from, to).
func between(cs []delivery, from, to time.Time) []delivery {
	var out []delivery
	for _, c := range cs {
		if !c.at.Before(from) && c.at.Before(to) {
			out = append(out, c)
		}
	}
	return out
}

// transition is one breaker transition, reported by the function whose conditional
// write won it: a log line and an EMF metric line, one after the other.
type transition struct {
	fn       string
	at       time.Time // the breaker's clock when it decided (the metric's timestamp, ms)
	from, to string
	gen      int64
	failures int
}

func (tr transition) String() string {
	return fmt.Sprintf("%s %s→%s gen %d at %s", tr.fn, tr.from, tr.to, tr.gen, tr.at.Format("15:04:05.000"))
}

// transitions gathers the breaker transitions the functions reported, by generation.
func transitions(t *testing.T, fns ...*lambdatest.Function) []transition {
	t.Helper()
	var out []transition
	for _, fn := range fns {
		type metric struct {
			To  string                    `json:"to"`
			AWS struct{ Timestamp int64 } `json:"_aws"`
		}
		var metrics []metric
		for _, line := range strings.Split(fn.Logs(), "\n") {
			i := strings.IndexByte(line, '{')
			if i < 0 || !strings.Contains(line, `"_aws"`) || !strings.Contains(line, strconv.Quote(processor.MetricBreakerTransition)) {
				continue
			}
			var m metric
			if err := json.Unmarshal([]byte(line[i:]), &m); err != nil {
				t.Fatalf("%s: transition metric %s: %v", fn.Name, line, err)
			}
			metrics = append(metrics, m)
		}
		logs := logLines(t, fn, "breaker transition")
		if len(logs) != len(metrics) {
			t.Fatalf("%s logged %d breaker transitions and counted %d", fn.Name, len(logs), len(metrics))
		}
		for i, l := range logs {
			var v struct {
				From, To   string
				Generation int64
				Failures   int
			}
			if err := json.Unmarshal(l, &v); err != nil {
				t.Fatalf("%s: transition line %s: %v", fn.Name, l, err)
			}
			if v.To != metrics[i].To {
				t.Fatalf("%s: transition %d logged to %s, counted to %s", fn.Name, i, v.To, metrics[i].To)
			}
			out = append(out, transition{fn: fn.Name, at: time.UnixMilli(metrics[i].AWS.Timestamp),
				from: v.From, to: v.To, gen: v.Generation, failures: v.Failures})
		}
	}
	slices.SortFunc(out, func(a, b transition) int { return int(a.gen - b.gen) })
	return out
}

// deferral is a record a function deferred because the breaker was open: no attempt
// was made.
type deferral struct {
	key string
	at  time.Time // when it was logged
}

// breakerDeferrals returns the records fn deferred because the breaker was open.
func breakerDeferrals(t *testing.T, fn *lambdatest.Function) []deferral {
	t.Helper()
	var out []deferral
	for _, l := range logLines(t, fn, "record") {
		var v struct {
			Time                 time.Time
			Key, Outcome, Reason string
		}
		if err := json.Unmarshal(l, &v); err != nil {
			t.Fatalf("%s: record line %s: %v", fn.Name, l, err)
		}
		if v.Outcome == string(processor.Deferred) && v.Reason == processor.ReasonBreakerOpen {
			out = append(out, deferral{key: v.Key, at: v.Time})
		}
	}
	return out
}

// logLines returns fn's JSON log lines with message msg.
func logLines(t *testing.T, fn *lambdatest.Function, msg string) [][]byte {
	t.Helper()
	var out [][]byte
	want := `"msg":` + strconv.Quote(msg)
	for _, line := range strings.Split(fn.Logs(), "\n") {
		if i := strings.IndexByte(line, '{'); i >= 0 && strings.Contains(line, want) {
			out = append(out, []byte(line[i:]))
		}
	}
	return out
}

// noDeadLetters fails the test unless the dead-letter queue is empty.
func noDeadLetters(t *testing.T, p *pipeline) {
	t.Helper()
	dead, err := p.dlq.Receive(context.Background(), queue.MaxBatch, time.Second, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 0 {
		t.Fatalf("the dead-letter queue holds %d messages (first: %v), want none", len(dead), dead[0].Attributes)
	}
}

// deliveredOnce fails the test unless every key's effect was applied exactly once,
// nothing else was applied, and its idempotency record is completed after attempts[key]
// attempts.
func deliveredOnce(t *testing.T, p *pipeline, dest *destination, keys []string, attempts map[string]int) {
	t.Helper()
	if got := dest.keys(); len(got) != len(keys) {
		t.Errorf("effects applied for %d keys, want %d: %v", len(got), len(keys), got)
	}
	for _, k := range keys {
		if n := dest.effectsOf(k); n != 1 {
			t.Errorf("%s: effect applied %d times, want once", k, n)
		}
		wantRecord(t, p, k, idempotency.StatusCompleted, attempts[k])
	}
}

// receiveCounts wraps invoke, keeping in most the highest ApproximateReceiveCount of
// a record handed to the function.
func receiveCounts(invoke esm.Invoke, most *atomic.Int64) esm.Invoke {
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		for _, r := range ev.Records {
			n, _ := strconv.ParseInt(r.Attributes["ApproximateReceiveCount"], 10, 64)
			for cur := most.Load(); n > cur && !most.CompareAndSwap(cur, n); cur = most.Load() {
			}
		}
		return invoke(ctx, ev)
	}
}

// The destination goes down: the failure that reaches the threshold opens the
// breaker (its item on moto is open), and from then on no call reaches the
// destination until the open period ends; the records are deferred without an
// attempt. The destination is back by then: the one probe succeeds, the breaker
// closes, and every webhook is delivered exactly once, with nothing dead-lettered.
func TestE2EBreakerStopsCallsUntilTheProbe(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	dest := newDestination(t, outage(&down))
	dep := dependencyOf(t, dest.url)
	p := breakerPipeline(t, dest, 0)
	keys := enqueue(t, p, "trip", 6)
	fn := p.startProcessor("processor")
	poller := p.poll(invokeFn(fn), 0)

	var open breakerItem
	waitFor(t, settle, "the breaker item open on moto", func() bool {
		open = p.breakerItem(dep)
		return open.state == "open"
	})
	down.Store(false) // back before the probe time
	tripCalls := calls(dest)
	if open.generation != 1 || open.openUntil.Sub(open.openedAt) != breakerOpen {
		t.Fatalf("breaker item %+v, want generation 1, open for %v", open, breakerOpen)
	}
	if n := len(tripCalls); n != breakerFailures {
		t.Fatalf("%d calls reached the destination when the breaker opened, want the threshold, %d (one record at a time)", n, breakerFailures)
	}
	// The item keeps milliseconds: a call in the millisecond the breaker opened came
	// before it.
	opened := open.openedAt.Add(time.Millisecond)
	for _, c := range tripCalls {
		if c.status != http.StatusServiceUnavailable || !c.at.Before(opened) {
			t.Fatalf("call %+v: want a 503 before the breaker opened at %s", c, open.openedAt.Format(time.StampMilli))
		}
	}

	p.settled(poller, int64(len(keys)))
	cs := calls(dest)
	if early := between(cs, opened, open.openUntil); len(early) != 0 {
		t.Fatalf("%d calls reached the destination while the breaker was open (%s to %s): %+v",
			len(early), open.openedAt.Format(time.StampMilli), open.openUntil.Format(time.StampMilli), early)
	}
	probe := cs[breakerFailures]
	t.Logf("breaker open %s to %s; probe at %s (%v after the trip), answered %d; %d calls in all",
		open.openedAt.Format(time.StampMilli), open.openUntil.Format(time.StampMilli), probe.at.Format(time.StampMilli),
		probe.at.Sub(open.openedAt).Round(time.Millisecond), probe.status, len(cs))
	if probe.at.Before(open.openUntil) || probe.status != http.StatusOK {
		t.Fatalf("first call after the trip %+v, want a 200 at or after %s", probe, open.openUntil.Format(time.StampMilli))
	}
	if len(cs) != breakerFailures+len(keys) {
		t.Errorf("%d calls in all, want %d: the failed ones and one success per webhook", len(cs), breakerFailures+len(keys))
	}

	closed := p.breakerItem(dep)
	if closed.state != "closed" || closed.generation != 3 {
		t.Errorf("breaker item after recovery %+v, want closed at generation 3 (opened, probed, closed)", closed)
	}
	trs := transitions(t, fn)
	if got := fmt.Sprint(trs); len(trs) != 3 || trs[0].to != "open" || trs[0].failures != breakerFailures ||
		trs[1].to != "half-open" || trs[2].to != "closed" || trs[2].gen != 3 {
		t.Errorf("transitions %s, want closed→open after %d failures, open→half-open, half-open→closed", got, breakerFailures)
	}
	attempts := map[string]int{}
	for _, c := range cs {
		attempts[c.key]++ // no probe failed: every call was an attempt that counts
	}
	deliveredOnce(t, p, dest, keys, attempts)
	noDeadLetters(t, p)
	deferred := map[string]int{}
	for _, d := range breakerDeferrals(t, fn) {
		deferred[d.key]++
	}
	for _, k := range keys {
		if len(dest.received(k)) == 1 && deferred[k] == 0 {
			t.Errorf("%s was first tried after the trip but never deferred while the breaker was open", k)
		}
	}
	wantOutcomes(t, map[processor.Outcome]int64{processor.Processed: int64(len(keys)), processor.Retried: breakerFailures, processor.DeadLettered: 0}, fn)
}

// Two processors (two containers, each fed by its own poller) share the queue, the
// idempotency table and the breaker table while the destination stays down for three
// open periods. Each open period ends with exactly one probe across both, each taken
// by the one conditional write that won the probe lease; between probes nothing
// reaches the destination. A failed probe gives its attempt back. When the
// destination is back, the next probe closes the breaker and every deferred webhook
// is delivered exactly once, with nothing dead-lettered.
func TestE2EBreakerOneProbePerOpenPeriodAcrossProcessors(t *testing.T) {
	const failedProbes = 3
	var down atomic.Bool
	down.Store(true)
	dest := newDestination(t, outage(&down))
	dep := dependencyOf(t, dest.url)
	p := breakerPipeline(t, dest, 250)
	keys := enqueue(t, p, "probe", 10)
	a, b := p.startProcessor("processor-a"), p.startProcessor("processor-b")
	var mostReceives atomic.Int64
	// Two records per batch so both containers hold records at every probe time.
	twoPerBatch := func(o *esm.Options) { o.BatchSize = 2 }
	pa := p.poll(receiveCounts(invokeFn(a), &mostReceives), 0, twoPerBatch)
	pb := p.poll(receiveCounts(invokeFn(b), &mostReceives), 0, twoPerBatch)

	// open (1), then per failed probe half-open and open again: generation 1+2n.
	waitFor(t, 40*time.Second, fmt.Sprintf("the breaker open again after %d failed probes", failedProbes), func() bool {
		it := p.breakerItem(dep)
		return it.state == "open" && it.generation >= 1+2*failedProbes
	})
	down.Store(false)
	waitFor(t, settle, "every record deleted and an empty queue", func() bool {
		return pa.Stats().Deleted+pb.Stats().Deleted >= int64(len(keys)) && p.depth() == 0
	})
	if n := pa.Stats().Deleted + pb.Stats().Deleted; n != int64(len(keys)) {
		t.Fatalf("pollers deleted %d records, want %d", n, len(keys))
	}

	// Every transition was logged once, by the container whose write won it.
	trs := transitions(t, a, b)
	t.Logf("transitions: %v", trs)
	for i, tr := range trs {
		if tr.gen != int64(i+1) {
			t.Fatalf("transition %d is generation %d: every generation must be won and reported exactly once: %v", i, tr.gen, trs)
		}
		if i > 0 && tr.at.Before(trs[i-1].at) {
			t.Fatalf("generation %d logged before generation %d: %v", tr.gen, tr.gen-1, trs)
		}
	}
	if len(trs) < 3 || trs[0].to != "open" || trs[len(trs)-1].to != "closed" {
		t.Fatalf("transitions %v, want closed→open … half-open→closed", trs)
	}
	for i := 1; i < len(trs); i++ {
		want := "half-open"
		if i%2 == 0 {
			want = "open"
			if i == len(trs)-1 {
				want = "closed"
			}
		}
		if trs[i].to != want || (want == "half-open") != (trs[i].from == "open") {
			t.Fatalf("transition %v, want →%s: open and half-open must alternate: %v", trs[i], want, trs)
		}
	}
	probes := (len(trs) - 1) / 2
	if probes < failedProbes+1 {
		t.Fatalf("%d probes, want at least %d", probes, failedProbes+1)
	}

	// The calls, against the transitions: the threshold's failures (and at most one
	// more, admitted before the trip by the other container, one record at a time),
	// then in each half-open period exactly one call, the probe, and none while open.
	cs := calls(dest)
	firstProbe := trs[1].at
	if n := len(between(cs, time.Time{}, firstProbe)); n < breakerFailures || n > breakerFailures+1 {
		t.Errorf("%d calls before the first probe, want %d or %d", n, breakerFailures, breakerFailures+1)
	}
	var probeCalls []delivery
	won := map[string]int{}
	for i := 1; i < len(trs)-1; i++ {
		in := between(cs, trs[i].at, trs[i+1].at)
		if trs[i].to == "open" {
			if len(in) != 0 {
				t.Errorf("%d calls while open from %v: %+v", len(in), trs[i], in)
			}
			continue
		}
		if len(in) != 1 {
			t.Errorf("%d calls in the half-open period from %v, want exactly one probe: %+v", len(in), trs[i], in)
			continue
		}
		won[trs[i].fn]++
		probeCalls = append(probeCalls, in[0])
		if closes := trs[i+1].to == "closed"; closes != (in[0].status == http.StatusOK) {
			t.Errorf("probe %+v before %v: want 503 from the down destination, 200 from the last", in[0], trs[i+1])
		}
	}
	for i := 1; i < len(probeCalls); i++ {
		if gap := probeCalls[i].at.Sub(probeCalls[i-1].at); gap < breakerOpen {
			t.Errorf("probe %d came %v after the one before, want at least the open period %v", i+1, gap, breakerOpen)
		}
	}
	// Both containers were at the door at every probe time: the one that did not win
	// the probe had records back too, and deferred them without a call.
	deferred := map[string][]deferral{a.Name: breakerDeferrals(t, a), b.Name: breakerDeferrals(t, b)}
	for i := 1; i < len(trs)-1; i += 2 {
		other := a.Name
		if trs[i].fn == a.Name {
			other = b.Name
		}
		refused := 0
		for _, d := range deferred[other] {
			if !d.at.Before(trs[i].at) && d.at.Before(trs[i].at.Add(time.Second)) {
				refused++
			}
		}
		if refused == 0 {
			t.Errorf("probe %v: %s deferred nothing within a second of it; both containers must contend at the probe time", trs[i], other)
		}
	}
	t.Logf("%d calls; %d probes (%d won by %s, %d by %s); breaker deferrals %d by %s, %d by %s; most receives of a record %d (backstop %d)",
		len(cs), len(probeCalls), won[a.Name], a.Name, won[b.Name], b.Name, len(deferred[a.Name]), a.Name, len(deferred[b.Name]), b.Name,
		mostReceives.Load(), breakerReceives)

	// A failed probe's attempt is given back: a record's attempts are the calls made
	// for it after its last failed probe.
	attempts := map[string]int{}
	for _, c := range cs {
		attempts[c.key]++
		for _, pc := range probeCalls {
			if pc.key == c.key && pc.at.Equal(c.at) && pc.status != http.StatusOK {
				attempts[c.key] = 0
			}
		}
	}
	deliveredOnce(t, p, dest, keys, attempts)
	noDeadLetters(t, p)
	if closed := p.breakerItem(dep); closed.state != "closed" || closed.generation != trs[len(trs)-1].gen {
		t.Errorf("breaker item after recovery %+v, want closed at generation %d", closed, trs[len(trs)-1].gen)
	}
	wantOutcomes(t, map[processor.Outcome]int64{processor.Processed: int64(len(keys)), processor.DeadLettered: 0}, a, b)
}
