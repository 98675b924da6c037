package dynamostore

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

	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/retry"
)

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
		{"item too large", sdkError(400, &types.ItemCollectionSizeLimitExceededException{}), permanent},
		{"cancelled", fmt.Errorf("op: %w", context.Canceled), contextEnded},
		{"deadline", sdkError(0, context.DeadlineExceeded), contextEnded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := classify(tt.err)
			if !errors.Is(got, tt.err) {
				t.Fatalf("classify lost the cause: %v", got)
			}
			unavailable, perm := errors.Is(got, idempotency.ErrUnavailable), retry.IsPermanent(got)
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

func TestDecode(t *testing.T) {
	t.Parallel()
	rec := idempotency.Record{
		Key: "stripe:evt_1", Status: idempotency.StatusRetryable, Attempts: 2, ExpiresAt: 1_900_000_000,
		PayloadHash: "h", Steps: map[string][]byte{"crm": []byte("u1"), "empty": {}},
	}
	leased := rec
	leased.Status, leased.LeaseToken, leased.LeaseExpiresAtMs = idempotency.StatusInProgress, "tok", 1_900_000_000_123
	done := rec
	done.Status, done.Result = idempotency.StatusCompleted, []byte("r")
	for _, r := range []idempotency.Record{rec, leased, done} {
		got, err := decode(encode(r))
		if err != nil {
			t.Fatalf("decode(encode(%+v)): %v", r, err)
		}
		if fmt.Sprint(got) != fmt.Sprint(r) {
			t.Fatalf("round trip:\n got  %+v\n want %+v", got, r)
		}
	}

	bad := map[string]func(item map[string]types.AttributeValue){
		"no id":              func(m map[string]types.AttributeValue) { delete(m, AttrID) },
		"no expiresAt":       func(m map[string]types.AttributeValue) { delete(m, AttrExpiresAt) },
		"attempts as string": func(m map[string]types.AttributeValue) { m[AttrAttempts] = s("2") },
		"attempts not int":   func(m map[string]types.AttributeValue) { m[AttrAttempts] = &types.AttributeValueMemberN{Value: "2.5"} },
		"status as number":   func(m map[string]types.AttributeValue) { m[AttrStatus] = n(1) },
		"result as string":   func(m map[string]types.AttributeValue) { m[AttrResult] = s("r") },
		"steps as list":      func(m map[string]types.AttributeValue) { m[AttrSteps] = &types.AttributeValueMemberL{} },
		"step as string": func(m map[string]types.AttributeValue) {
			m[AttrSteps] = &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"x": s("y")}}
		},
	}
	for name, mutate := range bad {
		item := encode(rec)
		mutate(item)
		if _, err := decode(item); !retry.IsPermanent(err) {
			t.Errorf("%s: decode = %v, want a permanent error", name, err)
		}
	}
}
