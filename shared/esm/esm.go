package esm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tenaz/tenaz/shared/queue"
)

// Defaults and limits of Options, the same as Lambda's where Lambda has one.
const (
	DefaultBatchSize     = 10
	MaxBatchSize         = 10000
	MaxBatchingWindow    = 5 * time.Minute
	DefaultPollWait      = 20 * time.Second
	DefaultInvokeTimeout = 30 * time.Second
	DefaultErrorBackoff  = time.Second
	// DeleteTimeout bounds the deletes after an invocation.
	DeleteTimeout = 30 * time.Second
)

// Queue is what the poller calls on the queue.
type Queue interface {
	Receive(ctx context.Context, max int, wait, visibility time.Duration) ([]queue.Received, error)
	DeleteBatch(ctx context.Context, receiptHandles []string) ([]queue.BatchResult, error)
}

// arnQueue is a Queue that can tell its ARN.
type arnQueue interface {
	ARN(ctx context.Context) (string, error)
}

// Invoke runs the function on one batch. An error means the invocation failed (the
// function crashed, timed out or returned an error): nothing in the batch is deleted.
type Invoke func(ctx context.Context, event events.SQSEvent) (events.SQSEventResponse, error)

// Options configure a Poller.
type Options struct {
	Queue  Queue  // the event source (required)
	Invoke Invoke // the function (required)
	// EventSourceARN is the queue ARN put in every record. Default: asked of the
	// queue once, when it has an ARN(ctx) method. The region of every record is
	// taken from it.
	EventSourceARN string
	// BatchSize is the most records per invocation, 1..MaxBatchSize; default 10.
	// Above 10 it needs a BatchingWindow, as in Lambda.
	BatchSize int
	// BatchingWindow is how long to keep receiving after the first message to fill a
	// batch, 0..MaxBatchingWindow; default 0 (invoke with what one receive gave).
	BatchingWindow time.Duration
	// Concurrency is the number of pollers, each with at most one invocation in
	// flight; default 1.
	Concurrency int
	// VisibilityTimeout of received messages; default 0, the queue's own.
	VisibilityTimeout time.Duration
	// PollWait is the long-poll wait of a receive, up to 20 s; default 20 s.
	PollWait time.Duration
	// InvokeTimeout plays the function's timeout: the invocation's context deadline,
	// after which it counts as failed; default 30 s.
	InvokeTimeout time.Duration
	// ErrorBackoff is the pause after a failed receive; default 1 s.
	ErrorBackoff time.Duration
	Log          *slog.Logger // default slog.Default()
	// Observe, when set, is told of every batch, from the pollers' goroutines (so
	// possibly at the same time). It must not block.
	Observe func(Report)
}

// Report is the outcome of one batch.
type Report struct {
	Records   int   // records in the event
	Deleted   int   // records deleted after the invocation
	Failed    int   // records left on the queue to come back after their visibility timeout
	InvokeErr error // the invocation's error, if it failed
	// DeleteErrors counts records that were to be deleted and could not be; they
	// come back like failed ones.
	DeleteErrors int
}

// Stats are a poller's lifetime counters.
type Stats struct {
	Batches       int64 // invocations
	Records       int64 // records handed to the function
	Deleted       int64 // records deleted after an invocation
	Failed        int64 // records left on the queue: batch item failures or a failed invocation
	InvokeErrors  int64 // invocations that failed as a whole
	DeleteErrors  int64 // records that could not be deleted
	ReceiveErrors int64 // receives that failed
}

// Poller stands in for a Lambda SQS event source mapping.
type Poller struct {
	o   Options
	log *slog.Logger

	arnMu  sync.Mutex
	arn    string
	region string

	batches, records, deleted, failed     atomic.Int64
	invokeErrs, deleteErrs, receiveErrors atomic.Int64
}

// New checks o, fills in the defaults and returns a Poller.
func New(o Options) (*Poller, error) {
	switch {
	case o.Queue == nil || o.Invoke == nil:
		return nil, errors.New("esm: Queue and Invoke are required")
	case o.BatchSize < 0 || o.BatchSize > MaxBatchSize:
		return nil, fmt.Errorf("esm: BatchSize %d: must be 1..%d", o.BatchSize, MaxBatchSize)
	case o.BatchingWindow < 0 || o.BatchingWindow > MaxBatchingWindow:
		return nil, fmt.Errorf("esm: BatchingWindow %v: must be 0..%v", o.BatchingWindow, MaxBatchingWindow)
	case o.BatchSize > queue.MaxBatch && o.BatchingWindow == 0:
		return nil, fmt.Errorf("esm: BatchSize %d needs a BatchingWindow (above %d)", o.BatchSize, queue.MaxBatch)
	case o.PollWait < 0 || o.PollWait > queue.MaxWait:
		return nil, fmt.Errorf("esm: PollWait %v: must be 0..%v", o.PollWait, queue.MaxWait)
	}
	if o.EventSourceARN == "" {
		if _, ok := o.Queue.(arnQueue); !ok {
			return nil, errors.New("esm: EventSourceARN is required for a queue without an ARN method")
		}
	}
	if o.BatchSize == 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 1
	}
	if o.PollWait == 0 {
		o.PollWait = DefaultPollWait
	}
	if o.InvokeTimeout <= 0 {
		o.InvokeTimeout = DefaultInvokeTimeout
	}
	if o.ErrorBackoff <= 0 {
		o.ErrorBackoff = DefaultErrorBackoff
	}
	p := &Poller{o: o, log: o.Log}
	if p.log == nil {
		p.log = slog.Default()
	}
	if o.EventSourceARN != "" {
		p.arn, p.region = o.EventSourceARN, regionOf(o.EventSourceARN)
	}
	return p, nil
}

