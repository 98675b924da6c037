//go:build integration

package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tenaz/tenaz/shared/blob"
	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/internal/samples"
	"github.com/tenaz/tenaz/shared/processor"
	"github.com/tenaz/tenaz/shared/route"
)

// oddBody is a webhook whose bytes once broke a naive door: too large for a queue
// message, a character SQS refuses, characters an HTML-escaping encoder inflates, or
// a signed body that is not JSON.
type oddBody struct {
	name    string
	source  string
	ctype   string
	headers map[string]string // besides content-type and the signature
	body    string
}

func oddBodies() []oddBody {
	slackPayload, _ := json.Marshal(map[string]any{
		"type": "block_actions", "trigger_id": "13345224609.738474920.8088930838d88f008e0",
		"team": map[string]string{"id": "T0TENAZ"}, "user": map[string]string{"id": "U0TENAZ"},
		"actions": []map[string]string{{"action_id": "approve", "block_id": "b1", "value": "yes & <ok>", "action_ts": "1793534400.000100"}},
	})
	return []oddBody{
		{name: "5 MB JSON", source: "stripe", ctype: "application/json",
			body: `{"id":"evt_e2e_5mb","object":"event","type":"invoice.updated","data":{"object":{"lines":"` +
				strings.Repeat("0123456789abcdef", 5<<20/16) + `"}}}`},
		{name: "U+FFFF", source: "acme", ctype: "application/json",
			body: "{\"event_id\":\"acme-uffff\",\"event_type\":\"user.created\",\"note\":\"not a character: \uffff, nor \ufffe\"}"},
		{name: "200 KiB of <", source: "acme", ctype: "application/json",
			body: `{"event_id":"acme-lt","event_type":"user.created","html":"` + strings.Repeat("<", 200<<10) + `"}`},
		{name: "Slack form", source: "slack", ctype: "application/x-www-form-urlencoded",
			body: "payload=" + url.QueryEscape(string(slackPayload))},
		{name: "text/plain", source: "plain", ctype: "text/plain; charset=utf-8",
			headers: map[string]string{"x-plain-id": "note-0001", "x-plain-type": "note.created"},
			body:    "Hello from a sender that signs plain text.\r\nLine two: <, >, & and \x00 too.\n"},
	}
}

// Every body a sender signs reaches the destination once with its exact bytes, through
// the real ingest, processor and redrive binaries on moto: the 5 MB body through the
// body bucket, the others inline. The destination first refuses every one of them
// (400), so each goes through the DLQ and a replay too; a stored body's object
// outlives the dead letter and is deleted once its event completed.
func TestE2EAnyBodyDeliveredExactlyOnce(t *testing.T) {
	var fixed atomic.Bool
	dest := newDestination(t, func(int) answer {
		if fixed.Load() {
			return answer{status: http.StatusOK}
		}
		return answer{status: http.StatusBadRequest}
	})
	bodies := oddBodies()
	var routes []route.Config
	seen := map[string]bool{}
	for _, b := range bodies {
		if !seen[b.source] {
			seen[b.source] = true
			routes = append(routes, route.Config{Source: b.source, URL: dest.url})
		}
	}
	p := newPipelineWith(t, routes, pipelineOptions{bodies: true})

	keys := make([]string, len(bodies))
	for i, b := range bodies {
		keys[i] = b.source + ":" + p.post(b)
	}
	objects := p.objects()
	if len(objects) != 1 {
		t.Fatalf("%d objects in the body bucket after ingest (%v), want the 5 MB body's", len(objects), objects)
	}
	stored, err := blob.Key("stripe", "evt_e2e_5mb")
	if err != nil {
		t.Fatal(err)
	}
	if objects[0] != stored {
		t.Fatalf("body bucket holds %s, want %s", objects[0], stored)
	}

	fn := p.startProcessor("processor")
	poller := p.poll(invokeFn(fn), 0)
	p.settled(poller, int64(len(bodies)))
	if n := p.dlqDepth(); n != len(bodies) {
		t.Fatalf("DLQ holds %d messages, want %d", n, len(bodies))
	}
	if got := p.objects(); len(got) != 1 {
		t.Fatalf("the dead-lettered 5 MB body's object is gone: %v", got)
	}

	fixed.Store(true)
	redriveFn := p.startRedrive()
	rep := replay(t, redriveFn, `{}`)
	if rep.Counts.Moved != len(bodies) {
		t.Fatalf("replay report %+v", rep.Counts)
	}
	p.settled(poller, int64(2*len(bodies)))
	for i, b := range bodies {
		if n := dest.effectsOf(keys[i]); n != 1 {
			t.Errorf("%s: applied %d times, want 1", b.name, n)
			continue
		}
		got := dest.received(keys[i])
		ok := got[len(got)-1]
		if ok.status != http.StatusOK || ok.body != b.body || ok.ctype != b.ctype {
			t.Errorf("%s: delivered %d bytes (%q) with status %d, want %d bytes (%q)", b.name, len(ok.body), ok.ctype, ok.status, len(b.body), b.ctype)
		}
		for _, d := range got {
			if d.body != b.body {
				t.Errorf("%s: a delivery of %d bytes is not the signed body", b.name, len(d.body))
			}
		}
	}
	waitFor(t, settle, "the completed event's body object deleted", func() bool { return len(p.objects()) == 0 })
	if n := p.dlqDepth(); n != 0 {
		t.Fatalf("DLQ still holds %d messages", n)
	}
	wantOutcomes(t, map[processor.Outcome]int64{processor.DeadLettered: int64(len(bodies)), processor.Processed: int64(len(bodies))}, fn)
}

