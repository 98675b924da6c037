// Package queuetest is the contract suite every queue.Queue adapter passes: the
// in-memory queue in a normal test, the SQS adapter on moto server in an integration
// test. It checks behaviour callers rely on, the parts on which SQS, moto and the
// in-memory queue agree.
package queuetest

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/queue"
)

// Setup is one fresh pair of queues for one case.
type Setup struct {
	// Main has a default visibility timeout of at least 30 s and a redrive policy to
	// DLQ with MaxReceiveCount.
	Main queue.Queue
	DLQ  queue.Queue
	// MaxReceiveCount is Main's redrive threshold, 1..5.
	MaxReceiveCount int
	// Advance lets d pass for both queues: a real sleep on SQS, a step of the fake
	// clock (and a Wake) for the in-memory queue.
	Advance func(d time.Duration)
	// Now is the queues' clock.
	Now func() time.Time
}

// Run runs every case, each in a parallel subtest with its own queues from newSetup.
func Run(t *testing.T, newSetup func(t *testing.T) Setup) {
	t.Helper()
	cases := []struct {
		name string
		run  func(t *testing.T, s Setup)
	}{
		{"SendReceive", sendReceive},
		{"InFlightIsNotVisible", inFlightIsNotVisible},
		{"ChangeVisibilityZero", changeVisibilityZero},
		{"VisibilityTimeoutExpires", visibilityTimeoutExpires},
		{"ChangeVisibilityExtends", changeVisibilityExtends},
		{"DeleteRemoves", deleteRemoves},
		{"UnknownHandle", unknownHandle},
		{"Delay", delay},
		{"SendBatchPartialFailure", sendBatchPartialFailure},
		{"MessageRefused", messageRefused},
		{"DeleteBatchPartialFailure", deleteBatchPartialFailure},
		{"ChangeVisibilityBatch", changeVisibilityBatch},
		{"BatchLimits", batchLimits},
		{"ReceiveAtMostMax", receiveAtMostMax},
		{"RedriveToDLQ", redriveToDLQ},
		{"Depth", depth},
		{"LongPollWakesOnSend", longPollWakesOnSend},
		{"LongPollEnds", longPollEnds},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, newSetup(t))
		})
	}
}

