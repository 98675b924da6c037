package queue

import (
	"context"
	"time"
)

// SQS limits this package applies the same way in every adapter.
const (
	// MaxBatch is the most entries one batch call (send, delete, change
	// visibility) or one receive may carry: 10.
	MaxBatch = 10
	// MaxWait is the longest long poll of one receive: 20 s.
	MaxWait = 20 * time.Second
	// MaxVisibility is the longest visibility timeout: 12 h.
	MaxVisibility = 12 * time.Hour
	// MaxDelaySeconds is the largest per-message delay: 900 (15 min).
	MaxDelaySeconds = 900
	// MaxMessageBytes is the largest message, body and attributes together, and the
	// largest batch, all entries together: 1 MiB.
	MaxMessageBytes = 1 << 20
	// MaxAttributes is the most message attributes one message may carry: 10.
	MaxAttributes = 10
)

// Message is what a producer sends.
type Message struct {
	Body string
	// Attributes become SQS message attributes of DataType String. An attribute whose
	// value is empty is left out (SQS rejects empty values).
	Attributes map[string]string
	// DelaySeconds keeps the message invisible for that many seconds after the send
	// (0..900); 0 means no delay.
	DelaySeconds int32
}

// Received is one message as a consumer receives it.
type Received struct {
	ID            string // the SQS message id; a message moved to a dead-letter queue gets a new one
	ReceiptHandle string // valid until the message is received again; empty from Peek
	Body          string
	Attributes    map[string]string // message attributes with a string value (String, Number)
	// ReceiveCount is ApproximateReceiveCount: 1 on the first receive, one more on
	// every receive after that.
	ReceiveCount    int
	SentAt          time.Time // SentTimestamp (millisecond precision)
	FirstReceivedAt time.Time // ApproximateFirstReceiveTimestamp (millisecond precision)
	SenderID        string    // SenderId: the principal that sent the message
	MD5OfBody       string    // hex MD5 of Body, as SQS computes it
	// MD5OfAttributes is the hex MD5 of the message attributes as SQS computes it
	// (see AttributesMD5); empty when the message has none.
	MD5OfAttributes string
}

// BatchResult is the outcome of one entry of a batch call. A batch call returns one
// per entry, in the order of the entries.
type BatchResult struct {
	ID  string // the new message id (SendBatch only)
	Err error  // nil on success; otherwise an *Error saying whether a retry helps
}

// VisibilityChange is one entry of ChangeVisibilityBatch.
type VisibilityChange struct {
	ReceiptHandle string
	Timeout       time.Duration // rounded up to whole seconds, clamped to 0..MaxVisibility
}

// Depth is the approximate number of messages in a queue by state.
type Depth struct {
	Visible  int // ApproximateNumberOfMessages: ready to be received
	InFlight int // ApproximateNumberOfMessagesNotVisible: received, neither deleted nor visible again
	Delayed  int // ApproximateNumberOfMessagesDelayed: sent with a delay that has not passed
}

// Total is the number of messages the queue holds in any state.
func (d Depth) Total() int { return d.Visible + d.InFlight + d.Delayed }

// Queue is the whole port: what the SQS and the in-memory adapters both offer and the
// contract suite (queuetest) checks. Code that uses a queue should declare the few
// methods it calls instead.
type Queue interface {
	// Send puts one message on the queue and returns its id.
	Send(ctx context.Context, m Message) (id string, err error)
	// SendBatch sends 1..MaxBatch messages in one call. The error is for the call as a
	// whole (nothing was sent); per-entry failures are in the results.
	SendBatch(ctx context.Context, ms []Message) ([]BatchResult, error)
	// Receive returns up to max (1..MaxBatch) messages. It waits up to wait
	// (clamped to MaxWait) for the first message and returns as soon as there is
	// one. The messages stay invisible for visibility; 0 means the queue's default.
	Receive(ctx context.Context, max int, wait, visibility time.Duration) ([]Received, error)
	// Delete removes the message received with receiptHandle. Deleting an already
	// deleted message again is not an error; an unknown handle is
	// ErrReceiptHandleInvalid. A stale handle (the message was received again since)
	// is ErrReceiptHandleInvalid on the in-memory queue; SQS may accept it without
	// deleting, and moto deletes with it.
	Delete(ctx context.Context, receiptHandle string) error
	// DeleteBatch deletes 1..MaxBatch messages in one call.
	DeleteBatch(ctx context.Context, receiptHandles []string) ([]BatchResult, error)
	// ChangeVisibility makes an in-flight message visible again after d (rounded up to
	// whole seconds, clamped to 0..MaxVisibility); 0 makes it visible at once.
	ChangeVisibility(ctx context.Context, receiptHandle string, d time.Duration) error
	// ChangeVisibilityBatch changes the visibility of 1..MaxBatch messages in one call.
	ChangeVisibilityBatch(ctx context.Context, changes []VisibilityChange) ([]BatchResult, error)
	// Depth returns the approximate number of messages by state.
	Depth(ctx context.Context) (Depth, error)
	// ARN returns the queue's ARN (the eventSourceARN of Lambda's SQS events).
	ARN(ctx context.Context) (string, error)
	// URL returns the queue's URL.
	URL() string
}

// seconds converts d to whole seconds for SQS: rounded up, clamped to 0..max.
func seconds(d, max time.Duration) int32 {
	if d <= 0 {
		return 0
	}
	if d > max {
		d = max
	}
	return int32((d + time.Second - 1) / time.Second)
}

// sendable returns the attributes SQS will accept: those with a non-empty value.
func sendable(attrs map[string]string) map[string]string {
	var out map[string]string
	for k, v := range attrs {
		if v != "" {
			if out == nil {
				out = make(map[string]string, len(attrs))
			}
			out[k] = v
		}
	}
	return out
}