// A message whose stored body is gone is dead-lettered with reason bodyMissing and
// never reaches the destination; restoring the object and replaying delivers it.
func TestE2EStoredBodyMissingIsDeadLettered(t *testing.T) {
	ctx := context.Background()
	dest := newDestination(t, nil)
	b := oddBodies()[0]
	p := newPipelineWith(t, []route.Config{{Source: b.source, URL: dest.url}}, pipelineOptions{bodies: true})
	key := b.source + ":" + p.post(b)
	objects := p.objects()
	if len(objects) != 1 {
		t.Fatalf("objects %v, want one", objects)
	}
	if _, err := p.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(p.bucket), Key: aws.String(objects[0])}); err != nil {
		t.Fatal(err)
	}
	fn := p.startProcessor("processor")
	poller := p.poll(invokeFn(fn), 0)
	p.settled(poller, 1)
	if dest.raw() != 0 {
		t.Fatalf("the destination got %d requests for a missing body", dest.raw())
	}
	redriveFn := p.startRedrive()
	rep := replay(t, redriveFn, `{"dryRun": true}`)
	found := false
	for k, n := range rep.ByError {
		if strings.HasPrefix(k, envelope.ReasonBodyMissing) && n == 1 {
			found = true
		}
	}
	// A dry run reads each stored body: this one is counted as missing, not as one
	// a replay would move.
	if rep.Counts.BodyMissing != 1 || rep.Counts.DryRun != 0 || len(rep.BodyProblems) != 1 || !found {
		t.Fatalf("dry run %+v: want one dead letter under %s", rep, envelope.ReasonBodyMissing)
	}

	// The object restored (an operator copies it back), the replay delivers it once.
	if err := blob.NewS3(p.s3, p.bucket).Put(ctx, objects[0], blob.Sum([]byte(b.body)), []byte(b.body)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, settle, "the dry run to release what it read", func() bool {
		d, err := p.dlq.Depth(ctx)
		return err == nil && d.Visible == 1
	})
	if rep := replay(t, redriveFn, `{}`); rep.Counts.Moved != 1 {
		t.Fatalf("replay %+v", rep.Counts)
	}
	p.settled(poller, 2)
	if got := dest.received(key); dest.effectsOf(key) != 1 || len(got) != 1 || got[0].body != b.body {
		t.Fatalf("after the restore: %d effects, %d deliveries", dest.effectsOf(key), len(got))
	}
	wantOutcomes(t, map[processor.Outcome]int64{processor.DeadLettered: 1, processor.Processed: 1}, fn)
}

// post signs b for its source now, sends it through the ingest binary, requires 202
// and returns the event id ingest answered.
func (p *pipeline) post(b oddBody) string {
	p.t.Helper()
	p.ingest()
	h := map[string]string{"content-type": b.ctype}
	for k, v := range b.headers {
		h[k] = v
	}
	src := samples.Sources(p.t)[b.source]
	if src == nil {
		p.t.Fatalf("no test source %q", b.source)
	}
	if err := src.Sign(h, []byte(b.body), time.Now()); err != nil {
		p.t.Fatal(err)
	}
	req := events.APIGatewayV2HTTPRequest{Headers: h, PathParameters: map[string]string{"source": b.source}, Body: b.body}
	req.RequestContext.HTTP.Method = http.MethodPost
	var resp events.APIGatewayV2HTTPResponse
	if err := p.ingestFn.Invoke(context.Background(), req, &resp); err != nil {
		p.t.Fatalf("ingest %s: %v", b.name, err)
	}
	var answer struct{ ID string }
	if resp.StatusCode != http.StatusAccepted || json.Unmarshal([]byte(resp.Body), &answer) != nil || answer.ID == "" {
		p.t.Fatalf("ingest %s: status %d %s, want 202 with the id", b.name, resp.StatusCode, resp.Body)
	}
	return answer.ID
}

// objects lists the body bucket's keys.
func (p *pipeline) objects() []string {
	p.t.Helper()
	out, err := p.s3.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(p.bucket)})
	if err != nil {
		p.t.Fatal(err)
	}
	keys := make([]string, len(out.Contents))
	for i, o := range out.Contents {
		keys[i] = aws.ToString(o.Key)
	}
	return keys
}
