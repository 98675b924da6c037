package ddb

import (
	"context"
	"errors"
	"fmt"

	awsretry "github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/tenaz/tenaz/shared/retry"
)

// transientCodes are DynamoDB error codes that a later retry can clear, beyond the
// SDK's throttle and retryable codes.
var transientCodes = map[string]bool{
	"TransactionConflictException":     true,
	"ReplicatedWriteConflictException": true,
	"InternalServerError":              true,
	"ServiceUnavailable":               true,
}

// Classify says whether a DynamoDB error (other than a failed condition) can be
// retried:
//
//   - the context ended: returned as it is (the invocation is out of time);
//   - throttling (ProvisionedThroughputExceededException, ThrottlingException,
//     RequestLimitExceeded, …), transaction conflicts, a server fault or HTTP 5xx,
//     and failures with no DynamoDB answer at all (network, SDK retry quota): wrapped
//     in unavailable, transient;
//   - any other answer from DynamoDB (ValidationException, ResourceNotFoundException,
//     AccessDeniedException, …): retry.Permanent. Retrying the same request cannot
//     help until the table or the policy is fixed.
func Classify(err, unavailable error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var api smithy.APIError
	if !errors.As(err, &api) {
		return fmt.Errorf("%w: %w", unavailable, err)
	}
	code := api.ErrorCode()
	_, throttle := awsretry.DefaultThrottleErrorCodes[code]
	_, retryable := awsretry.DefaultRetryableErrorCodes[code]
	var resp *awshttp.ResponseError
	serverSide := api.ErrorFault() == smithy.FaultServer ||
		(errors.As(err, &resp) && resp.HTTPStatusCode() >= 500)
	if throttle || retryable || transientCodes[code] || serverSide {
		return fmt.Errorf("%w: %w", unavailable, err)
	}
	return retry.Permanent(err)
}
