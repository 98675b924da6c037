package ddb_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsretry "github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/tenaz/tenaz/shared/ddb"
	"github.com/tenaz/tenaz/shared/internal/awstest"
	"github.com/tenaz/tenaz/shared/retry"
)

var errUnavailable = errors.New("unavailable")

func TestClassify(t *testing.T) {
	t.Parallel()
	type kind int
	const (
		transient kind = iota
		permanent
		contextEnded
	)
	tests := []struct {
		name string
		err  error
		want kind
	}{
		{"provisioned throughput exceeded", awstest.DynamoDBError(400, &types.ProvisionedThroughputExceededException{Message: aws.String("slow down")}), transient},
		{"throttling exception", awstest.DynamoDBError(400, &smithy.GenericAPIError{Code: "ThrottlingException"}), transient},
		{"request limit exceeded", awstest.DynamoDBError(400, &types.RequestLimitExceeded{}), transient},
		{"transaction conflict", awstest.DynamoDBError(400, &types.TransactionConflictException{}), transient},
		{"internal server error", awstest.DynamoDBError(500, &types.InternalServerError{}), transient},
		{"unknown 503", awstest.DynamoDBError(503, &smithy.GenericAPIError{Code: "UnknownError"}), transient},
		{"server fault without status", &smithy.GenericAPIError{Code: "Odd", Fault: smithy.FaultServer}, transient},
		{"retries exhausted on throttling", awstest.DynamoDBError(400, &awsretry.MaxAttemptsError{Attempt: 3, Err: &types.ProvisionedThroughputExceededException{}}), transient},
		{"network", awstest.DynamoDBError(0, &net.OpError{Op: "dial", Err: errors.New("connection refused")}), transient},
		{"retry quota", errors.New("failed to get rate limit token, retry quota exceeded"), transient},
		{"validation", awstest.DynamoDBError(400, &smithy.GenericAPIError{Code: "ValidationException", Message: "bad expression"}), permanent},
		{"missing table", awstest.DynamoDBError(400, &types.ResourceNotFoundException{}), permanent},
		{"access denied", awstest.DynamoDBError(400, &smithy.GenericAPIError{Code: "AccessDeniedException"}), permanent},
		{"cancelled", fmt.Errorf("op: %w", context.Canceled), contextEnded},
		{"deadline", awstest.DynamoDBError(0, context.DeadlineExceeded), contextEnded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := ddb.Classify(tt.err, errUnavailable)
			if !errors.Is(got, tt.err) {
				t.Fatalf("classify lost the cause: %v", got)
			}
			unavailable, perm := errors.Is(got, errUnavailable), retry.IsPermanent(got)
			switch tt.want {
			case transient:
				if !unavailable || perm {
					t.Fatalf("classify(%v) = %v: want transient ErrUnavailable", tt.err, got)
				}
			case permanent:
				if unavailable || !perm {
					t.Fatalf("classify(%v) = %v: want permanent", tt.err, got)
				}
			case contextEnded:
				if unavailable || perm || got != tt.err {
					t.Fatalf("classify(%v) = %v: want the context error unchanged", tt.err, got)
				}
			}
		})
	}
}
