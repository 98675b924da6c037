package queue

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

func httpError(status int, err error) error {
	return &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
		Err:      err,
	}}
}

func TestWrapClassifies(t *testing.T) {
	t.Parallel()
	api := func(code string, fault smithy.ErrorFault) error {
		return &smithy.GenericAPIError{Code: code, Message: "m", Fault: fault}
	}
	tests := []struct {
		name      string
		err       error
		retryable bool
		kind      error // nil: no kind
	}{
		{"invalid receipt handle", api(CodeReceiptHandleInvalid, smithy.FaultClient), false, ErrReceiptHandleInvalid},
		{"not in flight", api(CodeMessageNotInflight, smithy.FaultClient), false, ErrMessageNotInflight},
		{"invalid parameter", api(CodeInvalidParameter, smithy.FaultClient), false, ErrInvalidRequest},
		{"invalid contents", api(CodeInvalidContents, smithy.FaultClient), false, ErrMessageRefused},
		{"message too long, refused here", api(CodeMessageTooLong, smithy.FaultClient), false, ErrMessageRefused},
		{"missing queue", api(CodeQueueDoesNotExist, smithy.FaultClient), false, ErrQueueDoesNotExist},
		{"missing queue, query protocol code", api("AWS.SimpleQueueService.NonExistentQueue", smithy.FaultClient), false, ErrQueueDoesNotExist},
		{"too many entries", api(CodeTooManyEntries, smithy.FaultClient), false, ErrTooManyEntries},
		{"throttling", api(CodeThrottling, smithy.FaultClient), true, ErrThrottled},
		{"request throttled", api("RequestThrottled", smithy.FaultClient), true, ErrThrottled},
		{"kms throttled", api("KmsThrottled", smithy.FaultClient), true, ErrThrottled},
		{"in-flight limit", api("OverLimit", smithy.FaultClient), true, ErrThrottled},
		{"access denied", api("AccessDenied", smithy.FaultClient), false, nil},
		{"kms key disabled", api("KmsDisabled", smithy.FaultClient), false, nil},
		{"internal error", api("InternalError", smithy.FaultServer), true, nil},
		{"unknown server fault", api("SomethingNew", smithy.FaultServer), true, nil},
		{"unknown client fault", api("SomethingNew", smithy.FaultClient), false, nil},
		{"HTTP 503", httpError(503, errors.New("unavailable")), true, nil},
		{"HTTP 500", httpError(500, errors.New("boom")), true, nil},
		{"HTTP 429", httpError(429, errors.New("slow down")), true, nil},
		{"HTTP 400 unknown", httpError(400, errors.New("bad")), false, nil},
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, true, nil},
		{"deadline exceeded", fmt.Errorf("send: %w", context.DeadlineExceeded), true, nil},
		{"cancelled", fmt.Errorf("send: %w", context.Canceled), false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := wrap("SendMessage", "https://q", tt.err)
			var qe *Error
			if !errors.As(err, &qe) || qe.Op != "SendMessage" {
				t.Fatalf("wrap gave %T %v", err, err)
			}
			if got := IsRetryable(err); got != tt.retryable {
				t.Errorf("IsRetryable = %v, want %v (%v)", got, tt.retryable, err)
			}
			if got := IsRetryable(fmt.Errorf("outer: %w", err)); got != tt.retryable {
				t.Errorf("IsRetryable through a wrap = %v, want %v", got, tt.retryable)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("the cause is lost: %v", err)
			}
			for _, k := range []error{ErrReceiptHandleInvalid, ErrMessageNotInflight, ErrInvalidRequest, ErrMessageRefused, ErrTooManyEntries, ErrEmptyBatch, ErrQueueDoesNotExist, ErrThrottled} {
				// ErrMessageRefused is a case of ErrInvalidRequest.
				want := k == tt.kind || (k == ErrInvalidRequest && tt.kind == ErrMessageRefused)
				if errors.Is(err, k) != want {
					t.Errorf("errors.Is(err, %v) = %v", k, !want)
				}
			}
		})
	}
}

