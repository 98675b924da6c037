package queue_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/internal/testclock"
	"github.com/tenaz/tenaz/shared/queue"
)

var ctx = context.Background()

type memFixture struct {
	clock *testclock.Clock
	main  *queue.Memory
	dlq   *queue.Memory
}

// newMem returns a main queue (visibility 30 s, redrive after maxReceive receives)
// and its DLQ on one fake clock.
func newMem(t *testing.T, maxReceive int, retention time.Duration) memFixture {
	t.Helper()
	clock := testclock.New(epoch)
	dlq := queue.NewMemory(queue.MemoryConfig{Name: "dlq", Now: clock.Now, Retention: 14 * 24 * time.Hour})
	main := queue.NewMemory(queue.MemoryConfig{Name: "main", MaxReceiveCount: maxReceive, DeadLetter: dlq, Retention: retention, Now: clock.Now})
	return memFixture{clock: clock, main: main, dlq: dlq}
}

func (f memFixture) advance(d time.Duration) {
	f.clock.Advance(d)
	f.main.Wake()
	f.dlq.Wake()
}

func mustSend(t *testing.T, q queue.Queue, body string) string {
	t.Helper()
	id, err := q.Send(ctx, queue.Message{Body: body})
	if err != nil {
		t.Fatalf("send %q: %v", body, err)
	}
	return id
}

func mustReceive(t *testing.T, q queue.Queue, n int, visibility time.Duration) []queue.Received {
	t.Helper()
	got, err := q.Receive(ctx, queue.MaxBatch, 0, visibility)
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	if len(got) != n {
		t.Fatalf("received %d messages, want %d", len(got), n)
	}
	return got
}

func TestMemoryStaleHandle(t *testing.T) {
	t.Parallel()
	f := newMem(t, 0, 0)
	mustSend(t, f.main, "m")
	old := mustReceive(t, f.main, 1, time.Second)[0]
	f.advance(time.Second)
	cur := mustReceive(t, f.main, 1, 0)[0]
	if cur.ReceiptHandle == old.ReceiptHandle || cur.ReceiveCount != 2 {
		t.Fatalf("second receive: handle reused or count %d", cur.ReceiveCount)
	}
	for name, err := range map[string]error{
		"delete":            f.main.Delete(ctx, old.ReceiptHandle),
		"change visibility": f.main.ChangeVisibility(ctx, old.ReceiptHandle, 0),
	} {
		if !errors.Is(err, queue.ErrReceiptHandleInvalid) || queue.IsRetryable(err) {
			t.Errorf("%s with the stale handle: %v, want permanent ErrReceiptHandleInvalid", name, err)
		}
	}
	if d, _ := f.main.Depth(ctx); d != (queue.Depth{InFlight: 1}) {
		t.Fatalf("stale calls changed the queue: depth %+v", d)
	}
	if err := f.main.Delete(ctx, cur.ReceiptHandle); err != nil {
		t.Fatalf("delete with the current handle: %v", err)
	}
}

func TestMemoryChangeVisibilityRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		after time.Duration // clock step between receive (visibility 1 s) and the change
		to    time.Duration
		want  error // nil: success
	}{
		{"in flight", 0, time.Minute, nil},
		{"rounds up to whole seconds", 0, 1500 * time.Millisecond, nil},
		{"visible again", 2 * time.Second, time.Minute, queue.ErrMessageNotInflight},
		{"up to 12 h after the receive", 0, 12 * time.Hour, nil},
		{"clamped to 12 h", 0, 48 * time.Hour, nil},
		{"beyond 12 h after the receive", 500 * time.Millisecond, 12 * time.Hour, queue.ErrInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newMem(t, 0, 0)
			mustSend(t, f.main, "m")
			r := mustReceive(t, f.main, 1, time.Second)[0]
			f.advance(tt.after)
			err := f.main.ChangeVisibility(ctx, r.ReceiptHandle, tt.to)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("change visibility: %v", err)
				}
				want := f.clock.Now().Add(min((tt.to + time.Second - 1).Truncate(time.Second), queue.MaxVisibility))
				f.clock.Advance(want.Sub(f.clock.Now()) - time.Millisecond)
				mustReceive(t, f.main, 0, 0)
				f.clock.Advance(time.Millisecond)
				mustReceive(t, f.main, 1, 0)
				return
			}
			if !errors.Is(err, tt.want) || queue.IsRetryable(err) {
				t.Fatalf("change visibility: %v, want permanent %v", err, tt.want)
			}
		})
	}
}

