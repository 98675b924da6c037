//go:build integration

package esm_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tenaz/tenaz/shared/esm"
	"github.com/tenaz/tenaz/shared/internal/awstest"
	"github.com/tenaz/tenaz/shared/queue"
)

// TestPollerOnSQS runs the poller against a queue on moto with a 1 s visibility
// timeout: one record fails once through batchItemFailures, one invocation crashes,
// and in the end every message is processed and deleted.
func TestPollerOnSQS(t *testing.T) {
	client := sqs.NewFromConfig(awstest.Config(t))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{
		QueueName:  aws.String(awstest.Name(t, "tenaz-esm")),
		Attributes: map[string]string{string(types.QueueAttributeNameVisibilityTimeout): "1"},
	})
	if err != nil {
		t.Fatalf("create queue: %v", err)
	}
	q := queue.NewSQS(client, aws.ToString(out.QueueUrl))
	arn, err := q.ARN(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const n = 6
	sentAt := time.Now()
	for i := range n {
		if _, err := q.Send(ctx, queue.Message{Body: fmt.Sprintf("m%d", i), Attributes: map[string]string{"source": "stripe", "seq": strconv.Itoa(i)}}); err != nil {
			t.Fatal(err)
		}
	}

	var (
		mu       sync.Mutex
		counts   = map[string][]string{} // body → ApproximateReceiveCount of each delivery
		crashed  bool                    // the first invocation crashes
		m1Failed bool                    // m1 is reported failed in the first invocation that succeeds with it
		problems []string
	)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	p, err := esm.New(esm.Options{
		Queue:         q,
		Concurrency:   2,
		BatchSize:     3,
		PollWait:      time.Second,
		InvokeTimeout: 5 * time.Second,
		ErrorBackoff:  100 * time.Millisecond,
		Invoke: func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			mu.Lock()
			defer mu.Unlock()
			var resp events.SQSEventResponse
			for _, r := range ev.Records {
				counts[r.Body] = append(counts[r.Body], r.Attributes["ApproximateReceiveCount"])
				sent, _ := strconv.ParseInt(r.Attributes["SentTimestamp"], 10, 64)
				switch {
				case r.EventSourceARN != arn || r.AWSRegion != awstest.Region || r.EventSource != "aws:sqs":
					problems = append(problems, fmt.Sprintf("%s: source %s %s %s", r.Body, r.EventSource, r.EventSourceARN, r.AWSRegion))
				case r.Md5OfBody != queue.BodyMD5(r.Body):
					problems = append(problems, fmt.Sprintf("%s: md5OfBody %s", r.Body, r.Md5OfBody))
				case r.MessageAttributes["source"].StringValue == nil || *r.MessageAttributes["source"].StringValue != "stripe" || r.MessageAttributes["source"].DataType != "String":
					problems = append(problems, fmt.Sprintf("%s: messageAttributes %v", r.Body, r.MessageAttributes))
				case r.Md5OfMessageAttributes != queue.AttributesMD5(map[string]string{"source": "stripe", "seq": *r.MessageAttributes["seq"].StringValue}):
					problems = append(problems, fmt.Sprintf("%s: md5OfMessageAttributes %s", r.Body, r.Md5OfMessageAttributes))
				case r.Attributes["SenderId"] == "" || r.Attributes["ApproximateFirstReceiveTimestamp"] == "":
					problems = append(problems, fmt.Sprintf("%s: attributes %v", r.Body, r.Attributes))
				case time.UnixMilli(sent).Sub(sentAt).Abs() > 30*time.Second:
					problems = append(problems, fmt.Sprintf("%s: SentTimestamp %s", r.Body, r.Attributes["SentTimestamp"]))
				}
			}
			if !crashed {
				crashed = true
				return resp, fmt.Errorf("function crashed")
			}
			for _, r := range ev.Records {
				if r.Body == "m1" && !m1Failed {
					m1Failed = true
					resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
				}
			}
			return resp, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx) }()

	deadline := time.Now().Add(30 * time.Second)
	for {
		d, err := q.Depth(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if d.Total() == 0 && p.Stats().Deleted == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s: depth %+v, stats %+v", d, p.Stats())
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}

	mu.Lock()
	defer mu.Unlock()
	for _, pr := range problems {
		t.Error(pr)
	}
	s := p.Stats()
	if s.InvokeErrors != 1 || s.Deleted != n || s.DeleteErrors != 0 {
		t.Errorf("stats %+v, want 1 failed invocation and %d deleted", s, n)
	}
	if c := counts["m1"]; !m1Failed || len(c) < 2 {
		t.Errorf("m1 deliveries %v: want it delivered again with a higher count after its batch item failure", c)
	}
	redelivered := 0
	for b, c := range counts {
		for i, cnt := range c {
			if cnt != strconv.Itoa(i+1) {
				t.Errorf("%s delivery %d had ApproximateReceiveCount %s", b, i+1, cnt)
			}
		}
		if len(c) > 1 {
			redelivered++
		}
	}
	if redelivered == 0 {
		t.Error("the crashed invocation's records were never delivered again")
	}
}
