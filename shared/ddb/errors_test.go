package ddb

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsretry "github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/tenaz/tenaz/shared/retry"
)

var errUnavailable = errors.New("unavailable")

// sdkError wraps err the way the SDK returns it: an operation error around an HTTP
// response error.
func sdkError(status int, err error) error {
	return &smithy.OperationError{ServiceID: "DynamoDB", OperationName: "UpdateItem", Err: &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}}, Err: err},
		RequestID:     "req-1",
	}}
}

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
		{"provisioned throughput exceeded", sdkError(400, &types.ProvisionedThroughputExceededException{Message: aws.String("slow down")}), transient},
		{"throttling exception", sdkError(400, &smithy.GenericAPIError{Code: "ThrottlingException"}), transient},
		{"request limit exceeded", sdkError(400, &types.RequestLimitExceeded{}), transient},
		{"transaction conflict", sdkError(400, &types.TransactionConflictException{}), transient},
		{"internal server error", sdkError(500, &types.InternalServerError{}), transient},
		{"unknown 503", sdkError(503, &smithy.GenericAPIError{Code: "UnknownError"}), transient},
		{"server fault without status", &smithy.GenericAPIError{Code: "Odd", Fault: smithy.FaultServer}, transient},
		{"retries exhausted on throttling", sdkError(400, &awsretry.MaxAttemptsError{Attempt: 3, Err: &types.ProvisionedThroughputExceededException{}}), transient},
		{"network", sdkError(0, &net.OpError{Op: "dial", Err: errors.New("connection refused")}), transient},
		{"retry quota", errors.New("failed to get rate limit token, retry quota exceeded"), transient},
		{"validation", sdkError(400, &smithy.GenericAPIError{Code: "ValidationException", Message: "bad expression"}), permanent},
		{"missing table", sdkError(400, &types.ResourceNotFoundException{}), permanent},
		{"access denied", sdkError(400, &smithy.GenericAPIError{Code: "AccessDeniedException"}), permanent},
		{"cancelled", fmt.Errorf("op: %w", context.Canceled), contextEnded},
		{"deadline", sdkError(0, context.DeadlineExceeded), contextEnded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Classify(tt.err, errUnavailable)
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