func TestMemoryRedrive(t *testing.T) {
	t.Parallel()
	f := newMem(t, 3, 0)
	id, err := f.main.Send(ctx, queue.Message{Body: "poison", Attributes: map[string]string{"source": "shopify"}})
	if err != nil {
		t.Fatal(err)
	}
	first := time.Time{}
	for i := 1; i <= 3; i++ {
		r := mustReceive(t, f.main, 1, time.Second)[0]
		if i == 1 {
			first = r.FirstReceivedAt
		}
		f.advance(time.Second)
	}
	mustReceive(t, f.main, 0, 0) // the fourth receive moves it
	if s := f.main.Snapshot(); s.MovedToDLQ != 1 || s.Total() != 0 || s.Received != 3 {
		t.Fatalf("main after redrive: %+v", s)
	}
	d := mustReceive(t, f.dlq, 1, 0)[0]
	switch {
	case d.ID == id:
		t.Errorf("the DLQ message kept id %s; a moved message gets a new one", id)
	case d.Body != "poison" || d.Attributes["source"] != "shopify":
		t.Errorf("DLQ message %+v lost body or attributes", d)
	case d.ReceiveCount != 4:
		t.Errorf("DLQ receive count %d, want 4 (the count carries over)", d.ReceiveCount)
	case !d.SentAt.Equal(epoch) || !d.FirstReceivedAt.Equal(first):
		t.Errorf("DLQ times sent %v first received %v, want %v and %v", d.SentAt, d.FirstReceivedAt, epoch, first)
	}
}