// Run polls with Concurrency pollers until ctx is done, then lets the invocations in
// flight finish (each within InvokeTimeout), deletes what they processed and returns
// nil. Receive errors are logged and retried after ErrorBackoff.
func (p *Poller) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for i := range p.o.Concurrency {
		wg.Go(func() {
			log := p.log.With("poller", i)
			for ctx.Err() == nil {
				if _, err := p.PollOnce(ctx); err != nil && ctx.Err() == nil {
					p.receiveErrors.Add(1)
					log.Warn("esm: poll failed", "err", err, "retryable", queue.IsRetryable(err))
					sleep(ctx, p.o.ErrorBackoff)
				}
			}
		})
	}
	wg.Wait()
	return nil
}

// PollOnce receives one batch (waiting up to PollWait for it), invokes the function
// with it and deletes the records it did not report as failed. With nothing to
// receive it returns an empty Report. The error is for the receive (or the ARN
// lookup); the invocation's outcome is in the Report.
func (p *Poller) PollOnce(ctx context.Context) (Report, error) {
	arn, region, err := p.source(ctx)
	if err != nil {
		return Report{}, err
	}
	batch, err := p.collect(ctx)
	if err != nil || len(batch) == 0 {
		return Report{}, err
	}
	// From here on the batch is ours: finish it even if ctx ends, as Lambda finishes
	// an invocation it started.
	done := context.WithoutCancel(ctx)
	rep := Report{Records: len(batch)}
	resp, err := p.invoke(done, eventIn(batch, arn, region))
	keep := map[string]bool{}
	switch {
	case err != nil:
		rep.InvokeErr = err
		p.log.Warn("esm: invocation failed; the batch returns after its visibility timeout", "records", len(batch), "err", err)
	default:
		if keep, err = failures(resp, batch); err != nil {
			rep.InvokeErr = err
			p.log.Warn("esm: invalid batchItemFailures; the whole batch counts as failed", "records", len(batch), "err", err)
		}
	}
	var handles []string
	if rep.InvokeErr == nil {
		for _, r := range batch {
			if !keep[r.ID] {
				handles = append(handles, r.ReceiptHandle)
			}
		}
	}
	rep.Failed = len(batch) - len(handles)
	rep.Deleted, rep.DeleteErrors = p.delete(done, handles)
	p.count(rep)
	return rep, nil
}

// Stats returns the lifetime counters.
func (p *Poller) Stats() Stats {
	return Stats{
		Batches:       p.batches.Load(),
		Records:       p.records.Load(),
		Deleted:       p.deleted.Load(),
		Failed:        p.failed.Load(),
		InvokeErrors:  p.invokeErrs.Load(),
		DeleteErrors:  p.deleteErrs.Load(),
		ReceiveErrors: p.receiveErrors.Load(),
	}
}

func (p *Poller) count(rep Report) {
	p.batches.Add(1)
	p.records.Add(int64(rep.Records))
	p.deleted.Add(int64(rep.Deleted))
	p.failed.Add(int64(rep.Failed))
	p.deleteErrs.Add(int64(rep.DeleteErrors))
	if rep.InvokeErr != nil {
		p.invokeErrs.Add(1)
	}
	if p.o.Observe != nil {
		p.o.Observe(rep)
	}
}

// source returns the event source ARN and region, asking the queue once.
func (p *Poller) source(ctx context.Context) (string, string, error) {
	p.arnMu.Lock()
	defer p.arnMu.Unlock()
	if p.arn == "" {
		arn, err := p.o.Queue.(arnQueue).ARN(ctx)
		if err != nil {
			return "", "", fmt.Errorf("esm: queue ARN: %w", err)
		}
		p.arn, p.region = arn, regionOf(arn)
	}
	return p.arn, p.region, nil
}

// collect receives up to BatchSize messages: one receive, then more until the
// batching window after the first message closes or the batch is full.
func (p *Poller) collect(ctx context.Context) ([]queue.Received, error) {
	batch, err := p.o.Queue.Receive(ctx, min(p.o.BatchSize, queue.MaxBatch), p.o.PollWait, p.o.VisibilityTimeout)
	if err != nil || len(batch) == 0 || p.o.BatchingWindow == 0 {
		return batch, err
	}
	closes := time.Now().Add(p.o.BatchingWindow)
	for len(batch) < p.o.BatchSize {
		left := time.Until(closes)
		if left <= 0 || ctx.Err() != nil {
			break
		}
		more, err := p.o.Queue.Receive(ctx, min(p.o.BatchSize-len(batch), queue.MaxBatch), min(left, queue.MaxWait), p.o.VisibilityTimeout)
		if err != nil {
			// Invoke with what is already received; it would only come back later.
			p.log.Warn("esm: receive within the batching window failed", "err", err)
			break
		}
		batch = append(batch, more...)
	}
	return batch, nil
}

