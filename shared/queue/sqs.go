package queue

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// SQSAPI is the part of the SQS client the adapter calls.
type SQSAPI interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
	ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, opts ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

// SQS is the queue port on Amazon SQS. It is safe for concurrent use.
type SQS struct {
	client SQSAPI
	url    string

	mu  sync.Mutex
	arn string // cached QueueArn
}

var _ Queue = (*SQS)(nil)

// NewSQS returns the adapter for the queue at queueURL.
func NewSQS(client SQSAPI, queueURL string) *SQS {
	return &SQS{client: client, url: queueURL}
}

// URL returns the queue URL.
func (q *SQS) URL() string { return q.url }

// Send sends one message. A message SQS can never accept (ErrMessageRefused) is
// refused without calling SQS.
func (q *SQS) Send(ctx context.Context, m Message) (string, error) {
	if err := refuse("SendMessage", q.url, m.Body, sendable(m.Attributes)); err != nil {
		return "", err
	}
	out, err := q.client.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:          &q.url,
		MessageBody:       aws.String(m.Body),
		DelaySeconds:      m.DelaySeconds,
		MessageAttributes: toSQSAttributes(m.Attributes),
	})
	if err != nil {
		return "", wrap("SendMessage", q.url, err)
	}
	return aws.ToString(out.MessageId), nil
}

// SendBatch sends 1..MaxBatch messages in one call. An entry SQS can never accept
// (ErrMessageRefused) fails alone, without being sent.
func (q *SQS) SendBatch(ctx context.Context, ms []Message) ([]BatchResult, error) {
	const op = "SendMessageBatch"
	if err := checkBatch(op, q.url, len(ms)); err != nil {
		return nil, err
	}
	res := make([]BatchResult, len(ms))
	seen := make([]bool, len(ms))
	entries := make([]types.SendMessageBatchRequestEntry, 0, len(ms))
	for i, m := range ms {
		if err := refuse(op, q.url, m.Body, sendable(m.Attributes)); err != nil {
			res[i].Err, seen[i] = err, true
			continue
		}
		entries = append(entries, types.SendMessageBatchRequestEntry{
			Id:                aws.String(strconv.Itoa(i)),
			MessageBody:       aws.String(m.Body),
			DelaySeconds:      m.DelaySeconds,
			MessageAttributes: toSQSAttributes(m.Attributes),
		})
	}
	if len(entries) == 0 {
		return res, nil
	}
	out, err := q.client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &q.url, Entries: entries})
	if err != nil {
		return nil, wrap(op, q.url, err)
	}
	for _, s := range out.Successful {
		if i, ok := entryIndex(s.Id, len(ms)); ok {
			res[i].ID, seen[i] = aws.ToString(s.MessageId), true
		}
	}
	q.batchFailures(op, out.Failed, res, seen)
	return res, nil
}

// Receive returns up to max messages, long-polling up to wait (whole seconds, rounded
// up, at most MaxWait). visibility 0 uses the queue's default.
func (q *SQS) Receive(ctx context.Context, max int, wait, visibility time.Duration) ([]Received, error) {
	const op = "ReceiveMessage"
	if max < 1 || max > MaxBatch {
		return nil, permanent(op, q.url, CodeInvalidParameter, "max %d messages: must be 1..%d", max, MaxBatch)
	}
	out, err := q.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    &q.url,
		MaxNumberOfMessages:         int32(max),
		WaitTimeSeconds:             seconds(wait, MaxWait),
		VisibilityTimeout:           seconds(visibility, MaxVisibility),
		MessageAttributeNames:       []string{"All"},
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
	})
	if err != nil {
		return nil, wrap(op, q.url, err)
	}
	res := make([]Received, 0, len(out.Messages))
	for _, m := range out.Messages {
		res = append(res, fromSQS(m))
	}
	return res, nil
}

// Delete deletes the message received with receiptHandle.
func (q *SQS) Delete(ctx context.Context, receiptHandle string) error {
	_, err := q.client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &q.url, ReceiptHandle: &receiptHandle})
	return wrap("DeleteMessage", q.url, err)
}

// DeleteBatch deletes 1..MaxBatch messages in one call.
func (q *SQS) DeleteBatch(ctx context.Context, receiptHandles []string) ([]BatchResult, error) {
	const op = "DeleteMessageBatch"
	if err := checkBatch(op, q.url, len(receiptHandles)); err != nil {
		return nil, err
	}
	entries := make([]types.DeleteMessageBatchRequestEntry, len(receiptHandles))
	for i, h := range receiptHandles {
		entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(h)}
	}
	out, err := q.client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: &q.url, Entries: entries})
	if err != nil {
		return nil, wrap(op, q.url, err)
	}
	res := make([]BatchResult, len(receiptHandles))
	seen := make([]bool, len(receiptHandles))
	for _, s := range out.Successful {
		if i, ok := entryIndex(s.Id, len(receiptHandles)); ok {
			seen[i] = true
		}
	}
	q.batchFailures(op, out.Failed, res, seen)
	return res, nil
}

// ChangeVisibility sets the visibility timeout of an in-flight message to d.
func (q *SQS) ChangeVisibility(ctx context.Context, receiptHandle string, d time.Duration) error {
	_, err := q.client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl:          &q.url,
		ReceiptHandle:     &receiptHandle,
		VisibilityTimeout: seconds(d, MaxVisibility),
	})
	return wrap("ChangeMessageVisibility", q.url, err)
}