func TestMemoryNoRedriveWithoutPolicy(t *testing.T) {
	t.Parallel()
	q := queue.NewMemory(queue.MemoryConfig{Now: testclock.New(epoch).Now})
	mustSend(t, q, "m")
	for i := 1; i <= 5; i++ {
		r := mustReceive(t, q, 1, 0)[0]
		if r.ReceiveCount != i {
			t.Fatalf("receive %d: count %d", i, r.ReceiveCount)
		}
		if err := q.ChangeVisibility(ctx, r.ReceiptHandle, 0); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMemoryRetention(t *testing.T) {
	t.Parallel()
	f := newMem(t, 1, time.Hour)
	mustSend(t, f.main, "old")
	r := mustReceive(t, f.main, 1, time.Second)[0]
	f.advance(30 * time.Minute)
	mustSend(t, f.main, "new")
	f.advance(30 * time.Minute) // "old" is an hour old: gone; "new" stays
	got := mustReceive(t, f.main, 1, 0)
	if got[0].Body != "new" {
		t.Fatalf("received %q, want only \"new\"", got[0].Body)
	}
	if s := f.main.Snapshot(); s.Expired != 1 || s.Total() != 1 {
		t.Fatalf("snapshot %+v, want 1 expired and 1 held", s)
	}
	if err := f.main.Delete(ctx, r.ReceiptHandle); !errors.Is(err, queue.ErrReceiptHandleInvalid) {
		t.Fatalf("delete of an expired message: %v", err)
	}
}

func TestMemoryDeleteTwiceIsForgottenAfterRetention(t *testing.T) {
	t.Parallel()
	f := newMem(t, 0, time.Hour)
	mustSend(t, f.main, "m")
	r := mustReceive(t, f.main, 1, 0)[0]
	for range 2 {
		if err := f.main.Delete(ctx, r.ReceiptHandle); err != nil {
			t.Fatalf("delete: %v", err)
		}
	}
	f.advance(time.Hour)
	if err := f.main.Delete(ctx, r.ReceiptHandle); !errors.Is(err, queue.ErrReceiptHandleInvalid) {
		t.Fatalf("delete after the retention period: %v, want ErrReceiptHandleInvalid", err)
	}
}

func TestMemorySendValidation(t *testing.T) {
	t.Parallel()
	tooMany := map[string]string{}
	for i := range queue.MaxAttributes + 1 {
		tooMany[fmt.Sprintf("a%d", i)] = "v"
	}
	tests := []struct {
		name string
		m    queue.Message
		code string // "" = accepted
	}{
		{"plain", queue.Message{Body: "ok"}, ""},
		{"all allowed characters", queue.Message{Body: "tab\tnl\ncr\r é 中 \U0001F600 \uFFFD"}, ""},
		{"empty attribute values only", queue.Message{Body: "ok", Attributes: map[string]string{"a": ""}}, ""},
		{"max delay", queue.Message{Body: "ok", DelaySeconds: 900}, ""},
		{"max size", queue.Message{Body: strings.Repeat("x", queue.MaxMessageBytes-len("k")-len("String")-len("v")), Attributes: map[string]string{"k": "v"}}, ""},
		{"empty body", queue.Message{}, "MissingParameter"},
		{"NUL in body", queue.Message{Body: "a\x00b"}, queue.CodeInvalidContents},
		{"invalid UTF-8", queue.Message{Body: "a\xffb"}, queue.CodeInvalidContents},
		{"control character in attribute", queue.Message{Body: "ok", Attributes: map[string]string{"a": "\x01"}}, queue.CodeInvalidContents},
		{"negative delay", queue.Message{Body: "ok", DelaySeconds: -1}, queue.CodeInvalidParameter},
		{"delay over 900", queue.Message{Body: "ok", DelaySeconds: 901}, queue.CodeInvalidParameter},
		{"too big", queue.Message{Body: strings.Repeat("x", queue.MaxMessageBytes-len("k")-len("String")), Attributes: map[string]string{"k": "v"}}, queue.CodeMessageTooLong},
		{"body over 1 MiB", queue.Message{Body: strings.Repeat("x", queue.MaxMessageBytes+1)}, queue.CodeMessageTooLong},
		{"U+FFFF in body", queue.Message{Body: "a\uFFFFb"}, queue.CodeInvalidContents},
		{"U+FFFE in body", queue.Message{Body: "\uFFFE"}, queue.CodeInvalidContents},
		{"surrogate in body", queue.Message{Body: "a\xed\xa0\x80b"}, queue.CodeInvalidContents},
		{"U+FFFF in attribute", queue.Message{Body: "ok", Attributes: map[string]string{"a": "x\uFFFF"}}, queue.CodeInvalidContents},
		{"last allowed characters", queue.Message{Body: "\uD7FF\uE000\U00010000\U0010FFFF", Attributes: map[string]string{"a": "\uFFFD"}}, ""},
		{"11 attributes", queue.Message{Body: "ok", Attributes: tooMany}, queue.CodeInvalidParameter},
		{"attribute name with space", queue.Message{Body: "ok", Attributes: map[string]string{"a b": "v"}}, queue.CodeInvalidAttribute},
		{"attribute name with leading period", queue.Message{Body: "ok", Attributes: map[string]string{".a": "v"}}, queue.CodeInvalidAttribute},
		{"attribute name with double period", queue.Message{Body: "ok", Attributes: map[string]string{"a..b": "v"}}, queue.CodeInvalidAttribute},
		{"reserved attribute prefix", queue.Message{Body: "ok", Attributes: map[string]string{"AWS.trace": "v"}}, queue.CodeInvalidAttribute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := queue.NewMemory(queue.MemoryConfig{})
			_, err := q.Send(ctx, tt.m)
			var qe *queue.Error
			switch {
			case tt.code == "" && err != nil:
				t.Fatalf("send: %v, want success", err)
			case tt.code == "":
				return
			case !errors.As(err, &qe) || qe.Code != tt.code:
				t.Fatalf("send: %v, want code %s", err, tt.code)
			case !errors.Is(err, queue.ErrInvalidRequest) || queue.IsRetryable(err):
				t.Fatalf("send: %v, want a permanent ErrInvalidRequest", err)
			case errors.Is(err, queue.ErrMessageRefused) != (tt.code == queue.CodeInvalidContents || tt.code == queue.CodeMessageTooLong):
				t.Fatalf("send: %v: ErrMessageRefused %v", err, errors.Is(err, queue.ErrMessageRefused))
			}
			if d, _ := q.Depth(ctx); d.Total() != 0 {
				t.Fatalf("a rejected message was queued: %+v", d)
			}
		})
	}
}

func TestMemoryBatchTooLong(t *testing.T) {
	t.Parallel()
	q := queue.NewMemory(queue.MemoryConfig{})
	half := strings.Repeat("x", queue.MaxMessageBytes/2+1)
	_, err := q.SendBatch(ctx, []queue.Message{{Body: half}, {Body: half}})
	var qe *queue.Error
	if !errors.As(err, &qe) || qe.Code != queue.CodeBatchTooLong || queue.IsRetryable(err) {
		t.Fatalf("send batch over 1 MiB: %v", err)
	}
	if d, _ := q.Depth(ctx); d.Total() != 0 {
		t.Fatalf("part of a rejected batch was queued: %+v", d)
	}
}

func TestMemoryFaults(t *testing.T) {
	t.Parallel()
	throttled := &queue.Error{Op: "SendMessage", Code: queue.CodeThrottling, Retryable: true, Err: errors.New("rate exceeded")}
	network := errors.New("connection reset")
	tests := []struct {
		name      string
		err       error
		retryable bool
		kind      error
	}{
		{"typed throttling", throttled, true, queue.ErrThrottled},
		{"plain error", network, true, network},
		{"cancelled", context.Canceled, false, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := queue.NewMemory(queue.MemoryConfig{})
			q.FailSends(2, tt.err)
			for i := range 2 {
				var err error
				if i == 0 {
					_, err = q.Send(ctx, queue.Message{Body: "x"})
				} else {
					_, err = q.SendBatch(ctx, []queue.Message{{Body: "x"}})
				}
				if !errors.Is(err, tt.kind) || queue.IsRetryable(err) != tt.retryable {
					t.Fatalf("failing send %d: %v (retryable %v), want %v retryable %v", i, err, queue.IsRetryable(err), tt.kind, tt.retryable)
				}
			}
			if d, _ := q.Depth(ctx); d.Total() != 0 {
				t.Fatalf("failed sends queued messages: %+v", d)
			}
			mustSend(t, q, "third")
		})
	}
}

