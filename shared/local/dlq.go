package local

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/queue"
	"github.com/tenaz/tenaz/shared/redrive"
)

// DeadLetter is one message of the dead-letter queue, as the live view lists it.
type DeadLetter struct {
	MessageID string `json:"messageId"`
	Key       string `json:"key"`    // source:id, the idempotency key
	Source    string `json:"source"` // the route
	Type      string `json:"type"`
	// Reason is the processor's deadLetterReason (permanent, exhausted,
	// undecodable); empty when SQS moved the message after maxReceiveCount receives.
	Reason string `json:"deadLetterReason"`
	// Destinations names the destinations of a fanned-out event whose failure
	// this message holds (a replay delivers only to them); empty for all.
	Destinations string    `json:"destinations,omitempty"`
	LastError    string    `json:"lastError,omitempty"`
	Attempts     int       `json:"attempts"`               // real attempts made
	FailedAt     string    `json:"failedAt,omitempty"`     // RFC 3339, when it was dead-lettered
	RedriveCount int       `json:"redriveCount,omitempty"` // times replayed already
	SentAt       time.Time `json:"sentAt"`
}

// DLQList is the head of the dead-letter queue.
type DLQList struct {
	Depth    int          `json:"depth"`    // messages in the DLQ (approximate on SQS)
	Messages []DeadLetter `json:"messages"` // at most the limit asked for
	// Listed says how: "peek" (in memory, oldest first, nothing changes) or
	// "receive" (SQS: received and made visible again at once; SQS picks which).
	Listed string `json:"listed"`
}

// Limits of a DLQ listing.
const (
	DLQListDefault = 50  // messages listed when no limit is given
	DLQListMax     = 500 // most messages one listing returns
	// dlqReuse is how long a listing made by receiving is reused, so that several
	// open pages cost at most one listing per interval.
	dlqReuse = 2 * time.Second
	// dlqHold keeps received messages invisible while a listing runs; they are made
	// visible again as soon as it ends, and after dlqHold at the latest.
	dlqHold = 30 * time.Second
)

// peeker lists a queue without receiving it (queue.Memory).
type peeker interface {
	Peek(limit int) []queue.Received
}

type dlqCache struct {
	at    time.Time
	limit int
	list  DLQList
}

// DeadLetters lists up to limit (1..DLQListMax) messages of the dead-letter queue.
// In memory it peeks; on SQS, which has no peek, it receives them and makes them
// visible again at once, never while a redrive runs, and reuses a listing for 2 s.
func (p *Pipeline) DeadLetters(ctx context.Context, limit int) (DLQList, error) {
	if limit <= 0 {
		limit = DLQListDefault
	}
	limit = min(limit, DLQListMax)
	if pk, ok := p.DLQ.(peeker); ok {
		d, err := p.DLQ.Depth(ctx)
		if err != nil {
			return DLQList{}, fmt.Errorf("dlq depth: %w", err)
		}
		return DLQList{Depth: d.Total(), Messages: deadLetters(pk.Peek(limit)), Listed: "peek"}, nil
	}

	p.dlqMu.Lock()
	defer p.dlqMu.Unlock()
	now := time.Now()
	if c := p.dlqCache; now.Sub(c.at) < dlqReuse && c.limit >= limit {
		l := c.list
		l.Messages = l.Messages[:min(limit, len(l.Messages))]
		return l, nil
	}
	d, err := p.DLQ.Depth(ctx)
	if err != nil {
		return DLQList{}, fmt.Errorf("dlq depth: %w", err)
	}
	msgs, err := receiveAndRelease(ctx, p.DLQ, min(limit, d.Visible))
	if err != nil {
		return DLQList{}, fmt.Errorf("dlq listing: %w", err)
	}
	l := DLQList{Depth: d.Total(), Messages: deadLetters(msgs), Listed: "receive"}
	p.dlqCache = dlqCache{at: now, limit: limit, list: l}
	return l, nil
}

// receiveAndRelease receives up to n messages of q and makes every one it received
// visible again before it returns, whatever happened.
func receiveAndRelease(ctx context.Context, q queue.Queue, n int) (out []queue.Received, err error) {
	var changes []queue.VisibilityChange
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		for i := 0; i < len(changes); i += queue.MaxBatch {
			res, berr := q.ChangeVisibilityBatch(rctx, changes[i:min(i+queue.MaxBatch, len(changes))])
			if berr == nil {
				for _, r := range res {
					if r.Err != nil {
						berr = r.Err
						break
					}
				}
			}
			if berr != nil && err == nil {
				err = fmt.Errorf("make listed messages visible again (they come back after %s): %w", dlqHold, berr)
			}
		}
	}()
	for len(out) < n {
		// A long poll, so SQS looks at all of its servers; it returns at once when
		// messages are there.
		batch, rerr := q.Receive(ctx, min(queue.MaxBatch, n-len(out)), time.Second, dlqHold)
		if rerr != nil {
			return out, rerr
		}
		if len(batch) == 0 {
			break
		}
		for _, m := range batch {
			out = append(out, m)
			changes = append(changes, queue.VisibilityChange{ReceiptHandle: m.ReceiptHandle})
		}
	}
	return out, nil
}

// deadLetters reads what the processor and redrive wrote on each message; the
// envelope in the body fills in what the attributes lack.
func deadLetters(ms []queue.Received) []DeadLetter {
	out := make([]DeadLetter, 0, len(ms))
	for _, m := range ms {
		a := m.Attributes
		d := DeadLetter{MessageID: m.ID, Key: a[envelope.AttrKey], Source: a[envelope.AttrSource], Type: a[envelope.AttrType],
			Reason: a[envelope.AttrReason], Destinations: a[envelope.AttrDestinations], LastError: a[envelope.AttrLastError], FailedAt: a[envelope.AttrFailedAt],
			SentAt: m.SentAt}
		d.Attempts, _ = strconv.Atoi(a[envelope.AttrAttempts])
		d.RedriveCount, _ = strconv.Atoi(a[redrive.AttrRedriveCount])
		if d.Key == "" || d.Source == "" || d.Type == "" {
			if e, err := envelope.Decode([]byte(m.Body)); err == nil {
				d.Key, d.Source, d.Type = e.Key(), e.Source, e.Type
			}
		}
		out = append(out, d)
	}
	return out
}
