package queue

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
)

// Kinds of failure, for errors.Is. Every error the adapters return is an *Error that
// matches at most one of them, except ErrMessageRefused, which is a case of
// ErrInvalidRequest and matches both.
var (
	// ErrReceiptHandleInvalid: the receipt handle is unknown, malformed, or stale
	// (the message was received again since). Permanent.
	ErrReceiptHandleInvalid = errors.New("receipt handle is invalid")
	// ErrMessageNotInflight: the message is not in flight (its visibility timeout
	// already ran out). Permanent for this handle.
	ErrMessageNotInflight = errors.New("message is not in flight")
	// ErrInvalidRequest: SQS rejected the request or entry as invalid (parameter out
	// of range, bad characters, too long, bad attribute name). Permanent.
	ErrInvalidRequest = errors.New("invalid request")
	// ErrMessageRefused: SQS refuses the message itself, whatever the moment: its
	// body or an attribute value holds a character outside the set SQS accepts
	// (InvalidMessageContents), or body and attributes together are over
	// MaxMessageBytes (MessageTooLong from this package, InvalidParameterValue
	// "Message must be shorter than …" from SQS). Permanent: the same message is
	// refused again, so a caller must change it (or refuse it upstream), not retry.
	// It also matches ErrInvalidRequest.
	ErrMessageRefused = fmt.Errorf("message refused: %w", ErrInvalidRequest)
	// ErrTooManyEntries: a batch of more than MaxBatch entries. Permanent.
	ErrTooManyEntries = errors.New("too many entries in batch")
	// ErrEmptyBatch: a batch with no entries. Permanent.
	ErrEmptyBatch = errors.New("empty batch")
	// ErrQueueDoesNotExist: the queue URL names no queue. Permanent.
	ErrQueueDoesNotExist = errors.New("queue does not exist")
	// ErrThrottled: SQS (or its KMS key) throttled the call. Transient.
	ErrThrottled = errors.New("throttled")
)

// SQS error codes the adapters produce or recognise.
const (
	CodeReceiptHandleInvalid = "ReceiptHandleIsInvalid"
	CodeMessageNotInflight   = "MessageNotInflight"
	CodeInvalidParameter     = "InvalidParameterValue"
	CodeInvalidContents      = "InvalidMessageContents"
	CodeInvalidAttribute     = "InvalidAttributeName"
	CodeBatchTooLong         = "BatchRequestTooLong"
	CodeTooManyEntries       = "TooManyEntriesInBatchRequest"
	CodeEmptyBatch           = "EmptyBatchRequest"
	CodeQueueDoesNotExist    = "QueueDoesNotExist"
	CodeThrottling           = "ThrottlingException"

	// CodeMessageTooLong is this package's code for a message over MaxMessageBytes,
	// refused before it reaches SQS (SQS itself answers InvalidParameterValue).
	CodeMessageTooLong = "MessageTooLong"
)

// kindOf maps SQS error codes to the kinds above.
var kindOf = map[string]error{
	CodeReceiptHandleInvalid:                  ErrReceiptHandleInvalid,
	CodeMessageNotInflight:                    ErrMessageNotInflight,
	CodeInvalidParameter:                      ErrInvalidRequest,
	CodeInvalidContents:                       ErrMessageRefused,
	CodeMessageTooLong:                        ErrMessageRefused,
	CodeInvalidAttribute:                      ErrInvalidRequest,
	CodeBatchTooLong:                          ErrInvalidRequest,
	"MissingParameter":                        ErrInvalidRequest,
	"InvalidAttributeValue":                   ErrInvalidRequest,
	"InvalidBatchEntryId":                     ErrInvalidRequest,
	"BatchEntryIdsNotDistinct":                ErrInvalidRequest,
	"InvalidParameterCombination":             ErrInvalidRequest,
	"InvalidIdFormat":                         ErrInvalidRequest,
	"InvalidAddress":                          ErrInvalidRequest,
	"MessageAttributesInvalid":                ErrInvalidRequest,
	"UnsupportedOperation":                    ErrInvalidRequest,
	"ValidationError":                         ErrInvalidRequest,
	CodeTooManyEntries:                        ErrTooManyEntries,
	CodeEmptyBatch:                            ErrEmptyBatch,
	CodeQueueDoesNotExist:                     ErrQueueDoesNotExist,
	"AWS.SimpleQueueService.NonExistentQueue": ErrQueueDoesNotExist,
	CodeThrottling:                            ErrThrottled,
	"RequestThrottled":                        ErrThrottled,
	"KmsThrottled":                            ErrThrottled,
	"OverLimit":                               ErrThrottled,
}

