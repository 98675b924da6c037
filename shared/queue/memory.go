package queue

import (
	"cmp"
	"container/heap"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Defaults of MemoryConfig, the same as a new SQS queue's.
const (
	DefaultVisibilityTimeout = 30 * time.Second
	DefaultRetention         = 4 * 24 * time.Hour
)

// What the in-memory queue reports where SQS reports an account, region and sender.
const (
	MemoryAccount  = "000000000000"
	MemoryRegion   = "us-east-1"
	MemorySenderID = "tenaz-memory"
)

// MemoryConfig configures an in-memory queue.
type MemoryConfig struct {
	Name string // queue name, part of URL and ARN; default "queue"
	// VisibilityTimeout is the queue's default visibility timeout, in whole seconds
	// (rounded up); default 30 s.
	VisibilityTimeout time.Duration
	// MaxReceiveCount is the redrive policy's maxReceiveCount: a message received
	// that many times moves to DeadLetter instead of being received once more.
	// 0 (or no DeadLetter) means no redrive.
	MaxReceiveCount int
	DeadLetter      *Memory
	// Retention is how long a message is kept after it was first sent (a message
	// moved to the dead-letter queue keeps its sent time); default 4 days.
	Retention time.Duration
	Now       func() time.Time // clock; default time.Now
}

// Op names a group of calls for FailNext.
type Op string

// Calls FailNext can make fail.
const (
	OpSend             Op = "send"              // Send, SendBatch
	OpReceive          Op = "receive"           // Receive
	OpDelete           Op = "delete"            // Delete, DeleteBatch
	OpChangeVisibility Op = "change-visibility" // ChangeVisibility, ChangeVisibilityBatch
)

// MemoryStats are an in-memory queue's depth and lifetime counters.
type MemoryStats struct {
	Depth
	Sent       int // messages accepted by Send/SendBatch or moved in from a source queue
	Received   int // messages handed out by Receive (one per receive)
	Deleted    int // messages deleted
	MovedToDLQ int // messages moved to the dead-letter queue
	Expired    int // messages dropped after the retention period
}

// Memory is a queue in memory with the semantics of an SQS standard queue: visibility
// timeouts on an injected clock, receipt handles that go stale when a message is
// received again, ApproximateReceiveCount, delays, batch limits, long polling and a
// redrive policy applied lazily on receive. It is safe for concurrent use; each call
// costs O(log n) in the number of messages held (Depth and Peek: O(n)).
type Memory struct {
	name      string
	vt        time.Duration
	retention time.Duration
	maxRecv   int
	dlq       *Memory
	now       func() time.Time

	mu       sync.Mutex
	seq      uint64
	ready    msgHeap             // every message held, by the time it is visible
	byHandle map[string]*message // current receipt handle → message
	deleted  map[string]bool     // handles of deleted messages (deleting again succeeds)
	delLog   []deletedHandle     // deleted in order, to forget them after the retention period
	changed  chan struct{}       // closed and replaced when a message may have become visible
	faults   map[Op]*fault
	stats    MemoryStats
}

var _ Queue = (*Memory)(nil)

type message struct {
	id              string
	body            string
	attrs           map[string]string
	md5Body         string
	md5Attrs        string
	sentAt          time.Time
	firstReceivedAt time.Time
	receivedAt      time.Time // of the latest receive
	receiveCount    int
	visibleAt       time.Time // delay or visibility timeout end
	handle          string    // current receipt handle; "" before the first receive
	seq             uint64
	index           int // in the heap
}

type deletedHandle struct {
	handle string
	at     time.Time
}

type fault struct {
	n   int
	err error
}

// NewMemory returns an empty in-memory queue.
func NewMemory(c MemoryConfig) *Memory {
	q := &Memory{
		name:      c.Name,
		vt:        time.Duration(seconds(c.VisibilityTimeout, MaxVisibility)) * time.Second,
		retention: c.Retention,
		maxRecv:   c.MaxReceiveCount,
		dlq:       c.DeadLetter,
		now:       c.Now,
		byHandle:  make(map[string]*message),
		deleted:   make(map[string]bool),
		changed:   make(chan struct{}),
		faults:    make(map[Op]*fault),
	}
	if q.name == "" {
		q.name = "queue"
	}
	if c.VisibilityTimeout <= 0 {
		q.vt = DefaultVisibilityTimeout
	}
	if q.retention <= 0 {
		q.retention = DefaultRetention
	}
	if q.now == nil {
		q.now = time.Now
	}
	return q
}

// Name returns the queue name.
func (q *Memory) Name() string { return q.name }

// URL returns "memory://" and the queue name.
func (q *Memory) URL() string { return "memory://" + q.name }

// ARN returns an SQS-shaped ARN in MemoryRegion and MemoryAccount.
func (q *Memory) ARN(context.Context) (string, error) {
	return "arn:aws:sqs:" + MemoryRegion + ":" + MemoryAccount + ":" + q.name, nil
}

// FailNext makes the next n calls of op fail with err, as if SQS had failed them,
// before they change anything. An err that is not an *Error is wrapped in one that is
// retryable unless IsRetryable(err) says otherwise.
func (q *Memory) FailNext(op Op, n int, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if n <= 0 {
		delete(q.faults, op)
		return
	}
	q.faults[op] = &fault{n: n, err: err}
}

// FailSends makes the next n Send or SendBatch calls fail with err.
func (q *Memory) FailSends(n int, err error) { q.FailNext(OpSend, n, err) }

// failure consumes one injected fault of op. Callers hold q.mu.
func (q *Memory) failure(op Op, action string) error {
	f := q.faults[op]
	if f == nil {
		return nil
	}
	if f.n--; f.n <= 0 {
		delete(q.faults, op)
	}
	var qe *Error
	if errors.As(f.err, &qe) {
		return f.err
	}
	return &Error{Op: action, Queue: q.URL(), Retryable: IsRetryable(f.err), Err: f.err}
}

// Wake makes long-polling receivers look at the queue again. Tests call it after
// moving a fake clock forward.
func (q *Memory) Wake() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.notify()
}