func TestMemoryFaultsOnOtherCalls(t *testing.T) {
	t.Parallel()
	q := queue.NewMemory(queue.MemoryConfig{Now: testclock.New(epoch).Now})
	mustSend(t, q, "m")
	boom := errors.New("boom")

	q.FailNext(queue.OpReceive, 1, boom)
	if _, err := q.Receive(ctx, 1, 0, 0); !errors.Is(err, boom) {
		t.Fatalf("receive: %v", err)
	}
	r := mustReceive(t, q, 1, 0)[0]
	q.FailNext(queue.OpChangeVisibility, 1, boom)
	if err := q.ChangeVisibility(ctx, r.ReceiptHandle, 0); !errors.Is(err, boom) {
		t.Fatalf("change visibility: %v", err)
	}
	q.FailNext(queue.OpDelete, 1, boom)
	if _, err := q.DeleteBatch(ctx, []string{r.ReceiptHandle}); !errors.Is(err, boom) {
		t.Fatalf("delete batch: %v", err)
	}
	if d, _ := q.Depth(ctx); d != (queue.Depth{InFlight: 1}) {
		t.Fatalf("failed calls changed the queue: %+v", d)
	}
	if err := q.Delete(ctx, r.ReceiptHandle); err != nil {
		t.Fatalf("delete after the faults ran out: %v", err)
	}
}

func TestMemoryPeek(t *testing.T) {
	t.Parallel()
	f := newMem(t, 0, 0)
	for _, b := range []string{"a", "b", "c"} {
		mustSend(t, f.main, b)
	}
	r := mustReceive(t, f.main, 3, 0)
	if err := f.main.ChangeVisibility(ctx, r[0].ReceiptHandle, 0); err != nil {
		t.Fatal(err)
	}
	before := f.main.Snapshot()
	got := f.main.Peek(0)
	if len(got) != 3 {
		t.Fatalf("peek returned %d messages, want 3", len(got))
	}
	for i, b := range []string{"a", "b", "c"} {
		if got[i].Body != b || got[i].ReceiptHandle != "" || got[i].ReceiveCount != 1 {
			t.Errorf("peek[%d] = %+v, want body %q, no handle, count 1", i, got[i], b)
		}
	}
	if two := f.main.Peek(2); len(two) != 2 || two[1].Body != "b" {
		t.Errorf("peek(2) = %+v", two)
	}
	if after := f.main.Snapshot(); after != before {
		t.Errorf("peek changed the queue: %+v → %+v", before, after)
	}
}