// TestMessageRefused holds the answers that say a message can never be sent to
// ErrMessageRefused, permanent, and other invalid requests apart from them.
func TestMessageRefused(t *testing.T) {
	t.Parallel()
	tooLong := "One or more parameters are invalid. Reason: Message must be shorter than 1048576 bytes."
	tests := []struct {
		name    string
		err     error
		refused bool
	}{
		{"invalid contents", wrap("SendMessage", "q", &smithy.GenericAPIError{Code: CodeInvalidContents, Message: "Invalid binary character '#xFFFF' was found in the message body", Fault: smithy.FaultClient}), true},
		{"too long", wrap("SendMessage", "q", &smithy.GenericAPIError{Code: CodeInvalidParameter, Message: tooLong, Fault: smithy.FaultClient}), true},
		{"too long, batch entry", entryError("SendMessageBatch", "q", CodeInvalidParameter, tooLong, true), true},
		{"invalid contents, batch entry", entryError("SendMessageBatch", "q", CodeInvalidContents, "bad character", true), true},
		{"delay out of range", wrap("SendMessage", "q", &smithy.GenericAPIError{Code: CodeInvalidParameter, Message: "Value 901 for parameter DelaySeconds is invalid.", Fault: smithy.FaultClient}), false},
		{"too long text on another action", wrap("ChangeMessageVisibility", "q", &smithy.GenericAPIError{Code: CodeInvalidParameter, Message: tooLong, Fault: smithy.FaultClient}), false},
		{"batch too long", entryError("SendMessageBatch", "q", CodeBatchTooLong, "batch", true), false},
		{"refused by the memory queue", permanent("SendMessage", "q", CodeMessageTooLong, "too long"), true},
	}
	for _, tt := range tests {
		if got := errors.Is(tt.err, ErrMessageRefused); got != tt.refused {
			t.Errorf("%s: errors.Is(%v, ErrMessageRefused) = %v, want %v", tt.name, tt.err, got, tt.refused)
		}
		if !errors.Is(tt.err, ErrInvalidRequest) || IsRetryable(tt.err) {
			t.Errorf("%s: %v is not a permanent ErrInvalidRequest", tt.name, tt.err)
		}
	}
}

func TestEntryError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code        string
		senderFault bool
		retryable   bool
	}{
		{CodeReceiptHandleInvalid, true, false},
		{CodeInvalidParameter, true, false},
		{"InternalError", false, true},
		{CodeThrottling, true, true},
		{"SomethingNew", true, false},
		{"SomethingNew", false, true},
	}
	for _, tt := range tests {
		err := entryError("DeleteMessageBatch", "q", tt.code, "m", tt.senderFault)
		if IsRetryable(err) != tt.retryable {
			t.Errorf("%s (sender fault %v): retryable %v, want %v", tt.code, tt.senderFault, IsRetryable(err), tt.retryable)
		}
	}
}

func TestIsRetryableOtherErrors(t *testing.T) {
	t.Parallel()
	if IsRetryable(nil) {
		t.Error("nil is retryable")
	}
	if !IsRetryable(errors.New("unclassified")) {
		t.Error("an unclassified error is not retryable")
	}
	if IsRetryable(context.Canceled) {
		t.Error("a cancelled context is retryable")
	}
}

func TestSeconds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d, max time.Duration
		want   int32
	}{
		{0, MaxWait, 0},
		{-time.Second, MaxWait, 0},
		{time.Millisecond, MaxWait, 1},
		{time.Second, MaxWait, 1},
		{1500 * time.Millisecond, MaxWait, 2},
		{time.Minute, MaxWait, 20},
		{48 * time.Hour, MaxVisibility, 43200},
	}
	for _, tt := range tests {
		if got := seconds(tt.d, tt.max); got != tt.want {
			t.Errorf("seconds(%v, %v) = %d, want %d", tt.d, tt.max, got, tt.want)
		}
	}
}

func TestMD5(t *testing.T) {
	t.Parallel()
	// The body of `sam local generate-event sqs receive-message` and its md5OfBody.
	if got := BodyMD5("Hello from SQS!"); got != "7b270e59b47ff90a553787216d55d91d" {
		t.Errorf("BodyMD5 = %s", got)
	}
	if AttributesMD5(nil) != "" {
		t.Error("AttributesMD5 of no attributes is not empty")
	}
	a := AttributesMD5(map[string]string{"source": "stripe", "type": "x"})
	if a != AttributesMD5(map[string]string{"type": "x", "source": "stripe"}) {
		t.Error("AttributesMD5 depends on map order")
	}
	// The length prefixes keep "ab"+"c" apart from "a"+"bc".
	if AttributesMD5(map[string]string{"ab": "c"}) == AttributesMD5(map[string]string{"a": "bc"}) {
		t.Error("AttributesMD5 does not separate name and value")
	}
}

func TestSendable(t *testing.T) {
	t.Parallel()
	got := sendable(map[string]string{"a": "1", "b": ""})
	if len(got) != 1 || got["a"] != "1" {
		t.Errorf("sendable = %v", got)
	}
	if sendable(map[string]string{"b": ""}) != nil {
		t.Error("only empty values should give nil")
	}
}