// ChangeVisibilityBatch changes the visibility of 1..MaxBatch messages in one call.
func (q *SQS) ChangeVisibilityBatch(ctx context.Context, changes []VisibilityChange) ([]BatchResult, error) {
	const op = "ChangeMessageVisibilityBatch"
	if err := checkBatch(op, q.url, len(changes)); err != nil {
		return nil, err
	}
	entries := make([]types.ChangeMessageVisibilityBatchRequestEntry, len(changes))
	for i, c := range changes {
		entries[i] = types.ChangeMessageVisibilityBatchRequestEntry{
			Id:                aws.String(strconv.Itoa(i)),
			ReceiptHandle:     aws.String(c.ReceiptHandle),
			VisibilityTimeout: seconds(c.Timeout, MaxVisibility),
		}
	}
	out, err := q.client.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: &q.url, Entries: entries})
	if err != nil {
		return nil, wrap(op, q.url, err)
	}
	res := make([]BatchResult, len(changes))
	seen := make([]bool, len(changes))
	for _, s := range out.Successful {
		if i, ok := entryIndex(s.Id, len(changes)); ok {
			seen[i] = true
		}
	}
	q.batchFailures(op, out.Failed, res, seen)
	return res, nil
}

// Depth returns the queue's approximate message counts.
func (q *SQS) Depth(ctx context.Context) (Depth, error) {
	const op = "GetQueueAttributes"
	out, err := q.client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: &q.url,
		AttributeNames: []types.QueueAttributeName{
			types.QueueAttributeNameApproximateNumberOfMessages,
			types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
			types.QueueAttributeNameApproximateNumberOfMessagesDelayed,
		},
	})
	if err != nil {
		return Depth{}, wrap(op, q.url, err)
	}
	var d Depth
	for name, dst := range map[types.QueueAttributeName]*int{
		types.QueueAttributeNameApproximateNumberOfMessages:           &d.Visible,
		types.QueueAttributeNameApproximateNumberOfMessagesNotVisible: &d.InFlight,
		types.QueueAttributeNameApproximateNumberOfMessagesDelayed:    &d.Delayed,
	} {
		v, err := strconv.Atoi(out.Attributes[string(name)])
		if err != nil {
			return Depth{}, &Error{Op: op, Queue: q.url, Retryable: true, Err: fmt.Errorf("attribute %s: %w", name, err)}
		}
		*dst = v
	}
	return d, nil
}

// ARN returns the queue's ARN, asked of SQS once and then remembered.
func (q *SQS) ARN(ctx context.Context) (string, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.arn != "" {
		return q.arn, nil
	}
	const op = "GetQueueAttributes"
	out, err := q.client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       &q.url,
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return "", wrap(op, q.url, err)
	}
	arn := out.Attributes[string(types.QueueAttributeNameQueueArn)]
	if arn == "" {
		return "", &Error{Op: op, Queue: q.url, Retryable: true, Err: fmt.Errorf("no QueueArn in the answer")}
	}
	q.arn = arn
	return arn, nil
}

// batchFailures fills res with the failed entries and marks entries SQS did not
// mention as failed (retryable: SQS may or may not have acted on them).
func (q *SQS) batchFailures(op string, failed []types.BatchResultErrorEntry, res []BatchResult, seen []bool) {
	for _, f := range failed {
		if i, ok := entryIndex(f.Id, len(res)); ok {
			res[i].Err, seen[i] = entryError(op, q.url, aws.ToString(f.Code), aws.ToString(f.Message), f.SenderFault), true
		}
	}
	for i := range res {
		if !seen[i] {
			res[i].Err = &Error{Op: op, Queue: q.url, Retryable: true, Err: fmt.Errorf("entry %d missing from the answer", i)}
		}
	}
}

func checkBatch(op, queueURL string, n int) error {
	switch {
	case n == 0:
		return permanent(op, queueURL, CodeEmptyBatch, "no entries")
	case n > MaxBatch:
		return permanent(op, queueURL, CodeTooManyEntries, "%d entries, at most %d", n, MaxBatch)
	}
	return nil
}

func entryIndex(id *string, n int) (int, bool) {
	i, err := strconv.Atoi(aws.ToString(id))
	return i, err == nil && i >= 0 && i < n
}

// toSQSAttributes converts the sendable attributes (those with a value) to SQS
// String attributes.
func toSQSAttributes(attrs map[string]string) map[string]types.MessageAttributeValue {
	attrs = sendable(attrs)
	if attrs == nil {
		return nil
	}
	out := make(map[string]types.MessageAttributeValue, len(attrs))
	for k, v := range attrs {
		out[k] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	return out
}

func fromSQS(m types.Message) Received {
	r := Received{
		ID:              aws.ToString(m.MessageId),
		ReceiptHandle:   aws.ToString(m.ReceiptHandle),
		Body:            aws.ToString(m.Body),
		SenderID:        m.Attributes[string(types.MessageSystemAttributeNameSenderId)],
		MD5OfBody:       aws.ToString(m.MD5OfBody),
		MD5OfAttributes: aws.ToString(m.MD5OfMessageAttributes),
	}
	if len(m.MessageAttributes) > 0 {
		r.Attributes = make(map[string]string, len(m.MessageAttributes))
		for k, v := range m.MessageAttributes {
			dt := aws.ToString(v.DataType)
			if v.StringValue != nil && (strings.HasPrefix(dt, "String") || strings.HasPrefix(dt, "Number")) {
				r.Attributes[k] = *v.StringValue
			}
		}
	}
	r.ReceiveCount, _ = strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
	r.SentAt = epochMs(m.Attributes[string(types.MessageSystemAttributeNameSentTimestamp)])
	r.FirstReceivedAt = epochMs(m.Attributes[string(types.MessageSystemAttributeNameApproximateFirstReceiveTimestamp)])
	return r
}

func epochMs(s string) time.Time {
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}