// notify wakes long-polling receivers. Callers hold q.mu.
func (q *Memory) notify() {
	close(q.changed)
	q.changed = make(chan struct{})
}

// Send sends one message.
func (q *Memory) Send(ctx context.Context, m Message) (string, error) {
	const action = "SendMessage"
	if err := ctx.Err(); err != nil {
		return "", wrap(action, q.URL(), err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.failure(OpSend, action); err != nil {
		return "", err
	}
	attrs, err := q.validate(action, m)
	if err != nil {
		return "", err
	}
	return q.add(m, attrs), nil
}

// SendBatch sends 1..MaxBatch messages. Entries that SQS would reject fail alone.
func (q *Memory) SendBatch(ctx context.Context, ms []Message) ([]BatchResult, error) {
	const action = "SendMessageBatch"
	if err := ctx.Err(); err != nil {
		return nil, wrap(action, q.URL(), err)
	}
	if err := checkBatch(action, q.URL(), len(ms)); err != nil {
		return nil, err
	}
	total := 0
	for _, m := range ms {
		total += messageBytes(m.Body, sendable(m.Attributes))
	}
	if total > MaxMessageBytes {
		return nil, permanent(action, q.URL(), CodeBatchTooLong, "batch of %d bytes, at most %d", total, MaxMessageBytes)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.failure(OpSend, action); err != nil {
		return nil, err
	}
	res := make([]BatchResult, len(ms))
	for i, m := range ms {
		attrs, err := q.validate(action, m)
		if err != nil {
			res[i].Err = err
			continue
		}
		res[i].ID = q.add(m, attrs)
	}
	return res, nil
}

// validate checks m as SQS does and returns the attributes to keep.
func (q *Memory) validate(action string, m Message) (map[string]string, error) {
	attrs := sendable(m.Attributes)
	switch {
	case m.Body == "":
		return nil, permanent(action, q.URL(), "MissingParameter", "the message body is empty")
	case m.DelaySeconds < 0 || m.DelaySeconds > MaxDelaySeconds:
		return nil, permanent(action, q.URL(), CodeInvalidParameter, "DelaySeconds %d: must be 0..%d", m.DelaySeconds, MaxDelaySeconds)
	case len(attrs) > MaxAttributes:
		return nil, permanent(action, q.URL(), CodeInvalidParameter, "%d message attributes, at most %d", len(attrs), MaxAttributes)
	}
	for k := range attrs {
		if !validAttributeName(k) {
			return nil, permanent(action, q.URL(), CodeInvalidAttribute, "message attribute name %q is invalid", k)
		}
	}
	if err := refuse(action, q.URL(), m.Body, attrs); err != nil {
		return nil, err
	}
	return attrs, nil
}

// add puts a validated message on the queue. Callers hold q.mu.
func (q *Memory) add(m Message, attrs map[string]string) string {
	now := q.now()
	msg := &message{
		id:        newID(),
		body:      m.Body,
		attrs:     attrs,
		md5Body:   BodyMD5(m.Body),
		md5Attrs:  AttributesMD5(attrs),
		sentAt:    time.UnixMilli(now.UnixMilli()),
		visibleAt: now.Add(time.Duration(m.DelaySeconds) * time.Second),
	}
	q.push(msg)
	return msg.id
}

func (q *Memory) push(m *message) {
	q.seq++
	m.seq = q.seq
	heap.Push(&q.ready, m)
	q.stats.Sent++
	q.notify()
}

// accept takes a message redriven from a source queue: a new id and no receipt
// handle; body, attributes, sent time and receive count stay.
func (q *Memory) accept(from *message) {
	q.mu.Lock()
	defer q.mu.Unlock()
	m := *from
	m.id = newID()
	m.handle = ""
	m.visibleAt = q.now()
	q.push(&m)
}

// Receive returns up to max messages, long-polling up to wait (at most MaxWait) on a
// real timer, and wakes early when a message is sent or made visible.
func (q *Memory) Receive(ctx context.Context, maxMessages int, wait, visibility time.Duration) ([]Received, error) {
	const action = "ReceiveMessage"
	if maxMessages < 1 || maxMessages > MaxBatch {
		return nil, permanent(action, q.URL(), CodeInvalidParameter, "max %d messages: must be 1..%d", maxMessages, MaxBatch)
	}
	vis := q.vt
	if visibility > 0 {
		vis = time.Duration(seconds(visibility, MaxVisibility)) * time.Second
	}
	wait = min(wait, MaxWait)
	var deadline <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		deadline = t.C
	}
	for last := wait <= 0; ; {
		if err := ctx.Err(); err != nil {
			return nil, wrap(action, q.URL(), err)
		}
		out, next, changed, err := q.receiveOnce(action, maxMessages, vis)
		if err != nil || len(out) > 0 || last {
			return out, err
		}
		// Wake when a message may have arrived or become visible, when the clock says
		// the next one is due, or when the wait is over.
		var soon <-chan time.Time
		var t *time.Timer
		if !next.IsZero() {
			t = time.NewTimer(max(next.Sub(q.now()), time.Millisecond))
			soon = t.C
		}
		select {
		case <-changed:
		case <-soon:
		case <-deadline:
			last = true
		case <-ctx.Done():
		}
		if t != nil {
			t.Stop()
		}
	}
}

// receiveOnce takes up to maxMessages visible messages. It also returns when the next
// message becomes visible (zero if none is waiting) and the channel that is closed
// on the next change.
func (q *Memory) receiveOnce(action string, maxMessages int, vis time.Duration) ([]Received, time.Time, <-chan struct{}, error) {
	q.mu.Lock()
	if err := q.failure(OpReceive, action); err != nil {
		q.mu.Unlock()
		return nil, time.Time{}, nil, err
	}
	now := q.now()
	var (
		out   []Received
		taken []*message
		moved []*message
	)
	for len(out) < maxMessages && q.ready.Len() > 0 && !q.ready[0].visibleAt.After(now) {
		m := heap.Pop(&q.ready).(*message)
		switch {
		case q.expired(m, now):
			q.forget(m)
			q.stats.Expired++
		case q.dlq != nil && q.maxRecv > 0 && m.receiveCount >= q.maxRecv:
			q.forget(m)
			q.stats.MovedToDLQ++
			moved = append(moved, m)
		default:
			delete(q.byHandle, m.handle)
			m.handle = rand.Text() + rand.Text()
			q.byHandle[m.handle] = m
			m.receiveCount++
			if m.firstReceivedAt.IsZero() {
				m.firstReceivedAt = time.UnixMilli(now.UnixMilli())
			}
			m.receivedAt = now
			m.visibleAt = now.Add(vis)
			taken = append(taken, m)
			out = append(out, m.received())
		}
	}
	for _, m := range taken {
		heap.Push(&q.ready, m)
	}
	q.stats.Received += len(out)
	var next time.Time
	if q.ready.Len() > 0 {
		next = q.ready[0].visibleAt
	}
	changed := q.changed
	q.mu.Unlock()

	for _, m := range moved {
		q.dlq.accept(m)
	}
	return out, next, changed, nil
}

func (q *Memory) expired(m *message, now time.Time) bool {
	return !now.Before(m.sentAt.Add(q.retention))
}

// forget drops the receipt handle of a message leaving the queue. Callers hold q.mu.
func (q *Memory) forget(m *message) {
	if m.handle != "" {
		delete(q.byHandle, m.handle)
	}
}

func (m *message) received() Received {
	r := Received{
		ID:              m.id,
		ReceiptHandle:   m.handle,
		Body:            m.body,
		ReceiveCount:    m.receiveCount,
		SentAt:          m.sentAt,
		FirstReceivedAt: m.firstReceivedAt,
		SenderID:        MemorySenderID,
		MD5OfBody:       m.md5Body,
		MD5OfAttributes: m.md5Attrs,
	}
	if len(m.attrs) > 0 {
		r.Attributes = maps.Clone(m.attrs)
	}
	return r
}

// Delete deletes the message whose current receipt handle is h.
func (q *Memory) Delete(ctx context.Context, h string) error {
	const action = "DeleteMessage"
	if err := ctx.Err(); err != nil {
		return wrap(action, q.URL(), err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.failure(OpDelete, action); err != nil {
		return err
	}
	return q.delete(action, h)
}

// DeleteBatch deletes 1..MaxBatch messages.
func (q *Memory) DeleteBatch(ctx context.Context, handles []string) ([]BatchResult, error) {
	const action = "DeleteMessageBatch"
	if err := ctx.Err(); err != nil {
		return nil, wrap(action, q.URL(), err)
	}
	if err := checkBatch(action, q.URL(), len(handles)); err != nil {
		return nil, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.failure(OpDelete, action); err != nil {
		return nil, err
	}
	res := make([]BatchResult, len(handles))
	for i, h := range handles {
		res[i].Err = q.delete(action, h)
	}
	return res, nil
}

// delete removes the message with current handle h. Callers hold q.mu.
func (q *Memory) delete(action, h string) error {
	now := q.now()
	for len(q.delLog) > 0 && !now.Before(q.delLog[0].at.Add(q.retention)) {
		delete(q.deleted, q.delLog[0].handle)
		q.delLog = q.delLog[1:]
	}
	if m := q.byHandle[h]; m != nil {
		heap.Remove(&q.ready, m.index)
		delete(q.byHandle, h)
		q.deleted[h] = true
		q.delLog = append(q.delLog, deletedHandle{handle: h, at: now})
		q.stats.Deleted++
		return nil
	}
	if q.deleted[h] {
		return nil
	}
	return permanent(action, q.URL(), CodeReceiptHandleInvalid, "receipt handle %q is not the current handle of any message", short(h))
}

// ChangeVisibility makes the in-flight message with current handle h visible again
// after d.
func (q *Memory) ChangeVisibility(ctx context.Context, h string, d time.Duration) error {
	const action = "ChangeMessageVisibility"
	if err := ctx.Err(); err != nil {
		return wrap(action, q.URL(), err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.failure(OpChangeVisibility, action); err != nil {
		return err
	}
	return q.changeVisibility(action, h, d)
}

// ChangeVisibilityBatch changes the visibility of 1..MaxBatch messages.
func (q *Memory) ChangeVisibilityBatch(ctx context.Context, changes []VisibilityChange) ([]BatchResult, error) {
	const action = "ChangeMessageVisibilityBatch"
	if err := ctx.Err(); err != nil {
		return nil, wrap(action, q.URL(), err)
	}
	if err := checkBatch(action, q.URL(), len(changes)); err != nil {
		return nil, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.failure(OpChangeVisibility, action); err != nil {
		return nil, err
	}
	res := make([]BatchResult, len(changes))
	for i, c := range changes {
		res[i].Err = q.changeVisibility(action, c.ReceiptHandle, c.Timeout)
	}
	return res, nil
}

// changeVisibility applies SQS's rules: the handle must be current, the message in
// flight, and the new timeout may not end more than MaxVisibility after the receive.
// Callers hold q.mu.
func (q *Memory) changeVisibility(action, h string, d time.Duration) error {
	m := q.byHandle[h]
	if m == nil {
		return permanent(action, q.URL(), CodeReceiptHandleInvalid, "receipt handle %q is not the current handle of any message", short(h))
	}
	now := q.now()
	if !m.visibleAt.After(now) {
		return permanent(action, q.URL(), CodeMessageNotInflight, "message %s is visible, not in flight", m.id)
	}
	secs := seconds(d, MaxVisibility)
	at := now.Add(time.Duration(secs) * time.Second)
	if at.Sub(m.receivedAt) > MaxVisibility {
		return permanent(action, q.URL(), CodeInvalidParameter, "VisibilityTimeout %d s would end more than %s after the receive", secs, MaxVisibility)
	}
	m.visibleAt = at
	heap.Fix(&q.ready, m.index)
	q.notify()
	return nil
}

// Depth counts the messages by state on the queue's clock.
func (q *Memory) Depth(ctx context.Context) (Depth, error) {
	if err := ctx.Err(); err != nil {
		return Depth{}, wrap("GetQueueAttributes", q.URL(), err)
	}
	return q.Snapshot().Depth, nil
}

// Snapshot returns the depth and the lifetime counters.
func (q *Memory) Snapshot() MemoryStats {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.now()
	s := q.stats
	s.Depth = Depth{}
	for _, m := range q.ready {
		switch {
		case q.expired(m, now):
		case !m.visibleAt.After(now):
			s.Visible++
		case m.receiveCount == 0:
			s.Delayed++
		default:
			s.InFlight++
		}
	}
	return s
}

// Peek lists up to limit messages (all when limit <= 0) in the order they were put
// on this queue, without receiving them: no receipt handle, no change to receive
// counts or visibility.
func (q *Memory) Peek(limit int) []Received {
	q.mu.Lock()
	now := q.now()
	held := make([]*message, 0, len(q.ready))
	for _, m := range q.ready {
		if !q.expired(m, now) {
			held = append(held, m)
		}
	}
	slices.SortFunc(held, func(a, b *message) int { return cmp.Compare(a.seq, b.seq) })
	if limit > 0 && len(held) > limit {
		held = held[:limit]
	}
	out := make([]Received, len(held))
	for i, m := range held {
		out[i] = m.received()
		out[i].ReceiptHandle = ""
	}
	q.mu.Unlock()
	return out
}

// msgHeap orders messages by the time they become visible, then by arrival.
type msgHeap []*message

func (h msgHeap) Len() int { return len(h) }
func (h msgHeap) Less(i, j int) bool {
	if !h[i].visibleAt.Equal(h[j].visibleAt) {
		return h[i].visibleAt.Before(h[j].visibleAt)
	}
	return h[i].seq < h[j].seq
}
func (h msgHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *msgHeap) Push(x any) {
	m := x.(*message)
	m.index = len(*h)
	*h = append(*h, m)
}
func (h *msgHeap) Pop() any {
	old := *h
	n := len(old)
	m := old[n-1]
	old[n-1] = nil
	m.index = -1
	*h = old[:n-1]
	return m
}

// newID returns a random UUID (version 4), the shape of an SQS message id.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// messageBytes is the size SQS counts against MaxMessageBytes.
func messageBytes(body string, attrs map[string]string) int {
	n := len(body)
	for k, v := range attrs {
		n += len(k) + len("String") + len(v)
	}
	return n
}

// refuse returns the error (ErrMessageRefused) for a message SQS can never accept,
// or nil: a body or attribute value (attrs, the sendable ones) with a character
// outside the allowed set, or body and attributes together over MaxMessageBytes.
func refuse(action, queueURL, body string, attrs map[string]string) *Error {
	if !validContents(body) {
		return permanent(action, queueURL, CodeInvalidContents, "the message body contains characters outside the allowed set")
	}
	for k, v := range attrs {
		if !validContents(v) {
			return permanent(action, queueURL, CodeInvalidContents, "message attribute %q contains characters outside the allowed set", k)
		}
	}
	if n := messageBytes(body, attrs); n > MaxMessageBytes {
		return permanent(action, queueURL, CodeMessageTooLong, "message of %d bytes, body and attributes, at most %d", n, MaxMessageBytes)
	}
	return nil
}

// validContents reports whether s holds only the characters SQS accepts:
// #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF.
func validContents(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		switch {
		case r == 0x9 || r == 0xA || r == 0xD:
		case r >= 0x20 && r <= 0xD7FF:
		case r >= 0xE000 && r <= 0xFFFD:
		case r >= 0x10000 && r <= 0x10FFFF:
		default:
			return false
		}
	}
	return true
}

// validAttributeName applies SQS's rules: 1..256 of A-Z a-z 0-9 _ - ., no leading,
// trailing or doubled period, no "AWS." or "Amazon." prefix.
func validAttributeName(k string) bool {
	if k == "" || len(k) > 256 || k[0] == '.' || k[len(k)-1] == '.' || strings.Contains(k, "..") {
		return false
	}
	lower := strings.ToLower(k)
	if strings.HasPrefix(lower, "aws.") || strings.HasPrefix(lower, "amazon.") {
		return false
	}
	for _, c := range k {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'
		if !ok {
			return false
		}
	}
	return true
}

// short abbreviates a receipt handle for error messages.
func short(h string) string {
	if len(h) > 16 {
		return h[:16] + "…"
	}
	return h
}
