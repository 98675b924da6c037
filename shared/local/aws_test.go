package local

import (
	"context"
	"strings"
	"testing"
)

func TestUseAWS(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env  map[string]string
		want bool
		res  Resources
	}{
		{env: map[string]string{}, want: false},
		{env: map[string]string{"TENAZ_SOURCES": "{}"}, want: false},
		{env: map[string]string{EnvEndpoint: "http://127.0.0.1:4566"}, want: true},
		{env: map[string]string{"TENAZ_QUEUE_URL": " https://sqs/q ", "TENAZ_DLQ_URL": "https://sqs/d"}, want: true,
			res: Resources{QueueURL: "https://sqs/q", DLQURL: "https://sqs/d"}},
		{env: map[string]string{"TENAZ_IDEMPOTENCY_TABLE": "t", "TENAZ_BREAKER_TABLE": "b"}, want: true,
			res: Resources{IdempotencyTable: "t", BreakerTable: "b"}},
	} {
		getenv := func(k string) string { return tc.env[k] }
		if got := UseAWS(getenv); got != tc.want {
			t.Errorf("%v: UseAWS %v", tc.env, got)
		}
		if got := ResourcesFromEnv(getenv); got != tc.res {
			t.Errorf("%v: resources %+v", tc.env, got)
		}
	}
}

// panicking clients: Open must refuse these setups before calling AWS.
type noSQS struct{ SQSAPI }
type noDynamoDB struct{ DynamoDBAPI }

func TestAWSSetupRefusesBeforeCallingAWS(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		setup AWSSetup
		want  string
	}{
		{"no clients", AWSSetup{}, "needs SQS and DynamoDB"},
		{"real AWS, nothing named", AWSSetup{SQS: noSQS{}, DynamoDB: noDynamoDB{}},
			"set TENAZ_DLQ_URL, TENAZ_IDEMPOTENCY_TABLE, TENAZ_QUEUE_URL"},
		{"real AWS, no table", AWSSetup{SQS: noSQS{}, DynamoDB: noDynamoDB{}, Resources: Resources{QueueURL: "q", DLQURL: "d"}},
			"set TENAZ_IDEMPOTENCY_TABLE (resources are created only on an emulator"},
		{"emulator, one queue", AWSSetup{SQS: noSQS{}, DynamoDB: noDynamoDB{}, Emulator: true, Resources: Resources{QueueURL: "q"}},
			"both queues"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.setup.Open(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}