func TestMemoryLongPollFollowsClock(t *testing.T) {
	t.Parallel()
	f := newMem(t, 0, 0)
	mustSend(t, f.main, "m")
	r := mustReceive(t, f.main, 1, 2*time.Second)[0]
	for _, step := range []struct {
		name string
		wake func()
	}{
		{"fake clock advanced", func() { f.advance(2 * time.Second) }},
		{"visibility changed", func() { _ = f.main.ChangeVisibility(ctx, r.ReceiptHandle, 0) }},
	} {
		name, wake := step.name, step.wake
		done := make(chan []queue.Received, 1)
		start := time.Now()
		go func() {
			got, _ := f.main.Receive(ctx, 1, 10*time.Second, 2*time.Second)
			done <- got
		}()
		time.Sleep(50 * time.Millisecond)
		wake()
		got := <-done
		if len(got) != 1 || time.Since(start) > 5*time.Second {
			t.Fatalf("%s: long poll got %d messages after %v", name, len(got), time.Since(start))
		}
		r = got[0]
	}
}

func TestMemoryLongPollRealClockWakesAtVisibility(t *testing.T) {
	t.Parallel()
	q := queue.NewMemory(queue.MemoryConfig{})
	mustSend(t, q, "m")
	mustReceive(t, q, 1, time.Second)
	start := time.Now()
	got, err := q.Receive(ctx, 1, 10*time.Second, 0)
	elapsed := time.Since(start)
	if err != nil || len(got) != 1 || got[0].ReceiveCount != 2 {
		t.Fatalf("receive: %v, %+v", err, got)
	}
	if elapsed < 500*time.Millisecond || elapsed > 3*time.Second {
		t.Fatalf("the message came back after %v, want about 1 s", elapsed)
	}
}

func TestMemoryConcurrentProducersConsumers(t *testing.T) {
	t.Parallel()
	const producers, perProducer, consumers = 8, 250, 4
	q := queue.NewMemory(queue.MemoryConfig{})
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			for i := range perProducer {
				if _, err := q.Send(ctx, queue.Message{Body: fmt.Sprintf("%d-%d", p, i)}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	var mu sync.Mutex
	seen := map[string]int{}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for range consumers {
		wg.Go(func() {
			for {
				mu.Lock()
				n := len(seen)
				mu.Unlock()
				if n == producers*perProducer || cctx.Err() != nil {
					return
				}
				got, err := q.Receive(cctx, queue.MaxBatch, 100*time.Millisecond, time.Minute)
				if err != nil {
					continue
				}
				handles := make([]string, len(got))
				mu.Lock()
				for i, r := range got {
					seen[r.Body]++
					handles[i] = r.ReceiptHandle
				}
				mu.Unlock()
				if len(handles) > 0 {
					if _, err := q.DeleteBatch(ctx, handles); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	if len(seen) != producers*perProducer {
		t.Fatalf("received %d distinct messages, want %d", len(seen), producers*perProducer)
	}
	for b, n := range seen {
		if n != 1 {
			t.Fatalf("%s received %d times within its visibility timeout", b, n)
		}
	}
	if s := q.Snapshot(); s.Total() != 0 || s.Deleted != producers*perProducer {
		t.Fatalf("after draining: %+v", s)
	}
}

// TestMemoryLargeQueue checks that receives stay cheap with many messages held,
// most of them in flight.
func TestMemoryLargeQueue(t *testing.T) {
	t.Parallel()
	const n = 20000
	clock := testclock.New(epoch)
	q := queue.NewMemory(queue.MemoryConfig{Now: clock.Now})
	batch := make([]queue.Message, queue.MaxBatch)
	for i := range batch {
		batch[i] = queue.Message{Body: "m"}
	}
	start := time.Now()
	for range n / queue.MaxBatch {
		if _, err := q.SendBatch(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	var handles []string
	for range n / queue.MaxBatch {
		got, err := q.Receive(ctx, queue.MaxBatch, 0, 0)
		if err != nil || len(got) != queue.MaxBatch {
			t.Fatalf("receive: %d messages, %v", len(got), err)
		}
		for _, r := range got {
			handles = append(handles, r.ReceiptHandle)
		}
	}
	mustSend(t, q, "last")
	if got := mustReceive(t, q, 1, 0); got[0].Body != "last" {
		t.Fatalf("got %q", got[0].Body)
	}
	for i := 0; i < len(handles); i += queue.MaxBatch {
		if _, err := q.DeleteBatch(ctx, handles[i:i+queue.MaxBatch]); err != nil {
			t.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	t.Logf("%d messages sent, received and deleted in %v", n, elapsed)
	if elapsed > 10*time.Second {
		t.Fatalf("%d messages took %v", n, elapsed)
	}
	if d, _ := q.Depth(ctx); d != (queue.Depth{InFlight: 1}) {
		t.Fatalf("depth %+v", d)
	}
}