func ctxFor(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func send(t *testing.T, q queue.Queue, m queue.Message) string {
	t.Helper()
	id, err := q.Send(ctxFor(t), m)
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	if id == "" {
		t.Fatal("send returned an empty message id")
	}
	return id
}

// receive makes one Receive call.
func receive(t *testing.T, q queue.Queue, max int, wait, visibility time.Duration) []queue.Received {
	t.Helper()
	got, err := q.Receive(ctxFor(t), max, wait, visibility)
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	if len(got) > max {
		t.Fatalf("receive(max %d) returned %d messages", max, len(got))
	}
	return got
}

// receiveN receives until it has n messages; SQS may return fewer than are visible
// in one call.
func receiveN(t *testing.T, q queue.Queue, n int, visibility time.Duration) []queue.Received {
	t.Helper()
	var all []queue.Received
	for range 10 {
		all = append(all, receive(t, q, min(n-len(all), queue.MaxBatch), time.Second, visibility)...)
		if len(all) >= n {
			return all
		}
	}
	t.Fatalf("received %d messages, want %d", len(all), n)
	return nil
}

func receiveOne(t *testing.T, q queue.Queue, visibility time.Duration) queue.Received {
	t.Helper()
	return receiveN(t, q, 1, visibility)[0]
}

func expectNone(t *testing.T, q queue.Queue, why string) {
	t.Helper()
	if got := receive(t, q, queue.MaxBatch, 0, 0); len(got) != 0 {
		t.Fatalf("%s: received %d messages (first %q, count %d), want none", why, len(got), got[0].Body, got[0].ReceiveCount)
	}
}

func expectDepth(t *testing.T, q queue.Queue, want queue.Depth) {
	t.Helper()
	got, err := q.Depth(ctxFor(t))
	if err != nil {
		t.Fatalf("depth: %v", err)
	}
	if got != want {
		t.Fatalf("depth = %+v, want %+v", got, want)
	}
}

// expectKind checks that err is a permanent *queue.Error of the given kind.
func expectKind(t *testing.T, what string, err, kind error) {
	t.Helper()
	var qe *queue.Error
	switch {
	case err == nil:
		t.Fatalf("%s: no error, want %v", what, kind)
	case !errors.Is(err, kind):
		t.Fatalf("%s: error %v, want %v", what, err, kind)
	case !errors.As(err, &qe):
		t.Fatalf("%s: error %T is not a *queue.Error", what, err)
	case queue.IsRetryable(err):
		t.Fatalf("%s: %v reported as retryable", what, err)
	}
}

func sendReceive(t *testing.T, s Setup) {
	attrs := map[string]string{"source": "stripe", "type": "payment_intent.succeeded", "empty": ""}
	body := `{"v":1,"body":"héllo ✓"}`
	before := s.Now().Add(-time.Minute)
	id := send(t, s.Main, queue.Message{Body: body, Attributes: attrs})
	r := receiveOne(t, s.Main, 0)

	want := map[string]string{"source": "stripe", "type": "payment_intent.succeeded"}
	switch {
	case r.ID != id:
		t.Errorf("id = %q, want %q from Send", r.ID, id)
	case r.Body != body:
		t.Errorf("body = %q, want %q", r.Body, body)
	case !maps.Equal(r.Attributes, want):
		t.Errorf("attributes = %v, want %v (the empty one left out)", r.Attributes, want)
	case r.ReceiveCount != 1:
		t.Errorf("receive count = %d, want 1", r.ReceiveCount)
	case r.ReceiptHandle == "":
		t.Error("no receipt handle")
	case r.SentAt.Before(before) || r.SentAt.After(s.Now().Add(time.Minute)):
		t.Errorf("sent at %v, not near %v", r.SentAt, s.Now())
	case r.FirstReceivedAt.Before(r.SentAt):
		t.Errorf("first received at %v, before sent at %v", r.FirstReceivedAt, r.SentAt)
	case r.SenderID == "":
		t.Error("no sender id")
	case r.MD5OfBody != queue.BodyMD5(body):
		t.Errorf("MD5OfBody = %s, want %s", r.MD5OfBody, queue.BodyMD5(body))
	case r.MD5OfAttributes != queue.AttributesMD5(want):
		t.Errorf("MD5OfAttributes = %s, want %s", r.MD5OfAttributes, queue.AttributesMD5(want))
	}
}

func inFlightIsNotVisible(t *testing.T, s Setup) {
	send(t, s.Main, queue.Message{Body: "one"})
	receiveOne(t, s.Main, 0)
	expectNone(t, s.Main, "while in flight")
	expectDepth(t, s.Main, queue.Depth{InFlight: 1})
}

func changeVisibilityZero(t *testing.T, s Setup) {
	id := send(t, s.Main, queue.Message{Body: "again"})
	first := receiveOne(t, s.Main, 0)
	if err := s.Main.ChangeVisibility(ctxFor(t), first.ReceiptHandle, 0); err != nil {
		t.Fatalf("change visibility: %v", err)
	}
	second := receiveOne(t, s.Main, 0)
	switch {
	case second.ID != id:
		t.Errorf("id = %q, want %q", second.ID, id)
	case second.ReceiveCount != 2:
		t.Errorf("receive count = %d, want 2", second.ReceiveCount)
	case second.ReceiptHandle == first.ReceiptHandle:
		t.Error("the second receive kept the first receipt handle")
	case !second.FirstReceivedAt.Equal(first.FirstReceivedAt):
		t.Errorf("first received at changed from %v to %v", first.FirstReceivedAt, second.FirstReceivedAt)
	}
}

func visibilityTimeoutExpires(t *testing.T, s Setup) {
	send(t, s.Main, queue.Message{Body: "expires"})
	receiveOne(t, s.Main, time.Second)
	expectNone(t, s.Main, "before the visibility timeout")
	s.Advance(1500 * time.Millisecond)
	if r := receiveOne(t, s.Main, 0); r.ReceiveCount != 2 {
		t.Fatalf("receive count = %d, want 2", r.ReceiveCount)
	}
}

func changeVisibilityExtends(t *testing.T, s Setup) {
	send(t, s.Main, queue.Message{Body: "extended"})
	r := receiveOne(t, s.Main, time.Second)
	if err := s.Main.ChangeVisibility(ctxFor(t), r.ReceiptHandle, time.Minute); err != nil {
		t.Fatalf("change visibility: %v", err)
	}
	s.Advance(1500 * time.Millisecond)
	expectNone(t, s.Main, "after the first timeout, within the new one")
	expectDepth(t, s.Main, queue.Depth{InFlight: 1})
}

func deleteRemoves(t *testing.T, s Setup) {
	send(t, s.Main, queue.Message{Body: "gone"})
	r := receiveOne(t, s.Main, time.Second)
	if err := s.Main.Delete(ctxFor(t), r.ReceiptHandle); err != nil {
		t.Fatalf("delete: %v", err)
	}
	expectDepth(t, s.Main, queue.Depth{})
	s.Advance(1500 * time.Millisecond)
	expectNone(t, s.Main, "after delete and the visibility timeout")
	if err := s.Main.Delete(ctxFor(t), r.ReceiptHandle); err != nil {
		t.Fatalf("deleting a deleted message again: %v, want success", err)
	}
}

func unknownHandle(t *testing.T, s Setup) {
	send(t, s.Main, queue.Message{Body: "stays"})
	r := receiveOne(t, s.Main, 0)
	bogus := "bogus-" + strings.Repeat("x", len(r.ReceiptHandle)/2)
	expectKind(t, "delete", s.Main.Delete(ctxFor(t), bogus), queue.ErrReceiptHandleInvalid)
	expectKind(t, "change visibility", s.Main.ChangeVisibility(ctxFor(t), bogus, 0), queue.ErrReceiptHandleInvalid)
	expectDepth(t, s.Main, queue.Depth{InFlight: 1})
}

func delay(t *testing.T, s Setup) {
	send(t, s.Main, queue.Message{Body: "later", DelaySeconds: 1})
	expectNone(t, s.Main, "during the delay")
	expectDepth(t, s.Main, queue.Depth{Delayed: 1})
	s.Advance(1500 * time.Millisecond)
	if r := receiveOne(t, s.Main, 0); r.Body != "later" || r.ReceiveCount != 1 {
		t.Fatalf("got %q count %d, want \"later\" count 1", r.Body, r.ReceiveCount)
	}
}

func sendBatchPartialFailure(t *testing.T, s Setup) {
	res, err := s.Main.SendBatch(ctxFor(t), []queue.Message{
		{Body: "first", Attributes: map[string]string{"n": "1"}},
		{Body: "invalid delay", DelaySeconds: queue.MaxDelaySeconds + 1},
		{Body: "third", Attributes: map[string]string{"n": "3", "empty": ""}},
	})
	if err != nil {
		t.Fatalf("send batch: %v", err)
	}
	if len(res) != 3 {
		t.Fatalf("%d results, want 3", len(res))
	}
	for _, i := range []int{0, 2} {
		if res[i].Err != nil || res[i].ID == "" {
			t.Fatalf("entry %d: %+v, want an id and no error", i, res[i])
		}
	}
	if res[1].ID != "" {
		t.Errorf("failed entry has id %q", res[1].ID)
	}
	expectKind(t, "entry 1", res[1].Err, queue.ErrInvalidRequest)

	got := receiveN(t, s.Main, 2, 0)
	byID := map[string]queue.Received{got[0].ID: got[0], got[1].ID: got[1]}
	if m := byID[res[0].ID]; m.Body != "first" || m.Attributes["n"] != "1" {
		t.Errorf("entry 0 received as %+v", m)
	}
	if m := byID[res[2].ID]; m.Body != "third" || !maps.Equal(m.Attributes, map[string]string{"n": "3"}) {
		t.Errorf("entry 2 received as %+v", m)
	}
	expectNone(t, s.Main, "after both")
}

// messageRefused holds a message SQS can never accept (a character outside the
// allowed set in the body or an attribute value, or over MaxMessageBytes) to a
// permanent ErrMessageRefused, alone in a batch, with nothing queued; and every
// allowed character to a message that comes back unchanged. Both adapters check
// before sending: moto accepts U+FFFE, U+FFFF, NUL and the rest that SQS refuses with
// InvalidMessageContents, and counts only the body against the size limit, so on moto
// the refusals come from the SQS adapter's check rather than from the server.
func messageRefused(t *testing.T, s Setup) {
	refused := map[string]queue.Message{
		"U+FFFF in the body":     {Body: `{"a":"` + "\uFFFF" + `"}`},
		"U+FFFE in the body":     {Body: "\uFFFE"},
		"NUL in the body":        {Body: "a\x00b"},
		"invalid UTF-8 body":     {Body: "a\xffb"},
		"U+FFFF in an attribute": {Body: "ok", Attributes: map[string]string{"type": "t\uFFFF"}},
		"body over 1 MiB":        {Body: strings.Repeat("x", queue.MaxMessageBytes+1)},
		"over 1 MiB with attributes": {Body: strings.Repeat("x", queue.MaxMessageBytes-len("String")),
			Attributes: map[string]string{"k": "v"}},
	}
	for name, m := range refused {
		_, err := s.Main.Send(ctxFor(t), m)
		expectKind(t, "send with "+name, err, queue.ErrMessageRefused)
	}
	allowed := "tab\t nl\n cr\r \u0020\uD7FF\uE000\uFFFD\U00010000\U0010FFFF <&> \\ufffe"
	res, err := s.Main.SendBatch(ctxFor(t), []queue.Message{
		{Body: "before", Attributes: map[string]string{"n": "1"}},
		refused["U+FFFF in the body"],
		{Body: allowed, Attributes: map[string]string{"n": "\uFFFD\U0010FFFF"}},
	})
	if err != nil {
		t.Fatalf("send batch: %v", err)
	}
	if len(res) != 3 {
		t.Fatalf("%d results, want 3", len(res))
	}
	if res[0].Err != nil || res[2].Err != nil || res[1].ID != "" {
		t.Fatalf("batch results %+v, want entries 0 and 2 sent, entry 1 refused", res)
	}
	expectKind(t, "batch entry 1", res[1].Err, queue.ErrMessageRefused)
	got := receiveN(t, s.Main, 2, 0)
	byID := map[string]queue.Received{got[0].ID: got[0], got[1].ID: got[1]}
	if m := byID[res[2].ID]; m.Body != allowed || m.Attributes["n"] != "\uFFFD\U0010FFFF" || m.MD5OfBody != queue.BodyMD5(allowed) {
		t.Errorf("allowed characters came back as %+v", m)
	}
	expectNone(t, s.Main, "after the two sent")
}

func deleteBatchPartialFailure(t *testing.T, s Setup) {
	for _, b := range []string{"a", "b"} {
		send(t, s.Main, queue.Message{Body: b})
	}
	got := receiveN(t, s.Main, 2, time.Second)
	res, err := s.Main.DeleteBatch(ctxFor(t), []string{got[0].ReceiptHandle, "bogus-handle", got[1].ReceiptHandle})
	if err != nil {
		t.Fatalf("delete batch: %v", err)
	}
	if len(res) != 3 || res[0].Err != nil || res[2].Err != nil {
		t.Fatalf("results %+v, want entries 0 and 2 to succeed", res)
	}
	expectKind(t, "entry 1", res[1].Err, queue.ErrReceiptHandleInvalid)
	expectDepth(t, s.Main, queue.Depth{})
	s.Advance(1500 * time.Millisecond)
	expectNone(t, s.Main, "after the batch delete")
}

func changeVisibilityBatch(t *testing.T, s Setup) {
	for _, b := range []string{"soon", "later"} {
		send(t, s.Main, queue.Message{Body: b})
	}
	got := receiveN(t, s.Main, 2, 0)
	byBody := map[string]queue.Received{got[0].Body: got[0], got[1].Body: got[1]}
	res, err := s.Main.ChangeVisibilityBatch(ctxFor(t), []queue.VisibilityChange{
		{ReceiptHandle: byBody["soon"].ReceiptHandle, Timeout: 0},
		{ReceiptHandle: "bogus-handle", Timeout: 0},
		{ReceiptHandle: byBody["later"].ReceiptHandle, Timeout: time.Minute},
	})
	if err != nil {
		t.Fatalf("change visibility batch: %v", err)
	}
	if len(res) != 3 || res[0].Err != nil || res[2].Err != nil {
		t.Fatalf("results %+v, want entries 0 and 2 to succeed", res)
	}
	expectKind(t, "entry 1", res[1].Err, queue.ErrReceiptHandleInvalid)
	r := receiveOne(t, s.Main, 0)
	if r.Body != "soon" || r.ReceiveCount != 2 {
		t.Fatalf("got %q count %d, want \"soon\" count 2", r.Body, r.ReceiveCount)
	}
	expectNone(t, s.Main, "with one message deferred and one in flight")
}

func batchLimits(t *testing.T, s Setup) {
	ctx := ctxFor(t)
	eleven := make([]queue.Message, queue.MaxBatch+1)
	handles := make([]string, queue.MaxBatch+1)
	for i := range eleven {
		eleven[i] = queue.Message{Body: "x"}
		handles[i] = "h"
	}
	_, err := s.Main.SendBatch(ctx, eleven)
	expectKind(t, "send 11", err, queue.ErrTooManyEntries)
	_, err = s.Main.SendBatch(ctx, nil)
	expectKind(t, "send none", err, queue.ErrEmptyBatch)
	_, err = s.Main.DeleteBatch(ctx, handles)
	expectKind(t, "delete 11", err, queue.ErrTooManyEntries)
	_, err = s.Main.ChangeVisibilityBatch(ctx, nil)
	expectKind(t, "change visibility of none", err, queue.ErrEmptyBatch)
	_, err = s.Main.Receive(ctx, queue.MaxBatch+1, 0, 0)
	expectKind(t, "receive 11", err, queue.ErrInvalidRequest)
	expectDepth(t, s.Main, queue.Depth{})
}

func receiveAtMostMax(t *testing.T, s Setup) {
	const n = 13
	msgs := make([]queue.Message, queue.MaxBatch)
	for i := range msgs {
		msgs[i] = queue.Message{Body: "m"}
	}
	if _, err := s.Main.SendBatch(ctxFor(t), msgs); err != nil {
		t.Fatal(err)
	}
	for range n - queue.MaxBatch {
		send(t, s.Main, queue.Message{Body: "m"})
	}
	seen := map[string]bool{}
	for range 20 {
		for _, r := range receive(t, s.Main, queue.MaxBatch, time.Second, 0) {
			if seen[r.ID] || r.ReceiveCount != 1 {
				t.Fatalf("message %s received again (count %d) while in flight", r.ID, r.ReceiveCount)
			}
			seen[r.ID] = true
		}
		if len(seen) == n {
			break
		}
	}
	if len(seen) != n {
		t.Fatalf("received %d distinct messages, want %d", len(seen), n)
	}
	expectDepth(t, s.Main, queue.Depth{InFlight: n})
}

func redriveToDLQ(t *testing.T, s Setup) {
	attrs := map[string]string{"source": "github", "type": "push"}
	send(t, s.Main, queue.Message{Body: "poison", Attributes: attrs})
	var sentAt time.Time
	for i := 1; i <= s.MaxReceiveCount; i++ {
		r := receiveOne(t, s.Main, 0)
		if r.ReceiveCount != i {
			t.Fatalf("receive %d: count %d", i, r.ReceiveCount)
		}
		sentAt = r.SentAt
		if err := s.Main.ChangeVisibility(ctxFor(t), r.ReceiptHandle, 0); err != nil {
			t.Fatalf("change visibility: %v", err)
		}
	}
	// The receive after the last allowed one moves the message instead.
	if got := receive(t, s.Main, queue.MaxBatch, time.Second, 0); len(got) != 0 {
		t.Fatalf("receive %d: got %q count %d, want the message moved to the DLQ", s.MaxReceiveCount+1, got[0].Body, got[0].ReceiveCount)
	}
	expectDepth(t, s.Main, queue.Depth{})
	d := receiveOne(t, s.DLQ, 0)
	switch {
	case d.Body != "poison":
		t.Errorf("DLQ body = %q", d.Body)
	case !maps.Equal(d.Attributes, attrs):
		t.Errorf("DLQ attributes = %v, want %v", d.Attributes, attrs)
	case !d.SentAt.Equal(sentAt):
		t.Errorf("DLQ sent at %v, want the original %v", d.SentAt, sentAt)
	}
}

func depth(t *testing.T, s Setup) {
	send(t, s.Main, queue.Message{Body: "a"})
	send(t, s.Main, queue.Message{Body: "b"})
	send(t, s.Main, queue.Message{Body: "delayed", DelaySeconds: 1})
	expectDepth(t, s.Main, queue.Depth{Visible: 2, Delayed: 1})
	receive(t, s.Main, 1, time.Second, 0)
	expectDepth(t, s.Main, queue.Depth{Visible: 1, InFlight: 1, Delayed: 1})
	s.Advance(1500 * time.Millisecond)
	expectDepth(t, s.Main, queue.Depth{Visible: 2, InFlight: 1})
}

func longPollWakesOnSend(t *testing.T, s Setup) {
	const wait = 5 * time.Second
	type result struct {
		got     []queue.Received
		err     error
		elapsed time.Duration
	}
	done := make(chan result, 1)
	go func() {
		start := time.Now()
		got, err := s.Main.Receive(context.Background(), 1, wait, 0)
		done <- result{got, err, time.Since(start)}
	}()
	time.Sleep(300 * time.Millisecond) // let the receive start waiting
	send(t, s.Main, queue.Message{Body: "wake"})
	r := <-done
	switch {
	case r.err != nil:
		t.Fatalf("receive: %v", r.err)
	case len(r.got) != 1 || r.got[0].Body != "wake":
		t.Fatalf("received %+v, want the message sent during the wait", r.got)
	case r.elapsed >= wait-time.Second:
		t.Fatalf("receive returned after %v: it waited the full %v instead of waking on the send", r.elapsed, wait)
	}
}

func longPollEnds(t *testing.T, s Setup) {
	const wait = time.Second
	start := time.Now()
	got := receive(t, s.Main, 1, wait, 0)
	elapsed := time.Since(start)
	if len(got) != 0 {
		t.Fatalf("received %d messages from an empty queue", len(got))
	}
	if elapsed < wait-100*time.Millisecond || elapsed > wait+3*time.Second {
		t.Fatalf("an empty long poll of %v took %v", wait, elapsed)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start = time.Now()
	_, err := s.Main.Receive(ctx, 1, 10*time.Second, 0)
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("cancelled long poll: err %v after %v, want an error soon after the cancel", err, time.Since(start))
	}
}
