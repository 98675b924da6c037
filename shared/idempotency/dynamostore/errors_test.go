package dynamostore

import (
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/internal/awstest"
	"github.com/tenaz/tenaz/shared/retry"
)

// classify marks transient errors with the idempotency package's own sentinel (the
// rules themselves are tested in shared/ddb).
func TestClassifyUsesThePackageSentinel(t *testing.T) {
	t.Parallel()
	throttled := awstest.DynamoDBError(400, &types.ProvisionedThroughputExceededException{Message: aws.String("slow down")})
	if got := classify(throttled); !errors.Is(got, idempotency.ErrUnavailable) || !errors.Is(got, throttled) || retry.IsPermanent(got) {
		t.Fatalf("classify(throttle) = %v", got)
	}
	if got := classify(awstest.DynamoDBError(400, &types.ResourceNotFoundException{})); !retry.IsPermanent(got) {
		t.Fatalf("classify(missing table) = %v", got)
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