// Error is a failed queue call or batch entry.
type Error struct {
	Op        string // the SQS action, e.g. "SendMessage"
	Queue     string // the queue URL
	Code      string // the SQS error code; empty when no answer came (network error)
	Retryable bool   // whether the same call may succeed later
	Err       error  // the cause
}

func (e *Error) Error() string {
	s := "queue: " + e.Op
	if e.Queue != "" {
		s += " " + e.Queue
	}
	if e.Code != "" {
		s += ": " + e.Code
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	if e.Retryable {
		s += " (retryable)"
	} else {
		s += " (permanent)"
	}
	return s
}

// Unwrap gives errors.Is and errors.As the cause and the kind matching Code.
func (e *Error) Unwrap() []error {
	errs := make([]error, 0, 2)
	if k, ok := kindOfError(e.Op, e.Code, e.Err); ok {
		errs = append(errs, k)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// tooLongAnswer is how SQS (and moto) explain an InvalidParameterValue answer to a
// message over the queue's MaximumMessageSize.
const tooLongAnswer = "Message must be shorter than"

// kindOfError is the kind of an error with the given action, code and cause: the
// kind of the code, except that an InvalidParameterValue answer to a send that says
// the message is too long is ErrMessageRefused.
func kindOfError(op, code string, cause error) (error, bool) {
	if code == CodeInvalidParameter && (op == "SendMessage" || op == "SendMessageBatch") &&
		cause != nil && strings.Contains(cause.Error(), tooLongAnswer) {
		return ErrMessageRefused, true
	}
	k, ok := kindOf[code]
	return k, ok
}

// IsRetryable reports whether the failed call may succeed if made again later:
// network errors, throttling and server faults are retryable; an invalid request, an
// invalid receipt handle or a missing queue are not. A cancelled context is not
// retryable; a deadline that ran out is. An error that is none of these is taken as
// retryable, so that nothing is dropped on a failure nobody classified.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	var qe *Error
	if errors.As(err, &qe) {
		return qe.Retryable
	}
	return !errors.Is(err, context.Canceled)
}

// permanentCodes are client errors that no retry fixes, beyond those in kindOf.
var permanentCodes = map[string]bool{
	"AccessDenied":                true,
	"AccessDeniedException":       true,
	"InvalidSecurity":             true,
	"InvalidClientTokenId":        true,
	"UnrecognizedClientException": true,
	"KmsAccessDenied":             true,
	"KmsDisabled":                 true,
	"KmsInvalidState":             true,
	"KmsNotFound":                 true,
	"KmsInvalidKeyUsage":          true,
	"KmsOptInRequired":            true,
}

var (
	sdkRetryable = retry.IsErrorRetryables(retry.DefaultRetryables)
	sdkThrottle  = retry.IsErrorThrottles(retry.DefaultThrottles)
)

// wrap turns an SDK error into an *Error that says whether a retry helps.
func wrap(op, queueURL string, err error) error {
	if err == nil {
		return nil
	}
	e := &Error{Op: op, Queue: queueURL, Err: err}
	var api smithy.APIError
	if errors.As(err, &api) {
		e.Code = api.ErrorCode()
	}
	e.Retryable = retryable(err, e.Code)
	return e
}

func retryable(err error, code string) bool {
	switch {
	case errors.Is(err, context.Canceled):
		return false
	case errors.Is(err, context.DeadlineExceeded):
		return true
	}
	if k, ok := kindOf[code]; ok {
		return k == ErrThrottled
	}
	if permanentCodes[code] {
		return false
	}
	if sdkThrottle.IsErrorThrottle(err) == aws.TrueTernary {
		return true
	}
	switch sdkRetryable.IsErrorRetryable(err) {
	case aws.TrueTernary:
		return true
	case aws.FalseTernary:
		return false
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		s := re.HTTPStatusCode()
		return s >= http.StatusInternalServerError || s == http.StatusTooManyRequests
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorFault() != smithy.FaultClient
	}
	return true // no answer from SQS: a network failure
}

// entryError is the *Error for one failed batch entry.
func entryError(op, queueURL, code, message string, senderFault bool) *Error {
	retry := !senderFault
	if k, ok := kindOf[code]; ok {
		retry = k == ErrThrottled
	}
	return &Error{Op: op, Queue: queueURL, Code: code, Retryable: retry, Err: errors.New(message)}
}

// permanent is an *Error for a request this package refuses before calling SQS, or
// that the in-memory queue rejects as SQS would.
func permanent(op, queueURL, code, format string, args ...any) *Error {
	return &Error{Op: op, Queue: queueURL, Code: code, Err: fmt.Errorf(format, args...)}
}
