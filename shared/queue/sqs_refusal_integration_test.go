//go:build integration

package queue

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tenaz/tenaz/shared/internal/awstest"
)

// TestSQSAnswersToRefusedMessages sends, past the adapter's own checks, what SQS
// refuses, and holds the server's answers to ErrMessageRefused.
//
// moto refuses a body over the queue's MaximumMessageSize (counting characters of
// the body only, where SQS counts bytes of body and attributes) but accepts every
// character, U+FFFF and NUL included, that SQS refuses with InvalidMessageContents;
// only the answer to a long body is checked here. The adapters refuse both before
// sending, so the product does not depend on the server's checks.
func TestSQSAnswersToRefusedMessages(t *testing.T) {
	client := sqs.NewFromConfig(awstest.Config(t))
	ctx := context.Background()
	out, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(awstest.Name(t, "tenaz-refused"))})
	if err != nil {
		t.Fatalf("create queue: %v", err)
	}
	url := aws.ToString(out.QueueUrl)
	_, err = client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String(strings.Repeat("x", MaxMessageBytes+1))})
	err = wrap("SendMessage", url, err)
	if !errors.Is(err, ErrMessageRefused) || IsRetryable(err) {
		t.Fatalf("send of %d bytes: %v, want a permanent ErrMessageRefused", MaxMessageBytes+1, err)
	}
	_, err = client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("x"), DelaySeconds: 901})
	err = wrap("SendMessage", url, err)
	if !errors.Is(err, ErrInvalidRequest) || errors.Is(err, ErrMessageRefused) {
		t.Fatalf("send with delay 901: %v, want ErrInvalidRequest and not ErrMessageRefused", err)
	}
}