// invoke calls the function with a deadline of InvokeTimeout. A panic or a function
// still running at the deadline counts as a failed invocation; a function that
// ignores its context keeps running in the background, its result ignored.
func (p *Poller) invoke(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, p.o.InvokeTimeout)
	defer cancel()
	type result struct {
		resp events.SQSEventResponse
		err  error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				done <- result{err: fmt.Errorf("function panicked: %v\n%s", v, debug.Stack())}
			}
		}()
		resp, err := p.o.Invoke(ctx, ev)
		done <- result{resp, err}
	}()
	select {
	case r := <-done:
		if r.err == nil && ctx.Err() != nil {
			// Lambda discards the answer of a function that overran its timeout.
			r.err = fmt.Errorf("function timed out after %v", p.o.InvokeTimeout)
		}
		return r.resp, r.err
	case <-ctx.Done():
		return events.SQSEventResponse{}, fmt.Errorf("function timed out after %v", p.o.InvokeTimeout)
	}
}

// failures returns the message ids the function reported as failed. Like Lambda, it
// rejects the whole response when an itemIdentifier is empty or names no record of
// the batch.
func failures(resp events.SQSEventResponse, batch []queue.Received) (map[string]bool, error) {
	in := make(map[string]bool, len(batch))
	for _, r := range batch {
		in[r.ID] = true
	}
	out := make(map[string]bool, len(resp.BatchItemFailures))
	for _, f := range resp.BatchItemFailures {
		if !in[f.ItemIdentifier] {
			return nil, fmt.Errorf("batchItemFailures names %q, which is not a message id of the batch", f.ItemIdentifier)
		}
		out[f.ItemIdentifier] = true
	}
	return out, nil
}

// delete deletes handles in batches of queue.MaxBatch and counts the outcomes.
func (p *Poller) delete(ctx context.Context, handles []string) (deleted, failed int) {
	ctx, cancel := context.WithTimeout(ctx, DeleteTimeout)
	defer cancel()
	for len(handles) > 0 {
		n := min(len(handles), queue.MaxBatch)
		res, err := p.o.Queue.DeleteBatch(ctx, handles[:n])
		if err != nil {
			failed += n
			p.log.Warn("esm: delete failed; the records will be delivered again", "records", n, "err", err)
		} else {
			for _, r := range res {
				if r.Err != nil {
					failed++
					p.log.Warn("esm: delete failed; the record will be delivered again", "err", r.Err)
				} else {
					deleted++
				}
			}
		}
		handles = handles[n:]
	}
	return deleted, failed
}

// Event builds the SQS event Lambda would deliver for the messages received from the
// queue with the given ARN.
func Event(msgs []queue.Received, sourceARN string) events.SQSEvent {
	return eventIn(msgs, sourceARN, regionOf(sourceARN))
}

func eventIn(msgs []queue.Received, arn, region string) events.SQSEvent {
	ev := events.SQSEvent{Records: make([]events.SQSMessage, len(msgs))}
	for i, m := range msgs {
		rec := events.SQSMessage{
			MessageId:              m.ID,
			ReceiptHandle:          m.ReceiptHandle,
			Body:                   m.Body,
			Md5OfBody:              m.MD5OfBody,
			Md5OfMessageAttributes: m.MD5OfAttributes,
			Attributes: map[string]string{
				"ApproximateReceiveCount":          strconv.Itoa(m.ReceiveCount),
				"SentTimestamp":                    strconv.FormatInt(m.SentAt.UnixMilli(), 10),
				"SenderId":                         m.SenderID,
				"ApproximateFirstReceiveTimestamp": strconv.FormatInt(m.FirstReceivedAt.UnixMilli(), 10),
			},
			MessageAttributes: make(map[string]events.SQSMessageAttribute, len(m.Attributes)),
			EventSourceARN:    arn,
			EventSource:       "aws:sqs",
			AWSRegion:         region,
		}
		if rec.Md5OfBody == "" {
			rec.Md5OfBody = queue.BodyMD5(m.Body)
		}
		if rec.Md5OfMessageAttributes == "" {
			rec.Md5OfMessageAttributes = queue.AttributesMD5(m.Attributes)
		}
		for k, v := range m.Attributes {
			rec.MessageAttributes[k] = events.SQSMessageAttribute{
				StringValue:      &v,
				StringListValues: []string{},
				BinaryListValues: [][]byte{},
				DataType:         "String",
			}
		}
		ev.Records[i] = rec
	}
	return ev
}

// regionOf returns the region field of an ARN (arn:partition:service:region:…).
func regionOf(arn string) string {
	parts := strings.SplitN(arn, ":", 5)
	if len(parts) < 5 {
		return ""
	}
	return parts[3]
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
