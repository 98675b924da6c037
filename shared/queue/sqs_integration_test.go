//go:build integration

package queue_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tenaz/tenaz/shared/internal/awstest"
	"github.com/tenaz/tenaz/shared/queue"
	"github.com/tenaz/tenaz/shared/queue/queuetest"
)

const sqsMaxReceiveCount = 2

// newSQSPair creates a dead-letter queue and a main queue redriving to it after
// maxReceiveCount receives, both with unique names, and returns their adapters.
func newSQSPair(t *testing.T, client *sqs.Client, maxReceiveCount int, visibility time.Duration) (main, dlq *queue.SQS) {
	t.Helper()
	ctx := context.Background()
	dlqOut, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{
		QueueName:  aws.String(awstest.Name(t, "tenaz-dlq")),
		Attributes: map[string]string{string(types.QueueAttributeNameMessageRetentionPeriod): "1209600"},
	})
	if err != nil {
		t.Fatalf("create dlq: %v", err)
	}
	dlq = queue.NewSQS(client, aws.ToString(dlqOut.QueueUrl))
	dlqARN, err := dlq.ARN(ctx)
	if err != nil {
		t.Fatalf("dlq arn: %v", err)
	}
	policy, err := json.Marshal(map[string]any{"deadLetterTargetArn": dlqARN, "maxReceiveCount": maxReceiveCount})
	if err != nil {
		t.Fatal(err)
	}
	mainOut, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{
		QueueName: aws.String(awstest.Name(t, "tenaz-main")),
		Attributes: map[string]string{
			string(types.QueueAttributeNameVisibilityTimeout): strconv.Itoa(int(visibility / time.Second)),
			string(types.QueueAttributeNameRedrivePolicy):     string(policy),
		},
	})
	if err != nil {
		t.Fatalf("create main queue: %v", err)
	}
	return queue.NewSQS(client, aws.ToString(mainOut.QueueUrl)), dlq
}

func TestSQSContract(t *testing.T) {
	client := sqs.NewFromConfig(awstest.Config(t))
	queuetest.Run(t, func(t *testing.T) queuetest.Setup {
		main, dlq := newSQSPair(t, client, sqsMaxReceiveCount, 30*time.Second)
		return queuetest.Setup{
			Main:            main,
			DLQ:             dlq,
			MaxReceiveCount: sqsMaxReceiveCount,
			Now:             time.Now,
			Advance:         time.Sleep,
		}
	})
}

func TestSQSErrors(t *testing.T) {
	client := sqs.NewFromConfig(awstest.Config(t))
	ctx := context.Background()
	missing := queue.NewSQS(client, awstest.Endpoint(t)+"/123456789012/"+awstest.Name(t, "missing"))
	_, err := missing.Send(ctx, queue.Message{Body: "x"})
	if !errors.Is(err, queue.ErrQueueDoesNotExist) || queue.IsRetryable(err) {
		t.Fatalf("send to a missing queue: %v (retryable %v), want permanent ErrQueueDoesNotExist", err, queue.IsRetryable(err))
	}
	main, _ := newSQSPair(t, client, 1, 30*time.Second)
	_, err = main.Send(ctx, queue.Message{Body: "x", DelaySeconds: 901})
	if !errors.Is(err, queue.ErrInvalidRequest) || queue.IsRetryable(err) {
		t.Fatalf("send with delay 901: %v, want permanent ErrInvalidRequest", err)
	}
	arn, err := main.ARN(ctx)
	if err != nil || len(arn) < len("arn:aws:sqs:") || arn[:12] != "arn:aws:sqs:" {
		t.Fatalf("ARN = %q, %v", arn, err)
	}
}
